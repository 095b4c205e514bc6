/**
 * dashboard: the page and its JSON API (shared/pipeline/dashboard.ts), a public HTTP function (the
 * handle authenticates every API request: Mini App initData or a single-use login link, then a
 * bearer session).
 * Cloud entry (public HTTP): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveHttp } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/dashboard.js';

serveHttp(FUNCTION_NAME, handle);
