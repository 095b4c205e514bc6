/**
 * The notifier against the local Bot API server, on real SOL/BTC/ETH candles (2025-06-22): an alert with
 * its chart PNG, the exit EDITS it (editMessageMedia with the WIN/LOSS chart), >= 3 signals of one
 * cycle go as one media group, forum topics per symbol, mutes, system alerts once per change, and the
 * heavy commands (/analyze, Chart button, /last, /equity) handed off through telegram-jobs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { TOPICS } from '../../shared/topics.js';
import { alertKeyOf } from '../../shared/telegram/keyboards.js';
import { groupIdOf } from '../../shared/trading/group-id.js';
import { OUTBOX_LOCK_DOC } from '../../shared/state-paths.js';
import type { Signal, StrategyId } from '../../shared/model/trading.js';
import { openedOutcome } from './outcomes.js';
import { callbackUpdate, loadCandles, makeHarness, MIN, OWNER, PNG_SIGNATURE, T0, textsTo, textUpdate, type Harness } from './helpers.js';
import type { Alert } from '../../shared/messages.js';
import { recentProtectionAlerts } from '../../shared/dashboard/alert-log.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const sol1m = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');
const at = (t: number) => sol1m.find((c) => c.openTime === t)!;

/** A SHORT on SOL at 12:00 (real close), TP -0.5 %, SL +0.3 %, with a reason carrying HTML specials. */
function solSignal(candleTime = T0, strategy: StrategyId = 'v52_divergence', symbol = 'SOLUSDT', price = at(T0).close): Signal {
  return {
    signalId: `${strategy}:${symbol}:${candleTime}`,
    strategy,
    engine: 'SCALP' as const,
    symbol,
    ts: candleTime + MIN,
    candleTime,
    decision: 'TAKE' as const,
    direction: 'SHORT' as const,
    price,
    reasons: ['RSI divergence <bearish> & volume spike x2.4'],
    features: {},
    tier: 'mid_cap' as const,
    entries: [price],
    stopLoss: price * 1.003,
    takeProfit: price * 0.995,
    trailingFraction: null,
    maxHoldMs: 3_600_000,
    confidence: 71,
    emit: true,
  };
}

async function publish(topic: string, payload: unknown): Promise<void> {
  await h.bus.publish(topic, payload);
  await h.bus.drain();
}

function photoOf(req: { files: Array<{ bytes: Buffer }> }): Buffer {
  const f = req.files[0];
  if (!f) throw new Error('no file part');
  return f.bytes;
}

