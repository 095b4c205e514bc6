/**
 * Candle ingest: closed Bybit 1m candles to the hot window and the warehouse (shared/pipeline/candle-ingest.ts).
 * Cloud entry (Pub/Sub-triggered): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { servePubsub } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/candle-ingest.js';

servePubsub(FUNCTION_NAME, handle);
