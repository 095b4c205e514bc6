/**
 * The month of REAL data through the REAL pipeline, in one process and as fast as the machine goes.
 * The library of `npx tsx scripts/replay-month.ts` (`--help` for the options); tests and bench/ call it.
 *
 * What runs: the registered Pub/Sub functions (infra/runtime/registry.ts, subscribed exactly as the local
 * runtime does: candle-ingest, tick-archive, micro-scalp, execution) on the in-process bus
 * (InMemoryBus, optionally delivering every message twice), the embedded adapters (SqliteStateStore,
 * DuckDbWarehouse) and a ManualClock, plus the macro-analysis job every 5 minutes of market time.
 *
 * Per market minute t (t = close time of the 1m candles opening at t - 1m), in this order:
 * 1. each symbol's closed Bybit 1m candle is published on `candles-bybit-1m` as the holder publishes
 *    it (one-candle batch, orderingKey = symbol, the holder's attributes), then the bus is drained
 *    (so the order across symbols is fixed: BTC, ETH, SOL; runs are deterministic);
 * 2. the Kraken-venue candles that closed by t (5m, 15m, 1h, 4h) are written to the hot store and the
 *    warehouse and published on `ohlc-data-kraken`, as the Kraken pull does;
 * 3. at every 5-minute mark the macro-analysis job runs (one symbol at a time, drained in between).
 *
 * DATA: the kit's month files (infra/replay/kit-data.ts): the Bybit 1m candles, and as Kraken-venue
 * candles the SAME real Bybit linear prices (5m / 15m files, 1h / 4h resampled from 15m).
 * Snapshots (15 s forming candle + order book) are NOT replayed: the kit has no order-book recording
 * for this month (its websocket recording is 45 s from 2026), and forming candles would have to be
 * invented; the snapshot path is exercised by `npm start` (replay servers) and the pipeline tests.
 *
 * A slice: `from` / `to` bound the published open times; `warmupMs` of 1m candles before `from` are
 * written to the hot store first (as candle-ingest would have), so the engines start warm.
 * The checks over a run (`--check`, `--duplicate`, `--stress-protections`) are in
 * infra/runtime/month-invariants.ts; the CLI (arguments, progress, printing) is scripts/replay-month.ts.
 */
import { InMemoryBus, type DeadLetterRecord } from '../bus/memory.js';
import { createRoot, type Root, type Services } from './root.js';
import { runScheduled, subscribeFunctions } from './bind.js';
import { SqliteStateStore } from '../state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../warehouse/duckdb.js';
import { SCHEDULED_FUNCTIONS } from './registry.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { createLogger, type Logger, type Severity } from '../../shared/log.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { candleKey, INTERVAL_MS, type Candle, type Interval } from '../../shared/model/market.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { LearningTable } from '../../shared/ports/learning-history.js';
import type { StateStore } from '../../shared/ports/state.js';
import type { CandleRange, Row, Warehouse } from '../../shared/ports/warehouse.js';
import type { TableName } from '../../shared/warehouse-schema.js';
import { prepareRows } from '../warehouse/rows.js';
import { candleAt, type CandleSeries } from '../../shared/strategies/series.js';
import { TOPICS } from '../../shared/topics.js';
import { markedEquity, unrealizedPnl } from '../../shared/trading/account.js';
import type { AccountState } from '../../shared/trading/model.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import { candleToRow } from '../../shared/warehouse-schema.js';
import { REJECTED_DECISION } from '../../shared/pipeline/execution.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { kitSeries, krakenCandles } from '../replay/kit-data.js';

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const MACRO_EVERY_MS = 5 * 60_000;
const MINUTE = INTERVAL_MS['1m'];

