/**
 * The backtester's run loop (SPEC 7). It implements NO trading rule of its own: every decision is
 * made by the production code, called with the same inputs, in the same order and with the same
 * `now` values as the live pipeline (shared/pipeline/micro-scalp.ts + shared/pipeline/execution.ts, as driven
 * by scripts/replay-month.ts):
 *
 * Per 1m candle c of symbol S closing at t (candles merged by open time across symbols; at equal
 * times in the given symbol order, as the holder publishes them and the replay drains them):
 *   1. what the live pipeline did after the 1m candles of every earlier minute mark T < t, in time
 *      order (`flush`): with `macroSeries`, the Kraken feed candles closed at T (SWING feed: kraken
 *      5m; `applyCandle(state, c, null, cfg, T)`, symbol order) and then the MACRO runs of T (every
 *      5 minutes, per symbol: `applyBias(now = T)`, then its swing signals `applySignal(state, sig,
 *      { bias of the slot, 24h volatility at the last 1m candle before sig.ts }, cfg, T)`), see
 *      macro.ts; or, without it, the given bias updates (`BiasUpdate`, applied at their `now`). The
 *      latest bias per symbol is what the execution reads as `bias/{symbol}`;
 *   2. `applyCandle(state, c, { volatility24hPct, regimeInputs on the reference symbol }, cfg, t)`:
 *      fills and exits of open groups (paper-fills.ts: limits fill only when traded through, stop before
 *      take profit inside a candle, fees + slippage per side), protections;
 *   3. every enabled scalp strategy that evaluates closes, in SCALP_STRATEGIES order, decides on
 *      the CLOSED candle c (`evaluateAt` reads indices <= c only), with the live level set
 *      (micro.ts `levelsAt`) and no book (the order-book flip is then 'unavailable');
 *   3b. with `predict` (walk-forward learning, shared/backtest/learning.ts), each TAKE / NEAR_MISS
 *      gets the model's prediction as the live engine attaches it (shared/learning/model-cache.ts
 *      `withPrediction`), before it is recorded and converted (the same for swing scans, macro slots);
 *   4. a TAKE becomes a Signal through shared/strategies/scalp/signal.ts `scalpSignal` (THE one
 *      conversion); a signal of an emitting strategy goes to `applySignal(state, signal, { bias,
 *      volatility24hPct at c }, cfg, t)`; its limit entry can fill from the NEXT candle on
 *      (the book ignores candles opening before the signal time).
 *   5. after the last candle, the same `flush` up to `to` + 1m (the replay's last minute mark).
 * The trading state is created on the first input (`createTradingState(accountId, cfg, t)`), as
 * TradingStore does, with the live account id, so group / trade ids equal the live ones.
 *
 * Indicator windows (the one place where the backtester has a choice):
 * - 'live-window': exactly what live computes. The live engine prepares each strategy on the LAST
 *   `candleWindow` closed candles (micro.ts: `w.series(i + 1 - len, i + 1)`), so EMA / Wilder RSI /
 *   ATR are seeded at the window start; this mode does the same per candle (about 0.35 ms per
 *   strategy per candle: tulind on 200 candles).
 * - 'full' (default, for grids): each strategy is prepared ONCE over the whole series (indicators
 *   shared across configs by the series' IndicatorCache) and evaluated at every index. Indicators
 *   differ from the window's only by the window seeding, which decays as (1 - 1/period)^window
 *   (RSI(14) over 200 candles: ~1e-6 of the seed error). Measured on the kit's month of BTC/ETH/SOL
 *   1m data with both strategies: every decision (57,577) identical to 'live-window'; with fixed
 *   exits (the default) the trades are identical to the last bit (they depend on prices only); with
 *   ATR exits the same trades (ids, times, exit reasons) at prices / P&L within 1.7e-5 relative (the
 *   ATR's seeding moves TP / SL in the 6th digit).
 * The MACRO engine always evaluates the live hot windows (macro.ts; it runs every 5 minutes only,
 * ~1.2 ms per symbol and slot, memoised per HTF data object and config: ~35 s once for a month of 3
 * symbols). With MACRO on, both modes match the replay's trades, swing trades included (measured on
 * 12 h slices by test/backtest/macro-parity.test.ts; the month by `bench/backtest.ts --parity`).
 */
