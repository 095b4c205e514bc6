/**
 * retrain: the learning loop's daily research run (retraining, shadow test, suggestions, rollback
 * trigger, research summary); shared/pipeline/retrain.ts. Cloud entry (Cloud Scheduler target): binds
 * the function's handle to functions-framework with the deps of the process's composition root
 * (infra/functions.ts).
 */
import { serveScheduled } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/retrain.js';

serveScheduled(FUNCTION_NAME, handle);
