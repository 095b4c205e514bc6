/**
 * The four exhaustion checks of the MICRO-SCALP levels strategy (SPEC 4). Each is a pure function
 * returning { hit, value, threshold } so the decision can log the numbers behind it. Every check is
 * evaluated FOR A DIRECTION: SHORT = exhaustion of an up-move (at resistance), LONG = exhaustion of a
 * down-move (at support).
 *
 * - RSI: SHORT hit when RSI > overbought; LONG hit when RSI < oversold (strict). NaN RSI never hits.
 * - Low volume: value = volume / average, hit when value < maxRatio (strict). The average is the
 *   EMA(volume) of the candles BEFORE the evaluated one (see the strategy); no average, no hit.
 * - Double wick: the evaluated candle (the newest) and an earlier one among the last
 *   `lookbackCandles` candles both have a wick on the exhaustion side (SHORT: upper wick = high -
 *   max(open, close); LONG: lower wick = min(open, close) - low) > minWickPct % of their range, and
 *   their highs (SHORT) / lows (LONG) lie within maxApartPct % of each other (inclusive, relative to the
 *   earlier one). The evaluated candle must be the second wick, so a rejection is flagged when it
 *   happens and not again on every later candle of the window. value = the smallest such distance in %
 *   (NaN when the evaluated candle has no qualifying wick or no earlier wick exists), threshold =
 *   maxApartPct.
 * - Order-book flip: over the book samples in [now - windowMs, now] (samples after `now` are never
 *   read), the top-N depth imbalance (bid - ask) / (bid + ask) changes sign with |imbalance| >=
 *   minAbsImbalance on BOTH sides: SHORT needs a sample >= +min followed later by one <= -min (bids
 *   pulled / asks stacked); LONG the mirror. value = the largest min(|before|, |after|) over such ordered
 *   pairs (0 when none), hit when value >= minAbsImbalance. Samples computed over a different number of
 *   levels than configured are not used. With fewer than two usable samples the check returns
 *   UNAVAILABLE (not a miss), so the backtester (no book data) reports it as off.
 */
import type { LevelsExhaustionConfig } from '../config/strategy.js';
import type { BookFeatures } from '../model/market.js';
import type { Direction } from '../model/trading.js';
import { BOUNDARY_EPSILON } from './levels.js';

interface CheckResult {
  readonly hit: boolean;
  readonly value: number;
  readonly threshold: number;
}

export const UNAVAILABLE = 'unavailable' as const;
type FlipResult = CheckResult | typeof UNAVAILABLE;

type ExhaustionCfg = LevelsExhaustionConfig['exhaustion'];
type RsiParams = Pick<ExhaustionCfg['rsi'], 'overbought' | 'oversold'>;
type DoubleWickParams = ExhaustionCfg['doubleWick'];
type OrderBookFlipParams = ExhaustionCfg['orderBookFlip'];

export function rsiCheck(rsi: number, direction: Direction, p: RsiParams): CheckResult {
  if (direction === 'SHORT') return { hit: rsi > p.overbought, value: rsi, threshold: p.overbought };
  return { hit: rsi < p.oversold, value: rsi, threshold: p.oversold };
}

/** `average` = EMA(volume) of the preceding candles. */
export function lowVolumeCheck(volume: number, average: number, maxRatio: number): CheckResult {
  const ratio = average > 0 ? volume / average : Number.NaN;
  return { hit: ratio < maxRatio, value: ratio, threshold: maxRatio };
}

