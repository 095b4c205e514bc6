/**
 * The outbound queue against a local Bot API server that ENFORCES Telegram's limits on the same
 * (auto-advancing) clock: a 100-alert burst to one group gets zero 429s; an injected 429 with
 * retry_after is waited out and the message delivered once; a restart neither loses nor repeats a
 * message; long queues shrink photos.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { TOPICS } from '../../shared/topics.js';
import { DEFAULT_TELEGRAM_CONFIG, type TelegramConfig } from '../../shared/config/telegram.js';
import { enqueue, OutboxSender, readOutboxRecord, type EnqueueItem } from '../../shared/telegram/outbox.js';
import { OUTBOX_LOCK_DOC } from '../../shared/state-paths.js';
import { TELEGRAM_LIMITS, type RecordedRequest } from '../../infra/replay/telegram-server.js';
import { sharpChartRenderer } from '../../infra/telegram/charts.js';
import { loadCandles, makeHarness, OWNER, textUpdate, type Harness } from './helpers.js';

const GROUP = -100200300;

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ candles: false });
});
afterEach(async () => {
  await h.close();
});

function sender(cfg: Partial<TelegramConfig> = {}, holder?: string): OutboxSender {
  return new OutboxSender({ state: h.state, api: h.rt.api, clock: h.clock, cfg: { ...DEFAULT_TELEGRAM_CONFIG, ...cfg }, charts: sharpChartRenderer, ...(holder ? { holder } : {}) });
}

function texts(chatId: number, n: number, prefix: string): EnqueueItem[] {
  return Array.from({ length: n }, (_, i) => ({ key: `${prefix}:${i}`, chatId, op: { type: 'text' as const, text: `${prefix} message ${i}` } }));
}

/** Asserts Telegram's limits over the successful requests. */
function assertWithinLimits(reqs: RecordedRequest[]): void {
  const ok = reqs.filter((r) => r.status === 200);
  const byChat = new Map<number, number[]>();
  for (const r of ok) if (r.chatId !== null) byChat.set(r.chatId, [...(byChat.get(r.chatId) ?? []), r.at]);
  for (const [chat, ts] of byChat) {
    for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(TELEGRAM_LIMITS.perChatIntervalMs);
    if (chat < 0) for (const t of ts) expect(ts.filter((x) => x > t - TELEGRAM_LIMITS.perGroupWindowMs && x <= t).length).toBeLessThanOrEqual(TELEGRAM_LIMITS.perGroupMax);
  }
  const all = ok.map((r) => r.at);
  for (const t of all) expect(all.filter((x) => x > t - TELEGRAM_LIMITS.globalWindowMs && x <= t).length).toBeLessThanOrEqual(TELEGRAM_LIMITS.globalMax);
}

