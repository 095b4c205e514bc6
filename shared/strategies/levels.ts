/**
 * Support/resistance for the MICRO-SCALP levels strategy (SPEC 4): horizontal levels from the last
 * `lookbackCandles` closed 15m candles, and diagonal trend lines by linear regression over 1h swing
 * highs/lows. Pure functions over columnar series; `end` is the number of candles that may be read
 * (indices < end), so callers pass the visible (closed) count and nothing later is ever read.
 *
 * ## Horizontal levels: the clustering algorithm
 * 1. Window: candles [end - lookbackCandles, end). Candidate prices: every candle's high and its low.
 * 2. Touches of a candidate price c: the number of DISTINCT candles in the window whose high or low lies
 *    within `touchPct` % of c (|x - c| <= c x touchPct / 100). A candle touching with both its high and
 *    its low counts once.
 * 3. Candidates with touches >= `minTouches` are ranked by touches (desc), then price (asc). Walking
 *    that ranking, a candidate becomes a level unless it lies within `clusterPct` % of a level already
 *    accepted (|c - L| <= L x clusterPct / 100): such a candidate belongs
 *    to that level's cluster and is absorbed (non-maximum suppression). So accepted levels are always
 *    MORE than `clusterPct` % apart, and each is an actual traded extreme touched >= `minTouches` times.
 * 4. Kind: relative to the reference price (default: the close of the last window candle): a level
 *    above it is `resistance`, at or below it `support`.
 * Boundaries are inclusive ("within"), with a 1e-9 relative allowance for decimal rounding.
 *
 * ## Trend lines
 * Swing highs/lows (pivots) of strength s: high[j] is strictly above the s highs before it and >= the
 * s highs after it (the first of equal highs is the pivot); lows mirrored. A pivot at j is known only
 * once candle j + s has closed, so at `end` only pivots with j + s <= end - 1 are used. One line through
 * the last `maxSwings` swing HIGHS and one through the last `maxSwings` swing LOWS: least squares of
 * price on time (x = pivot candle open time). A line is valid only when R^2 > `minRSquared` and it has
 * at least MIN_SWINGS_PER_LINE points. Kind relative to the reference price, like horizontal levels.
 */
import type { LevelsExhaustionConfig } from '../config/strategy.js';
import type { CandleSeries } from './series.js';
import { lowerBound, upperBound } from '../sorted.js';

export type LevelKind = 'support' | 'resistance';
type HorizontalParams = LevelsExhaustionConfig['levels']['horizontal'];
type TrendLineParams = LevelsExhaustionConfig['levels']['trendLines'];

/** A regression line needs at least this many swings (proposed config field `trendLines.minSwings`). */
const MIN_SWINGS_PER_LINE = 3;
/** Relative allowance on inclusive boundaries, so 0.1 % written in decimal still counts as 0.1 %. */
export const BOUNDARY_EPSILON = 1e-9;

export interface HorizontalLevel {
  readonly source: 'horizontal';
  readonly price: number;
  readonly touches: number;
  readonly kind: LevelKind;
  /** Open time of the most recent touching candle. */
  readonly lastTouchTime: number;
}

export interface TrendLine {
  readonly source: 'trendline';
  /** Regressed through swing highs or swing lows. */
  readonly side: 'high' | 'low';
  /** Price change per millisecond. */
  readonly slopePerMs: number;
  /** Line value at `originTime`. */
  readonly intercept: number;
  readonly originTime: number;
  readonly r2: number;
  /** Swings used. */
  readonly swings: number;
  readonly kind: LevelKind;
}

export interface LevelSet {
  readonly horizontal: readonly HorizontalLevel[];
  readonly trendLines: readonly TrendLine[];
}

export const EMPTY_LEVEL_SET: LevelSet = Object.freeze({ horizontal: Object.freeze([]), trendLines: Object.freeze([]) });

function within(distance: number, reference: number, pct: number): boolean {
  return Math.abs(distance) <= Math.abs(reference) * (pct / 100) * (1 + BOUNDARY_EPSILON);
}

/**
 * Horizontal levels from candles [end - lookbackCandles, end) of `series` (normally 15m), sorted by price.
 * `referencePrice` decides support vs resistance (default: close of candle end - 1).
 */
export function horizontalLevels(
  series: CandleSeries,
  end: number,
  params: HorizontalParams,
  referencePrice?: number,
): HorizontalLevel[] {
  const stop = Math.min(end, series.length);
  const start = Math.max(0, stop - params.lookbackCandles);
  if (stop - start <= 0) return [];
  const ref = referencePrice ?? (series.close[stop - 1] as number);
  const tolFactor = (params.touchPct / 100) * (1 + BOUNDARY_EPSILON);
  const candidates = touchedCandidates(sortedExtremes(series, start, stop), tolFactor, params.minTouches);
  if (candidates.count === 0) return [];
  return clusterLevels(series, start, stop, candidates, params.clusterPct, tolFactor, ref);
}