import { SCALP_STRATEGIES, type CostProfile, type ScalpStrategyConfig, type StrategyConfigs } from '../config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../config/system.js';
import { PAPER_ACCOUNT_ID } from '../model/trading.js';
import { scalpSignal } from '../strategies/scalp/signal.js';
import { INTERVAL_MS, type Candle } from '../model/market.js';
import type { LevelSet } from '../strategies/levels.js';
import type { EvalContext, PreparedBase, ScalpDecision, ScalpStrategy } from '../strategies/scalp/common.js';
import { scalpStrategy } from '../strategies/scalp/registry.js';
import { candleAt, sliceSeries, type CandleSeries } from '../strategies/series.js';
import { markedEquity, unrealizedPnl } from '../trading/account.js';
import { EMPTY_SANITY, judgeSanity, type QualityConfig, type SanityState } from '../market/quality.js';
import { applyBias, applyCandle, applySignal, createTradingState, type CandleMarket, type RejectReason, type TradingEvent, type TradingState } from '../trading/core.js';
import { DEFAULT_FEEDS, tradingConfigFrom, type TradingConfig } from '../trading/model.js';
import type { BiasState, Signal, ClosedTrade } from '../model/trading.js';
import type { SwingScan } from '../strategies/macro/swing.js';
import { checkMacroSeries, feedCandles, macroTimeline, type MacroSeries, type MacroSlot } from './macro.js';
import { levelTimeline, regimeInputsOf, type BacktestMarket } from './market.js';
import { lowerBound } from '../sorted.js';
import { computeMetrics, type BacktestMetrics } from './metrics.js';
import { warmupReport, type WarmupReport } from './warmup.js';
import { withPrediction, type ScanPredict } from '../learning/model-cache.js';

const MINUTE = INTERVAL_MS['1m'];

export type IndicatorMode = 'full' | 'live-window';
export const INDICATOR_MODES = ['full', 'live-window'] as const satisfies readonly IndicatorMode[];

export interface BacktestConfig {
  /** `hotWindowCandles` (default the system default) bounds the MACRO engine's hot-window reads. */
  system: Pick<SystemConfig, 'symbols'> & Partial<Pick<SystemConfig, 'hotWindowCandles' | 'dataQuality'>>;
  strategies: StrategyConfigs;
  /**
   * Opt out of the regime-reference gate (CLI `--allow-missing-reference`). By default the run is
   * fail-closed like live: without candles of `protections.regime.referenceSymbol` (or when they
   * stop for longer than referenceMaxAgeMs) new entries stop, and a run without the reference in
   * the data opens nothing. With it the reference is not checked and, when absent, the regime stays
   * NORMAL. Either way the result's notes say so.
   */
  allowMissingReference?: boolean;
}

/** A macro-bias update as the execution receives it (applied after the candles closing at `now`). */
export interface BiasUpdate {
  now: number;
  bias: BiasState;
}

export interface BacktestOptions {
  /** Default 'full' (see the module comment). */
  indicators?: IndicatorMode;
  /** Account id (default the live paper account, so ids match the live ones). */
  accountId?: string;
  /** Macro-bias updates, ascending `now` (default none: no bias, the filter never restricts). */
  biasUpdates?: readonly BiasUpdate[];
  /**
   * Kraken-venue candles per symbol and interval (5m, 15m, 1h, 4h: what the replay writes to the hot
   * store, warm-up before `from` included). When given, the MACRO engine runs in the loop (see
   * macro.ts; when `macro.enabled`) and the candles of the Kraken feeds (SWING: kraken 5m) are applied
   * to the core as the execution applies `ohlc-data-kraken`. Exclusive with `biasUpdates`.
   */
  macroSeries?: MacroSeries;
  /**
   * The learning loop's prediction of a scan decision (shared/backtest/learning.ts: the model in force
   * at the decision's time on the backtest clock), attached to every TAKE / NEAR_MISS, scalp and swing,
   * exactly where the live engines attach it: recorded with the decision and carried by its signal to
   * the trading core's ML filter. Default none (no decision carries `ml`).
   */
  predict?: ScanPredict;
  record?: {
    /** Every non-null scalp decision (TAKE / NEAR_MISS / SKIP), as the live engine logs them. Default true. */
    decisions?: boolean;
    /** Every signal given to the core with its decision. Default true. */
    signals?: boolean;
    /** Every trading event (order placed, fills, exits, protections). Default false. */
    events?: boolean;
  };
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /**
   * Called with each state the core returned WITH events (every change of positions, notional or
   * equity comes with an event), right after it became the current state (invariant tests).
   */
  onState?: (state: TradingState, events: readonly TradingEvent[]) => void;
}

