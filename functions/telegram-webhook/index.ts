/**
 * telegram-webhook (HTTP, Telegram's webhook): secret-token check (401), update-id de-duplication,
 * the command / callback handling of shared/telegram/bot.ts, hand-off of sending and charts to the
 * notifier (`telegram-jobs`), 200 at once. Register the URL with scripts or `setWebhook(url, secret)`.
 */
import * as ff from '@google-cloud/functions-framework';
import { httpHandler } from '../../infra/functions.js';
import { getTelegramRuntime } from '../../infra/telegram/runtime.js';
import { Bot } from '../../shared/telegram/bot.js';
import { handleWebhook } from '../../shared/telegram/webhook.js';

export const FUNCTION_NAME = 'telegram-webhook';

export const telegramWebhook = httpHandler(FUNCTION_NAME, async (ctx, req, res) => {
  if (req.method !== 'POST') {
    res.status(405).json({ error: 'POST only' });
    return;
  }
  const rt = await getTelegramRuntime(ctx);
  const deps = { ...rt.deps, log: ctx.log };
  const r = await handleWebhook(deps, new Bot(deps, rt.botUsername ? { botUsername: rt.botUsername } : {}), { headers: req.headers, body: req.body }, rt.webhookSecret);
  res.status(r.status).json(r.body);
});

ff.http(FUNCTION_NAME, telegramWebhook);