/**
 * The window's highs and lows, sorted: the extremes within a band are a contiguous run (binary search).
 * A candle touching with both extremes counts once: those have c - tol <= low <= high <= c + tol, found
 * among the candles sorted by low (their low lies in the band, a contiguous run) by checking their high.
 */
interface SortedExtremes {
  /** Highs, ascending. */
  hs: Float64Array;
  /** Lows, ascending. */
  ls: Float64Array;
  /** The high of the candle whose low is ls[q] (the lows sorted with their highs alongside). */
  highByLow: Float64Array;
}

function sortedExtremes(series: CandleSeries, start: number, stop: number): SortedExtremes {
  const w = stop - start;
  const high = series.high;
  const low = series.low;
  const hs = Float64Array.from(high.subarray(start, stop)).sort();
  const ls = Float64Array.from(low.subarray(start, stop)).sort();
  // Lows sorted with their highs alongside (insertion sort on typed arrays: w is small).
  const lowSorted = new Float64Array(w);
  const highByLow = new Float64Array(w);
  for (let k = 0; k < w; k++) {
    const l = low[start + k] as number;
    const h = high[start + k] as number;
    let q = k - 1;
    while (q >= 0 && (lowSorted[q] as number) > l) {
      lowSorted[q + 1] = lowSorted[q] as number;
      highByLow[q + 1] = highByLow[q] as number;
      q--;
    }
    lowSorted[q + 1] = l;
    highByLow[q + 1] = h;
  }
  return { hs, ls, highByLow };
}

/** Candidate prices touched by at least `minTouches` distinct candles, ascending, with their touches. */
interface Candidates {
  price: Float64Array;
  touches: Int32Array;
  count: number;
}

/** Every distinct extreme (2 per candle), ascending, kept when touched by >= minTouches candles. */
function touchedCandidates(x: SortedExtremes, tolFactor: number, minTouches: number): Candidates {
  const { hs, ls, highByLow } = x;
  const w = hs.length;
  const cand = new Float64Array(2 * w);
  cand.set(hs, 0);
  cand.set(ls, w);
  cand.sort();
  const cPrice = new Float64Array(2 * w);
  const cTouches = new Int32Array(2 * w);
  let m = 0;
  for (let k = 0; k < cand.length; k++) {
    const c = cand[k] as number;
    if (k > 0 && c === cand[k - 1]) continue;
    const tol = c * tolFactor;
    const lo = c - tol;
    const hi = c + tol;
    const a = lowerBound(ls, lo);
    const b = upperBound(ls, hi);
    let touches = upperBound(hs, hi) - lowerBound(hs, lo) + (b - a);
    for (let q = a; q < b; q++) if ((highByLow[q] as number) <= hi) touches--;
    if (touches >= minTouches) {
      cPrice[m] = c;
      cTouches[m] = touches;
      m++;
    }
  }
  return { price: cPrice, touches: cTouches, count: m };
}

/**
 * Walks the ranking (touches desc, then price asc) greedily: takes the best candidate not yet absorbed,
 * then absorbs every candidate within clusterPct of it (a contiguous run around it in price order).
 * The levels come out sorted by price.
 */
function clusterLevels(
  series: CandleSeries,
  start: number,
  stop: number,
  cands: Candidates,
  clusterPct: number,
  tolFactor: number,
  ref: number,
): HorizontalLevel[] {
  const { price: cPrice, touches: cTouches, count: m } = cands;
  const absorbed = new Uint8Array(m);
  const levels: HorizontalLevel[] = [];
  for (;;) {
    let best = -1;
    for (let k = 0; k < m; k++) if (absorbed[k] === 0 && (best < 0 || (cTouches[k] as number) > (cTouches[best] as number))) best = k;
    if (best < 0) break;
    const c = cPrice[best] as number;
    absorbed[best] = 1;
    for (let k = best - 1; k >= 0 && within(c - (cPrice[k] as number), c, clusterPct); k--) absorbed[k] = 1;
    for (let k = best + 1; k < m && within(c - (cPrice[k] as number), c, clusterPct); k++) absorbed[k] = 1;
    levels.push({
      source: 'horizontal',
      price: c,
      touches: cTouches[best] as number,
      kind: c > ref ? 'resistance' : 'support',
      lastTouchTime: lastTouchTime(series, start, stop, c, c * tolFactor),
    });
  }
  levels.sort((a, b) => a.price - b.price);
  return levels;
}

/** Open time of the most recent candle in [start, stop) whose high or low is within tol of c (-Infinity if none). */
function lastTouchTime(series: CandleSeries, start: number, stop: number, c: number, tol: number): number {
  for (let j = stop - 1; j >= start; j--) {
    if (Math.abs((series.high[j] as number) - c) <= tol || Math.abs((series.low[j] as number) - c) <= tol) return series.openTime[j] as number;
  }
  return Number.NEGATIVE_INFINITY;
}

