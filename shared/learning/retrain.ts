/**
 * One retraining run (SPEC 8), per strategy: the completed trades linked to their scans (the
 * warehouse's `paper_trades` — paper and live — and the shadow runs' CHAMPION trades in
 * `shadow_trades`), labelled, one per scan (live over paper over shadow); when at least
 * `retrain.minNewTrades` of them are new since the last run (or the run is forced), a candidate is
 * trained (training.ts: time-ordered split, score on the most recent slice) and kept or kept out by
 * the replacement rules (decideReplacement); the run is stored in ONE state transaction
 * (model-store.ts saveRun) and as a `model_runs` warehouse row. Idempotent: the run id comes from the
 * caller (the scheduled run: its Los Angeles day), a retried run stores nothing twice.
 *
 * The same trainCandidate / decideReplacement run in the backtest's walk-forward learning
 * (shared/backtest/learning.ts), so a model's life in a backtest is the one it would have had live.
 */
import type { MlConfig } from '../config/strategy.js';
import type { Logger } from '../log.js';
import { strategyIdSchema, type StrategyId } from '../model/trading.js';
import type { StateStore } from '../ports/state.js';
import type { Row, Warehouse } from '../ports/warehouse.js';
import { dedupeBySignal, labelledFromPaperRows, type LabelledTrade, type RefusedRow } from './labels.js';
import { loadCursor, loadModel, saveRun } from './model-store.js';
import { decideReplacement, trainCandidate } from './training.js';
import { CHAMPION, CHAMPION_UNFILTERED } from '../shadow/variations.js';
import { modelRunSchema, type ModelRun, type ReplacementOutcome, type StoredModel } from './types.js';

/** Every strategy, in the order the runs and the reports list them. */
export const LEARNING_STRATEGIES: readonly StrategyId[] = strategyIdSchema.options;


export interface RetrainDeps {
  state: StateStore;
  warehouse: Pick<Warehouse, 'insert' | 'strategyRows'>;
  log: Logger;
}

export interface RetrainOptions {
  /** The run's id (the scheduled run: `retrain:{LA day}`); each strategy's run is `{runId}:{strategy}`. */
  runId: string;
  now: number;
  /** Default: every strategy. */
  strategies?: readonly StrategyId[];
  /** Train even with fewer than minNewTrades new trades (CLI --force). */
  force?: boolean;
  /** Train and decide, store nothing (CLI --dry-run). */
  dryRun?: boolean;
  onStrategy?: (strategy: StrategyId, index: number, total: number) => void;
}

export interface StrategyRun {
  run: ModelRun;
  /** The labelled trades the strategy has (after de-duplication) and the rows refused with their reasons. */
  labelled: number;
  refused: RefusedRow[];
  /** false: this run was already stored (a retry), nothing written. */
  stored: boolean;
}

/**
 * The shadow_trades rows the retraining learns from, as paper_trades-shaped lot rows (the labels
 * module reads one shape): the CHAMPION's and, in ML filter mode, its unfiltered pass
 * (CHAMPION_UNFILTERED, listed first so that one scan's unfiltered outcome is preferred: the model
 * learns from the setups its filter refused too). Each shadow run re-simulates its whole window, so
 * one trade appears in several runs: the newest run's copy is kept (run ids sort in time).
 */
export function championShadowLots(rows: readonly Row[]): Row[] {
  const latest = new Map<string, Row>();
  for (const variation of [CHAMPION_UNFILTERED, CHAMPION]) {
    for (const r of rows) {
      if (r.variation !== variation) continue;
      const g = `${variation}:${String(r.trade_group_id)}`;
      const cur = latest.get(g);
      if (!cur || String(r.run_id) > String(cur.run_id)) latest.set(g, r);
    }
  }
  return [...latest.values()].map((r) => ({
    trade_id: `shadow:${String(r.variation)}:${String(r.run_id)}:${String(r.trade_group_id)}`,
    trade_group_id: `shadow:${String(r.variation)}:${String(r.trade_group_id)}`,
    signal_id: r.signal_id ?? null,
    strategy: r.strategy ?? null,
    symbol: r.symbol ?? null,
    direction: r.direction ?? null,
    mode: 'shadow',
    entry_time: r.entry_time ?? null,
    exit_time: r.exit_time ?? null,
    entry_price: r.avg_entry ?? null,
    exit_price: r.exit_price ?? null,
    qty: r.qty ?? null,
    fees: r.fees ?? null,
    slippage: r.slippage ?? null,
    pnl: r.pnl ?? null,
    pnl_pct: r.pnl_pct ?? null,
    exit_reason: r.exit_reason ?? null,
    features: r.features ?? null,
  }));
}

/** The labelled trades of one strategy from the warehouse (validated; refused rows with their reasons). */
export async function labelledTradesOf(warehouse: RetrainDeps['warehouse'], strategy: StrategyId): Promise<{ trades: LabelledTrade[]; refused: RefusedRow[] }> {
  const [paperRows, shadowRows] = await Promise.all([warehouse.strategyRows('paper_trades', strategy), warehouse.strategyRows('shadow_trades', strategy)]);
  const paper = labelledFromPaperRows(paperRows);
  const shadow = labelledFromPaperRows(championShadowLots(shadowRows), 'shadow');
  return { trades: dedupeBySignal([...paper.trades, ...shadow.trades]), refused: [...paper.refused, ...shadow.refused] };
}

