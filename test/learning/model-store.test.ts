/**
 * The model store on the embedded SQLite state adapter: a run's writes in one transaction, the model
 * in force replaced only when the rules say so, a feature change pending until the owner approves
 * it, retries (same run id, same version) changing nothing, and bad stored documents refused by path.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DEFAULT_ML_CONFIG as DEFAULTS } from '../../shared/config/strategy.js';

// the kit slice has ~50 trades per strategy: a 25 % scoring slice of ~12 rows (the default minScoreRows 20 is for live volumes)
const DEFAULT_ML_CONFIG = { ...DEFAULTS, retrain: { ...DEFAULTS.retrain, minScoreRows: 5 } };
import { approveFeatureChange, loadCursor, loadModel, saveRun } from '../../shared/learning/model-store.js';
import { decideReplacement, trainCandidate } from '../../shared/learning/training.js';
import { Predictor } from '../../shared/learning/predict.js';
import type { StoredModel } from '../../shared/learning/types.js';
import { learningStatePath, modelPath, modelVersionPath } from '../../shared/state-paths.js';
import { ofStrategy, sliceRun } from './helpers.js';

const NOW = Date.UTC(2025, 5, 12, 12, 0);
let state: SqliteStateStore;
beforeEach(() => {
  state = new SqliteStateStore({ file: ':memory:' });
});
afterEach(async () => {
  await state.close();
});

function candidate(n: number): StoredModel {
  const r = trainCandidate(ofStrategy(sliceRun().labelled, 'levels_exhaustion'), DEFAULT_ML_CONFIG, n, NOW);
  if (!r.ok) throw new Error(r.reason);
  return r.model;
}

async function run(runId: string, c: StoredModel, approved = false) {
  const current = await loadModel(state, 'levels_exhaustion');
  if (!current.ok) throw new Error(current.error);
  const d = decideReplacement(current.value, c, DEFAULT_ML_CONFIG, approved);
  return { d, saved: await saveRun(state, { runId, strategy: 'levels_exhaustion', now: NOW, candidate: c, outcome: d.outcome, replace: d.replace, tradesSeen: 55, lastExitTime: NOW - 1, detail: d.detail }) };
}

describe('model store', () => {
  it('first model: version doc, model in force and cursor in one run; the same run again changes nothing', async () => {
    const c = candidate(1);
    const { d, saved } = await run('r1', c);
    expect(d.outcome).toBe('first_model');
    expect(saved.applied).toBe(true);
    const m = await loadModel(state, 'levels_exhaustion');
    expect(m).toEqual({ ok: true, value: c });
    expect(await state.get(modelVersionPath('levels_exhaustion', 1))).toMatchObject({ version: 'levels_exhaustion@1', outcome: 'first_model', forest: c.forest });
    expect(await loadCursor(state, 'levels_exhaustion')).toEqual({
      ok: true,
      value: { n: 1, lastRunAt: NOW, lastRunId: 'r1', lastOutcome: 'first_model', tradesSeen: 55, lastExitTime: NOW - 1, pending: null },
    });
    const before = JSON.stringify([await state.get(modelPath('levels_exhaustion')), await state.get(learningStatePath('levels_exhaustion'))]);
    expect((await run('r1', c)).saved.applied).toBe(false);
    // Another run id carrying an already-stored version: nothing either.
    expect((await run('r1-retry', c)).saved.applied).toBe(false);
    expect(JSON.stringify([await state.get(modelPath('levels_exhaustion')), await state.get(learningStatePath('levels_exhaustion'))])).toBe(before);
  });

  it('a lower-scoring candidate is stored as metadata only (no forest); the model in force stays', async () => {
    const first = candidate(1);
    await run('r1', { ...first, metrics: { ...first.metrics, score: 0.9 } });
    const second = candidate(2);
    const { d } = await run('r2', second);
    expect(d.outcome).toBe('protected');
    expect((await loadModel(state, 'levels_exhaustion')).ok && ((await loadModel(state, 'levels_exhaustion')) as { value: StoredModel }).value.version).toBe('levels_exhaustion@1');
    const v2 = await state.get<Record<string, unknown>>(modelVersionPath('levels_exhaustion', 2));
    expect(v2).toMatchObject({ version: 'levels_exhaustion@2', outcome: 'protected' });
    expect(v2!.forest).toBeUndefined();
  });

  it('a feature change waits for the owner; approving promotes it once; a second approval changes nothing', async () => {
    await run('r1', candidate(1));
    const changed = { ...candidate(2), featureVersion: 'levels_exhaustion/0' };
    const { d, saved } = await run('r2', changed);
    expect(d.outcome).toBe('features_changed');
    expect(saved.cursor.pending).toEqual({ version: 'levels_exhaustion@2', reason: d.detail });
    expect(await approveFeatureChange(state, 'levels_exhaustion', 'levels_exhaustion@3', NOW)).toEqual({ ok: false, error: expect.stringContaining('levels_exhaustion@2') });
    const ok = await approveFeatureChange(state, 'levels_exhaustion', 'levels_exhaustion@2', NOW + 1);
    expect(ok).toMatchObject({ ok: true, applied: true });
    const m = await loadModel(state, 'levels_exhaustion');
    expect(m).toEqual({ ok: true, value: changed });
    expect((await loadCursor(state, 'levels_exhaustion')).ok && ((await loadCursor(state, 'levels_exhaustion')) as { value: { pending: unknown } }).value.pending).toBeNull();
    expect(await approveFeatureChange(state, 'levels_exhaustion', 'levels_exhaustion@2', NOW + 2)).toMatchObject({ ok: true, applied: false });
    // The promoted model's features are not the code's current set: its predictions say so (probability null).
    const d0 = sliceRun().run.decisions.find((x) => x.strategy === 'levels_exhaustion' && x.decision === 'TAKE')!;
    expect(new Predictor().predict(changed, d0)).toMatchObject({ probability: null, modelVersion: 'levels_exhaustion@2', featureVersion: 'levels_exhaustion/0' });
  });

  it('a bad stored model or cursor is an error naming the path and the issue', async () => {
    await state.set(modelPath('levels_exhaustion'), { version: 'x' });
    const m = await loadModel(state, 'levels_exhaustion');
    expect(m.ok).toBe(false);
    expect(!m.ok && m.error).toMatch(/^models\/levels_exhaustion is not a valid stored document \(.*strategy/);
    await state.set(learningStatePath('levels_exhaustion'), { n: -1 });
    const c = await loadCursor(state, 'levels_exhaustion');
    expect(!c.ok && c.error).toMatch(/^learning\/levels_exhaustion is not a valid stored document/);
    await expect(run('r9', candidate(1))).rejects.toThrow(/models\/levels_exhaustion is not a valid stored document/);
  });
});
