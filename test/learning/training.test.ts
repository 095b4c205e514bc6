/**
 * Training on real labelled trades of the kit slice: the time-ordered split (nothing decided or
 * exited after the scoring slice starts is trained on), metrics and score, the replacement rules,
 * determinism, the forest wrapper (vote share, importances, size limit) and the predictor.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ML_CONFIG, type MlConfig } from '../../shared/config/strategy.js';
import { FEATURE_SETS, featureVector } from '../../shared/learning/features.js';
import {
  FOREST_LIBRARY_VERSION,
  MAX_FOREST_BYTES,
  binned,
  featureImportances,
  loadForest,
  probabilityOfWin,
  serializeForest,
  trainForest,
} from '../../shared/learning/forest.js';
import { isPositive, type LabelledTrade } from '../../shared/learning/labels.js';
import { decideReplacement, metricsOf, timeOrderedSplit, trainCandidate } from '../../shared/learning/training.js';
import { Predictor } from '../../shared/learning/predict.js';
import type { StoredModel } from '../../shared/learning/types.js';
import { REPO_ROOT } from '../kit.js';
import { ofStrategy, sliceRun } from './helpers.js';

// the kit slice has ~50 trades per strategy: a 25 % scoring slice of ~12 rows (the default minScoreRows 20 is for live volumes)
const cfg: MlConfig = { ...DEFAULT_ML_CONFIG, retrain: { ...DEFAULT_ML_CONFIG.retrain, minScoreRows: 5 } };
const NOW = Date.UTC(2025, 5, 12, 12, 0);

function vectors(rows: readonly LabelledTrade[]): number[][] {
  return rows.map((r) => {
    const v = featureVector({ strategy: r.strategy, direction: r.direction, price: r.price, ts: r.decisionTs, features: r.features });
    if (!v.ok) throw new Error(v.error);
    return v.values;
  });
}

describe('timeOrderedSplit', () => {
  const rows = sliceRun().labelled;

  it('scores on the most recent slice; no training row decided or exited after the slice starts; never shuffled', () => {
    const { train, score, purged } = timeOrderedSplit(rows, 0.25);
    expect(score.length).toBe(Math.ceil(rows.length * 0.25));
    const start = score[0]!.decisionTs;
    for (const r of train) {
      expect(r.decisionTs).toBeLessThan(start);
      expect(r.exitTime).toBeLessThanOrEqual(start);
    }
    // The real trades overlap: some older trades were still open when the slice began, and were dropped.
    expect(purged).toBeGreaterThan(0);
    expect(train.length + purged + score.length).toBe(rows.length);
    const sorted = [...rows].sort((a, b) => a.decisionTs - b.decisionTs || (a.signalId < b.signalId ? -1 : 1));
    expect(score).toEqual(sorted.slice(sorted.length - score.length));
    const ts = train.map((r) => r.decisionTs);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  });
});

describe('metrics', () => {
  it('score = 0.3 accuracy + 0.5 precision + 0.2 recall; precision with no predicted WIN is 0', () => {
    const m = metricsOf([1, 0, 1, 1, 0], [1, 1, 0, 1, 0], cfg.retrain.scoreWeights);
    expect(m.accuracy).toBeCloseTo(3 / 5, 12);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.score).toBeCloseTo(0.3 * 0.6 + 0.5 * (2 / 3) + 0.2 * (2 / 3), 12);
    expect(m).toMatchObject({ rows: 5, wins: 3 });
    const none = metricsOf([1, 0, 0], [0, 0, 0], cfg.retrain.scoreWeights);
    expect(none.precision).toBe(0);
    expect(none.score).toBeCloseTo(0.3 * (2 / 3), 12);
  });
});

describe('trainCandidate on the real trades of one strategy', () => {
  const rows = ofStrategy(sliceRun().labelled, 'levels_exhaustion');

  it('trains, scores on the holdout, records window, importances, algorithm and the feature set', () => {
    const r = trainCandidate(rows, cfg, 3, NOW);
    if (!r.ok) throw new Error(r.reason);
    const m = r.model;
    expect(m.version).toBe('levels_exhaustion@3');
    expect(m.featureVersion).toBe(FEATURE_SETS.levels_exhaustion.version);
    expect(m.features).toEqual([...FEATURE_SETS.levels_exhaustion.names]);
    expect(m.window.scoreRows).toBe(Math.ceil(rows.length * cfg.retrain.holdoutFraction));
    expect(m.window.trainTo).toBeLessThan(m.window.scoreFrom);
    expect(m.window.trainRows).toBeGreaterThanOrEqual(cfg.retrain.minTrainRows);
    expect(m.metrics.rows).toBe(m.window.scoreRows);
    const sum = m.importances.reduce((s, x) => s + x.importance, 0);
    expect(sum).toBeCloseTo(1, 9);
    for (let k = 1; k < m.importances.length; k++) expect(m.importances[k]!.importance).toBeLessThanOrEqual(m.importances[k - 1]!.importance);
    expect(m.algorithm).toMatchObject({ library: 'ml-random-forest', libraryVersion: FOREST_LIBRARY_VERSION });
    console.log(`levels_exhaustion candidate on ${rows.length} real trades: ${JSON.stringify(m.metrics)}; top ${m.importances.slice(0, 3).map((i) => `${i.feature} ${i.importance.toFixed(3)}`).join(', ')}`);
  });

  it('is deterministic: the same rows train the same serialized forest', () => {
    const a = trainCandidate(rows, cfg, 1, NOW);
    const b = trainCandidate([...rows].reverse(), cfg, 1, NOW);
    if (!a.ok || !b.ok) throw new Error('untrainable');
    expect(b.model.forest).toBe(a.model.forest);
    expect(b.model).toEqual(a.model);
  });

  it('untrainable with too few rows, or one class only, or rows of two strategies', () => {
    const few = trainCandidate(rows.slice(0, 20), cfg, 1, NOW);
    expect(few).toEqual({ ok: false, reason: expect.stringContaining('minTrainRows') });
    const losers = rows.filter((r) => isPositive(r) === 0);
    expect(trainCandidate(losers, { ...cfg, retrain: { ...cfg.retrain, minTrainRows: 5 } }, 1, NOW)).toEqual({ ok: false, reason: expect.stringContaining('one class only') });
    expect(trainCandidate(sliceRun().labelled, cfg, 1, NOW)).toEqual({ ok: false, reason: expect.stringContaining('several strategies') });
  });

  it('uses only the maxTrainRows most recent rows', () => {
    const r = trainCandidate(rows, { ...cfg, retrain: { ...cfg.retrain, maxTrainRows: 48, minTrainRows: 10 } }, 1, NOW);
    if (!r.ok) throw new Error(r.reason);
    const recent = [...rows].sort((a, b) => a.decisionTs - b.decisionTs).slice(-48);
    expect(r.model.window.trainFrom).toBeGreaterThanOrEqual(recent[0]!.decisionTs);
    expect(r.model.window.scoreRows).toBe(12);
  });
});

describe('forest wrapper', () => {
  const rows = ofStrategy(sliceRun().labelled, 'v52_divergence');
  const X = vectors(rows);
  const y = rows.map(isPositive);

  it('the pinned library version is the installed one', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'ml-random-forest', 'package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toBe(FOREST_LIBRARY_VERSION);
  });

  it('P(WIN) is the share of trees voting WIN, the same after a JSON round trip', () => {
    const f = trainForest(X, y, { ...cfg.model, trees: 7 });
    const loaded = loadForest(serializeForest(f));
    for (const x of X) {
      const votes = f.rf.predictionValues(binned(f, [x])).getRow(0);
      const share = votes.filter((v) => v === 1).length / votes.length;
      expect(probabilityOfWin(f, x)).toBe(share);
      expect(probabilityOfWin(loaded, x)).toBe(share);
    }
  });

  it('importances sum to 1, descending, one per feature', () => {
    const f = trainForest(X, y, cfg.model);
    const imp = featureImportances(f, FEATURE_SETS.v52_divergence.names);
    expect(imp.map((i) => i.feature).sort()).toEqual([...FEATURE_SETS.v52_divergence.names].sort());
    expect(imp.reduce((s, i) => s + i.importance, 0)).toBeCloseTo(1, 9);
    // Real splits happened: the shares are not the all-equal fallback.
    expect(imp[0]!.importance).toBeGreaterThan(imp[imp.length - 1]!.importance);
    for (const i of imp) expect(i.importance).toBeGreaterThanOrEqual(0);
  });

  it('60 trees of depth 6 stay well under the stored-model limit; a larger forest is refused', () => {
    // The real rows repeated to 300 (slightly perturbed, so every value is distinct) with minLeafRows 1:
    // depth 6 caps a tree at 64 leaves whatever the row count, so this is near the largest such forest
    //.
    const big = Array.from({ length: 300 }, (_, k) => X[k % X.length]!.map((v, j) => v + ((k * 7 + j) % 13) * 1e-3));
    const by = Array.from({ length: 300 }, (_, k) => y[k % y.length]!);
    const forest = trainForest(big, by, { ...cfg.model, minLeafRows: 1 });
    const json = serializeForest(forest);
    const bytes = new TextEncoder().encode(json).length;
    console.log(`serialized forest, 60 trees depth 6, 300 rows: ${bytes} bytes`);
    expect(bytes).toBeLessThan(MAX_FOREST_BYTES / 2);
    expect(MAX_FOREST_BYTES).toBe(900_000);
    expect(() => serializeForest(forest, bytes - 1)).toThrow(new RegExp(`${bytes} bytes, above the ${bytes - 1}-byte limit`));
  });
});

describe('decideReplacement', () => {
  const base = (() => {
    const r = trainCandidate(ofStrategy(sliceRun().labelled, 'levels_exhaustion'), cfg, 1, NOW);
    if (!r.ok) throw new Error(r.reason);
    return r.model;
  })();
  const withScore = (m: StoredModel, score: number, n = m.n): StoredModel => ({ ...m, n, version: `${m.strategy}@${n}`, metrics: { ...m.metrics, score } });

  it('first model is kept', () => {
    expect(decideReplacement(null, base, cfg)).toMatchObject({ outcome: 'first_model', replace: true });
  });
  it('a lower score is kept out; an equal or higher score replaces', () => {
    expect(decideReplacement(withScore(base, 0.6), withScore(base, 0.59, 2), cfg)).toMatchObject({ outcome: 'lower_score', replace: false });
    expect(decideReplacement(withScore(base, 0.6), withScore(base, 0.6, 2), cfg)).toMatchObject({ outcome: 'replaced', replace: true });
    expect(decideReplacement(withScore(base, 0.6), withScore(base, 0.7, 2), cfg)).toMatchObject({ outcome: 'replaced', replace: true });
  });
  it('a model scoring >= 0.85 is protected from a lower one (not from an equal one)', () => {
    expect(decideReplacement(withScore(base, 0.85), withScore(base, 0.84, 2), cfg)).toMatchObject({ outcome: 'protected', replace: false });
    expect(decideReplacement(withScore(base, 0.9), withScore(base, 0.9, 2), cfg)).toMatchObject({ outcome: 'replaced', replace: true });
  });
  it('a feature change is refused, even with a higher score, unless the owner approved it', () => {
    const changed = { ...withScore(base, 0.99, 2), featureVersion: 'levels_exhaustion/2', features: [...base.features, 'levelR2'] };
    expect(decideReplacement(withScore(base, 0.5), changed, cfg)).toMatchObject({ outcome: 'features_changed', replace: false });
    const reordered = { ...withScore(base, 0.99, 2), features: [...base.features].reverse() };
    expect(decideReplacement(withScore(base, 0.5), reordered, cfg)).toMatchObject({ outcome: 'features_changed' });
    expect(decideReplacement(withScore(base, 0.5), changed, cfg, true)).toMatchObject({ outcome: 'owner_approved', replace: true });
  });
});

describe('Predictor', () => {
  const { run } = sliceRun();
  const model = (() => {
    const r = trainCandidate(ofStrategy(sliceRun().labelled, 'v52_divergence'), cfg, 4, NOW);
    if (!r.ok) throw new Error(r.reason);
    return r.model;
  })();
  const takes = run.decisions.filter((d) => d.decision === 'TAKE' && d.strategy === 'v52_divergence');

  it('predictions carry the model and feature version and a probability in [0, 1]', () => {
    const p = new Predictor();
    for (const d of takes.slice(0, 50)) {
      const out = p.predict(model, d);
      expect(out).toEqual({ probability: expect.any(Number), modelVersion: 'v52_divergence@4', featureVersion: 'v52_divergence/1' });
      expect(out.probability).toBeGreaterThanOrEqual(0);
      expect(out.probability).toBeLessThanOrEqual(1);
    }
  });

  it('probability null with the reason: no forest, another feature set, a missing feature', () => {
    const p = new Predictor();
    const d = takes[0]!;
    const { forest: _f, ...meta } = model;
    expect(p.predict(meta, d)).toMatchObject({ probability: null, modelVersion: 'v52_divergence@4', error: expect.stringContaining('no stored forest') });
    expect(p.predict({ ...model, version: 'v52_divergence@9', featureVersion: 'v52_divergence/0' }, d)).toMatchObject({ probability: null, error: expect.stringContaining('v52_divergence/0') });
    const { rsi: _r, ...noRsi } = d.features;
    expect(p.predict(model, { ...d, features: noRsi })).toMatchObject({ probability: null, featureVersion: 'v52_divergence/1', error: expect.stringContaining('rsi') });
  });
});

describe('trainCandidate with trades missing a feature', () => {
  it('leaves those trades out (not the whole run); none readable is untrainable with the first reason', async () => {
    const { sliceRun, ofStrategy } = await import('./helpers.js');
    const { DEFAULT_ML_CONFIG } = await import('../../shared/config/strategy.js');
    const cfg = { ...DEFAULT_ML_CONFIG, model: { ...DEFAULT_ML_CONFIG.model, trees: 5 }, retrain: { ...DEFAULT_ML_CONFIG.retrain, minScoreRows: 5 } };
    const rows = ofStrategy(sliceRun().labelled, 'levels_exhaustion');
    const broken = rows.map((r, i) => (i < 5 ? { ...r, features: { ...r.features, rsi: null } } : r));
    const all = trainCandidate(rows, cfg, 1, Date.UTC(2025, 5, 13));
    const some = trainCandidate(broken, cfg, 1, Date.UTC(2025, 5, 13));
    expect(all.ok && some.ok).toBe(true);
    // the 5 oldest rows are left out (the purge at the holdout boundary may move by one row)
    const total = (r: typeof all) => (r.ok ? r.model.window.trainRows + r.model.window.scoreRows : 0);
    expect(total(some)).toBeLessThan(total(all));
    expect(total(some)).toBeGreaterThanOrEqual(total(all) - 6);
    if (all.ok && some.ok) expect(some.model.window.trainFrom).toBeGreaterThan(all.model.window.trainFrom);
    const none = trainCandidate(rows.map((r) => ({ ...r, features: { ...r.features, rsi: null } })), cfg, 1, Date.UTC(2025, 5, 13));
    expect(none).toEqual({ ok: false, reason: expect.stringMatching(/^no trade has every feature of levels_exhaustion\/1 \(first: trade .+rsi/) });
  });
});

describe('the split-search patch of ml-cart (forest.ts dedupeSplitCandidates)', () => {
  it('builds exactly the trees the library builds itself, on real rows', async () => {
    const { sliceRun } = await import('./helpers.js');
    const { featureVector, FEATURE_SETS } = await import('../../shared/learning/features.js');
    const { isPositive } = await import('../../shared/learning/labels.js');
    const { serializeForest, trainForest, withLibrarySplitSearch } = await import('../../shared/learning/forest.js');
    const { DEFAULT_ML_CONFIG } = await import('../../shared/config/strategy.js');
    for (const strategy of ['levels_exhaustion', 'v52_divergence'] as const) {
      const rows = sliceRun().labelled.filter((r) => r.strategy === strategy);
      const X = rows.map((r) => {
        const v = featureVector({ strategy, direction: r.direction, price: r.price, ts: r.decisionTs, features: r.features }, FEATURE_SETS[strategy]);
        if (!v.ok) throw new Error(v.error);
        return v.values;
      });
      const y = rows.map(isPositive);
      const params = { ...DEFAULT_ML_CONFIG.model, trees: 20 };
      const patched = serializeForest(trainForest(X, y, params));
      const library = withLibrarySplitSearch(() => serializeForest(trainForest(X, y, params)));
      expect(patched, strategy).toBe(library);
    }
  });
});
