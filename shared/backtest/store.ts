/**
 * Persisting backtest results and offering the best parameters to the owner, over the StateStore port.
 *
 * - `backtests/{id}`: the result document (parameters, metrics, grid ranking, walk-forward / stress
 *   summaries, trades and a decimated equity curve), written with `create` (an id is written once:
 *   the id is derived from the run's parameters and start time, so a retried write is a no-op).
 *   The warehouse table `backtest_runs` gets one row per run (`backtestRunRow`), for history queries.
 * - `backtests/{id}/trials/{index}`: every trial of an optimisation run (hyperopt), one document
 *   each (`storeTrials`), and one warehouse `backtest_trials` row each (shards.ts `trialRow`, the
 *   one builder of that table's rows; columns in shared/warehouse-schema.ts).
 * - `suggestions/{id}`: a PENDING config change (every changed key with its config document, field,
 *   before and after, and the metrics of both) for the owner to approve. Nothing here, nor anywhere
 *   in the backtester, applies it. Numeric changes are also listed as `ml_suggestions/{id}-{n}`
 *   (the schema the Telegram bot's /suggestions lists and approves, shared/telegram/trade-commands.ts),
 *   so the owner sees them in Telegram.
 */
import { createHash } from 'node:crypto';
import type { StrategyConfigs } from '../config/strategy.js';
import type { DocData, StateStore } from '../ports/state.js';
import { documentOf, getPath, type ConfigValue, type Overrides } from './config.js';
import type { BacktestMetrics } from './metrics.js';
import type { Row } from '../ports/warehouse.js';
import { backtestPath, backtestTrialPath, backtestTrialsCollection, configNameOf, mlSuggestionPath, suggestionPath } from '../state-paths.js';

/** Deterministic id: time of the run + a hash of its parameters. */
export function backtestId(createdAt: number, params: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 10);
  return `bt_${new Date(createdAt).toISOString().replace(/[-:]/g, '').slice(0, 15)}_${h}`;
}

/** JSON-safe copy: non-finite numbers become null (state documents hold plain JSON). */
export function jsonSafe<T>(x: T): T {
  return JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T;
}

export async function storeBacktest(state: StateStore, id: string, doc: Record<string, unknown>): Promise<{ path: string; created: boolean }> {
  const path = backtestPath(id);
  const created = await state.create(path, jsonSafe({ ...doc, id }) as unknown as DocData);
  return { path, created };
}

/** The warehouse `backtest_runs` row of a run (headline metrics as columns, the rest as JSON). */
export function backtestRunRow(
  id: string,
  createdAt: number,
  params: { symbols: string[]; from: number; to: number; objective?: string },
  metrics: BacktestMetrics,
  doc: Record<string, unknown>,
): Row {
  const num = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);
  return {
    run_id: id,
    ts: createdAt,
    symbols: params.symbols.join(','),
    from_time: params.from,
    to_time: params.to,
    objective: params.objective ?? null,
    trades: metrics.trades,
    total_pnl: num(metrics.totalPnl),
    win_rate: num(metrics.winRate),
    max_drawdown_pct: num(metrics.maxDrawdownPct),
    profit_factor: num(metrics.profitFactor),
    sharpe: num(metrics.sharpe),
    params: JSON.stringify(jsonSafe(params)),
    result: JSON.stringify(jsonSafe(doc)),
  };
}

export interface ConfigChange {
  key: string;
  document: string;
  field: string;
  before: ConfigValue;
  after: ConfigValue;
}

/** The keys of `overrides` whose value differs from `current`. */
export function configChanges(current: StrategyConfigs, overrides: Overrides): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const [key, after] of Object.entries(overrides)) {
    const before = getPath(current, key) as ConfigValue;
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    out.push({ key, ...documentOf(key), before, after });
  }
  return out;
}

export interface Proposal {
  id: string;
  backtestId: string;
  createdAt: number;
  objective: string;
  changes: ConfigChange[];
  baseline: BacktestMetrics | null;
  proposed: BacktestMetrics;
  summary: string;
}

/** Writes the pending suggestion (and its numeric items for the bot); never touches `config/*`. */
export async function proposeConfigChange(state: StateStore, p: Proposal): Promise<{ path: string; botItems: string[] }> {
  const path = suggestionPath(p.id);
  await state.create(path, jsonSafe({ ...p, kind: 'backtest_config_change', status: 'pending', appliedAutomatically: false }) as unknown as DocData);
  const botItems: string[] = [];
  let n = 0;
  for (const c of p.changes) {
    n++;
    if (typeof c.before !== 'number' || typeof c.after !== 'number') continue;
    const itemId = `${p.id}-${n}`;
    await state.create(mlSuggestionPath(itemId), {
      id: itemId,
      strategy: configNameOf(c.document) ?? c.document,
      parameter: c.key,
      current: c.before,
      suggested: c.after,
      status: 'pending',
      createdAt: p.createdAt,
      summary: `backtest ${p.backtestId} (${p.objective}): ${p.summary}`,
    });
    botItems.push(itemId);
  }
  return { path, botItems };
}

/** A trial as stored: its place in the run, parameters and result. */
export interface StoredTrialDoc {
  index: number;
  rank: number;
  labels: Record<string, string>;
  overrides: Overrides;
  metrics: BacktestMetrics;
  score: number;
  eligible: boolean;
  wallMs: number;
  /** Extra facts (round, window, refused reason, duplicate of). */
  [k: string]: unknown;
}

/** Writes every trial as `backtests/{id}/trials/{index}` (create: a retried store is a no-op). */
export async function storeTrials(state: StateStore, id: string, trials: readonly StoredTrialDoc[]): Promise<{ written: number; path: string }> {
  let written = 0;
  for (const t of trials) {
    if (await state.create(backtestTrialPath(id, t.index), jsonSafe({ ...t, runId: id }) as unknown as DocData)) written++;
  }
  return { written, path: backtestTrialsCollection(id) };
}
