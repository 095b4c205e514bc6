/**
 * The message catalog (shared/messages.ts): every topic has its one schema; the typed `publish`
 * refuses an invalid payload before anything leaves (and sends only what the schema declares);
 * `decodeMessage` dead-letters an unknown topic or an invalid payload with the reason; and the payloads
 * the real producers build (from the recorded Bybit stream, real candles, the trading core, the MACRO
 * setups, the alert builders) pass their topic's schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertAttributes, liveIssueAlert, protectionAlert } from '../../shared/alerts.js';
import { DEFAULT_MACRO_CONFIG, DEFAULT_PROTECTIONS_CONFIG } from '../../shared/config/strategy.js';
import { OrderBook } from '../../shared/market/bybit/orderbook.js';
import { decodeTrades } from '../../shared/market/bybit/messages.js';
import type { Trade } from '../../shared/model/market.js';
import { decodeMessage, MESSAGE_SCHEMAS, publish, type MessageOf, type RawDelivery } from '../../shared/messages.js';
import { PermanentError, type Bus, type PublishOptions } from '../../shared/ports/bus.js';
import { checkEquity } from '../../shared/protection/guards.js';
import { createProtectionState, type ProtectionEvent } from '../../shared/protection/model.js';
import { computeBias } from '../../shared/strategies/macro/bias.js';
import { evaluateDcaAt, isSwingSignal, prepareSwing } from '../../shared/strategies/macro/swing.js';
import { ALL_TOPICS, TOPICS, type TopicName } from '../../shared/topics.js';
import { applyCandle, applySignal, createTradingState, type TradingEvent } from '../../shared/trading/core.js';
import type { LiveEvent } from '../../shared/trading/live/ledger.js';
import type { TradeEvent } from '../../shared/model/trading.js';
import { fixtureCandles } from './helpers.js';
import { cols, FILES, ts } from '../macro/helpers.js';
import { defaultCfg, MIN, realBtc1m, signal } from '../trading/helpers.js';

interface Sent {
  topic: string;
  data: unknown;
  opts: PublishOptions | undefined;
}

/** A bus that records what is published. */
function recordingBus(): { bus: Bus; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    bus: {
      publish: async (topic, data, opts) => {
        sent.push({ topic, data, opts });
        return String(sent.length);
      },
      close: async () => undefined,
    },
  };
}

function delivery(topic: string, json: unknown): RawDelivery {
  return { topic, json, messageId: 'm1', publishTime: '2025-06-01T00:00:00.000Z', attributes: {}, deliveryAttempt: 1 };
}

const BYBIT = join(import.meta.dirname, '..', 'fixtures', 'bybit');
function recorded(file: string): Array<Record<string, unknown>> {
  return readFileSync(join(BYBIT, file), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { msg: Record<string, unknown> }).msg);
}

// ---------- real payloads, built by the producers' own code ----------

/** One second of recorded BTCUSDT trades, as the tick batcher sends them. */
function tickBatch(): MessageOf<typeof TOPICS.rawTicks> {
  const trades: Trade[] = [];
  for (const m of recorded('linear_publicTrade.jsonl').filter((x) => x.topic === 'publicTrade.BTCUSDT')) decodeTrades(m.data, 'BTCUSDT', trades, []);
  const first = trades.filter((t) => t.ts < trades[0]!.ts + 1000);
  return { symbol: 'BTCUSDT', fromTs: first[0]!.ts, toTs: first[first.length - 1]!.ts, trades: first };
}

/** A snapshot: the forming 1m candle and the features of the recorded order book. */
function snapshot(): MessageOf<typeof TOPICS.snapshots> {
  const book = new OrderBook('BTCUSDT');
  const m = recorded('linear_orderbook200.jsonl').find((x) => x.topic === 'orderbook.200.BTCUSDT' && x.type === 'snapshot')!;
  expect(book.apply(m.type, m.data, m.ts as number)).toBe('ok');
  const forming = fixtureCandles('BTCUSDT')[0]!;
  return { symbol: 'BTCUSDT', ts: forming.openTime + 15_000, forming, book: book.features(20) };
}