export interface SignalOutcome {
  signalId: string;
  now: number;
  symbol: string;
  strategy: string;
  accepted: boolean;
  reason: RejectReason | null;
  /** The macro bias the execution read for this signal (null: none yet), for the analysis' bias buckets. */
  bias: { bias: BiasState['bias']; confidence: number } | null;
}

/** Simulated fill counts by leg and liquidity: maker (a resting limit traded through) or taker (crossed the book). */
export interface FillCounts {
  entry: { maker: number; taker: number };
  exit: { maker: number; taker: number };
}

export interface BacktestResult {
  from: number;
  to: number;
  symbols: string[];
  indicators: IndicatorMode;
  /** Scalp strategies evaluated, and whether their TAKEs reach the trading core. */
  strategies: Array<{ id: string; emit: boolean }>;
  steps: number;
  trades: ClosedTrade[];
  openAtEnd: number;
  unrealizedAtEnd: number;
  decisions: ScalpDecision[];
  /** Every swing-setup decision of every MACRO run (recorded with `decisions`), in run order. */
  swingDecisions: SwingScan[];
  /** MACRO runs (symbol x slot) and swing signals given to the core; null without `macroSeries`. */
  macro: { runs: number; swingSignals: number; feedCandles: number } | null;
  signals: SignalOutcome[];
  accepted: number;
  rejected: Partial<Record<RejectReason, number>>;
  protectionEvents: number;
  /** The cost profile the run filled with (config paper.costs.profile), and its fills by how they met the book (shared/trading/costs.ts). */
  costProfile: CostProfile;
  fills: FillCounts;
  events: TradingEvent[];
  /** Marked equity after every market minute (close times). */
  equityTime: Float64Array;
  equity: Float64Array;
  samples: number;
  metrics: BacktestMetrics;
  finalState: TradingState | null;
  /**
   * Warm-up (SPEC 7): the history the config needs before `from` and what the data had, and every
   * component (indicators, levels, volatility, regime, MACRO bias components and swing setups) that
   * had no value at the start of the range, with when it first had one (shared/backtest/warmup.ts).
   * Its lines are also in `notes`.
   */
  warmup: WarmupReport;
  notes: string[];
  wallMs: number;
}

type AnyStrategy = ScalpStrategy<ScalpStrategyConfig, PreparedBase<ScalpStrategyConfig>>;

interface Evaluator {
  cfg: ScalpStrategyConfig;
  impl: AnyStrategy;
  /** full mode: prepared per symbol. */
  prepared: Array<PreparedBase<ScalpStrategyConfig> | null>;
  /** levels_exhaustion: live level set per symbol and index. */
  levels: Array<readonly LevelSet[] | null>;
}

/** The scalp configs the live engine evaluates on closes, in its order. */
export function closeEvaluators(strategies: StrategyConfigs): ScalpStrategyConfig[] {
  const out: ScalpStrategyConfig[] = [];
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (cfg.enabled && cfg.evaluateOn.closes) out.push(cfg);
  }
  return out;
}

/**
 * The trading-core config of a backtest: the production one, with the scalp feed on the data's venue
 * (and the reference gate waived when the run opts out).
 */
export function backtestTradingConfig(strategies: StrategyConfigs, m: BacktestMarket, allowMissingReference = false): TradingConfig {
  const c = tradingConfigFrom(strategies, { ...DEFAULT_FEEDS, SCALP: { venue: m.venue, interval: '1m' } });
  return allowMissingReference ? { ...c, allowMissingReference: true } : c;
}

