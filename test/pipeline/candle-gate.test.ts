/**
 * The candle gate at every consumer (issue 8), end to end on the in-process bus with the REAL
 * functions subscribed to `candles-bybit-1m` exactly as the topology says (candle-ingest: hot window in
 * SQLite state + DuckDB `ohlcv`; micro-scalp; execution: the trading core), REAL BTCUSDT 1m candles of
 * 2025-06-11 (test/fixtures/trading), and hostile candles derived from them:
 * - each hostile candle (1e300, NaN as a buggy producer's raw JSON, negative, high < low, a month in
 *   the future, an unknown symbol, an altered old candle, a lone 60 % spike) is dead-lettered by every
 *   consumer with its reason (kept in the bus's dead-letter record with the payload); no trade event,
 *   no change of the hot window, the warehouse or the trading document (watermarks);
 *   afterwards the hot window and the warehouse hold exactly the same candles;
 * - a lasting -55 % step published through the REAL candle publisher (the producer's bad-data flag):
 *   the two first step candles are held back (suspect), yet the open LONG is stopped out on the first
 *   (a stop is never silent); the third consistent candle re-anchors the sanity reference and the
 *   market goes on being stored and traded at its new level.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InMemoryBus } from '../../infra/bus/memory.js';
import { SUBSCRIBERS, subscriptionName } from '../../infra/bus/topology.js';
import { pubsubHandlerFor } from '../../infra/runtime/bind.js';
import { PUBSUB_FUNCTIONS } from '../../infra/runtime/registry.js';
import type { Root } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger } from '../../shared/log.js';
import { CandlePublisher } from '../../shared/market/bybit/candle-publisher.js';
import type { GateDoc } from '../../shared/market/candle-gate.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { candleKey, type Candle } from '../../shared/model/market.js';
import { TOPICS } from '../../shared/topics.js';
import type { PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { barsCollection, gateDocPath, tradingDocPath } from '../../shared/state-paths.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { realBtc1m, signal } from '../trading/helpers.js';
import { testRoot } from '../root.js';
import type { Alert } from '../../shared/messages.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:05') && c.openTime <= at('13:30'));
const between = (a: string, b: string) => BTC.filter((c) => c.openTime >= at(a) && c.openTime < at(b));
const real = (hhmm: string) => BTC.find((c) => c.openTime === at(hhmm)) as Candle;
/** A micro signal at the close of the 12:17 candle: LONG 109100 (fills at 12:22), stop 108800, take profit out of reach. */
const LONG = signal({ signalId: 'v52_divergence:BTCUSDT:gate-1', ts: at('12:18'), entries: [109100], stopLoss: 108800, takeProfit: 111000, maxHoldMs: 180 * MIN });
const GROUP = 'tg:v52_divergence:BTCUSDT:gate-1';

const CONSUMERS = PUBSUB_FUNCTIONS.filter((f) => ['candle-ingest', 'micro-scalp', 'execution'].includes(f.name));
const CANDLE_SUBS = SUBSCRIBERS[TOPICS.bybitCandles].map((e) => subscriptionName(e.function, TOPICS.bybitCandles));
const decode = (data: string) => JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;

let root: Root;
let clock: ManualClock;
let state: SqliteStateStore;
let warehouse: DuckDbWarehouse;
let bus: InMemoryBus;
let events: TradeEvent[];
let alerts: Alert[];

beforeEach(async () => {
  ({ root, clock, state, warehouse, bus } = await testRoot({ start: at('12:05') }));
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    for (const e of entries) {
      const fn = CONSUMERS.find((f) => f.name === e.function);
      if (fn && (topic === TOPICS.bybitCandles || (e.function === 'execution' && topic === TOPICS.microSignals))) {
        bus.subscribe({ name: subscriptionName(e.function, topic), topic, handler: pubsubHandlerFor(root, fn) });
      }
    }
  }
  events = [];
  alerts = [];
  bus.subscribe({ name: 'tap--events', topic: TOPICS.tradeEvents, handler: (e) => void events.push(decode(e.data.message.data) as TradeEvent) });
  bus.subscribe({ name: 'tap--alerts', topic: TOPICS.alerts, handler: (e) => void alerts.push(decode(e.data.message.data) as Alert) });
});

afterEach(async () => {
  await root.close();
});

/** Publishes one candle message as the holder does (at `now`, default the candle's close) and drains the bus. */
async function publish(c: Candle, now = c.openTime + MIN): Promise<void> {
  clock.set(Math.max(clock.now(), now));
  await bus.publish(TOPICS.bybitCandles, { candles: [c] }, { orderingKey: c.symbol, attributes: { symbol: c.symbol, kind: 'live', candleKey: candleKey(c) } });
  await bus.drain();
}

