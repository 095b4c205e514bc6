/**
 * notifier: trade events (each signal's one outcome, then its trade), system alerts and Telegram jobs
 * to the Telegram outbox (shared/pipeline/notifier.ts).
 * Cloud entry (Pub/Sub-triggered): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { servePubsub } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/notifier.js';

servePubsub(FUNCTION_NAME, handle);
