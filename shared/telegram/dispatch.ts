/**
 * The notifier's entry (one function subscribed to several topics): classifies a bus payload by its
 * shape (system alert, hand-off job, trade event: signals reach it only as their outcome on
 * trade-events), validates it at the edge (PermanentError
 * when it can never be processed), queues its messages, then drains the outbox.
 */
import { alertSchema } from '../alerts.js';
import { PermanentError } from '../ports/bus.js';
import type { TelegramDeps } from './deps.js';
import { TELEGRAM_JOBS_TOPIC } from './deps.js';
import { runJob, telegramJobSchema } from './jobs.js';
import { Notifier, notifierTradeEventSchema } from './notifier.js';
import type { DrainResult, OutboxSender } from './outbox.js';
import type { z } from 'zod';

export type PayloadKind = 'alert' | 'job' | 'trade_event';

export function classifyPayload(p: unknown): PayloadKind {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new PermanentError('notifier: payload is not an object');
  const o = p as Record<string, unknown>;
  if (typeof o.alertId === 'string') return 'alert';
  if (typeof o.kind === 'string') return 'job';
  if (typeof o.type === 'string' && typeof o.eventId === 'string') return 'trade_event';
  throw new PermanentError('notifier: payload is neither a trade event, a system alert nor a telegram job');
}

function parse<T>(schema: z.ZodType<T>, p: unknown, what: string): T {
  const r = schema.safeParse(p);
  if (!r.success) throw new PermanentError(`notifier: invalid ${what}: ${r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Queues the messages for one payload; returns how many were queued. */
export async function notify(d: TelegramDeps, payload: unknown): Promise<{ kind: PayloadKind; queued: number }> {
  const kind = classifyPayload(payload);
  const n = new Notifier(d);
  switch (kind) {
    case 'alert':
      return { kind, queued: await n.onSystemAlert(parse(alertSchema, payload, 'system alert')) };
    case 'job':
      return { kind, queued: await runJob(d, parse(telegramJobSchema, payload, 'telegram job')) };
    case 'trade_event':
      return { kind, queued: await n.onTradeEvent(parse(notifierTradeEventSchema, payload, 'trade event')) };
  }
}

/**
 * Drains; asks for another run (a `telegram-jobs` drain job) only when this one held the lease and
 * stopped at its deadline with work left: it sent or waited for its whole `maxDrainMs`, so the next run
 * starts that much later and has something to do (what is due, or the wait that goes on). Any other
 * end re-publishes nothing: an empty queue; the lease held (its holder sends what is queued); deferred
 * (the next send is due beyond the caller's in-process wait: a later drain sends it). A run never asks
 * for a successor at the instant it started, so drain jobs cannot spin (at most one per `maxDrainMs`).
 */
export async function drainAndContinue(d: Pick<TelegramDeps, 'bus' | 'log'>, sender: OutboxSender): Promise<DrainResult> {
  const r = await sender.drain();
  const again = r.ran && r.remaining > 0 && r.stopped === 'deadline';
  if (r.remaining > 0) {
    d.log.debug('outbox drain stopped with work left', { stopped: r.stopped, sent: r.sent, remaining: r.remaining, nextDueAt: r.nextDueAt, continued: again });
  }
  if (again) await d.bus.publish(TELEGRAM_JOBS_TOPIC, { kind: 'drain' });
  return r;
}
