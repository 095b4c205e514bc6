/**
 * The micro-scalp and execution engines (shared/pipeline) and their function entry points against the
 * embedded adapters (SQLite state, DuckDB warehouse, in-process bus), on REAL Bybit BTCUSDT 1m candles
 * (test/fixtures/pipeline: 2025-06-12 22:00 -> 2025-06-13 08:00 UTC).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { buildPubsubCloudEvent, encodePayload } from '../../infra/bus/envelope.js';
import { bindPubsub } from '../../infra/functions.js';
import { createRoot, type Services } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { pubsubBindings } from '../../infra/runtime/registry.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS, DEFAULT_V52_DIVERGENCE_CONFIG, DEFAULT_LEVELS_EXHAUSTION_CONFIG } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger } from '../../shared/log.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { PermanentError } from '../../shared/ports/bus.js';
import type { Candle } from '../../shared/model/market.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { seriesFromCandles } from '../../shared/strategies/series.js';
import type { ScalpDecision } from '../../shared/strategies/scalp/common.js';
import { v52Divergence } from '../../shared/strategies/scalp/v52-divergence.js';
import { TOPICS } from '../../shared/topics.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import type { Signal } from '../../shared/model/trading.js';
import { scalpSignal, SCALP_MAX_HOLD_MS, SCALP_SIGNAL_CONFIDENCE } from '../../shared/strategies/scalp/signal.js';
import * as microScalpFn from '../../shared/pipeline/micro-scalp.js';
import { createMicroCache, evaluateMicro, type MicroDeps, type MicroResult } from '../../shared/pipeline/micro-scalp.js';
import * as executionFn from '../../shared/pipeline/execution.js';
import {
  createExecutionCache,
  DecisionCandlePendingError,
  executeCandles,
  executeSignal,
  REJECTED_DECISION,
  type ExecutionCache,
  type ExecutionDeps,
} from '../../shared/pipeline/execution.js';
import { MIN } from './helpers.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { snapshotSchema } from '../../shared/messages.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'pipeline', 'BTCUSDT_1m_2025-06-12T22_600.csv');

function realCandles(): Candle[] {
  const lines = readFileSync(FIXTURE, 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [t, o, h, lo, c, v] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit', openTime: t, open: o, high: h, low: lo, close: c, volume: v };
  });
}

const CANDLES = realCandles();
/** First candle evaluated: the engines have this many candles of history before it. */
const FIRST_EVAL = 240;

describe('scalpSignal: the one TAKE -> Signal conversion', () => {
  const series = seriesFromCandles(CANDLES);
  const p = v52Divergence.prepare(series, DEFAULT_V52_DIVERGENCE_CONFIG);
  const decisions: ScalpDecision[] = [];
  for (let i = 0; i < series.length; i++) {
    const d = v52Divergence.evaluateAt(p, i);
    if (d) decisions.push(d);
  }
  const take = decisions.find((d) => d.decision === 'TAKE') as ScalpDecision;
  const nearMiss = decisions.find((d) => d.decision === 'NEAR_MISS') as ScalpDecision;

  it('copies the decision and its proposal, with tier, emit, hold time and confidence', () => {
    expect(take).toBeDefined();
    const s = scalpSignal(take, DEFAULT_SYSTEM_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG) as Signal;
    expect(s).toMatchObject({
      signalId: take.signalId,
      strategy: 'v52_divergence',
      engine: 'SCALP',
      symbol: 'BTCUSDT',
      ts: take.ts,
      candleTime: take.candleTime,
      direction: take.direction,
      tier: 'large_cap',
      entries: [take.proposal?.entry],
      stopLoss: take.proposal?.stopLoss,
      takeProfit: take.proposal?.takeProfit,
      trailingFraction: null,
      maxHoldMs: SCALP_MAX_HOLD_MS,
      confidence: SCALP_SIGNAL_CONFIDENCE,
      emit: true,
    });
    // Fixed exits 0.5 % / 0.3 % around the close of the decision candle.
    const sign = s.direction === 'LONG' ? 1 : -1;
    expect(s.takeProfit).toBeCloseTo(s.price * (1 + sign * 0.005), 6);
    expect(s.stopLoss).toBeCloseTo(s.price * (1 - sign * 0.003), 6);
  });

  it('follows the config: a log-only strategy gives emit=false; other decisions give no signal; mismatches throw', () => {
    const logOnly = { ...DEFAULT_V52_DIVERGENCE_CONFIG, emitSignals: false };
    expect(scalpSignal(take, DEFAULT_SYSTEM_CONFIG, logOnly)?.emit).toBe(false);
    expect(scalpSignal(nearMiss, DEFAULT_SYSTEM_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG)).toBeNull();
    expect(() => scalpSignal(take, DEFAULT_SYSTEM_CONFIG, DEFAULT_LEVELS_EXHAUSTION_CONFIG)).toThrow(/levels_exhaustion config/);
    expect(() => scalpSignal({ ...take, symbol: 'NOPEUSDT' }, DEFAULT_SYSTEM_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG)).toThrow(/not a configured symbol/);
    expect(scalpSignal(take, DEFAULT_SYSTEM_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG, { maxHoldMs: 5 * MIN, confidence: 80 })).toMatchObject({ maxHoldMs: 5 * MIN, confidence: 80 });
  });
});

