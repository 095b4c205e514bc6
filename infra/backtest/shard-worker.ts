/**
 * A local shard task (child_process.fork of `launch --local`, infra/backtest/local-shards.ts): the
 * task reads CLOUD_RUN_TASK_INDEX / _COUNT / _ATTEMPT from its environment exactly as in a Cloud Run
 * Jobs container and runs the domain's `runShard`. Its ports go through the parent process, which
 * owns the local DuckDB warehouse (one writer process): candles arrive once ('init', packed as for
 * the grid workers), stored-index queries and trial writes are request / answer messages. Exit code
 * 0 = done, 1 = failed (the parent retries with the next attempt, as Cloud Run does).
 *
 * BACKTEST_SHARD_CRASH_AFTER=N (fault injection, for testing retries): attempt 0 exits with code 1
 * right after storing its N-th trial.
 */
import { createLogger } from '../../shared/log.js';
import { unpackSeries } from '../../shared/backtest/packed-series.js';
import { runShard, type TrialStore } from '../../shared/backtest/shard-runner.js';
import { taskFromEnv, type StoredTrial } from '../../shared/backtest/shards.js';
import type { ShardParentMessage, ShardWorkerMessage } from './local-shards.js';

if (!process.send) throw new Error('shard-worker.ts runs only as a forked worker process');
const send = (m: ShardWorkerMessage) => process.send?.(m);
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 1;
const call = <T>(m: { type: 'stored'; runId: string } | { type: 'write'; trial: StoredTrial }): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    send({ ...m, id });
  });

const crashAfter = Number(process.env.BACKTEST_SHARD_CRASH_AFTER ?? 0);
// Quiet by default beside the launcher's progress bar; LOG_LEVEL=INFO shows the task's JSON log lines.
const log = createLogger({ component: 'backtest-shard', local: true }, process.env.LOG_LEVEL ? {} : { minSeverity: 'WARNING' });

process.on('message', (msg: ShardParentMessage) => {
  if (msg.type === 'answer') {
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error !== undefined) p?.reject(new Error(msg.error));
    else p?.resolve(msg.value);
    return;
  }
  const task = taskFromEnv(process.env);
  let written = 0;
  const store: TrialStore = {
    storedIndices: async (runId) => new Set(await call<number[]>({ type: 'stored', runId })),
    write: async (trial) => {
      await call<null>({ type: 'write', trial });
      written++;
      if (crashAfter > 0 && task.attempt === 0 && written >= crashAfter) process.exit(1);
    },
  };
  const series = msg.series.map(unpackSeries);
  runShard({ manifest: msg.manifest, expectedManifestHash: msg.manifestHash, task, candles: { load: async () => series }, store, log })
    .then((summary) => {
      send({ type: 'done', summary });
      process.disconnect();
    })
    .catch((e: unknown) => {
      send({ type: 'failed', message: (e as Error).message });
      process.exitCode = 1;
      process.disconnect();
    });
});
