import { describe, expect, it } from 'vitest';
import { CONFIG_DOC_NAMES, CONFIG_DOCUMENTS } from '../../shared/config/documents.js';
import {
  DEFAULT_LEVELS_EXHAUSTION_CONFIG,
  DEFAULT_MACRO_CONFIG,
  DEFAULT_PAPER_CONFIG,
  DEFAULT_PROTECTIONS_CONFIG,
  macroConfigSchema,
  mlConfigSchema,
  DEFAULT_ML_CONFIG,
  protectionsConfigSchema,
} from '../../shared/config/strategy.js';

describe('config documents registry', () => {
  it('every document lives under config/ and its defaults validate unchanged', () => {
    for (const name of CONFIG_DOC_NAMES) {
      const d = CONFIG_DOCUMENTS[name];
      expect(d.path).toBe(`config/${name}`);
      // Round-trips through JSON (what the store keeps) and validates to itself.
      const stored = JSON.parse(JSON.stringify(d.defaults));
      expect(d.schema.parse(stored)).toEqual(d.defaults);
    }
  });

  it('defaults carry the SPEC numbers', () => {
    const m = DEFAULT_MACRO_CONFIG;
    expect(m.biasTtlMs).toBe(4 * 3_600_000);
    expect(m.setups.DCA).toMatchObject({ dropFromHighPct: 2.5, gridOrders: 5, gridSpacingPct: 1, timeExitMs: 72 * 3_600_000, blockedRegimes: ['PANIC'] });
    expect(m.setups.SWING).toMatchObject({ breakoutPct: 1, minVolumeRatio: 1.3, rsiMin: 60, timeExitMs: 48 * 3_600_000 });
    expect(m.setups.CHANNEL).toMatchObject({ entryZonePct: 10, minStrength: 0.75 });
    expect(m.exits.mid_cap).toEqual({ takeProfitPct: 2.5, stopLossPct: 2.5, trailingPct: 0.7 });
    expect(m.costs).toEqual({ slippagePct: { large_cap: 0.15, mid_cap: 0.25, small_cap: 0.5, memecoin: 0.5 } });
    // SPEC 5: Bybit linear 0.02 % maker / 0.055 % taker, Kraken spot 0.25 % / 0.40 %; the plans' flat figures kept as `conservative`
    expect(DEFAULT_PAPER_CONFIG.costs).toEqual({
      profile: 'maker_taker',
      bybit: { makerPct: 0.02, takerPct: 0.055 },
      kraken: { makerPct: 0.25, takerPct: 0.4 },
      conservative: { scalpPctPerSide: 0.06, swingPctPerSide: 0.3 },
      scalpSlippagePct: 0.02,
    });
    const l = DEFAULT_LEVELS_EXHAUSTION_CONFIG;
    expect(l.levels.horizontal).toMatchObject({ interval: '15m', lookbackCandles: 120, minTouches: 3, clusterPct: 0.25, touchPct: 0.1 });
    expect(l.levels.trendLines).toMatchObject({ maxSwings: 200, minRSquared: 0.7 });
    expect(l.exhaustion.rsi).toEqual({ period: 7, overbought: 80, oversold: 20 });
    expect(l.exhaustion.lowVolume).toEqual({ emaPeriod: 20, maxRatio: 0.75 });
    expect(l.exits.fixed).toEqual({ takeProfitPct: 0.5, stopLossPct: 0.3 });
    const p = DEFAULT_PROTECTIONS_CONFIG;
    expect(p.tradeLimiter.cooldownMs.memecoin).toBe(24 * 3_600_000);
    expect(p.adaptiveStops.capPct).toEqual({ large_cap: 10, mid_cap: 12, small_cap: 15, memecoin: 15 });
    expect(p.volatilityDisable.CHANNEL).toMatchObject({ disableAbovePct: 8, enableBelowPct: 6 });
  });

  it('rejects inconsistent values with field paths', () => {
    const weights = structuredClone(DEFAULT_MACRO_CONFIG);
    weights.bias.components.volume.weight = 0.3;
    const r = macroConfigSchema.safeParse(weights);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['bias', 'components'], message: 'weights must sum to 1 (they sum to 1.15)' });

    const hyst = structuredClone(DEFAULT_PROTECTIONS_CONFIG);
    hyst.volatilityDisable.CHANNEL!.enableBelowPct = 9;
    expect(protectionsConfigSchema.safeParse(hyst).error!.issues[0]!.path).toEqual(['volatilityDisable', 'CHANNEL', 'enableBelowPct']);

    const ml = structuredClone(DEFAULT_ML_CONFIG);
    ml.suggestions.bounds.takeProfitPct = [20, 1];
    expect(mlConfigSchema.safeParse(ml).success).toBe(false);
  });
});

describe('default shadow challengers (config/ml shadow.variations)', () => {
  it('each applies onto the default configs (existing keys, values the documents accept) and changes something', async () => {
    const { applyOverrides } = await import('../../shared/backtest/config.js');
    const { DEFAULT_STRATEGY_CONFIGS } = await import('../../shared/config/strategy.js');
    expect(DEFAULT_ML_CONFIG.shadow.variations).toHaveLength(8);
    for (const v of DEFAULT_ML_CONFIG.shadow.variations) {
      const c = applyOverrides(DEFAULT_STRATEGY_CONFIGS, v.overrides);
      expect(c, v.name).not.toEqual(DEFAULT_STRATEGY_CONFIGS);
    }
  });

  it('names are unique, CHAMPION is reserved, an override path must look like a key path', () => {
    const base = structuredClone(DEFAULT_ML_CONFIG);
    const dup = structuredClone(base);
    dup.shadow.variations.push({ ...dup.shadow.variations[0]! });
    expect(mlConfigSchema.safeParse(dup).error?.issues[0]?.message).toMatch(/duplicate variation name AGGRESSIVE/);
    const champ = structuredClone(base);
    champ.shadow.variations[0]!.name = 'CHAMPION';
    expect(mlConfigSchema.safeParse(champ).success).toBe(false);
    const badPath = structuredClone(base);
    badPath.shadow.variations[0]!.overrides = { 'risk': 1 };
    expect(mlConfigSchema.safeParse(badPath).success).toBe(false);
  });
});

describe('shadow variation override keys are checked at the edit', () => {
  it('a typo in a key path is refused with the path; an object (not a leaf) too', () => {
    const typo = structuredClone(DEFAULT_ML_CONFIG);
    typo.shadow.variations[0]!.overrides = { 'macro.exit.large_cap.takeProfitPct': 3 };
    const e = mlConfigSchema.safeParse(typo).error?.issues[0];
    expect(e?.message).toBe('macro.exit.large_cap.takeProfitPct is not a config key (e.g. macro.exits.large_cap.takeProfitPct)');
    const branch = structuredClone(DEFAULT_ML_CONFIG);
    branch.shadow.variations[0]!.overrides = { 'macro.exits.large_cap': 3 };
    expect(mlConfigSchema.safeParse(branch).success).toBe(false);
    const proto = structuredClone(DEFAULT_ML_CONFIG);
    proto.shadow.variations[0]!.overrides = { 'macro.constructor.name': 3 };
    expect(mlConfigSchema.safeParse(proto).success).toBe(false);
  });
});
