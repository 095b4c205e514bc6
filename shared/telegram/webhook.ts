/**
 * The webhook's decision path (SPEC 9), in this order and no other:
 *   1. Telegram's secret-token header (401, nothing read or parsed otherwise),
 *   2. the body size cap (`webhook.maxBodyBytes`, 413),
 *   3. parsing (a malformed body is a plain 400: no stack, no path, no parser text),
 *   4. de-duplication of `update_id` with a marker document (`processing`, then `done`),
 *   5. handling (state reads and outbox writes only; sending and charts go to the notifier through
 *      `telegram-jobs`), 200 at once.
 * Steps 1-3 are `admitWebhookRequest`; the HTTP front (infra/telegram/webhook-http.ts) runs them on the
 * raw request before any body is read, and `handleWebhookRequest` runs them again on a body that some
 * framework already buffered.
 *
 * A marker still `processing` means another handler is on it, or crashed on it: younger than
 * `webhook.processingTimeoutMs` the answer is 503 (Telegram retries later); older, the update is taken
 * over and handled again (outbox keys derive from the update id, so nothing is sent twice).
 */
import { timingSafeEqual } from 'node:crypto';
import type { DocData } from '../ports/state.js';
import type { Bot } from './bot.js';
import type { TelegramDeps } from './deps.js';
import { updateMarkerPath } from '../state-paths.js';
import { publish } from '../messages.js';
import { TOPICS } from '../topics.js';

const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

interface UpdateMarker {
  updateId: number;
  receivedAt: number;
  status: 'processing' | 'done';
  /** Handling attempts that took the marker (1 normally; more after a takeover). */
  attempts: number;
  handled?: string;
}

/** Plain answers for refused requests: fixed texts, never an error message, stack or path. */
export const REFUSALS = {
  401: { error: 'unauthorized' },
  405: { error: 'POST only' },
  413: { error: 'body too large' },
  400: { error: 'malformed JSON body' },
  500: { error: 'internal error' },
  503: { error: 'update in progress; retry later' },
} as const;

