/**
 * Stress report (SPEC 7): the same backtest on the most volatile windows of the data.
 *
 * Volatility of a window = the mean over the symbols of (highest high - lowest low) / lowest low x 100
 * of the window's candles (the 24h-volatility measure of shared/protection/volatility.ts, taken over
 * the window). Candidate windows are aligned on multiples of the window length from the range start;
 * the N highest are taken (they are disjoint by construction) and reported in time order with
 * their rank. Each is backtested with the candles before it as history (as live would have them).
 */
import type { CandleSeries } from '../strategies/series.js';
import { runBacktest, type BacktestConfig, type IndicatorMode } from './run.js';
import { createMarket } from './market.js';
import { lowerBound, upperBound } from '../sorted.js';
import type { BacktestMetrics } from './metrics.js';

/** Default stress window. */
export const STRESS_WINDOW_MS = 24 * 60 * 60_000;
const MINUTE = 60_000;

export interface VolatileWindow {
  from: number;
  to: number;
  volatilityPct: number;
  /** 1 = most volatile. */
  rank: number;
}

/** The `count` most volatile aligned windows of [from, to], in time order. */
export function volatileWindows(series: readonly CandleSeries[], from: number, to: number, windowMs: number, count: number): VolatileWindow[] {
  if (!(windowMs >= MINUTE) || windowMs % MINUTE !== 0) throw new Error('stress: the window must be a whole number of minutes');
  if (!(count >= 1)) throw new Error('stress: count must be >= 1');
  const cands: Array<Omit<VolatileWindow, 'rank'>> = [];
  for (let a = from; a + windowMs - MINUTE <= to; a += windowMs) {
    const b = a + windowMs - MINUTE;
    let sum = 0;
    let n = 0;
    for (const s of series) {
      const i0 = lowerBound(s.openTime, a);
      const i1 = upperBound(s.openTime, b);
      if (i1 <= i0) continue;
      let hi = Number.NEGATIVE_INFINITY;
      let lo = Number.POSITIVE_INFINITY;
      for (let i = i0; i < i1; i++) {
        if ((s.high[i] as number) > hi) hi = s.high[i] as number;
        if ((s.low[i] as number) < lo) lo = s.low[i] as number;
      }
      sum += ((hi - lo) / lo) * 100;
      n++;
    }
    if (n > 0) cands.push({ from: a, to: b, volatilityPct: sum / n });
  }
  const ranked = [...cands].sort((x, y) => y.volatilityPct - x.volatilityPct || x.from - y.from).slice(0, count);
  return ranked.map((w, k) => ({ ...w, rank: k + 1 })).sort((x, y) => x.from - y.from);
}

export interface StressRow extends VolatileWindow {
  metrics: BacktestMetrics;
}

export interface StressReport {
  windowMs: number;
  rows: StressRow[];
}

export function runStress(x: { series: readonly CandleSeries[]; from?: number; to?: number; config: BacktestConfig; count: number; windowMs?: number; indicators?: IndicatorMode }): StressReport {
  const bounds = createMarket({ series: x.series, ...(x.from !== undefined ? { from: x.from } : {}), ...(x.to !== undefined ? { to: x.to } : {}) });
  const windowMs = x.windowMs ?? STRESS_WINDOW_MS;
  const rows = volatileWindows(x.series, bounds.from, bounds.to, windowMs, x.count).map((w) => {
    const m = createMarket({ series: x.series, from: w.from, to: w.to });
    const r = runBacktest(m, x.config, { ...(x.indicators ? { indicators: x.indicators } : {}), record: { decisions: false, signals: false } });
    return { ...w, metrics: r.metrics };
  });
  return { windowMs, rows };
}
