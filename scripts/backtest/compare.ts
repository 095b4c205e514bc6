/**
 * `npm run backtest -- compare A B`: two stored runs side by side: every headline metric with its
 * delta (B - A), and per pair / per strategy / per exit reason the trades, win % and P&L with deltas.
 */
import { parseArgs } from 'node:util';
import { fail } from '../cli.js';
import type { Breakdown, BreakdownRow } from '../../shared/backtest/analysis.js';
import { table } from '../../shared/backtest/report.js';
import { readStoredRun, storedAnalysis, storedMetrics, UnknownRunError, type StoredRun } from '../../shared/backtest/stored-runs.js';
import { fmt } from '../../shared/backtest/text-table.js';
import type { BacktestMetrics } from '../../shared/backtest/metrics.js';
import { openStateForRead, stateFileOf } from './stored.js';

export const HELP = `Usage: npm run backtest -- compare ID_A ID_B [options]

Compares two stored backtest runs (state documents backtests/ID, written by --store): the metrics side
by side with the change B - A, then per pair, per strategy and per exit reason (trades, win %, P&L
and their changes). List the stored ids with npm run backtest -- show.

Options:
  --state FILE   the SQLite state file (default .data/live/state.sqlite; CST_DATA_DIR is honoured)
  --json         print the comparison as JSON
  -h, --help     this help
`;

/** Metric rows: label, value, decimals. Win rate in %. */
const METRICS: Array<[string, (m: BacktestMetrics) => number | null | undefined, number]> = [
  ['trades', (m) => m.trades, 0],
  ['win %', (m) => (m.winRate === null ? null : m.winRate * 100), 1],
  ['P&L USD', (m) => m.totalPnl, 2],
  ['P&L %', (m) => m.totalPnlPct, 2],
  ['fees USD', (m) => m.fees, 2],
  ['max DD %', (m) => m.maxDrawdownPct, 2],
  ['profit factor', (m) => m.profitFactor, 2],
  ['expectancy USD', (m) => m.expectancy, 2],
  ['Sharpe', (m) => m.sharpe, 2],
  ['Sortino', (m) => m.sortino, 2],
  ['avg duration min', (m) => m.avgDurationMin, 1],
  ['market %', (m) => m.marketChangePct, 2],
];

const delta = (a: number | null | undefined, b: number | null | undefined) => (typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? b - a : null);
const signed = (x: number | null, d: number) => (x === null ? '-' : `${x > 0 ? '+' : ''}${x.toFixed(d)}`);

export interface Comparison {
  a: string;
  b: string;
  metrics: Array<{ metric: string; a: number | null; b: number | null; delta: number | null }>;
  breakdowns: Array<{ name: string; rows: Array<{ key: string; a: BreakdownRow | null; b: BreakdownRow | null; pnlDelta: number | null; winRateDelta: number | null }> }>;
}

export function compareRuns(a: StoredRun, b: StoredRun): Comparison {
  const ma = storedMetrics(a);
  const mb = storedMetrics(b);
  const metrics = METRICS.map(([metric, f]) => {
    const x = f(ma) ?? null;
    const y = f(mb) ?? null;
    return { metric, a: x, b: y, delta: delta(x, y) };
  });
  const aa = storedAnalysis(a)?.analysis;
  const ab = storedAnalysis(b)?.analysis;
  const breakdowns: Comparison['breakdowns'] = [];
  for (const name of ['pair', 'strategy', 'exitReason']) {
    const ga = aa?.groups.find((g) => g.name === name);
    const gb = ab?.groups.find((g) => g.name === name);
    if (!ga && !gb) continue;
    const keys = [...new Set([...(ga?.rows ?? []).map((r) => r.key), ...(gb?.rows ?? []).map((r) => r.key)])].sort();
    const row = (g: Breakdown | undefined, k: string) => g?.rows.find((r) => r.key === k) ?? null;
    breakdowns.push({
      name,
      rows: keys.map((key) => {
        const x = row(ga, key);
        const y = row(gb, key);
        return { key, a: x, b: y, pnlDelta: delta(x?.pnl ?? (ga ? 0 : null), y?.pnl ?? (gb ? 0 : null)), winRateDelta: delta(x?.winRate === undefined || x?.winRate === null ? null : x.winRate * 100, y?.winRate === undefined || y?.winRate === null ? null : y.winRate * 100) };
      }),
    });
  }
  return { a: a.id, b: b.id, metrics, breakdowns };
}

export function formatComparison(c: Comparison): string {
  const out = [`A = ${c.a}\nB = ${c.b}`];
  out.push(table(['metric', 'A', 'B', 'B - A'], c.metrics.map((m, k) => {
    const d = (METRICS[k] as [string, unknown, number])[2];
    return [m.metric, fmt(m.a, d), fmt(m.b, d), signed(m.delta, d)];
  })));
  for (const b of c.breakdowns) {
    out.push(`per ${b.name === 'exitReason' ? 'exit reason' : b.name}\n${table(
      [b.name, 'trades A', 'trades B', 'win % A', 'win % B', 'win pp B - A', 'P&L A', 'P&L B', 'P&L B - A'],
      b.rows.map((r) => [
        r.key,
        r.a ? String(r.a.trades) : '0',
        r.b ? String(r.b.trades) : '0',
        r.a?.winRate == null ? '-' : fmt(r.a.winRate * 100, 1),
        r.b?.winRate == null ? '-' : fmt(r.b.winRate * 100, 1),
        signed(r.winRateDelta, 1),
        fmt(r.a?.pnl ?? 0),
        fmt(r.b?.pnl ?? 0),
        signed(r.pnlDelta, 2),
      ]),
    )}`);
  }
  if (c.breakdowns.length === 0) out.push('no breakdowns: neither run was stored with its trades');
  return out.join('\n\n');
}

function readArgs(args: string[]) {
  try {
    return parseArgs({ args, options: { state: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true });
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
  if (positionals.length !== 2) fail(`compare needs two stored run ids (got ${positionals.length}); list them with npm run backtest -- show`);
  const state = await openStateForRead(stateFileOf(v.state));
  try {
    const runs: StoredRun[] = [];
    for (const id of positionals) {
      try {
        runs.push(await readStoredRun(state, id));
      } catch (e) {
        if (e instanceof UnknownRunError) fail(e.message);
        throw e;
      }
    }
    const c = compareRuns(runs[0] as StoredRun, runs[1] as StoredRun);
    process.stdout.write((v.json ? JSON.stringify(c, null, 2) : formatComparison(c)) + '\n');
  } finally {
    await state.close();
  }
}