/** Publishes the bytes a buggy producer would (not JSON.stringify's: e.g. Python's json.dumps writes NaN). */
async function publishRaw(text: string, symbol: string): Promise<void> {
  const spy = vi.spyOn(JSON, 'stringify').mockReturnValueOnce(text);
  try {
    await bus.publish(TOPICS.bybitCandles, { raw: true }, { orderingKey: symbol, attributes: { symbol, kind: 'live' } });
  } finally {
    spy.mockRestore();
  }
  await bus.drain();
}

async function hot(symbol = 'BTCUSDT'): Promise<Candle[]> {
  return (await state.query<Candle>(barsCollection('bybit', symbol, '1m'), { orderBy: { field: 'openTime', direction: 'asc' } })).map((d) => d.data);
}

async function stored(symbol = 'BTCUSDT'): Promise<Candle[]> {
  return warehouse.candles({ symbol, interval: '1m', venue: 'bybit' });
}

async function world() {
  return { hot: await hot(), ohlcv: await stored(), foo: await warehouse.candles({ symbol: 'FOOUSDT', interval: '1m' }), doc: await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID)), events: events.length };
}

/** The dead letters of the candle topic since `from`, per subscription. */
function deadSince(from: number) {
  return bus.deadLetters({ topic: TOPICS.bybitCandles }).slice(from);
}

