/**
 * Tick archive: the holder's trade batches to the warehouse `ticks` table (shared/pipeline/tick-archive.ts).
 * Cloud entry (Pub/Sub-triggered): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { servePubsub } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/tick-archive.js';

servePubsub(FUNCTION_NAME, handle);