function secretMatches(header: string | string[] | undefined, secret: string | undefined): boolean {
  if (!secret) return false;
  const got = Array.isArray(header) ? header[0] : header;
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got, 'utf8');
  const b = Buffer.from(secret, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export type Headers = Record<string, string | string[] | undefined>;

/** Step 1 (and 2 when the length is declared): decided from the headers alone, before any body byte is read. */
export function admitHeaders(headers: Headers, secret: string | undefined, maxBodyBytes: number): WebhookResponse | null {
  if (!secretMatches(headers[SECRET_HEADER], secret)) return { status: 401, body: REFUSALS[401] };
  const declared = headers['content-length'];
  const n = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : undefined;
  if (n !== undefined && n > maxBodyBytes) return { status: 413, body: REFUSALS[413] };
  return null;
}

/** Steps 2-3 on a buffered body: the cap, then JSON. */
export function parseWebhookBody(raw: Buffer, maxBodyBytes: number): { ok: true; body: unknown } | { ok: false; refusal: WebhookResponse } {
  if (raw.length > maxBodyBytes) return { ok: false, refusal: { status: 413, body: REFUSALS[413] } };
  try {
    return { ok: true, body: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { ok: false, refusal: { status: 400, body: REFUSALS[400] } };
  }
}

/**
 * Steps 1-5 for a body that was already buffered (by a framework). The secret is checked before the
 * body is looked at; the body is parsed here from its raw bytes, whatever the framework made of it.
 */
export async function handleWebhookRequest(
  d: TelegramDeps,
  bot: Bot,
  req: { headers: Headers; rawBody: Buffer | undefined },
  secret: string | undefined,
): Promise<WebhookResponse> {
  const refused = admitHeaders(req.headers, secret, d.tg.webhook.maxBodyBytes);
  if (refused) {
    if (refused.status === 401) d.log.warn('telegram webhook: missing or wrong secret token', { hasSecret: Boolean(secret) });
    return refused;
  }
  const parsed = parseWebhookBody(req.rawBody ?? Buffer.alloc(0), d.tg.webhook.maxBodyBytes);
  if (!parsed.ok) {
    d.log.warn('telegram webhook: refused body', { status: parsed.refusal.status, bytes: req.rawBody?.length ?? 0 });
    return parsed.refusal;
  }
  return handleWebhook(d, bot, { headers: req.headers, body: parsed.body }, secret);
}

/** Takes the update's marker: a new one, or one a crashed handler left `processing` for too long. */
async function claimMarker(d: TelegramDeps, updateId: number, now: number): Promise<'claimed' | 'done' | 'in_progress'> {
  const marker = updateMarkerPath(updateId);
  const fresh: UpdateMarker = { updateId, receivedAt: now, status: 'processing', attempts: 1 };
  if (await d.state.create(marker, fresh as unknown as DocData)) return 'claimed';
  return d.state.runTransaction(async (tx) => {
    const cur = await tx.get<UpdateMarker>(marker);
    if (!cur) {
      tx.set(marker, fresh as unknown as DocData);
      return 'claimed';
    }
    if (cur.status === 'done') return 'done';
    if (now - cur.receivedAt < d.tg.webhook.processingTimeoutMs) return 'in_progress';
    tx.set(marker, { ...cur, receivedAt: now, status: 'processing', attempts: (cur.attempts ?? 1) + 1 } as unknown as DocData);
    return 'claimed';
  });
}

/** Steps 1, 4 and 5 on a parsed body (the caller did 2 and 3). */
async function handleWebhook(
  d: TelegramDeps,
  bot: Bot,
  req: { headers: Headers; body: unknown },
  secret: string | undefined,
): Promise<WebhookResponse> {
  if (!secretMatches(req.headers[SECRET_HEADER], secret)) {
    d.log.warn('telegram webhook: missing or wrong secret token', { hasSecret: Boolean(secret) });
    return { status: 401, body: REFUSALS[401] };
  }
  const updateId = (req.body as { update_id?: unknown } | null)?.update_id;
  if (typeof updateId !== 'number' || !Number.isSafeInteger(updateId) || updateId < 0) {
    // Telegram would redeliver a non-2xx forever; a malformed update can never succeed.
    d.log.error('telegram webhook: body is not an update', {});
    return { status: 200, body: { ok: true, ignored: 'not an update' } };
  }
  const now = d.clock.now();
  const marker = updateMarkerPath(updateId);
  const claim = await claimMarker(d, updateId, now);
  if (claim === 'done') return { status: 200, body: { ok: true, duplicate: true } };
  if (claim === 'in_progress') {
    d.log.info('telegram update is being handled elsewhere; asking Telegram to retry', { updateId });
    return { status: 503, body: REFUSALS[503] };
  }
  try {
    const r = await bot.handleUpdate(req.body);
    if (r.queued > 0) await publish(d.bus, TOPICS.telegramJobs, { kind: 'drain' }, { attributes: { dedupeId: `u${updateId}:drain` } });
    await d.state.merge(marker, { status: 'done', handled: r.handled });
    d.log.info('telegram update handled', { updateId, handled: r.handled, queued: r.queued, jobs: r.jobs });
    return { status: 200, body: { ok: true, handled: r.handled } };
  } catch (e) {
    if ((e as { name?: string }).name === 'ZodError') {
      await d.state.merge(marker, { status: 'done', handled: 'invalid' }).catch(() => undefined);
      d.log.error('telegram webhook: update failed validation', { updateId, error: e as Error });
      return { status: 200, body: { ok: true, ignored: 'invalid update' } };
    }
    // Let Telegram redeliver: drop the marker so the retry is handled at once (outbox keys keep it
    // idempotent). Should this delete fail too, the marker ages out (`processingTimeoutMs`).
    await d.state.delete(marker).catch(() => undefined);
    throw e;
  }
}