/** Macro inputs timed by minute mark: HTF feed candles, MACRO runs and given bias updates. */
interface TimedInputs {
  bias: readonly BiasUpdate[];
  slots: readonly MacroSlot[];
  htfCandles: readonly Candle[];
}

/** One run in progress: its inputs, the trading state, the cursors into the timed inputs, and what it records. */
interface Run {
  m: BacktestMarket;
  system: BacktestConfig['system'];
  tcfg: TradingConfig;
  accountId: string;
  mode: IndicatorMode;
  rec: { decisions: boolean; signals: boolean; events: boolean };
  onState: BacktestOptions['onState'];
  predict: ScanPredict | undefined;
  /** Index of the regime reference symbol in the data (-1: absent). */
  refK: number;
  evaluators: Evaluator[];
  timed: TimedInputs;
  /** Next HTF candle, MACRO slot and bias update to apply. */
  hp: number;
  sp: number;
  bp: number;
  state: TradingState | null;
  /** Close time of the candles being processed (NaN before the first). */
  curNow: number;
  /** The latest bias per symbol index: what the execution reads as `bias/{symbol}`. */
  latestBias: Array<BiasState | null>;
  /** live-window mode: the candle windows of the current candle, by length. */
  views: Map<number, CandleSeries>;
  trades: ClosedTrade[];
  decisions: ScalpDecision[];
  swingDecisions: SwingScan[];
  swingSignals: number;
  signals: SignalOutcome[];
  events: TradingEvent[];
  rejected: Partial<Record<RejectReason, number>>;
  accepted: number;
  protectionEvents: number;
  fills: FillCounts;
  equityTime: Float64Array;
  equity: Float64Array;
  samples: number;
}

export function runBacktest(m: BacktestMarket, config: BacktestConfig, opts: BacktestOptions = {}): BacktestResult {
  const t0 = performance.now();
  const { run, notes } = startRun(m, config, opts);
  const total = m.orderIndex.length;
  const progressEvery = opts.progressEvery ?? 10_000;
  for (let n = 0; n < total; n++) {
    stepCandle(run, n);
    if (opts.onProgress && (n + 1) % progressEvery === 0) opts.onProgress(n + 1, total);
  }
  // The replay's last minute mark is `to` + 1m.
  flush(run, m.to + MINUTE, true);
  if (run.state !== null && !Number.isNaN(run.curNow)) {
    run.equityTime[run.samples] = run.curNow;
    run.equity[run.samples++] = markedEquity(run.state.account);
  }
  opts.onProgress?.(total, total);
  return backtestResult(run, config, opts, notes, t0);
}

/** Checks the inputs, prepares the strategies and the timed inputs, and says what the run cannot replay. */
function startRun(m: BacktestMarket, config: BacktestConfig, opts: BacktestOptions): { run: Run; notes: string[] } {
  const mode = opts.indicators ?? 'full';
  const rec = { decisions: opts.record?.decisions ?? true, signals: opts.record?.signals ?? true, events: opts.record?.events ?? false };
  const { system, strategies } = config;
  const allowMissingReference = config.allowMissingReference === true;
  const tcfg = backtestTradingConfig(strategies, m, allowMissingReference);
  for (const s of m.symbols) {
    if (!system.symbols.some((x) => x.symbol === s)) throw new Error(`backtest: ${s} is not in SystemConfig.symbols (its tier decides costs and cooldowns)`);
  }
  const refK = m.symbols.indexOf(strategies.protections.regime.referenceSymbol);
  const notes = referenceNotes(strategies.protections.regime.referenceSymbol, refK >= 0, allowMissingReference);
  notes.push(...sanityBandNotes(m, system.dataQuality ?? DEFAULT_SYSTEM_CONFIG.dataQuality));
  const evaluators = prepareEvaluators(m, strategies, mode, rec.decisions, notes);
  const timed = timedInputs(m, config, opts, tcfg, notes);
  const total = m.orderIndex.length;
  const run: Run = {
    m, system, tcfg, accountId: opts.accountId ?? PAPER_ACCOUNT_ID, mode, rec, onState: opts.onState, predict: opts.predict, refK, evaluators, timed,
    hp: 0, sp: 0, bp: 0, state: null, curNow: Number.NaN, latestBias: m.symbols.map(() => null), views: new Map(),
    trades: [], decisions: [], swingDecisions: [], swingSignals: 0, signals: [], events: [], rejected: {}, accepted: 0, protectionEvents: 0, fills: { entry: { maker: 0, taker: 0 }, exit: { maker: 0, taker: 0 } },
    equityTime: new Float64Array(total), equity: new Float64Array(total), samples: 0,
  };
  return { run, notes };
}

