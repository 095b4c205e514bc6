/** Console text of hyperopt runs and Monte Carlo distributions (pure; the HTML report is ../report.ts). */
import { table } from '../report.js';
import type { BacktestMetrics } from '../metrics.js';
import type { HyperoptResult, Trial } from './search.js';
import type { McScenario, MonteCarloResult } from './monte-carlo.js';
import { describeParam, type SearchSpace } from './space.js';

function fmt(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

export const TRIAL_HEADERS = ['trades', 'P&L USD', 'P&L %', 'max DD %', 'PF', 'Sharpe', 'Sortino', 'Calmar', 'SQN', 'combined'] as const;

export function trialCells(m: BacktestMetrics): string[] {
  return [
    String(m.trades),
    fmt(m.totalPnl),
    fmt(m.totalPnlPct),
    fmt(m.maxDrawdownPct),
    m.profitFactor === null ? (m.trades > 0 && m.grossLoss === 0 ? 'inf' : '-') : fmt(m.profitFactor),
    fmt(m.sharpe),
    fmt(m.sortino),
    fmt(m.calmar),
    fmt(m.sqn),
    fmt(m.combined, 3),
  ];
}

/** One line for the progress bar: the best trial so far. */
export function bestSoFar(t: Trial | null, objective: string): string {
  if (!t) return '';
  return `best #${t.index} ${objective} ${fmt(t.score === Number.MAX_VALUE ? Number.POSITIVE_INFINITY : t.score, 3)} (${t.metrics.trades} trades${t.eligible ? '' : ', below --min-trades'})`;
}

export function formatHyperopt(r: HyperoptResult, space: SearchSpace, top = 10): string {
  const names = space.map((p) => p.name);
  const short = names.map((n) => n.split(',')[0]?.split('.').slice(-2).join('.') ?? n);
  const shown = r.trials.slice(0, top);
  const rows = shown.map((t) => [String(t.rank), String(t.index), ...names.map((n) => t.labels[n] ?? ''), ...trialCells(t.metrics), t.eligible ? '' : t.invalid !== undefined ? 'refused' : '< min'].map(String));
  const invalid = r.trials.filter((t) => t.invalid !== undefined).length;
  const dup = r.trials.filter((t) => t.duplicateOf !== undefined).length;
  const eligible = r.trials.filter((t) => t.eligible).length;
  return [
    `Hyperopt: ${r.trials.length} trials (${r.sampler}, seed ${r.seed}), ${r.runs} backtests on ${r.workers || 1} ${r.workers ? 'worker process(es)' : 'process (inline)'}, ${(r.wallMs / 1000).toFixed(1)} s, ranked by ${r.objective}; ${eligible} with >= ${r.minTrades} trades${invalid ? `, ${invalid} refused by the config` : ''}${dup ? `, ${dup} repeats (result reused)` : ''}`,
    `Space: ${space.map(describeParam).join('; ')}`,
    table(['#', 'trial', ...short, ...TRIAL_HEADERS, 'note'], rows),
  ].join('\n');
}

function dist(s: McScenario, what: 'maxDrawdownPct' | 'returnPct'): string[] {
  const d = s[what];
  return [fmt(d.p5), fmt(d.p25), fmt(d.p50), fmt(d.p75), fmt(d.p95)];
}

export function formatMonteCarlo(mc: MonteCarloResult): string {
  const rows = [
    ['actual order', 'max DD %', fmt(mc.actual.maxDrawdownPct), '', '', '', '', ''],
    ['actual order', 'return %', fmt(mc.actual.returnPct), '', '', '', '', ''],
    ['shuffled order', 'max DD %', '', ...dist(mc.shuffle, 'maxDrawdownPct')],
    ['shuffled order', 'return %', '', ...dist(mc.shuffle, 'returnPct')],
    [`skip ${(mc.skip.p ?? 0) * 100} % of trades`, 'max DD %', '', ...dist(mc.skip, 'maxDrawdownPct')],
    [`skip ${(mc.skip.p ?? 0) * 100} % of trades`, 'return %', '', ...dist(mc.skip, 'returnPct')],
  ];
  return [
    `Monte Carlo: ${mc.simulations} simulations (seed ${mc.seed}) of ${mc.trades} closed trades, realised equity from ${mc.startingEquity} USD; P(loss) shuffled ${fmt(mc.shuffle.lossProbability * 100, 1)} %, skipped ${fmt(mc.skip.lossProbability * 100, 1)} %`,
    table(['scenario', 'figure', 'actual', 'p5', 'p25', 'p50', 'p75', 'p95'], rows),
  ].join('\n');
}

export interface WalkForwardHyperoptRow {
  trainFrom: number;
  trainTo: number;
  testFrom: number;
  testTo: number;
  labels: Record<string, string>;
  eligible: boolean;
  train: BacktestMetrics;
  test: BacktestMetrics;
}

export function formatWalkForwardHyperopt(rows: readonly WalkForwardHyperoptRow[], outOfSample: BacktestMetrics, trialsPerWindow: number, sampler: string): string {
  const r = rows.map((w, k) => [String(k + 1), `${iso(w.trainFrom)} .. ${iso(w.trainTo)}`, `${iso(w.testFrom)} .. ${iso(w.testTo)}`, Object.values(w.labels).join(' | ') + (w.eligible ? '' : ' (< min trades)'), fmt(w.train.totalPnl), ...trialCells(w.test)]);
  return [
    `Walk-forward with hyperopt: ${rows.length} windows, ${trialsPerWindow} ${sampler} trials on each train window, the best (meeting --min-trades) tested on the next window`,
    table(['#', 'train', 'test', 'chosen', 'train P&L', ...TRIAL_HEADERS], r),
    table(['out of sample', ...TRIAL_HEADERS], [['all tests', ...trialCells(outOfSample)]]),
  ].join('\n');
}
