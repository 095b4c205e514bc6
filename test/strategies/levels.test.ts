/** Horizontal levels (touch counting, clustering), trend lines (R^2 guard), nearestLevel. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEVELS_EXHAUSTION_CONFIG } from '../../shared/config/strategy.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import {
  horizontalLevels,
  linearRegression,
  nearestLevel,
  pivotFlags,
  trendLines,
  trendLineValueAt,
} from '../../shared/strategies/levels.js';
import { resample } from '../../shared/strategies/resample.js';
import { mkSeries, type Bar } from './helpers.js';
import { btcWeek1m } from './data.js';

const H = DEFAULT_LEVELS_EXHAUSTION_CONFIG.levels.horizontal; // 120 candles, 3 touches, 0.25 % cluster, 0.1 % touch
const TL = DEFAULT_LEVELS_EXHAUSTION_CONFIG.levels.trendLines; // strength 2, R^2 > 0.7

/** Candles whose HIGHS are the given prices; lows are 1 % apart far below, so they never form a level. */
function highsAt(highs: number[], closeAt = 95): Bar[] {
  return highs.map((h, k) => ({ o: closeAt, h, l: 80 + k, c: closeAt }));
}

describe('horizontal levels', () => {
  it('exactly 3 touches make a level, 2 do not', () => {
    const three = horizontalLevels(mkSeries(highsAt([100, 103, 100, 106, 100], 95), '15m'), 5, H);
    expect(three).toHaveLength(1);
    expect(three[0]).toMatchObject({ price: 100, touches: 3, kind: 'resistance' });
    const two = horizontalLevels(mkSeries(highsAt([100, 103, 100, 106, 109], 95), '15m'), 5, H);
    expect(two).toEqual([]);
  });

  it('a touch is a high/low within 0.1 % of the level: 100.1 touches 100, 100.11 does not', () => {
    const at = horizontalLevels(mkSeries(highsAt([100, 100, 100.1]), '15m'), 3, H);
    expect(at).toHaveLength(1);
    expect(at[0]).toMatchObject({ price: 100, touches: 3 });
    expect(horizontalLevels(mkSeries(highsAt([100, 100, 100.11]), '15m'), 3, H)).toEqual([]);
  });

  it('a candle touching with both its high and its low counts once', () => {
    const bars: Bar[] = [
      { o: 100, h: 100.05, l: 99.95, c: 100 }, // both extremes within 0.1 % of 100
      { o: 95, h: 100, l: 90, c: 95 },
      { o: 95, h: 97, l: 93, c: 95 },
    ];
    expect(horizontalLevels(mkSeries(bars, '15m'), 3, H)).toEqual([]);
  });

  it('levels within the 0.25 % cluster tolerance merge (100.25 joins 100); 100.26 is a second level', () => {
    const merged = horizontalLevels(mkSeries(highsAt([100, 100, 100, 100.25, 100.25, 100.25]), '15m'), 6, H);
    expect(merged.map((l) => l.price)).toEqual([100]);
    const apart = horizontalLevels(mkSeries(highsAt([100, 100, 100, 100.26, 100.26, 100.26]), '15m'), 6, H);
    expect(apart.map((l) => [l.price, l.touches])).toEqual([
      [100, 3],
      [100.26, 3],
    ]);
  });

  it('the level with more touches wins its cluster', () => {
    const levels = horizontalLevels(mkSeries(highsAt([100.2, 100.2, 100.2, 100.2, 100, 100, 100]), '15m'), 7, H);
    expect(levels).toEqual([expect.objectContaining({ price: 100.2, touches: 4 })]);
  });

  it('support below the reference price, resistance above; only the last lookbackCandles count', () => {
    const bars: Bar[] = [
      { o: 97, h: 100, l: 95, c: 97 },
      { o: 97, h: 100, l: 95, c: 97 },
      { o: 97, h: 100, l: 95, c: 97 },
    ];
    const s = mkSeries(bars, '15m');
    expect(horizontalLevels(s, 3, H).map((l) => [l.price, l.kind])).toEqual([
      [95, 'support'],
      [100, 'resistance'],
    ]);
    expect(horizontalLevels(s, 3, H, 101).map((l) => l.kind)).toEqual(['support', 'support']);
    expect(horizontalLevels(s, 3, { ...H, lookbackCandles: 2 })).toEqual([]);
    // `end` bounds what is read: candles at or after `end` are ignored.
    expect(horizontalLevels(s, 2, H)).toEqual([]);
  });

  it('on a real week of BTCUSDT 15m: every level has >= 3 touches, levels are > 0.25 % apart', () => {
    const r = resample(btcWeek1m(), '15m');
    const levels = horizontalLevels(r.series, r.series.length, H);
    expect(levels.length).toBeGreaterThan(3);
    for (const [k, l] of levels.entries()) {
      expect(l.touches).toBeGreaterThanOrEqual(3);
      const prev = levels[k - 1];
      if (prev) expect((l.price - prev.price) / prev.price).toBeGreaterThan(0.0025);
      // Recount touches directly over the 120-candle window.
      let touches = 0;
      for (let j = r.series.length - 120; j < r.series.length; j++) {
        const near = (x: number) => Math.abs(x - l.price) <= l.price * 0.001 * (1 + 1e-9);
        if (near(r.series.high[j] as number) || near(r.series.low[j] as number)) touches++;
      }
      expect(l.touches).toBe(touches);
    }
  });
});

