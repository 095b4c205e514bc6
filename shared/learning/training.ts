/**
 * Retraining one strategy's model (SPEC 8): a time-ordered split (train on the past, score on the
 * most recent slice; never shuffled across time), the candidate's metrics and score, and the
 * replacement rules that decide whether it takes over from the model in force.
 */
import type { MlConfig } from '../config/strategy.js';
import type { StrategyId } from '../model/trading.js';
import { FEATURE_SETS, featureVector, sameFeatureSet } from './features.js';
import { FOREST_LIBRARY, FOREST_LIBRARY_VERSION, featureImportances, probabilitiesOfWin, serializeForest, trainForest } from './forest.js';
import { isPositive, type LabelledTrade } from './labels.js';
import type { ModelMetrics, ReplacementOutcome, StoredModel } from './types.js';

type SplitRow = Pick<LabelledTrade, 'decisionTs' | 'exitTime' | 'signalId'>;

/**
 * Time-ordered split of rows sorted (here, stably) by decisionTs then signalId: `score` = the most
 * recent ceil(n x holdoutFraction) rows, `train` = the older rows MINUS any whose exit is after the
 * scoring slice's first decision (its outcome was not known at that time: training on it would leak
 * the scoring period into the model). `purged` counts those. Never shuffled.
 */
export function timeOrderedSplit<T extends SplitRow>(rows: readonly T[], holdoutFraction: number): { train: T[]; score: T[]; purged: number } {
  const sorted = [...rows].sort((a, b) => a.decisionTs - b.decisionTs || (a.signalId < b.signalId ? -1 : a.signalId > b.signalId ? 1 : 0));
  const nScore = Math.min(sorted.length, Math.max(1, Math.ceil(sorted.length * holdoutFraction)));
  const cut = sorted.length - nScore;
  const score = sorted.slice(cut);
  const first = score[0];
  if (!first) return { train: [], score: [], purged: 0 };
  const older = sorted.slice(0, cut);
  const train = older.filter((r) => r.exitTime <= first.decisionTs && r.decisionTs < first.decisionTs);
  return { train, score, purged: older.length - train.length };
}

/**
 * Accuracy, precision, recall of predictions (1 = WIN) against the truth, and the score
 * wA x accuracy + wP x precision + wR x recall (config/ml retrain.scoreWeights). Precision with no
 * predicted positive is 0 (a model that never says WIN has shown no precision; scoring it as 1 would
 * reward a model that filters everything); recall with no actual positive is 0 likewise.
 */
export function metricsOf(truth: readonly number[], predicted: readonly number[], weights: MlConfig['retrain']['scoreWeights']): ModelMetrics {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let correct = 0;
  truth.forEach((t, i) => {
    const p = predicted[i];
    if (p === t) correct++;
    if (p === 1 && t === 1) tp++;
    else if (p === 1) fp++;
    else if (t === 1) fn++;
  });
  const n = truth.length;
  const accuracy = n > 0 ? correct / n : 0;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const score = Math.min(1, Math.max(0, weights.accuracy * accuracy + weights.precision * precision + weights.recall * recall));
  return { accuracy, precision, recall, score, rows: n, wins: tp + fn };
}

/**
 * Trains the strategy's candidate number `n` on its labelled trades (all of one strategy; a trade
 * missing a feature of the set is left out; the `maxTrainRows` most recent of the rest are used),
 * scored on the time-ordered holdout: predicted WIN when P(WIN) >= 0.5. Untrainable (with the
 * reason): rows of another strategy, no trade with every feature, fewer than `retrain.minTrainRows`
 * training rows, fewer than `retrain.minScoreRows` scoring rows, or one class only.
 */
