/**
 * Grid optimisation (SPEC 7): every combination of the dimensions' options is one backtest of the
 * same data; results are ranked by an objective. Runs in parallel on worker processes (default: one
 * per core, at most the number of runs; see `spawnGridWorker` for why processes and not threads):
 * the candle columns go to each worker ONCE (one IPC message), each worker prepares its market
 * (levels, volatility, shared indicator caches) once and runs the combinations the pool hands it,
 * one at a time (dynamic balancing).
 *
 * A dimension is a list of options; an option sets one or more config key paths (so one dimension
 * can move linked keys, e.g. the RSI overbought/oversold pair, or several strategies at once).
 *
 * The SPEC grid mapped onto the real config keys (`defaultGrid`), per strategy:
 * | SPEC dimension        | levels_exhaustion                                | v52_divergence                         |
 * |-----------------------|--------------------------------------------------|----------------------------------------|
 * | EMA {10,15,20,30}     | exhaustion.lowVolume.emaPeriod (EMA of volume)   | volumeSpike.emaPeriod (EMA of volume)  |
 * | RSI period {6,10,14}  | exhaustion.rsi.period                            | divergence.rsiPeriod                   |
 * | thresholds 80/20...   | exhaustion.rsi.overbought / oversold             | divergence.overbought / oversold       |
 * | exits fixed / ATR     | exits.mode + exits.fixed 0.5/0.3 or exits.atr 1.5/1.0 x ATR(exits.atr.period) |
 * The only EMA either scalp strategy computes is the EMA of volume (low-volume check, volume spike):
 * neither has a price EMA, so that is the EMA the SPEC's grid tunes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StrategyConfigs } from '../config/strategy.js';
import { SCALP_STRATEGIES } from '../config/strategy.js';
import type { CandleSeries } from '../strategies/series.js';
import { applyOverrides, type ConfigValue, type Overrides, type StrategySelection } from './config.js';
import { runBacktest, type BacktestConfig, type IndicatorMode } from './run.js';
import { createMarket, type BacktestMarket } from './market.js';
import { objectiveScore, type BacktestMetrics, type Objective } from './metrics.js';
import { packSeries, type PackedSeries } from './packed-series.js';

export interface GridOption {
  label: string;
  set: Overrides;
}

export interface GridDimension {
  name: string;
  options: GridOption[];
}

/** A dimension that sets every path in `paths` to each value in turn. */
export function valueDimension(name: string, paths: readonly string[], values: readonly ConfigValue[]): GridDimension {
  if (values.length === 0) throw new Error(`grid dimension ${name}: no values`);
  return { name, options: values.map((v) => ({ label: String(v), set: Object.fromEntries(paths.map((p) => [p, v])) })) };
}

/** The SPEC's default values. */
export const DEFAULT_GRID_VALUES = {
  ema: [10, 15, 20, 30],
  rsiPeriod: [6, 10, 14],
  rsiThresholds: [
    [80, 20],
    [75, 25],
    [70, 30],
  ],
  exits: {
    fixed: { takeProfitPct: 0.5, stopLossPct: 0.3 },
    atr: { takeProfitMultiple: 1.5, stopLossMultiple: 1.0 },
  },
} as const;

