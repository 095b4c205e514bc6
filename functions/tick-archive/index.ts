/**
 * Tick archive (SPEC 1): Pub/Sub-triggered on `raw-tick-data-bybit` (the holder's batches: one symbol,
 * at most one second of public trades). Appends the trades to the warehouse `ticks` table; idempotent
 * by (venue, symbol, trade id). Malformed payloads are dead-lettered.
 */
import * as ff from '@google-cloud/functions-framework';
import { pubsubHandler } from '../../infra/functions.js';
import { archiveTicks } from '../../shared/market/ingest.js';
import { TOPICS } from '../../shared/topics.js';
import { asCloudEventFunction } from '../../infra/bus/envelope.js';
import { tickBatchSchema } from '../../shared/messages.js';

/** The topic this function subscribes to. */
export const TICK_ARCHIVE_TOPIC = TOPICS.rawTicks;

export const tickArchive = pubsubHandler('tick-archive', tickBatchSchema, async (ctx, msg) => {
  await archiveTicks(ctx, msg.payload);
});

ff.cloudEvent('tick-archive', asCloudEventFunction(tickArchive));
