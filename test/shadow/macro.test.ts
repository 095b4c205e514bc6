/**
 * The shadow run with the MACRO engine on the data kit's REAL candles (BTC/ETH/SOL 1m + the Kraken-venue
 * 5m / 15m / 1h / 4h the month replay feeds it), 2025-06-22 00:00 -> 06-23 23:59 UTC (swing trades of
 * DCA and CHANNEL close in it): the swing challengers (exits, time exits, the DCA drop) share the
 * bias of the champion's MACRO timeline (shared/backtest/macro.ts memoises it per data object and
 * bias config), and each one's trades are EXACTLY those of a plain backtest of its config on data
 * objects of its own (nothing memoised shared), swing trades included.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, DEFAULT_SHADOW_VARIATIONS, type MlConfig } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { createMarket } from '../../shared/backtest/market.js';
import { macroTimeline, type MacroSeries } from '../../shared/backtest/macro.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { runShadow, type ShadowRun } from '../../shared/shadow/runner.js';
import { CHAMPION } from '../../shared/shadow/variations.js';
import { HOUR, KIT_DIR, kitMacroSeries, kitSeries, MACRO_KIT_FILES, slice, SYMBOLS } from '../backtest/helpers.js';
import { withKit } from '../kit.js';

const FROM = Date.UTC(2025, 5, 22, 0, 0);
const TO = Date.UTC(2025, 5, 23, 23, 59);
const SWING = new Set(['dca', 'channel', 'swing_breakout']);
const NAMES = ['AGGRESSIVE', 'QUICK_EXITS', 'DCA_DROP_4'];
const ml: MlConfig = { ...DEFAULT_STRATEGY_CONFIGS.ml, shadow: { ...DEFAULT_STRATEGY_CONFIGS.ml.shadow, periodsHours: [24, 48], variations: DEFAULT_SHADOW_VARIATIONS.filter((v) => NAMES.includes(v.name)) } };
const series = () => SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), FROM - 74 * HOUR, TO));
/** A fresh data object over the same candles: no memoised MACRO timeline or bias is shared with another run. */
const freshMacro = (): MacroSeries => Object.fromEntries(Object.entries(kitMacroSeries()).map(([s, byIv]) => [s, { ...byIv }]));
const exact = (x: unknown) => JSON.stringify(x);

const kit = withKit('shadow with the MACRO engine (real data)', ...MACRO_KIT_FILES);
describe.skipIf(kit.skip)(kit.title, () => {
  let shadow: ShadowRun;
  beforeAll(() => {
    shadow = runShadow({ market: createMarket({ series: series(), from: FROM, to: TO }), system: DEFAULT_SYSTEM_CONFIG, base: DEFAULT_STRATEGY_CONFIGS, ml, macroSeries: freshMacro() });
  }, 300_000);

  it("each swing challenger's trades (swing trades included) equal a plain backtest of its config", () => {
    const champion = shadow.trades[CHAMPION]!.map((t) => t.trade);
    expect(champion.filter((t) => SWING.has(t.strategy)).length).toBeGreaterThan(3);
    for (const name of [CHAMPION, ...NAMES]) {
      const overrides = name === CHAMPION ? {} : ml.shadow.variations.find((v) => v.name === name)!.overrides;
      const plain = runBacktest(createMarket({ series: series(), from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: applyOverrides(DEFAULT_STRATEGY_CONFIGS, overrides) }, { macroSeries: freshMacro() });
      const got = shadow.trades[name]!.map((t) => t.trade);
      expect(exact(got), name).toBe(exact(plain.trades));
    }
    // The swing challengers do change the swing trades.
    for (const name of ['AGGRESSIVE', 'DCA_DROP_4']) {
      const swing = (n: string) => exact(shadow.trades[n]!.map((t) => t.trade).filter((t) => SWING.has(t.strategy)));
      expect(swing(name), name).not.toBe(swing(CHAMPION));
    }
    expect(shadow.results.scans).toBeGreaterThan(shadow.trades[CHAMPION]!.length);
  }, 300_000);

  it('the shared bias is keyed by what it reads: a config with longer hot windows (DCA high window x3: 5m 207 -> 495 candles) computes its own', () => {
    const system = { symbols: DEFAULT_SYSTEM_CONFIG.symbols, hotWindowCandles: DEFAULT_SYSTEM_CONFIG.hotWindowCandles };
    const longer = applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.setups.DCA.highWindowMs': 3 * DEFAULT_STRATEGY_CONFIGS.macro.setups.DCA.highWindowMs });
    const range = { symbols: SYMBOLS, from: FROM, to: FROM + 6 * HOUR };
    const shared = freshMacro();
    const champ = macroTimeline({ ...range, series: shared, strategies: DEFAULT_STRATEGY_CONFIGS, system });
    const swingOnly = macroTimeline({ ...range, series: shared, strategies: applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.setups.DCA.dropFromHighPct': 4 }), system });
    const long = macroTimeline({ ...range, series: shared, strategies: longer, system });
    const alone = macroTimeline({ ...range, series: freshMacro(), strategies: longer, system });
    // A swing-only change shares the champion's bias objects; the longer windows do not (and equal their own fresh computation).
    expect(swingOnly.slots.every((x, k) => x.biasResult === champ.slots[k]!.biasResult)).toBe(true);
    expect(long.slots.some((x, k) => x.biasResult === champ.slots[k]!.biasResult)).toBe(false);
    expect(exact(long.slots.map((x) => [x.bias, x.biasResult]))).toBe(exact(alone.slots.map((x) => [x.bias, x.biasResult])));
    expect(exact(long.slots.map((x) => x.biasResult))).not.toBe(exact(champ.slots.map((x) => x.biasResult)));
  }, 120_000);
});
