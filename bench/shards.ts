/**
 * Per-shard cost of a sharded optimisation run (README: Scale-out), on the kit's month of REAL Bybit
 * 1m candles (BTC, ETH, SOL, ../shared/data/bybit_linear): ONE shard task (`runShard`, the code a
 * Cloud Run Jobs task runs) in this process, task 0 of 12 of the SPEC grid (6 of the 72 trials,
 * strided: every dimension's values represented), with an in-memory trial store and the candles
 * already in memory (the BigQuery read is not measured: no BigQuery here). Figures: the task's market
 * preparation, wall and CPU time per trial, and per trial per symbol-month (what the plan scales).
 * Baseline, same run: the same 6 trials through `runGrid` in one process (workers: 0); the ratio is
 * the shard path's overhead (1 = none).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { defaultGrid, expandGrid, runGrid, type GridCombo } from '../shared/backtest/grid.js';
import { runShard, type TrialStore } from '../shared/backtest/shard-runner.js';
import { createManifest, exactJson, shardTrials, type StoredTrial } from '../shared/backtest/shards.js';
import { seriesFromCsv } from '../shared/strategies/series.js';
import { DATA_DIR } from './backtest.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const TASKS = 12;
const MONTH_MS = 30.4375 * 24 * 3_600_000;

export async function runShardsBench(opts: { print?: boolean } = {}) {
  const series = SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
  const from = Math.max(...series.map((s) => s.openTime[0] as number));
  const to = Math.min(...series.map((s) => s.openTime[s.length - 1] as number));
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS };
  const dims = defaultGrid('all');
  const m = createManifest({ runId: 'bench', createdAt: 0, objective: 'totalPnl', indicators: 'full', config, data: { symbols: SYMBOLS, venue: 'bybit', interval: '1m', historyFrom: from, from, to, source: 'kit' }, trials: { kind: 'grid', dims } });
  const writes: StoredTrial[] = [];
  const store: TrialStore = { storedIndices: async () => new Set(writes.map((w) => w.index)), write: async (t) => void writes.push(t) };
  const cpu0 = process.cpuUsage();
  const s = await runShard({ manifest: m, task: { index: 0, count: TASKS, attempt: 0 }, candles: { load: async () => series }, store });
  const cpu = process.cpuUsage(cpu0);
  const rss = process.memoryUsage().rss;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const mine = shardTrials(expandGrid(dims), 0, TASKS);
  // Baseline: the same trials, one process, runGrid's own path.
  const b0 = performance.now();
  const g = await runGrid({ series, from, to, config, dims: [{ name: 'trial', options: mine.map((c) => ({ label: String(c.index), set: c.overrides })) }], objective: 'totalPnl', workers: 0 });
  const baseMs = performance.now() - b0;
  const symbolMonths = (SYMBOLS.length * (to - from)) / MONTH_MS;
  const out = {
    bench: 'shard_task',
    trials: s.ran,
    symbols: SYMBOLS.length,
    months: +((to - from) / MONTH_MS).toFixed(3),
    candles: series.reduce((n, x) => n + x.length, 0),
    market_prep_ms: Math.round(s.loadMs),
    task_wall_ms: Math.round(s.wallMs),
    task_cpu_ms: Math.round(cpuMs),
    wall_ms_per_trial: Math.round(s.trialsWallMs / s.ran),
    cpu_ms_per_trial_incl_prep: Math.round(cpuMs / s.ran),
    wall_ms_per_trial_per_symbol_month: Math.round(s.trialsWallMs / s.ran / symbolMonths),
    cpu_ms_per_trial_per_symbol_month: Math.round(cpuMs / s.ran / symbolMonths),
    baseline_one_process_ms: Math.round(baseMs),
    ratio_vs_one_process: +(s.wallMs / baseMs).toFixed(3),
    rss_mb: Math.round(rss / 2 ** 20),
    same_metrics_as_one_process: g.rows.every((r) => exactJson(r.metrics) === exactJson(writes.find((w) => w.index === (mine[r.index] as GridCombo).index)?.metrics)),
  };
  if (opts.print) console.log(JSON.stringify(out));
  return out;
}
