/**
 * A shadow run (SPEC 8): the CHAMPION (the config in force) and each enabled challenger of config/ml
 * `shadow.variations`, simulated over the same window of real candles by THE backtest runner
 * (shared/backtest/run.ts `runBacktest`: the same scans, the same strategy / risk / cost / paper-fill
 * code, exits on the 1m candles exactly as the paper engine fills them, DCA grids included since the
 * book handles them; the MACRO engine too when the Kraken HTF series are given). Nothing here decides
 * a trade.
 *
 * What is shared between the variations (so N challengers cost less than N backtests): the market
 * (processing order, candle objects, 24h volatility, live level timelines: `createMarket` once), the
 * indicators ('full' mode: each strategy prepared over the whole series, its indicators memoised in
 * the series' IndicatorCache, as a grid worker shares them across combinations), and the MACRO
 * timeline of every variation whose macro / regime config equals another's (memoised per HTF data
 * object and config in shared/backtest/macro.ts). The champion records its scan decisions (the scan
 * count); the challengers record none, so a log-only strategy (whose decisions never reach the core)
 * is evaluated once, for the champion (same trades, less work: run.ts `prepareEvaluators`).
 *
 * The figures per period are the trades whose exit falls in the last N hours of the window
 * (stats.ts); the window ends at the close of its last 1m candle (`market.to` + 1 min, the replay's
 * last minute mark, when run.ts flushes the last MACRO runs and feed candles).
 */
import { createHash } from 'node:crypto';
import type { MlConfig, StrategyConfigs } from '../config/strategy.js';
import { shadowResultsSchema, type ShadowResults, type ShadowVariationResult } from '../learning/types.js';
import type { ClosedTrade } from '../model/trading.js';
import { INTERVAL_MS } from '../model/market.js';
import type { BacktestMarket } from '../backtest/market.js';
import type { MacroSeries } from '../backtest/macro.js';
import { runBacktest, type BacktestConfig, type BacktestOptions, type BacktestResult, type IndicatorMode } from '../backtest/run.js';
import { variationPeriods } from './stats.js';
import { CHAMPION, filtersByMl, NO_MODEL_NOTE, shadowVariants, WALK_FORWARD_NOTE, type ShadowVariant } from './variations.js';

const MINUTE = INTERVAL_MS['1m'];

/** A closed trade of a variation with the scan it came from. */
export interface ShadowTrade {
  trade: ClosedTrade;
  /** The entry features of its scan (the signal's, as its `paper_trades` rows carry them); null when absent. */
  features: Record<string, unknown> | null;
  /** The model's P(WIN) recorded beside its scan (a variation run with walk-forward models); null otherwise. */
  mlProbability: number | null;
}

export interface ShadowInput {
  market: BacktestMarket;
  system: BacktestConfig['system'];
  /** The champion: the config in force. */
  base: StrategyConfigs;
  /** config/ml in force (the variations, periods, significance level); default `base.ml`. */
  ml?: MlConfig;
  /** Kraken-venue HTF series: the MACRO engine runs in the loop (run.ts `macroSeries`). */
  macroSeries?: MacroSeries;
  allowMissingReference?: boolean;
}

/** A backtest runner with the same contract as `runBacktest` (the walk-forward learning run returns its real pass). */
export type ShadowBacktest = (m: BacktestMarket, config: BacktestConfig, opts: BacktestOptions) => BacktestResult;

export interface ShadowOptions {
  /** Comparison periods in hours (default config/ml shadow.periodsHours). */
  periodsHours?: readonly number[];
  /** When the run was made (default now). */
  ts?: number;
  /** Default 'full' (indicators shared across the variations). */
  indicators?: IndicatorMode;
  /**
   * The walk-forward learning run (shared/backtest/learning.ts `runWithLearning(...).run`), used for
   * the variations whose config/ml mode is `filter`: models retrained on the backtest clock predict
   * their scans and the core's ML filter acts. The other variations run plain: in advisory mode a
   * prediction changes no trade. Without it the ML-filter variations run without models and their
   * result says "no model" (nothing is filtered).
   */
  learning?: ShadowBacktest;
  /** Candles processed over every runnable variation (one backtest after the other), and the variation running. */
  onProgress?: (done: number, total: number, variation: string) => void;
}

export interface ShadowRun {
  results: ShadowResults;
  /** Per variation name: its closed trades in exit order (absent for a variation with an error). */
  trades: Record<string, ShadowTrade[]>;
  /** Backtest notes of the champion's run (warm-up, reference, MACRO). */
  notes: string[];
}

