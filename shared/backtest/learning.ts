/**
 * Walk-forward learning in a backtest (SPEC 8, issue 11): "in a backtest a model only ever sees trades
 * that closed before the decision (walk-forward retraining on the backtest's own clock)".
 *
 * `runWithLearning(market, config, options)` runs the production code twice over the same data:
 *
 * - pass 1, the strategies' UNFILTERED trades: the run with config/ml mode forced to `advisory` and
 *   no model (exactly the run with the ML filter off), each closed trade labelled WIN / LOSS / TIMEOUT
 *   with its scan's features (shared/learning/labels.ts `labelledFromClosedTrade`) and its exit time;
 * - the retraining instants: every 02:00 America/Los_Angeles inside the range (the production
 *   `retrain` job's schedule, RETRAIN_CRON / RETRAIN_TIME_ZONE, instants from shared/schedule/cron.ts).
 *   At each instant T, each strategy with at least `ml.retrain.minNewTrades` pass-1 trades CLOSED
 *   before T (exit time < T) that no earlier training saw trains a candidate with THE production
 *   `trainCandidate` (shared/learning/training.ts) on its trades closed before T, and
 *   `decideReplacement` keeps or replaces the model in force, as the daily job does (versions
 *   `{strategy}@{n}` counted per strategy). The timeline records every training: when, version,
 *   scores, outcome, and the latest exit time it saw;
 * - pass 2, the real run (config/ml mode as given): every TAKE / NEAR_MISS, scalp and swing, gets the
 *   prediction of the model in force at its decision time (a model trained at T is in force for
 *   decisions with ts > T), through the `predict` hook of shared/backtest/run.ts, which attaches it
 *   where the live engines do (shared/learning/model-cache.ts `withPrediction`); the trading core's
 *   ML filter (applySignal, `filter` mode only) then refuses `ml_filter` / `ml_unavailable` exactly as
 *   in production.
 *
 * The training data is pass 1's trades in BOTH modes (advisory and filter): were pass 2's own trades
 * used, a filter would train only on the setups it let through (its own selection) and could never
 * learn that a refused kind of setup became profitable; the production equivalent is that shadow and
 * advisory trades keep flowing into training. So no model ever trains on a trade that closed after a
 * decision it predicts: trades used at T closed before T, and T is before every decision it predicts.
 */
import type { MlConfig, StrategyConfigs } from '../config/strategy.js';
import type { MlPrediction, ScanDecision, StrategyId } from '../model/trading.js';
import { CronSchedule } from '../schedule/cron.js';
import { INTERVAL_MS } from '../model/market.js';
import { dedupeBySignal, labelledFromClosedTrade, type LabelledTrade } from '../learning/labels.js';
import { decideReplacement, trainCandidate } from '../learning/training.js';
import { Predictor } from '../learning/predict.js';
import type { ModelMetrics, ReplacementOutcome, StoredModel } from '../learning/types.js';
import { breakdownRow } from './analysis.js';
import { runBacktest, type BacktestConfig, type BacktestOptions, type BacktestResult } from './run.js';
import type { BacktestMarket } from './market.js';
import { upperBound } from '../sorted.js';
import { fmt, table } from './text-table.js';

const MINUTE = INTERVAL_MS['1m'];

/** The production retraining schedule (scheduler.yaml job `retrain`; test/backtest/learning.test.ts checks they agree). */
export const RETRAIN_CRON = '0 2 * * *';
export const RETRAIN_TIME_ZONE = 'America/Los_Angeles';

/** The CLI's `--ml`: off = no learning (today's run); advisory records predictions; filter lets them refuse signals. */
export const ML_MODES = ['off', 'advisory', 'filter'] as const;
export type BacktestMlMode = (typeof ML_MODES)[number];

/** The backtest's options (decisions and signals are always recorded; `onState` sees pass 2 only). */
export type LearningOptions = Omit<BacktestOptions, 'predict'> & {
  /** Progress of each pass (1: unfiltered trades, 2: the run with the models). */
  onPassProgress?: (pass: 1 | 2, done: number, total: number) => void;
};