describe('trade alerts', () => {
  it('sends the alert with its chart PNG, then EDITS it on fill and on exit', async () => {
    const s = solSignal();
    await publish(TOPICS.tradeEvents, openedOutcome(s));
    const photos = h.server.ok('sendPhoto').filter((r) => r.chatId === OWNER);
    expect(photos).toHaveLength(1);
    const p = photos[0]!;
    expect(p.fields.parse_mode).toBe('HTML');
    expect(p.fields.caption).toContain('<b>SHORT SOLUSDT</b> · v52_divergence (SCALP)');
    expect(p.fields.caption).toContain('RSI divergence &lt;bearish&gt; &amp; volume spike');
    expect(p.files[0]!.filename).toMatch(/^SOLUSDT-.*\.png$/);
    const png = photoOf(p);
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect((await sharp(png).metadata()).width).toBe(640);
    const kb = JSON.parse(p.fields.reply_markup!).inline_keyboard[0].map((b: { text: string }) => b.text);
    expect(kb).toEqual(['📈 Chart', '🎯 Move TP', '🔕 Mute SOL']);
    const alertMsg = h.server.chatMessages(OWNER).find((m) => m.photo)!;

    // A replayed outcome sends nothing new.
    await publish(TOPICS.tradeEvents, openedOutcome(s));
    expect(h.server.ok('sendPhoto')).toHaveLength(1);

    const groupId = groupIdOf(s.signalId);
    const base = { accountId: 'paper', groupId, signalId: s.signalId, symbol: 'SOLUSDT', strategy: 'v52_divergence', direction: 'SHORT' };
    const fill = at(T0 + MIN);
    await publish(TOPICS.tradeEvents, { ...base, type: 'entry_filled', eventId: `fill:${groupId}`, ts: T0 + 2 * MIN, orderId: `${groupId}:e0`, price: s.price, qty: 12.5, fee: 0.9, avgEntry: s.price, filledQty: 12.5 });
    const capEdit = h.server.ok('editMessageCaption');
    expect(capEdit).toHaveLength(1);
    expect(Number(capEdit[0]!.fields.message_id)).toBe(alertMsg.messageId);
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain('Opened');

    // Exit: SOL fell to the take profit on this day's real data.
    const exitCandle = sol1m.find((c) => c.openTime > fill.openTime && c.low <= s.takeProfit)!;
    expect(exitCandle).toBeDefined();
    const pnl = (s.price - s.takeProfit) * 12.5 - 1.8;
    const trade = {
      groupId, signalId: s.signalId, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'SOLUSDT', tier: 'mid_cap', direction: 'SHORT',
      entryTime: fill.openTime, exitTime: exitCandle.openTime + MIN, avgEntry: s.price, exitPrice: s.takeProfit, qty: 12.5, fees: 1.8,
      pnl, pnlPct: (pnl / (s.price * 12.5)) * 100, exitReason: 'take_profit', rows: [],
    };
    await publish(TOPICS.tradeEvents, { ...base, type: 'position_closed', eventId: `closed:${groupId}`, ts: trade.exitTime, trade });
    const media = h.server.ok('editMessageMedia');
    expect(media).toHaveLength(1);
    expect(Number(media[0]!.fields.message_id)).toBe(alertMsg.messageId);
    const edited = h.server.message(OWNER, alertMsg.messageId)!;
    expect(edited.caption).toContain('<b>WIN</b>');
    expect(edited.caption).toContain('take profit');
    expect(edited.photo!.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(edited.photo!.equals(png)).toBe(false);
    // No new message for the exit, and a replayed exit edits nothing again.
    expect(h.server.ok('sendPhoto')).toHaveLength(1);
    await publish(TOPICS.tradeEvents, { ...base, type: 'position_closed', eventId: `closed:${groupId}`, ts: trade.exitTime, trade });
    expect(h.server.ok('editMessageMedia')).toHaveLength(1);
    // A late "opened" edit cannot overwrite the closed alert.
    await publish(TOPICS.tradeEvents, { ...base, type: 'entry_filled', eventId: `fill2:${groupId}`, ts: T0 + 3 * MIN, orderId: `${groupId}:e1`, price: s.price, qty: 1, fee: 0.1, avgEntry: s.price, filledQty: 13.5 });
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain('<b>WIN</b>');

    // /last shows the trade with a chart and its badge (heavy: handed off through telegram-jobs).
    await h.deliver(textUpdate(OWNER, '/last 5'));
    const last = h.server.ok('sendPhoto').at(-1)!;
    expect(last.fields.caption).toContain('🏆 <b>WIN</b>');
    expect(photoOf(last).subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });

  it('sends three or more signals of one cycle as one media group', async () => {
    const signals = [
      solSignal(T0, 'v52_divergence', 'SOLUSDT', at(T0).close),
      solSignal(T0, 'levels_exhaustion', 'SOLUSDT', at(T0).close),
      solSignal(T0, 'v52_divergence', 'BTCUSDT', loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m').find((c) => c.openTime === T0)!.close),
      solSignal(T0, 'v52_divergence', 'ETHUSDT', loadCandles('ETHUSDT_1m_2025-06-22T1000_1400.csv', 'ETHUSDT', '1m').find((c) => c.openTime === T0)!.close),
    ];
    // Another notifier instance is draining (holds the outbox lease) while the cycle's signals arrive:
    // they all queue (held for gatherMs), then the next drain run sends them together.
    await h.state.set(OUTBOX_LOCK_DOC, { holder: 'other-instance', leaseUntil: h.clock.now() + 60_000, limiter: null });
    await Promise.all(signals.map((s) => h.bus.publish(TOPICS.tradeEvents, openedOutcome(s))));
    await h.bus.drain();
    expect(h.server.requests).toHaveLength(0);
    await h.state.set(OUTBOX_LOCK_DOC, { holder: 'other-instance', leaseUntil: 0, limiter: null });
    await publish(TOPICS.telegramJobs, { kind: 'drain' });
    const albums = h.server.ok('sendMediaGroup').filter((r) => r.chatId === OWNER);
    expect(albums).toHaveLength(1);
    const media = JSON.parse(albums[0]!.fields.media!) as Array<{ type: string; media: string; caption: string; parse_mode: string }>;
    expect(media).toHaveLength(4);
    expect(albums[0]!.files).toHaveLength(4);
    for (const m of media) {
      expect(m.type).toBe('photo');
      expect(m.media).toMatch(/^attach:\/\//);
      expect(m.parse_mode).toBe('HTML');
    }
    expect(media.map((m) => /<b>SHORT (\w+)<\/b>/.exec(m.caption)![1]).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'SOLUSDT']);
    expect(h.server.ok('sendPhoto')).toHaveLength(0);
    // Each album item is an alert of its own: its exit edits that item's caption.
    const s = signals[2]!;
    const groupId = groupIdOf(s.signalId);
    await publish(TOPICS.tradeEvents, { accountId: 'paper', groupId, signalId: s.signalId, symbol: s.symbol, strategy: s.strategy, direction: 'SHORT', type: 'entry_timeout', eventId: `to:${groupId}`, ts: T0 + 6 * MIN, cancelledOrderIds: [], positionRemains: false });
    const edit = h.server.ok('editMessageCaption').at(-1)!;
    expect(h.server.message(OWNER, Number(edit.fields.message_id))!.caption).toContain('BTCUSDT');
    expect(h.server.message(OWNER, Number(edit.fields.message_id))!.caption).toContain('Cancelled');
  });

  it('posts into one forum topic per symbol and honours mutes per chat and symbol', async () => {
    const forum = { id: -100555, type: 'supergroup' as const, title: 'Signals', is_forum: true };
    h.server.setForum(forum.id);
    await h.deliver(textUpdate(OWNER, '/allowgroup', forum));
    await h.deliver(textUpdate(OWNER, '/mute SOL 6h'));
    await publish(TOPICS.tradeEvents, openedOutcome(solSignal(T0)));
    await publish(TOPICS.tradeEvents, openedOutcome(solSignal(T0 + 5 * MIN)));
    const topics = h.server.ok('createForumTopic');
    expect(topics).toHaveLength(1);
    expect(topics[0]!.fields.name).toBe('SOLUSDT');
    const inForum = h.server.ok('sendPhoto').filter((r) => r.chatId === forum.id);
    expect(inForum).toHaveLength(2);
    expect(new Set(inForum.map((r) => r.fields.message_thread_id))).toEqual(new Set(['50']));
    // The owner muted SOL in the private chat: nothing there.
    expect(h.server.ok('sendPhoto').filter((r) => r.chatId === OWNER)).toHaveLength(0);
    // The Mute button mutes the forum group too.
    const msg = h.server.chatMessages(forum.id).find((m) => m.photo)!;
    await h.deliver(callbackUpdate(OWNER, 'mu:SOLUSDT', forum.id, msg.messageId));
    await publish(TOPICS.tradeEvents, openedOutcome(solSignal(T0 + 10 * MIN)));
    expect(h.server.ok('sendPhoto').filter((r) => r.chatId === forum.id)).toHaveLength(2);
  });
});

describe('system alerts', () => {
  const alert = (over: Partial<Alert>): Alert => ({ alertId: 'a1', kind: 'data_stale', severity: 'warning', subject: 'SOLUSDT', message: 'no candle for 10 min <stale>', ts: T0, ...over });

  it('sends PANIC / strategy disabled / data stale once per change', async () => {
    await publish(TOPICS.alerts, alert({ alertId: 'stale-1' }));
    await publish(TOPICS.alerts, alert({ alertId: 'stale-1' }));
    await publish(TOPICS.alerts, alert({ alertId: 'stale-2', message: 'still stale' }));
    await publish(TOPICS.alerts, alert({ alertId: 'fresh-1', kind: 'data_fresh', severity: 'info', message: 'data back' }));
    await publish(TOPICS.alerts, alert({ alertId: 'stale-3', message: 'stale again' }));
    await publish(TOPICS.alerts, alert({ alertId: 'panic:market:1', kind: 'protection_changed', severity: 'critical', subject: 'market', message: 'Regime PANIC: BTC -5.4 % in 1h, new trades halted' }));
    await publish(TOPICS.alerts, alert({ alertId: 'chan-off', kind: 'protection_changed', severity: 'warning', subject: 'CHANNEL:SOLUSDT', message: 'CHANNEL disabled on SOLUSDT: 24h volatility 8.4 %' }));
    const texts = textsTo(h.server, OWNER);
    expect(texts).toHaveLength(5);
    expect(texts[0]).toContain('DATA STALE');
    expect(texts[0]).toContain('&lt;stale&gt;');
    expect(texts[1]).toContain('DATA FRESH');
    expect(texts[2]).toContain('stale again');
    expect(texts[3]).toContain('🚨');
    expect(texts[3]).toContain('PANIC');
    expect(texts[4]).toContain('CHANNEL disabled');
    // The dashboard's Market page lists the protection alerts (and only those), newest first.
    const kept = await recentProtectionAlerts(h.state, 10);
    expect(kept.map((k) => k.alertId).sort()).toEqual(['chan-off', 'panic:market:1']);
  });
});

describe('hand-off commands', () => {
  it('/analyze SOL answers with a card and a chart; the Chart button renders the large chart', async () => {
    await h.deliver(textUpdate(OWNER, '/analyze sol'));
    const card = h.server.ok('sendPhoto').at(-1)!;
    expect(card.fields.caption).toContain('<b>SOLUSDT</b>');
    expect(card.fields.caption).toMatch(/RSI14 \d+\.\d/);
    expect(card.fields.caption).toMatch(/Support [\d.]+|Support: none found/);
    expect(card.fields.caption).toContain('Macro bias: none yet');
    expect((await sharp(photoOf(card)).metadata()).width).toBeGreaterThan(640);

    await publish(TOPICS.tradeEvents, openedOutcome(solSignal()));
    const alertMsg = h.server.chatMessages(OWNER).filter((m) => m.photo).at(-1)!;
    const ak = alertKeyOf(groupIdOf(solSignal().signalId));
    await h.deliver(callbackUpdate(OWNER, `ch:${ak}`, OWNER, alertMsg.messageId));
    expect(h.server.ok('answerCallbackQuery').at(-1)!.fields.text).toContain('Rendering');
    const big = h.server.ok('sendPhoto').at(-1)!;
    expect(big.fields.caption).toContain('SHORT SOLUSDT');
    expect((await sharp(photoOf(big)).metadata()).width).toBeGreaterThan(640);

    // Move TP (owner): menu, then a step; the command goes to trade-commands.
    await h.deliver(callbackUpdate(OWNER, `tp:${ak}`, OWNER, alertMsg.messageId));
    expect(textsTo(h.server, OWNER).at(-1)).toContain('Move TP of SHORT SOLUSDT');
    await h.deliver(callbackUpdate(OWNER, `tpx:${ak}:1`, OWNER, alertMsg.messageId));
    const s = solSignal();
    expect(h.commands.at(-1)).toEqual(expect.objectContaining({ type: 'move_tp', symbol: 'SOLUSDT' }));
    const moved = (h.commands.at(-1) as { takeProfit: number }).takeProfit;
    expect(moved).toBeCloseTo(s.takeProfit - 0.0025 * s.price, 9);
  });

  it('/equity renders the equity PNG; /positions pages with buttons', async () => {
    await h.deliver(textUpdate(OWNER, '/equity 7d'));
    const eq = h.server.ok('sendPhoto').at(-1)!;
    expect(eq.fields.caption).toContain('Equity 7d');
    expect(photoOf(eq).subarray(0, 8)).toEqual(PNG_SIGNATURE);
    await h.deliver(textUpdate(OWNER, '/positions'));
    const pos = h.server.chatMessages(OWNER).at(-1)!;
    expect(pos.text).toContain('No open positions');
    await h.deliver(callbackUpdate(OWNER, 'rf:pos:0', OWNER, pos.messageId));
    // Same content: Telegram says "not modified", which counts as done (no retry loop, no error).
    expect(h.server.calls('editMessageText').at(-1)!.error).toContain('not modified');
    expect(h.server.ok('answerCallbackQuery').at(-1)!.fields.text).toBe('Refreshed');
  });
});
