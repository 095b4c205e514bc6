/**
 * telegram-webhook (HTTP, Telegram's webhook): the secret token (401), then the body size cap (413),
 * then parsing (plain 400), then update-id de-duplication, the command / callback handling of
 * shared/telegram/bot.ts, hand-off of sending and charts to the notifier (`telegram-jobs`), 200 at once.
 * Served through its front (infra/telegram/webhook-http.ts), which decides the first three on the raw
 * request before any body is read; `handle` repeats the checks on the buffered bytes, so the answers
 * stay the same under a bare functions-framework too (only the order of reading is lost there).
 */
import type { Logger } from '../log.js';
import { Bot } from '../telegram/bot.js';
import type { TelegramSide } from '../telegram/deps.js';
import { handleWebhookRequest, REFUSALS, type Headers, type WebhookResponse } from '../telegram/webhook.js';

export const FUNCTION_NAME = 'telegram-webhook';

export interface Deps {
  log: Logger;
  /** The Telegram side for the config in force (infra/telegram/runtime.ts). */
  telegram(): Promise<TelegramSide>;
}

/** The facts of one HTTP request the handle decides on. */
interface WebhookRequest {
  method: string;
  headers: Headers;
  /** The body's bytes as received (functions-framework's `rawBody`). */
  rawBody: Buffer | undefined;
}

export async function handle(deps: Deps, req: WebhookRequest): Promise<WebhookResponse> {
  if (req.method !== 'POST') return { status: 405, body: REFUSALS[405] };
  const side = await deps.telegram();
  const d = { ...side.deps, log: deps.log };
  return handleWebhookRequest(d, new Bot(d, side.botUsername ? { botUsername: side.botUsername } : {}), { headers: req.headers, rawBody: req.rawBody }, side.webhookSecret);
}
