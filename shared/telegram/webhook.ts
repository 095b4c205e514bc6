/**
 * The webhook's decision path (SPEC 9): verify Telegram's secret-token header (401 otherwise),
 * de-duplicate `update_id` with a marker document created atomically (a retried update is acknowledged
 * and not processed again), handle the update (state reads and outbox writes only), hand sending and
 * charts to the notifier through `telegram-jobs`, and answer 200 at once.
 */
import { timingSafeEqual } from 'node:crypto';
import type { DocData } from '../ports/state.js';
import type { Bot } from './bot.js';
import type { TelegramDeps } from './deps.js';
import { TELEGRAM_JOBS_TOPIC } from './deps.js';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
export const UPDATES = 'tg_updates';
export const updateMarkerPath = (updateId: number) => `${UPDATES}/${updateId}`;

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

export function secretMatches(header: string | string[] | undefined, secret: string | undefined): boolean {
  if (!secret) return false;
  const got = Array.isArray(header) ? header[0] : header;
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got, 'utf8');
  const b = Buffer.from(secret, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function handleWebhook(
  d: TelegramDeps,
  bot: Bot,
  req: { headers: Record<string, string | string[] | undefined>; body: unknown },
  secret: string | undefined,
): Promise<WebhookResponse> {
  if (!secretMatches(req.headers[SECRET_HEADER], secret)) {
    d.log.warn('telegram webhook: missing or wrong secret token', { hasSecret: Boolean(secret) });
    return { status: 401, body: { error: 'unauthorized' } };
  }
  const updateId = (req.body as { update_id?: unknown } | null)?.update_id;
  if (typeof updateId !== 'number' || !Number.isSafeInteger(updateId) || updateId < 0) {
    // Telegram would redeliver a non-2xx forever; a malformed update can never succeed.
    d.log.error('telegram webhook: body is not an update', {});
    return { status: 200, body: { ok: true, ignored: 'not an update' } };
  }
  const now = d.clock.now();
  const marker = updateMarkerPath(updateId);
  if (!(await d.state.create(marker, { updateId, receivedAt: now, status: 'processing' } satisfies DocData))) {
    return { status: 200, body: { ok: true, duplicate: true } };
  }
  try {
    const r = await bot.handleUpdate(req.body);
    await d.state.merge(marker, { status: 'done', handled: r.handled });
    if (r.queued > 0) await d.bus.publish(TELEGRAM_JOBS_TOPIC, { kind: 'drain' }, { attributes: { dedupeId: `u${updateId}:drain` } });
    d.log.info('telegram update handled', { updateId, handled: r.handled, queued: r.queued, jobs: r.jobs });
    return { status: 200, body: { ok: true, handled: r.handled } };
  } catch (e) {
    // Let Telegram redeliver: drop the marker so the retry is processed (outbox keys keep it idempotent).
    await d.state.delete(marker).catch(() => undefined);
    if ((e as { name?: string }).name === 'ZodError') {
      d.log.error('telegram webhook: update failed validation', { updateId, error: e as Error });
      return { status: 200, body: { ok: true, ignored: 'invalid update' } };
    }
    throw e;
  }
}
