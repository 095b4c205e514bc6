/**
 * Every log-based metric (infra/monitoring/log-metrics.ts) against the REAL log lines our code writes:
 * the functions run on fixtures (real Bybit candles, the recorded holder stream, the Telegram replay
 * server), their lines are captured through the logger's sink, and each metric's filter (evaluated by
 * test/monitoring/log-filter.ts) matches the lines of its event and no other captured line; its
 * value extractor reads a numeric field, its label extractors fields that are there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { LOG_METRICS, METRIC, logMetricType } from '../../infra/monitoring/log-metrics.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { createLogger, LOG_EVENTS, type Logger } from '../../shared/log.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { BybitHolder } from '../../shared/market/bybit/holder.js';
import type { Candle } from '../../shared/model/market.js';
import type { Signal } from '../../shared/model/trading.js';
import { PermanentError } from '../../shared/ports/bus.js';
import type { KlineSource } from '../../shared/ports/bybit.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { createExecutionCache, executeCandles, executeSignal, type ExecutionDeps } from '../../shared/pipeline/execution.js';
import { handle as healthCheck } from '../../shared/pipeline/health-check.js';
import { createMicroCache, evaluateMicro, type MicroDeps } from '../../shared/pipeline/micro-scalp.js';
import { enqueue, OutboxSender } from '../../shared/telegram/outbox.js';
import { TOPICS } from '../../shared/topics.js';
import { sharpChartRenderer } from '../../infra/telegram/charts.js';
import { CaptureBus, FakeStream, RECORDING_SYMBOLS, testConfig } from '../bybit/helpers.js';
import { makeHarness } from '../telegram/helpers.js';
import { extractPath, matches, payloadField } from './log-filter.js';

type Line = Record<string, unknown>;
const MIN = 60_000;
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pipeline', 'BTCUSDT_1m_2025-06-12T22_600.csv');
const CANDLES: Candle[] = readFileSync(FIXTURE, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [t, o, h, lo, c, v] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit', openTime: t, open: o, high: h, low: lo, close: c, volume: v };
  });

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  return { log: createLogger({}, { minSeverity: 'DEBUG', sink: (l) => void lines.push(JSON.parse(l) as Line) }), lines };
}


/** Every captured line of every scenario below. */
const ALL: Line[] = [];

/** execution opens and closes a real scalp trade, then health-check runs: signals, trades, snapshot, stale data. */
async function tradingScenario(): Promise<void> {
  const clock = new ManualClock(CANDLES[0]!.openTime);
  const state = new SqliteStateStore({ file: ':memory:', clock });
  const warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
  await warehouse.ensureSchema();
  const quiet = createLogger({}, { minSeverity: 'CRITICAL' });
  const bus = new InMemoryBus({ clock, fast: true, log: quiet });
  const { log, lines } = capture();
  try {
    const ctx = { state, bus, warehouse, clock, log, config: staticConfig(DEFAULT_SYSTEM_CONFIG, DEFAULT_STRATEGY_CONFIGS), endpoints: { krakenRest: '', bybitRest: '', bybitWs: '' } };
    await writeHotCandles(state, CANDLES);
    const micro: MicroDeps = { ...ctx, log: quiet, cache: createMicroCache() };
    let signal: Signal | undefined;
    let k = 240;
    for (; k < CANDLES.length && !signal; k++) {
      clock.set(CANDLES[k]!.openTime + MIN);
      signal = (await evaluateMicro(micro, { kind: 'close', candle: CANDLES[k]! })).published[0];
    }
    if (!signal) throw new Error('fixture gives no scalp signal');
    const exec: ExecutionDeps = { ...ctx, cache: createExecutionCache() };
    await executeCandles(exec, CANDLES.slice(k - 60, k));
    await executeSignal(exec, signal, { attempt: 1, maxAttempts: 5 });
    await executeSignal(exec, signal, { attempt: 2, maxAttempts: 5 }); // a redelivery: not counted as a signal
    let closed = false;
    for (let j = k; j < CANDLES.length && !closed; j++) {
      clock.set(CANDLES[j]!.openTime + MIN);
      const [r] = await executeCandles(exec, [CANDLES[j]!]);
      closed = (r?.events ?? []).some((e) => e.type === 'position_closed');
    }
    if (!closed) throw new Error('fixture trade never closed');
    await healthCheck({ state, bus, clock, log, config: ctx.config });
    // the candles stop: past staleAfterMs the next check finds every symbol stale
    clock.set(CANDLES.at(-1)!.openTime + MIN + DEFAULT_SYSTEM_CONFIG.dataQuality.staleAfterMs + MIN);
    await healthCheck({ state, bus, clock, log, config: ctx.config });
    await bus.drain();
  } finally {
    ALL.push(...lines);
    await bus.close();
    await state.close();
    await warehouse.close();
  }
}

/** A bus subscription whose handler refuses a message for good: dead-lettered. */
async function deadLetterScenario(): Promise<void> {
  const clock = new ManualClock(CANDLES[0]!.openTime);
  const { log, lines } = capture();
  const bus = new InMemoryBus({ clock, fast: true, log });
  bus.subscribe({
    name: 'unit--candles',
    topic: TOPICS.bybitCandles,
    handler: () => {
      throw new PermanentError('refused');
    },
  });
  await bus.publish(TOPICS.bybitCandles, { candles: [CANDLES[0]] }, { orderingKey: 'BTCUSDT' });
  await bus.drain();
  await bus.close();
  ALL.push(...lines);
}