/** Deterministic id: the window's end + a hash of the symbols, window, champion config, variations, MACRO and learning on / off (the same shadow run twice has the same id). */
export function shadowRunId(input: { symbols: readonly string[]; from: number; to: number; base: StrategyConfigs; variants: readonly Pick<ShadowVariant, 'name' | 'overrides'>[]; macro: boolean; learning: boolean }): string {
  const h = createHash('sha256')
    .update(JSON.stringify([input.symbols, input.from, input.to, input.base, input.variants.map((v) => [v.name, v.overrides]), input.macro, input.learning]))
    .digest('hex')
    .slice(0, 10);
  return `shadow_${new Date(input.to).toISOString().replace(/[-:]/g, '').slice(0, 13)}_${h}`;
}

/** The entry features of a trade's scan, as its paper_trades rows carry them (null when absent or not an object). */
export function featuresOf(t: ClosedTrade): Record<string, unknown> | null {
  const raw = t.rows[0]?.features;
  if (typeof raw !== 'string') return null;
  try {
    const f = JSON.parse(raw) as unknown;
    return f !== null && typeof f === 'object' && !Array.isArray(f) ? (f as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function runShadow(input: ShadowInput, opts: ShadowOptions = {}): ShadowRun {
  const t0 = performance.now();
  const { market: m, base } = input;
  const ml = input.ml ?? base.ml;
  const periodsHours = [...(opts.periodsHours ?? ml.shadow.periodsHours)];
  if (periodsHours.length === 0 || periodsHours.some((h) => !(Number.isInteger(h) && h > 0))) throw new Error(`shadow: periods must be whole hours > 0 (got ${periodsHours.join(', ')})`);
  const variants = shadowVariants(base, ml);
  const end = m.to + MINUTE;
  const runnable = variants.filter((v) => v.config !== null);
  const total = runnable.length * m.orderIndex.length;

  const trades: Record<string, ShadowTrade[]> = {};
  const errors = new Map<string, string>();
  let scans = 0;
  let notes: string[] = [];
  let done = 0;
  for (const v of variants) {
    if (v.config === null) {
      errors.set(v.name, v.error ?? 'invalid overrides');
      continue;
    }
    const champion = v.name === CHAMPION;
    const config: BacktestConfig = { system: input.system, strategies: v.config, ...(input.allowMissingReference ? { allowMissingReference: true } : {}) };
    const offset = done;
    const learning = opts.learning !== undefined && filtersByMl(v.config);
    let r: BacktestResult;
    try {
      r = (learning ? (opts.learning as ShadowBacktest) : runBacktest)(m, config, {
        indicators: opts.indicators ?? 'full',
        record: { decisions: champion || learning, signals: false, events: false },
        ...(input.macroSeries ? { macroSeries: input.macroSeries } : {}),
        ...(opts.onProgress ? { onProgress: (n: number) => opts.onProgress?.(offset + n, total, v.name) } : {}),
      });
    } catch (e) {
      if (champion) throw e;
      errors.set(v.name, `run failed: ${(e as Error).message}`);
      done += m.orderIndex.length;
      continue;
    }
    done += m.orderIndex.length;
    if (champion) {
      scans = r.decisions.length + r.swingDecisions.length;
      notes = r.notes;
    }
    const probability = new Map<string, number>();
    for (const d of [...r.decisions, ...r.swingDecisions]) if (typeof d.ml?.probability === 'number') probability.set(d.signalId, d.ml.probability);
    trades[v.name] = r.trades.map((t) => ({ trade: t, features: featuresOf(t), mlProbability: probability.get(t.signalId) ?? null }));
  }

  const championTrades = (trades[CHAMPION] ?? []).map((t) => t.trade);
  const variations: ShadowVariationResult[] = variants.map((v) => {
    const err = errors.get(v.name);
    const note = v.config !== null && filtersByMl(v.config) ? (opts.learning ? WALK_FORWARD_NOTE : NO_MODEL_NOTE) : v.note;
    const own = (trades[v.name] ?? []).map((t) => t.trade);
    return {
      name: v.name,
      description: v.description,
      overrides: v.overrides,
      periods: err !== undefined ? {} : variationPeriods(own, v.name === CHAMPION ? null : championTrades, end, periodsHours),
      ...(err !== undefined ? { error: err } : {}),
      ...(note !== undefined ? { note } : {}),
    };
  });
  const results = shadowResultsSchema.parse({
    runId: shadowRunId({ symbols: m.symbols, from: m.from, to: end, base, variants, macro: input.macroSeries !== undefined, learning: opts.learning !== undefined }),
    ts: opts.ts ?? Date.now(),
    from: m.from,
    to: end,
    symbols: [...m.symbols],
    periodsHours,
    significanceP: ml.shadow.significanceP,
    variations,
    scans,
    wallMs: performance.now() - t0,
  });
  return { results, trades, notes };
}

/** Per-scan cost of a run, ms (wall / champion scans; null without a scan). */
export function perScanMs(r: Pick<ShadowResults, 'wallMs' | 'scans'>): number | null {
  return r.scans > 0 ? r.wallMs / r.scans : null;
}
