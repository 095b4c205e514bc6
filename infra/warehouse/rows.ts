/**
 * Row checks shared by the warehouse adapters: a `Row` must match its table's columns (from
 * `shared/warehouse-schema.ts`) before any adapter touches storage, so a bad row fails the whole
 * insert with a clear message instead of a half-written batch or a driver error.
 */
import { TABLES, rowKey, type Column, type TableName } from '../../shared/warehouse-schema.js';
import type { Row } from '../../shared/ports/warehouse.js';
import type { Candle, CandleFlag, Interval, Venue } from '../../shared/model/market.js';
import { INTERVALS } from '../../shared/model/market.js';

export type Cell = string | number | boolean | null;

function checkCell(table: TableName, c: Column, v: unknown, index: number): Cell {
  const where = `${table} row ${index} column ${c.name}`;
  if (v === null || v === undefined) {
    if (c.required) throw new Error(`${where}: required (got ${v === null ? 'null' : 'nothing'})`);
    return null;
  }
  switch (c.type) {
    case 'STRING':
      if (typeof v !== 'string') throw new Error(`${where}: expected a string, got ${typeof v}`);
      return v;
    case 'INT64':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${where}: expected a safe integer, got ${String(v)}`);
      return v;
    case 'FLOAT64':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: expected a finite number, got ${String(v)}`);
      return v;
    case 'BOOL':
      if (typeof v !== 'boolean') throw new Error(`${where}: expected a boolean, got ${typeof v}`);
      return v;
    case 'TIMESTAMP':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        throw new Error(`${where}: expected epoch milliseconds (integer), got ${String(v)}`);
      }
      return v;
    case 'JSON':
      if (typeof v !== 'string') throw new Error(`${where}: expected a JSON string, got ${typeof v}`);
      try {
        JSON.parse(v);
      } catch (e) {
        throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
      }
      return v;
  }
}

/**
 * Validates rows against the table and returns them in column order, de-duplicated by key within
 * the batch (first occurrence wins, as the stored row would).
 */
export function prepareRows(table: TableName, rows: Row[]): { keys: string[]; cells: Cell[][] } {
  const cols: readonly Column[] = TABLES[table].columns;
  const known = new Set(cols.map((c) => c.name));
  const seen = new Set<string>();
  const keys: string[] = [];
  const cells: Cell[][] = [];
  rows.forEach((row, i) => {
    for (const name of Object.keys(row)) {
      if (!known.has(name)) throw new Error(`${table} row ${i}: unknown column ${name}`);
    }
    const values = cols.map((c) => checkCell(table, c, row[c.name], i));
    const key = rowKey(table, row);
    if (seen.has(key)) return;
    seen.add(key);
    keys.push(key);
    cells.push(values);
  });
  return { keys, cells };
}

/** Maps a stored `ohlcv` row (TIMESTAMPs as epoch ms) back to a Candle. */
export function rowToCandle(r: {
  venue: string;
  symbol: string;
  interval: string;
  open_time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number | null;
  vwap: number | null;
  flags: string | null;
}): Candle {
  if (!(INTERVALS as readonly string[]).includes(r.interval)) throw new Error(`ohlcv: unknown interval ${r.interval}`);
  if (r.venue !== 'kraken' && r.venue !== 'bybit') throw new Error(`ohlcv: unknown venue ${r.venue}`);
  const c: Candle = {
    symbol: r.symbol,
    interval: r.interval as Interval,
    venue: r.venue as Venue,
    openTime: r.open_time,
    open: r.open,
    high: r.high,
    low: r.low,
    close: r.close,
    volume: r.volume,
  };
  if (r.trades !== null) c.trades = r.trades;
  if (r.vwap !== null) c.vwap = r.vwap;
  if (r.flags) c.flags = r.flags.split(',').filter((f) => f.length > 0) as CandleFlag[];
  return c;
}
