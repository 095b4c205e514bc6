/**
 * The backtest shard task's Cloud Run Jobs container process (functions/backtest-shard/Dockerfile):
 * one task of a sharded optimisation run. Bootstrap only: the composition (infra/backtest/shard-task.ts)
 * reads CLOUD_RUN_TASK_INDEX / _COUNT / _ATTEMPT and the launcher's BACKTEST_RUN_ID /
 * BACKTEST_MANIFEST_HASH, reads the manifest from BigQuery and runs the domain's shard
 * (shared/backtest/shard-runner.ts). Exit code 0 when done, 1 on any failure so Cloud Run retries the
 * task (the retry skips the trials already stored). Logs are structured JSON lines (shared/log.ts).
 */
import { pathToFileURL } from 'node:url';
import { createLogger, type Severity } from '../../shared/log.js';
import { runShardTask } from '../../infra/backtest/shard-task.js';

export async function main(env: Record<string, string | undefined> = process.env): Promise<number> {
  const log = createLogger({ component: 'backtest-shard', execution: env.CLOUD_RUN_EXECUTION }, env.LOG_LEVEL ? { minSeverity: env.LOG_LEVEL as Severity } : {});
  try {
    await runShardTask(env, log);
    return 0;
  } catch (e) {
    log.error('shard task failed', { error: e as Error });
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => process.exit(code));
}
