/**
 * Writing candles to the warehouse `ohlcv` table: the ONE implementation shared by the Kraken OHLCVT
 * importer (shared/market/kraken/ohlcvt.ts) and `download-data` (infra/market-data/download.ts).
 * Each batch is one warehouse insert, idempotent by key (venue, symbol, interval, open time) and
 * atomic (DuckDB: one INSERT ... SELECT ... ON CONFLICT DO NOTHING), so a run killed between
 * batches keeps every batch already written and a re-run adds no duplicate.
 */
import type { Warehouse } from '../ports/warehouse.js';
import type { Candle } from '../model/market.js';
import { candleToRow } from '../warehouse-schema.js';

export const DEFAULT_WRITE_BATCH_ROWS = 1_000;

export async function writeCandles(
  warehouse: Warehouse,
  candles: readonly Candle[],
  opts: { ingestedAt: number; batchRows?: number; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const batch = opts.batchRows ?? DEFAULT_WRITE_BATCH_ROWS;
  for (let i = 0; i < candles.length; i += batch) {
    const part = candles.slice(i, i + batch);
    await warehouse.insert(
      'ohlcv',
      part.map((c) => candleToRow(c, opts.ingestedAt)),
    );
    opts.onProgress?.(i + part.length, candles.length);
  }
}
