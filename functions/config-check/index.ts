/**
 * config-check: every config document re-read and validated, every minute (shared/pipeline/config-check.ts).
 * Cloud entry (Cloud Scheduler target): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/config-check.js';

serveScheduled(FUNCTION_NAME, handle);
