/**
 * Warehouse port: append-only history (BigQuery in the cloud, DuckDB embedded). Table schemas are
 * defined once in `shared/warehouse-schema.ts`; adapters derive their DDL from it.
 *
 * Inserts are idempotent by the table's key columns: inserting a row whose key already exists is a
 * no-op (DuckDB: primary key + ON CONFLICT DO NOTHING; BigQuery: insertId from the key, and readers
 * de-duplicate by key), so at-least-once delivery never duplicates history.
 */
import type { Candle, Interval } from '../model/market.js';
import type { TableName } from '../warehouse-schema.js';
import type { LearningHistory } from './learning-history.js';

export type Row = Record<string, string | number | boolean | null>;

export interface CandleRange {
  symbol: string;
  interval: Interval;
  venue?: Candle['venue'];
  /** Inclusive open-time bounds, epoch ms. */
  fromMs?: number;
  toMs?: number;
  limit?: number;
}

/** The warehouse is also the learning loop's history (the completed trades a model learns from). */
export interface Warehouse extends LearningHistory {
  /** Creates the dataset and tables if missing. */
  ensureSchema(): Promise<void>;
  insert(table: TableName, rows: Row[]): Promise<void>;
  /** Candles ordered by open time, de-duplicated by key. */
  candles(range: CandleRange): Promise<Candle[]>;
  /** Row count of a table (after key de-duplication). */
  count(table: TableName): Promise<number>;
  close(): Promise<void>;
}
