/**
 * Higher-timeframe (15m, 1h, 4h, ...) candles built from a lower-timeframe series (normally 1m),
 * WITHOUT lookahead.
 *
 * Buckets are aligned to UTC epoch multiples of the target interval (as Bybit and Kraken align them):
 * bucket start = floor(openTime / targetMs) x targetMs, end = start + targetMs. A bucket is built from
 * the base candles PRESENT in it (Kraken omits minutes without trades; a gap is not an error): open of
 * the first, close of the last, max high, min low, summed volume; `minutes[b]` says how many were present.
 *
 * Visibility: a higher-timeframe candle becomes visible only once it has CLOSED, i.e. at base index i
 * the visible HTF candles are those whose end <= close time of base candle i (openTime[i] + baseMs).
 * `visibleCount[i]` is that number, so "the HTF series as it was at base index i" is
 * `sliceSeries(r.series, 0, r.visibleCount[i])` (or just read indices < visibleCount[i]). When the last
 * minute of a bucket is missing, the bucket becomes visible at the close of the next base candle that
 * exists (the first moment the data proves the bucket is over).
 */
import { INTERVAL_MS, type Interval } from '../model/market.js';
import { allocSeries, sliceSeries, type CandleSeries } from './series.js';

export interface ResampledSeries {
  readonly interval: Interval;
  /** Every bucket that holds at least one base candle, in time order (the last may still be open). */
  readonly series: CandleSeries;
  /** Base candles present per bucket (targetMs / baseMs for a complete bucket). */
  readonly minutes: Int32Array;
  /** Per BASE index i: number of HTF candles closed at the close of base candle i (non-decreasing). */
  readonly visibleCount: Int32Array;
}

export function resample(base: CandleSeries, interval: Interval): ResampledSeries {
  const baseMs = INTERVAL_MS[base.interval];
  const targetMs = INTERVAL_MS[interval];
  if (targetMs < baseMs || targetMs % baseMs !== 0) {
    throw new Error(`resample: ${interval} is not a whole multiple of the base interval ${base.interval}`);
  }
  const n = base.length;
  const ot = base.openTime;
  // Pass 1: count buckets.
  let buckets = 0;
  let lastStart = Number.NaN;
  for (let i = 0; i < n; i++) {
    const start = Math.floor((ot[i] as number) / targetMs) * targetMs;
    if (start !== lastStart) {
      buckets++;
      lastStart = start;
    }
  }
  const out = allocSeries(base.symbol, interval, base.venue, buckets);
  const minutes = new Int32Array(buckets);
  // Pass 2: aggregate.
  let b = -1;
  lastStart = Number.NaN;
  for (let i = 0; i < n; i++) {
    const start = Math.floor((ot[i] as number) / targetMs) * targetMs;
    const h = base.high[i] as number;
    const l = base.low[i] as number;
    if (start !== lastStart) {
      b++;
      lastStart = start;
      out.openTime[b] = start;
      out.open[b] = base.open[i] as number;
      out.high[b] = h;
      out.low[b] = l;
      out.volume[b] = 0;
    } else {
      if (h > (out.high[b] as number)) out.high[b] = h;
      if (l < (out.low[b] as number)) out.low[b] = l;
    }
    out.close[b] = base.close[i] as number;
    out.volume[b] = (out.volume[b] as number) + (base.volume[i] as number);
    minutes[b] = (minutes[b] as number) + 1;
  }
  // Pass 3: visibility (two pointers; bucket ends are increasing).
  const visibleCount = new Int32Array(n);
  let closed = 0;
  for (let i = 0; i < n; i++) {
    const closeTime = (ot[i] as number) + baseMs;
    while (closed < buckets && (out.openTime[closed] as number) + targetMs <= closeTime) closed++;
    visibleCount[i] = closed;
  }
  return { interval, series: out, minutes, visibleCount };
}

/** Number of HTF candles visible (closed) at base index i. */
export function visibleCountAt(r: ResampledSeries, i: number): number {
  if (i < 0) return 0;
  if (i >= r.visibleCount.length) throw new RangeError(`visibleCountAt: base index ${i} outside [0, ${r.visibleCount.length})`);
  return r.visibleCount[i] as number;
}

/** The HTF series as it was at the close of base candle i (a view; no copy). */
export function visibleSeries(r: ResampledSeries, i: number): CandleSeries {
  return sliceSeries(r.series, 0, visibleCountAt(r, i));
}
