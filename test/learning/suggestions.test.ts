/**
 * Threshold suggestions from a shadow run (shared/learning/suggestions.ts): 30 % of the way toward the
 * best challenger's value, graduated 100 / 50 / 25 % by confidence (trades and outperformance),
 * rounded to 0.05 and clamped into config/ml bounds, nothing below min trades or LOW confidence; the
 * write path (suggestions/{id} + ml_suggestions/{id}, nothing twice on a retried run).
 *
 * The shadow figures are realistic for the default config on the bundled month (10,000 USD equity, a
 * champion with 120 macro trades and +300 USD over 30 days); ShadowResults is the shadow runner's
 * output shape (shared/learning/types.ts), validated here with its schema.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ML_CONFIG, DEFAULT_STRATEGY_CONFIGS, type MlConfig, type StrategyConfigs } from '../../shared/config/strategy.js';
import { shadowResultsSchema, type ShadowPeriodStats, type ShadowResults, type ShadowVariationResult } from '../../shared/learning/types.js';
import {
  confidenceOf,
  localDay,
  outperformancePct,
  proposeFromLatestShadow,
  stepToward,
  storeSuggestions,
  suggestFromShadow,
  suggestionIdOf,
} from '../../shared/learning/suggestions.js';
import { ML_SUGGESTIONS_COLLECTION, mlSuggestionPath, SHADOW_LATEST_PATH, suggestionPath } from '../../shared/state-paths.js';
import type { DocData } from '../../shared/ports/state.js';
import { memoryStore } from '../config/support.js';

const NOW = Date.UTC(2025, 6, 1, 10, 0);
const H = 3_600_000;

/** One period's figures: trades, P&L (USD), win rate and PF as a shadow run reports them. */
function stats(trades: number, pnl: number, winRate = 0.55, profitFactor = 1.3, pValue: number | null = 0.08): ShadowPeriodStats {
  const wins = Math.round(trades * winRate);
  return { trades, wins, winRate: trades ? wins / trades : null, profitFactor, pnl, meanPnlPct: trades ? pnl / trades / 10 : null, pValue };
}

/** A variation with its 30-day figures (the shorter periods scaled down, as a month's run gives them). */
function variation(name: string, overrides: ShadowVariationResult['overrides'], trades30d: number, pnl30d: number, extra: Partial<ShadowPeriodStats> = {}): ShadowVariationResult {
  const p = (share: number) => ({ ...stats(Math.round(trades30d * share), Math.round(pnl30d * share * 100) / 100), ...(share === 1 ? extra : {}) });
  return { name, description: `${name} challenger`, overrides, periods: { '24': p(1 / 30), '72': p(0.1), '168': p(0.25), '720': p(1) } };
}

const CHAMPION = (): ShadowVariationResult => {
  const v = variation('CHAMPION', {}, 120, 300);
  for (const k of Object.keys(v.periods)) (v.periods[k] as ShadowPeriodStats).pValue = null;
  return v;
};

function results(challengers: ShadowVariationResult[], runId = 'shadow_20250701T0200'): ShadowResults {
  return shadowResultsSchema.parse({
    runId,
    ts: NOW,
    from: NOW - 720 * H,
    to: NOW,
    symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    periodsHours: [24, 72, 168, 720],
    significanceP: 0.1,
    variations: [CHAMPION(), ...challengers],
    scans: 129_600,
    wallMs: 41_000,
  });
}

const DCA = 'macro.setups.DCA.dropFromHighPct';
const BREAKOUT = 'macro.setups.SWING.breakoutPct';
const TP_LARGE = 'macro.exits.large_cap.takeProfitPct';
const SL_LARGE = 'macro.exits.large_cap.stopLossPct';
const cfg = DEFAULT_ML_CONFIG;
const current = DEFAULT_STRATEGY_CONFIGS;

