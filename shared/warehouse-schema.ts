/**
 * The warehouse tables, defined once. BigQuery and DuckDB DDL are both derived from this.
 * Dataset: `cryptotracker`.
 */
import type { Candle } from './model/market.js';
import type { ScanDecision } from './model/trading.js';
import type { Row } from './ports/warehouse.js';

export type ColumnType = 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'TIMESTAMP' | 'JSON';

export interface Column {
  name: string;
  type: ColumnType;
  required?: boolean;
  description?: string;
}

export interface TableSchema {
  name: string;
  description: string;
  columns: Column[];
  /** Columns that identify a row; inserts are idempotent on them. */
  key: string[];
  /** BigQuery: partition by DAY on this TIMESTAMP column. */
  partitionBy?: string;
  /** BigQuery: cluster by these columns. */
  clusterBy?: string[];
}

export const DATASET = 'cryptotracker';

export const TABLES = {
  ohlcv: {
    name: 'ohlcv',
    description: 'Closed candles of every venue and interval.',
    columns: [
      { name: 'venue', type: 'STRING', required: true },
      { name: 'symbol', type: 'STRING', required: true },
      { name: 'interval', type: 'STRING', required: true },
      { name: 'open_time', type: 'TIMESTAMP', required: true, description: 'candle open time (UTC)' },
      { name: 'open', type: 'FLOAT64', required: true },
      { name: 'high', type: 'FLOAT64', required: true },
      { name: 'low', type: 'FLOAT64', required: true },
      { name: 'close', type: 'FLOAT64', required: true },
      { name: 'volume', type: 'FLOAT64', required: true },
      { name: 'trades', type: 'INT64' },
      { name: 'vwap', type: 'FLOAT64' },
      { name: 'flags', type: 'STRING', description: 'comma-separated data-quality flags' },
      { name: 'ingested_at', type: 'TIMESTAMP', required: true },
    ],
    key: ['venue', 'symbol', 'interval', 'open_time'],
    partitionBy: 'open_time',
    clusterBy: ['symbol', 'interval'],
  },
  ticks: {
    name: 'ticks',
    description: 'Raw public trades from the Bybit holder (batched).',
    columns: [
      { name: 'venue', type: 'STRING', required: true },
      { name: 'symbol', type: 'STRING', required: true },
      { name: 'trade_id', type: 'STRING', required: true },
      { name: 'ts', type: 'TIMESTAMP', required: true },
      { name: 'price', type: 'FLOAT64', required: true },
      { name: 'size', type: 'FLOAT64', required: true },
      { name: 'side', type: 'STRING', required: true },
    ],
    key: ['venue', 'symbol', 'trade_id'],
    partitionBy: 'ts',
    clusterBy: ['symbol'],
  },
  signals: {
    name: 'signals',
    description: 'Every scan decision (TAKE / SKIP / NEAR_MISS) with its features: the scan history.',
    columns: [
      { name: 'signal_id', type: 'STRING', required: true },
      { name: 'ts', type: 'TIMESTAMP', required: true },
      { name: 'strategy', type: 'STRING', required: true },
      { name: 'symbol', type: 'STRING', required: true },
      { name: 'decision', type: 'STRING', required: true },
      { name: 'direction', type: 'STRING' },
      { name: 'price', type: 'FLOAT64' },
      { name: 'reasons', type: 'STRING' },
      { name: 'features', type: 'JSON' },
      { name: 'ml_probability', type: 'FLOAT64', description: "the strategy's model P(WIN) for this scan (null: no model, or it could not predict)" },
      { name: 'model_version', type: 'STRING', description: 'the model that predicted ({strategy}@{n}); null without a model' },
    ],
    key: ['signal_id'],
    partitionBy: 'ts',
    clusterBy: ['strategy', 'symbol'],
  },
  paper_trades: {
    name: 'paper_trades',
    description: 'Closed paper (and live) trades.',
    columns: [
      { name: 'trade_id', type: 'STRING', required: true },
      { name: 'trade_group_id', type: 'STRING', required: true },
      { name: 'signal_id', type: 'STRING' },
      { name: 'strategy', type: 'STRING', required: true },
      { name: 'symbol', type: 'STRING', required: true },
      { name: 'direction', type: 'STRING', required: true },
      { name: 'mode', type: 'STRING', required: true },
      { name: 'entry_time', type: 'TIMESTAMP', required: true },
      { name: 'exit_time', type: 'TIMESTAMP', required: true },
      { name: 'entry_price', type: 'FLOAT64', required: true },
      { name: 'exit_price', type: 'FLOAT64', required: true },
      { name: 'qty', type: 'FLOAT64', required: true },
      { name: 'fees', type: 'FLOAT64', required: true },
      { name: 'pnl', type: 'FLOAT64', required: true },
      { name: 'pnl_pct', type: 'FLOAT64', required: true },
      { name: 'exit_reason', type: 'STRING', required: true },
      { name: 'features', type: 'JSON' },
      {
        name: 'slippage',
        type: 'FLOAT64',
        description: 'slippage cost of the lot (entry and its share of the exit), USD; null on rows written before it was recorded',
      },
    ],
    key: ['trade_id'],
    partitionBy: 'exit_time',
    clusterBy: ['strategy', 'symbol'],
  },
  model_runs: {
    name: 'model_runs',
    description: 'Model retraining runs (score, metrics, whether the model was replaced).',
    columns: [
      { name: 'run_id', type: 'STRING', required: true },
      { name: 'ts', type: 'TIMESTAMP', required: true },
      { name: 'strategy', type: 'STRING', required: true },
      { name: 'model_version', type: 'STRING', required: true },
      { name: 'score', type: 'FLOAT64' },
      { name: 'accuracy', type: 'FLOAT64' },
      { name: 'precision', type: 'FLOAT64' },
      { name: 'recall', type: 'FLOAT64' },
      { name: 'replaced', type: 'BOOL' },
      { name: 'details', type: 'JSON' },
    ],
    key: ['run_id'],
    partitionBy: 'ts',
    clusterBy: ['strategy'],
  },
  shadow_trades: {
    name: 'shadow_trades',
    description:
      'Closed trades of every shadow variation (champion and challengers) of a shadow run, with the scan they came from: ' +
      'the evidence behind /shadow and the threshold suggestions. Idempotent on (run_id, variation, trade_group_id).',
    columns: [
      { name: 'run_id', type: 'STRING', required: true },
      { name: 'variation', type: 'STRING', required: true, description: 'CHAMPION or the challenger name' },
      { name: 'trade_group_id', type: 'STRING', required: true },
      { name: 'signal_id', type: 'STRING', required: true, description: 'the scan (signals.signal_id) the trade came from' },
      { name: 'strategy', type: 'STRING', required: true },
      { name: 'symbol', type: 'STRING', required: true },
      { name: 'direction', type: 'STRING', required: true },
      { name: 'entry_time', type: 'TIMESTAMP', required: true },
      { name: 'exit_time', type: 'TIMESTAMP', required: true },
      { name: 'avg_entry', type: 'FLOAT64', required: true },
      { name: 'exit_price', type: 'FLOAT64', required: true },
      { name: 'qty', type: 'FLOAT64', required: true },
      { name: 'fees', type: 'FLOAT64', required: true },
      { name: 'slippage', type: 'FLOAT64' },
      { name: 'pnl', type: 'FLOAT64', required: true },
      { name: 'pnl_pct', type: 'FLOAT64', required: true },
      { name: 'exit_reason', type: 'STRING', required: true },
      { name: 'outcome', type: 'STRING', required: true, description: 'WIN / LOSS / TIMEOUT' },
      { name: 'ml_probability', type: 'FLOAT64' },
      { name: 'features', type: 'JSON' },
    ],
    key: ['run_id', 'variation', 'trade_group_id'],
    partitionBy: 'exit_time',
    clusterBy: ['variation', 'strategy'],
  },
  shadow_results: {
    name: 'shadow_results',
    description: 'One row per (shadow run, variation, period): trades, win rate, profit factor, P&L after costs and the p-value against the champion.',
    columns: [
      { name: 'run_id', type: 'STRING', required: true },
      { name: 'ts', type: 'TIMESTAMP', required: true },
      { name: 'variation', type: 'STRING', required: true },
      { name: 'period_hours', type: 'INT64', required: true },
      { name: 'trades', type: 'INT64', required: true },
      { name: 'win_rate', type: 'FLOAT64' },
      { name: 'profit_factor', type: 'FLOAT64' },
      { name: 'pnl', type: 'FLOAT64', required: true },
      { name: 'mean_pnl_pct', type: 'FLOAT64' },
      { name: 'p_value', type: 'FLOAT64' },
      { name: 'overrides', type: 'JSON' },
    ],
    key: ['run_id', 'variation', 'period_hours'],
    partitionBy: 'ts',
    clusterBy: ['variation'],
  },
  backtest_runs: {
    name: 'backtest_runs',
    description: 'Backtest and optimisation runs: parameters, headline metrics and the full result JSON.',
    columns: [
      { name: 'run_id', type: 'STRING', required: true },
      { name: 'ts', type: 'TIMESTAMP', required: true, description: 'when the run was made' },
      { name: 'symbols', type: 'STRING', required: true, description: 'comma-separated' },
      { name: 'from_time', type: 'TIMESTAMP', required: true },
      { name: 'to_time', type: 'TIMESTAMP', required: true },
      { name: 'objective', type: 'STRING' },
      { name: 'trades', type: 'INT64' },
      { name: 'total_pnl', type: 'FLOAT64' },
      { name: 'win_rate', type: 'FLOAT64' },
      { name: 'max_drawdown_pct', type: 'FLOAT64' },
      { name: 'profit_factor', type: 'FLOAT64' },
      { name: 'sharpe', type: 'FLOAT64' },
      { name: 'params', type: 'JSON', required: true },
      { name: 'result', type: 'JSON', required: true },
    ],
    key: ['run_id'],
    partitionBy: 'ts',
    clusterBy: ['objective'],
  },
  backtest_trials: {
    name: 'backtest_trials',
    description:
      'One row per optimisation trial (grid combination, hyperopt sample, shard task result): the trial, its metrics and where it ran. ' +
      'Written as each trial finishes; idempotent on (run_id, trial_index), so a retried shard attempt never duplicates a trial.',
    columns: [
      { name: 'run_id', type: 'STRING', required: true, description: 'the optimisation run (grid / hyperopt / sharded run id)' },
      { name: 'trial_index', type: 'INT64', required: true, description: "the trial's index in the run's deterministic trial list (0-based)" },
      { name: 'labels', type: 'JSON', required: true, description: 'dimension name -> option label' },
      { name: 'overrides', type: 'JSON', required: true, description: 'config key path -> value applied on the base config' },
      { name: 'metrics', type: 'JSON', required: true, description: 'the full BacktestMetrics (numbers JSON cannot carry exactly, -0 / NaN / Infinity, as {"$num": "-0"})' },
      { name: 'trades', type: 'INT64' },
      { name: 'total_pnl', type: 'FLOAT64' },
      { name: 'profit_factor', type: 'FLOAT64', description: 'null when there is no losing trade' },
      { name: 'max_drawdown_pct', type: 'FLOAT64' },
      { name: 'sharpe', type: 'FLOAT64' },
      { name: 'score', type: 'FLOAT64', description: 'the objective score (null when it is not a finite number, e.g. -Infinity)' },
      { name: 'objective', type: 'STRING' },
      { name: 'wall_ms', type: 'FLOAT64', description: 'wall time of the trial' },
      { name: 'shard_index', type: 'INT64', description: 'task index of the shard that ran it (null: not sharded)' },
      { name: 'attempt', type: 'INT64', description: 'task attempt that wrote it (CLOUD_RUN_TASK_ATTEMPT; 0 = first)' },
      { name: 'created_at', type: 'TIMESTAMP', required: true },
    ],
    key: ['run_id', 'trial_index'],
    partitionBy: 'created_at',
    clusterBy: ['run_id'],
  },
  backtest_manifests: {
    name: 'backtest_manifests',
    description:
      'The manifest of a sharded optimisation run (base config, data, trial list spec and its hash), written once by the launcher; every shard task reads it by run id.',
    columns: [
      { name: 'run_id', type: 'STRING', required: true },
      { name: 'created_at', type: 'TIMESTAMP', required: true },
      { name: 'trial_count', type: 'INT64', required: true },
      { name: 'trials_hash', type: 'STRING', required: true, description: 'SHA-256 of the canonical trial list' },
      { name: 'manifest_hash', type: 'STRING', required: true, description: 'SHA-256 of the canonical manifest' },
      { name: 'manifest', type: 'JSON', required: true },
    ],
    key: ['run_id'],
    partitionBy: 'created_at',
  },
} as const satisfies Record<string, TableSchema>;

