/**
 * reports: the daily / weekly report to every allowed chat; body `{ period }` (shared/pipeline/reports.ts).
 * Cloud entry (Cloud Scheduler target): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/reports.js';

serveScheduled(FUNCTION_NAME, handle);
