/**
 * Monte Carlo of trade order and skipped trades on hand-checkable P&L lists (arithmetic only).
 *
 * Trades +100, -300, +200, -100 from 10,000: realised equity 10,000 / 10,100 / 9,800 / 10,000 /
 * 9,900 -> max drawdown (10,100 - 9,800) / 10,100 = 2.970297 %, return -1 %.
 * The order -300, -100, +100, +200 gives the worst drawdown: 10,000 -> 9,600 = 4 %; the order
 * +100, +200, -300, -100 gives 10,300 -> 9,900 = 3.883495 %; +200, +100, -100, -300 the same.
 */
import { describe, expect, it } from 'vitest';
import { distribution, monteCarlo, percentile, realisedPath } from '../../shared/backtest/hyperopt/monte-carlo.js';

const PNL = [100, -300, 200, -100];

describe('Monte Carlo of trades', () => {
  it('realised path: drawdown and return by hand', () => {
    const r = realisedPath(PNL, 10_000);
    expect(r.maxDrawdownPct).toBeCloseTo((300 / 10_100) * 100, 10);
    expect(r.returnPct).toBeCloseTo(-1, 10);
    expect(realisedPath([-300, -100, 100, 200], 10_000).maxDrawdownPct).toBeCloseTo(4, 10);
  });

  it('percentiles interpolate between order statistics', () => {
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5], 25)).toBe(2);
    expect(percentile([10, 20], 5)).toBeCloseTo(10.5, 12);
    expect(distribution([4, 1, 3, 2, 5])).toMatchObject({ p5: 1.2, p50: 3, p95: 4.8, mean: 3 });
  });

  it('shuffling keeps the total return in every simulation and spreads the drawdown', () => {
    const mc = monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 2_000, seed: 3 });
    const r = mc.shuffle.returnPct;
    for (const v of [r.p5, r.p25, r.p50, r.p75, r.p95]) expect(v).toBeCloseTo(-1, 10);
    const d = mc.shuffle.maxDrawdownPct;
    // 24 orders; drawdown between the best order's and the worst (4 %).
    expect(d.p95).toBeCloseTo(4, 10);
    expect(d.p5).toBeLessThan(d.p95);
    expect(d.p5).toBeGreaterThanOrEqual(2.9);
    expect(mc.shuffle.lossProbability).toBe(1);
    expect(mc.actual).toEqual(realisedPath(PNL, 10_000));
  });

  it('skip with p = 0 reproduces the run exactly; p > 0 spreads the return; same seed, same result', () => {
    const zero = monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 100, seed: 1, skipP: 0 });
    for (const k of ['p5', 'p25', 'p50', 'p75', 'p95'] as const) {
      expect(zero.skip.returnPct[k]).toBeCloseTo(-1, 10);
      expect(zero.skip.maxDrawdownPct[k]).toBeCloseTo(zero.actual.maxDrawdownPct, 10);
    }
    const half = monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 2_000, seed: 1, skipP: 0.5 });
    expect(half.skip.returnPct.p5).toBeLessThan(-1);
    expect(half.skip.returnPct.p95).toBeGreaterThan(0);
    // Each trade kept with probability 1/2: the expected return is half the run's (-0.5 %); the sd
    // of one simulation's return is sqrt(0.25 x (1 + 9 + 4 + 1)) = 1.94 %, of the mean of 2,000 0.043 %.
    expect(Math.abs(half.skip.returnPct.mean + 0.5)).toBeLessThan(0.15);
    expect(monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 2_000, seed: 1, skipP: 0.5 })).toEqual(half);
    expect(() => monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 0, seed: 1 })).toThrow(/simulations/);
    expect(() => monteCarlo({ pnl: PNL, startingEquity: 10_000, simulations: 5, seed: 1, skipP: 1 })).toThrow(/skip probability/);
  });
});
