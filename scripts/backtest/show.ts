/**
 * `npm run backtest -- show [id]`: a stored run (state document backtests/{id}, written by --store):
 * its summary and breakdowns; without an id, the stored runs, newest first.
 */
import { parseArgs } from 'node:util';
import { fail } from '../cli.js';
import { formatAnalysis } from '../../shared/backtest/analysis.js';
import { METRIC_HEADERS, metricCells, table } from '../../shared/backtest/report.js';
import { listStoredRuns, readStoredRun, storedAnalysis, storedMetrics, UnknownRunError, type StoredRun, type StoredRunHeader } from '../../shared/backtest/stored-runs.js';
import { fmt } from '../../shared/backtest/text-table.js';
import { openStateForRead, stateFileOf } from './stored.js';

export const HELP = `Usage: npm run backtest -- show [ID] [options]

Shows a stored backtest run (state document backtests/ID, written by npm run backtest -- --store):
its parameters, metrics, notes and breakdowns (per pair, per strategy, per exit reason; --analysis:
every breakdown and the entry-feature buckets). Without ID: the stored runs, newest first.

Options:
  --state FILE   the SQLite state file (default .data/live/state.sqlite; CST_DATA_DIR is honoured)
  --analysis     every breakdown (hour, weekday, daily / weekly / monthly, direction, entry features)
  --limit N      runs listed without ID (default 20)
  --json         print the stored document (with its breakdowns) as JSON
  -h, --help     this help
`;

const iso = (t: number | null | undefined) => (typeof t === 'number' ? new Date(t).toISOString().slice(0, 16).replace('T', ' ') : '-');

export function formatRunList(runs: readonly StoredRunHeader[]): string {
  if (runs.length === 0) return 'no stored backtest runs (store one with npm run backtest -- ... --store)';
  return table(
    ['id', 'stored (UTC)', 'symbols', 'range (UTC)', 'strategy', 'trades', 'P&L USD', 'PF'],
    runs.map((r) => [r.id, iso(r.createdAt), r.symbols.join(','), `${iso(r.from)} .. ${iso(r.to)}`, r.strategy ?? '-', r.trades === null ? '-' : String(r.trades), fmt(r.totalPnl), fmt(r.profitFactor)]),
  );
}

/** One stored run as text: header, metrics, notes, breakdowns. */
export function formatStoredRun(r: StoredRun, mode: 'compact' | 'full'): string {
  const p = r.params ?? {};
  const out: string[] = [];
  const set = p.set && Object.keys(p.set).length > 0 ? `; set ${Object.entries(p.set).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}` : '';
  out.push(`Stored run ${r.id} (stored ${iso(r.createdAt)} UTC): ${(p.symbols ?? r.run.symbols ?? []).join(', ')}, ${iso(p.from ?? r.run.from)} -> ${iso(p.to ?? r.run.to)} UTC, strategy ${p.strategy ?? '-'}${set}`);
  out.push('');
  out.push(table(['run', ...METRIC_HEADERS], [['result', ...metricCells(storedMetrics(r))]]));
  for (const n of r.run.notes ?? []) out.push(`note: ${n}`);
  const a = storedAnalysis(r);
  out.push('');
  if (!a) out.push('breakdowns: this run was stored without its trades (an older document): metrics only');
  else {
    if (a.recomputed) out.push('breakdowns recomputed from the stored trades (stored before the analysis existed: no entry-feature buckets)');
    out.push(formatAnalysis(a.analysis, mode));
  }
  return out.join('\n');
}

function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        state: { type: 'string' },
        analysis: { type: 'boolean', default: false },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (e) {
    fail((e as Error).message);
  }
}

export async function main(args: string[]): Promise<void> {
  const { values: v, positionals } = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  if (positionals.length > 1) fail(`show takes one run id (got ${positionals.length}); to compare two runs: npm run backtest -- compare ID_A ID_B`);
  const limit = v.limit === undefined ? 20 : Number(v.limit);
  if (!(Number.isInteger(limit) && limit > 0)) fail('--limit must be a whole number > 0');
  const state = await openStateForRead(stateFileOf(v.state));
  try {
    const id = positionals[0];
    if (id === undefined) {
      const runs = await listStoredRuns(state, limit);
      process.stdout.write((v.json ? JSON.stringify(runs, null, 2) : formatRunList(runs)) + '\n');
      return;
    }
    let r: StoredRun;
    try {
      r = await readStoredRun(state, id);
    } catch (e) {
      if (e instanceof UnknownRunError) fail(e.message);
      throw e;
    }
    if (v.json) process.stdout.write(JSON.stringify({ ...r, analysis: storedAnalysis(r)?.analysis ?? null }, null, 2) + '\n');
    else process.stdout.write(formatStoredRun(r, v.analysis ? 'full' : 'compact') + '\n');
  } finally {
    await state.close();
  }
}
