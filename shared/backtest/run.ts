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
 *      fills and exits of open groups (book.ts: limits fill only when traded through, stop before
 *      take profit inside a candle, fees + slippage per side), protections;
 *   3. every enabled scalp strategy that evaluates closes, in SCALP_STRATEGIES order, decides on
 *      the CLOSED candle c (`evaluateAt` reads indices <= c only), with the live level set
 *      (micro.ts `levelsAt`) and no book (the order-book flip is then 'unavailable');
 *   4. a TAKE becomes a Signal through shared/strategies/scalp/signal.ts `scalpSignal` (THE one
 *      conversion); a signal of an emitting strategy goes to `applySignal(state, signal, { bias,
 *      volatility24hPct at c }, cfg, t)`; its limit entry can fill from the NEXT candle on
 *      (book.ts ignores candles opening before the signal time).
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
import { SCALP_STRATEGIES, type ScalpStrategyConfig, type StrategyConfigs } from '../config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../config/system.js';
import { PAPER_ACCOUNT_ID } from '../pipeline/execution.js';
import { scalpSignal } from '../strategies/scalp/signal.js';
import { INTERVAL_MS, type Candle } from '../model/market.js';
import type { LevelSet } from '../strategies/levels.js';
import { scalpStrategy, type EvalContext, type PreparedBase, type ScalpDecision, type ScalpStrategy } from '../strategies/scalp/index.js';
import { candleAt, sliceSeries, type CandleSeries } from '../strategies/series.js';
import { markedEquity, unrealizedPnl } from '../trading/book.js';
import { EMPTY_SANITY, judgeSanity, type QualityConfig, type SanityState } from '../market/quality.js';
import { applyBias, applyCandle, applySignal, createTradingState, type CandleMarket, type RejectReason, type TradingEvent, type TradingState } from '../trading/core.js';
import { DEFAULT_FEEDS, tradingConfigFrom, type TradingConfig } from '../trading/model.js';
import type { BiasState, Signal, ClosedTrade } from '../model/trading.js';
import type { SwingScan } from '../strategies/macro/swing.js';
import { checkMacroSeries, feedCandles, macroTimeline, type MacroSeries, type MacroSlot } from './macro.js';
import { levelTimeline, lowerBound, regimeInputsOf, type BacktestMarket } from './market.js';
import { computeMetrics, type BacktestMetrics } from './metrics.js';

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
  events: TradingEvent[];
  /** Marked equity after every market minute (close times). */
  equityTime: Float64Array;
  equity: Float64Array;
  samples: number;
  metrics: BacktestMetrics;
  finalState: TradingState | null;
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