/** One training of one strategy at one retraining instant. */
export interface ModelTraining {
  /** The retraining instant (02:00 America/Los_Angeles on the backtest clock). */
  ts: number;
  strategy: StrategyId;
  /** The candidate's version, or null when nothing trained (`untrainable`). */
  version: string | null;
  outcome: ReplacementOutcome;
  replaced: boolean;
  metrics: ModelMetrics | null;
  /** The model in force after this training (null: none yet). */
  inForce: string | null;
  /** Pass-1 trades closed before `ts` it trained on, how many of them no earlier training saw, and the latest exit among them. */
  trades: number;
  newTrades: number;
  latestExit: number | null;
  detail: string;
}

/** Per strategy: the pass-2 figures and the filter's refusals. */
export interface StrategyFigures {
  strategy: string;
  trades: number;
  wins: number;
  winRate: number | null;
  profitFactor: number | null;
  pnl: number;
  /** Signals refused by the ML filter (P below minConfidence) / because the model could not predict. */
  mlFilter: number;
  mlUnavailable: number;
  /** Scans (TAKE / NEAR_MISS) the model predicted (a probability), and those it could not (null: a feature missing, e.g. a NEAR_MISS has no order levels). */
  predictions: number;
  unpredicted: number;
}

export interface LearningResult {
  mode: MlConfig['mode'];
  /** Pass 1: the unfiltered run (ML off); its trades are the training data. */
  unfiltered: BacktestResult;
  /** Pass 2: the run with the models in force on the backtest clock. */
  run: BacktestResult;
  retrainInstants: number[];
  timeline: ModelTraining[];
  /** Every model that came into force: from when (decisions with ts > from), and the model. */
  inForce: Array<{ from: number; model: StoredModel }>;
  /** Labelled pass-1 trades per strategy (the training data). */
  labelled: Partial<Record<StrategyId, number>>;
  /** Pass-1 trades without a recorded scan (not labelled). */
  unlinked: number;
  figures: { off: StrategyFigures[]; on: StrategyFigures[] };
}

/** Every RETRAIN_CRON instant in (from, to] (epoch ms). */
export function retrainInstants(from: number, to: number): number[] {
  const cron = new CronSchedule(RETRAIN_CRON, RETRAIN_TIME_ZONE);
  const out: number[] = [];
  for (let t = cron.next(from); t !== null && t <= to; t = cron.next(t)) out.push(t);
  return out;
}

/** The pass-1 trades as labelled training rows, per strategy, ascending exit time (scans recorded in `run`). */
export function labelledTrades(run: BacktestResult): { byStrategy: Map<StrategyId, LabelledTrade[]>; unlinked: number } {
  const scans = new Map<string, ScanDecision>();
  for (const d of run.decisions) scans.set(d.signalId, d);
  for (const d of run.swingDecisions) scans.set(d.signalId, d);
  const rows: LabelledTrade[] = [];
  let unlinked = 0;
  for (const t of run.trades) {
    const scan = scans.get(t.signalId);
    if (!scan) {
      unlinked++;
      continue;
    }
    rows.push(labelledFromClosedTrade(t, scan, 'paper'));
  }
  const byStrategy = new Map<StrategyId, LabelledTrade[]>();
  for (const r of dedupeBySignal(rows)) {
    const list = byStrategy.get(r.strategy) ?? [];
    list.push(r);
    byStrategy.set(r.strategy, list);
  }
  for (const list of byStrategy.values()) list.sort((a, b) => a.exitTime - b.exitTime || a.entryTime - b.entryTime);
  return { byStrategy, unlinked };
}

/**
 * The daily retraining on the backtest clock (see the module comment): at each instant, per strategy
 * with enough new trades closed before it, the production training and replacement rules.
 */
