/**
 * `npm run backtest -- launch`: a grid (or any trial list, e.g. a hyperopt sample) split into shard
 * tasks: on Cloud Run Jobs (manifest to BigQuery, jobs.run with taskCount = N and the run id + manifest
 * hash as env overrides), or here (`--local`: N worker processes running the same shard code on the
 * local DuckDB warehouse, then collected and ranked). See shared/backtest/shards.ts.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail, parseTime } from '../cli.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { defaultGrid, valueDimension, type GridCombo, type GridDimension } from '../../shared/backtest/grid.js';
import { createMarket } from '../../shared/backtest/market.js';
import { type Objective } from '../../shared/backtest/metrics.js';
import { type IndicatorMode } from '../../shared/backtest/run.js';
import { createManifest, manifestHash, parseManifest, shardRunId, ShardManifestError, MAX_TASKS, type ShardDataSpec, type ShardManifest, type TrialSpec, trialsOf } from '../../shared/backtest/shards.js';
import { sliceSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { upperBound } from '../../shared/sorted.js';
import { parseAssignment, parseDuration, parseValue, progressBar, RUN_OPTIONS, runSelection, objectiveOf } from './args.js';
import { DEFAULT_DATA, DEFAULT_SYMBOLS, loadSeries, neededWarmup, warmupOverride } from './load.js';
import { printCollected } from './collect.js';

export const HELP = `Usage: npm run backtest -- launch [options]

Splits an optimisation run into N shard tasks. Every task rebuilds the same trial list from the run's
manifest (and refuses to run if it does not hash as the manifest says), takes every N-th trial
(task k: trials k, k+N, ...), runs them with the grid's code and writes each trial to the
backtest_trials table as it finishes (idempotent: a retried task skips what is stored).
Then \`npm run backtest -- collect RUN_ID\` ranks them like the grid.

Trials (as the backtest command):
  --grid                the SPEC grid (72 trials); --dim KEY=V1,V2,... adds a dimension (repeatable)
  --trials FILE         or a JSON trial list [{"index":0,"labels":{...},"overrides":{...}}, ...]
                        indexed 0..n-1 (e.g. a hyperopt sample)
  --strategy ID, --set KEY=VALUE, --costs PROFILE, --objective NAME, --min-trades N, --indicators MODE,
  --allow-missing-reference
Shards:
  --shards N            number of tasks (1..${MAX_TASKS}, Cloud Run Jobs' limit)
  --run-id ID           default sh_<UTC time>_<hash of the manifest>
Data:
  --symbols A,B,...     (default ${DEFAULT_SYMBOLS.join(',')}); --venue NAME (default bybit)
  --from ISO --to ISO   traded range (required for the cloud; locally default: all the data)
  --warmup-hours N      history before --from (default: what the config needs, shared/backtest/warmup.ts;
                        73 h with the defaults)

Local (--local): the tasks run here as worker processes, writing to a DuckDB warehouse, then collect
  --data PATHS | --warehouse FILE    candles as the backtest command reads them (default ${DEFAULT_DATA})
  --skip-bad-rows
  --parallelism P       tasks at once (default: the number of cores)
  --results FILE        DuckDB warehouse for the manifest and trials (default .data/live/warehouse.duckdb;
                        CST_DATA_DIR is honoured)
  --top N               rows shown (default 10)

Cloud Run Jobs (default): the job (image functions/backtest-shard) is deployed beforehand (README)
  --project P --region R --job NAME
  --dataset D           BigQuery dataset (default cryptotracker); --location L (default US)
  --task-timeout D      per-task timeout, e.g. 90m, 6h (max 168h; default: the job's)
  --dry-run             print the manifest summary and the exact jobs.run request; write and send nothing
  --endpoint URL        Cloud Run API endpoint (default https://run.googleapis.com)
  --bigquery-endpoint URL  a local BigQuery-compatible server (sends no credentials)
  -h, --help            this help
`;

function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        grid: { type: 'boolean', default: false },
        dim: { type: 'string', multiple: true },
        trials: { type: 'string' },
        objective: { type: 'string', default: 'totalPnl' },
        'min-trades': { type: 'string' },
        shards: { type: 'string' },
        'run-id': { type: 'string' },
        venue: { type: 'string', default: 'bybit' },
        local: { type: 'boolean', default: false },
        parallelism: { type: 'string' },
        results: { type: 'string' },
        top: { type: 'string' },
        project: { type: 'string' },
        region: { type: 'string' },
        job: { type: 'string' },
        dataset: { type: 'string' },
        location: { type: 'string' },
        'task-timeout': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        endpoint: { type: 'string' },
        'bigquery-endpoint': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}

type Values = ReturnType<typeof readArgs>;

function positiveInt(raw: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) fail(`${name} must be a whole number in 1..${max} (got '${raw}')`);
  return n;
}

/** The trial spec and base config (the same options as the backtest command). */
function trialsAndConfig(v: Values): { spec: TrialSpec; config: ShardManifest['config']; objective: Objective; indicators: IndicatorMode } {
  const { sel, base: strategies, indicators } = runSelection(v);
  const objective = objectiveOf(v.objective);
  const dims: GridDimension[] = [];
  if (v.grid) dims.push(...defaultGrid(sel));
  for (const d of v.dim ?? []) {
    const [k, raw] = parseAssignment(d, '--dim');
    dims.push(valueDimension(k, [k], raw.split(',').map((x) => parseValue(x.trim()))));
  }
  let spec: TrialSpec;
  if (v.trials !== undefined) {
    if (dims.length > 0) fail('--trials is a whole trial list: give it without --grid / --dim');
    let list: unknown;
    try {
      list = JSON.parse(readFileSync(resolve(v.trials), 'utf8'));
    } catch (e) {
      fail(`--trials ${v.trials}: ${(e as Error).message}`);
    }
    if (!Array.isArray(list)) fail(`--trials ${v.trials}: expected a JSON array of {index, labels, overrides}`);
    spec = { kind: 'list', trials: list as GridCombo[], sampler: v.trials };
  } else {
    if (dims.length === 0) fail('no trials: give --grid, --dim KEY=V1,V2,... or --trials FILE');
    spec = { kind: 'grid', dims };
  }
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies, ...(v['allow-missing-reference'] ? { allowMissingReference: true } : {}) };
  return { spec, config, objective, indicators };
}

