/**
 * The retraining run (shared/learning/retrain.ts) end to end on real trades: the paper_trades rows a
 * real backtest of the kit slice booked, in the embedded warehouse (DuckDB), the state in SQLite with
 * real transactions. First run -> first models; a retried run (same id) writes nothing twice; too few
 * new trades -> not trained; a shadow CHAMPION copy of a paper trade is one labelled trade; an
 * unreadable stored model is never overwritten.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ML_CONFIG } from '../../shared/config/strategy.js';
import { championShadowLots, labelledTradesOf, retrainStrategies } from '../../shared/learning/retrain.js';
import { modelPath } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { captureLog } from '../bus/helpers.js';
import { approveModelFeatureChange, modelApprovalKeyboard } from '../../shared/telegram/research.js';
import { decodeCallback } from '../../shared/telegram/keyboards.js';
import { sliceRun } from './helpers.js';

const NOW = Date.UTC(2025, 5, 12, 9, 0);
const cfg = structuredClone(DEFAULT_ML_CONFIG);
cfg.model.trees = 15;
cfg.retrain.minScoreRows = 5; // the kit slice has ~50 trades per strategy: a 25 % scoring slice of ~12 rows (the default minScoreRows 20 is for live volumes)

let state: SqliteStateStore;
let warehouse: DuckDbWarehouse;
beforeEach(async () => {
  state = new SqliteStateStore({ file: ':memory:' });
  warehouse = new DuckDbWarehouse({ file: ':memory:' });
  await warehouse.ensureSchema();
  await warehouse.insert('paper_trades', sliceRun().run.trades.flatMap((t) => t.rows));
});
afterEach(async () => {
  await warehouse.close();
  await state.close();
});

describe('retrainStrategies', () => {
  it('trains the first model of each scalp strategy with enough trades; a retry of the same run stores nothing twice', async () => {
    const { log } = captureLog();
    const deps = { state, warehouse, log };
    const strategies = ['v52_divergence', 'levels_exhaustion', 'dca'] as const;
    const r1 = await retrainStrategies(deps, cfg, { runId: 'retrain:2025-06-12', now: NOW, strategies });
    expect(r1.failed).toEqual([]);
    const by = Object.fromEntries(r1.runs.map((r) => [r.run.strategy, r]));
    expect(by.v52_divergence?.run).toMatchObject({ outcome: 'first_model', replaced: true, modelVersion: 'v52_divergence@1', previous: null });
    expect(by.levels_exhaustion?.run).toMatchObject({ outcome: 'first_model', replaced: true, modelVersion: 'levels_exhaustion@1' });
    expect(by.dca?.run).toMatchObject({ outcome: 'not_enough_trades', replaced: false, newTrades: 0 });
    // as of NOW: the trades that closed later (the slice runs to 11:59) are not known yet
    const v52 = sliceRun().run.trades.filter((t) => t.strategy === 'v52_divergence');
    expect(by.v52_divergence?.labelled).toBe(v52.filter((t) => t.exitTime <= NOW).length);
    expect(by.v52_divergence?.labelled).toBeLessThan(v52.length);
    expect(await state.get(modelPath('v52_divergence'))).toMatchObject({ version: 'v52_divergence@1' });
    const rows = await warehouse.rows('model_runs');
    expect(rows.map((r) => r.run_id).sort()).toEqual(['retrain:2025-06-12:dca', 'retrain:2025-06-12:levels_exhaustion', 'retrain:2025-06-12:v52_divergence']);

    const r2 = await retrainStrategies(deps, cfg, { runId: 'retrain:2025-06-12', now: NOW + 60_000, strategies });
    expect(r2.runs.map((r) => r.stored)).toEqual([false, false, false]);
    expect(await warehouse.rows('model_runs')).toHaveLength(3);
    expect(await state.get(modelPath('v52_divergence'))).toMatchObject({ version: 'v52_divergence@1', trainedAt: NOW });

    // the next day: no new trade -> not trained; forced -> candidate 2 decided by the rules
    const r3 = await retrainStrategies(deps, cfg, { runId: 'retrain:2025-06-13', now: NOW + 86_400_000, strategies: ['v52_divergence'] });
    // the day after: only the few trades that closed after NOW are new
    expect(r3.runs[0]?.run).toMatchObject({ outcome: 'not_enough_trades', newTrades: v52.length - v52.filter((t) => t.exitTime <= NOW).length, modelVersion: 'v52_divergence@1' });
    const r4 = await retrainStrategies(deps, cfg, { runId: 'manual:1', now: NOW, strategies: ['v52_divergence'], force: true });
    expect(r4.runs[0]?.run.modelVersion).toBe('v52_divergence@2');
    // forced, as of NOW again: the same rows and seed train the same forest: the same score, not lower -> replaced
    expect(r4.runs[0]?.run).toMatchObject({ outcome: 'replaced', replaced: true, previous: { version: 'v52_divergence@1' } });
  });

  it('a shadow CHAMPION copy of a traded scan is one labelled trade; challengers are not training data', async () => {
    const t = sliceRun().run.trades.find((x) => x.strategy === 'v52_divergence')!;
    const row = t.rows[0]!;
    const shadow = (run: string, variation: string) => ({
      run_id: run, variation, trade_group_id: t.groupId, signal_id: t.signalId, strategy: t.strategy, symbol: t.symbol, direction: t.direction,
      entry_time: t.entryTime, exit_time: t.exitTime, avg_entry: t.avgEntry, exit_price: t.exitPrice, qty: t.qty, fees: t.fees, slippage: t.slippage ?? 0,
      pnl: t.pnl, pnl_pct: t.pnlPct, exit_reason: t.exitReason, outcome: t.pnl > 0 ? 'WIN' : 'LOSS', ml_probability: null, features: row.features,
    });
    await warehouse.insert('shadow_trades', [shadow('shadow-2025-06-11', 'CHAMPION'), shadow('shadow-2025-06-12', 'CHAMPION'), shadow('shadow-2025-06-12', 'AGGRESSIVE')]);
    expect(championShadowLots(await warehouse.strategyRows('shadow_trades', 'v52_divergence'))).toHaveLength(1);
    const before = (await labelledTradesOf(warehouse, 'v52_divergence')).trades;
    expect(before.filter((x) => x.signalId === t.signalId)).toEqual([expect.objectContaining({ source: 'paper', pnl: t.pnl })]);
    expect(before).toHaveLength(sliceRun().run.trades.filter((x) => x.strategy === 'v52_divergence').length);
  });

  it('an unreadable stored model (it predicts nothing) is replaced by a trained candidate, and the run says so', async () => {
    await state.set(modelPath('v52_divergence'), { version: 'broken' });
    const { log } = captureLog();
    const r = await retrainStrategies({ state, warehouse, log }, cfg, { runId: 'retrain:x', now: NOW, strategies: ['v52_divergence'] });
    expect(r.runs[0]?.run).toMatchObject({ outcome: 'first_model', replaced: true, previous: null });
    expect(r.runs[0]?.run.detail).toContain('replaces an unreadable stored model (models/v52_divergence is not a valid stored document');
    expect(await state.get(modelPath('v52_divergence'))).toMatchObject({ version: 'v52_divergence@1' });
  });

  it('a candidate whose features differ is kept out and waits; /models offers the owner the button; the tap puts it in force', async () => {
    const { log } = captureLog();
    const deps = { state, warehouse, log };
    await retrainStrategies(deps, cfg, { runId: 'd1', now: NOW, strategies: ['v52_divergence'] });
    // the model in force was trained on an older feature set (as after a feature-set upgrade)
    const inForce = (await state.get(modelPath('v52_divergence'))) as Record<string, unknown>;
    await state.set(modelPath('v52_divergence'), { ...inForce, featureVersion: 'v52_divergence/0', features: ['rsi'] });
    expect(await modelApprovalKeyboard(state)).toBeUndefined();
    const r = await retrainStrategies(deps, cfg, { runId: 'd2', now: NOW + 1, strategies: ['v52_divergence'], force: true });
    expect(r.runs[0]?.run).toMatchObject({ outcome: 'features_changed', replaced: false, modelVersion: 'v52_divergence@2' });
    expect(await state.get(modelPath('v52_divergence'))).toMatchObject({ featureVersion: 'v52_divergence/0' });
    const kb = await modelApprovalKeyboard(state);
    const cand = r.runs[0]!.run.metrics!.score.toFixed(2);
    const inForceScore = (inForce as { metrics: { score: number } }).metrics.score.toFixed(2);
    expect(kb).toEqual([[{ text: `✅ Approve v52_divergence@2 (new features, score ${cand} vs ${inForceScore} in force)`, callback_data: 'ma:v52_divergence@2' }]]);
    expect(decodeCallback('ma:v52_divergence@2')).toEqual({ kind: 'model_approve', version: 'v52_divergence@2' });
    expect(decodeCallback('ma:../x')).toBeNull();
    expect(await approveModelFeatureChange(state, 'nope@2', NOW + 2)).toMatchObject({ ok: false });
    const a = await approveModelFeatureChange(state, 'v52_divergence@2', NOW + 2);
    expect(a).toMatchObject({ ok: true, applied: true });
    expect(await state.get(modelPath('v52_divergence'))).toMatchObject({ version: 'v52_divergence@2', featureVersion: 'v52_divergence/1' });
    expect(await approveModelFeatureChange(state, 'v52_divergence@2', NOW + 3)).toMatchObject({ ok: true, applied: false });
    expect(await modelApprovalKeyboard(state)).toBeUndefined();
  });
});