export function walkForwardModels(byStrategy: ReadonlyMap<StrategyId, readonly LabelledTrade[]>, instants: readonly number[], ml: MlConfig): { timeline: ModelTraining[]; inForce: Map<StrategyId, Array<{ from: number; model: StoredModel }>> } {
  const timeline: ModelTraining[] = [];
  const inForce = new Map<StrategyId, Array<{ from: number; model: StoredModel }>>();
  const seen = new Map<StrategyId, number>();
  const trained = new Map<StrategyId, number>();
  for (const T of instants) {
    for (const [strategy, all] of byStrategy) {
      // trades closed strictly before T (rows ascend by exit time)
      let n = 0;
      while (n < all.length && (all[n] as LabelledTrade).exitTime < T) n++;
      const newTrades = n - (seen.get(strategy) ?? 0);
      if (newTrades < ml.retrain.minNewTrades) continue;
      const rows = all.slice(0, n);
      const history = inForce.get(strategy) ?? [];
      const current = history[history.length - 1]?.model ?? null;
      const base = { ts: T, strategy, trades: n, newTrades, latestExit: n > 0 ? (all[n - 1] as LabelledTrade).exitTime : null };
      const cand = trainCandidate(rows, ml, (trained.get(strategy) ?? 0) + 1, T);
      if (!cand.ok) {
        timeline.push({ ...base, version: null, outcome: 'untrainable', replaced: false, metrics: null, inForce: current?.version ?? null, detail: cand.reason });
        continue;
      }
      // as production's cursor (model-store.ts saveRun): the trades count as seen only when a candidate
      // trained; an untrainable run leaves them new, so the next instant tries again
      seen.set(strategy, n);
      trained.set(strategy, cand.model.n);
      const verdict = decideReplacement(current, cand.model, ml);
      if (verdict.replace) {
        history.push({ from: T, model: cand.model });
        inForce.set(strategy, history);
      }
      timeline.push({
        ...base,
        version: cand.model.version,
        outcome: verdict.outcome,
        replaced: verdict.replace,
        metrics: cand.model.metrics,
        inForce: (verdict.replace ? cand.model : current)?.version ?? null,
        detail: verdict.detail,
      });
    }
  }
  return { timeline, inForce };
}

/** The predict hook of pass 2: the model in force at the decision's time (trained at an instant < ts). */
export function walkForwardPredict(inForce: ReadonlyMap<StrategyId, ReadonlyArray<{ from: number; model: StoredModel }>>, predictor = new Predictor()): (d: ScanDecision) => MlPrediction | undefined {
  const starts = new Map([...inForce].map(([s, list]) => [s, Float64Array.from(list, (x) => x.from)]));
  return (d) => {
    const list = inForce.get(d.strategy);
    if (!list || list.length === 0) return undefined;
    // the last model with from < ts
    const k = upperBound(starts.get(d.strategy) as Float64Array, d.ts - 1) - 1;
    if (k < 0) return undefined;
    return predictor.predict((list[k] as { model: StoredModel }).model, d);
  };
}

/** Per-strategy figures of a run: trades, win rate, profit factor, P&L, the ML filter's refusals, predictions. */
export function strategyFigures(r: BacktestResult): StrategyFigures[] {
  const ids = new Set<string>([...r.trades.map((t) => t.strategy), ...r.signals.map((s) => s.strategy)]);
  return [...ids].sort().map((strategy) => {
    const row = breakdownRow(strategy, r.trades.filter((t) => t.strategy === strategy));
    const refused = (reason: string) => r.signals.filter((s) => s.strategy === strategy && s.reason === reason).length;
    const scans = [...r.decisions, ...r.swingDecisions].filter((d) => d.strategy === strategy && d.ml !== undefined);
    const predictions = scans.filter((d) => d.ml?.probability !== null).length;
    return { strategy, trades: row.trades, wins: row.wins, winRate: row.winRate, profitFactor: row.profitFactor, pnl: row.pnl, mlFilter: refused('ml_filter'), mlUnavailable: refused('ml_unavailable'), predictions, unpredicted: scans.length - predictions };
  });
}

function withMode(strategies: StrategyConfigs, mode: MlConfig['mode']): StrategyConfigs {
  return { ...strategies, ml: { ...strategies.ml, mode } };
}

