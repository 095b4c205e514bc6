/**
 * The MACRO engine in the backtest (shared/backtest/macro.ts) on the kit's REAL Kraken-venue candles
 * (the replay's: Bybit 5m / 15m files, 1h / 4h resampled): no lookahead (a slot's bias, regime, swing
 * decisions and signals are the same when every candle that had not closed by the slot is removed),
 * the hot-window reads are those of `runMacro`, and the HTF input is validated.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { INTERVAL_MS, type Interval } from '../../shared/model/market.js';
import { checkMacroSeries, feedCandles, hotWindow, macroTimeline, type MacroSeries } from '../../shared/backtest/macro.js';
import { computeBias } from '../../shared/strategies/macro/bias.js';
import { candlesNeeded } from '../../shared/pipeline/macro-analysis.js';
import { toColumns } from '../../shared/strategies/macro/columns.js';
import { candleAt, sliceSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { HOUR, KIT_DIR, kitMacroSeries, kitSeries, MACRO_KIT_FILES, MIN, slice, SYMBOLS } from './helpers.js';
import { withKit } from '../kit.js';
import { lowerBound } from '../../shared/sorted.js';

const FROM = Date.UTC(2025, 5, 22, 9, 0);
const TO = FROM + 6 * HOUR - MIN;

/** Every series cut to the candles CLOSED by t (what the hot store holds at t). */
function closedBy(ms: MacroSeries, t: number): MacroSeries {
  const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
  for (const [sym, byIv] of Object.entries(ms)) {
    out[sym] = {};
    for (const [iv, s] of Object.entries(byIv) as Array<[Interval, CandleSeries]>) (out[sym] as Partial<Record<Interval, CandleSeries>>)[iv] = sliceSeries(s, 0, lowerBound(s.openTime, t - INTERVAL_MS[iv] + 1));
  }
  return out;
}

const kit = withKit('MACRO timeline (real data)', ...MACRO_KIT_FILES);
describe.skipIf(kit.skip)(kit.title, () => {
  let ms: MacroSeries;
  let full: ReturnType<typeof macroTimeline>;
  beforeAll(() => {
    ms = kitMacroSeries();
    full = macroTimeline({ symbols: SYMBOLS, from: FROM, to: TO, series: ms, strategies: DEFAULT_STRATEGY_CONFIGS, system: DEFAULT_SYSTEM_CONFIG });
  });

  it('runs every 5 minutes per symbol, from the first mark after `from` to `to` + 1m, with swing TAKEs and biases of both signs', () => {
    expect(full.slots).toHaveLength(SYMBOLS.length * 6 * 12);
    expect(full.slots[0]).toMatchObject({ now: FROM + 5 * MIN, symbol: 'BTCUSDT' });
    expect(full.slots.at(-1)).toMatchObject({ now: TO + MIN, symbol: 'SOLUSDT' });
    expect(full.slots.some((s) => s.signals.length > 0)).toBe(true);
    expect(new Set(full.slots.map((s) => s.bias.bias)).size).toBeGreaterThan(1);
    expect(full.slots.every((s) => s.bias.ts === s.now && s.bias.expiresAt === s.now + DEFAULT_STRATEGY_CONFIGS.macro.biasTtlMs)).toBe(true);
    // a signal id is published once, even when its candle stays the last closed one for several slots
    const ids = full.slots.flatMap((s) => s.signals.map((x) => x.signalId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('no lookahead: each sampled slot is identical when the candles not closed by it are removed', () => {
    for (const t of [FROM + 5 * MIN, FROM + 2 * HOUR + 35 * MIN, FROM + 4 * HOUR, TO + MIN]) {
      const cut = macroTimeline({ symbols: SYMBOLS, from: t - MIN, to: t - MIN, series: closedBy(ms, t), strategies: DEFAULT_STRATEGY_CONFIGS, system: DEFAULT_SYSTEM_CONFIG });
      const want = full.slots.filter((s) => s.now === t);
      expect(want).toHaveLength(SYMBOLS.length);
      expect(cut.slots).toEqual(want);
    }
  });

  it('the bias is computeBias on the hot window runMacro reads (last n candles closed by the slot, as Candle objects)', () => {
    const needed = candlesNeeded(DEFAULT_STRATEGY_CONFIGS.macro, DEFAULT_SYSTEM_CONFIG.hotWindowCandles);
    const slot = full.slots[37]!;
    const win: Partial<Record<Interval, ReturnType<typeof toColumns>>> = {};
    for (const [iv, n] of Object.entries(needed) as Array<[Interval, number]>) {
      const s = ms[slot.symbol]![iv]!;
      const w = hotWindow(s, iv, slot.now, n);
      const candles = Array.from({ length: s.length }, (_, i) => candleAt(s, i)).filter((c) => c.openTime + INTERVAL_MS[iv] <= slot.now).slice(-n);
      // n candles, or all of the kit's history when it is shorter (4h: 90 days)
      expect(w.length).toBe(candles.length);
      expect(Array.from(w.openTime)).toEqual(candles.map((c) => c.openTime));
      expect((w.openTime[w.length - 1] as number) + INTERVAL_MS[iv]).toBe(slot.now - (slot.now % INTERVAL_MS[iv]));
      win[iv] = toColumns(candles, iv);
    }
    expect(slot.biasResult).toEqual(computeBias(DEFAULT_STRATEGY_CONFIGS.macro, slot.symbol, win, slot.now));
  });

  it('feed candles: the Kraken 5m candles closed in (from, to + 1m], by close time then symbol', () => {
    const c = feedCandles(ms, SYMBOLS, [{ venue: 'kraken', interval: '5m' }], FROM, TO);
    expect(c).toHaveLength(SYMBOLS.length * 6 * 12);
    expect(c[0]).toMatchObject({ symbol: 'BTCUSDT', venue: 'kraken', interval: '5m', openTime: FROM });
    expect(c.slice(0, 3).map((x) => x.symbol)).toEqual(SYMBOLS);
    expect(c.at(-1)!.openTime + 5 * MIN).toBe(TO + MIN);
  });

  it('refuses a series filed under the wrong symbol or interval, and macroSeries together with biasUpdates', () => {
    expect(() => checkMacroSeries({ ETHUSDT: { '5m': ms.BTCUSDT!['5m']! } })).toThrow(/macroSeries.ETHUSDT.5m holds BTCUSDT 5m candles/);
    expect(() => checkMacroSeries({ BTCUSDT: { '1h': ms.BTCUSDT!['5m']! } })).toThrow(/holds BTCUSDT 5m/);
    const m = createMarket({ series: [slice(kitSeries('BTCUSDT', KIT_DIR), FROM - HOUR, FROM + HOUR)], from: FROM, to: FROM + HOUR });
    const bias = full.slots[0]!.bias;
    expect(() => runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS }, { macroSeries: ms, biasUpdates: [{ now: FROM, bias }] })).toThrow(/either macroSeries .* or biasUpdates/);
  });

  it('MACRO off in config: no bias, no swing signal, the run equals the run without HTF data', () => {
    const off = structuredClone(DEFAULT_STRATEGY_CONFIGS);
    off.macro.enabled = false;
    const m = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), FROM - 74 * HOUR, TO)), from: FROM, to: TO });
    const a = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: off }, { macroSeries: ms });
    const b = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: off });
    expect(a.macro).toEqual({ runs: 0, swingSignals: 0, feedCandles: SYMBOLS.length * 6 * 12 });
    expect(a.trades.map((t) => t.rows)).toEqual(b.trades.map((t) => t.rows));
    expect(a.trades.length).toBeGreaterThan(0);
  });
});
