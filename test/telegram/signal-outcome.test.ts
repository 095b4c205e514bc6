/**
 * One road from a signal to Telegram, end to end on real SOL/BTC/ETH candles (2025-06-22): the REAL
 * execution function and the REAL notifier subscribed on one bus exactly as the topology says, the
 * local Bot API server, the owner's /pause through the real webhook. A signal reaches Telegram only
 * as its outcome on trade-events, so every signal gets exactly ONE alert that says what happened to
 * it: opened, NOT TAKEN with the core's reason, or (config `alerts.signalOnly`) the signal only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SUBSCRIBERS, subscriptionName } from '../../infra/bus/topology.js';
import { buildPubsubCloudEvent, encodePayload } from '../../infra/bus/envelope.js';
import { pubsubHandlerFor } from '../../infra/runtime/bind.js';
import { PUBSUB_FUNCTIONS } from '../../infra/runtime/registry.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { PermanentError } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import type { Signal, OrderPlacedEvent, SignalRejectedEvent, TradeEvent } from '../../shared/model/trading.js';
import { loadCandles, makeHarness, MIN, notifierTopics, OWNER, T0, textUpdate, type Harness, type HarnessOptions } from './helpers.js';

const HOUR = 60 * MIN;
const sol = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');
const btc = loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m');
const eth = loadCandles('ETHUSDT_1m_2025-06-22T1000_1400.csv', 'ETHUSDT', '1m');
/** The fixture's last twenty minutes (13:40-13:59); the harness clock stands at 14:00. */
const FROM = T0 + HOUR + 40 * MIN;
const LAST = T0 + HOUR + 59 * MIN;

let h: Harness;
let started = false;
const fn = (name: string) => PUBSUB_FUNCTIONS.find((f) => f.name === name)!;
let events: TradeEvent[];

afterEach(async () => {
  if (!started) return;
  started = false;
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
});

/** The Telegram harness plus the execution function on its bus, subscribed per the topology. */
async function start(opts: HarnessOptions = {}): Promise<void> {
  h = await makeHarness(opts);
  started = true;
  const execution = pubsubHandlerFor(h.root, fn('execution'));
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    if (entries.some((e) => e.function === 'execution')) h.bus.subscribe({ name: subscriptionName('execution', topic), topic, handler: execution });
  }
  events = [];
  h.bus.subscribe({ name: 'tap--trade-events', topic: TOPICS.tradeEvents, handler: (e) => void events.push(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as TradeEvent) });
  // the execution applies the closed candles (the regime reference BTC, and the signals' symbols)
  for (let t = FROM; t <= LAST; t += MIN) {
    for (const series of [btc, sol, eth]) {
      const c = series.find((x) => x.openTime === t)!;
      await h.bus.publish(TOPICS.bybitCandles, { candles: [c] }, { orderingKey: c.symbol, attributes: { symbol: c.symbol } });
    }
    await h.bus.drain();
  }
}

/** A micro signal as micro-scalp publishes it: a SHORT at the close of `candleTime`, TP -0.5 %, SL +0.3 %. */
function micro(symbol: 'SOLUSDT' | 'ETHUSDT', candleTime: number): Signal {
  const price = (symbol === 'SOLUSDT' ? sol : eth).find((c) => c.openTime === candleTime)!.close;
  return {
    signalId: `v52_divergence:${symbol}:${candleTime}`,
    strategy: 'v52_divergence',
    engine: 'SCALP',
    symbol,
    ts: candleTime + MIN,
    candleTime,
    decision: 'TAKE',
    direction: 'SHORT',
    price,
    reasons: ['RSI divergence <bearish>'],
    features: {},
    tier: 'large_cap',
    entries: [price],
    stopLoss: price * 1.003,
    takeProfit: price * 0.995,
    trailingFraction: null,
    maxHoldMs: HOUR,
    confidence: 71,
    emit: true,
  };
}

async function signal(s: Signal): Promise<void> {
  await h.bus.publish(TOPICS.microSignals, s, { attributes: { dedupeId: s.signalId, symbol: s.symbol, strategy: s.strategy, direction: s.direction } });
  await h.bus.drain();
}

const photos = () => h.server.ok('sendPhoto').filter((r) => r.chatId === OWNER);
const buttons = (r: { fields: Record<string, string> }) => (JSON.parse(r.fields.reply_markup!) as { inline_keyboard: Array<Array<{ text: string }>> }).inline_keyboard[0]!.map((b) => b.text);
/** The outcome events of a signal (every copy: a redelivery publishes the same event again). */
const outcomes = (s: Signal) => events.filter((e) => e.signalId === s.signalId && (e.type === 'order_placed' || e.type === 'signal_rejected'));