export type TableName = keyof typeof TABLES;

/**
 * TIMESTAMP columns travel as epoch-ms numbers in `Row`s; adapters convert. JSON columns travel as
 * JSON strings.
 */
export function candleToRow(c: Candle, ingestedAtMs: number): Row {
  return {
    venue: c.venue,
    symbol: c.symbol,
    interval: c.interval,
    open_time: c.openTime,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    trades: c.trades ?? null,
    vwap: c.vwap ?? null,
    flags: c.flags && c.flags.length > 0 ? c.flags.join(',') : null,
    ingested_at: ingestedAtMs,
  };
}

/**
 * A scan decision as a `signals` row: reasons and features as JSON text; `extra` adds the order
 * levels of a TAKE (entries, stop, take profit...) to the features. Both engines log through here.
 */
export function scanDecisionRow(d: ScanDecision, extra: Record<string, unknown> = {}): Row {
  const features: Record<string, unknown> = { ...d.features, engine: d.engine, candleTime: d.candleTime, ...extra };
  return {
    signal_id: d.signalId,
    ts: d.ts,
    strategy: d.strategy,
    symbol: d.symbol,
    decision: d.decision,
    direction: d.direction,
    price: Number.isFinite(d.price) ? d.price : null,
    reasons: JSON.stringify(d.reasons),
    features: JSON.stringify(features),
    ml_probability: d.ml?.probability ?? null,
    model_version: d.ml?.modelVersion ?? null,
  };
}

/** The row's key as one string (BigQuery insertId, de-dup key). */
export function rowKey(table: TableName, row: Row): string {
  return TABLES[table].key.map((k) => String(row[k])).join('|');
}