export interface ReplayOptions {
  /** The kit's data folder (`../shared/data` from the repo root); reads `bybit_linear/{SYMBOL}_{1m,5m,15m}.csv`. */
  dataDir: string;
  symbols?: string[];
  /** First / last 1m open time to publish (inclusive); default the whole file. */
  from?: number;
  to?: number;
  /** 1m candles before `from` written to the hot store first (default 0: engines warm up on the data). */
  warmupMs?: number;
  duplicateDelivery?: boolean;
  /** SQLite / DuckDB files; default in memory. */
  stateFile?: string;
  warehouseFile?: string;
  system?: SystemConfig;
  strategies?: StrategyConfigs;
  /** Wraps the state store the functions use (tests observe every transaction with it). */
  wrapState?: (state: StateStore, clock: ManualClock) => StateStore;
  /** Receives every message published on these topics (decoded JSON), after it was published. */
  taps?: Partial<Record<string, (payload: unknown, attributes: Record<string, string>) => void>>;
  onProgress?: (done: number, total: number, marketTime: number) => void;
  /** Called after the replay, before the adapters close (tests inspect state and warehouse). */
  inspect?: (x: { ctx: Services; state: StateStore; warehouse: DuckDbWarehouse; bus: InMemoryBus }) => Promise<void>;
  /**
   * Warehouse write-behind: rows are validated at once but appended to DuckDB every this many minutes
   * of market time (and at the end). 0 = every insert goes straight to DuckDB. Default 60.
   */
  warehouseFlushMinutes?: number;
  /** Log lines at or above this severity are formatted, counted and sent to `logSink` (default WARNING). */
  logLevel?: Severity;
  logSink?: (line: string, severity: Severity) => void;
}

interface SignalCounts {
  strategy: string;
  symbol: string;
  TAKE: number;
  NEAR_MISS: number;
  SKIP: number;
}

interface TradeStats {
  strategy: string;
  trades: number;
  wins: number;
  losses: number;
  winRate: number;
  pnl: number;
  fees: number;
}

export interface ReplayResult {
  from: number;
  to: number;
  symbols: string[];
  minutes: number;
  candlesPublished: number;
  wallMs: number;
  /** Wall time of the minute loop only (no data loading, no warm-up writes, no result queries). */
  loopMs: number;
  duplicateDelivery: boolean;
  /** Scan decisions in the warehouse `signals` table per (strategy, symbol). */
  signals: SignalCounts[];
  published: Record<string, number>;
  /** Closed trades (trade groups) per strategy, plus `all`. */
  trades: TradeStats[];
  paperTrades: Row[];
  signalRows: Row[];
  /** The trading core's rejections of TAKE signals (`signals` rows with decision REJECTED). */
  rejectedRows: Row[];
  account: AccountState | null;
  equity: { start: number; realized: number; marked: number; change: number; unrealized: number; openPositions: number };
  deadLetters: DeadLetterRecord[];
  logCounts: Record<string, number>;
  macroRuns: number;
}

/** Default write-behind period of the replay's warehouse (minutes of market time). */
const DEFAULT_WAREHOUSE_FLUSH_MINUTES = 60;

/**
 * A Warehouse that validates rows on insert (the adapter's own checks) and appends them to the
 * underlying DuckDB warehouse in one batch per table on `flush()`. Each DuckDB insert costs a few
 * milliseconds of fixed overhead (staging table, appender, merge), which would dominate a replay that
 * inserts after every candle; batching keeps the same rows and the same key idempotency (DuckDB merges
 * on the table key, and a batch is de-duplicated by key). Nothing in the pipeline reads the warehouse
 * back while the replay runs (engines read the hot store), so write-behind changes no decision.
 */
class WriteBehindWarehouse implements Warehouse {
  private readonly pending = new Map<TableName, Row[]>();

  constructor(private readonly inner: Warehouse) {}

  ensureSchema(): Promise<void> {
    return this.inner.ensureSchema();
  }

  async insert(table: TableName, rows: Row[]): Promise<void> {
    prepareRows(table, rows);
    const list = this.pending.get(table) ?? [];
    for (const r of rows) list.push(r);
    this.pending.set(table, list);
  }

