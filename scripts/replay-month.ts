/**
 * The month of REAL data through the REAL pipeline, in one process and as fast as the machine goes.
 * `npx tsx scripts/replay-month.ts --help` for the options.
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
 * DATA: the kit has no Kraken data for this month (its Kraken files are 2023). The Kraken-venue
 * candles are therefore the SAME real Bybit linear prices: 5m and 15m from the kit's Bybit 5m / 15m
 * files (90 days: they also give the macro engine its 4h history before the month) and 1h / 4h
 * resampled from the 15m file (shared/strategies/resample.ts, complete buckets only). The kit's README
 * says the 1m data re-aggregates exactly to its 5m data, so all intervals agree.
 * Snapshots (15 s forming candle + order book) are NOT replayed: the kit has no order-book recording
 * for this month (its websocket recording is 45 s from 2026), and forming candles would have to be
 * invented; the snapshot path is exercised by `npm start` (replay servers) and the pipeline tests.
 *
 * A slice: `from` / `to` bound the published open times; `warmupMs` of 1m candles before `from` are
 * written to the hot store first (as candle-ingest would have), so the engines start warm.
 *
 * `--check` (InvariantMonitor) watches EVERY committed transaction on the paper account document over
 * the whole run and asserts: open scalp risk never above `risk.scalp.totalRiskPct` % of equity; no
 * group placed while the BTC regime is PANIC; none on a symbol in cooldown; and at the end the sum of
 * the closed trades' P&L (`paper_trades`) equals the account's realized P&L and the equity change.
 * `--duplicate` replays the same range a second time with every message delivered twice and asserts
 * identical trades, signals, positions, counters and equity. `--stress-protections` uses the CI day
 * test's tightened thresholds (PANIC at -1.5 % in 1h / -3 % in 4h, CAUTION at -0.8 %, cooldown after
 * every stop) so the PANIC and cooldown invariants are exercised, not vacuous.
 */
import { fail, parseTime } from './cli.js';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { InMemoryBus, type DeadLetterRecord } from '../infra/bus/memory.js';
import { createRoot, type Services } from '../infra/runtime/root.js';
import { SqliteStateStore } from '../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../infra/warehouse/duckdb.js';
import { runScheduled, subscribeFunctions } from '../infra/runtime/bind.js';
import { SCHEDULED_FUNCTIONS } from '../infra/runtime/registry.js';
import { staticConfig } from '../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../shared/config/system.js';
import { createLogger, type Logger, type Severity } from '../shared/log.js';
import { writeHotCandles } from '../shared/market/hot-store.js';
import { candleKey, INTERVAL_MS, type Candle, type Interval } from '../shared/market/types.js';
import { ManualClock } from '../shared/ports/clock.js';
import type { StateStore } from '../shared/ports/state.js';
import type { CandleRange, Row, Warehouse } from '../shared/ports/warehouse.js';
import type { TableName } from '../shared/warehouse-schema.js';
import { prepareRows } from '../infra/warehouse/rows.js';
import { resample } from '../shared/strategies/resample.js';
import { candleAt, seriesFromCsv, type CandleSeries } from '../shared/strategies/series.js';
import { TOPICS } from '../shared/topics.js';
import { accountEquity, markedEquity, openRisk, unrealizedPnl } from '../shared/trading/account.js';
import { cooldownUntil } from '../shared/protection/limiter.js';
import { protectionsConfigSchema } from '../shared/config/strategy.js';
import type { DocData, DocSnapshot, Query, Transaction, WriteOp } from '../shared/ports/state.js';
import type { Clock } from '../shared/ports/clock.js';
import type { AccountState } from '../shared/trading/model.js';
import { tradingDocPath, type TradingDoc } from '../shared/trading/store.js';
import { candleToRow } from '../shared/warehouse-schema.js';
import { PAPER_ACCOUNT_ID, REJECTED_DECISION } from '../shared/pipeline/execution.js';

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const MACRO_EVERY_MS = 5 * 60_000;
const MINUTE = INTERVAL_MS['1m'];
/** Kraken-venue intervals written for the macro engine (SystemConfig kraken.intervals). */
const KRAKEN_SOURCES: Record<string, { file: string; from: Interval }> = {
  '5m': { file: '5m', from: '5m' },
  '15m': { file: '15m', from: '15m' },
  '1h': { file: '15m', from: '15m' },
  '4h': { file: '15m', from: '15m' },
};

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

