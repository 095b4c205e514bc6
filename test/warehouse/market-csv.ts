/**
 * Reads real market data in the kit's normalised CSV format (header `ts_ms,open,high,low,close,volume`)
 * as Candles. Test helper only; paths come from test/kit.ts (`fixture(...)`, or `kitFile(...)` behind
 * `withKit`).
 */
import { readFileSync } from 'node:fs';
import type { Candle, Interval, Venue } from '../../shared/model/market.js';
import { badRow, readCandleCsv } from '../../shared/market/candle-csv.js';

/** `path` is a file path, e.g. `fixture('macro', 'XBTUSD_60.csv')`; read by the one candle CSV reader (a bad row throws with file and line). */
export function readCandlesCsv(path: string, venue: Venue, symbol: string, interval: Interval): Candle[] {
  const out: Candle[] = [];
  const onBadRow = (line: number, reason: string, text: string) => badRow({ source: path }, line, reason, text);
  readCandleCsv(readFileSync(path, 'utf8'), { symbol, interval, venue }, { source: path, onBadRow }, (r) => out.push(r.candle));
  return out;
}

export function readKrakenCandles(path: string, symbol: string, interval: Interval): Candle[] {
  return readCandlesCsv(path, 'kraken', symbol, interval);
}
