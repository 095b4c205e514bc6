/**
 * Columnar candle series: one Float64Array per field, so strategies compute indicators once per series
 * (batch) and evaluate any index `i` in O(1)-ish without per-candle objects. Production builds a series
 * from the hot window (last N closed candles) and evaluates the last index; the backtester builds one
 * series for a whole month and evaluates every index.
 */
import type { Candle, Interval, Venue } from '../model/market.js';
import { badRow, readCandleCsv, type CsvGateOptions } from '../market/candle-csv.js';
import { lowerBound } from '../sorted.js';

/** The columns of a candle series: what indicators and setups read (symbol-agnostic). */
export interface CandleColumns {
  readonly interval: Interval;
  readonly length: number;
  /** Candle OPEN time, epoch ms UTC, strictly increasing. */
  readonly openTime: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

export interface CandleSeries extends CandleColumns {
  readonly symbol: string;
  readonly venue: Venue;
}

/** Allocates zero-filled columns of `length` candles (to be filled by the caller). */
export function allocColumns(interval: Interval, length: number): CandleColumns {
  return {
    interval,
    length,
    openTime: new Float64Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
  };
}

/** Allocates a zero-filled series of `length` candles (to be filled by the caller). */
export function allocSeries(symbol: string, interval: Interval, venue: Venue, length: number): CandleSeries {
  return { symbol, venue, ...allocColumns(interval, length) };
}

/**
 * Columnar copy of candles of ONE symbol and interval, sorted by open time (throws otherwise: a
 * strategy must never see a shuffled or mixed series).
 */
export function seriesFromCandles(candles: readonly Candle[]): CandleSeries {
  const firstCandle = candles[0];
  if (!firstCandle) throw new Error('seriesFromCandles: no candles (symbol and interval unknown)');
  const s = allocSeries(firstCandle.symbol, firstCandle.interval, firstCandle.venue, candles.length);
  let prev = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i] as Candle;
    if (c.symbol !== s.symbol || c.interval !== s.interval) {
      throw new Error(`seriesFromCandles: candle ${i} is ${c.symbol}/${c.interval}, series is ${s.symbol}/${s.interval}`);
    }
    if (!(c.openTime > prev)) throw new Error(`seriesFromCandles: open times must strictly increase (index ${i}: ${c.openTime} after ${prev})`);
    prev = c.openTime;
    setCandleAt(s, i, c);
  }
  return s;
}

/** Writes one candle's open time and OHLCV at index `k` of preallocated columns. */
export function setCandleAt(cols: CandleColumns, k: number, c: { openTime: number; open: number; high: number; low: number; close: number; volume: number }): void {
  cols.openTime[k] = c.openTime;
  cols.open[k] = c.open;
  cols.high[k] = c.high;
  cols.low[k] = c.low;
  cols.close[k] = c.close;
  cols.volume[k] = c.volume;
}

/** The candle at index `i` as an object (for logging, charts, the execution layer; not for hot loops). */
export function candleAt(series: CandleSeries, i: number): Candle {
  if (!Number.isInteger(i) || i < 0 || i >= series.length) throw new RangeError(`candleAt: index ${i} outside [0, ${series.length})`);
  return {
    symbol: series.symbol,
    interval: series.interval,
    venue: series.venue,
    openTime: series.openTime[i] as number,
    open: series.open[i] as number,
    high: series.high[i] as number,
    low: series.low[i] as number,
    close: series.close[i] as number,
    volume: series.volume[i] as number,
  };
}

/** Candles [start, end) as a series VIEW sharing the same buffers (no copy). */
export function sliceSeries(series: CandleSeries, start: number, end: number = series.length): CandleSeries {
  const a = Math.max(0, Math.min(start, series.length));
  const b = Math.max(a, Math.min(end, series.length));
  return {
    symbol: series.symbol,
    interval: series.interval,
    venue: series.venue,
    length: b - a,
    openTime: series.openTime.subarray(a, b),
    open: series.open.subarray(a, b),
    high: series.high.subarray(a, b),
    low: series.low.subarray(a, b),
    close: series.close.subarray(a, b),
    volume: series.volume.subarray(a, b),
  };
}

/** Index of the candle whose open time is `openTime`, or -1 (binary search). */
export function indexOfOpenTime(series: CandleSeries, openTime: number): number {
  const k = lowerBound(series.openTime, openTime, 0, series.length);
  return k < series.length && series.openTime[k] === openTime ? k : -1;
}

/**
 * The kit's normalised CSV (`ts_ms,open,high,low,close,volume`, ts = open time in epoch ms, as in
 * `shared/data`) as a series, read by the one candle CSV reader (shared/market/candle-csv.ts: every
 * row checked); a bad row is refused with file and line, or skipped and counted (`opts.badRows`).
 * Pure (text in, series out); the caller reads the file.
 */
export function seriesFromCsv(text: string, meta: { symbol: string; interval: Interval; venue: Venue }, opts: CsvGateOptions = {}): CandleSeries {
  const src = opts.source ?? 'seriesFromCsv';
  const candles: Candle[] = [];
  let prev = Number.NEGATIVE_INFINITY;
  readCandleCsv(text, meta, { source: src, onBadRow: (line, reason, row) => badRow(opts, line, reason, row) }, ({ line, candle }) => {
    if (!(candle.openTime > prev)) throw new Error(`${src}:${line}: open times must strictly increase`);
    prev = candle.openTime;
    candles.push(candle);
  });
  const s = allocSeries(meta.symbol, meta.interval, meta.venue, candles.length);
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i] as Candle;
    setCandleAt(s, i, c);
  }
  return s;
}
