/**
 * Execution: signals, candles, bias updates and owner commands through the trading core (shared/pipeline/execution.ts).
 * Cloud entry (Pub/Sub-triggered): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { servePubsub } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/execution.js';

servePubsub(FUNCTION_NAME, handle);
