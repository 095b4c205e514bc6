/**
 * Candle ingest (SPEC 1/2): Pub/Sub-triggered on `candles-bybit-1m` (closed 1m candles from the
 * holder). Writes each batch to the hot window in state and to the warehouse `ohlcv` table;
 * idempotent by candle key, so redeliveries change nothing. Malformed payloads and candles the
 * candle gate refuses (shared/market/candle-gate.ts) are dead-lettered with the reason.
 */
import * as ff from '@google-cloud/functions-framework';
import { pubsubHandler } from '../../infra/functions.js';
import { ingestBusCandles } from '../../shared/market/ingest.js';
import { TOPICS } from '../../shared/topics.js';
import { asCloudEventFunction } from '../../infra/bus/envelope.js';
import { candleBatchSchema } from '../../shared/messages.js';

/** The topic this function subscribes to. */
export const CANDLE_INGEST_TOPIC = TOPICS.bybitCandles;

export const candleIngest = pubsubHandler('candle-ingest', candleBatchSchema, async (ctx, msg) => {
  await ingestBusCandles(ctx, msg.payload.candles);
});

ff.cloudEvent('candle-ingest', asCloudEventFunction(candleIngest));
