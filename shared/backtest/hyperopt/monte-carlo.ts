/**
 * Monte Carlo of a run's closed trades: how much of its drawdown and return is the luck of one
 * order of trades and of every trade having been taken.
 *
 * The equity here is the REALISED curve: starting equity + the closed trades' P&L in sequence (one
 * point per trade, the start included). Its max drawdown is therefore measured at trade closes and
 * is at most the marked-equity drawdown of the run's metrics (which also sees open positions).
 *
 * - shuffle: the same trades in a random order (Fisher-Yates), N times. The total return is the
 *   same in every simulation (a sum does not depend on order); the drawdown changes.
 * - skip: each trade dropped independently with probability p (missed fills, downtime, a signal
 *   not acted on), order kept, N times. p = 0 reproduces the run.
 * Each gives the 5 / 25 / 50 / 75 / 95th percentiles (linear interpolation between order
 * statistics) of max drawdown % and return % over the simulations, next to the actual values.
 * Deterministic from the seed.
 */
import { maxDrawdownPct } from '../metrics.js';
import { rng } from './sampler.js';

export const MC_PERCENTILES = [5, 25, 50, 75, 95] as const;

export interface Distribution {
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  mean: number;
}

export interface McScenario {
  /** What was resampled. */
  kind: 'shuffle' | 'skip';
  /** skip: drop probability. */
  p?: number;
  maxDrawdownPct: Distribution;
  returnPct: Distribution;
  /** Share of simulations ending below the starting equity. */
  lossProbability: number;
}

export interface MonteCarloResult {
  simulations: number;
  seed: number;
  trades: number;
  startingEquity: number;
  actual: { maxDrawdownPct: number; returnPct: number };
  shuffle: McScenario;
  skip: McScenario;
}

/** Percentile q (0..100) of sorted values, linear between order statistics. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function distribution(values: readonly number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return { p5: percentile(s, 5), p25: percentile(s, 25), p50: percentile(s, 50), p75: percentile(s, 75), p95: percentile(s, 95), mean };
}

/** Max drawdown % and return % of the realised equity of `pnl` in this order. */
export function realisedPath(pnl: readonly number[], startingEquity: number): { maxDrawdownPct: number; returnPct: number } {
  const eq = new Float64Array(pnl.length + 1);
  eq[0] = startingEquity;
  for (let k = 0; k < pnl.length; k++) eq[k + 1] = (eq[k] as number) + (pnl[k] as number);
  return { maxDrawdownPct: maxDrawdownPct(eq), returnPct: ((eq[pnl.length] as number) / startingEquity - 1) * 100 };
}

export interface MonteCarloInput {
  /** Closed trades' P&L in the run's order (exit time). */
  pnl: readonly number[];
  startingEquity: number;
  simulations: number;
  seed: number;
  /** skip scenario: drop probability per trade (default 0.1). */
  skipP?: number;
}

export function monteCarlo(x: MonteCarloInput): MonteCarloResult {
  if (!(Number.isInteger(x.simulations) && x.simulations >= 1)) throw new Error('monte carlo: simulations must be a whole number >= 1');
  const p = x.skipP ?? 0.1;
  if (!(p >= 0 && p < 1)) throw new Error('monte carlo: the skip probability must be in [0, 1)');
  const u = rng(x.seed);
  const scenario = (kind: 'shuffle' | 'skip', sim: () => number[]): McScenario => {
    const dd: number[] = [];
    const ret: number[] = [];
    let losses = 0;
    for (let s = 0; s < x.simulations; s++) {
      const r = realisedPath(sim(), x.startingEquity);
      dd.push(r.maxDrawdownPct);
      ret.push(r.returnPct);
      if (r.returnPct < 0) losses++;
    }
    return { kind, ...(kind === 'skip' ? { p } : {}), maxDrawdownPct: distribution(dd), returnPct: distribution(ret), lossProbability: losses / x.simulations };
  };
  const shuffle = scenario('shuffle', () => {
    const a = [...x.pnl];
    for (let k = a.length - 1; k > 0; k--) {
      const j = Math.floor(u() * (k + 1));
      [a[k], a[j]] = [a[j] as number, a[k] as number];
    }
    return a;
  });
  const skip = scenario('skip', () => x.pnl.filter(() => u() >= p));
  return { simulations: x.simulations, seed: x.seed, trades: x.pnl.length, startingEquity: x.startingEquity, actual: realisedPath(x.pnl, x.startingEquity), shuffle, skip };
}