function buildManifest(v: Values, data: ShardDataSpec, createdAt: number): ShardManifest {
  const { spec, config, objective, indicators } = trialsAndConfig(v);
  const minTrades = v['min-trades'] === undefined ? undefined : Number(v['min-trades']);
  if (minTrades !== undefined && !(Number.isInteger(minTrades) && minTrades >= 0)) fail('--min-trades must be a whole number >= 0');
  const body = { objective, ...(minTrades !== undefined ? { minTrades } : {}), indicators, config, data, trials: spec };
  try {
    const m = createManifest({ runId: v['run-id'] ?? shardRunId(createdAt, body), createdAt, ...body });
    parseManifest(JSON.stringify(m)); // what every task will check: refuse a bad --trials file here, not in N tasks
    return m;
  } catch (e) {
    fail((e as Error).message);
  }
}

function symbolsOf(v: Values): string[] {
  const symbols = v.symbols.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) fail('--symbols is empty');
  return symbols;
}

function venueOf(v: Values): 'bybit' | 'kraken' {
  if (v.venue !== 'bybit' && v.venue !== 'kraken') fail(`--venue must be bybit or kraken (got '${v.venue}')`);
  return v.venue;
}

/** The 1m history every trial needs before --from (shared/backtest/warmup.ts), or --warmup-hours. */
function warmupOf(v: Values): ReturnType<typeof warmupOverride> {
  const { spec, config } = trialsAndConfig(v);
  let trials;
  try {
    trials = trialsOf(spec);
  } catch (e) {
    fail((e as Error).message);
  }
  return warmupOverride(v, neededWarmup(config.strategies, trials.map((t) => t.overrides), false));
}

