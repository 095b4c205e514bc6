import { describe, expect, it } from 'vitest';
import { candlesIn, coverageOf, heldRanges, planPages, requestedRange, screenCandles, subtractRanges } from '../../shared/market/download-plan.js';
import type { Candle } from '../../shared/model/market.js';

const M = 60_000;
const T0 = Date.UTC(2025, 5, 10);

describe('download planning (pure)', () => {
  it('requested range: --from inclusive, --to exclusive, closed candles only', () => {
    expect(requestedRange('1m', T0, T0 + 10 * M, T0 + 60 * M)).toEqual({ fromMs: T0, toMs: T0 + 9 * M });
    // from not on the grid: rounds up; now inside a candle: that candle is still open
    expect(requestedRange('5m', T0 + 1, T0 + 60 * M, T0 + 27 * M)).toEqual({ fromMs: T0 + 5 * M, toMs: T0 + 20 * M });
    expect(requestedRange('1h', T0, T0 + 30 * M, T0 + 120 * M)).toEqual({ fromMs: T0, toMs: T0 });
    expect(requestedRange('1m', T0, T0 + 10 * M, T0)).toBeNull();
  });

  it('resume plan = requested range minus held runs', () => {
    const held = heldRanges([T0 + 2 * M, T0 + 3 * M, T0 + 3 * M, T0 + 7 * M], M);
    expect(held).toEqual([{ fromMs: T0 + 2 * M, toMs: T0 + 3 * M }, { fromMs: T0 + 7 * M, toMs: T0 + 7 * M }]);
    expect(subtractRanges({ fromMs: T0, toMs: T0 + 9 * M }, held, M)).toEqual([
      { fromMs: T0, toMs: T0 + M },
      { fromMs: T0 + 4 * M, toMs: T0 + 6 * M },
      { fromMs: T0 + 8 * M, toMs: T0 + 9 * M },
    ]);
    expect(subtractRanges({ fromMs: T0, toMs: T0 + 9 * M }, [{ fromMs: T0 - M, toMs: T0 + 20 * M }], M)).toEqual([]);
  });

  it('pages: newest first, each at most pageLimit candles, every missing candle covered exactly once', () => {
    const missing = [
      { fromMs: T0, toMs: T0 + 2499 * M },
      { fromMs: T0 + 2600 * M, toMs: T0 + 2610 * M },
      { fromMs: T0 + 9000 * M, toMs: T0 + 9000 * M },
    ];
    const pages = planPages(missing, M, 1000);
    for (const p of pages) expect(candlesIn(p, M)).toBeLessThanOrEqual(1000);
    for (let i = 1; i < pages.length; i++) expect(pages[i]!.toMs).toBeLessThan(pages[i - 1]!.fromMs);
    const want = missing.flatMap((r) => Array.from({ length: candlesIn(r, M) }, (_, k) => r.fromMs + k * M));
    const covered = want.filter((t) => pages.some((p) => t >= p.fromMs && t <= p.toMs));
    expect(covered).toEqual(want);
    // 2,500 + 11 + 1 candles: the 11 share the page of the newest 1,000 of the first range -> 4 pages
    expect(pages).toHaveLength(4);
    expect(pages[0]).toEqual({ fromMs: T0 + 9000 * M, toMs: T0 + 9000 * M });
  });

  it('screening: the candle gate refuses impossible and still-open candles; out-of-band ones are flagged', () => {
    const c = (t: number, o: number, h: number, l: number, cl: number): Candle => ({ symbol: 'BTCUSDT', interval: '1m', venue: 'bybit', openTime: t, open: o, high: h, low: l, close: cl, volume: 1 });
    const s = screenCandles([c(T0, 100, 101, 99, 100), c(T0 + M, 100, 99, 101, 100), c(T0 + 2 * M, 100, 300, 99, 250), c(T0 + 3 * M, 100, 101, 99, 100)], T0 + 3 * M + 1, { maxMoveFractionPerMinute: 0.5 });
    expect(s.rejected.map((r) => r.candle.openTime)).toEqual([T0 + M, T0 + 3 * M]);
    expect(s.rejected[0]!.reason).toContain('OHLC out of order');
    expect(s.rejected[1]!.reason).toContain('not a closed candle');
    expect(s.flagged.map((f) => f.candle.openTime)).toEqual([T0 + 2 * M]);
    expect(s.keep.map((k) => k.flags ?? [])).toEqual([[], ['bad_data']]);
  });

  it('coverage: first, last, count, expected, missing, gap runs', () => {
    expect(coverageOf({ venue: 'kraken', symbol: 'BTCUSDT', interval: '1m' }, [T0, T0 + M, T0 + 4 * M, T0 + 6 * M])).toEqual({
      venue: 'kraken', symbol: 'BTCUSDT', interval: '1m', count: 4, firstMs: T0, lastMs: T0 + 6 * M, expected: 7, missing: 3, gapRanges: 2,
    });
    expect(coverageOf({ venue: 'kraken', symbol: 'BTCUSDT', interval: '1m' }, [])).toBeNull();
  });
});
