/**
 * Sharded runs on a warehouse (BigQuery in the cloud, DuckDB locally): the manifest row
 * (`backtest_manifests`, written once by the launcher, read by every task) and the trial rows
 * (`backtest_trials`, written by the tasks as each trial finishes, read by `collect`). Both adapters'
 * inserts are idempotent by key (BigQuery insertAll insertId = run_id|trial_index; DuckDB primary key
 * + ON CONFLICT DO NOTHING) and both read back de-duplicated by key, so a retried attempt or a
 * redelivered insert never makes a second trial.
 */
import type { Row } from '../../shared/ports/warehouse.js';
import type { TableName } from '../../shared/warehouse-schema.js';
import type { TrialStore } from '../../shared/backtest/shard-runner.js';
import { manifestHash, mergeShardResults, parseManifest, ShardManifestError, trialFromRow, trialRow, trialsOf, type MergeResult, type ShardManifest, type StoredTrial } from '../../shared/backtest/shards.js';

/** What both warehouse adapters offer for sharded runs. */
export interface RunWarehouse {
  insert(table: TableName, rows: Row[]): Promise<void>;
  runRows(table: 'backtest_trials' | 'backtest_manifests', runId: string): Promise<Row[]>;
}

/**
 * Writes the run's manifest, once. Launching again with the same --run-id and the same options (only
 * the launch time differs) RESUMES the run: the stored manifest and its hash are returned, so the
 * tasks check against it and skip the trials already stored. Another manifest under that run id is
 * refused (ShardManifestError).
 */
export async function saveManifest(wh: RunWarehouse, m: ShardManifest): Promise<{ manifest: ShardManifest; hash: string; resumed: boolean }> {
  const hash = manifestHash(m);
  const [existing] = await wh.runRows('backtest_manifests', m.runId);
  if (existing) {
    const stored = parseManifest(String(existing.manifest));
    if (manifestHash({ ...stored, createdAt: m.createdAt }) !== hash) {
      throw new ShardManifestError(`run ${m.runId} already has another manifest (hash ${String(existing.manifest_hash).slice(0, 12)}...): choose another --run-id, or give the run's own options to resume it`);
    }
    return { manifest: stored, hash: manifestHash(stored), resumed: true };
  }
  await wh.insert('backtest_manifests', [{ run_id: m.runId, created_at: m.createdAt, trial_count: m.trialCount, trials_hash: m.trialsHash, manifest_hash: hash, manifest: JSON.stringify(m) }]);
  return { manifest: m, hash, resumed: false };
}

export async function loadManifest(wh: RunWarehouse, runId: string): Promise<{ manifest: ShardManifest; hash: string }> {
  const [row] = await wh.runRows('backtest_manifests', runId);
  if (!row) throw new Error(`no manifest for run ${runId} in backtest_manifests (was it launched against this warehouse?)`);
  const manifest = parseManifest(String(row.manifest));
  const hash = manifestHash(manifest);
  if (hash !== row.manifest_hash) throw new Error(`run ${runId}: the stored manifest hashes to ${hash.slice(0, 12)}..., its row says ${String(row.manifest_hash).slice(0, 12)}...`);
  return { manifest, hash };
}

export async function storedTrials(wh: RunWarehouse, runId: string): Promise<StoredTrial[]> {
  return (await wh.runRows('backtest_trials', runId)).map(trialFromRow);
}

/** The TrialStore of a shard task on a warehouse. */
export function warehouseTrialStore(wh: RunWarehouse, objective: ShardManifest['objective']): TrialStore {
  return {
    async storedIndices(runId) {
      return new Set((await storedTrials(wh, runId)).map((t) => t.index));
    },
    async write(trial) {
      await wh.insert('backtest_trials', [trialRow(trial, objective)]);
    },
  };
}

/** `collect`: the run's manifest and trials, merged, checked for completeness, ranked. */
export async function collectRun(wh: RunWarehouse, runId: string): Promise<{ manifest: ShardManifest; merged: MergeResult }> {
  const { manifest } = await loadManifest(wh, runId);
  const merged = mergeShardResults({ runId, trialCount: manifest.trialCount, objective: manifest.objective, ...(manifest.minTrades !== undefined ? { minTrades: manifest.minTrades } : {}), trials: trialsOf(manifest.trials) }, await storedTrials(wh, runId));
  return { manifest, merged };
}
