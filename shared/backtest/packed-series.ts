/**
 * A candle series packed into ONE buffer (6 float64 columns), the form in which a grid worker
 * process receives its candles: one IPC message per worker (structured clone of one ArrayBuffer),
 * unpacked into column views without another copy.
 */
import type { Interval, Venue } from '../model/market.js';
import type { CandleSeries } from '../strategies/series.js';

const COLUMNS = ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const;
const BYTES = Float64Array.BYTES_PER_ELEMENT;

export interface PackedSeries {
  symbol: string;
  interval: Interval;
  venue: Venue;
  length: number;
  /** 6 x length float64: openTime, open, high, low, close, volume. */
  buffer: ArrayBuffer;
}

export function packSeries(s: CandleSeries): PackedSeries {
  const n = s.length;
  const buffer = new ArrayBuffer(COLUMNS.length * n * BYTES);
  COLUMNS.forEach((c, k) => new Float64Array(buffer, k * n * BYTES, n).set(s[c]));
  return { symbol: s.symbol, interval: s.interval, venue: s.venue, length: n, buffer };
}

export function unpackSeries(x: PackedSeries): CandleSeries {
  const n = x.length;
  const col = (k: number) => new Float64Array(x.buffer, k * n * BYTES, n);
  return { symbol: x.symbol, interval: x.interval, venue: x.venue, length: n, openTime: col(0), open: col(1), high: col(2), low: col(3), close: col(4), volume: col(5) };
}
