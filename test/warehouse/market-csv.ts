/**
 * Reads real market data in the kit's normalised CSV format (header `ts_ms,open,high,low,close,volume`)
 * as Candles. Test helper only; paths come from test/kit.ts (`fixture(...)`, or `kitFile(...)` behind
 * `withKit`).
 */
import { readFileSync } from 'node:fs';
import type { Candle, Interval, Venue } from '../../shared/model/market.js';

const HEADER = 'ts_ms,open,high,low,close,volume';

/** `path` is a file path, e.g. `fixture('macro', 'XBTUSD_60.csv')`. */
export function readCandlesCsv(path: string, venue: Venue, symbol: string, interval: Interval): Candle[] {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = lines.shift();
  if (header !== HEADER) throw new Error(`unexpected header in ${path}: ${header}`);
  return lines.map((line) => {
    const [ts, o, h, l, c, v] = line.split(',').map(Number) as [number, number, number, number, number, number];
    return { venue, symbol, interval, openTime: ts, open: o, high: h, low: l, close: c, volume: v };
  });
}

export function readKrakenCandles(path: string, symbol: string, interval: Interval): Candle[] {
  return readCandlesCsv(path, 'kraken', symbol, interval);
}