export interface SignalCounts {
  strategy: string;
  symbol: string;
  TAKE: number;
  NEAR_MISS: number;
  SKIP: number;
}

export interface TradeStats {
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
export const DEFAULT_WAREHOUSE_FLUSH_MINUTES = 60;

/**
 * A Warehouse that validates rows on insert (the adapter's own checks) and appends them to the
 * underlying DuckDB warehouse in one batch per table on `flush()`. Each DuckDB insert costs a few
 * milliseconds of fixed overhead (staging table, appender, merge), which would dominate a replay that
 * inserts after every candle; batching keeps the same rows and the same key idempotency (DuckDB merges
 * on the table key, and a batch is de-duplicated by key). Nothing in the pipeline reads the warehouse
 * back while the replay runs (engines read the hot store), so write-behind changes no decision.
 */
export class WriteBehindWarehouse implements Warehouse {
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

  async close(): Promise<void> {
    await this.flush();
    await this.inner.close();
  }
}

function loadSeries(dataDir: string, symbol: string, suffix: string, interval: Interval): CandleSeries {
  const file = join(dataDir, 'bybit_linear', `${symbol}_${suffix}.csv`);
  return seriesFromCsv(readFileSync(file, 'utf8'), { symbol, interval, venue: 'bybit' });
}

/** Candles of `s`, as `venue`/`interval`, keeping only complete buckets when `minutes` is given. */
function candlesOf(s: CandleSeries, venue: Candle['venue'], interval: Interval, minutes?: Int32Array, full?: number): Candle[] {
  const out: Candle[] = [];
  for (let i = 0; i < s.length; i++) {
    if (minutes && full !== undefined && (minutes[i] as number) < full) continue;
    out.push({ ...candleAt(s, i), venue, interval });
  }
  return out;
}

/** Kraken-venue candles of one symbol per interval (see DATA above), ascending. */
export function krakenCandles(dataDir: string, symbol: string, intervals: readonly Interval[]): Map<Interval, Candle[]> {
  const out = new Map<Interval, Candle[]>();
  const loaded = new Map<string, CandleSeries>();
  for (const iv of intervals) {
    const src = KRAKEN_SOURCES[iv];
    if (!src) throw new Error(`replay: no source for Kraken interval ${iv}`);
    let base = loaded.get(src.file);
    if (!base) {
      base = loadSeries(dataDir, symbol, src.file, src.from);
      loaded.set(src.file, base);
    }
    if (iv === src.from) out.set(iv, candlesOf(base, 'kraken', iv));
    else {
      const r = resample(base, iv);
      out.set(iv, candlesOf(r.series, 'kraken', iv, r.minutes, INTERVAL_MS[iv] / INTERVAL_MS[src.from]));
    }
  }
  return out;
}

/** The closed trade groups of the `paper_trades` rows, per strategy and in total. */
export function tradeStats(rows: readonly Row[]): TradeStats[] {
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

// ---------------------------------------------------------------------------------------------
// Invariants over a whole run (--check, --duplicate)

/** Relative tolerance of the risk cap (float sums of |entry - stop| x qty). */
export const RISK_CAP_TOLERANCE = 1e-9;
/** Absolute tolerance (USD) of P&L sums over a month of trades. */
export const PNL_TOLERANCE_USD = 1e-6;
/** Violations kept verbatim in the report (all are counted). */
const MAX_VIOLATIONS_KEPT = 50;

/** One committed write of the paper account document. */
export interface AccountWrite {
  now: number;
  before: TradingDoc | undefined;
  after: TradingDoc;
  /** Signal markers written in the same transaction (decisions). */
  markers: DocData[];
}

/**
 * A StateStore decorator that hands every COMMITTED write of one account document (the document
 * before, after, and the signal markers of the same transaction) to `observe`. Only the final attempt
 * of a retried transaction counts (earlier attempts wrote nothing).
 */
export class AccountWriteTap implements StateStore {
  private readonly docPath: string;

  constructor(
    private readonly inner: StateStore,
    private readonly clock: Clock,
    private readonly observe: (w: AccountWrite) => void,
    accountId = PAPER_ACCOUNT_ID,
  ) {
    this.docPath = tradingDocPath(accountId);
  }

  get<T = DocData>(path: string): Promise<T | undefined> {
    return this.inner.get<T>(path);
  }
  async set(path: string, data: DocData): Promise<void> {
    if (path === this.docPath) throw new Error('invariant: the trading document is written outside a transaction');
    await this.inner.set(path, data);
  }
  merge(path: string, data: DocData): Promise<void> {
    if (path === this.docPath) throw new Error('invariant: the trading document is merged outside a transaction');
    return this.inner.merge(path, data);
  }
  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }
  query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    return this.inner.query<T>(collection, q);
  }
  batch(ops: WriteOp[]): Promise<void> {
    if (ops.some((o) => o.path === this.docPath)) throw new Error('invariant: the trading document is written in a batch');
    return this.inner.batch(ops);
  }
  create(path: string, data: DocData): Promise<boolean> {
    return this.inner.create(path, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    type Attempt = { before: TradingDoc | undefined; after: TradingDoc | undefined; markers: DocData[] };
    let attempt: Attempt | undefined;
    const docPath = this.docPath;
    const markerPrefix = `${docPath}/applied/`;
    const result = await this.inner.runTransaction(async (tx) => {
      const cur: Attempt = { before: undefined, after: undefined, markers: [] };
      attempt = cur;
      const wrapped: Transaction = {
        async get<U = DocData>(path: string) {
          const v = await tx.get<U>(path);
          if (path === docPath) cur.before = v as unknown as TradingDoc | undefined;
          return v;
        },
        query: (c, q) => tx.query(c, q),
        set(path, data) {
          // the core never mutates a state it returned: keeping the reference is safe (no clone)
          if (path === docPath) cur.after = data as unknown as TradingDoc;
          else if (path.startsWith(markerPrefix)) cur.markers.push(data);
          tx.set(path, data);
        },
        merge(path, data) {
          if (path === docPath) throw new Error('invariant: the trading document is merged, not set');
          tx.merge(path, data);
        },
        delete: (p) => tx.delete(p),
      };
      return fn(wrapped);
    });
    if (attempt?.after) this.observe({ now: this.clock.now(), before: attempt.before, after: attempt.after, markers: attempt.markers });
    return result;
  }
}

export interface InvariantReport {
  ok: boolean;
  /** Committed writes of the account document that were checked. */
  transactions: number;
  placements: number;
  /** Highest open scalp risk seen, % of equity, and the cap. */
  maxScalpRiskPct: number;
  riskCapPct: number;
  /** Committed writes per BTC regime in force after them. */
  regimeWrites: Record<string, number>;
  /** Signal decisions: accepted and each rejection reason. */
  decisions: Record<string, number>;
  violationCount: number;
  violations: string[];
  pnl: { trades: number; tradePnlSum: number; realizedPnl: number; equityChange: number; ok: boolean };
  duplicate?: { identical: boolean; differences: string[] };
}

/** Checks the risk cap, PANIC and cooldown rules on every committed account write; P&L at the end. */
export class InvariantMonitor {
  private transactions = 0;
  private placements = 0;
  private maxRiskFraction = 0;
  private violationCount = 0;
  private readonly violations: string[] = [];
  private readonly regimeWrites: Record<string, number> = {};
  private readonly decisions: Record<string, number> = {};
  private readonly cap: number;

