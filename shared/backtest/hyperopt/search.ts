/**
 * Hyperopt: a budget of trials drawn by a sampler (random or TPE, sampler.ts) over a search space
 * (space.ts), each trial one backtest on the grid's worker pool (grid.ts ComboPool), ranked like a
 * grid (runs meeting `minTrades` first, then the objective).
 *
 * Trials run in rounds of B (`batch`, default DEFAULT_TPE_BATCH, whatever the worker count): the
 * sampler proposes B trials from every finished one, the pool runs them on its workers, and the
 * results are told back in trial order. The random sampler's whole list is known up front
 * (`randomTrials`), so it runs as one batch (dynamic balancing, like the grid). A run is deterministic
 * for a seed and a batch size, on any machine (TPE's rounds depend on B, not on the cores).
 *
 * A trial the config schemas refuse (e.g. oversold >= overbought drawn together) is recorded with
 * its reason and ranked last (never run); a trial that repeats an earlier configuration reuses its
 * result (recorded as `duplicateOf`), so integer / choice spaces do not waste runs.
 */
import { availableParallelism } from 'node:os';

/** TPE trials proposed per round (independent of the worker count, so a seed reproduces on any machine). */
export const DEFAULT_TPE_BATCH = 2;
import type { CandleSeries } from '../../strategies/series.js';
import { applyOverrides } from '../config.js';
import { ComboPool, rankRows, type GridCombo, type GridRow } from '../grid.js';
import { createMarket } from '../market.js';
import { compareRuns, computeMetrics, DEFAULT_MIN_TRADES, type BacktestMetrics, type Objective } from '../metrics.js';
import type { BacktestConfig, IndicatorMode } from '../run.js';
import { createSampler, randomTrials, type Observation, type SamplerName } from './sampler.js';
import { comboOf, type SearchSpace } from './space.js';

export interface HyperoptInput {
  series: readonly CandleSeries[];
  from?: number;
  to?: number;
  config: BacktestConfig;
  space: SearchSpace;
  trials: number;
  sampler: SamplerName;
  seed: number;
  objective: Objective;
  minTrades?: number;
  indicators?: IndicatorMode;
  /** Worker processes (0 = this process). Default: min(cores, trials). */
  workers?: number;
  /** TPE proposals per round (default DEFAULT_TPE_BATCH); part of what makes a seed reproducible. */
  batch?: number;
  /** TPE: random trials first (default min(10, trials)). */
  nStartup?: number;
  /** After every finished trial: done / total and the best so far. */
  onTrial?: (done: number, total: number, best: Trial | null) => void;
}

export interface Trial extends GridRow {
  /** Round of the sampler it was proposed in (0-based). */
  round: number;
  /** The config schemas refused this combination (never run). */
  invalid?: string;
  /** Same configuration as this earlier trial: its result reused. */
  duplicateOf?: number;
}

export interface HyperoptResult {
  /** Ranked, best first. */
  trials: Trial[];
  sampler: SamplerName;
  seed: number;
  objective: Objective;
  minTrades: number;
  runs: number;
  workers: number;
  /** TPE proposals per round that were used (random: the whole list). */
  batch: number;
  wallMs: number;
  from: number;
  to: number;
}

/** Metrics of a trial that did not run (no trades, flat equity). */
function emptyMetrics(config: BacktestConfig, from: number): BacktestMetrics {
  return computeMetrics({ trades: [], startingEquity: config.strategies.risk.startingEquityUsd, equityTime: [], equity: [], start: from, marketChangeBySymbol: {} });
}

