/**
 * A drain run asks for a successor (a `telegram-jobs` {kind:'drain'} job) only when a later run can
 * make progress. The spin this guards against: the queued entries' next send lies beyond the run's
 * deadline (a `notBefore` ahead of the clock, as after a `--keep` restart whose replay clock is behind
 * the queue, or a retry back-off longer than `maxDrainMs`); the run sent nothing, stopped at once with
 * work left and re-published, and every following run did the same at the same instant: 82 732 drain
 * jobs for ~40 alerts in the local replay. Now such a run waits for the send up to its deadline and
 * only then continues, so drain jobs follow the clock (at most one per `maxDrainMs`).
 *
 * The bus here delivers drain jobs one after another to `drainAndContinue`, as the notifier does; the
 * clock moves only when the outbox sleeps (AutoClock), so a run that re-publishes without waiting
 * re-publishes at the same instant, forever (capped here).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TOPICS } from '../../shared/topics.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { createLogger } from '../../shared/log.js';
import type { Bus } from '../../shared/ports/bus.js';
import { TelegramApiError, type SentMessage, type TelegramApi } from '../../shared/ports/telegram.js';
import { drainAndContinue } from '../../shared/telegram/dispatch.js';
import { enqueue, OutboxSender, type DrainResult } from '../../shared/telegram/outbox.js';
import { OUTBOX_LOCK_DOC } from '../../shared/state-paths.js';
import { AutoClock, T0 } from './helpers.js';

const CHAT = 4242;
const OTHER_CHAT = 4343;
const MIN = 60_000;
const cfg = DEFAULT_TELEGRAM_CONFIG;
/** Far more drain jobs than any correct run needs here: the spin is cut off at this many. */
const SPIN_CAP = 2_000;

let state: SqliteStateStore | undefined;
afterEach(async () => {
  await state?.close();
  state = undefined;
});

/** Records sendMessage calls (`fail(text)` may throw instead); nothing else is used here. */
function recordingApi(sent: Array<{ chatId: number; text: string; at: number }>, clock: AutoClock, fail: (text: string) => Error | null = () => null): TelegramApi {
  let id = 0;
  return new Proxy({} as TelegramApi, {
    get: (_t, prop) => {
      if (prop === 'sendMessage')
        return async (chatId: number, text: string): Promise<SentMessage> => {
          const e = fail(text);
          if (e) throw e;
          sent.push({ chatId, text, at: clock.now() });
          return { chatId, messageId: ++id };
        };
      if (prop === 'then') return undefined;
      return () => Promise.reject(new Error(`unexpected Telegram call ${String(prop)}`));
    },
  });
}

/** The notifier's loop: one drain, then every drain job it (and its successors) published, in order. */
async function drainToQuiet(sender: OutboxSender): Promise<{ jobs: number; runs: DrainResult[] }> {
  const queue: unknown[] = [];
  const bus: Bus = {
    publish: async (topic, data) => {
      expect(topic).toBe(TOPICS.telegramJobs);
      expect(data).toEqual({ kind: 'drain' });
      queue.push(data);
      return String(queue.length);
    },
    close: async () => undefined,
  };
  const d = { bus, log: createLogger({ test: 'drain-continue' }, { minSeverity: 'ERROR' }) };
  const runs = [await drainAndContinue(d, sender)];
  let jobs = 0;
  while (queue.length > 0 && jobs < SPIN_CAP) {
    queue.shift();
    jobs++;
    runs.push(await drainAndContinue(d, sender));
  }
  return { jobs, runs };
}