  constructor(private readonly strategies: StrategyConfigs) {
    this.cap = strategies.risk.scalp.totalRiskPct / 100;
  }

  /** For ReplayOptions.wrapState. */
  readonly wrap = (state: StateStore, clock: ManualClock): StateStore => new AccountWriteTap(state, clock, (w) => this.observe(w));

  private violation(msg: string): void {
    this.violationCount++;
    if (this.violations.length < MAX_VIOLATIONS_KEPT) this.violations.push(msg);
  }

  observe(w: AccountWrite): void {
    this.transactions++;
    const acct = w.after.state.account;
    const prot = w.after.state.protections;
    const regime = prot.regime.current;
    this.regimeWrites[regime] = (this.regimeWrites[regime] ?? 0) + 1;
    const equity = accountEquity(acct);
    const risk = openRisk(acct, 'SCALP');
    if (risk / equity > this.maxRiskFraction) this.maxRiskFraction = risk / equity;
    const iso = new Date(w.now).toISOString();
    if (risk > equity * this.cap * (1 + RISK_CAP_TOLERANCE)) this.violation(`${iso}: open scalp risk ${risk.toFixed(4)} > ${this.cap * 100} % of equity ${equity.toFixed(2)}`);
    const beforeIds = new Set((w.before?.state.account.positions ?? []).map((p) => p.groupId));
    for (const p of acct.positions) {
      if (beforeIds.has(p.groupId)) continue;
      this.placements++;
      if (regime === 'PANIC') this.violation(`${iso}: ${p.groupId} placed during PANIC`);
      const cd = cooldownUntil(prot, p.symbol, w.now);
      if (cd !== null) this.violation(`${iso}: ${p.groupId} placed while ${p.symbol} cools down until ${new Date(cd).toISOString()}`);
    }
    for (const m of w.markers) {
      const d = m.decision as { accepted?: boolean; reason?: string } | undefined;
      if (!d) continue;
      const key = d.accepted ? 'accepted' : String(d.reason);
      this.decisions[key] = (this.decisions[key] ?? 0) + 1;
    }
  }

