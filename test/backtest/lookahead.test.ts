/**
 * NO LOOKAHEAD: altering every candle after time t leaves every decision, signal, trade and equity
 * sample up to t unchanged (and changes things after t, so the test can fail). The comparison is the
 * checker users run (`npm run backtest -- lookahead`, shared/backtest/lookahead.ts); a deliberately
 * peeking strategy proves it catches a strategy that reads the future.
 *
 * Real data: the kit's BTC/ETH/SOL 1m candles, 2025-06-10 00:00 to 2025-06-12 00:00 UTC (with 74 h of
 * history before), both scalp strategies emitting, in both indicator modes (the full-series mode
 * prepares indicators over the WHOLE series, future included, so it is the one that could leak).
 * The alterations after t: `distort` (prices x 1.07 on odd minutes and x 0.95 on even ones, highs /
 * lows around open / close, volumes x 3: different levels, RSI, volume spikes and fills), `replace`
 * (another real segment) and `drop`.
 */
import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { runBacktest, type BacktestResult, type IndicatorMode } from '../../shared/backtest/run.js';
import { createMarket, levelTimeline } from '../../shared/backtest/market.js';
import { alterAfter, checkLookahead, compareUpTo, defaultCuts, formatLookahead } from '../../shared/backtest/lookahead.js';
import type { CandleSeries } from '../../shared/strategies/series.js';
import type { ScalpDecision } from '../../shared/strategies/scalp/common.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

/** When set, v52_divergence peeks PEEK candles ahead (a deliberately leaking strategy, for the checker's own test). */
const peek = vi.hoisted(() => ({ on: false, ahead: 30 }));
vi.mock('../../shared/strategies/scalp/registry.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../shared/strategies/scalp/registry.js')>();
  return {
    ...orig,
    scalpStrategy: (id: Parameters<typeof orig.scalpStrategy>[0]) => {
      const real = orig.scalpStrategy(id);
      if (!peek.on || id !== 'v52_divergence') return real;
      const impl = real as unknown as { prepare: (...a: unknown[]) => { series: CandleSeries }; evaluateAt: (p: { series: CandleSeries }, i: number, ctx?: unknown) => ScalpDecision | null };
      return {
        ...impl,
        evaluateAt(p: { series: CandleSeries }, i: number, ctx?: unknown): ScalpDecision | null {
          const d = impl.evaluateAt(p, i, ctx);
          const future = p.series.close[i + peek.ahead];
          if (!d || future === undefined) return d;
          // Logs a future price as a feature, and takes a trade only when the price later moved its way: the classic leak.
          const leaked = { ...d, features: { ...d.features, futureClose: future } };
          const goodLater = d.direction === 'LONG' ? future > (p.series.close[i] as number) : future < (p.series.close[i] as number);
          return d.decision === 'TAKE' && !goodLater ? { ...leaked, decision: 'SKIP', direction: null, proposal: null } : leaked;
        },
      };
    },
  };
});

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

function run(series: CandleSeries[], mode: IndicatorMode, from: number, to: number): BacktestResult {
  return runBacktest(createMarket({ series, from, to }), { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() }, { indicators: mode, record: { events: true } });
}

function equityUpTo(r: BacktestResult) {
  const samples: number[] = [];
  for (let k = 0; k < r.samples; k++) if ((r.equityTime[k] as number) <= T) samples.push(r.equity[k] as number);
  return { events: r.events.filter((e) => e.ts <= T), equity: samples };
}

function check(mode: IndicatorMode, from: number, to: number) {
  const real = SYMBOLS.map((s) => slice(kitSeries(s), from - 74 * HOUR, to));
  const a = run(real, mode, from, to);
  const b = run(real.map((s) => alterAfter(s, T, 'distort')), mode, from, to);
  const c = compareUpTo(a, b, T, 'distort');
  // Up to T: identical, and not vacuous.
  for (const s of ['levels_exhaustion', 'v52_divergence']) {
    expect(c.strategies[s]?.first ?? null).toBeNull();
    expect(c.strategies[s]?.decisions).toBeGreaterThan(10);
  }
  expect(Object.values(c.strategies).reduce((n, x) => n + x.trades, 0)).toBeGreaterThan(3);
  expect(equityUpTo(b)).toEqual(equityUpTo(a));
  // After T: the alteration matters (the comparison above could fail).
  expect(c.changedAfter).toBe(true);
  const after = (r: BacktestResult) => JSON.stringify(r.decisions.filter((d) => d.ts > T).map((d) => [d.signalId, d.decision, d.price]));
  expect(after(b)).not.toBe(after(a));
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
    const mb = createMarket({ series: real.map((s) => alterAfter(s, T, 'distort')), from: FROM, to: TO });
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

describe('the lookahead checker (npm run backtest -- lookahead)', () => {
  const real = () => SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
  const checkRun = (series: CandleSeries[]) => runBacktest(createMarket({ series, from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() });

  it('alterations: drop ends the data at the cut; replace keeps the times and the past, changes the future with real candles', () => {
    const s = real()[0] as CandleSeries;
    const keep = s.openTime.findIndex((t) => t + MIN > T);
    const dropped = alterAfter(s, T, 'drop');
    expect(dropped.length).toBe(keep);
    expect(dropped.openTime[keep - 1]! + MIN).toBe(T);
    const replaced = alterAfter(s, T, 'replace');
    expect(Array.from(replaced.openTime)).toEqual(Array.from(s.openTime));
    expect(Array.from(replaced.close.subarray(0, keep))).toEqual(Array.from(s.close.subarray(0, keep)));
    expect(replaced.open[keep]).toBeCloseTo(s.close[keep - 1] as number, 6);
    expect(replaced.close[keep]).not.toBe(s.close[keep]);
    // A real segment: the candle-to-candle ratios of the series' first candles.
    expect((replaced.close[keep + 1] as number) / (replaced.close[keep] as number)).toBeCloseTo((s.close[1] as number) / (s.close[0] as number), 12);
  });

  it('the production strategies pass on both alterations at three cuts', () => {
    peek.on = false;
    const r = checkLookahead({ series: real(), cuts: defaultCuts(FROM, TO, 3), run: checkRun });
    expect(r.lookahead).toBe(false);
    expect(r.verdicts.v52_divergence).toMatchObject({ verdict: 'no lookahead', first: null });
    expect(r.verdicts.levels_exhaustion).toMatchObject({ verdict: 'no lookahead', first: null });
    expect(r.verdicts.v52_divergence!.trades).toBeGreaterThan(10);
    expect(r.checks.every((c) => c.changedAfter)).toBe(true);
  });

  it('a strategy that peeks 30 candles ahead is caught, with its first differing decision', () => {
    peek.on = true;
    try {
      const r = checkLookahead({ series: real(), cuts: [T], alterations: ['replace'], run: checkRun });
      expect(r.lookahead).toBe(true);
      expect(r.verdicts.v52_divergence?.verdict).toBe('LOOKAHEAD');
      expect(r.verdicts.levels_exhaustion?.verdict).toBe('no lookahead');
      const first = r.verdicts.v52_divergence!.first!;
      expect(first.kind).toBe('decision');
      // The leak shows in the last 30 minutes before the cut: the decisions whose peek crossed it.
      expect(first.ts).toBeLessThanOrEqual(T);
      expect(first.ts).toBeGreaterThan(T - (peek.ahead + 1) * MIN);
      expect(formatLookahead(r)).toMatch(/v52_divergence: LOOKAHEAD[\s\S]*first difference: a decision/);
    } finally {
      peek.on = false;
    }
  });
});
