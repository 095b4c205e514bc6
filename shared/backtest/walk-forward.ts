/**
 * Walk-forward optimisation (SPEC 7): the range is cut into consecutive (train, test) windows; on
 * each, the grid runs on the TRAIN window only, its best combination (by the objective) is then
 * backtested on the following TEST window, which it has never seen. Test windows follow each other
 * without overlap (step = test length by default), so the concatenated test results are an
 * out-of-sample track record.
 *
 * "Only train data": a train run evaluates and trades candles of [trainFrom, trainTo] only and, as
 * every backtest, reads no candle after the one it decides on (the lookahead test proves it), so
 * nothing of the test window can influence the choice (test/backtest/walk-forward.test.ts alters
 * every candle after trainTo and gets the same choice). Candles before trainFrom are history
 * (indicator and level warm-up), as live has them.
 */
import { INTERVAL_MS } from '../model/market.js';
import type { CandleSeries } from '../strategies/series.js';
import { applyOverrides } from './config.js';
import { runBacktest, type BacktestConfig, type IndicatorMode } from './run.js';
import { runGrid, type GridDimension, type GridRow } from './grid.js';
import { createMarket } from './market.js';
import { computeMetrics, type BacktestMetrics, type Objective } from './metrics.js';
import type { ClosedTrade } from '../model/trading.js';

const MINUTE = INTERVAL_MS['1m'];

export interface WalkForwardWindowSpec {
  trainFrom: number;
  trainTo: number;
  testFrom: number;
  testTo: number;
}

/** Consecutive windows over [from, to] (open times, inclusive), aligned on whole minutes. */
export function walkForwardWindows(from: number, to: number, trainMs: number, testMs: number, stepMs: number = testMs): WalkForwardWindowSpec[] {
  if (!(trainMs >= MINUTE && testMs >= MINUTE && stepMs >= MINUTE)) throw new Error('walk-forward: train, test and step must be at least one minute');
  if (trainMs % MINUTE !== 0 || testMs % MINUTE !== 0 || stepMs % MINUTE !== 0) throw new Error('walk-forward: train, test and step must be whole minutes');
  if (stepMs < testMs) throw new Error('walk-forward: the step must be >= the test window (test windows must not overlap)');
  const out: WalkForwardWindowSpec[] = [];
  for (let a = from; a + trainMs + testMs - MINUTE <= to; a += stepMs) {
    out.push({ trainFrom: a, trainTo: a + trainMs - MINUTE, testFrom: a + trainMs, testTo: a + trainMs + testMs - MINUTE });
  }
  return out;
}

export interface WalkForwardWindow extends WalkForwardWindowSpec {
  /** Best train row (its labels, overrides and train metrics). */
  chosen: GridRow;
  /** Range the train grid actually ran on. */
  trainRange: { from: number; to: number };
  test: BacktestMetrics;
  testTrades: ClosedTrade[];
  /** The test window's configuration (the base with the chosen overrides). */
  chosenConfig: BacktestConfig['strategies'];
}

export interface WalkForwardInput {
  series: readonly CandleSeries[];
  from?: number;
  to?: number;
  config: BacktestConfig;
  /** The grid searched on each train window (or `search`). */
  dims?: readonly GridDimension[];
  /**
   * Instead of the grid: the search run on each train window [from, to] (hyperopt), resolving with
   * its rows ranked best first (runs meeting minTrades first).
   */
  search?: (range: { from: number; to: number; window: number }) => Promise<{ rows: GridRow[]; from: number; to: number }>;
  objective: Objective;
  /** Grid: runs with fewer closed trades never rank above one that has them (default DEFAULT_MIN_TRADES). */
  minTrades?: number;
  trainMs: number;
  testMs: number;
  stepMs?: number;
  indicators?: IndicatorMode;
  workers?: number;
  onWindow?: (done: number, total: number) => void;
}

export interface WalkForwardResult {
  windows: WalkForwardWindow[];
  /** The configuration chosen on the LAST train window: what the walk-forward would trade next. */
  latest: { overrides: GridRow['overrides']; labels: GridRow['labels']; strategies: BacktestConfig['strategies'] };
  /** Metrics of all test windows together (trades concatenated, equity chained). */
  outOfSample: BacktestMetrics;
  wallMs: number;
}

export async function runWalkForward(x: WalkForwardInput): Promise<WalkForwardResult> {
  const t0 = performance.now();
  const bounds = createMarket({ series: x.series, ...(x.from !== undefined ? { from: x.from } : {}), ...(x.to !== undefined ? { to: x.to } : {}) });
  const specs = walkForwardWindows(bounds.from, bounds.to, x.trainMs, x.testMs, x.stepMs);
  if (specs.length === 0) throw new Error(`walk-forward: the range is shorter than one train + test window`);
  const windows: WalkForwardWindow[] = [];
  const start = x.config.strategies.risk.startingEquityUsd;
  const eqT: number[] = [];
  const eqV: number[] = [];
  let carried = 0;
  const allTrades: ClosedTrade[] = [];
  const change: Record<string, number[]> = {};
  if (!x.search && (!x.dims || x.dims.length === 0)) throw new Error('walk-forward: give the grid dimensions or a search');
  for (const w of specs) {
    const g = x.search
      ? await x.search({ from: w.trainFrom, to: w.trainTo, window: windows.length })
      : await runGrid({
          series: x.series,
          from: w.trainFrom,
          to: w.trainTo,
          config: x.config,
          dims: x.dims ?? [],
          objective: x.objective,
          ...(x.minTrades !== undefined ? { minTrades: x.minTrades } : {}),
          ...(x.indicators ? { indicators: x.indicators } : {}),
          ...(x.workers !== undefined ? { workers: x.workers } : {}),
        });
    const chosen = g.rows[0] as GridRow;
    const testMarket = createMarket({ series: x.series, from: w.testFrom, to: w.testTo });
    const strategies = applyOverrides(x.config.strategies, chosen.overrides);
    const r = runBacktest(testMarket, { ...x.config, strategies }, { ...(x.indicators ? { indicators: x.indicators } : {}), record: { decisions: false, signals: false } });
    windows.push({ ...w, chosen, trainRange: { from: g.from, to: g.to }, test: r.metrics, testTrades: r.trades, chosenConfig: strategies });
    for (let k = 0; k < r.samples; k++) {
      eqT.push(r.equityTime[k] as number);
      eqV.push((r.equity[k] as number) + carried);
    }
    carried += (r.samples > 0 ? (r.equity[r.samples - 1] as number) : start) - start;
    allTrades.push(...r.trades);
    for (const [s, v] of Object.entries(r.metrics.marketChangeBySymbol)) (change[s] ??= []).push(v);
    x.onWindow?.(windows.length, specs.length);
  }
  const compound: Record<string, number> = {};
  for (const [s, list] of Object.entries(change)) compound[s] = (list.reduce((acc, v) => acc * (1 + v / 100), 1) - 1) * 100;
  const outOfSample = computeMetrics({ trades: allTrades, startingEquity: start, equityTime: eqT, equity: eqV, start: specs[0]?.testFrom ?? bounds.from, marketChangeBySymbol: compound });
  const last = windows[windows.length - 1] as WalkForwardWindow;
  return { windows, latest: { overrides: last.chosen.overrides, labels: last.chosen.labels, strategies: last.chosenConfig }, outOfSample, wallMs: performance.now() - t0 };
}
