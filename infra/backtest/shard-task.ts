/**
 * Composition of one shard task in a Cloud Run Jobs container (functions/backtest-shard/job.ts): the
 * environment read and checked once, the warehouse (BigQuery; or a DuckDB file for a single local
 * task), the manifest read by run id and checked against the hash the launcher passed, then the
 * domain's `runShard` with the warehouse as candle source and trial store.
 *
 * Environment:
 *   CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT, CLOUD_RUN_TASK_ATTEMPT   set by Cloud Run Jobs
 *   BACKTEST_RUN_ID, BACKTEST_MANIFEST_HASH                            set by `backtest launch`
 *   GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT)                           BigQuery project
 *   BIGQUERY_DATASET (default cryptotracker), BIGQUERY_LOCATION (default US)
 *   BIGQUERY_API_ENDPOINT   a local BigQuery-compatible server (no credentials sent)
 *   BACKTEST_WAREHOUSE_FILE a DuckDB warehouse file instead of BigQuery (ONE task at a time: DuckDB
 *                           has one writer process; local parallel runs use `launch --local`)
 */
import { z } from 'zod';
import type { Logger } from '../../shared/log.js';
import type { Warehouse } from '../../shared/ports/warehouse.js';
import { seriesFromWarehouse } from '../../shared/backtest/data.js';
import { runShard, type ShardCandleSource, type ShardRunSummary } from '../../shared/backtest/shard-runner.js';
import { taskFromEnv } from '../../shared/backtest/shards.js';
import { loadManifest, warehouseTrialStore, type RunWarehouse } from './shard-store.js';

const envSchema = z.object({
  BACKTEST_RUN_ID: z.string().min(1, 'BACKTEST_RUN_ID is not set (the launcher passes it)'),
  BACKTEST_MANIFEST_HASH: z.string().regex(/^[0-9a-f]{64}$/, 'BACKTEST_MANIFEST_HASH must be the 64-hex manifest hash the launcher passes'),
  GOOGLE_CLOUD_PROJECT: z.string().min(1).optional(),
  GCLOUD_PROJECT: z.string().min(1).optional(),
  BIGQUERY_DATASET: z.string().min(1).optional(),
  BIGQUERY_LOCATION: z.string().min(1).optional(),
  BIGQUERY_API_ENDPOINT: z.string().url().optional(),
  BACKTEST_WAREHOUSE_FILE: z.string().min(1).optional(),
});

export type ShardWarehouse = RunWarehouse & Pick<Warehouse, 'candles' | 'ensureSchema' | 'close'>;

/** Candles of a data spec from the warehouse's `ohlcv` table (parameterised queries, one per symbol). */
export function warehouseCandleSource(wh: Pick<Warehouse, 'candles'>): ShardCandleSource {
  return {
    async load(data) {
      const out = [];
      for (const symbol of data.symbols) {
        const candles = await wh.candles({ symbol, interval: data.interval, venue: data.venue, fromMs: data.historyFrom, toMs: data.to });
        if (candles.length === 0) throw new Error(`the warehouse has no ${data.venue} ${data.interval} candles of ${symbol} in ${new Date(data.historyFrom).toISOString()} .. ${new Date(data.to).toISOString()} (fill it first: README, Scale-out)`);
        out.push(seriesFromWarehouse(candles));
      }
      return out;
    },
  };
}

function parseTaskEnv(env: Record<string, string | undefined>) {
  const r = envSchema.safeParse(env);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`shard task environment: ${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** The warehouse the environment names. */
export async function shardWarehouse(env: Record<string, string | undefined>, log?: Logger): Promise<ShardWarehouse> {
  const e = parseTaskEnv(env);
  if (e.BACKTEST_WAREHOUSE_FILE) {
    const { DuckDbWarehouse } = await import('../warehouse/duckdb.js');
    return new DuckDbWarehouse({ file: e.BACKTEST_WAREHOUSE_FILE, ...(log ? { log } : {}) });
  }
  const projectId = e.GOOGLE_CLOUD_PROJECT ?? e.GCLOUD_PROJECT;
  if (!projectId) throw new Error('shard task environment: GOOGLE_CLOUD_PROJECT is not set (the BigQuery project)');
  const { BigQueryWarehouse } = await import('../warehouse/bigquery.js');
  return new BigQueryWarehouse({
    projectId,
    ...(e.BIGQUERY_DATASET ? { dataset: e.BIGQUERY_DATASET } : {}),
    ...(e.BIGQUERY_LOCATION ? { location: e.BIGQUERY_LOCATION } : {}),
    ...(e.BIGQUERY_API_ENDPOINT ? { apiEndpoint: e.BIGQUERY_API_ENDPOINT, anonymous: true } : {}),
    ...(log ? { log } : {}),
  });
}

/** One task: env -> warehouse -> manifest (checked) -> runShard. Throws on any failure (the entry exits non-zero: Cloud Run retries the task). */
export async function runShardTask(env: Record<string, string | undefined>, log: Logger, warehouse?: ShardWarehouse): Promise<ShardRunSummary> {
  const e = parseTaskEnv(env);
  const task = taskFromEnv(env);
  const wh = warehouse ?? (await shardWarehouse(env, log));
  try {
    const { manifest } = await loadManifest(wh, e.BACKTEST_RUN_ID);
    return await runShard({ manifest, expectedManifestHash: e.BACKTEST_MANIFEST_HASH, task, candles: warehouseCandleSource(wh), store: warehouseTrialStore(wh, manifest.objective), log });
  } finally {
    if (!warehouse) await wh.close();
  }
}
