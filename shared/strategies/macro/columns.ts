/**
 * Columnar candle series for the MACRO engine. Production builds them from the hot window (last N
 * candles); the backtester builds them once from the full history. Every evaluation reads indices
 * <= the one it evaluates (no lookahead), and finds "the last candle closed by time t" with
 * `lastClosedIndex`, so series of different intervals are aligned on close times, never open times.
 */
import { candleViolation } from '../../market/candle-gate.js';
import { INTERVAL_MS, isTradable, type Candle, type Interval } from '../../model/market.js';
import { allocColumns, setCandleAt, type CandleColumns } from '../series.js';
import { upperBound } from '../../sorted.js';

export type { CandleColumns };

/** Per-interval columns, as the bias and the swing setups consume them. */
export type SeriesByInterval = Partial<Record<Interval, CandleColumns>>;

/**
 * Columns from candles of ONE interval. Candles flagged as bad data, or that the candle gate's
 * stateless layer refuses (shared/market/candle-gate.ts), are dropped (never traded); duplicate open times keep the later row; input order does not matter.
 */
export function toColumns(candles: readonly Candle[], interval: Interval): CandleColumns {
  const byTime = new Map<number, Candle>();
  for (const c of candles) {
    if (c.interval !== interval) throw new Error(`toColumns(${interval}): got a ${c.interval} candle (${c.symbol} @ ${c.openTime})`);
    if (isTradable(c) && candleViolation(c) === null) byTime.set(c.openTime, c);
  }
  const rows = [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  return fromRows(rows, interval);
}

/** Columns from plain OHLCV rows already sorted by open time (CSV fixtures, backtests). */
export function fromRows(
  rows: ReadonlyArray<{ openTime: number; open: number; high: number; low: number; close: number; volume: number }>,
  interval: Interval,
): CandleColumns {
  const n = rows.length;
  const cols = allocColumns(interval, n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (i > 0 && !(r.openTime > rows[i - 1]!.openTime)) throw new Error(`fromRows(${interval}): open times must be strictly ascending at index ${i}`);
    setCandleAt(cols, i, r);
  }
  return cols;
}

/** Index of the last candle whose CLOSE time (open + interval) is <= `asOf`, or -1. O(log n). */
export function lastClosedIndex(cols: CandleColumns, asOf: number): number {
  const latestOpen = asOf - INTERVAL_MS[cols.interval];
  return upperBound(cols.openTime, latestOpen, 0, cols.length) - 1;
}

/** Close time of candle i. */
export function closeTimeAt(cols: CandleColumns, i: number): number {
  return (cols.openTime[i] as number) + INTERVAL_MS[cols.interval];
}

export function clamp(x: number, lo = -1, hi = 1): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Rounds for human-readable details and stored features (not for decisions). */
export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
