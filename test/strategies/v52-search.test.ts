/**
 * The V5.2 pivot search stops early (shared/strategies/scalp/v52-divergence.ts searchDivergence: once
 * a candle after the pivot reached is beyond the evaluated extreme, no older pivot can qualify). Its
 * results must be those of the full walk over every pivot in the lookback: checked here against a
 * plain full walk, on the REAL week of BTCUSDT 1m candles, for closed candles and forming ones
 * (extremes and RSI around the closed values), at the grid's RSI thresholds and several lookbacks.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_V52_DIVERGENCE_CONFIG, type V52DivergenceConfig } from '../../shared/config/strategy.js';
import { searchDivergence, v52Divergence, type DivergenceHit, type V52Prepared } from '../../shared/strategies/scalp/v52-divergence.js';
import { btcWeek1m } from './data.js';

/** The full walk: every pivot within the lookback, newest first (no early stop). */
function fullWalk(bearish: boolean, p: V52Prepared, i: number, e: number, ext: number, rsiE: number): DivergenceHit {
  const d = p.cfg.divergence;
  const prices = bearish ? p.series.high : p.series.low;
  const idx = bearish ? p.pivotHighs : p.pivotLows;
  const out: DivergenceHit = { pivot: -1, priceOnlyPivot: -1 };
  for (let j = idx.last[i] as number; j >= 0 && e - j <= d.lookbackCandles; j = idx.prev[j] as number) {
    let newExtreme = bearish ? ext > (prices[j] as number) : ext < (prices[j] as number);
    for (let k = j + 1; k < e; k++) newExtreme &&= bearish ? ext >= (prices[k] as number) : ext <= (prices[k] as number);
    const rj = p.rsi[j] as number;
    if (!newExtreme || !(bearish ? rj > d.overbought : rj < d.oversold)) continue;
    if (bearish ? rsiE <= rj - d.minRsiDelta : rsiE >= rj + d.minRsiDelta) return { ...out, pivot: j };
    if (out.priceOnlyPivot < 0) out.priceOnlyPivot = j;
  }
  return out;
}

const week = btcWeek1m();
const D = DEFAULT_V52_DIVERGENCE_CONFIG;
const CONFIGS: V52DivergenceConfig[] = [
  D,
  ...([[80, 20], [75, 25], [70, 30]] as const).map(([ob, os]) => ({ ...D, divergence: { ...D.divergence, overbought: ob, oversold: os } })),
  { ...D, divergence: { ...D.divergence, lookbackCandles: 10, rsiPeriod: 6, minRsiDelta: 0 } },
  { ...D, divergence: { ...D.divergence, lookbackCandles: 200, overbought: 55, oversold: 45 } },
];

describe('V5.2 pivot search: early stop = full walk', () => {
  it.each(CONFIGS.map((c, n) => [n, c] as const))('config %i: closed and forming candles over the real week', (_n, cfg) => {
    const p = v52Divergence.prepare(week, cfg);
    const got: DivergenceHit = { pivot: -1, priceOnlyPivot: -1 };
    let found = 0;
    let priceOnly = 0;
    let checked = 0;
    for (let i = 1; i < week.length - 1; i++) {
      const rsiI = p.rsi[i] as number;
      if (Number.isNaN(rsiI)) continue;
      const hi = week.high[i] as number;
      const lo = week.low[i] as number;
      // Closed candle i, and forming candles after i (e = i + 1) at the next candle's extremes and beyond.
      const cases: Array<[number, number, number]> = [
        [i, hi, rsiI],
        [i + 1, week.high[i + 1] as number, p.rsi[i + 1] as number],
        [i + 1, hi * 1.001, rsiI - 3],
        [i + 1, lo * 0.999, rsiI + 3],
        [i + 1, hi, rsiI],
      ];
      for (const [e, x, r] of cases) {
        for (const bearish of [true, false]) {
          const ext = bearish ? x : e === i ? lo : x;
          searchDivergence(got, bearish, p, i, e, ext, r);
          const want = fullWalk(bearish, p, i, e, ext, r);
          if (got.pivot !== want.pivot || got.priceOnlyPivot !== want.priceOnlyPivot) {
            expect({ i, e, ext, r, bearish, got: { ...got } }).toEqual({ i, e, ext, r, bearish, got: want });
          }
          checked++;
          if (want.pivot >= 0) found++;
          if (want.priceOnlyPivot >= 0) priceOnly++;
        }
      }
    }
    // The comparison covers hits of both kinds, not only empty searches.
    expect(checked).toBeGreaterThan(50_000);
    expect(found).toBeGreaterThan(20);
    expect(priceOnly).toBeGreaterThan(20);
  });
});