  async flush(): Promise<void> {
    for (const [table, rows] of this.pending) {
      this.pending.delete(table);
      if (rows.length > 0) await this.inner.insert(table, rows);
    }
  }

  async candles(range: CandleRange): Promise<Candle[]> {
    await this.flush();
    return this.inner.candles(range);
  }

  async count(table: TableName): Promise<number> {
    await this.flush();
    return this.inner.count(table);
  }

  async strategyRows(table: LearningTable, strategy: string): Promise<Row[]> {
    await this.flush();
    return this.inner.strategyRows(table, strategy);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.inner.close();
  }
}

/** The closed trade groups of the `paper_trades` rows, per strategy and in total. */
function tradeStats(rows: readonly Row[]): TradeStats[] {
  const groups = new Map<string, { strategy: string; pnl: number; fees: number }>();
  for (const r of rows) {
    const g = groups.get(String(r.trade_group_id)) ?? { strategy: String(r.strategy), pnl: 0, fees: 0 };
    g.pnl += Number(r.pnl);
    g.fees += Number(r.fees);
    groups.set(String(r.trade_group_id), g);
  }
  const by = new Map<string, TradeStats>();
  const add = (key: string, g: { pnl: number; fees: number }) => {
    const s = by.get(key) ?? { strategy: key, trades: 0, wins: 0, losses: 0, winRate: 0, pnl: 0, fees: 0 };
    s.trades++;
    if (g.pnl > 0) s.wins++;
    else s.losses++;
    s.pnl += g.pnl;
    s.fees += g.fees;
    s.winRate = s.wins / s.trades;
    by.set(key, s);
  };
  for (const g of groups.values()) {
    add(g.strategy, g);
    add('all', g);
  }
  return [...by.values()].sort((a, b) => (a.strategy === 'all' ? 1 : b.strategy === 'all' ? -1 : a.strategy.localeCompare(b.strategy)));
}

/** What a run replays: the 1m series per symbol, the published range and the Kraken-venue candles. */
interface ReplayInput {
  symbols: string[];
  system: SystemConfig;
  strategies: StrategyConfigs;
  oneMinute: Map<string, CandleSeries>;
  kraken: Map<string, Map<Interval, Candle[]>>;
  /** First / last 1m open time published. */
  from: number;
  to: number;
}

/** The adapters of one run and the context the functions see. */
interface ReplayRig {
  clock: ManualClock;
  /** The SQLite store itself; `state` is what the functions use (possibly wrapped). */
  raw: SqliteStateStore;
  state: StateStore;
  duck: DuckDbWarehouse;
  warehouse: Warehouse;
  bus: InMemoryBus;
  ctx: Services;
  root: Root;
  logCounts: Record<string, number>;
  flushMinutes: number;
}

/** Counters of the minute loop. */
interface LoopResult {
  minutes: number;
  published: number;
  macroRuns: number;
  loopMs: number;
}

/** Config with the replayed symbols enabled, the kit's series and the range clipped to the data. */
function loadReplayInput(opts: ReplayOptions): ReplayInput {
  const symbols = opts.symbols ?? DEFAULT_SYMBOLS;
  const baseSystem = opts.system ?? DEFAULT_SYSTEM_CONFIG;
  const system: SystemConfig = { ...baseSystem, symbols: baseSystem.symbols.map((s) => ({ ...s, enabled: symbols.includes(s.symbol) })) };
  for (const s of symbols) if (!system.symbols.some((x) => x.symbol === s)) throw new Error(`replay: ${s} is not a configured symbol`);
  const strategies = opts.strategies ?? DEFAULT_STRATEGY_CONFIGS;
  const oneMinute = new Map<string, CandleSeries>();
  for (const s of symbols) oneMinute.set(s, kitSeries(opts.dataDir, s, '1m', '1m'));
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const s of oneMinute.values()) {
    first = Math.min(first, s.openTime[0] as number);
    // The last row of a kit file may be a candle that had not closed when downloaded: never published.
    last = Math.max(last, s.openTime[s.length - 2] as number);
  }
  const from = Math.max(opts.from ?? first, first);
  const to = Math.min(opts.to ?? last, last);
  if (!(to >= from)) throw new Error(`replay: empty range ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`);
  const kraken = new Map<string, Map<Interval, Candle[]>>();
  for (const s of symbols) kraken.set(s, krakenCandles(opts.dataDir, s, system.kraken.intervals));
  return { symbols, system, strategies, oneMinute, kraken, from, to };
}