describe('drain continuation (telegram-jobs drain jobs)', () => {
  it('entries due beyond the run deadline: the runs wait for them, a bounded chain of drain jobs, each message sent once in order', async () => {
    const clock = new AutoClock(T0);
    state = new SqliteStateStore({ file: ':memory:', clock });
    const sent: Array<{ chatId: number; text: string; at: number }> = [];
    const sender = new OutboxSender({ state, api: recordingApi(sent, clock), clock, cfg });
    // Queued by a process whose clock was 10 minutes ahead (the killed first run of a --keep replay).
    const due = T0 + 10 * MIN;
    await enqueue(state, [0, 1, 2].map((i) => ({ key: `m:${i}`, chatId: CHAT, op: { type: 'text' as const, text: `message ${i}` }, notBefore: due })), T0);

    const { jobs, runs } = await drainToQuiet(sender);

    // Without the fix: every run stops at once (next send beyond its deadline), re-publishes, and the
    // next does the same at T0: SPIN_CAP jobs, nothing sent, the clock never moves.
    expect(jobs).toBeLessThanOrEqual(Math.ceil((10 * MIN) / cfg.outbox.maxDrainMs) + 1);
    expect(sent.map((s) => s.text)).toEqual(['message 0', 'message 1', 'message 2']);
    expect(sent[0]!.at).toBeGreaterThanOrEqual(due);
    // Every run that asked for a successor had used its whole time.
    for (const r of runs.slice(0, -1)) expect(r).toMatchObject({ ran: true, stopped: 'deadline' });
    expect(runs.at(-1)).toMatchObject({ remaining: 0, stopped: 'empty' });
    // The first run saw when the next send comes due.
    expect(runs[0]!.nextDueAt).toBe(due);
  });

  it('a retry back-off longer than maxDrainMs: the failing message is retried when due and sent once, the other chat is not held up', async () => {
    const clock = new AutoClock(T0);
    state = new SqliteStateStore({ file: ':memory:', clock });
    const sent: Array<{ chatId: number; text: string; at: number }> = [];
    let failures = 0;
    // 6 transient failures: back-offs 2, 4, 8, 16, 32, then 64 s (> maxDrainMs 50 s) before the 7th try.
    const api = recordingApi(sent, clock, (text) => (text === 'flaky' && failures < 6 ? (failures++, new TelegramApiError('sendMessage', 502, 'Bad Gateway')) : null));
    const sender = new OutboxSender({ state, api, clock, cfg });
    await enqueue(state, [{ key: 'flaky', chatId: CHAT, op: { type: 'text' as const, text: 'flaky' } }, { key: 'other', chatId: OTHER_CHAT, op: { type: 'text' as const, text: 'other' } }], T0);

    const { jobs } = await drainToQuiet(sender);

    expect(failures).toBe(6);
    expect(sent.map((s) => s.text).sort()).toEqual(['flaky', 'other']);
    expect(sent.find((s) => s.text === 'other')!.at).toBeLessThan(T0 + 2_000);
    const backoffTotal = [2, 4, 8, 16, 32, 64].reduce((a, s) => a + s * 1000, 0);
    expect(sent.find((s) => s.text === 'flaky')!.at).toBeGreaterThanOrEqual(T0 + backoffTotal);
    expect(jobs).toBeLessThanOrEqual(Math.ceil(backoffTotal / cfg.outbox.maxDrainMs) + 1);
  });

  it('the lease held by another (dead) drainer: the run sends nothing and publishes no drain job', async () => {
    const clock = new AutoClock(T0);
    state = new SqliteStateStore({ file: ':memory:', clock });
    const sent: Array<{ chatId: number; text: string; at: number }> = [];
    const sender = new OutboxSender({ state, api: recordingApi(sent, clock), clock, cfg });
    await state.set(OUTBOX_LOCK_DOC, { holder: 'dead-instance#1', leaseUntil: T0 + cfg.outbox.leaseMs, limiter: null });
    await enqueue(state, [{ key: 'm', chatId: CHAT, op: { type: 'text' as const, text: 'm' } }], T0);

    const { jobs, runs } = await drainToQuiet(sender);
    expect(jobs).toBe(0);
    expect(runs[0]).toMatchObject({ ran: false, stopped: 'lease_held', remaining: 1 });
    expect(sent).toEqual([]);

    // Once the lease lapsed, the next natural drain sends it.
    clock.advance(cfg.outbox.leaseMs);
    await drainToQuiet(sender);
    expect(sent.map((s) => s.text)).toEqual(['m']);
  });
});