/** What the run does about the regime reference symbol (fail closed like live unless opted out). */
function referenceNotes(refSymbol: string, present: boolean, allowMissingReference: boolean): string[] {
  if (!present && !allowMissingReference) {
    return [
      `regime reference ${refSymbol} is not in the data: the market regime is unknown, so new entries stop (fail closed, as live) and the run opens nothing; add ${refSymbol} 1m data, or opt out with --allow-missing-reference (library: allowMissingReference)`,
    ];
  }
  if (!present) return [`regime reference ${refSymbol} is not in the data: allowed by --allow-missing-reference, the regime stays NORMAL all run (no PANIC / CAUTION protection)`];
  if (allowMissingReference) return [`--allow-missing-reference: the freshness of the regime reference ${refSymbol} is not checked (gaps in its data do not stop entries)`];
  return [];
}

/**
 * The live candle gate's sanity band (shared/market/quality.ts judgeSanity) holds back candles out of
 * the band of the last good close; a candle backtest trades every row. Say so when it matters.
 */
function sanityBandNotes(m: BacktestMarket, q: QualityConfig): string[] {
  const notes: string[] = [];
  for (let k = 0; k < m.series.length; k++) {
    const held = heldBackBySanityBand(m.series[k] as CandleSeries, q);
    if (held.count > 0) {
      notes.push(
        `${m.symbols[k]}: ${held.count} candle(s) out of the live sanity band (first ${new Date(held.first).toISOString()}: ${held.reason}); live holds them back (stops only), this backtest traded them`,
      );
    }
  }
  return notes;
}

/**
 * The scalp strategies evaluated on closes, prepared per symbol (full mode) with their live level
 * timelines. A log-only strategy's decisions never reach the trading core: when decisions are not
 * recorded (grids), it is not evaluated at all (same trades, less work).
 */
function prepareEvaluators(m: BacktestMarket, strategies: StrategyConfigs, mode: IndicatorMode, recDecisions: boolean, notes: string[]): Evaluator[] {
  const evaluated = closeEvaluators(strategies).filter((cfg) => recDecisions || cfg.emitSignals);
  const evaluators: Evaluator[] = evaluated.map((cfg) => {
    const impl = scalpStrategy(cfg.strategy) as unknown as AnyStrategy;
    return {
      cfg,
      impl,
      prepared: m.series.map((s) => (mode === 'full' ? impl.prepare(s, cfg) : null)),
      levels: m.series.map((_, k) => (cfg.strategy === 'levels_exhaustion' ? levelTimeline(m, k, cfg.levels) : null)),
    };
  });
  if (evaluators.some((e) => e.cfg.strategy === 'levels_exhaustion')) {
    notes.push('order-book flip check unavailable (no order-book data in a candle backtest): it never hits; the other three exhaustion checks decide');
  }
  if (evaluators.length > 0) notes.push('15 s snapshot evaluations (forming candle + book) are not replayed: decisions on closed candles only');
  return evaluators;
}

