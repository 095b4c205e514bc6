/**
 * The cloud path of a sharded run, against local fakes of the two Google APIs it calls (no real
 * Cloud Run or BigQuery here: no network, no credentials):
 * - Cloud Run Admin API v2 jobs.run: the request line and body (RunJobRequest.overrides:
 *   containerOverrides[].env, taskCount, timeout as a Duration string), the answer (an Operation),
 *   an error answer; the `launch --dry-run` output;
 * - BigQuery REST (test/warehouse/bigquery-server.ts, the official client on the wire): the launcher
 *   writes the manifest (insertAll, insertId = run id), each task (functions/backtest-shard/job.ts
 *   with the task env Cloud Run would set, run here one after another) reads the manifest and the
 *   candles with PARAMETERISED queries and streams each trial (insertId = run_id|trial_index), a
 *   retried task writes nothing new, and collect gives exactly the trials of the one-process grid.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import { runGrid, valueDimension } from '../../shared/backtest/grid.js';
import { exactJson, manifestHash, parseManifest } from '../../shared/backtest/shards.js';
import { candleAt } from '../../shared/strategies/series.js';
import { TABLES, candleToRow, type TableName } from '../../shared/warehouse-schema.js';
import { BigQueryWarehouse, runRowsQuery } from '../../infra/warehouse/bigquery.js';
import { runJob, runJobRequest } from '../../infra/backtest/cloud-run-jobs.js';
import { collectRun } from '../../infra/backtest/shard-store.js';
import { main as launch } from '../../scripts/backtest/launch.js';
import { main as shardJob } from '../../functions/backtest-shard/job.js';
import { FakeBigQueryServer, type QueryRequestBody, type QueryResult } from '../warehouse/bigquery-server.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const PROJECT = 'cst-test-project';
const RUN_ID = 'sh_cloud_test';

/** A fake Cloud Run Admin API: records jobs.run requests, answers an Operation (or `fail`'s error). */
class FakeCloudRun {
  readonly requests: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: unknown }> = [];
  fail: { code: number; status: string; message: string } | null = null;
  private server: Server | undefined;
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        const m = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+)\/jobs\/([^/:]+):run$/.exec(req.url ?? '');
        res.setHeader('content-type', 'application/json');
        if (this.fail) {
          res.writeHead(this.fail.code);
          res.end(JSON.stringify({ error: { code: this.fail.code, message: this.fail.message, status: this.fail.status } }));
        } else if (!m || req.method !== 'POST') {
          res.writeHead(404);
          res.end(JSON.stringify({ error: { code: 404, message: 'no route', status: 'NOT_FOUND' } }));
        } else {
          res.writeHead(200);
          res.end(JSON.stringify({ name: `${m[1]}/operations/op-1`, metadata: { '@type': 'type.googleapis.com/google.cloud.run.v2.Execution', name: `${m[1]}/jobs/${m[2]}/executions/${m[2]}-x1` } }));
        }
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

function params(req: QueryRequestBody): Record<string, string | number> {
  return Object.fromEntries((req.queryParameters ?? []).map((p) => [p.name, p.parameterType.type === 'INT64' ? Number(p.parameterValue.value) : p.parameterValue.value]));
}

const wireType = (t: string) => (t === 'TIMESTAMP' || t === 'INT64' ? 'INTEGER' : t === 'FLOAT64' ? 'FLOAT' : t === 'JSON' ? 'STRING' : t === 'BOOL' ? 'BOOLEAN' : t);

/**
 * What BigQuery computes for the statements of a sharded run (the fake does not parse SQL): the
 * ohlcv range of one symbol, and one run's rows of backtest_manifests / backtest_trials, first
 * created per key; TIMESTAMPs as UNIX_MILLIS, JSON as TO_JSON_STRING. Every value comes from a
 * query PARAMETER (the statements carry none inline).
 */
