/**
 * The learning loop's predictions beside the scan decisions (SPEC 8): each new scan of a strategy that
 * has a model gets the model's win probability recorded beside the decision (`ScanDecision.ml`, the
 * `signals` row's ml_probability / model_version) and, on a TAKE, carried by its Signal to the trading
 * core, whose ML filter (config/ml mode `filter` only) reads it. Used identically by the live engines
 * (shared/pipeline/micro-scalp.ts, macro-analysis.ts) and the backtest's walk-forward learning
 * (shared/backtest/learning.ts): one rule for which decisions are predicted (`withPrediction`), one
 * predictor (shared/learning/predict.ts).
 *
 * Which decisions: TAKE and NEAR_MISS. The cost would allow every scan (a 60-tree forest predicts a
 * TAKE in ~30 us, a decision missing a feature returns null in ~3 us: far below the 1 ms per scan
 * target), so the choice is by use: a SKIP is never a signal (the filter has nothing to refuse) and is
 * the bulk of the swing scans (every setup every 5 minutes): a probability on it serves no decision.
 * A NEAR_MISS is predicted as the research view of "what the model thinks of the setups the
 * thresholds just missed"; the scalp feature sets read the order levels (stop / take-profit distance,
 * shared/learning/features.ts), which a scalp NEAR_MISS does not log, so those get no prediction
 * (a null is recorded only on a TAKE, where the filter needs it).
 *
 * The per-instance cache (`ModelCache`, one per function instance): `models/{strategy}` is re-read at
 * most once every MODEL_REFRESH_MS (clock time of the caller) per strategy; a read that returns the
 * same version keeps the model object already in memory (the predictor's parsed forest stays warm),
 * another version replaces it. A read that fails (I/O, or a stored document the schema refuses) is
 * logged as a warning and makes every prediction of that strategy `{ probability: null, error }`
 * until a read succeeds (retried at the next refresh): in filter mode the signal is then refused
 * (`ml_unavailable`, fail closed) rather than passed by a filter that cannot know what the model says.
 */
import type { Logger } from '../log.js';
import type { MlPrediction, ScanDecision, StrategyId } from '../model/trading.js';
import type { StateStore } from '../ports/state.js';
import { FEATURE_SETS } from './features.js';
import { loadModel } from './model-store.js';
import { Predictor } from './predict.js';
import type { StoredModel } from './types.js';

/** A strategy's model document is read at most this often per instance (ms of the caller's clock). */
export const MODEL_REFRESH_MS = 60_000;

/** A prediction for a scan decision, or undefined when its strategy has no model. */
export type ScanPredict = (d: ScanDecision) => MlPrediction | undefined;

/** Whether a decision gets a prediction: TAKE and NEAR_MISS, never SKIP (see the module comment). */
export function predictsDecision(d: Pick<ScanDecision, 'decision'>): boolean {
  return d.decision !== 'SKIP';
}

/** The decision with its prediction attached (a copy), or the decision itself when it gets none. */
export function withPrediction<D extends ScanDecision>(d: D, predict: ScanPredict | undefined): D {
  if (!predict || !predictsDecision(d)) return d;
  const ml = predict(d);
  // A NEAR_MISS is never traded: a prediction it cannot get (a scalp NEAR_MISS logs no order levels)
  // is left out rather than recorded as a null; a TAKE's null is kept (the filter fails closed on it).
  if (ml === undefined || (ml.probability === null && d.decision !== 'TAKE')) return d;
  return { ...d, ml };
}

/** What a strategy's model document gave at its last read. */
type ModelEntry = { kind: 'none' } | { kind: 'model'; model: StoredModel } | { kind: 'unreadable'; modelVersion: string; featureVersion: string; error: string };

/** The prediction of `entry` for `d` (undefined without a model). */
export function predictWith(predictor: Predictor, entry: ModelEntry | undefined, d: ScanDecision): MlPrediction | undefined {
  if (!entry || entry.kind === 'none') return undefined;
  if (entry.kind === 'unreadable') return { probability: null, modelVersion: entry.modelVersion, featureVersion: entry.featureVersion, error: entry.error };
  return predictor.predict(entry.model, d);
}

export class ModelCache {
  private readonly entries = new Map<StrategyId, { entry: ModelEntry; readAt: number }>();
  private readonly predictor = new Predictor();

  constructor(private readonly refreshMs: number = MODEL_REFRESH_MS) {}

  /**
   * Refreshes the models of `strategies` that are due (at most once per refreshMs each), then returns
   * the synchronous predictor of the scans evaluated now.
   */
  async predictorFor(state: StateStore, strategies: readonly StrategyId[], now: number, log: Logger): Promise<ScanPredict> {
    for (const s of strategies) {
      const cur = this.entries.get(s);
      if (cur && now >= cur.readAt && now - cur.readAt < this.refreshMs) continue;
      this.entries.set(s, { entry: await this.read(state, s, cur?.entry, log), readAt: now });
    }
    return (d) => predictWith(this.predictor, this.entries.get(d.strategy)?.entry, d);
  }

  private async read(state: StateStore, strategy: StrategyId, prev: ModelEntry | undefined, log: Logger): Promise<ModelEntry> {
    let error: string;
    try {
      const loaded = await loadModel(state, strategy);
      if (loaded.ok) {
        const model = loaded.value;
        if (model === null) return { kind: 'none' };
        // the same version: keep the object already in memory
        if (prev?.kind === 'model' && prev.model.version === model.version && prev.model.trainedAt === model.trainedAt) return prev;
        return { kind: 'model', model };
      }
      error = loaded.error;
    } catch (e) {
      error = `model of ${strategy} could not be read: ${(e as Error).message}`;
    }
    error = error.slice(0, 500);
    log.warn('ML model unreadable: predictions of this strategy are null (the filter fails closed) until a read succeeds', { strategy, error });
    const modelVersion = prev?.kind === 'model' ? prev.model.version : prev?.kind === 'unreadable' ? prev.modelVersion : 'unknown';
    const featureVersion = prev?.kind === 'model' ? prev.model.featureVersion : FEATURE_SETS[strategy].version;
    return { kind: 'unreadable', modelVersion, featureVersion, error };
  }
}
