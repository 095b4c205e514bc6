/**
 * Columnar candle series: one Float64Array per field, so strategies compute indicators once per series
 * (batch) and evaluate any index `i` in O(1)-ish without per-candle objects. Production builds a series
 * from the hot window (last N closed candles) and evaluates the last index; the backtester builds one
 * series for a whole month and evaluates every index.
 */
import { candleViolation } from '../market/candle-gate.js';
import type { Candle, Interval, Venue } from '../model/market.js';

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
    s.openTime[i] = c.openTime;
    s.open[i] = c.open;
    s.high[i] = c.high;
    s.low[i] = c.low;
    s.close[i] = c.close;
    s.volume[i] = c.volume;
  }
  return s;
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
  let lo = 0;
  let hi = series.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const t = series.openTime[mid] as number;
    if (t === openTime) return mid;
    if (t < openTime) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export const CANDLE_CSV_HEADER = 'ts_ms,open,high,low,close,volume';

/**
 * Parses the normalised market-data CSV (`ts_ms,open,high,low,close,volume`, ts = open time in epoch
 * ms, as in `shared/data`) straight into a series. Pure (text in, series out); the caller reads the file.
 */
/** What a CSV loader does with a row the candle gate refuses: stop with file and line (default), or skip and count. */
export type BadRowPolicy = 'refuse' | 'skip';

export interface BadRowReport {
  /** Rows skipped (policy `skip`). */
  skipped: number;
  /** The first few, with file and line. */
  samples: Array<{ source: string; line: number; reason: string }>;
}

export interface CsvGateOptions {
  /** The file name, named in every error. */
  source?: string;
  badRows?: BadRowPolicy;
  /** Counts skipped rows (policy `skip`); shared across files. */
  report?: BadRowReport;
}

export function newBadRowReport(): BadRowReport {
  return { skipped: 0, samples: [] };
}

const MAX_BAD_ROW_SAMPLES = 5;

/** Refuses (throws, naming file and line) or records a skipped row. */
export function badRow(opts: CsvGateOptions, line: number, reason: string, text: string): void {
  const where = `${opts.source ?? 'CSV'}:${line}`;
  if ((opts.badRows ?? 'refuse') === 'refuse') throw new Error(`${where}: ${reason}: ${text} (refused; --skip-bad-rows skips such rows and counts them)`);
  const r = opts.report;
  if (r) {
    r.skipped++;
    if (r.samples.length < MAX_BAD_ROW_SAMPLES) r.samples.push({ source: opts.source ?? 'CSV', line, reason });
  }
}

/**
 * The kit's normalised CSV (`ts_ms,open,high,low,close,volume`, ts = open time) as a series. Every row
 * passes the candle gate (shared/market/candle-gate.ts candleViolation: finite positive prices,
 * ordered OHLC, volume >= 0, open time on the interval grid); a bad row is refused with file and line,
 * or skipped and counted (`opts.badRows`).
 */
export function seriesFromCsv(text: string, meta: { symbol: string; interval: Interval; venue: Venue }, opts: CsvGateOptions = {}): CandleSeries {
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim();
  const src = opts.source ?? 'seriesFromCsv';
  if (header !== CANDLE_CSV_HEADER) throw new Error(`${src}: expected header '${CANDLE_CSV_HEADER}', got '${header ?? ''}'`);
  let n = 0;
  for (let k = 1; k < lines.length; k++) if ((lines[k] as string).trim() !== '') n++;
  const s = allocSeries(meta.symbol, meta.interval, meta.venue, n);
  let i = 0;
  let prev = Number.NEGATIVE_INFINITY;
  for (let k = 1; k < lines.length; k++) {
    const line = (lines[k] as string).trim();
    if (line === '') continue;
    const f = line.split(',');
    if (f.length !== 6) {
      badRow(opts, k + 1, `${f.length} fields, expected 6`, line);
      continue;
    }
    const t = Number(f[0]);
    const vals = [t, Number(f[1]), Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5])];
    if (vals.some((v) => !Number.isFinite(v))) {
      badRow(opts, k + 1, 'a non-numeric field', line);
      continue;
    }
    const why = candleViolation({ ...meta, openTime: t, open: vals[1] as number, high: vals[2] as number, low: vals[3] as number, close: vals[4] as number, volume: vals[5] as number });
    if (why) {
      badRow(opts, k + 1, why, line);
      continue;
    }
    if (!(t > prev)) throw new Error(`${src}:${k + 1}: open times must strictly increase`);
    prev = t;
    s.openTime[i] = t;
    s.open[i] = vals[1] as number;
    s.high[i] = vals[2] as number;
    s.low[i] = vals[3] as number;
    s.close[i] = vals[4] as number;
    s.volume[i] = vals[5] as number;
    i++;
  }
  return i === n ? s : sliceSeries(s, 0, i);
}
