/**
 * `backtest launch --local`: the shard tasks of a run as local worker processes (shard-worker.ts),
 * each with CLOUD_RUN_TASK_INDEX / _COUNT / _ATTEMPT in its environment like a Cloud Run Jobs task,
 * running the same `runShard`. This process owns the trial store (the local DuckDB warehouse has one
 * writer process) and answers the tasks' store calls; candles go to each task once, packed.
 *
 * Like Cloud Run Jobs: at most `parallelism` tasks at once; a task that fails (non-zero exit) is run
 * again with the next attempt number, up to `maxRetries` retries; the run fails only when a task
 * fails every attempt, after all tasks have run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CandleSeries } from '../../shared/strategies/series.js';
import { packSeries, type PackedSeries } from '../../shared/backtest/packed-series.js';
import type { ShardRunSummary, TrialStore } from '../../shared/backtest/shard-runner.js';
import { checkSeries, manifestHash, MAX_TASKS, type ShardManifest, type StoredTrial } from '../../shared/backtest/shards.js';

/** Parent -> task. */
export type ShardParentMessage =
  | { type: 'init'; manifest: ShardManifest; manifestHash: string; series: PackedSeries[] }
  | { type: 'answer'; id: number; value?: unknown; error?: string };

/** Task -> parent. */
export type ShardWorkerMessage =
  | { type: 'stored'; id: number; runId: string }
  | { type: 'write'; id: number; trial: StoredTrial }
  | { type: 'done'; summary: ShardRunSummary }
  | { type: 'failed'; message: string };

/** Cloud Run Jobs' default number of retries per task. */
export const DEFAULT_MAX_RETRIES = 3;

export interface LocalShardsInput {
  manifest: ShardManifest;
  /** The data spec's candles (what a cloud task would read from BigQuery). */
  series: readonly CandleSeries[];
  tasks: number;
  store: TrialStore;
  /** Tasks at once (default min(cores, tasks)). */
  parallelism?: number;
  maxRetries?: number;
  /** Extra environment for the tasks (e.g. LOG_LEVEL, BACKTEST_SHARD_CRASH_AFTER). */
  env?: Record<string, string>;
  onTrial?: (t: StoredTrial) => void;
}

export interface LocalTaskOutcome {
  index: number;
  attempts: number;
  ok: boolean;
  summary: ShardRunSummary | null;
  errors: string[];
}

export interface LocalShardsResult {
  tasks: LocalTaskOutcome[];
  wallMs: number;
  failed: number[];
}

function spawnShardWorker(env: Record<string, string>): ChildProcess {
  const self = import.meta.url;
  const ts = self.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './shard-worker.ts' : './shard-worker.js', self));
  const execArgv = ts ? ['--import', pathToFileURL(createRequire(self).resolve('tsx')).href] : [];
  return fork(file, [], { execArgv, env: { ...process.env, ...env }, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** One attempt of one task; resolves with its summary or rejects with why it failed. */
function runAttempt(input: LocalShardsInput, packed: PackedSeries[], hash: string, index: number, attempt: number): Promise<ShardRunSummary> {
  return new Promise((resolve, reject) => {
    const w = spawnShardWorker({
      ...input.env,
      CLOUD_RUN_TASK_INDEX: String(index),
      CLOUD_RUN_TASK_COUNT: String(input.tasks),
      CLOUD_RUN_TASK_ATTEMPT: String(attempt),
    });
    let summary: ShardRunSummary | null = null;
    let failure: string | null = null;
    const answer = (id: number, p: Promise<unknown>) =>
      p.then(
        (value) => w.connected && w.send({ type: 'answer', id, value } satisfies ShardParentMessage),
        (e: unknown) => w.connected && w.send({ type: 'answer', id, error: (e as Error).message } satisfies ShardParentMessage),
      );
    w.on('message', (m: ShardWorkerMessage) => {
      if (m.type === 'stored') void answer(m.id, input.store.storedIndices(m.runId).then((s) => [...s]));
      else if (m.type === 'write') {
        void answer(
          m.id,
          input.store.write(m.trial).then(() => {
            input.onTrial?.(m.trial);
            return null;
          }),
        );
      } else if (m.type === 'done') summary = m.summary;
      else failure = m.message;
    });
    w.on('error', (e) => (failure ??= e.message));
    w.on('exit', (code, signal) => {
      if (code === 0 && summary) resolve(summary);
      else reject(new Error(failure ?? `task ${index} attempt ${attempt} exited with ${signal ?? `code ${code}`}`));
    });
    w.send({ type: 'init', manifest: input.manifest, manifestHash: hash, series: packed } satisfies ShardParentMessage);
  });
}

export async function runLocalShards(input: LocalShardsInput): Promise<LocalShardsResult> {
  const t0 = performance.now();
  if (!Number.isInteger(input.tasks) || input.tasks < 1 || input.tasks > MAX_TASKS) throw new Error(`--shards must be 1..${MAX_TASKS} (got ${input.tasks})`);
  checkSeries(input.manifest.data, input.series);
  const hash = manifestHash(input.manifest);
  const packed = input.series.map(packSeries);
  const maxRetries = input.maxRetries ?? DEFAULT_MAX_RETRIES;
  const parallelism = Math.max(1, Math.min(input.parallelism ?? availableParallelism(), input.tasks));
  const outcomes: LocalTaskOutcome[] = Array.from({ length: input.tasks }, (_, index) => ({ index, attempts: 0, ok: false, summary: null, errors: [] }));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.tasks) {
      const o = outcomes[next++] as LocalTaskOutcome;
      for (let attempt = 0; attempt <= maxRetries && !o.ok; attempt++) {
        o.attempts++;
        try {
          o.summary = await runAttempt(input, packed, hash, o.index, attempt);
          o.ok = true;
        } catch (e) {
          o.errors.push((e as Error).message);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: parallelism }, lane));
  return { tasks: outcomes, wallMs: performance.now() - t0, failed: outcomes.filter((o) => !o.ok).map((o) => o.index) };
}