/** A real DCA TAKE on Kraken XBTUSD (2023-01-14 01:40, test/macro/swing.test.ts): a SwingSignal with its grid weights. */
function swingSignal() {
  const c5 = cols(FILES.btc5mJan, '5m');
  const d = evaluateDcaAt(prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c5 }), c5.openTime.indexOf(ts('2023-01-14T01:40:00Z')), { symbol: 'BTCUSDT', tier: 'large_cap', regime: 'NORMAL' });
  if (!isSwingSignal(d)) throw new Error(`expected a TAKE: ${d.reasons.join(' | ')}`);
  return d;
}

/** Every trade event the core emits for a scalp on real BTCUSDT candles, from the order to the close. */
function tradeEvents(): TradeEvent[] {
  const cfg = defaultCfg();
  const candles = realBtc1m().slice(0, 240);
  const at = candles[5]!;
  const now = at.openTime + MIN;
  const s = signal({ ts: now, symbol: 'BTCUSDT', entries: [at.close], price: at.close, stopLoss: at.close * 0.999, takeProfit: at.close * 1.001 });
  const events: TradingEvent[] = [];
  const r = applySignal(createTradingState('paper', cfg, now - MIN), s, null, cfg, now);
  let state = r.state;
  events.push(...r.events);
  for (const c of candles.slice(6)) {
    const x = applyCandle(state, c, null, cfg, c.openTime + MIN);
    state = x.state;
    events.push(...x.events);
    if (state.account.positions.length === 0) break;
  }
  return events.filter((e): e is TradeEvent => e.type !== 'protection');
}

function protectionEvents(): ProtectionEvent[] {
  const out: ProtectionEvent[] = [];
  let p = createProtectionState(Date.UTC(2025, 5, 11, 0, 0, 1), 10_000);
  p = checkEquity(p, 10_500, Date.UTC(2025, 5, 11, 0, 0, 2), DEFAULT_PROTECTIONS_CONFIG.accountGuards, out);
  checkEquity(p, 10_000, Date.UTC(2025, 5, 11, 0, 0, 3), DEFAULT_PROTECTIONS_CONFIG.accountGuards, out);
  return out;
}

const liveIssue: LiveEvent = {
  type: 'live_order_issue',
  eventId: 'live:tg:x:1',
  accountId: 'paper',
  ts: Date.UTC(2025, 5, 11, 12),
  groupId: 'tg:v52_divergence:BTCUSDT:1',
  signalId: 'v52_divergence:BTCUSDT:1',
  symbol: 'BTCUSDT',
  strategy: 'v52_divergence',
  direction: 'LONG',
  leg: 'entry',
  clientOrderId: 'c1',
  issue: 'order_rejected',
  action: 'gave_up',
  detail: 'insufficient balance',
} as unknown as LiveEvent;

describe('the message catalog', () => {
  it('has one schema for every topic in TOPICS, and nothing else', () => {
    expect(Object.keys(MESSAGE_SCHEMAS).sort()).toEqual([...ALL_TOPICS].sort());
    for (const t of ALL_TOPICS) expect(MESSAGE_SCHEMAS[t as TopicName]).toBeDefined();
  });

  it('the two signal topics carry the one Signal schema', () => {
    expect(MESSAGE_SCHEMAS[TOPICS.swingSignals]).toBe(MESSAGE_SCHEMAS[TOPICS.microSignals]);
  });

  it("accepts the producers' real payloads of every kind", () => {
    const cases: Array<[TopicName, unknown]> = [
      [TOPICS.rawTicks, tickBatch()],
      [TOPICS.bybitCandles, { candles: fixtureCandles('BTCUSDT').slice(0, 3) }],
      [TOPICS.krakenOhlc, { candles: fixtureCandles('ETHUSDT').slice(0, 2).map((c) => ({ ...c, venue: 'kraken', interval: '1m' })) }],
      [TOPICS.snapshots, snapshot()],
      [TOPICS.macroBias, { ...computeBias(DEFAULT_MACRO_CONFIG, 'BTCUSDT', { '5m': cols(FILES.btc5mJan, '5m') }, ts('2023-01-14T02:00:00Z')), slotStart: ts('2023-01-14T02:00:00Z'), dedupeId: 'macro-bias:BTCUSDT:1' }],
      [TOPICS.microSignals, signal({ ts: Date.UTC(2025, 5, 11, 12) })],
      [TOPICS.swingSignals, swingSignal()],
      [TOPICS.tradeCommands, { type: 'move_tp', commandId: 'tg:7', actorId: '42', ts: Date.UTC(2025, 5, 11, 12), groupId: 'tg:x', symbol: 'BTCUSDT', takeProfit: 101 }],
      [TOPICS.alerts, liveIssueAlert(liveIssue)],
      [TOPICS.telegramJobs, { kind: 'chart', chatId: 1, threadId: null, requestKey: 'u5', alertKey: 'a1' }],
      ...protectionEvents().map((e): [TopicName, unknown] => [TOPICS.alerts, protectionAlert(e)]),
      ...tradeEvents().map((e): [TopicName, unknown] => [TOPICS.tradeEvents, JSON.parse(JSON.stringify(e))]),
    ];
    for (const [topic, payload] of cases) {
      const r = MESSAGE_SCHEMAS[topic].safeParse(payload);
      expect(r.success, `${topic}: ${r.error?.message}`).toBe(true);
    }
  });

  it('validates every trade event the core emits from an order to its close', () => {
    const events = tradeEvents();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['order_placed', 'entry_filled', 'exit_filled', 'position_closed']));
    for (const e of events) expect(decodeMessage(delivery(TOPICS.tradeEvents, JSON.parse(JSON.stringify(e)))).payload).toEqual(e);
  });
});