/** The MACRO timeline and Kraken feed candles (with `macroSeries`), or the given bias updates. */
function timedInputs(m: BacktestMarket, config: BacktestConfig, opts: BacktestOptions, tcfg: TradingConfig, notes: string[]): TimedInputs {
  const { system, strategies } = config;
  const bias = opts.biasUpdates ?? [];
  for (let b = 1; b < bias.length; b++) if ((bias[b] as BiasUpdate).now < (bias[b - 1] as BiasUpdate).now) throw new Error('backtest: biasUpdates must be in ascending now');
  if (!opts.macroSeries) {
    if (bias.length === 0) notes.push('no macro-bias updates and no HTF data given: the MACRO engine does not run, the bias filter never restricts');
    return { bias, slots: [], htfCandles: [] };
  }
  if (bias.length > 0) throw new Error('backtest: give either macroSeries (the MACRO engine runs in the loop) or biasUpdates, not both');
  checkMacroSeries(opts.macroSeries);
  const tl = macroTimeline({
    symbols: m.symbols,
    from: m.from,
    to: m.to,
    series: opts.macroSeries,
    strategies,
    system: { symbols: system.symbols, hotWindowCandles: system.hotWindowCandles ?? DEFAULT_SYSTEM_CONFIG.hotWindowCandles },
  });
  notes.push(...tl.notes);
  if (!strategies.macro.enabled) notes.push('MACRO disabled in config: no bias, no swing setups (the Kraken feed candles are still applied)');
  const htfFeeds = Object.values(tcfg.feeds).filter((f) => !(f.venue === m.venue && f.interval === '1m'));
  return { bias, slots: tl.slots, htfCandles: feedCandles(opts.macroSeries, m.symbols, htfFeeds, m.from, m.to) };
}

/** Records the core's events (closed trades, protections, the events themselves) and reports the state. */
function take(run: Run, evs: readonly TradingEvent[]): void {
  for (const e of evs) {
    if (e.type === 'position_closed') run.trades.push(e.trade);
    else if (e.type === 'protection') run.protectionEvents++;
    else if ((e.type === 'entry_filled' || e.type === 'exit_filled') && e.liquidity) run.fills[e.type === 'entry_filled' ? 'entry' : 'exit'][e.liquidity]++;
    if (run.rec.events) run.events.push(e);
  }
  if (run.onState && run.state !== null && evs.length > 0) run.onState(run.state, evs);
}

/** The trading state, created on the first input as TradingStore does. */
function ensure(run: Run, now: number): TradingState {
  run.state ??= createTradingState(run.accountId, run.tcfg, now);
  return run.state;
}

/** A signal to the core (`applySignal`), with its outcome counted and recorded. */
function signal(run: Run, sig: Signal, market: { bias: BiasState | null; volatility24hPct: number | null }, now: number): void {
  const rs = applySignal(ensure(run, now), sig, market, run.tcfg, now);
  run.state = rs.state;
  if (rs.events.length > 0) take(run, rs.events);
  const dec = rs.decision;
  if (dec.accepted) run.accepted++;
  else run.rejected[dec.reason] = (run.rejected[dec.reason] ?? 0) + 1;
  if (run.rec.signals) run.signals.push({ signalId: sig.signalId, now, symbol: sig.symbol, strategy: sig.strategy, accepted: dec.accepted, reason: dec.accepted ? null : dec.reason, bias: market.bias ? { bias: market.bias.bias, confidence: market.bias.confidence } : null });
}

function htfClose(c: Candle): number {
  return c.openTime + INTERVAL_MS[c.interval];
}

/**
 * Everything the live pipeline does after the 1m candles of minute T, for every T < limit (or <=
 * with `inclusive`), in time order: the Kraken feed candles closed at T (symbol order), then the
 * MACRO runs of T (per symbol: its bias, then its swing signals), then given bias updates.
 */
function flush(run: Run, limit: number, inclusive: boolean): void {
  const { bias, slots, htfCandles } = run.timed;
  for (;;) {
    const th = run.hp < htfCandles.length ? htfClose(htfCandles[run.hp] as Candle) : Number.POSITIVE_INFINITY;
    const ts = run.sp < slots.length ? (slots[run.sp] as MacroSlot).now : Number.POSITIVE_INFINITY;
    const tb = run.bp < bias.length ? (bias[run.bp] as BiasUpdate).now : Number.POSITIVE_INFINITY;
    const T = Math.min(th, ts, tb);
    if (!(inclusive ? T <= limit : T < limit)) return;
    while (run.hp < htfCandles.length && htfClose(htfCandles[run.hp] as Candle) === T) {
      const r = applyCandle(ensure(run, T), htfCandles[run.hp++] as Candle, null, run.tcfg, T);
      run.state = r.state;
      if (r.events.length > 0) take(run, r.events);
    }
    while (run.sp < slots.length && (slots[run.sp] as MacroSlot).now === T) applyMacroSlot(run, slots[run.sp++] as MacroSlot, T);
    while (run.bp < bias.length && (bias[run.bp] as BiasUpdate).now === T) {
      const u = bias[run.bp++] as BiasUpdate;
      const r = applyBias(ensure(run, u.now), u.bias, run.tcfg, u.now);
      run.state = r.state;
      take(run, r.events);
      const bk = run.m.symbols.indexOf(u.bias.symbol);
      if (bk >= 0) run.latestBias[bk] = u.bias;
    }
  }
}