/**
 * Pivot flags over a whole series: `highs[j] = 1` when j is a swing high of the given strength (see the
 * module doc). A flag at j depends on candles j - strength .. j + strength only; callers using data up
 * to index i must ignore flags with j + strength > i.
 */
export function pivotFlags(high: Float64Array, low: Float64Array, strength: number): { highs: Uint8Array; lows: Uint8Array } {
  const n = high.length;
  const highs = new Uint8Array(n);
  const lows = new Uint8Array(n);
  for (let j = strength; j + strength < n; j++) {
    const h = high[j] as number;
    const l = low[j] as number;
    let isHigh = true;
    let isLow = true;
    for (let k = 1; k <= strength && (isHigh || isLow); k++) {
      const hb = high[j - k] as number;
      const ha = high[j + k] as number;
      const lb = low[j - k] as number;
      const la = low[j + k] as number;
      if (!(h > hb && h >= ha)) isHigh = false;
      if (!(l < lb && l <= la)) isLow = false;
    }
    if (isHigh) highs[j] = 1;
    if (isLow) lows[j] = 1;
  }
  return { highs, lows };
}

interface Regression {
  slope: number;
  intercept: number;
  r2: number;
  n: number;
}

/** Least squares y = intercept + slope x, with R^2 (1 for a perfect fit, incl. a flat y with spread x). */
export function linearRegression(xs: ArrayLike<number>, ys: ArrayLike<number>, count: number = xs.length): Regression {
  const n = count;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN, n };
  let mx = 0;
  let my = 0;
  for (let k = 0; k < n; k++) {
    mx += xs[k] as number;
    my += ys[k] as number;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let k = 0; k < n; k++) {
    const dx = (xs[k] as number) - mx;
    const dy = (ys[k] as number) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN, n };
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2, n };
}

/**
 * Valid trend lines at `end` (indices < end readable) of `series` (normally 1h), using precomputed
 * `pivots` (from `pivotFlags` with `params.swingStrength`) or computing them.
 */
export function trendLines(
  series: CandleSeries,
  end: number,
  params: TrendLineParams,
  referencePrice?: number,
  pivots: { highs: Uint8Array; lows: Uint8Array } = pivotFlags(series.high, series.low, params.swingStrength),
): TrendLine[] {
  const stop = Math.min(end, series.length);
  if (stop <= 0) return [];
  const lastPivot = stop - 1 - params.swingStrength;
  const ref = referencePrice ?? (series.close[stop - 1] as number);
  const refTime = series.openTime[stop - 1] as number;
  const out: TrendLine[] = [];
  const xs = new Float64Array(params.maxSwings);
  const ys = new Float64Array(params.maxSwings);
  for (const side of ['high', 'low'] as const) {
    const flags = side === 'high' ? pivots.highs : pivots.lows;
    const prices = side === 'high' ? series.high : series.low;
    // Collect the last maxSwings pivots, newest first, then regress (order does not matter).
    let n = 0;
    let origin = Number.NaN;
    for (let j = lastPivot; j >= 0 && n < params.maxSwings; j--) {
      if (flags[j] === 1) {
        xs[n] = series.openTime[j] as number;
        ys[n] = prices[j] as number;
        n++;
      }
    }
    if (n < MIN_SWINGS_PER_LINE) continue;
    origin = xs[n - 1] as number; // oldest swing: keeps x small and well conditioned
    for (let k = 0; k < n; k++) xs[k] = (xs[k] as number) - origin;
    const reg = linearRegression(xs, ys, n);
    if (!(reg.r2 > params.minRSquared)) continue;
    const valueAtRef = reg.intercept + reg.slope * (refTime - origin);
    out.push({
      source: 'trendline',
      side,
      slopePerMs: reg.slope,
      intercept: reg.intercept,
      originTime: origin,
      r2: reg.r2,
      swings: n,
      kind: valueAtRef > ref ? 'resistance' : 'support',
    });
  }
  return out;
}

/** The line's price at time t (epoch ms). */
export function trendLineValueAt(line: TrendLine, t: number): number {
  return line.intercept + line.slopePerMs * (t - line.originTime);
}

interface NearestLevel {
  /** Index into the list passed in. */
  index: number;
  /** (price - level) / level x 100: positive when price is above the level. */
  distancePct: number;
}

/** The level nearest to `price` among those within `tolerancePct` % of it, or null. */
export function nearestLevel(price: number, levels: readonly { readonly price: number }[], tolerancePct: number): NearestLevel | null {
  let best = -1;
  let bestAbs = Number.POSITIVE_INFINITY;
  for (let k = 0; k < levels.length; k++) {
    const l = (levels[k] as { price: number }).price;
    const d = Math.abs(price - l);
    if (within(d, l, tolerancePct) && d < bestAbs) {
      best = k;
      bestAbs = d;
    }
  }
  if (best < 0) return null;
  const l = (levels[best] as { price: number }).price;
  return { index: best, distancePct: ((price - l) / l) * 100 };
}