/** The holder's stream drops and comes back. */
async function holderScenario(): Promise<void> {
  const clock = new ManualClock(Date.UTC(2025, 5, 13));
  const capt = new CaptureBus(clock);
  const stream = new FakeStream();
  const state = new SqliteStateStore({ file: ':memory:' });
  const { log, lines } = capture();
  const noKlines: KlineSource = { closedKlines1m: async () => [] };
  const holder = new BybitHolder({ stream, klines: noKlines, bus: capt.bus, state, clock, log, config: testConfig(RECORDING_SYMBOLS), autoTimers: false });
  await holder.start();
  stream.drop();
  stream.back();
  await capt.bus.drain();
  await holder.stop();
  await state.close();
  ALL.push(...lines);
}

/** The Telegram outbox meets an injected 429 on the replay server. */
async function telegramScenario(): Promise<void> {
  const h = await makeHarness({ candles: false });
  const { log, lines } = capture();
  try {
    h.server.inject429({ method: 'sendMessage', chatId: 4242, retryAfterSec: 3 });
    await enqueue(h.state, [{ key: 'm429:0', chatId: 4242, op: { type: 'text', text: 'hello' } }], h.clock.now());
    await new OutboxSender({ state: h.state, api: h.rt.api, clock: h.clock, cfg: DEFAULT_TELEGRAM_CONFIG, charts: sharpChartRenderer, log }).drain();
  } finally {
    ALL.push(...lines);
    await h.close();
  }
}

const EVENT_OF: Record<string, string> = {
  [METRIC.signals]: LOG_EVENTS.signalDecided,
  [METRIC.tradesOpened]: LOG_EVENTS.tradeOpened,
  [METRIC.tradesClosed]: LOG_EVENTS.tradeClosed,
  [METRIC.deadLetters]: LOG_EVENTS.deadLettered,
  [METRIC.holderReconnects]: LOG_EVENTS.holderReconnected,
  [METRIC.dataStale]: LOG_EVENTS.dataStale,
  [METRIC.staleSymbols]: LOG_EVENTS.freshnessSnapshot,
  [METRIC.telegram429]: LOG_EVENTS.telegram429,
  [METRIC.equity]: LOG_EVENTS.accountSnapshot,
  [METRIC.openPositions]: LOG_EVENTS.accountSnapshot,
  [METRIC.dailyDrawdownPct]: LOG_EVENTS.accountSnapshot,
};

beforeAll(async () => {
  await tradingScenario();
  await deadLetterScenario();
  await holderScenario();
  await telegramScenario();
}, 120_000);

afterAll(() => {
  ALL.length = 0;
});

describe('log-based metrics match the log lines our code writes', () => {
  it('one metric per METRIC name, each named as Monitoring references it', () => {
    expect(LOG_METRICS.map((m) => m.name).sort()).toEqual(Object.values(METRIC).sort());
    expect(logMetricType(METRIC.signals)).toBe('logging.googleapis.com/user/cst_signals');
  });

  for (const metric of LOG_METRICS) {
    it(`${metric.name}: its filter matches the real "${EVENT_OF[metric.name]}" lines and nothing else`, () => {
      const event = EVENT_OF[metric.name]!;
      const hits = ALL.filter((l) => matches(metric.filter, l));
      expect(hits.length).toBeGreaterThan(0);
      for (const l of hits) expect(l.event).toBe(event);
      if (metric.valueExtractor) {
        const path = extractPath(metric.valueExtractor);
        for (const l of hits) expect(z.number().finite().parse(payloadField(l, path))).toBeTypeOf('number');
      }
      for (const ex of Object.values(metric.labelExtractors ?? {})) {
        const path = extractPath(ex);
        for (const l of hits) expect(typeof payloadField(l, path)).toBe('string');
      }
    });
  }

  it('stale symbols: the minute snapshot holds the state (0 while fresh, the count once stale), not the transition', () => {
    const snaps = ALL.filter((l) => l.event === LOG_EVENTS.freshnessSnapshot).map((l) => payloadField(l, ['jsonPayload', 'staleSymbols']));
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    expect(snaps[0]).toBe(0);
    expect(snaps.at(-1)).toBeGreaterThan(0);
  });

  it('signals: the redelivered decision is logged but not counted, its trade not logged again; trades closed carry win/loss consistent with pnl', () => {
    const decided = ALL.filter((l) => l.event === LOG_EVENTS.signalDecided);
    const signals = LOG_METRICS.find((m) => m.name === METRIC.signals)!;
    expect(decided).toHaveLength(2);
    expect(decided.filter((l) => matches(signals.filter, l))).toHaveLength(1);
    // the redelivered signal re-published its stored order_placed: one trade opened, not two
    expect(ALL.filter((l) => l.event === LOG_EVENTS.tradeOpened)).toHaveLength(1);
    const closed = ALL.filter((l) => l.event === LOG_EVENTS.tradeClosed);
    expect(closed).toHaveLength(1);
    const pnl = closed[0]!.pnl as number;
    expect(closed[0]!.outcome).toBe(pnl > 0 ? 'win' : pnl < 0 ? 'loss' : 'breakeven');
  });

  it('the account snapshot: marked equity = start + realized P&L after the closed trade (no open position), drawdown >= 0', () => {
    const snap = ALL.find((l) => l.event === LOG_EVENTS.accountSnapshot)!;
    const pnl = ALL.find((l) => l.event === LOG_EVENTS.tradeClosed)!.pnl as number;
    expect(snap.openPositions).toBe(0);
    expect(snap.equity as number).toBeCloseTo(DEFAULT_STRATEGY_CONFIGS.risk.startingEquityUsd + pnl, 6);
    expect(snap.dailyDrawdownPct as number).toBeGreaterThanOrEqual(0);
  });
});