/** One MACRO run of minute T: its bias, then its swing signals. */
function applyMacroSlot(run: Run, u: MacroSlot, T: number): void {
  const { m } = run;
  const r = applyBias(ensure(run, T), u.bias, run.tcfg, T);
  run.state = r.state;
  take(run, r.events);
  const bk = m.symbols.indexOf(u.symbol);
  run.latestBias[bk] = u.bias;
  // the prediction beside each scan (the slot is shared, memoised: copies), and on its published signal
  const scans = run.predict ? u.scans.map((d) => withPrediction(d, run.predict)) : u.scans;
  if (run.rec.decisions) for (const d of scans) run.swingDecisions.push(d);
  const ml = run.predict ? new Map(scans.flatMap((d) => (d.ml ? [[d.signalId, d.ml] as const] : []))) : null;
  for (const published of u.signals) {
    const p = ml?.get(published.signalId);
    const sig = p ? { ...published, ml: p } : published;
    // executeSignal: the stored bias of the slot, the 24h volatility at the last 1m candle opening before the signal.
    const li = lowerBound((m.series[bk] as CandleSeries).openTime, sig.ts) - 1;
    const v = li >= 0 ? (m.volatility[bk]?.[li] as number) : Number.NaN;
    signal(run, sig, { bias: u.bias, volatility24hPct: Number.isFinite(v) ? v : null }, T);
    run.swingSignals++;
  }
}

/** Step n of the processing order: one 1m candle of one symbol (steps 1-4 of the module comment). */
function stepCandle(run: Run, n: number): void {
  const { m } = run;
  const k = m.orderSymbol[n] as number;
  const i = m.orderIndex[n] as number;
  const s = m.series[k] as CandleSeries;
  const now = (s.openTime[i] as number) + MINUTE;
  if (now !== run.curNow) {
    // 1. what followed the previous minutes' 1m candles: Kraken feed candles, MACRO runs, bias updates.
    flush(run, now, false);
    if (run.state !== null && run.samples < run.equity.length && !Number.isNaN(run.curNow)) {
      run.equityTime[run.samples] = run.curNow;
      run.equity[run.samples++] = markedEquity(run.state.account);
    }
    run.curNow = now;
  }

  // 2. the candle.
  const v = m.volatility[k]?.[i] as number;
  const vol = Number.isFinite(v) ? v : null;
  const market: CandleMarket = { volatility24hPct: vol };
  if (k === run.refK) market.regimeInputs = regimeInputsOf(s, i);
  const rc = applyCandle(ensure(run, now), m.candles[k]?.[i] as Candle, market, run.tcfg, now);
  run.state = rc.state;
  if (rc.events.length > 0) take(run, rc.events);

  // 3-4. decisions on the closed candle, signals.
  if (run.evaluators.length > 0) {
    if (run.mode === 'live-window') run.views.clear();
    for (const ev of run.evaluators) {
      const raw = decide(run, ev, k, i);
      if (!raw) continue;
      const d = withPrediction(raw, run.predict);
      if (run.rec.decisions) run.decisions.push(d);
      const sig = scalpSignal(d, run.system, ev.cfg);
      if (!sig || !sig.emit) continue;
      signal(run, sig, { bias: run.latestBias[k] ?? null, volatility24hPct: vol }, now);
    }
  }
}