describe('the candle gate at every consumer', () => {
  it('each hostile candle is dead-lettered by every consumer with its reason; nothing trades, nothing changes; state and warehouse agree', async () => {
    for (const c of between('12:05', '12:18')) await publish(c);
    await bus.publish(TOPICS.microSignals, LONG, { attributes: { symbol: LONG.symbol, strategy: LONG.strategy } });
    await bus.drain();
    for (const c of between('12:18', '12:40')) await publish(c);
    const doc = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
    const open = doc?.state.account.positions.find((p) => p.groupId === GROUP);
    expect(open?.status).toBe('open'); // the LONG filled and is open while the hostile candles arrive
    expect(bus.deadLetters()).toEqual([]);

    const next = real('12:40');
    const old = real('12:10');
    const hostile: Array<{ name: string; reason: RegExp; send: () => Promise<void> }> = [
      { name: '1e300', reason: /range .*% within the candle/, send: () => publish({ ...next, high: 1e300, close: 1e300 }) },
      {
        name: 'NaN (raw JSON of a buggy producer)',
        reason: /payload is not JSON/,
        send: () => publishRaw(JSON.stringify({ candles: [next] }).replace(/"close":[0-9.]+/, '"close":NaN'), next.symbol),
      },
      { name: 'negative price', reason: /payload failed validation for candles-bybit-1m: candles\.0\.low/, send: () => publish({ ...next, low: -next.low }) },
      { name: 'high < low', reason: /OHLC out of order/, send: () => publish({ ...next, high: next.low - 1, low: next.high + 1 }) },
      { name: 'a month in the future', reason: /closes after now/, send: () => publish({ ...next, openTime: next.openTime + 30 * DAY }, next.openTime + MIN) },
      { name: 'unknown symbol', reason: /unknown symbol FOOUSDT/, send: () => publish({ ...next, symbol: 'FOOUSDT' }) },
      { name: 'altered old candle', reason: /altered closed candle bybit:BTCUSDT:1m:\d+: values differ/, send: () => publish({ ...old, close: old.close + 50, high: Math.max(old.high, old.close + 50) }) },
      { name: 'lone 60 % spike', reason: /range 60\.0% within the candle/, send: () => publish({ ...next, high: next.low * 1.6 }) },
    ];
    for (const h of hostile) {
      const before = await world();
      const deadBefore = bus.deadLetters({ topic: TOPICS.bybitCandles }).length;
      await h.send();
      const dead = deadSince(deadBefore);
      // every consumer of the topic dead-lettered it, at once (permanent), with the reason and the payload
      expect(dead.map((d) => d.subscription).sort(), h.name).toEqual([...CANDLE_SUBS].sort());
      for (const d of dead) {
        expect(d.reason, h.name).toMatch(h.reason);
        expect(d.permanent, h.name).toBe(true);
        expect(d.attempts, h.name).toBe(1);
      }
      // no trade, no state change: hot window, warehouse, trading document (watermarks, positions)
      expect(await world(), h.name).toEqual(before);
    }
    // refused candles are alerted (one alert id per candle, whatever the number of consumers)
    expect(new Set(alerts.filter((a) => a.kind === 'bad_data').map((a) => a.alertId)).size).toBeGreaterThanOrEqual(5);

    // the real candle of 12:40 and the next ones are accepted as usual (a lone spike moved no reference)
    const deadBefore = bus.deadLetters().length;
    for (const c of between('12:40', '12:45')) await publish(c);
    expect(bus.deadLetters().length).toBe(deadBefore);
    const after = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
    expect(after?.candleWatermarks['bybit:BTCUSDT:1m']).toBe(at('12:44'));

    // state and warehouse hold exactly the same candles: the real ones
    const h = await hot();
    expect(h).toEqual(await stored());
    expect(h).toEqual(between('12:05', '12:45'));
  });

  it('a lasting -55 % step: the held-back candles still stop the open LONG, and the reference re-anchors', async () => {
    const publisher = new CandlePublisher({
      bus,
      state,
      klines: { closedKlines1m: async () => [] },
      clock,
      log: createLogger({}, { minSeverity: 'CRITICAL' }),
      quality: DEFAULT_SYSTEM_CONFIG.dataQuality,
      maxBackfillMinutes: 60,
      backfillRetryMs: 5_000,
      restSettleMs: 2_000,
      maxCandlesPerMessage: 500,
    });
    await publisher.init(['BTCUSDT']);
    const viaProducer = async (c: Candle) => {
      clock.set(c.openTime + MIN);
      publisher.submit(c.symbol, c.openTime, c);
      await publisher.idle();
      await bus.drain();
    };
    for (const c of between('12:05', '12:18')) await viaProducer(c);
    await bus.publish(TOPICS.microSignals, LONG, { attributes: { symbol: LONG.symbol, strategy: LONG.strategy } });
    await bus.drain();
    for (const c of between('12:18', '12:30')) await viaProducer(c);
    const groupId = GROUP;
    const doc = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
    const open = doc?.state.account.positions.find((p) => p.groupId === groupId);
    expect(open?.status).toBe('open');
    const stop = open!.stopLoss;

    // from 12:30 the market trades 55 % lower for good
    const k = 0.45;
    const step = between('12:30', '12:40').map((c) => ({ ...c, open: c.open * k, high: c.high * k, low: c.low * k, close: c.close * k }));
    const deadBefore = bus.deadLetters().length;
    await viaProducer(step[0] as Candle);
    // held back by every consumer (suspect), yet the LONG was stopped out on it: at its stop (a taker fill
    // with slippage), never at the suspect candle's own 55 %-lower open
    const closed = events.filter((e): e is PositionClosedEvent => e.type === 'position_closed' && e.groupId === groupId);
    expect(closed).toHaveLength(1);
    expect(closed[0]?.trade.exitReason).toBe('stop_loss');
    expect(closed[0]?.trade.exitPrice).toBeLessThanOrEqual(stop);
    expect(closed[0]?.trade.exitPrice).toBeGreaterThan(stop * 0.99);
    expect(closed[0]?.trade.exitPrice).toBeGreaterThan((step[0] as Candle).open * 2);
    expect(alerts.some((a) => a.kind === 'bad_data' && a.message.includes('suspect'))).toBe(true);
    expect(alerts.some((a) => a.kind === 'protection_changed' || a.kind === 'bad_data')).toBe(true);

    await viaProducer(step[1] as Candle);
    const dead = bus.deadLetters().slice(deadBefore);
    expect(dead.map((d) => `${d.subscription} ${(d.payload as { candles: Candle[] }).candles[0]?.openTime}`).sort()).toEqual(
      CANDLE_SUBS.flatMap((s) => [`${s} ${at('12:30')}`, `${s} ${at('12:31')}`]).sort(),
    );
    for (const d of dead) expect(d.reason).toMatch(/suspect/);

    // the third consistent candle re-anchors: accepted and stored, and so is everything after it
    for (const c of step.slice(2)) await viaProducer(c);
    expect(bus.deadLetters().length).toBe(deadBefore + dead.length);
    const gate = await state.get<GateDoc>(gateDocPath(step[0] as Candle));
    expect(gate?.sanity.ref).toEqual({ openTime: at('12:39'), close: (step[9] as Candle).close });
    expect(gate?.seen[String(at('12:32'))]).toMatchObject({ status: 'accepted', reanchored: true });
    const h = await hot();
    expect(h).toEqual(await stored());
    expect(h.filter((c) => c.openTime >= at('12:30')).map((c) => c.openTime)).toEqual(step.slice(2).map((c) => c.openTime));
    const after = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
    expect(after?.candleWatermarks['bybit:BTCUSDT:1m']).toBe(at('12:39'));
    expect(after?.state.account.positions.some((p) => p.groupId === groupId)).toBe(false);
  });
});