function summary(m: ShardManifest, tasks: number): string {
  const per = Math.ceil(m.trialCount / tasks);
  return [
    `run ${m.runId}: ${m.trialCount} trials on ${tasks} task(s) (at most ${per} each, strided), ranked by ${m.objective}`,
    `data: ${m.data.symbols.join(',')} ${m.data.venue} 1m, traded ${new Date(m.data.from).toISOString()} .. ${new Date(m.data.to).toISOString()}, history from ${new Date(m.data.historyFrom).toISOString()} (${m.data.source})`,
    `trials hash ${m.trialsHash}, manifest hash ${manifestHash(m)}`,
  ].join('\n');
}

async function launchLocal(v: Values, tasks: number): Promise<void> {
  const symbols = symbolsOf(v);
  const from = parseTime(v.from, '--from');
  const to = parseTime(v.to, '--to');
  const loaded = await loadSeries(v as Record<string, string | boolean | string[] | undefined>, symbols, { from, to, warmup: warmupOf(v) });
  const market = createMarket({ series: loaded, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  // Exactly the candles a cloud task would read: history .. the end of the traded range.
  const series: CandleSeries[] = loaded.map((s) => sliceSeries(s, 0, upperBound(s.openTime, market.to)));
  const historyFrom = Math.min(...series.map((s) => s.openTime[0] as number));
  const source = v.warehouse !== undefined ? `duckdb:${v.warehouse}` : `csv:${v.data ?? DEFAULT_DATA}`;
  const launched = buildManifest(v, { symbols, venue: series[0]?.venue ?? 'bybit', interval: '1m', historyFrom, from: market.from, to: market.to, source }, Date.now());
  const file = v.results ? resolve(v.results) : join(resolve(process.env.CST_DATA_DIR ?? '.data'), 'live', 'warehouse.duckdb');
  mkdirSync(dirname(file), { recursive: true });
  const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
  const { saveManifest, warehouseTrialStore } = await import('../../infra/backtest/shard-store.js');
  const { runLocalShards } = await import('../../infra/backtest/local-shards.js');
  const wh = new DuckDbWarehouse({ file });
  try {
    const saved = await saveManifest(wh, launched).catch((e: unknown) => (e instanceof ShardManifestError ? fail(e.message) : Promise.reject(e)));
    const m = saved.manifest;
    process.stderr.write(summary(m, tasks) + `${saved.resumed ? '\nresuming: the trials already stored are skipped' : ''}\nresults: ${file}\n`);
    const bar = progressBar(`${tasks} local shard task(s)`, 'trials');
    let done = 0;
    const parallelism = positiveInt(v.parallelism, '--parallelism');
    const r = await runLocalShards({ manifest: m, series, tasks, store: warehouseTrialStore(wh, m.objective), ...(parallelism ? { parallelism } : {}), onTrial: () => bar.update(++done, m.trialCount) });
    bar.stop();
    const cpu = r.tasks.reduce((n, t) => n + (t.summary?.trialsWallMs ?? 0), 0);
    process.stdout.write(`local shards: ${tasks} task(s), ${(r.wallMs / 1000).toFixed(1)} s wall, ${(cpu / 1000).toFixed(1)} s of trial time (${(cpu / Math.max(1, m.trialCount) / 1000).toFixed(2)} s per trial)\n`);
    for (const t of r.tasks.filter((x) => x.errors.length > 0)) process.stderr.write(`task ${t.index}: ${t.attempts} attempt(s)${t.ok ? ' (recovered)' : ' FAILED'}: ${t.errors.join(' | ')}\n`);
    const ok = await printCollected(wh, m.runId, positiveInt(v.top, '--top') ?? 10, false, r.wallMs, tasks);
    if (!ok || r.failed.length > 0) process.exitCode = 1;
  } finally {
    await wh.close();
  }
}

async function launchCloud(v: Values, tasks: number): Promise<void> {
  if (!v.project || !v.region || !v.job) fail('the cloud launch needs --project, --region and --job (or --local to run here)');
  if (v.from === undefined || v.to === undefined) fail('the cloud launch needs --from and --to (the tasks read that range from BigQuery)');
  const from = parseTime(v.from, '--from') as number;
  const to = parseTime(v.to, '--to') as number;
  if (!(to >= from)) fail('--to must not be before --from');
  // Every task (and every retry, maybe hours later) must read the same candles: no range that is still being written.
  const lastClosed = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  if (to > lastClosed) fail(`--to ${new Date(to).toISOString()} is not in the past: the tasks would read candles still arriving; give --to ${new Date(lastClosed).toISOString()} or earlier`);
  const dataset = v.dataset ?? 'cryptotracker';
  const location = v.location ?? 'US';
  const m = buildManifest(v, { symbols: symbolsOf(v), venue: venueOf(v), interval: '1m', historyFrom: from - warmupOf(v).scalpMs, from, to, source: `bigquery:${v.project}.${dataset}` }, Date.now());
  const { runJobRequest, runJob } = await import('../../infra/backtest/cloud-run-jobs.js');
  const request = (hash: string) => {
    try {
      return runJobRequest({
        project: v.project as string,
        region: v.region as string,
        job: v.job as string,
        taskCount: tasks,
        ...(v['task-timeout'] ? { timeoutSeconds: Math.round(parseDuration(v['task-timeout'], '--task-timeout') / 1000) } : {}),
        env: { BACKTEST_RUN_ID: m.runId, BACKTEST_MANIFEST_HASH: hash, GOOGLE_CLOUD_PROJECT: v.project as string, BIGQUERY_DATASET: dataset, BIGQUERY_LOCATION: location },
        ...(v.endpoint ? { endpoint: v.endpoint } : {}),
      });
    } catch (e) {
      fail((e as Error).message);
    }
  };
  let req = request(manifestHash(m));
  process.stdout.write(summary(m, tasks) + '\n');
  if (v['dry-run']) {
    process.stdout.write(`dry run: the manifest would be written to ${v.project}.${dataset}.backtest_manifests and this request sent:\n${req.method} ${req.url}\n${JSON.stringify(req.body, null, 2)}\n`);
    return;
  }
  const { BigQueryWarehouse } = await import('../../infra/warehouse/bigquery.js');
  const { saveManifest } = await import('../../infra/backtest/shard-store.js');
  const bq = new BigQueryWarehouse({ projectId: v.project, dataset, location, ...(v['bigquery-endpoint'] ? { apiEndpoint: v['bigquery-endpoint'], anonymous: isLoopback(v['bigquery-endpoint']) } : {}) });
  await bq.ensureSchema();
  const saved = await saveManifest(bq, m).catch((e: unknown) => (e instanceof ShardManifestError ? fail(e.message) : Promise.reject(e)));
  if (saved.resumed) {
    process.stdout.write('resuming: the run is already stored; its tasks skip the trials already written\n');
    req = request(saved.hash);
  }
  // A local fake endpoint gets no credentials; any other endpoint gets Application Default Credentials.
  const r = await runJob(req, v.endpoint && isLoopback(v.endpoint) ? { headers: new Headers() } : {});
  process.stdout.write(`launched: operation ${r.operation}${r.execution ? `, execution ${r.execution}` : ''}\nwhen it has finished: npm run backtest -- collect ${m.runId} --project ${v.project}${v.dataset ? ` --dataset ${dataset}` : ''}\n`);
}

function isLoopback(url: string): boolean {
  return /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(url);
}

export async function main(args: string[]): Promise<void> {
  const v = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const tasks = positiveInt(v.shards, '--shards', MAX_TASKS);
  if (tasks === undefined) fail('--shards N is required');
  if (v.local) await launchLocal(v, tasks);
  else await launchCloud(v, tasks);
}