/** The `model_runs` warehouse row of a run. */
export function modelRunRow(r: ModelRun, extra: { window?: StoredModel['window']; topFeatures?: StoredModel['importances'] } = {}): Row {
  return {
    run_id: r.runId,
    ts: r.ts,
    strategy: r.strategy,
    model_version: r.modelVersion,
    score: r.metrics?.score ?? null,
    accuracy: r.metrics?.accuracy ?? null,
    precision: r.metrics?.precision ?? null,
    recall: r.metrics?.recall ?? null,
    replaced: r.replaced,
    details: JSON.stringify({ outcome: r.outcome, previous: r.previous, newTrades: r.newTrades, trainMs: r.trainMs, detail: r.detail, ...extra }),
  };
}

/** Whether the strategy's cursor already records this run (a retry after the state commit). */
async function runAlreadyStored(state: StateStore, strategy: StrategyId, runId: string): Promise<boolean> {
  const c = await loadCursor(state, strategy);
  return c.ok && c.value.lastRunId === runId;
}

async function retrainOne(deps: RetrainDeps, cfg: MlConfig, strategy: StrategyId, o: RetrainOptions): Promise<StrategyRun> {
  const runId = `${o.runId}:${strategy}`;
  const read = await labelledTradesOf(deps.warehouse, strategy);
  // as of `now`: only outcomes known then (a run --at a past time never learns from later trades)
  const trades = read.trades.filter((t) => t.exitTime <= o.now && t.decisionTs < o.now);
  const refused = read.refused;
  if (refused.length > 0) deps.log.warn('retrain: trade rows refused (not labelled)', { strategy, refused: refused.length, first: refused[0] });
  const cursorRead = await loadCursor(deps.state, strategy);
  if (!cursorRead.ok) throw new Error(cursorRead.error);
  const cursor = cursorRead.value;
  const currentRead = await loadModel(deps.state, strategy);
  const current = currentRead.ok ? currentRead.value : null;
  const previous = current ? { version: current.version, score: current.metrics.score } : null;
  const lastExit = trades.reduce<number | null>((m, t) => (m === null || t.exitTime > m ? t.exitTime : m), null);
  const newTrades = cursor.lastExitTime === null ? trades.length : trades.filter((t) => t.exitTime > (cursor.lastExitTime as number)).length;

  let candidate: StoredModel | null = null;
  let outcome: ReplacementOutcome;
  let replace = false;
  let detail: string;
  const t0 = performance.now();
  if (!currentRead.ok) deps.log.warn('retrain: the stored model cannot be read; a trained candidate replaces it (its score is unknown)', { strategy, error: currentRead.error });
  if (newTrades < cfg.retrain.minNewTrades && !o.force) {
    outcome = 'not_enough_trades';
    detail = `${newTrades} new completed trades since the last run (of ${trades.length}); needs ${cfg.retrain.minNewTrades} (config/ml retrain.minNewTrades)`;
  } else {
    const c = trainCandidate(trades, cfg, cursor.n + 1, o.now);
    if (!c.ok) {
      outcome = 'untrainable';
      detail = c.reason;
    } else {
      candidate = c.model;
      // An unreadable stored model predicts nothing (every scan's prediction fails closed): a trained
      // candidate replaces it, as a first model (its score, hence the protect rule, is unknown).
      const d = decideReplacement(current, c.model, cfg);
      outcome = d.outcome;
      replace = d.replace;
      detail = currentRead.ok ? d.detail : `${d.detail}; it replaces an unreadable stored model (${currentRead.error})`;
    }
  }
  const trainMs = performance.now() - t0;
  const run = modelRunSchema.parse({
    runId,
    ts: o.now,
    strategy,
    modelVersion: candidate?.version ?? current?.version ?? `${strategy}@none`,
    outcome,
    replaced: replace,
    ...(candidate ? { metrics: candidate.metrics } : {}),
    previous,
    newTrades,
    trainMs,
    detail,
  });
  if (o.dryRun) return { run, labelled: trades.length, refused, stored: false };
  // The model_runs row first (keyed by run_id): a crash after it and before the state commit retries
  // the same run (the cursor has not moved: the same trades, the same seeded model, the same row, a
  // no-op insert); a crash after the commit retries into 'already stored' and the row is there.
  if (!(await runAlreadyStored(deps.state, strategy, runId))) {
    await deps.warehouse.insert('model_runs', [modelRunRow(run, candidate ? { window: candidate.window, topFeatures: candidate.importances.slice(0, 5) } : {})]);
  }
  const saved = await saveRun(deps.state, { runId, strategy, now: o.now, candidate, outcome, replace, tradesSeen: candidate ? trades.length : cursor.tradesSeen, lastExitTime: candidate ? lastExit : cursor.lastExitTime, detail });
  const level = replace ? 'notice' : outcome === 'untrainable' || outcome === 'features_changed' ? 'warn' : 'info';
  deps.log[level]('retrain: strategy done', { strategy, runId, outcome, replaced: replace, version: run.modelVersion, score: run.metrics?.score ?? null, newTrades, labelled: trades.length, stored: saved.applied });
  return { run, labelled: trades.length, refused, stored: saved.applied };
}

/** Retrains every (or the given) strategy; one strategy's failure is logged and does not stop the others. */
export async function retrainStrategies(deps: RetrainDeps, cfg: MlConfig, o: RetrainOptions): Promise<{ runs: StrategyRun[]; failed: Array<{ strategy: StrategyId; error: string }> }> {
  const list = o.strategies ?? LEARNING_STRATEGIES;
  const runs: StrategyRun[] = [];
  const failed: Array<{ strategy: StrategyId; error: string }> = [];
  for (let i = 0; i < list.length; i++) {
    const s = list[i] as StrategyId;
    o.onStrategy?.(s, i, list.length);
    try {
      runs.push(await retrainOne(deps, cfg, s, o));
    } catch (e) {
      deps.log.error('retrain: strategy failed', { strategy: s, error: e as Error });
      failed.push({ strategy: s, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { runs, failed };
}
