/**
 * telegram-webhook: Telegram's webhook (shared/pipeline/telegram-webhook.ts). Deployed as its own Cloud Run service
 * (./server.ts: the front checks the secret and the size cap before any body is read); registered here
 * for a bare functions-framework too.
 * Cloud entry (public HTTP): binds the function's handle to functions-framework with the deps of the
 * process's composition root (infra/functions.ts).
 */
import { serveHttp } from '../../infra/functions.js';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/telegram-webhook.js';

serveHttp(FUNCTION_NAME, handle);