describe('publish (typed, validated at the producer)', () => {
  it('publishes a valid payload with its options', async () => {
    const { bus, sent } = recordingBus();
    const alert = protectionEvents().map(protectionAlert)[0]!;
    await publish(bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
    expect(sent).toEqual([{ topic: TOPICS.alerts, data: alert, opts: { attributes: { kind: 'protection_changed', severity: alert.severity, dedupeId: alert.alertId } } }]);
  });

  it('refuses an invalid payload, naming the topic and the field, and publishes nothing', async () => {
    const { bus, sent } = recordingBus();
    const bad = { ...signal({ ts: Date.UTC(2025, 5, 11, 12) }), entries: [], stopLoss: -1 };
    await expect(publish(bus, TOPICS.microSignals, bad)).rejects.toThrow(/refusing to publish an invalid trade-signals-micro message: entries: .*stopLoss/);
    await expect(publish(bus, TOPICS.tradeEvents, { type: 'order_placed', eventId: 'e1' } as unknown as TradeEvent)).rejects.toThrow(/invalid trade-events message/);
    expect(sent).toEqual([]);
  });

  it('sends the Signal a swing TAKE is, without the fields the catalog does not declare (the grid weights)', async () => {
    const { bus, sent } = recordingBus();
    const s = swingSignal();
    expect(s.entryWeights.length).toBeGreaterThan(1);
    await publish(bus, TOPICS.swingSignals, s);
    const { entryWeights: _w, ...asSignal } = s;
    expect(sent[0]!.data).toEqual(asSignal);
    expect(sent[0]!.data).not.toHaveProperty('entryWeights');
  });
});

describe('decodeMessage (the consumer edge)', () => {
  it('returns the validated payload with the delivery facts', () => {
    const jobs = { kind: 'drain' };
    expect(decodeMessage({ ...delivery(TOPICS.telegramJobs, jobs), deliveryAttempt: 3 })).toEqual({ topic: TOPICS.telegramJobs, payload: jobs, messageId: 'm1', publishTime: '2025-06-01T00:00:00.000Z', attributes: {}, deliveryAttempt: 3 });
  });

  it('dead-letters a message from a topic without a schema (PermanentError, with the topic)', () => {
    const call = () => decodeMessage(delivery('no-such-topic', { kind: 'drain' }));
    expect(call).toThrow(PermanentError);
    expect(call).toThrow("no message schema for topic 'no-such-topic'");
  });

  it('dead-letters an invalid payload (PermanentError, with the topic and the reason)', () => {
    const call = () => decodeMessage(delivery(TOPICS.bybitCandles, { candles: [{ ...fixtureCandles('BTCUSDT')[0]!, high: 1 }] }));
    expect(call).toThrow(PermanentError);
    expect(call).toThrow(/payload failed validation for candles-bybit-1m: candles\.0: OHLC out of order/);
    expect(() => decodeMessage(delivery(TOPICS.swingSignals, { ...swingSignal(), engine: 'SPOT' }))).toThrow(/trade-signals-swing: engine/);
  });
});
