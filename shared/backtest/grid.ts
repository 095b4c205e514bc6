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
import { compareRuns, DEFAULT_MIN_TRADES, objectiveScore, type BacktestMetrics, type Objective } from './metrics.js';
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
  /** CPU time of the run (user + system, the process that ran it): its cost whatever else the machine does. */
  cpuMs?: number;
  rank: number;
  score: number;
  /** metrics.trades >= the run's minTrades (a row that is not is never ranked above one that is). */
  eligible: boolean;
}

export interface GridInput {
  series: readonly CandleSeries[];
  from?: number;
  to?: number;
  /** Base configs (the selection already applied); each combination's overrides go on top. */
  config: BacktestConfig;
  dims: readonly GridDimension[];
  objective: Objective;
  /** Runs with fewer closed trades rank below every run that has them (default DEFAULT_MIN_TRADES). */
  minTrades?: number;
  indicators?: IndicatorMode;
  /** Worker threads; 0 = run in this thread. Default: min(cores, runs). */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface GridResult {
  rows: GridRow[];
  objective: Objective;
  /** The run's --min-trades (runGrid always sets it). */
  minTrades?: number;
  runs: number;
  workers: number;
  wallMs: number;
  from: number;
  to: number;
}

type UnrankedRow = Omit<GridRow, 'rank' | 'score' | 'eligible'> & Partial<Pick<GridRow, 'rank' | 'score' | 'eligible'>>;

/**
 * Ranks rows: every row with at least `minTrades` closed trades first, then by the objective (ties:
 * more trades, then lower index). Returns new rows with `rank`, `score` and `eligible` set.
 */
export function rankRows<R extends UnrankedRow>(rows: readonly R[], objective: Objective, minTrades: number = DEFAULT_MIN_TRADES): Array<R & GridRow> {
  const scored = rows.map((r) => ({ ...r, score: objectiveScore(r.metrics, objective), rank: 0, eligible: r.metrics.trades >= minTrades }));
  scored.sort((a, b) => compareRuns(a, b, minTrades) || b.metrics.trades - a.metrics.trades || a.index - b.index);
  scored.forEach((r, k) => (r.rank = k + 1));
  return scored;
}

/** One combination on a prepared market (what a worker does per job). */
export function runCombo(m: BacktestMarket, base: BacktestConfig, combo: GridCombo, indicators: IndicatorMode): { metrics: BacktestMetrics; wallMs: number; cpuMs: number } {
  const cpu0 = process.cpuUsage();
  const strategies: StrategyConfigs = applyOverrides(base.strategies, combo.overrides);
  const r = runBacktest(m, { ...base, strategies }, { indicators, record: { decisions: false, signals: false, events: false } });
  const cpu = process.cpuUsage(cpu0);
  return { metrics: r.metrics, wallMs: r.wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function runGrid(input: GridInput): Promise<GridResult> {
  const t0 = performance.now();
  const combos = expandGrid(input.dims);
  // Validate every combination up front: a bad key fails before any work starts.
  for (const c of combos) applyOverrides(input.config.strategies, c.overrides);
  const indicators = input.indicators ?? 'full';
  const wanted = input.workers ?? Math.min(availableParallelism(), combos.length);
  const workers = Math.max(0, Math.min(wanted, combos.length));
  const pool = await ComboPool.start({ series: input.series, market: () => createMarket({ series: input.series, ...(input.from !== undefined ? { from: input.from } : {}), ...(input.to !== undefined ? { to: input.to } : {}) }), config: input.config, indicators, workers });
  const market = pool.market;
  let rows: UnrankedRow[];
  try {
    rows = await pool.run(combos, input.onProgress);
  } finally {
    pool.close();
  }
  const minTrades = input.minTrades ?? DEFAULT_MIN_TRADES;
  return { rows: rankRows(rows, input.objective, minTrades), objective: input.objective, minTrades, runs: combos.length, workers, wallMs: performance.now() - t0, from: market.from, to: market.to };
}

// ---------- worker pool ----------

export interface PoolInput {
  series: readonly CandleSeries[];
  /**
   * The market of the range (its from / to go to the workers, which build their own); a function is
   * called after the worker processes are forked, so their start overlaps its preparation.
   */
  market: BacktestMarket | (() => BacktestMarket);
  config: BacktestConfig;
  indicators: IndicatorMode;
  /** Worker processes; 0 = run in this process on `market`. */
  workers: number;
}

/**
 * Worker processes that stay up across several batches of combinations (the grid sends one batch,
 * hyperopt one batch per round): each gets the candles once and prepares its market once. `run`
 * hands the combinations out one at a time (dynamic balancing) and resolves with one row per
 * combination in the order given (not completion order), so results never depend on timing.
 */
export class ComboPool {
  private constructor(
    private readonly input: PoolInput,
    private readonly procs: ChildProcess[],
  ) {}

  static async start(input: PoolInput): Promise<ComboPool> {
    const procs: ChildProcess[] = [];
    for (let k = 0; k < input.workers; k++) procs.push(spawnGridWorker());
    let market: BacktestMarket;
    try {
      market = typeof input.market === 'function' ? input.market() : input.market;
      if (procs.length > 0) {
        const init: WorkerInit = { series: input.series.map(packSeries), from: market.from, to: market.to, config: input.config, indicators: input.indicators };
        await Promise.all(procs.map((w) => initWorker(w, init)));
      }
    } catch (e) {
      for (const w of procs) w.kill();
      throw e;
    }
    return new ComboPool({ ...input, market }, procs);
  }

  /** The market of the pool's range. */
  get market(): BacktestMarket {
    return this.input.market as BacktestMarket;
  }

  get workers(): number {
    return this.procs.length;
  }

  async run(combos: readonly GridCombo[], onProgress?: (done: number, total: number) => void): Promise<Array<GridCombo & { metrics: BacktestMetrics; wallMs: number; cpuMs?: number }>> {
    const out: Array<GridCombo & { metrics: BacktestMetrics; wallMs: number; cpuMs?: number }> = new Array(combos.length);
    let done = 0;
    if (this.procs.length === 0) {
      combos.forEach((c, k) => {
        out[k] = { ...c, ...runCombo(this.market, this.input.config, c, this.input.indicators) };
        onProgress?.(++done, combos.length);
      });
      return out;
    }
    let next = 0;
    await Promise.all(
      this.procs.map(async (w) => {
        while (next < combos.length) {
          const k = next++;
          const c = combos[k] as GridCombo;
          const r = await runOnWorker(w, c);
          out[k] = { ...c, metrics: r.metrics, wallMs: r.wallMs, ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}) };
          onProgress?.(++done, combos.length);
        }
      }),
    );
    return out;
  }

  close(): void {
    for (const w of this.procs) {
      if (w.connected) w.send({ type: 'stop' } satisfies WorkerRequest);
    }
  }
}

function initWorker(w: ChildProcess, init: WorkerInit): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMsg = (msg: WorkerReply) => {
      cleanup();
      if (msg.type === 'ready') resolve();
      else reject(new Error(`grid worker: ${msg.type === 'error' ? msg.message : 'unexpected reply to init'}`));
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`grid worker exited with code ${code} during init`));
    };
    const cleanup = () => {
      w.off('message', onMsg);
      w.off('exit', onExit);
    };
    w.on('message', onMsg);
    w.on('exit', onExit);
    w.on('error', reject);
    w.send({ type: 'init', init } satisfies WorkerRequest);
  });
}

