/**
 * `npm run retrain`: the learning loop's retraining on demand (SPEC 8), on the same state and warehouse
 * the runtime uses (embedded by default: <data-dir>/<market>/). Without --job it retrains only
 * (shared/learning/retrain.ts) and prints each strategy's decision; with --job it runs the whole daily
 * job exactly as Cloud Scheduler does at 02:00 Los Angeles time (shared/pipeline/retrain.ts).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { fail, parseTime } from './cli.js';
import { ManualClock } from '../shared/ports/clock.js';
import { BACKENDS, DEFAULT_DATA_DIR, buildRoot, type Backend } from '../infra/runtime/root.js';
import { createLogger } from '../shared/log.js';
import { strategyIdSchema, type StrategyId } from '../shared/model/trading.js';
import { LEARNING_STRATEGIES, retrainStrategies, type StrategyRun } from '../shared/learning/retrain.js';
import { handle as dailyJob } from '../shared/pipeline/retrain.js';
import { table as textTable } from '../shared/backtest/text-table.js';

const HELP = `Usage: npm run retrain -- [options]

Retrains the WIN/LOSS model of each strategy now (what the daily 02:00 Los Angeles job does first): a
strategy with at least config/ml retrain.minNewTrades new completed trades since its last run is
trained on its trades (time-ordered: the most recent slice scores it) and replaces the model in force
only by the rules (not a lower score; never below a model scoring >= 0.85; a feature change waits for
the owner's approval). Prints what each strategy decided.

Options:
  --strategy S         only this strategy (repeatable): ${LEARNING_STRATEGIES.join(', ')}
  --force              train even with fewer new trades than retrain.minNewTrades
  --dry-run            train and decide, store nothing
  --job                run the whole daily job instead, as the scheduler does: retrain, the shadow test
                       (champion vs challengers re-simulated over the last 30 days of the warehouse's
                       candles), suggestions from it, the rollback trigger, the owner's research summary
  --no-shadow          with --job: skip the shadow simulation (suggestions from the latest stored run)
  --at ISO             run as of this time (a replay's data: e.g. --market replay --at 2025-06-29T09:00Z)
  --backend B          ${BACKENDS.join(' | ')} (default embedded)
  --data-dir DIR       the runtime's data folder (default ${DEFAULT_DATA_DIR})
  --market live|replay which run's state and warehouse (default live; npm start's replays use replay)
  --json               machine-readable output
  -h, --help           this help
`;

interface Args {
  strategies: StrategyId[] | undefined;
  force: boolean;
  dryRun: boolean;
  job: boolean;
  backend: Backend;
  dataDir: string;
  json: boolean;
  at: number | undefined;
  noShadow: boolean;
}

function readArgs(argv: string[]): Args {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        strategy: { type: 'string', multiple: true },
        force: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        job: { type: 'boolean', default: false },
        backend: { type: 'string', default: 'embedded' },
        'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
        market: { type: 'string', default: 'live' },
        json: { type: 'boolean', default: false },
        at: { type: 'string' },
        'no-shadow': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const strategies = v.strategy?.map((s) => {
    const p = strategyIdSchema.safeParse(s);
    if (!p.success) fail(`--strategy must be one of ${LEARNING_STRATEGIES.join(', ')} (got '${s}')`);
    return p.data;
  });
  if (!(BACKENDS as readonly string[]).includes(v.backend as string)) fail(`--backend must be one of ${BACKENDS.join(', ')} (got '${v.backend}')`);
  if (v.market !== 'live' && v.market !== 'replay') fail(`--market must be live or replay (got '${v.market}')`);
  if (v.job && v['dry-run']) fail('--job runs the daily job as scheduled: it has no --dry-run');
  if (v['no-shadow'] && !v.job) fail('--no-shadow applies to --job only');
  return {
    strategies,
    force: v.force as boolean,
    dryRun: v['dry-run'] as boolean,
    job: v.job as boolean,
    backend: v.backend as Backend,
    dataDir: join(resolve(v['data-dir'] as string), v.market as string),
    json: v.json as boolean,
    at: parseTime(v.at as string | undefined, '--at'),
    noShadow: v['no-shadow'] as boolean,
  };
}

function table(runs: readonly StrategyRun[]): string {
  const f3 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
  return textTable(
    ['strategy', 'outcome', 'version', 'score', 'acc', 'prec', 'recall', 'labelled', 'new', 'train s'],
    runs.map(({ run, labelled }) => [run.strategy, run.outcome, run.modelVersion, f3(run.metrics?.score), f3(run.metrics?.accuracy), f3(run.metrics?.precision), f3(run.metrics?.recall), String(labelled), String(run.newTrades), run.metrics ? (run.trainMs / 1000).toFixed(1) : '-']),
  );
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const a = readArgs(argv);
  const log = createLogger({ component: 'retrain-cli' }, { minSeverity: 'WARNING' });
  const root = await buildRoot({ backend: a.backend, dataDir: a.dataDir, log, ...(a.at !== undefined ? { clock: new ManualClock(a.at) } : {}) });
  try {
    if (a.job) {
      const out = await dailyJob(await root.deps('retrain'), { ...(a.strategies ? { strategies: a.strategies } : {}), ...(a.force ? { force: true } : {}), ...(a.noShadow ? { shadow: false } : {}) });
      process.stdout.write(`${JSON.stringify(out, null, a.json ? 0 : 2)}\n`);
      return;
    }
    const now = root.clock.now();
    const cfg = (await root.config.strategies()).ml;
    const r = await retrainStrategies(root, cfg, {
      runId: `manual:${new Date(now).toISOString()}`,
      now,
      ...(a.strategies ? { strategies: a.strategies } : {}),
      force: a.force,
      dryRun: a.dryRun,
      onStrategy: (s, i, n) => {
        if (!a.json) process.stderr.write(`[${i + 1}/${n}] ${s}...\n`);
      },
    });
    if (a.json) {
      process.stdout.write(`${JSON.stringify({ runs: r.runs.map((x) => ({ ...x.run, labelled: x.labelled, refused: x.refused.length, stored: x.stored })), failed: r.failed })}\n`);
    } else {
      process.stdout.write(`${table(r.runs)}\n`);
      for (const x of r.runs) process.stdout.write(`${x.run.strategy}: ${x.run.detail}${x.refused.length ? ` (${x.refused.length} trade rows refused: ${x.refused[0]?.reason})` : ''}\n`);
      for (const f of r.failed) process.stdout.write(`${f.strategy}: FAILED: ${f.error}\n`);
      if (a.dryRun) process.stdout.write('dry run: nothing stored\n');
    }
    if (r.failed.length > 0) process.exitCode = 1;
  } finally {
    await root.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