/** The SPEC grid (4 x 3 x 3 x 2 = 72 runs) on the strategies of a selection (see the table above). */
export function defaultGrid(sel: StrategySelection): GridDimension[] {
  const ids = sel === 'all' ? [...SCALP_STRATEGIES] : [sel];
  const paths = (le: string, v5: string) => ids.map((id) => `scalp.${id}.${id === 'levels_exhaustion' ? le : v5}`);
  const v = DEFAULT_GRID_VALUES;
  const thresholds: GridDimension = {
    name: 'rsiThresholds',
    options: v.rsiThresholds.map(([ob, os]) => ({
      label: `${ob}/${os}`,
      set: Object.fromEntries([
        ...paths('exhaustion.rsi.overbought', 'divergence.overbought').map((p) => [p, ob]),
        ...paths('exhaustion.rsi.oversold', 'divergence.oversold').map((p) => [p, os]),
      ]),
    })),
  };
  const exits: GridDimension = {
    name: 'exits',
    options: [
      {
        label: `fixed ${v.exits.fixed.takeProfitPct}/${v.exits.fixed.stopLossPct}`,
        set: Object.fromEntries(
          ids.flatMap((id) => [
            [`scalp.${id}.exits.mode`, 'fixed'],
            [`scalp.${id}.exits.fixed.takeProfitPct`, v.exits.fixed.takeProfitPct],
            [`scalp.${id}.exits.fixed.stopLossPct`, v.exits.fixed.stopLossPct],
          ]),
        ),
      },
      {
        label: `ATR ${v.exits.atr.takeProfitMultiple}/${v.exits.atr.stopLossMultiple}`,
        set: Object.fromEntries(
          ids.flatMap((id) => [
            [`scalp.${id}.exits.mode`, 'atr'],
            [`scalp.${id}.exits.atr.takeProfitMultiple`, v.exits.atr.takeProfitMultiple],
            [`scalp.${id}.exits.atr.stopLossMultiple`, v.exits.atr.stopLossMultiple],
          ]),
        ),
      },
    ],
  };
  return [
    valueDimension('ema', paths('exhaustion.lowVolume.emaPeriod', 'volumeSpike.emaPeriod'), v.ema),
    valueDimension('rsiPeriod', paths('exhaustion.rsi.period', 'divergence.rsiPeriod'), v.rsiPeriod),
    thresholds,
    exits,
  ];
}

export interface GridCombo {
  index: number;
  labels: Record<string, string>;
  overrides: Overrides;
}

/** Every combination, the first dimension varying slowest. */
export function expandGrid(dims: readonly GridDimension[]): GridCombo[] {
  let combos: GridCombo[] = [{ index: 0, labels: {}, overrides: {} }];
  for (const d of dims) {
    if (d.options.length === 0) throw new Error(`grid dimension ${d.name}: no options`);
    const next: GridCombo[] = [];
    for (const c of combos) for (const o of d.options) next.push({ index: 0, labels: { ...c.labels, [d.name]: o.label }, overrides: { ...c.overrides, ...o.set } });
    combos = next;
  }
  combos.forEach((c, k) => (c.index = k));
  return combos;
}

export interface GridRow extends GridCombo {
  metrics: BacktestMetrics;
  wallMs: number;
  rank: number;
  score: number;
}