describe('outperformance and confidence', () => {
  it('outperformance % = (challenger - champion) / max(|champion|, 1 % of equity) x 100', () => {
    expect(outperformancePct(345, 300, 10_000)).toBeCloseTo(15, 9);
    // a champion near zero: the floor (100 USD on 10,000) keeps +12 USD from being +1200 %
    expect(outperformancePct(13, 1, 10_000)).toBeCloseTo(12, 9);
    expect(outperformancePct(-80, -200, 10_000)).toBeCloseTo(60, 9);
  });

  it('graduated: HIGH 100+ & >10 %, MEDIUM 50+ & >5 %, LOW 30+ & >3 %, else nothing', () => {
    const c = cfg.suggestions.confidence;
    expect(confidenceOf(110, 15, c)).toEqual({ level: 'HIGH', stepShare: 1 });
    expect(confidenceOf(110, 10, c)).toEqual({ level: 'MEDIUM', stepShare: 0.5 }); // > 10 %, not >=
    expect(confidenceOf(99, 40, c)).toEqual({ level: 'MEDIUM', stepShare: 0.5 });
    expect(confidenceOf(60, 4, c)).toEqual({ level: 'LOW', stepShare: 0.25 });
    expect(confidenceOf(29, 40, c)).toBeNull();
    expect(confidenceOf(200, 3, c)).toBeNull();
  });

  it('step: 30 % x share of (optimum - current), rounded to 0.05, clamped into the bounds', () => {
    expect(stepToward(2.5, 4, 0.3, 1, [2, 10])).toBe(2.95); // 2.5 + 0.45
    expect(stepToward(2.5, 4, 0.3, 0.5, [2, 10])).toBe(2.75); // 2.5 + 0.225 -> 2.75
    expect(stepToward(2.5, 4, 0.3, 0.25, [2, 10])).toBe(2.6); // 2.5 + 0.1125 -> 2.6
    expect(stepToward(14.5, 20, 0.3, 1, [2, 15])).toBe(15); // 16.15 clamped
    expect(stepToward(2, 1.5, 0.3, 1, [2, 15])).toBeNull(); // 1.85 clamped back to 2: no change
    expect(stepToward(2.5, 2.55, 0.3, 0.25, [2, 10])).toBeNull(); // 0.00375 rounds to nothing
  });
});

describe('suggestFromShadow', () => {
  it('HIGH confidence: the full 30 % step toward the challenger, with before/after and the evidence', () => {
    const r = results([variation('DCA_DROP_4', { [DCA]: 4 }, 110, 345, { pValue: 0.042 })]);
    const [s, ...rest] = suggestFromShadow(r, current, cfg, NOW);
    expect(rest).toEqual([]);
    expect(s).toMatchObject({
      id: suggestionIdOf(r.runId, DCA),
      key: DCA,
      document: 'config/macro',
      field: 'setups.DCA.dropFromHighPct',
      before: 2.5,
      after: 2.95,
      optimum: 4,
      strategies: ['dca'],
      evidence: { variation: 'DCA_DROP_4', periodHours: 720, trades: 110, pnl: 345, outperformancePct: 15, pValue: 0.042, significant: true, confidence: 'HIGH', stepShare: 1 },
    });
    expect(s?.evidence.champion).toMatchObject({ trades: 120, pnl: 300 });
    expect(s?.summary).toContain('p=0.042');
  });

  it('MEDIUM moves half the step, LOW a quarter; below LOW, or not beating the champion, nothing', () => {
    const one = (trades: number, pnl: number) => suggestFromShadow(results([variation('DCA_DROP_4', { [DCA]: 4 }, trades, pnl)]), current, cfg, NOW);
    expect(one(60, 320).map((s) => [s.after, s.evidence.confidence])).toEqual([[2.75, 'MEDIUM']]); // +6.7 %
    expect(one(35, 312).map((s) => [s.after, s.evidence.confidence])).toEqual([[2.6, 'LOW']]); // +4 %
    expect(one(35, 306)).toEqual([]); // +2 %: below LOW's 3 %
    expect(one(25, 420)).toEqual([]); // +40 % on 25 trades: below LOW's 30 trades
    expect(one(150, 280)).toEqual([]); // worse than the champion
  });

  it('min trades: a challenger below suggestions.minTrades in every period gives nothing', () => {
    const r = results([variation('BREAKOUT_2', { [BREAKOUT]: 2 }, 40, 330)]);
    expect(suggestFromShadow(r, current, cfg, NOW).map((s) => [s.key, s.after])).toEqual([[BREAKOUT, 1.1]]); // LOW (40 trades): 1 + 0.075 = 1.075 -> 1.1
    const strict: MlConfig = { ...cfg, suggestions: { ...cfg.suggestions, minTrades: 50 } };
    expect(suggestFromShadow(r, current, strict, NOW)).toEqual([]);
  });

  it('the best challenger (highest outperformance) is the optimum; clamped into the bounds; failed variations ignored', () => {
    const near: StrategyConfigs = structuredClone(current);
    near.macro.exits.large_cap.stopLossPct = 14.5;
    const r = results([
      variation('WIDE_EXITS', { [TP_LARGE]: 3, [SL_LARGE]: 20 }, 130, 345), // +15 %
      variation('QUICK_EXITS', { [TP_LARGE]: 1.6 }, 140, 375), // +25 %: the TP optimum
      { ...variation('BROKEN', { [TP_LARGE]: 9 }, 200, 900), periods: {}, error: 'bad override' },
    ]);
    const out = suggestFromShadow(r, near, cfg, NOW);
    expect(out.map((s) => [s.key, s.before, s.after, s.optimum, s.evidence.variation])).toEqual([
      [SL_LARGE, 14.5, 15, 20, 'WIDE_EXITS'], // 14.5 + 0.3 x 5.5 = 16.15, clamped to the SL bound 15
      [TP_LARGE, 2, 1.9, 1.6, 'QUICK_EXITS'], // 2 - 0.3 x 0.4 = 1.88 -> 1.9
    ]);
    // the evidence names everything the challenger changed
    expect(out[0]?.evidence.overrides).toEqual({ [TP_LARGE]: 3, [SL_LARGE]: 20 });
    expect(out[0]?.tier).toBe('large_cap');
    // with the default SL (2, the bound), a tighter challenger's stop clamps back to 2: nothing
    const tight = results([variation('CONSERVATIVE', { [SL_LARGE]: 1.5 }, 130, 400)]);
    expect(suggestFromShadow(tight, current, cfg, NOW)).toEqual([]);
  });
});

