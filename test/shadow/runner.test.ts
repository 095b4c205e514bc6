/**
 * A shadow run on REAL candles (the repository's kit slice: BTC/ETH/SOL 1m, 2025-06-10 00:00 ->
 * 06-12 11:59 UTC with 74 h of history; both scalp strategies as configured, MACRO off: its 4h hot
 * window needs the whole kit). The key property: each variation's trades are EXACTLY (ids, times,
 * prices, P&L to the bit) those of a plain backtest with that variation's config on the same candles,
 * i.e. what the paper engine does with it. A bad override is reported and the others still run; the
 * figures per period count the trades by exit time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, DEFAULT_SHADOW_VARIATIONS, type MlConfig, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { shadowResultsSchema } from '../../shared/learning/types.js';
import { runShadow, type ShadowRun } from '../../shared/shadow/runner.js';
import { periodStats, tradesInPeriod } from '../../shared/shadow/stats.js';
import { CHAMPION, NO_MODEL_NOTE, WALK_FORWARD_NOTE } from '../../shared/shadow/variations.js';
import type { BacktestConfig, BacktestOptions } from '../../shared/backtest/run.js';
import type { BacktestMarket } from '../../shared/backtest/market.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from '../backtest/helpers.js';

const FROM = Date.UTC(2025, 5, 10, 0, 0);
const TO = Date.UTC(2025, 5, 12, 11, 59);
const END = TO + MIN;

const base: StrategyConfigs = applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.enabled': false });
const named = (n: string) => DEFAULT_SHADOW_VARIATIONS.find((v) => v.name === n)!;
const ml: MlConfig = {
  ...base.ml,
  shadow: {
    ...base.ml.shadow,
    periodsHours: [12, 24, 60],
    variations: [
      named('AGGRESSIVE'),
      { name: 'TYPO', description: 'a key that does not exist', enabled: true, overrides: { 'risk.scalp.perTradeRiskPcnt': 1 } },
      named('ML_TRUST'),
      { name: 'WIDE_SCALP_EXITS', description: 'V5.2 fixed exits 0.8 / 0.5', enabled: true, overrides: { 'scalp.v52_divergence.exits.fixed.takeProfitPct': 0.8, 'scalp.v52_divergence.exits.fixed.stopLossPct': 0.5 } },
      { name: 'TOO_RISKY', description: 'a value the risk schema refuses', enabled: true, overrides: { 'risk.scalp.perTradeRiskPct': 50 } },
      { name: 'OFF', description: 'disabled: not run', enabled: false, overrides: { 'risk.scalp.perTradeRiskPct': 0.3 } },
      named('VOLATILITY_SIZED'),
      { name: 'RSI_6', description: 'V5.2 RSI period 6 (other scans)', enabled: true, overrides: { 'scalp.v52_divergence.divergence.rsiPeriod': 6 } },
    ],
  },
};

const series = () => SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
/** Exact comparison: every number to the bit (JSON keeps all 17 significant digits). */
const exact = (x: unknown) => JSON.stringify(x);

let shadow: ShadowRun;
const progress: Array<[number, number, string]> = [];

