/**
 * Walk-forward learning in the backtest (shared/backtest/learning.ts): models retrained at 02:00
 * America/Los_Angeles on the backtest clock from the ML-off run's trades, each decision predicted by
 * the model in force at its time, the filter applied by the trading core. On the repository's slice
 * of the kit (REAL BTC/ETH/SOL 1m candles, 2025-06-06 22:00 -> 2025-06-12 12:00 UTC), both scalp
 * strategies emitting. The swing hook (MACRO slots) is checked with a fixed predictor on the kit's
 * month (gated on the data kit).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket, type BacktestMarket } from '../../shared/backtest/market.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { labelledTrades, RETRAIN_CRON, RETRAIN_TIME_ZONE, retrainInstants, runWithLearning, type LearningResult } from '../../shared/backtest/learning.js';
import type { ScanDecision } from '../../shared/model/trading.js';
import { parseSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';
import { withKit } from '../kit.js';
import { HOUR, kitMacroSeries, KIT_DIR, kitSeries, MACRO_KIT_FILES, MIN, slice, SYMBOLS } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function strategies(mode: 'advisory' | 'filter'): StrategyConfigs {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  s.ml = { ...s.ml, mode, minConfidence: 0.5, retrain: { ...s.ml.retrain, minScoreRows: 5 } }; // the kit slice has ~50 trades per strategy: a 25 % scoring slice of ~12 rows (the default minScoreRows 20 is for live volumes)
  return s;
}

describe('the retraining instants', () => {
  it('are the production retrain job\'s schedule (scheduler.yaml)', () => {
    const job = parseSchedule(readFileSync(join(ROOT, SCHEDULER_YAML), 'utf8')).jobs.find((j) => j.name === 'retrain');
    expect(job).toBeDefined();
    expect([job?.schedule, job?.timeZone]).toEqual([RETRAIN_CRON, RETRAIN_TIME_ZONE]);
  });

  it('fall at 02:00 America/Los_Angeles, across the daylight-saving change', () => {
    const from = Date.UTC(2025, 9, 31, 12, 0);
    const to = Date.UTC(2025, 10, 3, 12, 0);
    expect(retrainInstants(from, to).map((t) => new Date(t).toISOString())).toEqual(['2025-11-01T09:00:00.000Z', '2025-11-02T10:00:00.000Z', '2025-11-03T10:00:00.000Z']);
  });
});

describe('walk-forward learning on the kit slice (real BTC/ETH/SOL 1m)', () => {
  let market: BacktestMarket;
  let filter: LearningResult;
  let advisory: LearningResult;

  beforeAll(() => {
    market = createMarket({ series: SYMBOLS.map((s) => kitSeries(s)) });
    filter = runWithLearning(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies('filter') });
    advisory = runWithLearning(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies('advisory') });
  }, 120_000);

  it('trains on the backtest clock with the production rules: models kept, versions counted per strategy', () => {
    expect(filter.retrainInstants.length).toBe(6);
    const kept = filter.timeline.filter((t) => t.replaced);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(new Set(kept.map((t) => t.strategy))).toEqual(new Set(['v52_divergence', 'levels_exhaustion']));
    for (const s of ['v52_divergence', 'levels_exhaustion']) {
      const versions = filter.timeline.filter((t) => t.strategy === s && t.version !== null).map((t) => t.version);
      expect(versions).toEqual(versions.map((_, i) => `${s}@${i + 1}`));
    }
    for (const t of filter.timeline) expect(t.newTrades).toBeGreaterThanOrEqual(DEFAULT_STRATEGY_CONFIGS.ml.retrain.minNewTrades);
  });

  it('no model ever trained on a trade closing after the decision it predicts', () => {
    const { byStrategy } = labelledTrades(filter.unfiltered);
    const training = new Map(filter.timeline.filter((t) => t.version !== null).map((t) => [t.version as string, t]));
    const predicted: ScanDecision[] = [...filter.run.decisions, ...filter.run.swingDecisions].filter((d) => d.ml !== undefined);
    expect(predicted.length).toBeGreaterThan(50);
    for (const d of predicted) {
      const t = training.get(d.ml?.modelVersion as string);
      expect(t, `${d.signalId}: predicted by ${d.ml?.modelVersion}, which no training produced`).toBeDefined();
      if (!t) continue;
      expect(t.ts).toBeLessThan(d.ts);
      // exactly the strategy's trades closed before the instant, and the latest of them closed before the decision
      const closedBefore = (byStrategy.get(t.strategy) ?? []).filter((r) => r.exitTime < t.ts);
      expect(t.trades).toBe(closedBefore.length);
      expect(t.latestExit).toBe(Math.max(...closedBefore.map((r) => r.exitTime)));
      expect(t.latestExit as number).toBeLessThan(d.ts);
      // the model in force at the decision: the latest kept before it
      const inForce = filter.inForce.filter((m) => m.model.strategy === d.strategy && m.from < d.ts).at(-1);
      expect(inForce?.model.version).toBe(d.ml?.modelVersion);
    }
  });

  it('filter mode: the trading core refuses the signals below minConfidence (ml_filter) and passes the others', () => {
    const scans = new Map(filter.run.decisions.map((d) => [d.signalId, d]));
    const refused = filter.run.signals.filter((s) => s.reason === 'ml_filter');
    expect(refused.length).toBeGreaterThan(0);
    for (const s of refused) expect(scans.get(s.signalId)?.ml?.probability as number).toBeLessThan(0.5);
    const passed = filter.run.signals.filter((s) => s.accepted && scans.get(s.signalId)?.ml !== undefined);
    expect(passed.length).toBeGreaterThan(0);
    for (const s of passed) expect(scans.get(s.signalId)?.ml?.probability as number).toBeGreaterThanOrEqual(0.5);
    const on = filter.figures.on.reduce((a, f) => a + f.mlFilter, 0);
    expect(on).toBe(refused.length);
  });

  it('pass 1 is the ML-off run, and the training data in both modes: advisory records the same predictions and changes no trade', () => {
    const off = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies('advisory') }, {});
    const ids = (ts: readonly { groupId: string; pnl: number }[]) => ts.map((t) => `${t.groupId}|${t.pnl}`);
    expect(ids(filter.unfiltered.trades)).toEqual(ids(off.trades));
    expect(ids(advisory.run.trades)).toEqual(ids(off.trades));
    expect(advisory.timeline).toEqual(filter.timeline);
    expect(advisory.run.signals.some((s) => s.reason === 'ml_filter')).toBe(false);
    const p = (r: LearningResult) => r.run.decisions.filter((d) => d.ml).map((d) => `${d.signalId}|${d.ml?.probability}`);
    expect(p(advisory).length).toBeGreaterThan(0);
    // the same scans predicted alike (filter mode may see other scans only through other trades: none, decisions do not depend on trades)
    expect(p(advisory)).toEqual(p(filter));
  });
});

describe('the swing hook (MACRO slots): predictions on swing scans and their signals', () => {
  const kit = withKit("every swing TAKE carries its scan's prediction to the core, which refuses it in filter mode", ...MACRO_KIT_FILES);
  it.skipIf(kit.skip)(kit.title, () => {
    const from = Date.UTC(2025, 5, 20, 0, 0);
    const to = from + 4 * 24 * HOUR - MIN;
    const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), from - 80 * HOUR, to)), from, to });
    const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
    s.ml = { ...s.ml, mode: 'filter' };
    const swing = new Set(['dca', 'swing_breakout', 'channel']);
    const predict = (d: ScanDecision) => (swing.has(d.strategy) ? { probability: 0.25, modelVersion: `${d.strategy}@1`, featureVersion: 'test' } : undefined);
    const r = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: s }, { macroSeries: kitMacroSeries(), predict });
    const takes = r.swingDecisions.filter((d) => d.decision === 'TAKE');
    expect(takes.length).toBeGreaterThan(0);
    for (const d of r.swingDecisions) expect(d.ml !== undefined).toBe(d.decision !== 'SKIP');
    const swingSignals = r.signals.filter((x) => swing.has(x.strategy));
    expect(swingSignals.length).toBe(r.macro?.swingSignals);
    expect(swingSignals.length).toBeGreaterThan(0);
    expect(new Set(swingSignals.map((x) => x.reason))).toEqual(new Set(['ml_filter']));
  }, 120_000);
});

describe('walkForwardModels counts new trades as production does', () => {
  it('an untrainable instant leaves its trades new: the next instant tries again (production keeps its cursor)', async () => {
    const { sliceRun } = await import('../learning/helpers.js');
    const { walkForwardModels } = await import('../../shared/backtest/learning.js');
    const v52 = sliceRun().labelled.filter((t) => t.strategy === 'v52_divergence').sort((a, b) => a.exitTime - b.exitTime);
    const ml = structuredClone(DEFAULT_STRATEGY_CONFIGS.ml);
    ml.retrain.minNewTrades = 20;
    ml.retrain.minTrainRows = 30;
    ml.retrain.minScoreRows = 5;
    // T1: 30 trades closed (too few training rows: untrainable); T2: 40 closed, only 10 after T1
    const t1 = (v52[29] as { exitTime: number }).exitTime + 1;
    const t2 = (v52[39] as { exitTime: number }).exitTime + 1;
    const { timeline } = walkForwardModels(new Map([['v52_divergence', v52]]), [t1, t2], ml);
    expect(timeline.map((t) => [t.ts, t.outcome, t.newTrades])).toEqual([
      [t1, 'untrainable', 30],
      [t2, expect.any(String), 40],
    ]);
  });
});