describe('rate limits', () => {
  it('delivers a burst of 100 alerts to one group within the limits: zero 429s, each once', async () => {
    await h.deliver(textUpdate(OWNER, '/allowgroup', { id: GROUP, type: 'supergroup', title: 'Desk' }));
    const start = h.clock.now();
    for (let i = 0; i < 100; i++) {
      void h.bus.publish(TOPICS.alerts, { alertId: `burst-${i}`, kind: 'bad_data', severity: 'warning', subject: 'SOLUSDT', message: `bad candle #${i}`, ts: start });
    }
    await h.bus.drain();
    expect(h.server.count429()).toBe(0);
    const toGroup = h.server.ok('sendMessage').filter((r) => r.chatId === GROUP && r.fields.text?.includes('bad candle'));
    expect(toGroup).toHaveLength(100);
    expect(new Set(toGroup.map((r) => /#(\d+)/.exec(r.fields.text!)![1])).size).toBe(100);
    // 20 per minute: the 100th group message cannot go before 4 minutes.
    expect(toGroup.at(-1)!.at - toGroup[0]!.at).toBeGreaterThanOrEqual(4 * 60_000);
    // The owner's private chat got its 100 too, and nothing is left queued.
    expect(h.server.ok('sendMessage').filter((r) => r.chatId === OWNER && r.fields.text?.includes('bad candle'))).toHaveLength(100);
    assertWithinLimits(h.server.requests);
    expect(await h.state.query('tg_queue')).toHaveLength(0);
  });

  it('waits out an injected 429 (retry_after) and delivers the message once', async () => {
    h.server.inject429({ method: 'sendMessage', chatId: 4242, retryAfterSec: 7 });
    await enqueue(h.state, texts(4242, 1, 'r429'), h.clock.now());
    const r = await sender().drain();
    const calls = h.server.calls('sendMessage').filter((c) => c.chatId === 4242);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(7_000);
    expect(h.server.chatMessages(4242)).toHaveLength(1);
    expect(r).toMatchObject({ sent: 1, rateLimited: 1, remaining: 0 });
    expect((await readOutboxRecord(h.state, 'r429:0'))?.status).toBe('sent');
  });

  it('a client configured looser than the server still delivers everything exactly once (429s honoured)', async () => {
    await enqueue(h.state, texts(777, 6, 'loose'), h.clock.now());
    await sender({ limits: { ...DEFAULT_TELEGRAM_CONFIG.limits, perChatIntervalMs: 200 } }).drain();
    expect(h.server.count429()).toBeGreaterThan(0);
    expect(h.server.chatMessages(777).map((m) => m.text)).toEqual(Array.from({ length: 6 }, (_, i) => `loose message ${i}`));
  });
});

describe('persistence', () => {
  it('neither loses nor repeats a message across a restart; a dead drainer lease expires', async () => {
    await enqueue(h.state, texts(5150, 10, 'restart'), h.clock.now());
    // A replay of the same events queues nothing new.
    expect(await enqueue(h.state, texts(5150, 10, 'restart'), h.clock.now())).toEqual([]);
    const a = await sender({}, 'instance-a').drain({ maxMs: 3_500 });
    expect(a.sent).toBeGreaterThan(0);
    expect(a.remaining).toBe(10 - a.sent);
    // "Restart": a new process (new sender, same state) continues inside the same rate windows.
    const b = await sender({}, 'instance-b').drain();
    expect(a.sent + b.sent).toBe(10);
    expect(h.server.chatMessages(5150).map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `restart message ${i}`));
    expect(h.server.count429()).toBe(0);

    // A drainer that died holding the lease blocks others only until the lease runs out.
    await enqueue(h.state, texts(5150, 1, 'after-crash'), h.clock.now());
    await h.state.set(OUTBOX_LOCK_DOC, { holder: 'dead', leaseUntil: h.clock.now() + DEFAULT_TELEGRAM_CONFIG.outbox.leaseMs, limiter: null });
    expect((await sender({}, 'instance-c').drain()).ran).toBe(false);
    h.clock.advance(DEFAULT_TELEGRAM_CONFIG.outbox.leaseMs);
    expect((await sender({}, 'instance-c').drain()).sent).toBe(1);
    expect(h.server.chatMessages(5150)).toHaveLength(11);
  });

  it('shrinks photos while the queue is long', async () => {
    const candles = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m').slice(0, 90);
    const big = await sharpChartRenderer.renderTradeChart({ candles, title: { symbol: 'SOLUSDT', interval: '1m' }, size: 'large' });
    expect(big.width).toBeGreaterThan(640);
    const items: EnqueueItem[] = Array.from({ length: 4 }, (_, i) => ({ key: `img:${i}`, chatId: 6060, op: { type: 'photo', fileId: '', caption: `chart ${i}` }, photo: { source: big.png, filename: `c${i}.png` } }));
    await enqueue(h.state, items, h.clock.now());
    await sender({ outbox: { ...DEFAULT_TELEGRAM_CONFIG.outbox, shrinkQueueLength: 2, shrinkMaxWidth: 320 } }).drain();
    const widths = await Promise.all(h.server.ok('sendPhoto').map(async (r) => (await sharp(r.files[0]!.bytes).metadata()).width));
    // Queue of 4 and 3 (> 2): shrunk; then 2 and 1: full size.
    expect(widths).toEqual([320, 320, big.width, big.width]);
  });
});

describe('per-chat order', () => {
  it('30 messages queued at once to each of 3 private chats and 100 to a group arrive in queued order, each once, 0 x 429, across pages and a restart', async () => {
    const privates = [7101, 7102, 7103];
    const now = h.clock.now();
    // Queued "at once": one enqueue per chat, concurrently, at the same clock time (keys whose text
    // order differs from their queue order: p:7101:10 sorts before p:7101:2).
    await Promise.all([
      ...privates.map((c) => enqueue(h.state, texts(c, 30, `p:${c}`), now)),
      enqueue(h.state, texts(GROUP, 100, 'g'), now),
    ]);
    // A first instance drains a while (pages of 25 over 190 entries), then "restarts": a new sender
    // (new process: nothing in memory) continues from the state alone.
    const cfg = { outbox: { ...DEFAULT_TELEGRAM_CONFIG.outbox, scanLimit: 25 } };
    const a = await sender(cfg, 'instance-a').drain({ maxMs: 20_000 });
    expect(a.sent).toBeGreaterThan(0);
    expect(a.remaining).toBeGreaterThan(0);
    const b = await sender(cfg, 'instance-b').drain({ maxMs: 30 * 60_000 });
    expect(b.remaining).toBe(0);
    expect(a.sent + b.sent).toBe(190);

    for (const c of privates) expect(h.server.chatMessages(c).map((m) => m.text)).toEqual(Array.from({ length: 30 }, (_, i) => `p:${c} message ${i}`));
    expect(h.server.chatMessages(GROUP).map((m) => m.text)).toEqual(Array.from({ length: 100 }, (_, i) => `g message ${i}`));
    expect(h.server.count429()).toBe(0);
    assertWithinLimits(h.server.requests);
    // The group's backlog (20 a minute) did not hold the private chats back: they were done long before it.
    const lastPrivate = Math.max(...privates.map((c) => h.server.ok('sendMessage').filter((r) => r.chatId === c).at(-1)!.at));
    const lastGroup = h.server.ok('sendMessage').filter((r) => r.chatId === GROUP).at(-1)!.at;
    expect(lastPrivate - now).toBeLessThan(60_000);
    expect(lastGroup - now).toBeGreaterThanOrEqual(4 * 60_000);
  });
});
