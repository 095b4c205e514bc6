/**
 * retention-cleanup: old hot-store candles and idempotency markers, daily (shared/pipeline/retention-cleanup.ts).
 * Cloud entry (Cloud Scheduler target): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/retention-cleanup.js';

serveScheduled(FUNCTION_NAME, handle);
