/**
 * MICRO-SCALP evaluation on closed 1m candles and 15 s snapshots (shared/pipeline/micro-scalp.ts).
 * Cloud entry (Pub/Sub-triggered): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { servePubsub } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/micro-scalp.js';

servePubsub(FUNCTION_NAME, handle);
