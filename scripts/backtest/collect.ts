/**
 * `npm run backtest -- collect RUN_ID`: a sharded run's trials read back from the warehouse (BigQuery,
 * or the local DuckDB file), merged (duplicates of retried attempts dropped), checked for completeness
 * against the manifest and ranked exactly as the grid ranks; the missing trial indices are named.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail } from '../cli.js';
import { formatGrid } from '../../shared/backtest/report.js';
import { formatIndexRanges } from '../../shared/backtest/shards.js';
import { DEFAULT_MIN_TRADES } from '../../shared/backtest/metrics.js';
import type { RunWarehouse } from '../../infra/backtest/shard-store.js';

export const HELP = `Usage: npm run backtest -- collect RUN_ID [options]

Reads the run's manifest and trials, checks that every trial index is there exactly once (retried
attempts' duplicates are dropped), prints the ranked table like the grid and, if trials are missing,
their indices (exit code 1: re-run the job, or launch again with the same --run-id: stored trials
are skipped).

  --project P           read BigQuery (dataset --dataset, default cryptotracker; --location, default US)
  --bigquery-endpoint URL  a local BigQuery-compatible server (sends no credentials)
  --results FILE        or a local DuckDB warehouse (default .data/live/warehouse.duckdb, the one
                        \`launch --local\` writes; CST_DATA_DIR is honoured)
  --top N               rows shown (default 10)
  --json                the merged result as JSON
  -h, --help            this help
`;

/** Prints the collected run; returns whether it is complete. */
export async function printCollected(wh: RunWarehouse, runId: string, top: number, json: boolean, wallMs = 0, tasks = 0): Promise<boolean> {
  const { collectRun } = await import('../../infra/backtest/shard-store.js');
  let r;
  try {
    r = await collectRun(wh, runId);
  } catch (e) {
    fail((e as Error).message);
  }
  const { manifest, merged } = r;
  if (json) {
    process.stdout.write(JSON.stringify({ runId, objective: manifest.objective, trialCount: merged.trialCount, complete: merged.complete, missing: merged.missing, duplicates: merged.duplicates, conflicts: merged.conflicts, rows: merged.rows.map((x) => ({ rank: x.rank, index: x.index, labels: x.labels, overrides: x.overrides, score: x.score, metrics: x.metrics })) }, null, 2) + '\n');
  } else {
    const lines = [`Sharded run ${runId}: ${merged.rows.length} of ${merged.trialCount} trials stored${merged.duplicates ? ` (${merged.duplicates} duplicate row(s) of retried attempts dropped)` : ''}`];
    if (merged.rows.length > 0) lines.push(formatGrid({ rows: merged.rows, objective: manifest.objective, minTrades: manifest.minTrades ?? DEFAULT_MIN_TRADES, runs: merged.rows.length, workers: tasks, wallMs, from: manifest.data.from, to: manifest.data.to }, top));
    if (merged.conflicts.length > 0) lines.push(`WARNING: duplicate rows disagree on metrics for trial(s) ${formatIndexRanges(merged.conflicts)} (the first stored is used)`);
    lines.push(merged.complete ? `complete: every trial 0..${merged.trialCount - 1} is stored exactly once` : `INCOMPLETE: ${merged.missing.length} trial(s) missing: ${formatIndexRanges(merged.missing)}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  return merged.complete;
}

export async function main(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        project: { type: 'string' },
        dataset: { type: 'string' },
        location: { type: 'string' },
        'bigquery-endpoint': { type: 'string' },
        results: { type: 'string' },
        top: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const [runId, ...extra] = parsed.positionals;
  if (!runId || extra.length > 0) fail('collect takes exactly one RUN_ID');
  const top = v.top === undefined ? 10 : Number(v.top);
  if (!Number.isInteger(top) || top < 1) fail('--top must be a whole number >= 1');
  if (v.project !== undefined && v.results !== undefined) fail('give --project (BigQuery) or --results (DuckDB), not both');
  let wh: RunWarehouse & { close(): Promise<void> };
  if (v.project !== undefined) {
    const { BigQueryWarehouse } = await import('../../infra/warehouse/bigquery.js');
    const endpoint = v['bigquery-endpoint'];
    wh = new BigQueryWarehouse({ projectId: v.project, ...(v.dataset ? { dataset: v.dataset } : {}), ...(v.location ? { location: v.location } : {}), ...(endpoint ? { apiEndpoint: endpoint, anonymous: /^http:\/\/(127\.0\.0\.1|localhost)/.test(endpoint) } : {}) });
  } else {
    const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
    wh = new DuckDbWarehouse({ file: v.results ? resolve(v.results) : join(resolve(process.env.CST_DATA_DIR ?? '.data'), 'live', 'warehouse.duckdb') });
  }
  try {
    if (!(await printCollected(wh, runId, top, v.json))) process.exitCode = 1;
  } finally {
    await wh.close();
  }
}
