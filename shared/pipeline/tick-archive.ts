/**
 * Tick archive (SPEC 1): Pub/Sub-triggered on `raw-tick-data-bybit` (the holder's batches: one symbol,
 * at most one second of public trades). Appends the trades to the warehouse `ticks` table; idempotent
 * by (venue, symbol, trade id). Malformed payloads are dead-lettered.
 */
import { routeByTopic, type BusMessage } from '../messages.js';
import { archiveTicks, type IngestDeps } from '../market/ingest.js';
import { TOPICS } from '../topics.js';

export const FUNCTION_NAME = 'tick-archive';

export type Deps = Pick<IngestDeps, 'warehouse' | 'log'>;

export const handle = routeByTopic(FUNCTION_NAME, {
  [TOPICS.rawTicks]: async (deps: Deps, msg: BusMessage<typeof TOPICS.rawTicks>) => {
    await archiveTicks(deps, msg.payload);
  },
});