function evaluate(req: QueryRequestBody, server: FakeBigQueryServer): QueryResult {
  const [, , dataset, table] = /FROM `([^`]+)\.([^`.]+)\.([^`.]+)`/.exec(req.query) as unknown as [string, string, string, TableName];
  const stored = server.table(dataset, table)?.rows ?? [];
  const p = params(req);
  const ms = (v: unknown) => Date.parse(String(v));
  const cols = TABLES[table].columns.filter((c) => c.name !== 'ingested_at' || table !== 'ohlcv');
  const fields = cols.map((c) => ({ name: c.name, type: wireType(c.type) }));
  let rows: Array<Record<string, unknown>>;
  if (table === 'ohlcv') {
    expect(req.query).not.toMatch(/BTCUSDT|ETHUSDT|SOLUSDT/);
    rows = stored.filter((r) => r.symbol === p.symbol && r.interval === p.interval && r.venue === p.venue && ms(r.open_time) >= Number(p.fromMs) && ms(r.open_time) <= Number(p.toMs));
    rows.sort((a, b) => ms(a.open_time) - ms(b.open_time));
  } else {
    expect(req.query).toBe(runRowsQuery(PROJECT, dataset, table as 'backtest_trials', String(p.runId)).query);
    expect(req.query).not.toContain(RUN_ID);
    const first = new Map<string, Record<string, unknown>>();
    for (const r of stored.filter((x) => x.run_id === p.runId)) {
      const k = TABLES[table].key.map((c: string) => String(r[c])).join('|');
      const prev = first.get(k);
      if (!prev || ms(r.created_at) < ms(prev.created_at)) first.set(k, r);
    }
    rows = [...first.values()].sort((a, b) => Number(a.trial_index ?? 0) - Number(b.trial_index ?? 0));
  }
  return {
    fields,
    rows: rows.map((r) => Object.fromEntries(cols.map((c) => [c.name, r[c.name] === undefined || r[c.name] === null ? null : c.type === 'TIMESTAMP' ? ms(r[c.name]) : (r[c.name] as string | number | boolean)]))),
  };
}

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 3 * HOUR - MIN;
const WARMUP_H = 74;
const series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - WARMUP_H * HOUR, TO));
const LE = 'scalp.levels_exhaustion';

describe('Cloud Run Admin API v2 jobs.run', () => {
  const fake = new FakeCloudRun();
  let endpoint = '';
  beforeAll(async () => {
    endpoint = await fake.start();
  });
  afterAll(() => fake.stop());

  it('builds the v2 request: name in the URL, env overrides, taskCount, timeout as a Duration', () => {
    const req = runJobRequest({ project: 'my-proj-1', region: 'europe-west1', job: 'backtest-shard', taskCount: 40, timeoutSeconds: 5400, env: { BACKTEST_RUN_ID: 'r1', BACKTEST_MANIFEST_HASH: 'h' } });
    expect(req).toEqual({
      method: 'POST',
      url: 'https://run.googleapis.com/v2/projects/my-proj-1/locations/europe-west1/jobs/backtest-shard:run',
      body: { overrides: { containerOverrides: [{ env: [{ name: 'BACKTEST_RUN_ID', value: 'r1' }, { name: 'BACKTEST_MANIFEST_HASH', value: 'h' }] }], taskCount: 40, timeout: '5400s' } },
    });
    const base = { project: 'my-proj-1', region: 'europe-west1', job: 'backtest-shard', env: {} };
    expect(() => runJobRequest({ ...base, taskCount: 10_001 })).toThrow("1..10000 (Cloud Run Jobs' limit)");
    expect(() => runJobRequest({ ...base, taskCount: 1, timeoutSeconds: 168 * 3600 + 1 })).toThrow('(168 h)');
    expect(() => runJobRequest({ ...base, job: 'Bad_Name', taskCount: 1 })).toThrow('is not a Cloud Run job name');
    expect(() => runJobRequest({ ...base, region: 'europe west', taskCount: 1 })).toThrow('is not a Cloud Run region');
  });

  it('sends it: POST with a JSON body, answers the Operation and the execution; an API error is a clear message', async () => {
    const req = runJobRequest({ project: 'my-proj-1', region: 'us-central1', job: 'bt', taskCount: 3, env: { A: '1' }, endpoint });
    const r = await runJob(req, { headers: new Headers({ authorization: 'Bearer test' }) });
    expect(r).toEqual({ operation: 'projects/my-proj-1/locations/us-central1/operations/op-1', execution: 'projects/my-proj-1/locations/us-central1/jobs/bt/executions/bt-x1' });
    const got = fake.requests.at(-1)!;
    expect([got.method, got.path, got.headers['content-type'], got.headers.authorization]).toEqual(['POST', '/v2/projects/my-proj-1/locations/us-central1/jobs/bt:run', 'application/json', 'Bearer test']);
    expect(got.body).toEqual({ overrides: { containerOverrides: [{ env: [{ name: 'A', value: '1' }] }], taskCount: 3 } });
    fake.fail = { code: 403, status: 'PERMISSION_DENIED', message: "Permission 'run.jobs.runWithOverrides' denied" };
    await expect(runJob(req, { headers: new Headers() })).rejects.toThrow("Cloud Run jobs.run failed: HTTP 403 PERMISSION_DENIED: Permission 'run.jobs.runWithOverrides' denied");
    fake.fail = null;
  });
});

describe('a sharded run on Cloud Run Jobs + BigQuery (local fakes)', () => {
  const cloudRun = new FakeCloudRun();
  let bq: FakeBigQueryServer;
  let runEndpoint = '';
  let bqEndpoint = '';
  const out: string[] = [];
  beforeAll(async () => {
    runEndpoint = await cloudRun.start();
    bq = new FakeBigQueryServer({ onQuery: evaluate });
    bqEndpoint = await bq.start();
  });
  afterAll(async () => {
    await cloudRun.stop();
    await bq.stop();
  });
  afterEach(() => vi.restoreAllMocks());
  const capture = () => vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));

  const args = ['--strategy', 'levels_exhaustion', '--set', 'macro.enabled=false', '--dim', `${LE}.exhaustion.rsi.period=6,14`, '--dim', `${LE}.exits.mode=fixed,atr`, '--shards', '3',
    '--from', new Date(FROM).toISOString(), '--to', new Date(TO).toISOString(), '--warmup-hours', String(WARMUP_H), '--run-id', RUN_ID,
    '--project', PROJECT, '--region', 'europe-west1', '--job', 'backtest-shard', '--task-timeout', '2h'];

  it('--dry-run prints the exact request and writes nothing', async () => {
    out.length = 0;
    capture();
    await launch([...args, '--dry-run']);
    const text = out.join('');
    expect(text).toContain(`run ${RUN_ID}: 4 trials on 3 task(s) (at most 2 each, strided), ranked by totalPnl`);
    expect(text).toContain(`POST https://run.googleapis.com/v2/projects/${PROJECT}/locations/europe-west1/jobs/backtest-shard:run\n`);
    const body = JSON.parse(text.slice(text.indexOf('\n{') + 1)) as { overrides: { containerOverrides: Array<{ env: Array<{ name: string; value: string }> }>; taskCount: number; timeout: string } };
    expect(body.overrides.taskCount).toBe(3);
    expect(body.overrides.timeout).toBe('7200s');
    expect(body.overrides.containerOverrides[0]!.env.map((e) => e.name)).toEqual(['BACKTEST_RUN_ID', 'BACKTEST_MANIFEST_HASH', 'GOOGLE_CLOUD_PROJECT', 'BIGQUERY_DATASET', 'BIGQUERY_LOCATION']);
    expect(bq.requests).toEqual([]);
  });

  it('refuses a cloud range that is not in the past (tasks and retries would read candles still arriving)', () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'scripts', 'backtest.ts'), 'launch', '--grid', '--shards', '2', '--from', new Date(FROM).toISOString(), '--to', future, '--project', PROJECT, '--region', 'r', '--job', 'j', '--dry-run'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not in the past');
  });

  it('launch writes the manifest and runs the job; the tasks read BigQuery and stream their trials; collect = the one-process grid, to the bit', async () => {
    // The candles in BigQuery's ohlcv (what download-data / import would have put there).
    const wh = new BigQueryWarehouse({ projectId: PROJECT, apiEndpoint: bqEndpoint, anonymous: true, clientOptions: { retryOptions: { autoRetry: false } } });
    await wh.ensureSchema();
    for (const s of series) await wh.insert('ohlcv', Array.from({ length: s.length }, (_, i) => candleToRow(candleAt(s, i), FROM)));

    out.length = 0;
    capture();
    await launch([...args, '--endpoint', runEndpoint, '--bigquery-endpoint', bqEndpoint]);
    vi.restoreAllMocks();
    expect(out.join('')).toContain('launched: operation projects/cst-test-project/locations/europe-west1/operations/op-1, execution');
    const manifestRows = bq.table('cryptotracker', 'backtest_manifests')!.rows;
    expect(manifestRows).toHaveLength(1);
    expect(bq.table('cryptotracker', 'backtest_manifests')!.insertIds).toEqual(new Set([RUN_ID]));
    const manifest = parseManifest(String(manifestRows[0]!.manifest));
    const sent = cloudRun.requests.at(-1)!.body as { overrides: { containerOverrides: Array<{ env: Array<{ name: string; value: string }> }>; taskCount: number } };
    const env = Object.fromEntries(sent.overrides.containerOverrides[0]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ BACKTEST_RUN_ID: RUN_ID, BACKTEST_MANIFEST_HASH: manifestHash(manifest), GOOGLE_CLOUD_PROJECT: PROJECT });
    expect(manifest.data).toMatchObject({ historyFrom: FROM - WARMUP_H * HOUR, from: FROM, to: TO });

    // "Cloud Run": every task of the execution, with the env it sets, the job's env and the overrides.
    const taskEnv = (index: number, attempt: number) => ({ ...env, BIGQUERY_API_ENDPOINT: bqEndpoint, CLOUD_RUN_TASK_INDEX: String(index), CLOUD_RUN_TASK_COUNT: String(sent.overrides.taskCount), CLOUD_RUN_TASK_ATTEMPT: String(attempt), LOG_LEVEL: 'ERROR' });
    for (let k = 0; k < sent.overrides.taskCount; k++) expect(await shardJob(taskEnv(k, 0))).toBe(0);
    const trials = bq.table('cryptotracker', 'backtest_trials')!;
    expect([...trials.insertIds].sort()).toEqual([0, 1, 2, 3].map((i) => `${RUN_ID}|${i}`));
    // A retried task (attempt 1) finds its trials stored and writes nothing; a wrong manifest hash is refused (exit 1).
    const before = bq.requests.filter((r) => r.path.endsWith('/insertAll')).length;
    expect(await shardJob(taskEnv(1, 1))).toBe(0);
    expect(bq.requests.filter((r) => r.path.endsWith('/insertAll')).length).toBe(before);
    expect(await shardJob({ ...taskEnv(0, 0), BACKTEST_MANIFEST_HASH: 'e'.repeat(64) })).toBe(1);
    expect(trials.rows).toHaveLength(4);

    const { merged } = await collectRun(wh, RUN_ID);
    const one = await runGrid({
      series,
      from: FROM,
      to: TO,
      config: { system: DEFAULT_SYSTEM_CONFIG, strategies: applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'levels_exhaustion'), { 'macro.enabled': false }) },
      dims: [valueDimension(`${LE}.exhaustion.rsi.period`, [`${LE}.exhaustion.rsi.period`], [6, 14]), valueDimension(`${LE}.exits.mode`, [`${LE}.exits.mode`], ['fixed', 'atr'])],
      objective: 'totalPnl',
      workers: 0,
    });
    expect(merged).toMatchObject({ complete: true, missing: [], duplicates: 0 });
    expect(merged.rows.map((r) => [r.rank, r.index, r.labels, exactJson(r.metrics)])).toEqual(one.rows.map((r) => [r.rank, r.index, r.labels, exactJson(r.metrics)]));
  }, 60_000);
});