describe('a signal reaches Telegram on one road: its outcome', () => {
  it('the notifier is not subscribed to the signal topics: only the execution reads them', () => {
    expect(SUBSCRIBERS[TOPICS.microSignals].map((e) => e.function)).toEqual(['execution']);
    expect(SUBSCRIBERS[TOPICS.swingSignals].map((e) => e.function)).toEqual(['execution']);
    expect(notifierTopics()).toContain(TOPICS.tradeEvents);
    expect(notifierTopics()).not.toContain(TOPICS.microSignals);
    expect(notifierTopics()).not.toContain(TOPICS.swingSignals);
  });

  it('a raw signal is no notifier input (dead-lettered if one ever arrived)', async () => {
    await start();
    const onSignals = buildPubsubCloudEvent({
      projectId: 'p',
      topic: TOPICS.microSignals,
      subscription: `notifier--${TOPICS.microSignals}`,
      data: encodePayload(micro('SOLUSDT', LAST - MIN)),
      messageId: 'raw-signal-1',
      publishTime: new Date(h.clock.now()).toISOString(),
    });
    await expect(pubsubHandlerFor(h.root, fn('notifier'))(onSignals)).rejects.toBeInstanceOf(PermanentError);
  });

  it('an accepted signal: ONE order_placed carrying the plan, ONE trade alert; a redelivery sends nothing more', async () => {
    await start();
    const s = micro('SOLUSDT', LAST - MIN);
    await signal(s);
    const [opened] = outcomes(s) as OrderPlacedEvent[];
    expect(outcomes(s).map((e) => e.type)).toEqual(['order_placed']);
    expect(opened!.signal).toEqual({ engine: 'SCALP', ts: s.ts, candleTime: s.candleTime, price: s.price, entries: s.entries, stopLoss: s.stopLoss, takeProfit: s.takeProfit, confidence: 71, reasons: s.reasons });
    expect(photos()).toHaveLength(1);
    const alert = photos()[0]!;
    expect(alert.fields.caption).toContain('<b>SHORT SOLUSDT</b> · v52_divergence (SCALP)');
    expect(alert.fields.caption).toContain('RSI divergence &lt;bearish&gt;');
    expect(alert.fields.caption).not.toContain('NOT TAKEN');
    expect(alert.fields.caption).not.toContain('Signal only');
    expect(buttons(alert)).toEqual(['📈 Chart', '🎯 Move TP', '🔕 Mute SOL']);

    await signal(s);
    expect(new Set(outcomes(s).map((e) => e.eventId)).size).toBe(1);
    expect(h.server.ok('sendPhoto')).toHaveLength(1);
    expect(h.server.ok('sendMediaGroup')).toHaveLength(0);
  });

  it('a rejected signal (the owner paused): ONE signal_rejected with the reason, ONE alert marked NOT TAKEN, no trade alert', async () => {
    await start();
    await h.deliver(textUpdate(OWNER, '/pause'));
    const s = micro('SOLUSDT', LAST - MIN);
    await signal(s);
    expect(events.filter((e) => e.type === 'order_placed')).toEqual([]);
    const [rejected] = outcomes(s) as SignalRejectedEvent[];
    expect(outcomes(s)).toHaveLength(1);
    expect(rejected).toMatchObject({ type: 'signal_rejected', eventId: `tg:${s.signalId}:rejected`, groupId: `tg:${s.signalId}`, reason: 'owner_paused', symbol: 'SOLUSDT', direction: 'SHORT' });
    expect(rejected!.detail).toMatch(/owner paused new trades/);
    expect(rejected!.signal).toMatchObject({ entries: s.entries, stopLoss: s.stopLoss, takeProfit: s.takeProfit });
    expect(photos()).toHaveLength(1);
    const alert = photos()[0]!;
    expect(alert.fields.caption).toContain('<b>SHORT SOLUSDT</b>');
    expect(alert.fields.caption).toContain('🚫 <b>NOT TAKEN</b>: trading paused by the owner');
    expect(alert.fields.caption).toContain('owner paused new trades');
    // nothing to manage: no Move TP on a trade that does not exist
    expect(buttons(alert)).toEqual(['📈 Chart', '🔕 Mute SOL']);

    await signal(s);
    expect(new Set(outcomes(s).map((e) => e.eventId)).size).toBe(1);
    expect(photos()).toHaveLength(1);
  });

  it('signal-only (config/telegram alerts.signalOnly): one alert per signal, the plan without trade wording, opened or not', async () => {
    await start({ tg: { alerts: { ...DEFAULT_TELEGRAM_CONFIG.alerts, signalOnly: true } } });
    const taken = micro('SOLUSDT', LAST - MIN);
    // 10 minutes old at 14:00: the core rejects it stale_signal
    const stale = micro('ETHUSDT', LAST - 10 * MIN);
    await signal(taken);
    await signal(stale);
    expect(outcomes(taken).map((e) => e.type)).toEqual(['order_placed']);
    expect(outcomes(stale)).toMatchObject([{ type: 'signal_rejected', reason: 'stale_signal' }]);
    expect(photos()).toHaveLength(2);
    for (const p of photos()) {
      expect(p.fields.caption).toContain('📡 <b>Signal only</b>');
      expect(p.fields.caption).toMatch(/Entry <code>[\d.]+<\/code> · TP <code>[\d.]+<\/code> \([^)]+\) · SL <code>[\d.]+<\/code>/);
      expect(p.fields.caption).not.toMatch(/NOT TAKEN|Opened|WIN|LOSS|Cancelled/);
      expect(buttons(p)).not.toContain('🎯 Move TP');
    }
    expect(photos().map((p) => /<b>SHORT (\w+)<\/b>/.exec(p.fields.caption!)![1]).sort()).toEqual(['ETHUSDT', 'SOLUSDT']);
  });
});
