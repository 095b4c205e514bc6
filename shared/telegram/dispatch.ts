/**
 * The outbox drain the Telegram functions end with (the notifier after queueing a message's alerts,
 * reports after queueing a report): drains within Telegram's limits and hands what is left to a later
 * run. What a message queues is decided by its topic (shared/pipeline/notifier.ts).
 */
import { publish } from '../messages.js';
import { TOPICS } from '../topics.js';
import type { TelegramDeps } from './deps.js';
import type { DrainResult, OutboxSender } from './outbox.js';

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
  if (again) await publish(d.bus, TOPICS.telegramJobs, { kind: 'drain' });
  return r;
}