export function runBacktest(m: BacktestMarket, config: BacktestConfig, opts: BacktestOptions = {}): BacktestResult {
  const t0 = performance.now();
  const mode = opts.indicators ?? 'full';
  const recDecisions = opts.record?.decisions ?? true;
  const recSignals = opts.record?.signals ?? true;
  const recEvents = opts.record?.events ?? false;
  const accountId = opts.accountId ?? PAPER_ACCOUNT_ID;
  const { system, strategies } = config;
  const allowMissingReference = config.allowMissingReference === true;
  const tcfg = backtestTradingConfig(strategies, m, allowMissingReference);
  for (const s of m.symbols) {
    if (!system.symbols.some((x) => x.symbol === s)) throw new Error(`backtest: ${s} is not in SystemConfig.symbols (its tier decides costs and cooldowns)`);
  }
  const refSymbol = strategies.protections.regime.referenceSymbol;
  const refK = m.symbols.indexOf(refSymbol);
  const notes: string[] = [];
  if (refK < 0 && !allowMissingReference) {
    notes.push(
      `regime reference ${refSymbol} is not in the data: the market regime is unknown, so new entries stop (fail closed, as live) and the run opens nothing; add ${refSymbol} 1m data, or opt out with --allow-missing-reference (library: allowMissingReference)`,
    );
  } else if (refK < 0) {
    notes.push(`regime reference ${refSymbol} is not in the data: allowed by --allow-missing-reference, the regime stays NORMAL all run (no PANIC / CAUTION protection)`);
  } else if (allowMissingReference) {
    notes.push(`--allow-missing-reference: the freshness of the regime reference ${refSymbol} is not checked (gaps in its data do not stop entries)`);
  }

  // The live candle gate's sanity band (shared/market/quality.ts judgeSanity) holds back candles out of
  // the band of the last good close; a candle backtest trades every row. Say so when it matters.
  for (let k = 0; k < m.series.length; k++) {
    const held = heldBackBySanityBand(m.series[k] as CandleSeries, system.dataQuality ?? DEFAULT_SYSTEM_CONFIG.dataQuality);
    if (held.count > 0) {
      notes.push(
        `${m.symbols[k]}: ${held.count} candle(s) out of the live sanity band (first ${new Date(held.first).toISOString()}: ${held.reason}); live holds them back (stops only), this backtest traded them`,
      );
    }
  }

  // A log-only strategy's decisions never reach the trading core: when decisions are not recorded
  // (grids), it is not evaluated at all (same trades, less work).
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
  const bias = opts.biasUpdates ?? [];
  for (let b = 1; b < bias.length; b++) if ((bias[b] as BiasUpdate).now < (bias[b - 1] as BiasUpdate).now) throw new Error('backtest: biasUpdates must be in ascending now');
  let slots: readonly MacroSlot[] = [];
  let htfCandles: readonly Candle[] = [];
  if (opts.macroSeries) {
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
    slots = tl.slots;
    notes.push(...tl.notes);
    if (!strategies.macro.enabled) notes.push('MACRO disabled in config: no bias, no swing setups (the Kraken feed candles are still applied)');
    const htfFeeds = Object.values(tcfg.feeds).filter((f) => !(f.venue === m.venue && f.interval === '1m'));
    htfCandles = feedCandles(opts.macroSeries, m.symbols, htfFeeds, m.from, m.to);
  } else if (bias.length === 0) {
    notes.push('no macro-bias updates and no HTF data given: the MACRO engine does not run, the bias filter never restricts');
  }
  const latestBias: Array<BiasState | null> = m.symbols.map(() => null);
  let bp = 0;
  let sp = 0;
  let hp = 0;
  let swingSignals = 0;
  const swingDecisions: SwingScan[] = [];

  const total = m.orderIndex.length;
  const equityTime = new Float64Array(total);
  const equity = new Float64Array(total);
  let samples = 0;
  const trades: ClosedTrade[] = [];
  const decisions: ScalpDecision[] = [];
  const signals: SignalOutcome[] = [];
  const events: TradingEvent[] = [];
  const rejected: Partial<Record<RejectReason, number>> = {};
  let accepted = 0;
  let protectionEvents = 0;
  let state: TradingState | null = null;
  let curNow = Number.NaN;
  const progressEvery = opts.progressEvery ?? 10_000;
  const views = new Map<number, CandleSeries>();

  const take = (evs: readonly TradingEvent[]) => {
    for (const e of evs) {
      if (e.type === 'position_closed') trades.push(e.trade);
      else if (e.type === 'protection') protectionEvents++;
      if (recEvents) events.push(e);
    }
    if (opts.onState && state !== null && evs.length > 0) opts.onState(state, evs);
  };
  const ensure = (now: number): TradingState => {
    state ??= createTradingState(accountId, tcfg, now);
    return state;
  };
  const signal = (sig: Signal, market: { bias: BiasState | null; volatility24hPct: number | null }, now: number) => {
    const rs = applySignal(ensure(now), sig, market, tcfg, now);
    state = rs.state;
    if (rs.events.length > 0) take(rs.events);
    const dec = rs.decision;
    if (dec.accepted) accepted++;
    else rejected[dec.reason] = (rejected[dec.reason] ?? 0) + 1;
    if (recSignals) signals.push({ signalId: sig.signalId, now, symbol: sig.symbol, strategy: sig.strategy, accepted: dec.accepted, reason: dec.accepted ? null : dec.reason });
  };
  const htfClose = (c: Candle) => c.openTime + INTERVAL_MS[c.interval];
  /**
   * Everything the live pipeline does after the 1m candles of minute T, for every T < limit (or <=
   * with `inclusive`), in time order: the Kraken feed candles closed at T (symbol order), then the
   * MACRO runs of T (per symbol: its bias, then its swing signals), then given bias updates.
   */
  const flush = (limit: number, inclusive: boolean) => {
    for (;;) {
      const th = hp < htfCandles.length ? htfClose(htfCandles[hp] as Candle) : Number.POSITIVE_INFINITY;
      const ts = sp < slots.length ? (slots[sp] as MacroSlot).now : Number.POSITIVE_INFINITY;
      const tb = bp < bias.length ? (bias[bp] as BiasUpdate).now : Number.POSITIVE_INFINITY;
      const T = Math.min(th, ts, tb);
      if (!(inclusive ? T <= limit : T < limit)) return;
      while (hp < htfCandles.length && htfClose(htfCandles[hp] as Candle) === T) {
        const r = applyCandle(ensure(T), htfCandles[hp++] as Candle, null, tcfg, T);
        state = r.state;
        if (r.events.length > 0) take(r.events);
      }
      while (sp < slots.length && (slots[sp] as MacroSlot).now === T) {
        const u = slots[sp++] as MacroSlot;
        const r = applyBias(ensure(T), u.bias, tcfg, T);
        state = r.state;
        take(r.events);
        const bk = m.symbols.indexOf(u.symbol);
        latestBias[bk] = u.bias;
        if (recDecisions) for (const d of u.scans) swingDecisions.push(d);
        for (const sig of u.signals) {
          // executeSignal: the stored bias of the slot, the 24h volatility at the last 1m candle opening before the signal.
          const li = lowerBound((m.series[bk] as CandleSeries).openTime, sig.ts) - 1;
          const v = li >= 0 ? (m.volatility[bk]?.[li] as number) : Number.NaN;
          signal(sig, { bias: u.bias, volatility24hPct: Number.isFinite(v) ? v : null }, T);
          swingSignals++;
        }
      }
      while (bp < bias.length && (bias[bp] as BiasUpdate).now === T) {
        const u = bias[bp++] as BiasUpdate;
        const r = applyBias(ensure(u.now), u.bias, tcfg, u.now);
        state = r.state;
        take(r.events);
        const bk = m.symbols.indexOf(u.bias.symbol);
        if (bk >= 0) latestBias[bk] = u.bias;
      }
    }
  };

  for (let n = 0; n < total; n++) {
    const k = m.orderSymbol[n] as number;
    const i = m.orderIndex[n] as number;
    const s = m.series[k] as CandleSeries;
    const now = (s.openTime[i] as number) + MINUTE;
    if (now !== curNow) {
      // 1. what followed the previous minutes' 1m candles: Kraken feed candles, MACRO runs, bias updates.
      flush(now, false);
      if (state !== null && samples < total && !Number.isNaN(curNow)) {
        equityTime[samples] = curNow;
        equity[samples++] = markedEquity((state as TradingState).account);
      }
      curNow = now;
    }

    // 2. the candle.
    const v = m.volatility[k]?.[i] as number;
    const vol = Number.isFinite(v) ? v : null;
    const market: CandleMarket = { volatility24hPct: vol };
    if (k === refK) market.regimeInputs = regimeInputsOf(s, i);
    const rc = applyCandle(ensure(now), m.candles[k]?.[i] as Candle, market, tcfg, now);
    state = rc.state;
    if (rc.events.length > 0) take(rc.events);

    // 3-4. decisions on the closed candle, signals.
    if (evaluators.length > 0) {
      if (mode === 'live-window') views.clear();
      for (const ev of evaluators) {
        const lv = ev.levels[k];
        const ctx: EvalContext | undefined = lv ? { levels: lv[i] as LevelSet } : undefined;
        let d: ScalpDecision | null;
        if (mode === 'full') {
          d = ev.impl.evaluateAt(ev.prepared[k] as PreparedBase<ScalpStrategyConfig>, i, ctx);
        } else {
          const len = Math.min(ev.cfg.candleWindow, i + 1);
          let view = views.get(len);
          if (!view) {
            view = sliceSeries(s, i + 1 - len, i + 1);
            views.set(len, view);
          }
          d = ev.impl.evaluateAt(ev.impl.prepare(view, ev.cfg), len - 1, ctx);
        }
        if (!d) continue;
        if (recDecisions) decisions.push(d);
        const sig = scalpSignal(d, system, ev.cfg);
        if (!sig || !sig.emit) continue;
        signal(sig, { bias: latestBias[k] ?? null, volatility24hPct: vol }, now);
      }
    }
    if (opts.onProgress && (n + 1) % progressEvery === 0) opts.onProgress(n + 1, total);
  }
  // The replay's last minute mark is `to` + 1m.
  flush(m.to + MINUTE, true);
  if (state !== null && !Number.isNaN(curNow)) {
    equityTime[samples] = curNow;
    equity[samples++] = markedEquity((state as TradingState).account);
  }
  opts.onProgress?.(total, total);

  const marketChangeBySymbol: Record<string, number> = {};
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
    if (a >= 0) marketChangeBySymbol[s.symbol] = ((s.close[b] as number) / (s.open[a] as number) - 1) * 100;
  }
  const fin = state as TradingState | null;
  const metrics = computeMetrics({
    trades,
    startingEquity: strategies.risk.startingEquityUsd,
    equityTime,
    equity,
    samples,
    start: m.from,
    marketChangeBySymbol,
  });
  return {
    from: m.from,
    to: m.to,
    symbols: [...m.symbols],
    indicators: mode,
    strategies: evaluators.map((e) => ({ id: e.cfg.strategy, emit: e.cfg.emitSignals })),
    steps: total,
    trades,
    openAtEnd: fin ? fin.account.positions.length : 0,
    unrealizedAtEnd: fin ? unrealizedPnl(fin.account) : 0,
    decisions,
    swingDecisions,
    macro: opts.macroSeries ? { runs: slots.length, swingSignals, feedCandles: htfCandles.length } : null,
    signals,
    accepted,
    rejected,
    protectionEvents,
    events,
    equityTime: equityTime.subarray(0, samples),
    equity: equity.subarray(0, samples),
    samples,
    metrics,
    finalState: fin,
    notes,
    wallMs: performance.now() - t0,
  };
}

/** Candles of a series that the live gate's sanity band would hold back as suspect (no lookahead: each judged on its past). */
export function heldBackBySanityBand(s: CandleSeries, q: QualityConfig): { count: number; first: number; reason: string | null } {
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
