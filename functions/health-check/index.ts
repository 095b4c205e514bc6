/**
 * health-check: data freshness per enabled symbol, every minute (shared/pipeline/health-check.ts).
 * Cloud entry (Cloud Scheduler target): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/health-check.js';

serveScheduled(FUNCTION_NAME, handle);