/** 1h bars with swing highs every 5 candles at `peak(j)` and swing lows at `trough(j)`. */
function zigzag(n: number, peak: (j: number) => number, trough: (j: number) => number): Bar[] {
  const bars: Bar[] = [];
  for (let j = 0; j < n; j++) {
    const mid = 1000 + j * 0.5;
    const h = j % 5 === 2 ? peak(j) : mid + 5;
    const l = j % 5 === 4 ? trough(j) : mid - 5;
    bars.push({ o: mid, h, l, c: mid });
  }
  return bars;
}

describe('trend lines', () => {
  const H1 = INTERVAL_MS['1h'];

  it('a clean rising line through the swing highs passes the R^2 guard and reports slope and values', () => {
    const s = mkSeries(
      zigzag(60, (j) => 1020 + j * 0.5, (j) => 980 + j * 0.5),
      '1h',
    );
    const lines = trendLines(s, s.length, TL);
    const hi = lines.find((l) => l.side === 'high');
    const lo = lines.find((l) => l.side === 'low');
    expect(hi?.r2).toBeCloseTo(1, 12);
    expect(hi?.slopePerMs! * H1).toBeCloseTo(0.5, 9); // +0.5 per hour
    // The line's value at candle j's open time is 1020 + 0.5 j.
    expect(trendLineValueAt(hi!, (s.openTime[40] as number))).toBeCloseTo(1040, 6);
    expect(hi?.kind).toBe('resistance');
    expect(lo?.kind).toBe('support');
    expect(hi?.swings).toBe(12); // pivots at 2, 7, ..., 57; the last is confirmed by candle 59, the last one
  });

  it('a noisy set of swing highs fails the R^2 guard', () => {
    const s = mkSeries(
      zigzag(60, (j) => 1020 + j * 0.5 + (Math.floor(j / 5) % 2 === 0 ? 40 : 0), (j) => 980 + j * 0.5),
      '1h',
    );
    const reg = (() => {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let j = 2; j + 2 < 60; j += 5) {
        xs.push(j);
        ys.push(s.high[j] as number);
      }
      return linearRegression(xs, ys);
    })();
    expect(reg.r2).toBeLessThan(0.7);
    const lines = trendLines(s, s.length, TL);
    expect(lines.map((l) => l.side)).toEqual(['low']);
  });

  it('a swing is used only once strength candles after it have closed', () => {
    const pivots = pivotFlags(new Float64Array([1, 2, 5, 2, 1]), new Float64Array([0, 0, 0, 0, 0]), 2);
    expect([...pivots.highs]).toEqual([0, 0, 1, 0, 0]);
    const s = mkSeries(zigzag(20, (j) => 1020 + j, (j) => 980 + j), '1h');
    // Pivots at 2, 7, 12, 17: with end = 14 (candles 0..13) the pivot at 12 is not confirmed (needs 14).
    const with13 = trendLines(s, 14, TL).find((l) => l.side === 'high');
    const with15 = trendLines(s, 15, TL).find((l) => l.side === 'high');
    expect(with13).toBeUndefined(); // only 2 swings (2, 7) < MIN_SWINGS_PER_LINE
    expect(with15?.swings).toBe(3);
  });

  it('linearRegression: exact on a line; R^2 of uncorrelated points is 0', () => {
    expect(linearRegression([0, 1, 2, 3], [1, 3, 5, 7])).toMatchObject({ slope: 2, intercept: 1, r2: 1 });
    expect(linearRegression([0, 1, 2, 3], [1, 0, 0, 1]).r2).toBeCloseTo(0, 12);
  });
});

describe('nearestLevel', () => {
  const levels = [{ price: 100 }, { price: 100.3 }];
  it('returns the nearest level within the tolerance, with the signed distance', () => {
    expect(nearestLevel(100.09, levels, 0.1)).toEqual({ index: 0, distancePct: expect.closeTo(0.09, 9) });
    expect(nearestLevel(100.22, levels, 0.1)).toEqual({ index: 1, distancePct: expect.closeTo(-0.0797607, 6) });
    expect(nearestLevel(100.1, levels, 0.1)?.index).toBe(0); // exactly 0.1 % counts
    expect(nearestLevel(100.15, levels, 0.1)).toBeNull();
    expect(nearestLevel(100, [], 0.1)).toBeNull();
  });
});
