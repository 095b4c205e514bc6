/**
 * Optimisation speed on the kit's month of REAL Bybit 1m candles (BTC, ETH, SOL; ../shared/data):
 * - hyperopt_grid: the SPEC's 72-run grid (both scalp strategies as configured) on worker
 *   processes (one per core), wall time against the goal (10 s on 2 cores). Baseline measured in the
 *   same run: one backtest of the live configuration in this process (warm), so
 *   `ratio_vs_single` = grid wall / one run (ideal: 72 / workers). `busy_s` sums the runs' own
 *   times; `busy_per_worker_s` = busy / workers is the wall an idle machine needs for the runs, and
 *   `overhead_s` = wall - that (worker start, candles to the workers, market preparation, and on a
 *   shared machine the time other processes took the cores). `cpu_s` sums the runs' CPU time
 *   (user + system, measured in the workers): on a machine shared with other work, `cpu_per_worker_s`
 *   (+ the worker start) is the wall an idle machine of this size needs.
 * - hyperopt_tpe: trials per second of the TPE search (V5.2 emitting; RSI period, volume-spike
 *   ratio, exit mode), against the random search of the same budget in the same run
 *   (`ratio_vs_random`: ~1 means the model and the rounds of one trial per worker cost nothing).
 * One JSON line each.
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../shared/backtest/config.js';
import { createMarket } from '../shared/backtest/market.js';
import { runBacktest } from '../shared/backtest/run.js';
import { defaultGrid, runGrid } from '../shared/backtest/grid.js';
import { parseParam } from '../shared/backtest/hyperopt/space.js';
import { runHyperopt } from '../shared/backtest/hyperopt/search.js';
import { seriesFromCsv, type CandleSeries } from '../shared/strategies/series.js';
import { DATA_DIR } from './backtest.js';

export const GRID_GOAL_S = 10;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

function load(): CandleSeries[] {
  return SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export async function runHyperoptBench(opts: { print?: boolean; trials?: number; workers?: number } = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const emit = (x: Record<string, unknown>) => {
    out.push(x);
    if (opts.print) process.stdout.write(JSON.stringify(x) + '\n');
  };
  const series = load();
  const workers = opts.workers ?? availableParallelism();
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS };

  // Baseline: one warm backtest in this process.
  const market = createMarket({ series });
  runBacktest(market, config, { record: { decisions: false, signals: false } });
  let t = performance.now();
  const single = runBacktest(market, config, { record: { decisions: false, signals: false } });
  const singleS = (performance.now() - t) / 1000;

  t = performance.now();
  const g = await runGrid({ series, config, dims: defaultGrid('all'), objective: 'totalPnl', workers });
  const wall = (performance.now() - t) / 1000;
  const busy = g.rows.reduce((a, r) => a + r.wallMs, 0) / 1000;
  const perWorker = busy / Math.max(1, g.workers);
  const cpu = g.rows.reduce((a, r) => a + (r.cpuMs ?? 0), 0) / 1000;
  emit({
    bench: 'hyperopt_grid',
    runs: g.runs,
    workers: g.workers,
    candles_per_run: single.steps,
    wall_s: round(wall),
    goal_s: GRID_GOAL_S,
    within_goal: wall <= GRID_GOAL_S,
    busy_s: round(busy),
    busy_per_worker_s: round(perWorker),
    cpu_s: round(cpu),
    cpu_per_worker_s: round(cpu / Math.max(1, g.workers)),
    overhead_s: round(wall - perWorker),
    single_run_s: round(singleS),
    ratio_vs_single: round(wall / singleS, 2),
    ideal_ratio: round(g.runs / Math.max(1, g.workers), 2),
  });

  const base = applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'v52_divergence'), {});
  const space = [
    parseParam('scalp.v52_divergence.divergence.rsiPeriod', 'int:6:20'),
    parseParam('scalp.v52_divergence.volumeSpike.minRatio', 'float:1.2:4'),
    parseParam('scalp.v52_divergence.exits.mode', 'choice:fixed,atr'),
  ];
  const trials = opts.trials ?? 24;
  const rate: Record<string, { s: number; runs: number }> = {};
  for (const sampler of ['random', 'tpe'] as const) {
    t = performance.now();
    const h = await runHyperopt({ series, config: { ...config, strategies: base }, space, trials, sampler, seed: 1, objective: 'totalPnl', workers, nStartup: 8 });
    rate[sampler] = { s: (performance.now() - t) / 1000, runs: h.runs };
  }
  const tpe = rate.tpe as { s: number; runs: number };
  const rnd = rate.random as { s: number; runs: number };
  emit({
    bench: 'hyperopt_tpe',
    trials,
    workers,
    tpe_s: round(tpe.s),
    tpe_backtests: tpe.runs,
    tpe_trials_per_s: round(trials / tpe.s),
    random_s: round(rnd.s),
    random_backtests: rnd.runs,
    random_trials_per_s: round(trials / rnd.s),
    ratio_vs_random: round(trials / tpe.s / (trials / rnd.s)),
  });
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runHyperoptBench({ print: true });
}