describe('a value in force outside the bounds', () => {
  it('gets no step (the clamp would move it away from the evidence)', () => {
    // SL 1.5 % (below the 2-15 bound, an owner edit), best challenger 1.2: clamping would give 2.0
    expect(stepToward(1.5, 1.2, 0.3, 1, [2, 15])).toBeNull();
    expect(stepToward(2.5, 1.2, 0.3, 1, [2, 15])).toBe(2.1);
  });
});

describe('what is not evidence for a threshold', () => {
  it('a challenger that also changes the risk or the ML filter, or that is worse per trade, suggests nothing', () => {
    // AGGRESSIVE: +15 % P&L, but it also risks 0.75 % per scalp: the gap is not the stop's
    expect(suggestFromShadow(results([variation('AGGRESSIVE', { 'risk.scalp.perTradeRiskPct': 0.75, [SL_LARGE]: 3 }, 130, 345)]), current, cfg, NOW)).toEqual([]);
    expect(suggestFromShadow(results([variation('CONSERVATIVE', { 'ml.mode': 'filter', [SL_LARGE]: 3 }, 130, 345)]), current, cfg, NOW)).toEqual([]);
    // more P&L (+33 %) from fewer trades but a worse mean per trade (the kit month's CONSERVATIVE)
    const worse = variation('TIGHT', { [SL_LARGE]: 3 }, 130, 400, { meanPnlPct: 0.1 });
    expect(suggestFromShadow(results([worse]), current, cfg, NOW)).toEqual([]);
    // the same challenger no worse per trade: suggested
    expect(suggestFromShadow(results([variation('TIGHT', { [SL_LARGE]: 3 }, 130, 400)]), current, cfg, NOW).map((x) => x.key)).toEqual([SL_LARGE]);
  });
});