export interface GridInput {
  series: readonly CandleSeries[];
  from?: number;
  to?: number;
  /** Base configs (the selection already applied); each combination's overrides go on top. */
  config: BacktestConfig;
  dims: readonly GridDimension[];
  objective: Objective;
  indicators?: IndicatorMode;
  /** Worker threads; 0 = run in this thread. Default: min(cores, runs). */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface GridResult {
  rows: GridRow[];
  objective: Objective;
  runs: number;
  workers: number;
  wallMs: number;
  from: number;
  to: number;
}

/** Ranks rows by the objective (ties: more trades, then lower index). Mutates `rank` / `score`. */
export function rankRows(rows: Array<Omit<GridRow, 'rank' | 'score'> & Partial<Pick<GridRow, 'rank' | 'score'>>>, objective: Objective): GridRow[] {
  const scored = rows.map((r) => ({ ...r, score: objectiveScore(r.metrics, objective), rank: 0 }));
  scored.sort((a, b) => b.score - a.score || b.metrics.trades - a.metrics.trades || a.index - b.index);
  scored.forEach((r, k) => (r.rank = k + 1));
  return scored;
}

/** One combination on a prepared market (what a worker does per job). */
export function runCombo(m: BacktestMarket, base: BacktestConfig, combo: GridCombo, indicators: IndicatorMode): { metrics: BacktestMetrics; wallMs: number } {
  const strategies: StrategyConfigs = applyOverrides(base.strategies, combo.overrides);
  const r = runBacktest(m, { ...base, strategies }, { indicators, record: { decisions: false, signals: false, events: false } });
  return { metrics: r.metrics, wallMs: r.wallMs };
}

export async function runGrid(input: GridInput): Promise<GridResult> {
  const t0 = performance.now();
  const combos = expandGrid(input.dims);
  // Validate every combination up front: a bad key fails before any work starts.
  for (const c of combos) applyOverrides(input.config.strategies, c.overrides);
  const indicators = input.indicators ?? 'full';
  const wanted = input.workers ?? Math.min(availableParallelism(), combos.length);
  const workers = Math.max(0, Math.min(wanted, combos.length));
  const rows: Array<Omit<GridRow, 'rank' | 'score'>> = [];
  let done = 0;
  const market = createMarket({ series: input.series, ...(input.from !== undefined ? { from: input.from } : {}), ...(input.to !== undefined ? { to: input.to } : {}) });
  if (workers === 0) {
    for (const c of combos) {
      rows.push({ ...c, ...runCombo(market, input.config, c, indicators) });
      input.onProgress?.(++done, combos.length);
    }
  } else {
    const packed = input.series.map(packSeries);
    const queue = [...combos];
    await Promise.all(
      Array.from({ length: workers }, () =>
        runWorker({ series: packed, from: market.from, to: market.to, config: input.config, indicators }, queue, (row) => {
          rows.push(row);
          input.onProgress?.(++done, combos.length);
        }),
      ),
    );
  }
  return { rows: rankRows(rows, input.objective), objective: input.objective, runs: combos.length, workers, wallMs: performance.now() - t0, from: market.from, to: market.to };
}

// ---------- worker pool ----------

export interface WorkerInit {
  series: PackedSeries[];
  from: number;
  to: number;
  config: BacktestConfig;
  indicators: IndicatorMode;
}

export type WorkerRequest = { type: 'init'; init: WorkerInit } | { type: 'run'; combo: GridCombo } | { type: 'stop' };
export type WorkerReply = { type: 'ready' } | { type: 'result'; combo: GridCombo; metrics: BacktestMetrics; wallMs: number } | { type: 'error'; message: string };

/**
 * Spawns a grid worker PROCESS (grid-worker.ts; TypeScript sources run through tsx's loader, as the
 * scripts are). Processes, not worker_threads: tulind (the production indicators) is a native addon
 * that is not context-aware, so once the main thread has loaded it no worker thread can
 * ("Module did not self-register"), and the main thread needs it for single runs.
 */
export function spawnGridWorker(): ChildProcess {
  const self = import.meta.url;
  const ts = self.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './grid-worker.ts' : './grid-worker.js', self));
  const execArgv = ts ? ['--import', pathToFileURL(createRequire(self).resolve('tsx')).href] : [];
  return fork(file, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function runWorker(init: WorkerInit, queue: GridCombo[], onRow: (row: Omit<GridRow, 'rank' | 'score'>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = spawnGridWorker();
    let finished = false;
    const send = (m: WorkerRequest) => w.send(m);
    const next = () => {
      const c = queue.shift();
      if (c) send({ type: 'run', combo: c });
      else {
        finished = true;
        send({ type: 'stop' });
      }
    };
    w.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready') next();
      else if (msg.type === 'result') {
        onRow({ ...msg.combo, metrics: msg.metrics, wallMs: msg.wallMs });
        next();
      } else {
        finished = true;
        w.kill();
        reject(new Error(`grid worker: ${msg.message}`));
      }
    });
    w.on('error', (e) => {
      finished = true;
      reject(e);
    });
    w.on('exit', (code) => {
      if (finished) resolve();
      else reject(new Error(`grid worker exited with code ${code} before finishing`));
    });
    send({ type: 'init', init });
  });
}