export function trainCandidate(rows: readonly LabelledTrade[], cfg: MlConfig, n: number, now: number): { ok: true; model: StoredModel } | { ok: false; reason: string } {
  if (rows.length === 0) return { ok: false, reason: 'no labelled trades' };
  const strategy: StrategyId = (rows[0] as LabelledTrade).strategy;
  if (rows.some((r) => r.strategy !== strategy)) return { ok: false, reason: `rows of several strategies (expected only ${strategy})` };
  const set = FEATURE_SETS[strategy];
  const ordered = [...rows].sort((a, b) => a.decisionTs - b.decisionTs || (a.signalId < b.signalId ? -1 : a.signalId > b.signalId ? 1 : 0));
  // A trade whose scan lacks a feature of the set (e.g. logged before the feature existed) is left
  // out, not the whole run: the model learns from the rows it can read (the count is in the log).
  const vec = new Map<LabelledTrade, number[]>();
  let firstSkip: string | null = null;
  const usable = ordered.filter((r) => {
    const v = featureVector({ strategy, direction: r.direction, price: r.price, ts: r.decisionTs, features: r.features }, set);
    if (!v.ok) {
      firstSkip ??= `trade ${r.signalId}: ${v.error}`;
      return false;
    }
    vec.set(r, v.values);
    return true;
  });
  if (usable.length === 0) return { ok: false, reason: `no trade has every feature of ${set.version} (first: ${firstSkip ?? '-'})` };
  const recent = usable.slice(Math.max(0, usable.length - cfg.retrain.maxTrainRows));
  const { train, score, purged } = timeOrderedSplit(recent, cfg.retrain.holdoutFraction);
  if (train.length < cfg.retrain.minTrainRows) {
    const skipped = ordered.length - usable.length;
    return { ok: false, reason: `${train.length} training rows (of ${recent.length}; ${score.length} held out, ${purged} exited after the holdout began${skipped ? `, ${skipped} without every feature` : ''}), need ${cfg.retrain.minTrainRows} (config/ml retrain.minTrainRows)` };
  }
  if (score.length < cfg.retrain.minScoreRows) {
    return { ok: false, reason: `${score.length} scoring rows (the most recent ${Math.round(cfg.retrain.holdoutFraction * 100)} % of ${recent.length}), need ${cfg.retrain.minScoreRows} (config/ml retrain.minScoreRows): a score on fewer trades is noise` };
  }
  const y = train.map(isPositive);
  const wins = y.reduce<number>((a, b) => a + b, 0);
  if (wins === 0 || wins === y.length) return { ok: false, reason: `the ${y.length} training rows are all ${wins === 0 ? 'not-WIN' : 'WIN'}: one class only` };
  const X = train.map((r) => vec.get(r) as number[]);
  const forest = trainForest(X, y, cfg.model);
  const p = probabilitiesOfWin(forest, score.map((r) => vec.get(r) as number[]));
  const metrics = metricsOf(score.map(isPositive), p.map((x) => (x >= 0.5 ? 1 : 0)), cfg.retrain.scoreWeights);
  const model: StoredModel = {
    strategy,
    version: `${strategy}@${n}`,
    n,
    featureVersion: set.version,
    features: [...set.names],
    trainedAt: now,
    window: {
      trainFrom: (train[0] as LabelledTrade).decisionTs,
      trainTo: (train[train.length - 1] as LabelledTrade).decisionTs,
      scoreFrom: (score[0] as LabelledTrade).decisionTs,
      scoreTo: (score[score.length - 1] as LabelledTrade).decisionTs,
      trainRows: train.length,
      scoreRows: score.length,
    },
    metrics,
    importances: featureImportances(forest, set.names),
    algorithm: {
      library: FOREST_LIBRARY,
      libraryVersion: FOREST_LIBRARY_VERSION,
      params: { ...cfg.model, classifier: 'RandomForestClassifier', threshold: 0.5 },
    },
    forest: serializeForest(forest),
  };
  return { ok: true, model };
}

/**
 * The replacement rules (SPEC 8), in order: no model in force -> first_model (kept); features
 * differ (feature version or ordered names) -> features_changed (kept out) unless the owner approved
 * it -> owner_approved; the model in force scores >= protectScore and the candidate lower ->
 * protected; lower -> lower_score; otherwise (not lower, ties included) -> replaced.
 */
export function decideReplacement(
  current: StoredModel | null,
  candidate: StoredModel,
  cfg: MlConfig,
  ownerApprovedFeatureChange = false,
): { outcome: ReplacementOutcome; replace: boolean; detail: string } {
  const s = candidate.metrics.score;
  if (current === null) return { outcome: 'first_model', replace: true, detail: `first model of ${candidate.strategy}: ${candidate.version} scores ${fmt(s)}` };
  const cur = current.metrics.score;
  const changed = !sameFeatureSet({ version: current.featureVersion, names: current.features }, { version: candidate.featureVersion, names: candidate.features });
  if (changed) {
    const what = `${current.featureVersion} (${current.features.length} features) -> ${candidate.featureVersion} (${candidate.features.length} features)`;
    if (ownerApprovedFeatureChange) return { outcome: 'owner_approved', replace: true, detail: `the owner approved the feature change ${what}: ${candidate.version} (${fmt(s)}) replaces ${current.version} (${fmt(cur)})` };
    return { outcome: 'features_changed', replace: false, detail: `features changed ${what}: ${candidate.version} waits for the owner's approval; ${current.version} stays` };
  }
  if (s < cur && cur >= cfg.retrain.protectScore) {
    return { outcome: 'protected', replace: false, detail: `${current.version} scores ${fmt(cur)} >= ${cfg.retrain.protectScore} (protected) and ${candidate.version} scores lower (${fmt(s)})` };
  }
  if (s < cur) return { outcome: 'lower_score', replace: false, detail: `${candidate.version} scores ${fmt(s)}, lower than ${current.version} (${fmt(cur)}): kept out` };
  return { outcome: 'replaced', replace: true, detail: `${candidate.version} scores ${fmt(s)} >= ${current.version} (${fmt(cur)}): replaced` };
}

function fmt(x: number): string {
  return x.toFixed(4);
}