describe('micro-scalp and execution engines on the embedded adapters', () => {
  let state: SqliteStateStore;
  let warehouse: DuckDbWarehouse;
  let bus: InMemoryBus;
  let clock: ManualClock;
  let ctx: Services;
  let execCache: ExecutionCache;
  const published: Signal[] = [];
  const events: Array<{ type: string; eventId: string }> = [];

  beforeEach(async () => {
    clock = new ManualClock(CANDLES[0]!.openTime);
    state = new SqliteStateStore({ file: ':memory:', clock });
    warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
    await warehouse.ensureSchema();
    // The malformed-payload cases log ERROR lines by design; keep the test output quiet.
    const log = createLogger({}, { minSeverity: 'CRITICAL' });
    bus = new InMemoryBus({ clock, fast: true, log });
    bus.subscribe({ name: 'tap--micro', topic: TOPICS.microSignals, handler: (e) => void published.push(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as Signal) });
    bus.subscribe({ name: 'tap--events', topic: TOPICS.tradeEvents, handler: (e) => void events.push(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as { type: string; eventId: string }) });
    ctx = { state, bus, warehouse, clock, log, config: staticConfig(DEFAULT_SYSTEM_CONFIG, DEFAULT_STRATEGY_CONFIGS), endpoints: { krakenRest: '', bybitRest: '', bybitWs: '' } };
    execCache = createExecutionCache();
    published.length = 0;
    events.length = 0;
    // The hot store as candle-ingest leaves it (the engines read it only up to the candle they evaluate).
    await writeHotCandles(state, CANDLES);
  });

  afterEach(async () => {
    await bus.close();
    await state.close();
    await warehouse.close();
  });

  const microDeps = (cache = createMicroCache()): MicroDeps => ({ ...ctx, cache });
  const execDeps = (): ExecutionDeps => ({ ...ctx, cache: execCache });

  async function closeAt(deps: MicroDeps, k: number): Promise<MicroResult> {
    const c = CANDLES[k] as Candle;
    clock.set(c.openTime + MIN);
    return evaluateMicro(deps, { kind: 'close', candle: c });
  }

  it('logs every decision once, publishes only emitting TAKEs, and a redelivered candle changes nothing', async () => {
    const deps = microDeps();
    const results: MicroResult[] = [];
    for (let k = FIRST_EVAL; k < CANDLES.length; k++) results.push(await closeAt(deps, k));
    await bus.drain();
    const decisions = results.flatMap((r) => r.decisions);
    const rows = await warehouse.rows('signals');
    expect(rows.map((r) => r.signal_id).sort()).toEqual(decisions.map((d) => d.signalId).sort());
    const takes = decisions.filter((d) => d.decision === 'TAKE');
    expect(takes.some((d) => d.strategy === 'v52_divergence')).toBe(true);
    expect(decisions.some((d) => d.strategy === 'levels_exhaustion')).toBe(true);
    // levels_exhaustion is log-only by default: only v52 TAKEs are published.
    expect(published.map((s) => s.signalId).sort()).toEqual(takes.filter((d) => d.strategy === 'v52_divergence').map((d) => d.signalId).sort());
    const row = rows.find((r) => r.signal_id === published[0]?.signalId);
    expect(JSON.parse(String(row?.features))).toMatchObject({ emit: true, tier: 'large_cap', entries: published[0]?.entries });

    // Redelivery of a candle with a TAKE: same decisions, no new row; the re-publish carries the same id.
    const k = CANDLES.findIndex((c) => c.openTime === published[0]?.candleTime);
    const again = await closeAt(deps, k);
    await bus.drain();
    expect(again.decisions).toEqual(results[k - FIRST_EVAL]?.decisions);
    expect(await warehouse.count('signals')).toBe(rows.length);
    expect(published.filter((s) => s.signalId === again.published[0]?.signalId)).toHaveLength(2);

    // A cold instance (empty cache) evaluating an OLD candle sees the window as it was then.
    const cold = await closeAt(microDeps(), k);
    expect(cold.decisions).toEqual(results[k - FIRST_EVAL]?.decisions);
  });

  it('evaluates a 15 s snapshot on the forming candle, and waits for the close before it', async () => {
    const deps = microDeps();
    for (let k = FIRST_EVAL; k < FIRST_EVAL + 20; k++) await closeAt(deps, k);
    // The forming candle just before it closes (ts = close - 1 ms) is the real next candle.
    const last = CANDLES[FIRST_EVAL + 19] as Candle;
    const next = CANDLES[FIRST_EVAL + 20] as Candle;
    const snapshot = snapshotSchema.parse({ symbol: 'BTCUSDT', ts: next.openTime + MIN - 1, forming: next, book: null });
    clock.set(snapshot.ts);
    const r = await evaluateMicro(deps, { kind: 'snapshot', snapshot });
    expect(r.note).toBeNull();
    for (const d of r.decisions) expect(d.signalId).toBe(`${d.strategy}:BTCUSDT:${next.openTime}:snap:${snapshot.ts}`);
    expect(last.openTime).toBe(next.openTime - MIN);

    // A forming candle whose previous close is not stored anywhere yet is not evaluated.
    const future = { ...next, openTime: CANDLES[CANDLES.length - 1]!.openTime + 2 * MIN };
    const late = await evaluateMicro(deps, { kind: 'snapshot', snapshot: { symbol: 'BTCUSDT', ts: future.openTime + 15_000, forming: future, book: null } });
    expect(late.note).toMatch(/not known yet/);
    expect(late.decisions).toEqual([]);
    // A late holder tick can stamp the boundary before the candle it saw: accepted at the edge, not evaluated.
    const early = snapshotSchema.parse({ symbol: 'BTCUSDT', ts: next.openTime - 1, forming: next, book: null });
    expect((await evaluateMicro(deps, { kind: 'snapshot', snapshot: early })).note).toMatch(/late holder tick/);
    // A forming candle out of the sanity band of the last close (a 60 % spike) is refused by the candle gate's rules.
    const spike = { ...next, high: next.low * 1.6 };
    const refused = await evaluateMicro(deps, { kind: 'snapshot', snapshot: { symbol: 'BTCUSDT', ts: snapshot.ts, forming: spike, book: null } });
    expect(refused.note).toMatch(/forming candle refused by the candle gate: range 60\.0%/);
    expect(refused.decisions).toEqual([]);
    // A snapshot of another symbol's candle is rejected at the edge.
    expect(snapshotSchema.safeParse({ symbol: 'ETHUSDT', ts: snapshot.ts, forming: next, book: null }).success).toBe(false);
  });

  it('a signal the notional caps cannot size is rejected (notional_cap) with its reason in the log and in `signals`', async () => {
    const micro = microDeps();
    let signal: Signal | undefined;
    let k = FIRST_EVAL;
    for (; k < CANDLES.length && !signal; k++) signal = (await closeAt(micro, k)).published[0];
    const s = signal as Signal;
    // caps of 0.1x equity (980 USD of room after the 2 % scalp headroom) and a 990 USD minimum: too small to trade
    const strategies = structuredClone(DEFAULT_STRATEGY_CONFIGS);
    Object.assign(strategies.risk, { maxLeverage: 0.1, maxTotalLeverage: 0.1, minCappedNotionalPct: 9.9 });
    const lines: string[] = [];
    const log = createLogger({}, { sink: (l: string) => void lines.push(l) });
    const exec: ExecutionDeps = { ...execDeps(), log, config: staticConfig(DEFAULT_SYSTEM_CONFIG, strategies) };
    await executeCandles(exec, CANDLES.slice(k - 60, k));
    const r = await executeSignal(exec, s, { attempt: 1, maxAttempts: 5 });
    expect(r.decision).toMatchObject({ accepted: false, reason: 'notional_cap', detail: expect.stringMatching(/capped size below the minimum 990\.00 .*room 980\.00/) });
    expect(r.events).toEqual([]);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'signal rejected');
    expect(logged).toMatchObject({ signalId: s.signalId, reason: 'notional_cap' });
    // a redelivery writes no second row
    await executeSignal(exec, s, { attempt: 2, maxAttempts: 5 });
    const rows = (await warehouse.rows('signals')).filter((row) => row.decision === REJECTED_DECISION);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ signal_id: `${s.signalId}:rejected`, strategy: s.strategy, symbol: s.symbol, direction: s.direction });
    expect(JSON.parse(String(rows[0]?.reasons))[0]).toBe('notional_cap');
    expect(JSON.parse(String(rows[0]?.features))).toMatchObject({ execution: 'rejected', rejectReason: 'notional_cap', takeSignalId: s.signalId });
  });

  it('execution applies a scalp signal only after its decision candle, idempotently, and books the trade', async () => {
    const micro = microDeps();
    let signal: Signal | undefined;
    let k = FIRST_EVAL;
    for (; k < CANDLES.length && !signal; k++) signal = (await closeAt(micro, k)).published[0];
    expect(signal).toBeDefined();
    const s = signal as Signal;
    const exec = execDeps();
    // Fresh account: the decision candle has not been applied yet -> retried by the bus.
    await expect(executeSignal(exec, s, { attempt: 1, maxAttempts: 5 })).rejects.toBeInstanceOf(DecisionCandlePendingError);
    await executeCandles(exec, CANDLES.slice(k - 60, k));
    const placed = await executeSignal(exec, s, { attempt: 2, maxAttempts: 5 });
    expect(placed.applied).toBe(true);
    expect(placed.decision?.accepted).toBe(true);
    expect(placed.events.map((e) => e.type)).toEqual(['order_placed']);
    const again = await executeSignal(exec, s, { attempt: 1, maxAttempts: 5 });
    expect(again.applied).toBe(false);
    expect(again.events).toEqual(placed.events);

    // Following real candles fill and exit it; a redelivered candle changes nothing.
    let closed = false;
    for (let j = k; j < CANDLES.length && !closed; j++) {
      clock.set(CANDLES[j]!.openTime + MIN);
      const [r] = await executeCandles(exec, [CANDLES[j]!]);
      closed = (r?.events ?? []).some((e) => e.type === 'position_closed');
      const [dup] = await executeCandles(exec, [CANDLES[j]!]);
      expect(dup?.applied).toBe(false);
      expect(dup?.events).toEqual(r?.events);
    }
    expect(closed).toBe(true);
    await bus.drain();
    const doc = (await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID))) as TradingDoc;
    const trades = await warehouse.rows('paper_trades');
    expect(trades.length).toBeGreaterThan(0);
    expect(trades.reduce((a, r) => a + Number(r.pnl), 0)).toBeCloseTo(doc.state.account.realizedPnl, 9);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['order_placed', 'entry_filled', 'exit_filled', 'position_closed']));
    // Redeliveries re-published the stored events: copies of one event id are identical (downstream de-duplicates).
    const byId = new Map<string, unknown>();
    for (const e of events) {
      if (byId.has(e.eventId)) expect(e).toEqual(byId.get(e.eventId));
      byId.set(e.eventId, e);
    }
    expect(byId.size).toBeLessThan(events.length);

    // A candle flagged bad data is never traded: the candle gate holds it back as suspect (dead-lettered
    // with the reason); no position is open, so nothing changes and the watermark does not move.
    const flagged = { ...CANDLES[CANDLES.length - 1]!, openTime: CANDLES[CANDLES.length - 1]!.openTime + MIN, flags: ['bad_data' as const] };
    clock.set(flagged.openTime + MIN);
    await expect(executeCandles(exec, [flagged])).rejects.toThrow(/suspect: flagged bad_data by its producer/);
    const after = (await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID))) as TradingDoc;
    expect(after.candleWatermarks['bybit:BTCUSDT:1m']).toBe(doc.candleWatermarks['bybit:BTCUSDT:1m']);
  });

  it('the function entry points route by topic and dead-letter what they can never process', async () => {
    const root = createRoot(ctx);
    const microScalp = bindPubsub(microScalpFn.FUNCTION_NAME, microScalpFn.handle, () => root.deps(microScalpFn.FUNCTION_NAME));
    const execution = bindPubsub(executionFn.FUNCTION_NAME, executionFn.handle, () => root.deps(executionFn.FUNCTION_NAME));
    const event = (topic: string, payload: unknown) =>
      buildPubsubCloudEvent({ projectId: 'p', topic, subscription: `x--${topic}`, data: encodePayload(payload), messageId: '1', publishTime: new Date(0).toISOString() });
    await expect(microScalp(event(TOPICS.snapshots, { symbol: 'BTCUSDT', ts: 'soon' }))).rejects.toBeInstanceOf(PermanentError);
    await expect(microScalp(event(TOPICS.tradeEvents, {}))).rejects.toBeInstanceOf(PermanentError);
    await expect(execution(event(TOPICS.microSignals, { signalId: 'x' }))).rejects.toBeInstanceOf(PermanentError);
    await expect(execution(event(TOPICS.alerts, {}))).rejects.toBeInstanceOf(PermanentError);
    // A valid candle batch goes through both functions.
    const c = CANDLES[FIRST_EVAL]!;
    clock.set(c.openTime + MIN);
    await microScalp(event(TOPICS.bybitCandles, { candles: [c] }));
    await execution(event(TOPICS.bybitCandles, { candles: [c] }));
    const doc = (await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID))) as TradingDoc;
    expect(doc.candleWatermarks['bybit:BTCUSDT:1m']).toBe(c.openTime);
  });

  it('is registered: the registry and topology subscribe both functions to their topics, candles in order', () => {
    const bindings = pubsubBindings().map((b) => `${b.function}|${b.topic}|${b.enableOrdering}`);
    expect(bindings).toEqual(
      expect.arrayContaining([
        `micro-scalp|${TOPICS.bybitCandles}|true`,
        `micro-scalp|${TOPICS.snapshots}|true`,
        `execution|${TOPICS.bybitCandles}|true`,
        `execution|${TOPICS.krakenOhlc}|true`,
        `execution|${TOPICS.microSignals}|false`,
        `execution|${TOPICS.swingSignals}|false`,
        `execution|${TOPICS.macroBias}|true`,
        `candle-ingest|${TOPICS.bybitCandles}|true`,
      ]),
    );
  });
});
