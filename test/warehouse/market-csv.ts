/**
 * Reads the real market data of the kit (`../shared/data`, normalised CSVs with header
 * `ts_ms,open,high,low,close,volume`) as Candles. Test helper only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Candle, Interval, Venue } from '../../shared/market/types.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const DATA_DIR = join(REPO_ROOT, '..', 'shared', 'data');

const HEADER = 'ts_ms,open,high,low,close,volume';

/** `file` is relative to the data folder, e.g. `kraken_ohlcvt/XBTUSD_60.csv`. */
export function readCandlesCsv(file: string, venue: Venue, symbol: string, interval: Interval): Candle[] {
  const lines = readFileSync(join(DATA_DIR, file), 'utf8').trim().split(/\r?\n/);
  const header = lines.shift();
  if (header !== HEADER) throw new Error(`unexpected header in ${file}: ${header}`);
  return lines.map((line) => {
    const [ts, o, h, l, c, v] = line.split(',').map(Number) as [number, number, number, number, number, number];
    return { venue, symbol, interval, openTime: ts, open: o, high: h, low: l, close: c, volume: v };
  });
}

export function readKrakenCandles(file: string, symbol: string, interval: Interval): Candle[] {
  return readCandlesCsv(join('kraken_ohlcvt', file), 'kraken', symbol, interval);
}
