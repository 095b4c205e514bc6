/**
 * Candle ingest (SPEC 1/2): Pub/Sub-triggered on `candles-bybit-1m` (closed 1m candles from the
 * holder). Writes each batch to the hot window in state and to the warehouse `ohlcv` table;
 * idempotent by candle key, so redeliveries change nothing. Malformed payloads and candles the
 * candle gate refuses (shared/market/candle-gate.ts) are dead-lettered with the reason.
 */
import { routeByTopic, type BusMessage } from '../messages.js';
import { ingestBusCandles, type GatedIngestDeps } from '../market/ingest.js';
import { TOPICS } from '../topics.js';

export const FUNCTION_NAME = 'candle-ingest';

export type Deps = GatedIngestDeps;

export const handle = routeByTopic(FUNCTION_NAME, {
  [TOPICS.bybitCandles]: async (deps: Deps, msg: BusMessage<typeof TOPICS.bybitCandles>) => {
    await ingestBusCandles(deps, msg.payload.candles);
  },
});