/** The embedded adapters on a manual clock, the context installed, every function subscribed. */
async function createRig(opts: ReplayOptions, input: ReplayInput): Promise<ReplayRig> {
  const logCounts: Record<string, number> = {};
  const log: Logger = createLogger(
    { component: 'replay' },
    {
      // Lines below the level are not even formatted (a month logs millions of INFO lines).
      minSeverity: opts.logLevel ?? 'WARNING',
      sink: (line, severity) => {
        logCounts[severity] = (logCounts[severity] ?? 0) + 1;
        opts.logSink?.(line, severity);
      },
    },
  );
  const clock = new ManualClock(input.from);
  const raw = new SqliteStateStore({ file: opts.stateFile ?? ':memory:', clock });
  const state = opts.wrapState ? opts.wrapState(raw, clock) : raw;
  const duck = new DuckDbWarehouse({ file: opts.warehouseFile ?? IN_MEMORY });
  await duck.ensureSchema();
  const flushMinutes = opts.warehouseFlushMinutes ?? DEFAULT_WAREHOUSE_FLUSH_MINUTES;
  const warehouse = flushMinutes > 0 ? new WriteBehindWarehouse(duck) : duck;
  const bus = new InMemoryBus({ clock, fast: true, duplicateDelivery: opts.duplicateDelivery ?? false, log: log.child({ component: 'bus' }) });
  const ctx: Services = {
    state,
    bus,
    warehouse,
    clock,
    log,
    config: staticConfig(input.system, input.strategies),
    endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' },
  };
  // The notifier's outbox must never sleep on this manual clock (it only moves between deliveries):
  // what is due is sent, the rest on a later drain.
  const root = createRoot(ctx, { telegram: { maxDrainWaitMs: 0 } });
  await root.telegram();
  subscribeFunctions(bus, root);
  for (const [topic, tap] of Object.entries(opts.taps ?? {})) {
    if (!tap) continue;
    bus.subscribe({
      name: `replay-tap--${topic}`,
      topic,
      handler: (e) => tap(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')), e.data.message.attributes ?? {}),
    });
  }
  return { clock, raw, state, duck, warehouse, bus, ctx, root, logCounts, flushMinutes };
}

/**
 * Warm start: the Kraken hot window closed by `from`, and `warmupMs` of 1m candles before it, as
 * ingest and the pull leave them. Returns, per symbol and interval, the next Kraken candle to publish.
 */
async function warmStart(rig: ReplayRig, input: ReplayInput, warmupMs: number): Promise<Map<string, Map<Interval, number>>> {
  const krakenNext = new Map<string, Map<Interval, number>>();
  for (const s of input.symbols) {
    const next = new Map<Interval, number>();
    for (const [iv, list] of input.kraken.get(s) as Map<Interval, Candle[]>) {
      let k = 0;
      while (k < list.length && (list[k] as Candle).openTime + INTERVAL_MS[iv] <= input.from) k++;
      await writeHotCandles(rig.raw, list.slice(Math.max(0, k - input.system.hotWindowCandles), k));
      next.set(iv, k);
    }
    krakenNext.set(s, next);
    if (warmupMs > 0) {
      const series = input.oneMinute.get(s) as CandleSeries;
      const candles: Candle[] = [];
      for (let i = 0; i < series.length; i++) {
        const t = series.openTime[i] as number;
        if (t >= input.from - warmupMs && t < input.from) candles.push(candleAt(series, i));
      }
      await writeHotCandles(rig.raw, candles);
    }
  }
  return krakenNext;
}

/** Minute step 1: each symbol's closed 1m candle opening at `openTime`, drained after each. Returns how many. */
async function publishOneMinute(rig: ReplayRig, input: ReplayInput, cursor: Map<string, number>, openTime: number): Promise<number> {
  let published = 0;
  for (const s of input.symbols) {
    const series = input.oneMinute.get(s) as CandleSeries;
    const k = cursor.get(s) as number;
    if (k >= series.length - 1 || (series.openTime[k] as number) !== openTime) continue;
    cursor.set(s, k + 1);
    const c = candleAt(series, k);
    await rig.bus.publish(
      TOPICS.bybitCandles,
      { candles: [c] },
      { orderingKey: s, attributes: { symbol: s, kind: 'live', candleKey: candleKey(c), firstOpenTime: String(c.openTime), lastOpenTime: String(c.openTime) } },
    );
    published++;
    await rig.bus.drain();
  }
  return published;
}

/** Minute step 2: the Kraken-venue candles closed by `t` to the hot store, the warehouse and `ohlc-data-kraken`. */
async function publishKraken(rig: ReplayRig, input: ReplayInput, krakenNext: Map<string, Map<Interval, number>>, t: number): Promise<void> {
  const rows: Row[] = [];
  for (const s of input.symbols) {
    const next = krakenNext.get(s) as Map<Interval, number>;
    for (const [iv, list] of input.kraken.get(s) as Map<Interval, Candle[]>) {
      let k = next.get(iv) as number;
      const batch: Candle[] = [];
      while (k < list.length && (list[k] as Candle).openTime + INTERVAL_MS[iv] <= t) batch.push(list[k++] as Candle);
      next.set(iv, k);
      if (batch.length === 0) continue;
      await writeHotCandles(rig.raw, batch);
      for (const c of batch) rows.push(candleToRow(c, t));
      await rig.bus.publish(TOPICS.krakenOhlc, { candles: batch }, { attributes: { venue: 'kraken', symbol: s, interval: iv }, orderingKey: `kraken:${s}:${iv}` });
    }
    await rig.bus.drain();
  }
  if (rows.length > 0) await rig.warehouse.insert('ohlcv', rows);
}

/** The macro-analysis job as registered (scheduled every 5 minutes in the cloud). */
const MACRO_ANALYSIS = SCHEDULED_FUNCTIONS.find((f) => f.name === 'macro-analysis')!;

/** Minute step 3: the macro-analysis job, one symbol at a time, drained in between. Returns the runs. */
async function runMacro(rig: ReplayRig, symbols: readonly string[]): Promise<number> {
  for (const s of symbols) {
    await runScheduled(rig.root, MACRO_ANALYSIS, { symbols: [s] });
    await rig.bus.drain();
  }
  return symbols.length;
}

/** The warm start, then every market minute of [from, to] in the order of the file header. */
async function replayMinutes(rig: ReplayRig, input: ReplayInput, opts: ReplayOptions): Promise<LoopResult> {
  const krakenNext = await warmStart(rig, input, opts.warmupMs ?? 0);
  const cursor = new Map<string, number>();
  for (const s of input.symbols) {
    const series = input.oneMinute.get(s) as CandleSeries;
    let k = 0;
    while (k < series.length && (series.openTime[k] as number) < input.from) k++;
    cursor.set(s, k);
  }
  const minutes = Math.round((input.to - input.from) / MINUTE) + 1;
  let published = 0;
  let macroRuns = 0;
  const loopStart = performance.now();
  for (let m = 0; m < minutes; m++) {
    const openTime = input.from + m * MINUTE;
    const t = openTime + MINUTE;
    await rig.clock.advance(t - rig.clock.now());
    published += await publishOneMinute(rig, input, cursor, openTime);
    await publishKraken(rig, input, krakenNext, t);
    if (t % MACRO_EVERY_MS === 0) macroRuns += await runMacro(rig, input.symbols);
    if (rig.warehouse instanceof WriteBehindWarehouse && (m + 1) % rig.flushMinutes === 0) await rig.warehouse.flush();
    opts.onProgress?.(m + 1, minutes, t);
  }
  await rig.bus.drain();
  if (rig.warehouse instanceof WriteBehindWarehouse) await rig.warehouse.flush();
  return { minutes, published, macroRuns, loopMs: performance.now() - loopStart };
}

/** Scan decisions (warehouse `signals`, the core's REJECTED rows apart) counted per (strategy, symbol). */
function signalCounts(signalRows: readonly Row[]): SignalCounts[] {
  const counts = new Map<string, SignalCounts>();
  for (const r of signalRows) {
    const key = `${String(r.strategy)}|${String(r.symbol)}`;
    const c = counts.get(key) ?? { strategy: String(r.strategy), symbol: String(r.symbol), TAKE: 0, NEAR_MISS: 0, SKIP: 0 };
    c[r.decision as 'TAKE' | 'NEAR_MISS' | 'SKIP']++;
    counts.set(key, c);
  }
  return [...counts.values()].sort((a, b) => a.strategy.localeCompare(b.strategy) || a.symbol.localeCompare(b.symbol));
}

/** The result of a finished run, from its warehouse, its account document and its bus. */
async function collectResult(rig: ReplayRig, input: ReplayInput, opts: ReplayOptions, loop: LoopResult, t0: number): Promise<ReplayResult> {
  // the trading core's rejections (REJECTED rows, shared/pipeline/execution.ts rejectionRow) apart
  const allSignalRows = await rig.duck.rows('signals');
  const signalRows = allSignalRows.filter((r) => r.decision !== REJECTED_DECISION);
  const rejectedRows = allSignalRows.filter((r) => r.decision === REJECTED_DECISION);
  const paperTrades = await rig.duck.rows('paper_trades');
  const doc = await rig.raw.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
  const account = doc?.state.account ?? null;
  const start = account?.startingEquity ?? input.strategies.risk.startingEquityUsd;
  const realized = account ? account.startingEquity + account.realizedPnl : start;
  const marked = account ? markedEquity(account) : start;
  return {
    from: input.from,
    to: input.to,
    symbols: input.symbols,
    minutes: loop.minutes,
    candlesPublished: loop.published,
    wallMs: performance.now() - t0,
    loopMs: loop.loopMs,
    duplicateDelivery: opts.duplicateDelivery ?? false,
    signals: signalCounts(signalRows),
    published: Object.fromEntries(Object.values(TOPICS).map((tp) => [tp, rig.bus.published(tp)])),
    trades: tradeStats(paperTrades),
    paperTrades,
    signalRows,
    rejectedRows,
    account,
    equity: { start, realized, marked, change: realized - start, unrealized: account ? unrealizedPnl(account) : 0, openPositions: account?.positions.length ?? 0 },
    deadLetters: rig.bus.deadLetters(),
    logCounts: rig.logCounts,
    macroRuns: loop.macroRuns,
  };
}

/** Runs the pipeline over the real 1m candles of `symbols` in [from, to]. */
export async function runReplay(opts: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const input = loadReplayInput(opts);
  const rig = await createRig(opts, input);
  try {
    const loop = await replayMinutes(rig, input, opts);
    await opts.inspect?.({ ctx: rig.ctx, state: rig.raw, warehouse: rig.duck, bus: rig.bus });
    return await collectResult(rig, input, opts, loop, t0);
  } finally {
    await rig.bus.close();
    await rig.state.close();
    await rig.warehouse.close();
  }
}
