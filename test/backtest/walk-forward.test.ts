/**
 * Walk-forward on real data: windows do not overlap, each test window follows its train window, and
 * the parameters are chosen from the train window only (altering every candle after a train window
 * leaves that window's choice unchanged). Stress windows are the most volatile ones.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import { valueDimension, type GridDimension } from '../../shared/backtest/grid.js';
import { runStress, volatileWindows } from '../../shared/backtest/stress.js';
import { runWalkForward, walkForwardWindows } from '../../shared/backtest/walk-forward.js';
import { allocSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { HOUR, KIT_DIR, kitSeries, MIN, MONTH_KIT_FILES, slice, SYMBOLS } from './helpers.js';
import { withKit } from '../kit.js';

const FROM = Date.UTC(2025, 5, 10, 0, 0);
const TO = Date.UTC(2025, 5, 12, 0, 0) - MIN;

const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'v52_divergence'), { 'macro.enabled': false }) };
const dims: GridDimension[] = [
  valueDimension('minRatio', ['scalp.v52_divergence.volumeSpike.minRatio'], [1.5, 2, 3]),
  valueDimension('exits', ['scalp.v52_divergence.exits.mode'], ['fixed', 'atr']),
];

/** Every candle opening at or after `t`: prices x 1.05, volume x 4. */
function alterFrom(s: CandleSeries, t: number): CandleSeries {
  const out = allocSeries(s.symbol, s.interval, s.venue, s.length);
  for (let i = 0; i < s.length; i++) {
    const k = (s.openTime[i] as number) >= t ? 1.05 : 1;
    out.openTime[i] = s.openTime[i] as number;
    out.open[i] = (s.open[i] as number) * k;
    out.high[i] = (s.high[i] as number) * k;
    out.low[i] = (s.low[i] as number) * k;
    out.close[i] = (s.close[i] as number) * k;
    out.volume[i] = (s.volume[i] as number) * (k === 1 ? 1 : 4);
  }
  return out;
}

describe('walk-forward', () => {
  it('cuts consecutive, non-overlapping windows: test follows train, test windows tile the range', () => {
    const w = walkForwardWindows(FROM, TO, 12 * HOUR, 6 * HOUR);
    expect(w).toHaveLength(6);
    for (const x of w) {
      expect(x.trainTo).toBe(x.trainFrom + 12 * HOUR - MIN);
      expect(x.testFrom).toBe(x.trainTo + MIN);
      expect(x.testTo).toBe(x.testFrom + 6 * HOUR - MIN);
    }
    for (let k = 1; k < w.length; k++) expect(w[k]!.testFrom).toBe(w[k - 1]!.testTo + MIN);
    expect(w.at(-1)!.testTo).toBeLessThanOrEqual(TO);
    expect(() => walkForwardWindows(FROM, TO, 12 * HOUR, 6 * HOUR, 3 * HOUR)).toThrow(/must not overlap/);
  });

  it('chooses on train data only and reports the out-of-sample test results', async () => {
    const series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
    const r = await runWalkForward({ series, from: FROM, to: TO, config, dims, objective: 'totalPnl', trainMs: 12 * HOUR, testMs: 12 * HOUR, workers: 0 });
    expect(r.windows).toHaveLength(3);
    for (const w of r.windows) {
      expect(w.trainRange).toEqual({ from: w.trainFrom, to: w.trainTo });
      for (const t of w.testTrades) expect(t.entryTime).toBeGreaterThan(w.testFrom);
    }
    const tradesOut = r.windows.reduce((a, w) => a + w.test.trades, 0);
    expect(r.outOfSample.trades).toBe(tradesOut);
    expect(r.outOfSample.totalPnl).toBeCloseTo(r.windows.reduce((a, w) => a + w.test.totalPnl, 0), 6);
    expect(tradesOut).toBeGreaterThan(0);

    // Alter everything after the first train window: its choice (and train metrics) must not move.
    const first = r.windows[0]!;
    const altered = series.map((s) => alterFrom(s, first.trainTo + MIN));
    const r2 = await runWalkForward({ series: altered, from: FROM, to: TO, config, dims, objective: 'totalPnl', trainMs: 12 * HOUR, testMs: 12 * HOUR, workers: 0 });
    expect(r2.windows[0]!.chosen.labels).toEqual(first.chosen.labels);
    expect(r2.windows[0]!.chosen.metrics).toEqual(first.chosen.metrics);
    expect(r2.windows[0]!.test).not.toEqual(first.test);
  }, 60_000);
});

describe('stress windows', () => {
  const kit = withKit('picks the most volatile aligned 24h windows and backtests each (10 days of the kit)', ...MONTH_KIT_FILES);
  it.skipIf(kit.skip)(kit.title, () => {
    const series = SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), Date.UTC(2025, 5, 8) - 74 * HOUR, Date.UTC(2025, 5, 18) - MIN));
    const w = volatileWindows(series, Date.UTC(2025, 5, 8), Date.UTC(2025, 5, 18) - MIN, 24 * HOUR, 2);
    expect(w).toHaveLength(2);
    // Brute force: each day's mean (high - low) / low over the 3 symbols, the two largest.
    const days = Array.from({ length: 10 }, (_, d) => {
      const a = Date.UTC(2025, 5, 8 + d);
      let sum = 0;
      for (const s of series) {
        let hi = -Infinity;
        let lo = Infinity;
        for (let i = 0; i < s.length; i++) {
          const t = s.openTime[i] as number;
          if (t < a || t >= a + 24 * HOUR) continue;
          hi = Math.max(hi, s.high[i] as number);
          lo = Math.min(lo, s.low[i] as number);
        }
        sum += ((hi - lo) / lo) * 100;
      }
      return { from: a, v: sum / series.length };
    }).sort((x, y) => y.v - x.v);
    expect(w.find((x) => x.rank === 1)).toMatchObject({ from: days[0]!.from });
    expect(w.find((x) => x.rank === 1)!.volatilityPct).toBeCloseTo(days[0]!.v, 9);
    expect(w.find((x) => x.rank === 2)).toMatchObject({ from: days[1]!.from });
    expect(w[0]!.from).toBeLessThan(w[1]!.from); // reported in time order
    const report = runStress({ series, from: Date.UTC(2025, 5, 8), to: Date.UTC(2025, 5, 18) - MIN, config, count: 2 });
    expect(report.rows.map((r) => r.from)).toEqual(w.map((x) => x.from));
    for (const r of report.rows) expect(r.metrics.marketChangePct).not.toBeNull();
  });
});
