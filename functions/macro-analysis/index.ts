/**
 * MACRO analysis, every 5 minutes; optional body `{ "symbols": [...] }` (shared/pipeline/macro-analysis.ts).
 * Cloud entry (Cloud Scheduler target): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/macro-analysis.js';

serveScheduled(FUNCTION_NAME, handle);