function runOnWorker(w: ChildProcess, combo: GridCombo): Promise<{ metrics: BacktestMetrics; wallMs: number; cpuMs?: number }> {
  return new Promise((resolve, reject) => {
    const onMsg = (msg: WorkerReply) => {
      cleanup();
      if (msg.type === 'result') resolve({ metrics: msg.metrics, wallMs: msg.wallMs, ...(msg.cpuMs !== undefined ? { cpuMs: msg.cpuMs } : {}) });
      else {
        w.kill();
        reject(new Error(`grid worker: ${msg.type === 'error' ? msg.message : 'unexpected reply'}`));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`grid worker exited with code ${code} before finishing`));
    };
    const cleanup = () => {
      w.off('message', onMsg);
      w.off('exit', onExit);
    };
    w.on('message', onMsg);
    w.on('exit', onExit);
    w.send({ type: 'run', combo } satisfies WorkerRequest);
  });
}

export interface WorkerInit {
  series: PackedSeries[];
  from: number;
  to: number;
  config: BacktestConfig;
  indicators: IndicatorMode;
}

export type WorkerRequest = { type: 'init'; init: WorkerInit } | { type: 'run'; combo: GridCombo } | { type: 'stop' };
export type WorkerReply = { type: 'ready' } | { type: 'result'; combo: GridCombo; metrics: BacktestMetrics; wallMs: number; cpuMs?: number } | { type: 'error'; message: string };

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
  // A larger young generation: a backtest allocates many short-lived objects (states, events), and
  // with the default semi-space many of them are copied by a scavenge (~9 % less CPU per run at 64 MB).
  return fork(file, [], { execArgv: [...execArgv, '--max-semi-space-size=64'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
