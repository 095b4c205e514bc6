/**
 * A replay drives the pipeline on a ManualClock that only moves between bus deliveries (e.g.
 * scripts/replay-month.ts). The outbox must never sleep on such a clock inside a delivery: with
 * `maxWaitMs: 0` a drain sends what is due, leaves the rest queued (deferred, no re-published drain
 * job that would spin at the same instant), and a later drain, after the clock moved, sends it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { SentMessage, TelegramApi } from '../../shared/ports/telegram.js';
import { enqueue, OutboxSender } from '../../shared/telegram/outbox.js';

const CHAT = 4242;
let state: SqliteStateStore | undefined;
afterEach(async () => {
  await state?.close();
});

/** Records sendMessage calls; nothing else is used here. */
function recordingApi(sent: string[]): TelegramApi {
  let id = 0;
  return new Proxy({} as TelegramApi, {
    get: (_t, prop) => {
      if (prop === 'sendMessage') return async (_chat: number, text: string): Promise<SentMessage> => (sent.push(text), { chatId: CHAT, messageId: ++id });
      if (prop === 'then') return undefined;
      return () => Promise.reject(new Error(`unexpected Telegram call ${String(prop)}`));
    },
  });
}

describe('outbox drain on a manual clock', () => {
  it('maxWaitMs 0: sends what is due, defers the rest without sleeping; a later drain sends it in order', async () => {
    const clock = new ManualClock(Date.UTC(2025, 5, 13));
    state = new SqliteStateStore({ file: ':memory:', clock });
    const sent: string[] = [];
    const sender = new OutboxSender({ state, api: recordingApi(sent), clock, cfg: DEFAULT_TELEGRAM_CONFIG, maxWaitMs: 0 });
    await enqueue(state, [0, 1, 2].map((i) => ({ key: `m:${i}`, chatId: CHAT, op: { type: 'text' as const, text: `message ${i}` } })), clock.now());

    // Without maxWaitMs this drain would sleep 1 s on a clock nobody advances: it would never return.
    const first = await sender.drain();
    expect(first).toMatchObject({ ran: true, sent: 1, remaining: 2, deferred: true });
    expect(sent).toEqual(['message 0']);

    await clock.advance(DEFAULT_TELEGRAM_CONFIG.limits.perChatIntervalMs);
    expect(await sender.drain()).toMatchObject({ sent: 1, remaining: 1, deferred: true });
    await clock.advance(DEFAULT_TELEGRAM_CONFIG.limits.perChatIntervalMs);
    expect(await sender.drain()).toMatchObject({ sent: 1, remaining: 0, deferred: false });
    expect(sent).toEqual(['message 0', 'message 1', 'message 2']);
  });
});