export async function runHyperopt(x: HyperoptInput): Promise<HyperoptResult> {
  const t0 = performance.now();
  if (!(Number.isInteger(x.trials) && x.trials >= 1)) throw new Error('hyperopt: trials must be a whole number >= 1');
  const minTrades = x.minTrades ?? DEFAULT_MIN_TRADES;
  const indicators = x.indicators ?? 'full';
  const workers = Math.max(0, Math.min(x.workers ?? availableParallelism(), x.trials));
  const tpeBatch = Math.max(1, Math.floor(x.batch ?? DEFAULT_TPE_BATCH));
  const pool = await ComboPool.start({ series: x.series, market: () => createMarket({ series: x.series, ...(x.from !== undefined ? { from: x.from } : {}), ...(x.to !== undefined ? { to: x.to } : {}) }), config: x.config, indicators, workers });
  const market = pool.market;
  const rows: Trial[] = [];
  const history: Observation[] = [];
  const seen = new Map<string, number>();
  let runs = 0;
  let best: Trial | null = null;
  const record = (t: Trial) => {
    const r = rankRows([t], x.objective, minTrades)[0] as Trial;
    const ranked = r.invalid !== undefined ? { ...r, score: Number.NEGATIVE_INFINITY, eligible: false } : r;
    rows.push(ranked);
    history.push({ values: x.space.map((p) => t.overrides[p.paths[0] as string] ?? null), score: ranked.score, eligible: ranked.eligible, index: t.index });
    if (!best || compareRuns(ranked, best, minTrades) < 0) best = ranked;
    x.onTrial?.(rows.length, x.trials, best);
  };
  try {
    const sampler = createSampler(x.sampler, x.space, { seed: x.seed, nStartup: x.nStartup ?? Math.min(10, x.trials) });
    const batch = x.sampler === 'random' ? x.trials : tpeBatch;
    const all = x.sampler === 'random' ? randomTrials(x.space, x.trials, x.seed) : null;
    for (let round = 0; rows.length < x.trials; round++) {
      const n = Math.min(batch, x.trials - rows.length);
      const combos: GridCombo[] = all ? all.slice(rows.length, rows.length + n) : sampler.ask(history, n).map((v, j) => comboOf(x.space, rows.length + j, v));
      const toRun: GridCombo[] = [];
      const pending: Array<{ combo: GridCombo; invalid?: string; duplicateOf?: number }> = [];
      for (const c of combos) {
        const key = JSON.stringify(c.overrides);
        const dup = seen.get(key);
        if (dup !== undefined) {
          pending.push({ combo: c, duplicateOf: dup });
          continue;
        }
        try {
          applyOverrides(x.config.strategies, c.overrides);
        } catch (e) {
          pending.push({ combo: c, invalid: (e as Error).message });
          seen.set(key, c.index);
          continue;
        }
        seen.set(key, c.index);
        toRun.push(c);
        pending.push({ combo: c });
      }
      const results = new Map<number, { metrics: BacktestMetrics; wallMs: number; cpuMs?: number }>();
      const done = await pool.run(toRun);
      runs += done.length;
      for (const r of done) results.set(r.index, { metrics: r.metrics, wallMs: r.wallMs, ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}) });
      for (const p of pending) {
        const c = p.combo;
        if (p.invalid !== undefined) record({ ...c, metrics: emptyMetrics(x.config, market.from), wallMs: 0, rank: 0, score: Number.NEGATIVE_INFINITY, eligible: false, round, invalid: p.invalid });
        else if (p.duplicateOf !== undefined) {
          const prev = rows.find((r) => r.index === p.duplicateOf) ?? null;
          const m = prev ? prev.metrics : (results.get(p.duplicateOf) as { metrics: BacktestMetrics }).metrics;
          record({ ...c, metrics: m, wallMs: 0, rank: 0, score: 0, eligible: false, round, duplicateOf: p.duplicateOf, ...(prev?.invalid !== undefined ? { invalid: prev.invalid } : {}) });
        } else {
          const r = results.get(c.index) as { metrics: BacktestMetrics; wallMs: number; cpuMs?: number };
          record({ ...c, metrics: r.metrics, wallMs: r.wallMs, ...(r.cpuMs !== undefined ? { cpuMs: r.cpuMs } : {}), rank: 0, score: 0, eligible: false, round });
        }
      }
    }
  } finally {
    pool.close();
  }
  // Invalid trials rank last whatever their (empty) metrics say.
  const ranked = rankRows(rows, x.objective, minTrades).map((r) => (r.invalid !== undefined ? { ...r, score: Number.NEGATIVE_INFINITY, eligible: false } : r));
  ranked.sort((a, b) => Number(a.invalid !== undefined) - Number(b.invalid !== undefined) || a.rank - b.rank);
  ranked.forEach((r, k) => (r.rank = k + 1));
  return { trials: ranked, sampler: x.sampler, seed: x.seed, objective: x.objective, minTrades, runs, workers, batch: x.sampler === 'random' ? x.trials : tpeBatch, wallMs: performance.now() - t0, from: market.from, to: market.to };
}

/** Trials in the order they were run (index ascending): the search's history. */
export function trialsByIndex(r: HyperoptResult): Trial[] {
  return [...r.trials].sort((a, b) => a.index - b.index);
}