describe('shadow run on real candles', () => {
  beforeAll(() => {
    const market = createMarket({ series: series(), from: FROM, to: TO });
    shadow = runShadow({ market, system: DEFAULT_SYSTEM_CONFIG, base, ml }, { ts: 1_750_000_000_000, onProgress: (d, t, v) => progress.push([d, t, v]) });
  }, 120_000);

  it("each variation's trades equal a plain backtest with that variation's config (ids, times, prices, P&L to the bit)", () => {
    const names = ['CHAMPION', 'AGGRESSIVE', 'ML_TRUST', 'WIDE_SCALP_EXITS', 'VOLATILITY_SIZED', 'RSI_6'];
    expect(Object.keys(shadow.trades)).toEqual(names);
    for (const name of names) {
      const overrides = name === CHAMPION ? {} : ml.shadow.variations.find((v) => v.name === name)!.overrides;
      // A fresh market and a live-style run (decisions recorded, every strategy evaluated).
      const plain = runBacktest(createMarket({ series: series(), from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: applyOverrides(base, overrides) });
      const got = shadow.trades[name]!.map((t) => t.trade);
      expect(got.length, name).toBe(plain.trades.length);
      expect(exact(got), name).toBe(exact(plain.trades));
      expect(got).toEqual(plain.trades);
      // The scan features come with each trade (the signal's, as its paper_trades rows carry them).
      for (const t of shadow.trades[name]!) expect(t.features).toEqual(JSON.parse(t.trade.rows[0]!.features!));
    }
    // Not a degenerate comparison: real trades, and the variations trade differently.
    const champion = shadow.trades[CHAMPION]!;
    expect(champion.length).toBeGreaterThan(10);
    for (const name of ['AGGRESSIVE', 'WIDE_SCALP_EXITS', 'RSI_6']) expect(exact(shadow.trades[name]!.map((t) => t.trade)), name).not.toBe(exact(champion.map((t) => t.trade)));
    // ML_TRUST without models filters nothing: the champion's trades, and the result says so.
    expect(exact(shadow.trades.ML_TRUST!.map((t) => t.trade))).toBe(exact(champion.map((t) => t.trade)));
    expect(shadow.results.variations.find((v) => v.name === 'ML_TRUST')!.note).toBe(NO_MODEL_NOTE);
    expect(shadow.results.variations.find((v) => v.name === 'AGGRESSIVE')!.note).toBeUndefined();
  });

  it('a bad override is reported with its reason and does not stop the others; a disabled variation is not run', () => {
    const r = shadow.results;
    expect(shadowResultsSchema.parse(r)).toEqual(r);
    expect(r.variations.map((v) => v.name)).toEqual(['CHAMPION', 'AGGRESSIVE', 'TYPO', 'ML_TRUST', 'WIDE_SCALP_EXITS', 'TOO_RISKY', 'VOLATILITY_SIZED', 'RSI_6']);
    const typo = r.variations.find((v) => v.name === 'TYPO')!;
    expect(typo.error).toMatch(/risk\.scalp\.perTradeRiskPcnt' does not exist/);
    expect(typo.periods).toEqual({});
    expect(r.variations.find((v) => v.name === 'TOO_RISKY')!.error).toMatch(/invalid config risk/);
    for (const v of r.variations.filter((x) => x.error === undefined)) expect(Object.keys(v.periods)).toEqual(['12', '24', '60']);
    expect(shadow.trades.TYPO).toBeUndefined();
    // The header: window, scans (the champion's non-null scan decisions), progress over the 6 runs.
    expect([r.from, r.to, r.symbols, r.periodsHours, r.significanceP, r.ts]).toEqual([FROM, END, SYMBOLS, [12, 24, 60], 0.1, 1_750_000_000_000]);
    expect(r.scans).toBeGreaterThan(1000);
    const steps = createMarket({ series: series(), from: FROM, to: TO }).orderIndex.length;
    expect(progress.at(-1)).toEqual([6 * steps, 6 * steps, 'RSI_6']);
    expect(r.runId).toMatch(/^shadow_20250612T1200_[0-9a-f]{10}$/);
  });

  it('the figures per period: the trades whose exit falls in the last N hours, p-values against the champion', () => {
    const r = shadow.results;
    const champ = shadow.trades[CHAMPION]!.map((t) => t.trade);
    for (const v of r.variations.filter((x) => x.error === undefined)) {
      const own = shadow.trades[v.name]!.map((t) => t.trade);
      for (const h of [12, 24, 60]) {
        const inPeriod = own.filter((t) => t.exitTime > END - h * HOUR && t.exitTime <= END);
        expect(v.periods[String(h)]!.trades).toBe(inPeriod.length);
        expect(v.periods[String(h)]).toEqual(periodStats(inPeriod, v.name === CHAMPION ? null : tradesInPeriod(champ, END, h)));
      }
      expect(v.periods['12']!.trades).toBeLessThan(v.periods['60']!.trades);
    }
    expect(r.variations[0]!.periods['60']!.pValue).toBeNull();
    expect(r.variations.find((v) => v.name === 'ML_TRUST')!.periods['60']!.pValue).toBe(1);
    const agg = r.variations.find((v) => v.name === 'AGGRESSIVE')!.periods['60']!;
    expect(agg.pValue).toBeGreaterThan(0);
    expect(agg.pValue).toBeLessThan(1);
  });

  it('with a learning runner: only the ML-filter variations go through it, say so, and carry its predictions', () => {
    const calls: string[] = [];
    // A stand-in for runWithLearning(...).run: the plain run, its recorded scans given a prediction.
    const learning = (mk: BacktestMarket, config: BacktestConfig, o: BacktestOptions) => {
      calls.push(`${config.strategies.ml.mode}/${config.strategies.ml.minConfidence}/${String(o.record?.decisions)}`);
      const r = runBacktest(mk, config, o);
      return { ...r, decisions: r.decisions.map((d) => ({ ...d, ml: { probability: 0.42, modelVersion: 'v52_divergence@1', featureVersion: 'f1' } })) };
    };
    const from = Date.UTC(2025, 5, 12, 0, 0);
    const r = runShadow({ market: createMarket({ series: series(), from, to: TO }), system: DEFAULT_SYSTEM_CONFIG, base, ml }, { learning });
    expect(calls).toEqual(['filter/0.5/true']);
    const v = (n: string) => r.results.variations.find((x) => x.name === n)!;
    expect(v('ML_TRUST').note).toBe(WALK_FORWARD_NOTE);
    expect(v('AGGRESSIVE').note).toBeUndefined();
    expect(r.trades.ML_TRUST!.length).toBeGreaterThan(0);
    expect(r.trades.ML_TRUST!.every((t) => t.mlProbability === 0.42)).toBe(true);
    expect(r.trades.CHAMPION!.every((t) => t.mlProbability === null)).toBe(true);
  }, 60_000);
});
