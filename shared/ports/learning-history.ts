/**
 * Learning-history port (SPEC 8): the completed trades a strategy's model learns from, read from the
 * warehouse — `paper_trades` (paper and live lots, with the scan's `signal_id` and features) and
 * `shadow_trades` (the shadow runs' trades). Both warehouse adapters implement it
 * (infra/warehouse/duckdb.ts, bigquery.ts `strategyRows`). Rows come back raw (`Row`): the reader
 * validates them (shared/learning/labels.ts), as every consumer of a boundary does.
 */
import type { Row } from './warehouse.js';

export type LearningTable = 'paper_trades' | 'shadow_trades';

export interface LearningHistory {
  /** Every row of `table` whose `strategy` is `strategy`, key-de-duplicated, ordered by key; TIMESTAMPs as epoch ms, JSON as text. */
  strategyRows(table: LearningTable, strategy: string): Promise<Row[]>;
}