interface Ohlc {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

interface OhlcColumns {
  readonly open: ArrayLike<number>;
  readonly high: ArrayLike<number>;
  readonly low: ArrayLike<number>;
  readonly close: ArrayLike<number>;
}

/** Fraction of the range taken by the wick on the exhaustion side (0 for a zero-range candle). */
export function wickFraction(open: number, high: number, low: number, close: number, direction: Direction): number {
  const range = high - low;
  if (!(range > 0)) return 0;
  const wick = direction === 'SHORT' ? high - Math.max(open, close) : Math.min(open, close) - low;
  return wick / range;
}

/**
 * Double wick with the evaluated candle = closed index `last` of `cols`, or `forming` (the candle after
 * `last`) when given; earlier candles are read from `cols` only (indices <= last).
 */
export function doubleWickCheck(cols: OhlcColumns, last: number, direction: Direction, p: DoubleWickParams, forming?: Ohlc): CheckResult {
  const minFrac = p.minWickPct / 100;
  const short = direction === 'SHORT';
  let eo: number, eh: number, el: number, ec: number, newestEarlier: number;
  if (forming) {
    eo = forming.open;
    eh = forming.high;
    el = forming.low;
    ec = forming.close;
    newestEarlier = last;
  } else {
    eo = cols.open[last] as number;
    eh = cols.high[last] as number;
    el = cols.low[last] as number;
    ec = cols.close[last] as number;
    newestEarlier = last - 1;
  }
  let best = Number.NaN;
  if (wickFraction(eo, eh, el, ec, direction) > minFrac) {
    const ext = short ? eh : el;
    // The window holds lookbackCandles candles including the evaluated one.
    const oldest = Math.max(0, newestEarlier - (p.lookbackCandles - 2));
    for (let j = newestEarlier; j >= oldest; j--) {
      const o = cols.open[j] as number;
      const h = cols.high[j] as number;
      const l = cols.low[j] as number;
      const c = cols.close[j] as number;
      if (!(wickFraction(o, h, l, c, direction) > minFrac)) continue;
      const prior = short ? h : l;
      const d = (Math.abs(ext - prior) / prior) * 100;
      if (!(d >= best)) best = d;
    }
  }
  return { hit: best <= p.maxApartPct * (1 + BOUNDARY_EPSILON), value: best, threshold: p.maxApartPct };
}

/** One order-book observation (a `Snapshot` fits: { ts, book }). Samples must be in ascending ts. */
export interface BookSample {
  readonly ts: number;
  readonly book: BookFeatures | null;
}

export function orderBookFlipCheck(
  samples: readonly BookSample[] | undefined,
  now: number,
  direction: Direction,
  p: OrderBookFlipParams,
): FlipResult {
  if (!samples || samples.length === 0) return UNAVAILABLE;
  const from = now - p.windowMs;
  const thr = p.minAbsImbalance;
  // Scan backwards to the window start, then forwards in time order.
  let k = samples.length - 1;
  while (k >= 0 && (samples[k] as BookSample).ts > now) k--;
  let startK = k;
  while (startK - 1 >= 0 && (samples[startK - 1] as BookSample).ts >= from) startK--;
  let usable = 0;
  let bestBefore = Number.NEGATIVE_INFINITY; // strongest imbalance on the "before" side so far
  let value = 0;
  let prevTs = Number.NEGATIVE_INFINITY;
  for (let j = startK; j <= k; j++) {
    const s = samples[j] as BookSample;
    if (s.ts < prevTs) throw new Error('orderBookFlipCheck: book samples must be in ascending ts order');
    prevTs = s.ts;
    if (s.ts < from || !s.book || s.book.depthLevels !== p.levels || !Number.isFinite(s.book.imbalance)) continue;
    usable++;
    // SHORT: before = +imbalance (bid-heavy), after = -imbalance (ask-heavy). LONG mirrored.
    const x = direction === 'SHORT' ? s.book.imbalance : -s.book.imbalance;
    if (x < 0 && bestBefore > 0) {
      const flip = Math.min(bestBefore, -x);
      if (flip > value) value = flip;
    }
    if (x > bestBefore) bestBefore = x;
  }
  if (usable < 2) return UNAVAILABLE;
  return { hit: value >= thr * (1 - BOUNDARY_EPSILON), value, threshold: thr };
}
