/**
 * NO LOOKAHEAD: altering every candle after time t leaves every decision, signal, trade and equity
 * sample up to t unchanged (and changes things after t, so the test can fail).
 *
 * Real data: the kit's BTC/ETH/SOL 1m candles, 2025-06-10 00:00 to 2025-06-12 00:00 UTC (with 74 h of
 * history before), both scalp strategies emitting, in both indicator modes (the full-series mode
 * prepares indicators over the WHOLE series, future included, so it is the one that could leak).
 * The alteration after t: prices x 1.07 on odd minutes and x 0.95 on even ones (highs / lows kept
 * around open / close), volumes x 3: different levels, RSI, volume spikes and fills.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { runBacktest, type BacktestResult, type IndicatorMode } from '../../shared/backtest/run.js';
import { createMarket, levelTimeline } from '../../shared/backtest/market.js';
import { allocSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const FROM = Date.UTC(2025, 5, 10, 0, 0);
const TO = Date.UTC(2025, 5, 12, 0, 0) - MIN;
/** The cut: the close of the candle opening at 2025-06-11 07:37 (mid-bucket for 15m and 1h). */
const T = Date.UTC(2025, 5, 11, 7, 38);

function strategies() {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  return s;
}

/** A copy of `s` where every candle that closes after T is altered. */
function alterAfter(s: CandleSeries): CandleSeries {
  const out = allocSeries(s.symbol, s.interval, s.venue, s.length);
  for (let i = 0; i < s.length; i++) {
    const t = s.openTime[i] as number;
    out.openTime[i] = t;
    const k = t + MIN > T ? ((t / MIN) % 2 === 1 ? 1.07 : 0.95) : 1;
    const o = (s.open[i] as number) * k;
    const c = (s.close[i] as number) * k;
    out.open[i] = o;
    out.close[i] = c;
    out.high[i] = k === 1 ? (s.high[i] as number) : Math.max(o, c) * 1.004;
    out.low[i] = k === 1 ? (s.low[i] as number) : Math.min(o, c) * 0.996;
    out.volume[i] = (s.volume[i] as number) * (k === 1 ? 1 : 3);
  }
  return out;
}

function run(series: CandleSeries[], mode: IndicatorMode, from: number, to: number): BacktestResult {
  return runBacktest(createMarket({ series, from, to }), { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() }, { indicators: mode, record: { events: true } });
}

function upTo(r: BacktestResult) {
  const samples: number[] = [];
  for (let k = 0; k < r.samples; k++) if ((r.equityTime[k] as number) <= T) samples.push(r.equity[k] as number);
  return {
    decisions: r.decisions.filter((d) => d.ts <= T).map((d) => ({ ...d })),
    signals: r.signals.filter((s) => s.now <= T),
    events: r.events.filter((e) => e.ts <= T),
    trades: r.trades.filter((t) => t.exitTime <= T),
    equity: samples,
  };
}

function check(mode: IndicatorMode, from: number, to: number) {
  const real = SYMBOLS.map((s) => slice(kitSeries(s), from - 74 * HOUR, to));
  const altered = real.map(alterAfter);
  const a = run(real, mode, from, to);
  const b = run(altered, mode, from, to);
  const ua = upTo(a);
  const ub = upTo(b);
  // Up to T: identical, and not vacuous.
  expect(ua.decisions.length).toBeGreaterThan(20);
  expect(ua.trades.length).toBeGreaterThan(3);
  expect(ub).toEqual(ua);
  // After T: the alteration matters (the comparison above could fail).
  const after = (r: BacktestResult) => JSON.stringify(r.decisions.filter((d) => d.ts > T).map((d) => [d.signalId, d.decision, d.price]));
  expect(after(b)).not.toBe(after(a));
  return { a, b };
}

describe('no lookahead (real BTC/ETH/SOL 1m data, cut at 2025-06-11 07:38 UTC)', () => {
  it('full-series indicators: decisions, signals, events, trades and equity up to t are unchanged', () => {
    check('full', FROM, TO);
  });

  it('live-window indicators: the same (6 h around the cut)', () => {
    check('live-window', T - 3 * HOUR, T + 3 * HOUR);
  });

  it('higher-timeframe levels (15m / 1h resampled from 1m) at every index up to t are unchanged', () => {
    const real = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
    const ma = createMarket({ series: real, from: FROM, to: TO });
    const mb = createMarket({ series: real.map(alterAfter), from: FROM, to: TO });
    const cfg = DEFAULT_STRATEGY_CONFIGS.scalp.levels_exhaustion.levels;
    for (let k = 0; k < SYMBOLS.length; k++) {
      const s = real[k] as CandleSeries;
      const la = levelTimeline(ma, k, cfg);
      const lb = levelTimeline(mb, k, cfg);
      let compared = 0;
      let differAfter = 0;
      for (let i = 0; i < s.length; i++) {
        const t = s.openTime[i] as number;
        if (t < FROM) continue;
        if (t + MIN <= T) {
          expect(lb[i]).toEqual(la[i]);
          compared++;
        } else if (JSON.stringify(lb[i]) !== JSON.stringify(la[i])) differAfter++;
      }
      expect(compared).toBeGreaterThan(1_800);
      expect(differAfter).toBeGreaterThan(0);
    }
  });
});
