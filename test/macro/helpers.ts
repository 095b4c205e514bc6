/** Shared set-up of the MACRO tests: the real candle slices in test/fixtures/macro. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Candle, Interval, Venue } from '../../shared/model/market.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import { fromRows, type CandleColumns } from '../../shared/strategies/macro/columns.js';
import { createLogger, type Logger } from '../../shared/log.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'macro');
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface Row {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const cache = new Map<string, Row[]>();

/** Rows of a fixture CSV (`ts_ms,open,high,low,close,volume`). */
export function loadRows(file: string): Row[] {
  const hit = cache.get(file);
  if (hit) return hit;
  const lines = readFileSync(join(FIXTURES, file), 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((l) => {
    const [t, o, h, lo, c, v] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { openTime: t, open: o, high: h, low: lo, close: c, volume: v };
  });
  cache.set(file, rows);
  return rows;
}

export const FILES = {
  btc4h: 'XBTUSD_240.csv',
  btc1h: 'XBTUSD_60.csv',
  btc5mMarch: 'XBTUSD_5_2023-03-08_2023-03-18.csv',
  btc5mJan: 'XBTUSD_5_2023-01-13T12_2023-01-14T12.csv',
  eth4h: 'ETHUSDT_240_derived_from_5m.csv',
  eth5m: 'ETHUSDT_5_2025-06-09_2025-06-11.csv',
  sol4h: 'SOLUSDT_240_derived_from_5m.csv',
  sol5m: 'SOLUSDT_5_2025-06-21_2025-06-23.csv',
} as const;

export function cols(file: string, interval: Interval): CandleColumns {
  return fromRows(loadRows(file), interval);
}

/** Higher-interval rows from lower-interval rows (UTC-aligned buckets of the rows present). */
export function aggregate(rows: Row[], interval: Interval): Row[] {
  const ms = INTERVAL_MS[interval];
  const out: Row[] = [];
  for (const r of rows) {
    const b = Math.floor(r.openTime / ms) * ms;
    const last = out[out.length - 1];
    if (last && last.openTime === b) {
      last.high = Math.max(last.high, r.high);
      last.low = Math.min(last.low, r.low);
      last.close = r.close;
      last.volume += r.volume;
    } else {
      out.push({ ...r, openTime: b });
    }
  }
  return out;
}

export function toCandles(rows: Row[], symbol: string, interval: Interval, venue: Venue = 'kraken'): Candle[] {
  return rows.map((r) => ({ symbol, interval, venue, ...r }));
}

/** A plain EMA seeded with the first value (tulind's convention), for independent checks. */
export function refEma(values: number[], period: number): number {
  const k = 2 / (period + 1);
  let e = values[0] as number;
  for (let i = 1; i < values.length; i++) e = ((values[i] as number) - e) * k + e;
  return e;
}

export const ts = (iso: string): number => Date.parse(iso);

export function quietLogger(): Logger {
  return createLogger({}, { minSeverity: 'ALERT', sink: () => undefined });
}
