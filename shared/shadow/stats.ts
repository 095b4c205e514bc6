/**
 * The shadow test's figures (SPEC 8): per variation and per comparison period, the closed trades whose
 * EXIT falls in the last N hours of the window, their win rate, profit factor, P&L after costs, mean
 * P&L % per trade, and a two-sided Welch t-test of the challenger's per-trade P&L % against the
 * champion's over the same period.
 *
 * The t distribution's CDF is computed exactly (to double precision) through the regularized
 * incomplete beta function: for T with df degrees of freedom, P(|T| >= |t|) = I_x(df / 2, 1 / 2) with
 * x = df / (df + t²) (Numerical Recipes' continued fraction, Lentz's method; log-gamma by Lanczos).
 */
import type { ClosedTrade } from '../model/trading.js';
import type { ShadowPeriodStats } from '../learning/types.js';

const HOUR_MS = 3_600_000;

// ---------- special functions ----------

const LANCZOS = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: ~15 significant digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new Error(`logGamma: x must be > 0 (got ${x})`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = 0.99999999999980993;
  const t = z + 7.5;
  for (let k = 0; k < LANCZOS.length; k++) a += (LANCZOS[k] as number) / (z + k + 1);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta: no convergence for a=${a}, b=${b}, x=${x}`);
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new Error(`incomplete beta: a and b must be > 0 (got ${a}, ${b})`);
  if (!(x >= 0 && x <= 1)) throw new Error(`incomplete beta: x must be in [0, 1] (got ${x})`);
  if (x === 0 || x === 1) return x;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use the symmetry.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value P(|T| >= |t|) of Student's t with `df` (> 0, real) degrees of freedom. */
export function studentTTwoSided(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`t distribution: df must be > 0 (got ${df})`);
  if (Number.isNaN(t)) throw new Error('t distribution: t is NaN');
  if (!Number.isFinite(t)) return 0;
  const p = regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return Math.min(1, Math.max(0, p));
}

/** Mean and unbiased variance. */
function meanVar(xs: readonly number[]): { n: number; mean: number; variance: number } {
  const n = xs.length;
  let s = 0;
  for (const x of xs) s += x;
  const mean = n > 0 ? s / n : Number.NaN;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { n, mean, variance: n > 1 ? ss / (n - 1) : Number.NaN };
}

export interface WelchResult {
  t: number;
  df: number;
  p: number;
}

/**
 * Welch's unequal-variance t-test of mean(a) vs mean(b), two-sided. Null when either side has fewer
 * than 2 values, or the standard error of the difference is zero (both sides constant).
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const x = meanVar(a);
  const y = meanVar(b);
  const va = x.variance / x.n;
  const vb = y.variance / y.n;
  const se2 = va + vb;
  if (!(se2 > 0) || !Number.isFinite(se2)) return null;
  const t = (x.mean - y.mean) / Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (x.n - 1) + (vb * vb) / (y.n - 1));
  return { t, df, p: studentTTwoSided(t, df) };
}

// ---------- period figures ----------

/** The part of a closed trade the figures read. */
export type StatTrade = Pick<ClosedTrade, 'exitTime' | 'pnl' | 'pnlPct'>;

/** Trades whose exit falls in (end - hours, end]. */
export function tradesInPeriod<T extends StatTrade>(trades: readonly T[], end: number, hours: number): T[] {
  const start = end - hours * HOUR_MS;
  return trades.filter((t) => t.exitTime > start && t.exitTime <= end);
}

/**
 * The figures of one variation over one period. `champion` is the champion's trades of the same
 * period (null for the champion itself: no p-value).
 */
export function periodStats(trades: readonly StatTrade[], champion: readonly StatTrade[] | null): ShadowPeriodStats {
  let wins = 0;
  let gross = 0;
  let loss = 0;
  let pnl = 0;
  let pct = 0;
  for (const t of trades) {
    pnl += t.pnl;
    pct += t.pnlPct;
    if (t.pnl > 0) {
      wins++;
      gross += t.pnl;
    } else loss -= t.pnl;
  }
  const n = trades.length;
  const test = champion === null ? null : welchTTest(trades.map((t) => t.pnlPct), champion.map((t) => t.pnlPct));
  return {
    trades: n,
    wins,
    winRate: n > 0 ? wins / n : null,
    profitFactor: loss > 0 ? gross / loss : null,
    pnl,
    meanPnlPct: n > 0 ? pct / n : null,
    pValue: test ? test.p : null,
  };
}

/** Every period of one variation: period hours (as the string key) -> figures. */
export function variationPeriods(trades: readonly StatTrade[], champion: readonly StatTrade[] | null, end: number, periodsHours: readonly number[]): Record<string, ShadowPeriodStats> {
  const out: Record<string, ShadowPeriodStats> = {};
  for (const h of periodsHours) out[String(h)] = periodStats(tradesInPeriod(trades, end, h), champion === null ? null : tradesInPeriod(champion, end, h));
  return out;
}
