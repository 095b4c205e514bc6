/**
 * One shard task of a sharded optimisation run (shards.ts): the same steps in a Cloud Run Jobs task
 * and in a local worker process; only the ports differ (BigQuery in the cloud, the local DuckDB
 * warehouse through the parent process locally).
 *
 * 1. verify the manifest (the trial list rebuilt from its spec must hash as the manifest says, and the
 *    manifest as the launcher said), else refuse;
 * 2. take this task's trials (strided), drop those already stored for the run (a retried attempt
 *    resumes: it never runs or writes a trial twice);
 * 3. load the candles of the data spec once, build the market once;
 * 4. run each remaining trial with the grid's `runCombo` and write its row AS IT FINISHES (idempotent
 *    by run id + trial index), so a task killed half-way keeps what it finished.
 */
import type { Logger } from '../log.js';
import type { CandleSeries } from '../strategies/series.js';
import { runCombo } from './grid.js';
import { createMarket } from './market.js';
import { checkSeries, shardTrials, verifyManifest, type ShardDataSpec, type ShardManifest, type ShardTask, type StoredTrial } from './shards.js';

/** Candles for a data spec (BigQuery `ohlcv` in the cloud; CSV / DuckDB read by the launcher locally). */
export interface ShardCandleSource {
  load(data: ShardDataSpec): Promise<CandleSeries[]>;
}

/** Where trials are stored (`backtest_trials`): idempotent by (runId, index). */
export interface TrialStore {
  /** Indices already stored for the run. */
  storedIndices(runId: string): Promise<Set<number>>;
  write(trial: StoredTrial): Promise<void>;
}

export interface ShardRunInput {
  manifest: ShardManifest;
  /** The manifest hash the launcher passed (env BACKTEST_MANIFEST_HASH); checked when given. */
  expectedManifestHash?: string;
  task: ShardTask;
  candles: ShardCandleSource;
  store: TrialStore;
  log?: Logger;
  now?: () => number;
  onTrial?: (t: StoredTrial) => void;
}

export interface ShardRunSummary {
  runId: string;
  task: ShardTask;
  assigned: number;
  skipped: number;
  ran: number;
  /** Wall time of the whole task and of the trials alone (ms). */
  wallMs: number;
  trialsWallMs: number;
  loadMs: number;
}

export async function runShard(input: ShardRunInput): Promise<ShardRunSummary> {
  const t0 = performance.now();
  const { manifest: m, task, store } = input;
  const now = input.now ?? Date.now;
  const log = input.log?.child({ runId: m.runId, taskIndex: task.index, taskCount: task.count, attempt: task.attempt });
  const trials = verifyManifest(m, input.expectedManifestHash);
  const mine = shardTrials(trials, task.index, task.count);
  const stored = await store.storedIndices(m.runId);
  const todo = mine.filter((t) => !stored.has(t.index));
  const summary: ShardRunSummary = { runId: m.runId, task, assigned: mine.length, skipped: mine.length - todo.length, ran: 0, wallMs: 0, trialsWallMs: 0, loadMs: 0 };
  log?.info('shard start', { trials: m.trialCount, assigned: mine.length, alreadyStored: summary.skipped });
  if (todo.length > 0) {
    const tLoad = performance.now();
    const series = await input.candles.load(m.data);
    checkSeries(m.data, series);
    const market = createMarket({ series, from: m.data.from, to: m.data.to });
    summary.loadMs = performance.now() - tLoad;
    log?.info('shard data loaded', { symbols: m.data.symbols, candles: series.reduce((n, s) => n + s.length, 0), loadMs: Math.round(summary.loadMs) });
    for (const c of todo) {
      const r = runCombo(market, m.config, c, m.indicators);
      const trial: StoredTrial = { ...c, metrics: r.metrics, wallMs: r.wallMs, runId: m.runId, shardIndex: task.index, attempt: task.attempt, createdAt: now() };
      await store.write(trial);
      summary.ran++;
      summary.trialsWallMs += r.wallMs;
      input.onTrial?.(trial);
      log?.debug('trial stored', { index: c.index, trades: r.metrics.trades, totalPnl: r.metrics.totalPnl, wallMs: Math.round(r.wallMs) });
    }
  }
  summary.wallMs = performance.now() - t0;
  log?.info('shard done', { assigned: summary.assigned, skipped: summary.skipped, ran: summary.ran, wallMs: Math.round(summary.wallMs), trialsWallMs: Math.round(summary.trialsWallMs) });
  return summary;
}