  /** The report of a finished run (P&L identity from its warehouse rows and account). */
  report(r: ReplayResult): InvariantReport {
    const tradePnlSum = r.paperTrades.reduce((a, row) => a + Number(row.pnl), 0);
    const realizedPnl = r.account?.realizedPnl ?? 0;
    const pnlOk = Math.abs(tradePnlSum - realizedPnl) <= PNL_TOLERANCE_USD && Math.abs(tradePnlSum - r.equity.change) <= PNL_TOLERANCE_USD;
    if (!pnlOk) this.violation(`P&L: closed trades sum ${tradePnlSum} vs realized ${realizedPnl} vs equity change ${r.equity.change}`);
    if ((this.decisions.accepted ?? 0) !== this.placements) this.violation(`accepted decisions ${this.decisions.accepted ?? 0} != placements ${this.placements}`);
    return {
      ok: this.violationCount === 0,
      transactions: this.transactions,
      placements: this.placements,
      maxScalpRiskPct: this.maxRiskFraction * 100,
      riskCapPct: this.cap * 100,
      regimeWrites: { ...this.regimeWrites },
      decisions: { ...this.decisions },
      violationCount: this.violationCount,
      violations: [...this.violations],
      pnl: { trades: r.trades.find((t) => t.strategy === 'all')?.trades ?? 0, tradePnlSum, realizedPnl, equityChange: r.equity.change, ok: pnlOk },
    };
  }
}

function sortedBy(rows: readonly Row[], key: string): Row[] {
  return [...rows].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
}

/** Differences between a normal run and a duplicate-delivery run of the same range (empty = identical). */
export function compareRuns(a: ReplayResult, b: ReplayResult): string[] {
  const out: string[] = [];
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${what} differ`);
  };
  same('paper_trades rows', sortedBy(a.paperTrades, 'trade_id'), sortedBy(b.paperTrades, 'trade_id'));
  same('signals rows', sortedBy(a.signalRows, 'signal_id'), sortedBy(b.signalRows, 'signal_id'));
  same('rejected signals rows', sortedBy(a.rejectedRows, 'signal_id'), sortedBy(b.rejectedRows, 'signal_id'));
  same('account realized P&L', a.account?.realizedPnl, b.account?.realizedPnl);
  same('account counters', a.account?.counters, b.account?.counters);
  same('open positions', a.account?.positions, b.account?.positions);
  same('equity', a.equity, b.equity);
  same('trade stats', a.trades, b.trades);
  if (b.deadLetters.length > 0) out.push(`${b.deadLetters.length} dead letters in the duplicate run`);
  return out;
}

/** The CI day test's tightened protections (PANIC and cooldowns really happen on the kit's data). */
export function stressProtections(s: StrategyConfigs): StrategyConfigs {
  const c = structuredClone(s);
  c.protections.regime.panic = { drop1hPct: 1.5, drop4hPct: 3, sizeMultiplier: 0 };
  c.protections.regime.caution.drop1hPct = 0.8;
  c.protections.tradeLimiter.consecutiveStops = 1;
  c.protections = protectionsConfigSchema.parse(c.protections);
  return c;
}

export function formatInvariants(rep: InvariantReport): string {
  const out: string[] = [];
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const riskOk = !rep.violations.some((v) => v.includes('open scalp risk'));
  const panicOk = !rep.violations.some((v) => v.includes('during PANIC'));
  const cdOk = !rep.violations.some((v) => v.includes('cools down'));
  out.push(`Invariants over ${rep.transactions} committed account transactions (${rep.placements} groups placed):`);
  out.push(`  ${mark(riskOk)} open scalp risk <= ${rep.riskCapPct} % of equity (max seen ${rep.maxScalpRiskPct.toFixed(4)} %)`);
  out.push(`  ${mark(panicOk)} no entry during PANIC (writes by regime: ${Object.entries(rep.regimeWrites).map(([k, n]) => `${k} ${n}`).join(', ')}; regime_panic rejections ${rep.decisions.regime_panic ?? 0})`);
  out.push(`  ${mark(cdOk)} no entry on a symbol in cooldown (symbol_cooldown rejections ${rep.decisions.symbol_cooldown ?? 0})`);
  out.push(`  ${mark(rep.pnl.ok)} sum of ${rep.pnl.trades} closed trades' P&L ${rep.pnl.tradePnlSum.toFixed(6)} = realized P&L ${rep.pnl.realizedPnl.toFixed(6)} = equity change ${rep.pnl.equityChange.toFixed(6)}`);
  if (rep.duplicate) out.push(`  ${mark(rep.duplicate.identical)} every message delivered twice: identical trades, signals, positions, counters, equity${rep.duplicate.identical ? '' : ` (${rep.duplicate.differences.join('; ')})`}`);
  out.push(`  decisions: ${Object.entries(rep.decisions).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (rep.violationCount > 0) {
    out.push(`  ${rep.violationCount} violation(s)${rep.violationCount > rep.violations.length ? ` (first ${rep.violations.length})` : ''}:`);
    for (const v of rep.violations) out.push(`    ${v}`);
  }
  out.push(rep.ok && (rep.duplicate?.identical ?? true) ? 'ALL INVARIANTS HOLD' : 'INVARIANTS VIOLATED');
  return out.join('\n');
}

/** Runs the pipeline over the real 1m candles of `symbols` in [from, to]. */
export async function runReplay(opts: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const symbols = opts.symbols ?? DEFAULT_SYMBOLS;
  const baseSystem = opts.system ?? DEFAULT_SYSTEM_CONFIG;
  const system: SystemConfig = { ...baseSystem, symbols: baseSystem.symbols.map((s) => ({ ...s, enabled: symbols.includes(s.symbol) })) };
  for (const s of symbols) if (!system.symbols.some((x) => x.symbol === s)) throw new Error(`replay: ${s} is not a configured symbol`);
  const strategies = opts.strategies ?? DEFAULT_STRATEGY_CONFIGS;

  // Data.
  const oneMinute = new Map<string, CandleSeries>();
  for (const s of symbols) oneMinute.set(s, loadSeries(opts.dataDir, s, '1m', '1m'));
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

  // Adapters and context.
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
  const clock = new ManualClock(from);
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
    config: staticConfig(system, strategies),
    endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' },
  };
  // The notifier's outbox must never sleep on this manual clock (it only moves between deliveries):
  // what is due is sent, the rest on a later drain.
  const root = createRoot(ctx, { telegram: { maxDrainWaitMs: 0 } });
  await root.telegram();
  const macroAnalysis = SCHEDULED_FUNCTIONS.find((f) => f.name === 'macro-analysis')!;
  subscribeFunctions(bus, root);
  for (const [topic, tap] of Object.entries(opts.taps ?? {})) {
    if (!tap) continue;
    bus.subscribe({
      name: `replay-tap--${topic}`,
      topic,
      handler: (e) => tap(JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')), e.data.message.attributes ?? {}),
    });
  }

  try {
    // Warm start: Kraken hot window closed by `from`, and the 1m warm-up, as ingest and the pull leave them.
    const krakenNext = new Map<string, Map<Interval, number>>();
    for (const s of symbols) {
      const next = new Map<Interval, number>();
      for (const [iv, list] of kraken.get(s) as Map<Interval, Candle[]>) {
        let k = 0;
        while (k < list.length && (list[k] as Candle).openTime + INTERVAL_MS[iv] <= from) k++;
        await writeHotCandles(raw, list.slice(Math.max(0, k - system.hotWindowCandles), k));
        next.set(iv, k);
      }
      krakenNext.set(s, next);
      const warm = opts.warmupMs ?? 0;
      if (warm > 0) {
        const series = oneMinute.get(s) as CandleSeries;
        const candles: Candle[] = [];
        for (let i = 0; i < series.length; i++) {
          const t = series.openTime[i] as number;
          if (t >= from - warm && t < from) candles.push(candleAt(series, i));
        }
        await writeHotCandles(raw, candles);
      }
    }

    const cursor = new Map<string, number>();
    for (const s of symbols) {
      const series = oneMinute.get(s) as CandleSeries;
      let k = 0;
      while (k < series.length && (series.openTime[k] as number) < from) k++;
      cursor.set(s, k);
    }
    const totalMinutes = Math.round((to - from) / MINUTE) + 1;
    let published = 0;
    let macroRuns = 0;
    const loopStart = performance.now();
    for (let m = 0; m < totalMinutes; m++) {
      const openTime = from + m * MINUTE;
      const t = openTime + MINUTE;
      await clock.advance(t - clock.now());
      // 1. closed 1m candles, one symbol at a time.
      for (const s of symbols) {
        const series = oneMinute.get(s) as CandleSeries;
        const k = cursor.get(s) as number;
        if (k >= series.length - 1 || (series.openTime[k] as number) !== openTime) continue;
        cursor.set(s, k + 1);
        const c = candleAt(series, k);
        await bus.publish(
          TOPICS.bybitCandles,
          { candles: [c] },
          { orderingKey: s, attributes: { symbol: s, kind: 'live', candleKey: candleKey(c), firstOpenTime: String(c.openTime), lastOpenTime: String(c.openTime) } },
        );
        published++;
        await bus.drain();
      }
      // 2. Kraken-venue candles closed by t.
      const rows: Row[] = [];
      for (const s of symbols) {
        const next = krakenNext.get(s) as Map<Interval, number>;
        for (const [iv, list] of kraken.get(s) as Map<Interval, Candle[]>) {
          let k = next.get(iv) as number;
          const batch: Candle[] = [];
          while (k < list.length && (list[k] as Candle).openTime + INTERVAL_MS[iv] <= t) batch.push(list[k++] as Candle);
          next.set(iv, k);
          if (batch.length === 0) continue;
          await writeHotCandles(raw, batch);
          for (const c of batch) rows.push(candleToRow(c, t));
          await bus.publish(TOPICS.krakenOhlc, { candles: batch }, { attributes: { venue: 'kraken', symbol: s, interval: iv }, orderingKey: `kraken:${s}:${iv}` });
        }
        await bus.drain();
      }
      if (rows.length > 0) await warehouse.insert('ohlcv', rows);
      // 3. macro analysis every 5 minutes of market time.
      if (t % MACRO_EVERY_MS === 0) {
        for (const s of symbols) {
          await runScheduled(root, macroAnalysis, { symbols: [s] });
          macroRuns++;
          await bus.drain();
        }
      }
      if (warehouse instanceof WriteBehindWarehouse && (m + 1) % flushMinutes === 0) await warehouse.flush();
      opts.onProgress?.(m + 1, totalMinutes, t);
    }
    await bus.drain();
    if (warehouse instanceof WriteBehindWarehouse) await warehouse.flush();
    const loopMs = performance.now() - loopStart;
    await opts.inspect?.({ ctx, state: raw, warehouse: duck, bus });

    // Results.
    // scan decisions; the trading core's rejections (REJECTED rows, shared/pipeline/execution.ts rejectionRow) apart
    const allSignalRows = await duck.rows('signals');
    const signalRows = allSignalRows.filter((r) => r.decision !== REJECTED_DECISION);
    const rejectedRows = allSignalRows.filter((r) => r.decision === REJECTED_DECISION);
    const counts = new Map<string, SignalCounts>();
    for (const r of signalRows) {
      const key = `${String(r.strategy)}|${String(r.symbol)}`;
      const c = counts.get(key) ?? { strategy: String(r.strategy), symbol: String(r.symbol), TAKE: 0, NEAR_MISS: 0, SKIP: 0 };
      c[r.decision as 'TAKE' | 'NEAR_MISS' | 'SKIP']++;
      counts.set(key, c);
    }
    const paperTrades = await duck.rows('paper_trades');
    const doc = await raw.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
    const account = doc?.state.account ?? null;
    const start = account?.startingEquity ?? strategies.risk.startingEquityUsd;
    const realized = account ? account.startingEquity + account.realizedPnl : start;
    const marked = account ? markedEquity(account) : start;
    return {
      from,
      to,
      symbols,
      minutes: totalMinutes,
      candlesPublished: published,
      wallMs: performance.now() - t0,
      loopMs,
      duplicateDelivery: opts.duplicateDelivery ?? false,
      signals: [...counts.values()].sort((a, b) => a.strategy.localeCompare(b.strategy) || a.symbol.localeCompare(b.symbol)),
      published: Object.fromEntries(Object.values(TOPICS).map((tp) => [tp, bus.published(tp)])),
      trades: tradeStats(paperTrades),
      paperTrades,
      signalRows,
      rejectedRows,
      account,
      equity: {
        start,
        realized,
        marked,
        change: realized - start,
        unrealized: account ? unrealizedPnl(account) : 0,
        openPositions: account?.positions.length ?? 0,
      },
      deadLetters: bus.deadLetters(),
      logCounts,
      macroRuns,
    };
  } finally {
    await bus.close();
    await state.close();
    await warehouse.close();
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const HELP = `Usage: npx tsx scripts/replay-month.ts [options]

Drives the kit's month of REAL Bybit 1m candles (BTC, ETH, SOL) through the real function handlers
(candle-ingest, micro-scalp, execution, macro-analysis every 5 minutes) on the in-process bus with
the embedded SQLite state and DuckDB warehouse, on a manual clock, as fast as possible. Prints the
scan decisions per strategy and symbol and the paper-trading results.

Options:
  --data DIR               the kit's data folder (default ../shared/data)
  --symbols A,B            symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --from ISO --to ISO      publish only 1m candles opening in [from, to] (UTC, e.g. 2025-06-10T00:00Z)
  --days N                 publish N days from --from (or from the start)
  --warmup-hours N         1m hours before --from written to the hot store first (default 0)
  --duplicate-delivery     deliver every bus message twice (idempotency check)
  --check                  assert the invariants over the whole run after every committed account
                           transaction (risk cap, no entry in PANIC or cooldown) and the P&L identity;
                           exit code 1 when one fails
  --duplicate              also replay the range with every message delivered twice and assert
                           identical trades / signals / positions / equity (implies --check)
  --stress-protections     the CI day test's tightened PANIC / CAUTION / cooldown thresholds
  --state FILE             keep the SQLite state in FILE (default in memory)
  --warehouse FILE         keep the DuckDB warehouse in FILE (default in memory)
  --json                   print the summary as JSON instead of tables
  --verbose                print WARNING and ERROR log lines (default: counted only)
  -h, --help               this help
`;

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

export function formatSummary(r: ReplayResult): string {
  const out: string[] = [];
  const iso = (t: number) => new Date(t).toISOString().slice(0, 16) + 'Z';
  out.push(`Replay ${iso(r.from)} -> ${iso(r.to)}: ${r.minutes} minutes, ${r.candlesPublished} 1m candles, ${r.macroRuns} macro runs, wall ${(r.wallMs / 1000).toFixed(1)} s${r.duplicateDelivery ? ' (every message delivered twice)' : ''}`);
  out.push('');
  out.push('Scan decisions (warehouse signals):');
  out.push(`${'strategy'.padEnd(18)} ${'symbol'.padEnd(8)} ${pad('TAKE', 7)} ${pad('NEAR_MISS', 10)} ${pad('SKIP', 7)}`);
  for (const c of r.signals) out.push(`${c.strategy.padEnd(18)} ${c.symbol.padEnd(8)} ${pad(c.TAKE, 7)} ${pad(c.NEAR_MISS, 10)} ${pad(c.SKIP, 7)}`);
  out.push('');
  out.push('Paper trades (closed trade groups):');
  out.push(`${'strategy'.padEnd(18)} ${pad('trades', 7)} ${pad('wins', 6)} ${pad('win %', 7)} ${pad('P&L USD', 11)} ${pad('fees USD', 10)}`);
  for (const t of r.trades) {
    out.push(`${t.strategy.padEnd(18)} ${pad(t.trades, 7)} ${pad(t.wins, 6)} ${pad((t.winRate * 100).toFixed(1), 7)} ${pad(t.pnl.toFixed(2), 11)} ${pad(t.fees.toFixed(2), 10)}`);
  }
  const e = r.equity;
  out.push('');
  out.push(`equity: start ${e.start.toFixed(2)}, realized ${e.realized.toFixed(2)} (change ${e.change >= 0 ? '+' : ''}${e.change.toFixed(2)}, ${((e.change / e.start) * 100).toFixed(2)} %), marked ${e.marked.toFixed(2)} with ${e.openPositions} open`);
  out.push(`published: ${Object.entries(r.published).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  out.push(`dead letters: ${r.deadLetters.length}; log lines: ${Object.entries(r.logCounts).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        data: { type: 'string', default: '../shared/data' },
        symbols: { type: 'string', default: DEFAULT_SYMBOLS.join(',') },
        from: { type: 'string' },
        to: { type: 'string' },
        days: { type: 'string' },
        'warmup-hours': { type: 'string', default: '0' },
        'duplicate-delivery': { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        duplicate: { type: 'boolean', default: false },
        'stress-protections': { type: 'boolean', default: false },
        state: { type: 'string' },
        warehouse: { type: 'string' },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const symbols = v.symbols.split(',').map((s) => s.trim()).filter(Boolean);
  let from = parseTime(v.from, '--from');
  let to = parseTime(v.to, '--to');
  const days = v.days === undefined ? undefined : Number(v.days);
  if (days !== undefined && !(days > 0)) fail(`--days must be a positive number (got '${v.days}')`);
  const warmupHours = Number(v['warmup-hours']);
  if (!(warmupHours >= 0)) fail(`--warmup-hours must be >= 0 (got '${v['warmup-hours']}')`);
  if (days !== undefined) {
    if (from === undefined) {
      const first = seriesFromCsv(readFileSync(join(resolve(v.data), 'bybit_linear', `${symbols[0]}_1m.csv`), 'utf8'), { symbol: symbols[0] as string, interval: '1m', venue: 'bybit' });
      from = first.openTime[0] as number;
    }
    to = from + days * 24 * 60 * MINUTE - MINUTE;
  }
  const check = v.check || v.duplicate;
  const strategies = v['stress-protections'] ? stressProtections(DEFAULT_STRATEGY_CONFIGS) : DEFAULT_STRATEGY_CONFIGS;
  const monitor = check ? new InvariantMonitor(strategies) : undefined;
  const replay = async (label: string, duplicateDelivery: boolean, wrapState?: ReplayOptions['wrapState']) => {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} min | {market} | eta {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        // Also when stderr is not a terminal (CI logs): a line every 15 s.
        noTTYOutput: true,
        notTTYSchedule: 15_000,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    const r = await runReplay({
      dataDir: resolve(v.data),
      symbols,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      warmupMs: warmupHours * 60 * MINUTE,
      duplicateDelivery,
      strategies,
      ...(wrapState ? { wrapState } : {}),
      ...(v.state && !duplicateDelivery ? { stateFile: resolve(v.state) } : {}),
      ...(v.warehouse && !duplicateDelivery ? { warehouseFile: resolve(v.warehouse) } : {}),
      ...(v.verbose ? { logSink: (line: string) => process.stderr.write(line + '\n') } : {}),
      onProgress: (done, total, t) => {
        const market = new Date(t).toISOString().slice(0, 16) + 'Z';
        if (!started) {
          bar.start(total, 0, { market });
          started = true;
        }
        if (done % 30 === 0 || done === total) bar.update(done, { market });
      },
    });
    if (started) bar.stop();
    return r;
  };
  const result = await replay('replay', v['duplicate-delivery'] && !v.duplicate, monitor?.wrap);
  const invariants = monitor?.report(result);
  if (invariants && v.duplicate) {
    const dup = await replay('replay x2', true);
    const differences = compareRuns(result, dup);
    invariants.duplicate = { identical: differences.length === 0, differences };
    if (dup.deadLetters.length > 0 || (dup.logCounts.ERROR ?? 0) > 0) process.exitCode = 1;
  }
  if (v.json) {
    const { paperTrades: _p, signalRows: _s, rejectedRows: _r, account: _a, ...summary } = result;
    process.stdout.write(JSON.stringify({ ...summary, deadLetters: result.deadLetters.map((d) => ({ subscription: d.subscription, reason: d.reason })), ...(invariants ? { invariants } : {}) }, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(result) + '\n');
    if (invariants) process.stdout.write('\n' + formatInvariants(invariants) + '\n');
  }
  if (result.deadLetters.length > 0 || (result.logCounts.ERROR ?? 0) > 0) process.exitCode = 1;
  if (invariants && (!invariants.ok || invariants.duplicate?.identical === false)) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`replay failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
