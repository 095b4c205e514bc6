/**
 * The ML probability on trade alerts, end to end on real SOL/BTC/ETH candles (2025-06-22): a signal
 * carrying `ml` goes through the REAL execution function (the trading core decides, with config/ml
 * advisory or filter), its outcome carries the prediction in the signal's plan, and the REAL notifier
 * shows it on the alert: P(win) and the model version when taken, "filtered" with the core's reason
 * when the ML filter refused it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SUBSCRIBERS, subscriptionName } from '../../infra/bus/topology.js';
import { pubsubHandlerFor } from '../../infra/runtime/bind.js';
import { PUBSUB_FUNCTIONS } from '../../infra/runtime/registry.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { TOPICS } from '../../shared/topics.js';
import type { MlPrediction, OrderPlacedEvent, Signal, SignalRejectedEvent, TradeEvent } from '../../shared/model/trading.js';
import { loadCandles, makeHarness, MIN, OWNER, T0, type Harness, type HarnessOptions } from './helpers.js';

const HOUR = 60 * MIN;
const sol = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');
const btc = loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m');
/** The fixture's last twenty minutes (13:40-13:59); the harness clock stands at 14:00. */
const FROM = T0 + HOUR + 40 * MIN;
const LAST = T0 + HOUR + 59 * MIN;

let h: Harness | undefined;
let events: TradeEvent[];

afterEach(async () => {
  if (!h) return;
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
  h = undefined;
});

async function start(opts: HarnessOptions = {}): Promise<Harness> {
  const hh = await makeHarness(opts);
  h = hh;
  const fn = PUBSUB_FUNCTIONS.find((f) => f.name === 'execution')!;
  const execution = pubsubHandlerFor(hh.root, fn);
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    if (entries.some((e) => e.function === 'execution')) hh.bus.subscribe({ name: subscriptionName('execution', topic), topic, handler: execution });
  }
  events = [];
  hh.bus.subscribe({ name: 'tap--trade-events', topic: TOPICS.tradeEvents, handler: (e) => void events.push(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as TradeEvent) });
  for (let t = FROM; t <= LAST; t += MIN) {
    for (const series of [btc, sol]) {
      const c = series.find((x) => x.openTime === t)!;
      await hh.bus.publish(TOPICS.bybitCandles, { candles: [c] }, { orderingKey: c.symbol, attributes: { symbol: c.symbol } });
    }
    await hh.bus.drain();
  }
  return hh;
}

/** A SHORT on SOL at the close of 13:58 (real), TP -0.5 %, SL +0.3 %, with the model's prediction. */
function micro(ml: MlPrediction): Signal {
  const candleTime = LAST - MIN;
  const price = sol.find((c) => c.openTime === candleTime)!.close;
  return {
    signalId: `v52_divergence:SOLUSDT:${candleTime}`,
    strategy: 'v52_divergence',
    engine: 'SCALP',
    symbol: 'SOLUSDT',
    ts: candleTime + MIN,
    candleTime,
    decision: 'TAKE',
    direction: 'SHORT',
    price,
    reasons: ['RSI divergence'],
    features: {},
    ml,
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

async function signal(hh: Harness, s: Signal): Promise<void> {
  await hh.bus.publish(TOPICS.microSignals, s, { attributes: { dedupeId: s.signalId, symbol: s.symbol, strategy: s.strategy, direction: s.direction } });
  await hh.bus.drain();
}

const filterMode = { ...DEFAULT_STRATEGY_CONFIGS, ml: { ...DEFAULT_STRATEGY_CONFIGS.ml, mode: 'filter' as const } };
const captions = (hh: Harness) => hh.server.ok('sendPhoto').filter((r) => r.chatId === OWNER).map((r) => r.fields.caption ?? '');

describe('the ML probability on trade alerts', () => {
  it('advisory: the signal is taken, its outcome carries the prediction, the alert shows P(win) and the model', async () => {
    const hh = await start();
    const ml = { probability: 0.634, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1' };
    await signal(hh, micro(ml));
    const placed = events.filter((e): e is OrderPlacedEvent => e.type === 'order_placed');
    expect(placed).toHaveLength(1);
    expect(placed[0]!.signal?.ml).toEqual(ml);
    expect(captions(hh)).toHaveLength(1);
    expect(captions(hh)[0]).toContain('🤖 ML P(win) <b>0.63</b> · v52_divergence@4');
    expect(captions(hh)[0]).not.toContain('NOT TAKEN');
    expect(captions(hh)[0]).not.toContain('filtered');
  });

  it('filter mode, P(win) below minConfidence: NOT TAKEN by the ML filter, and the alert says so', async () => {
    const hh = await start({ strategies: filterMode });
    await signal(hh, micro({ probability: 0.41, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1' }));
    expect(events.filter((e) => e.type === 'order_placed')).toEqual([]);
    const rejected = events.filter((e): e is SignalRejectedEvent => e.type === 'signal_rejected');
    expect(rejected).toMatchObject([{ reason: 'ml_filter', signal: { ml: { probability: 0.41 } } }]);
    const c = captions(hh);
    expect(c).toHaveLength(1);
    expect(c[0]).toContain('🚫 <b>NOT TAKEN</b>: ML filter: P(win) below the minimum confidence');
    expect(c[0]).toContain('🤖 ML P(win) <b>0.41</b> · v52_divergence@4 · ⛔ filtered (filter mode)');
    expect(c[0]).toContain('&lt; 0.6 (config/ml minConfidence)');
  });

  it('filter mode, no prediction: refused ml_unavailable, the alert shows why', async () => {
    const hh = await start({ strategies: filterMode });
    await signal(hh, micro({ probability: null, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1', error: 'feature rsi is not finite' }));
    const rejected = events.filter((e): e is SignalRejectedEvent => e.type === 'signal_rejected');
    expect(rejected).toMatchObject([{ reason: 'ml_unavailable' }]);
    const c = captions(hh);
    expect(c[0]).toContain('🚫 <b>NOT TAKEN</b>: ML filter: the model could not predict');
    expect(c[0]).toContain('🤖 ML: no prediction (feature rsi is not finite) · v52_divergence@4 · ⛔ filtered (filter mode)');
  });
});
