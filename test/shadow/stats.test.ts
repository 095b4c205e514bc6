/**
 * The shadow test's statistics: the t distribution's two-sided tail (regularized incomplete beta)
 * against reference values (SciPy 1.x `2 * scipy.stats.t.sf(t, df)`), Welch's test against
 * `scipy.stats.ttest_ind(a, b, equal_var=False)`, and the period figures by exit time.
 */
import { describe, expect, it } from 'vitest';
import { logGamma, periodStats, regularizedIncompleteBeta, studentTTwoSided, tradesInPeriod, variationPeriods, welchTTest } from '../../shared/shadow/stats.js';

const H = 3_600_000;

describe('t distribution and Welch test', () => {
  it('two-sided tail probabilities match SciPy to 1e-10 relative (1e-8 at df = 1e7: ln Γ cancellation)', () => {
    const cases: Array<[number, number, number]> = [
      [2, 10, 0.07338803477074037],
      [1, 1, 0.5000000000000001],
      [0.5, 3, 0.651447964848151],
      [10, 2, 0.00985245702332569],
      [3, 100, 0.0034079153433294465],
      [1.959963984540054, 1e7, 0.05000002772951259],
      [0.1, 0.5, 0.9463316211286064],
      [25, 5, 1.910677784395424e-6],
    ];
    for (const [t, df, p] of cases) {
      expect(Math.abs(studentTTwoSided(t, df) - p) / p, `t=${t} df=${df}`).toBeLessThan(df > 1e6 ? 1e-8 : 1e-10);
      expect(studentTTwoSided(-t, df)).toBe(studentTTwoSided(t, df));
    }
    expect(studentTTwoSided(0, 7)).toBe(1);
    expect(studentTTwoSided(Number.POSITIVE_INFINITY, 7)).toBe(0);
    expect(() => studentTTwoSided(1, 0)).toThrow(/df must be > 0/);
  });

  it('the special functions: Γ and the incomplete beta on closed forms', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b.
    expect(regularizedIncompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 13);
    expect(regularizedIncompleteBeta(0.7, 3, 1)).toBeCloseTo(0.343, 13);
    expect(regularizedIncompleteBeta(0.2, 1, 4)).toBeCloseTo(1 - 0.8 ** 4, 13);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it("Welch's t, df and p match SciPy; null with fewer than 2 values a side or no variance", () => {
    const r = welchTTest([1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12]);
    expect(r).not.toBeNull();
    expect(r!.t).toBeCloseTo(-2.3763541031440183, 12);
    expect(r!.df).toBeCloseTo(6.972255729794934, 12);
    expect(Math.abs(r!.p - 0.04928433820673053)).toBeLessThan(1e-12);
    const s = welchTTest([0.5, -0.3, 0.2, 0.9, -0.5, 0.1, 0.4], [-0.2, 0.1, -0.6, 0.3]);
    expect(s!.t).toBeCloseTo(1.07288356157164, 12);
    expect(s!.df).toBeCloseTo(7.542852532459307, 12);
    expect(Math.abs(s!.p - 0.3164444501877118)).toBeLessThan(1e-12);
    expect(welchTTest([1], [1, 2, 3])).toBeNull();
    expect(welchTTest([1, 2, 3], [4])).toBeNull();
    expect(welchTTest([2, 2, 2], [3, 3])).toBeNull();
    // Same samples: no difference at all.
    expect(welchTTest([1, 2, 4], [1, 2, 4])!.p).toBe(1);
  });
});

describe('period figures', () => {
  const end = Date.UTC(2025, 5, 12, 12);
  const t = (hoursBeforeEnd: number, pnl: number, pnlPct: number) => ({ exitTime: end - hoursBeforeEnd * H, pnl, pnlPct });
  const champion = [t(0, 10, 0.5), t(5, -4, -0.2), t(23.99, 6, 0.3), t(24, -8, -0.4), t(30, 2, 0.1), t(80, -1, -0.05)];

  it('a period holds the trades whose EXIT falls in (end - N h, end]', () => {
    expect(tradesInPeriod(champion, end, 24).map((x) => x.pnl)).toEqual([10, -4, 6]);
    expect(tradesInPeriod(champion, end, 72).map((x) => x.pnl)).toEqual([10, -4, 6, -8, 2]);
    expect(tradesInPeriod([{ exitTime: end + 1, pnl: 1, pnlPct: 1 }], end, 24)).toEqual([]);
  });

  it('trades, wins, win rate, profit factor (null without a loss), P&L, mean P&L % and the p-value', () => {
    const p = periodStats(tradesInPeriod(champion, end, 72), null);
    expect(p).toEqual({ trades: 5, wins: 3, winRate: 0.6, profitFactor: 18 / 12, pnl: 6, meanPnlPct: (0.5 - 0.2 + 0.3 - 0.4 + 0.1) / 5, pValue: null });
    expect(periodStats([t(1, 3, 0.2), t(2, 1, 0.1)], null).profitFactor).toBeNull();
    expect(periodStats([], null)).toEqual({ trades: 0, wins: 0, winRate: null, profitFactor: null, pnl: 0, meanPnlPct: null, pValue: null });
    const challenger = [t(1, 20, 1.0), t(2, 12, 0.6), t(3, -2, -0.1), t(40, 5, 0.25)];
    const periods = variationPeriods(challenger, champion, end, [24, 72]);
    expect(Object.keys(periods)).toEqual(['24', '72']);
    expect(periods['24']!.trades).toBe(3);
    expect(periods['24']!.pValue).toBe(welchTTest([1.0, 0.6, -0.1], [0.5, -0.2, 0.3])!.p);
    expect(periods['72']!.pValue).toBe(welchTTest([1.0, 0.6, -0.1, 0.25], [0.5, -0.2, 0.3, -0.4, 0.1])!.p);
  });
});
