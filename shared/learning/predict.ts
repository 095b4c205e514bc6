/**
 * Predictions (SPEC 8): a stored model's win probability for a scan decision, recorded beside the
 * decision (`ScanDecision.ml`). Deserializing a forest costs far more than a prediction, so the
 * Predictor keeps the last few forests by model version (a version is immutable: `{strategy}@{n}`).
 * Never throws: whatever prevents a prediction is `probability: null` with the reason (the ML filter
 * then fails closed).
 */
import type { MlPrediction } from '../model/trading.js';
import { FEATURE_SETS, featureVector, sameFeatureSet, type FeatureInput } from './features.js';
import { loadForest, probabilityOfWin, type Forest } from './forest.js';
import type { StoredModel } from './types.js';

/** Forests kept (one per strategy in force, plus room for a replacement mid-run). */
export const PREDICTOR_CACHE_SIZE = 16;

export class Predictor {
  private readonly cache = new Map<string, Forest>();

  constructor(private readonly maxForests = PREDICTOR_CACHE_SIZE) {}

  predict(model: StoredModel, input: FeatureInput): MlPrediction {
    const base = { modelVersion: model.version, featureVersion: model.featureVersion };
    const fail = (error: string): MlPrediction => ({ probability: null, ...base, error: error.slice(0, 500) });
    if (model.strategy !== input.strategy) return fail(`model ${model.version} is for ${model.strategy}, the decision is ${input.strategy}`);
    const current = FEATURE_SETS[input.strategy];
    if (!sameFeatureSet(current, { version: model.featureVersion, names: model.features })) {
      return fail(`model ${model.version} was trained on features ${model.featureVersion}, the code computes ${current.version}: retrain (and approve the feature change)`);
    }
    if (model.forest === undefined) return fail(`model ${model.version} has no stored forest`);
    const forest = this.forestOf(model);
    if (typeof forest === 'string') return fail(forest);
    const v = featureVector(input, current);
    if (!v.ok) return fail(v.error);
    try {
      return { probability: probabilityOfWin(forest, v.values), ...base };
    } catch (e) {
      return fail(`model ${model.version}: ${(e as Error).message}`);
    }
  }

  private forestOf(model: StoredModel): Forest | string {
    const hit = this.cache.get(model.version);
    if (hit) {
      this.cache.delete(model.version);
      this.cache.set(model.version, hit);
      return hit;
    }
    let forest: Forest;
    try {
      forest = loadForest(model.forest as string);
    } catch (e) {
      return `model ${model.version}: ${(e as Error).message}`;
    }
    if (forest.width !== model.features.length) return `model ${model.version}: forest reads ${forest.width} features, the model lists ${model.features.length}`;
    this.cache.set(model.version, forest);
    while (this.cache.size > this.maxForests) this.cache.delete(this.cache.keys().next().value as string);
    return forest;
  }
}