describe('storeSuggestions', () => {
  it('writes suggestions/{id} with its changes and the bot item ml_suggestions/{id}; a retried run writes nothing twice', async () => {
    const state = memoryStore();
    const r = results([variation('DCA_DROP_4', { [DCA]: 4 }, 110, 345), variation('BREAKOUT_2', { [BREAKOUT]: 2 }, 104, 352)]);
    const sg = suggestFromShadow(r, current, cfg, NOW);
    expect(sg.map((s) => [s.id, s.key, s.after])).toEqual([
      [suggestionIdOf(r.runId, DCA), DCA, 2.95],
      [suggestionIdOf(r.runId, BREAKOUT), BREAKOUT, 1.3],
    ]);
    expect((await storeSuggestions(state, sg)).created).toHaveLength(2);
    expect((await storeSuggestions(state, suggestFromShadow(r, current, cfg, NOW + 60_000))).created).toEqual([]);
    const id = suggestionIdOf(r.runId, DCA);
    expect(await state.get(suggestionPath(id))).toMatchObject({
      status: 'pending',
      kind: 'learning_threshold',
      createdAt: NOW,
      changes: [{ key: DCA, document: 'config/macro', field: 'setups.DCA.dropFromHighPct', before: 2.5, after: 2.95 }],
    });
    expect(await state.get(mlSuggestionPath(id))).toMatchObject({ id, strategy: 'macro', parameter: DCA, current: 2.5, suggested: 2.95, status: 'pending', createdAt: NOW });
    expect(suggestionIdOf(r.runId, DCA)).not.toBe(suggestionIdOf('shadow_20250702T0200', DCA));
    expect(`sa:${id}`.length).toBeLessThanOrEqual(64);
  });

  it('the next day\'s suggestion for the same key supersedes a pending one; one the owner decided stays decided', async () => {
    const state = memoryStore();
    const day1 = results([variation('DCA_DROP_4', { [DCA]: 4 }, 110, 345), variation('BREAKOUT_2', { [BREAKOUT]: 2 }, 104, 352)], 'shadow_20250701T0200');
    await storeSuggestions(state, suggestFromShadow(day1, current, cfg, NOW));
    const dcaDay1 = suggestionIdOf(day1.runId, DCA);
    const brDay1 = suggestionIdOf(day1.runId, BREAKOUT);
    await state.merge(mlSuggestionPath(brDay1), { status: 'approved' }); // the owner decided it
    const day2 = results([variation('DCA_DROP_4', { [DCA]: 4 }, 112, 350), variation('BREAKOUT_2', { [BREAKOUT]: 2 }, 104, 352)], 'shadow_20250702T0200');
    await storeSuggestions(state, suggestFromShadow(day2, current, cfg, NOW + 24 * H));
    const dcaDay2 = suggestionIdOf(day2.runId, DCA);
    expect(await state.get(mlSuggestionPath(dcaDay1))).toMatchObject({ status: 'superseded', supersededBy: dcaDay2 });
    expect(await state.get(suggestionPath(dcaDay1))).toMatchObject({ status: 'superseded', supersededBy: dcaDay2 });
    expect(await state.get(mlSuggestionPath(dcaDay2))).toMatchObject({ status: 'pending' });
    expect(await state.get(mlSuggestionPath(brDay1))).toMatchObject({ status: 'approved' });
    const pending = await state.query(ML_SUGGESTIONS_COLLECTION, { where: [{ field: 'status', op: '==', value: 'pending' }] });
    expect(pending.map((d) => d.id).sort()).toEqual([dcaDay2, suggestionIdOf(day2.runId, BREAKOUT)].sort());
  });

  it('proposeFromLatestShadow: reads shadow/latest (validated), stores what it supports once; a bad document is refused with its reason', async () => {
    const state = memoryStore();
    expect(await proposeFromLatestShadow(state, current, NOW)).toEqual({ runId: null, suggestions: [], created: [] });
    const r = results([variation('DCA_DROP_4', { [DCA]: 4 }, 110, 345)]);
    await state.set(SHADOW_LATEST_PATH, r as unknown as DocData);
    const first = await proposeFromLatestShadow(state, current, NOW);
    expect([first.runId, first.created]).toEqual([r.runId, [suggestionIdOf(r.runId, DCA)]]);
    expect((await proposeFromLatestShadow(state, current, NOW + 1)).created).toEqual([]);
    await state.set(SHADOW_LATEST_PATH, { ...r, variations: 'none' } as unknown as DocData);
    await expect(proposeFromLatestShadow(state, current, NOW)).rejects.toThrow(/shadow\/latest is not a valid shadow result \(variations: .*run the shadow test again/);
  });

  it('the day of the daily limit is the Los Angeles calendar day', () => {
    expect(localDay(Date.parse('2025-06-12T06:59:00Z'))).toBe('2025-06-11');
    expect(localDay(Date.parse('2025-06-12T07:00:00Z'))).toBe('2025-06-12');
    expect(localDay(Date.parse('2025-12-12T07:59:00Z'))).toBe('2025-12-11'); // PST
  });
});
