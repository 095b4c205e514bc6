/**
 * telegram-webhook (HTTP, Telegram's webhook): the secret token (401), then the body size cap (413),
 * then parsing (plain 400), then update-id de-duplication, the command / callback handling of
 * shared/telegram/bot.ts, hand-off of sending and charts to the notifier (`telegram-jobs`), 200 at once.
 * Served through its front (infra/telegram/webhook-http.ts), which decides the first three on the raw
 * request before any body is read: by `npm start` at `/telegram-webhook`, and in the cloud by its own
 * Cloud Run service (./server.ts; scripts/deploy.ts deploys it and registers the service URL with
 * scripts/telegram-webhook.ts). The handler repeats the checks on the buffered bytes, so the answers
 * stay the same under a bare functions-framework too (only the order of reading is lost there).
 */
import * as ff from '@google-cloud/functions-framework';
import { httpHandler, registerHttpFront } from '../../infra/functions.js';
import { getTelegramRuntime } from '../../infra/telegram/runtime.js';
import { webhookFront } from '../../infra/telegram/webhook-http.js';
import { Bot } from '../../shared/telegram/bot.js';
import { handleWebhookRequest, REFUSALS } from '../../shared/telegram/webhook.js';

export const FUNCTION_NAME = 'telegram-webhook';

export const telegramWebhook = httpHandler(FUNCTION_NAME, async (ctx, req, res) => {
  if (req.method !== 'POST') {
    res.status(405).json(REFUSALS[405]);
    return;
  }
  const rt = await getTelegramRuntime(ctx);
  const deps = { ...rt.deps, log: ctx.log };
  const rawBody = (req as { rawBody?: Buffer }).rawBody;
  const r = await handleWebhookRequest(deps, new Bot(deps, rt.botUsername ? { botUsername: rt.botUsername } : {}), { headers: req.headers, rawBody }, rt.webhookSecret);
  res.status(r.status).json(r.body);
});

ff.http(FUNCTION_NAME, telegramWebhook);
registerHttpFront(FUNCTION_NAME, (app) => webhookFront(app));