/** The two-pass walk-forward run (see the module comment). config.strategies.ml.mode decides advisory or filter. */
export function runWithLearning(market: BacktestMarket, config: BacktestConfig, options: LearningOptions = {}): LearningResult {
  const { onPassProgress, onProgress, onState, ...opts } = options;
  const rec = { ...opts.record, decisions: true, signals: true };
  const progress = (pass: 1 | 2) => (done: number, total: number) => {
    onProgress?.(done, total);
    onPassProgress?.(pass, done, total);
  };
  const unfiltered = runBacktest(market, { ...config, strategies: withMode(config.strategies, 'advisory') }, { ...opts, record: rec, onProgress: progress(1) });
  const { byStrategy, unlinked } = labelledTrades(unfiltered);
  const instants = retrainInstants(market.from, market.to + MINUTE);
  const { timeline, inForce } = walkForwardModels(byStrategy, instants, config.strategies.ml);
  const run = runBacktest(market, config, { ...opts, record: rec, predict: walkForwardPredict(inForce), onProgress: progress(2), ...(onState ? { onState } : {}) });
  return {
    mode: config.strategies.ml.mode,
    unfiltered,
    run,
    retrainInstants: instants,
    timeline,
    inForce: [...inForce.values()].flat().sort((a, b) => a.from - b.from),
    labelled: Object.fromEntries([...byStrategy].map(([s, l]) => [s, l.length])),
    unlinked,
    figures: { off: strategyFigures(unfiltered), on: strategyFigures(run) },
  };
}

// ---------- report ----------

function pf(x: number | null, trades: number): string {
  return x === null ? (trades > 0 ? 'inf' : '-') : fmt(x);
}

/** The per-strategy comparison (filter off vs the run with the models) and the model timeline, as text. */
export function formatLearning(r: LearningResult): string {
  const off = new Map(r.figures.off.map((f) => [f.strategy, f]));
  const on = new Map(r.figures.on.map((f) => [f.strategy, f]));
  const ids = [...new Set([...off.keys(), ...on.keys()])].sort();
  const cells = (f: StrategyFigures | undefined) => (f ? [String(f.trades), f.winRate === null ? '-' : fmt(f.winRate * 100, 1), pf(f.profitFactor, f.trades), fmt(f.pnl)] : ['0', '-', '-', '0.00']);
  const rows = ids.map((s) => {
    const b = on.get(s);
    return [s, ...cells(off.get(s)), ...cells(b), String(b?.mlFilter ?? 0), String(b?.mlUnavailable ?? 0), String(b?.predictions ?? 0)];
  });
  const kept = r.timeline.filter((t) => t.replaced).length;
  const trained = r.timeline.filter((t) => t.version !== null).length;
  const lines = [
    `ML ${r.mode} (walk-forward on the backtest clock): ${r.retrainInstants.length} retraining instant(s) at 02:00 America/Los_Angeles, ${trained} model(s) trained, ${kept} kept; training data = the ML-off run's trades (${Object.entries(r.labelled).map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}${r.unlinked > 0 ? `; ${r.unlinked} without a recorded scan, left out` : ''})`,
    table(['strategy', 'off trades', 'off win %', 'off PF', 'off P&L', `${r.mode} trades`, `${r.mode} win %`, `${r.mode} PF`, `${r.mode} P&L`, 'ml_filter', 'ml_unavail', 'predicted'], rows),
  ];
  if (r.timeline.length > 0) {
    lines.push(
      'model timeline',
      table(
        ['when (UTC)', 'strategy', 'version', 'outcome', 'score', 'acc', 'prec', 'recall', 'trades', 'new', 'in force'],
        r.timeline.map((t) => [new Date(t.ts).toISOString().slice(0, 16), t.strategy, t.version ?? '-', t.outcome, fmt(t.metrics?.score, 3), fmt(t.metrics?.accuracy, 3), fmt(t.metrics?.precision, 3), fmt(t.metrics?.recall, 3), String(t.trades), String(t.newTrades), t.inForce ?? '-']),
      ),
    );
  } else lines.push('model timeline: no strategy reached ml.retrain.minNewTrades closed trades before a retraining instant: no model, nothing predicted');
  return lines.join('\n');
}

/** The JSON of a learning run (the result document's `ml`). */
export function learningJson(r: LearningResult) {
  return {
    mode: r.mode,
    retrainInstants: r.retrainInstants,
    labelled: r.labelled,
    unlinked: r.unlinked,
    timeline: r.timeline,
    figures: r.figures,
    unfiltered: { metrics: r.unfiltered.metrics, signals: { accepted: r.unfiltered.accepted, rejected: r.unfiltered.rejected } },
  };
}