/** One strategy's decision on the closed candle i of symbol k (prepared once, or on the live window). */
function decide(run: Run, ev: Evaluator, k: number, i: number): ScalpDecision | null {
  const lv = ev.levels[k];
  const ctx: EvalContext | undefined = lv ? { levels: lv[i] as LevelSet } : undefined;
  if (run.mode === 'full') return ev.impl.evaluateAt(ev.prepared[k] as PreparedBase<ScalpStrategyConfig>, i, ctx);
  const len = Math.min(ev.cfg.candleWindow, i + 1);
  let view = run.views.get(len);
  if (!view) {
    view = sliceSeries(run.m.series[k] as CandleSeries, i + 1 - len, i + 1);
    run.views.set(len, view);
  }
  return ev.impl.evaluateAt(ev.impl.prepare(view, ev.cfg), len - 1, ctx);
}

/** Change of each symbol's price over [from, to], in % (first open to last close): the market baseline. */
function marketChangeBySymbol(m: BacktestMarket): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = 0; k < m.series.length; k++) {
    const s = m.series[k] as CandleSeries;
    let a = -1;
    let b = -1;
    for (let i = 0; i < s.length; i++) {
      const t = s.openTime[i] as number;
      if (t < m.from || t > m.to) continue;
      if (a < 0) a = i;
      b = i;
    }
    if (a >= 0) out[s.symbol] = ((s.close[b] as number) / (s.open[a] as number) - 1) * 100;
  }
  return out;
}

function backtestResult(run: Run, config: BacktestConfig, opts: BacktestOptions, notes: string[], t0: number): BacktestResult {
  const { m, trades, equityTime, equity, samples, timed } = run;
  const fin = run.state;
  const metrics = computeMetrics({
    trades,
    startingEquity: config.strategies.risk.startingEquityUsd,
    equityTime,
    equity,
    samples,
    start: m.from,
    marketChangeBySymbol: marketChangeBySymbol(m),
  });
  const warmup = warmupReport({ market: m, config, slots: timed.slots, ...(opts.macroSeries ? { macroSeries: opts.macroSeries } : {}) });
  notes.push(...warmup.lines);
  return {
    from: m.from,
    to: m.to,
    symbols: [...m.symbols],
    indicators: run.mode,
    strategies: run.evaluators.map((e) => ({ id: e.cfg.strategy, emit: e.cfg.emitSignals })),
    steps: m.orderIndex.length,
    trades,
    openAtEnd: fin ? fin.account.positions.length : 0,
    unrealizedAtEnd: fin ? unrealizedPnl(fin.account) : 0,
    decisions: run.decisions,
    swingDecisions: run.swingDecisions,
    macro: opts.macroSeries ? { runs: timed.slots.length, swingSignals: run.swingSignals, feedCandles: timed.htfCandles.length } : null,
    signals: run.signals,
    accepted: run.accepted,
    rejected: run.rejected,
    protectionEvents: run.protectionEvents,
    costProfile: config.strategies.paper.costs.profile,
    fills: run.fills,
    events: run.events,
    equityTime: equityTime.subarray(0, samples),
    equity: equity.subarray(0, samples),
    samples,
    metrics,
    finalState: fin,
    warmup,
    notes,
    wallMs: performance.now() - t0,
  };
}

/** heldBackBySanityBand per series object and quality config: a grid / hyperopt worker runs it once, not per combination. */
const sanityMemo = new WeakMap<CandleSeries, Map<string, { count: number; first: number; reason: string | null }>>();

/** Candles of a series that the live gate's sanity band would hold back as suspect (no lookahead: each judged on its past). */
export function heldBackBySanityBand(s: CandleSeries, q: QualityConfig): { count: number; first: number; reason: string | null } {
  let bySeries = sanityMemo.get(s);
  if (!bySeries) sanityMemo.set(s, (bySeries = new Map()));
  const key = JSON.stringify(q);
  const hit = bySeries.get(key);
  if (hit) return hit;
  const r = judgeHeldBack(s, q);
  bySeries.set(key, r);
  return r;
}

function judgeHeldBack(s: CandleSeries, q: QualityConfig): { count: number; first: number; reason: string | null } {
  let state: SanityState = EMPTY_SANITY;
  let count = 0;
  let first = Number.NaN;
  let reason: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const j = judgeSanity(state, candleAt(s, i), q);
    state = j.state;
    if (j.verdict === 'suspect') {
      if (count === 0) {
        first = s.openTime[i] as number;
        reason = j.reason;
      }
      count++;
    }
  }
  return { count, first, reason };
}
