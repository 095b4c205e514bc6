/**
 * Higher-timeframe candles from 1m without lookahead, checked against Bybit's OWN 15m/60m/240m klines
 * for the same real week, and on Kraken's real gappy 1m data.
 */
import { describe, expect, it } from 'vitest';
import { INTERVAL_MS, type Interval } from '../../shared/model/market.js';
import { resample, visibleCountAt, visibleSeries } from '../../shared/strategies/resample.js';
import { candleAt, indexOfOpenTime, seriesFromCandles, type CandleSeries } from '../../shared/strategies/series.js';
import { btcWeek15m, btcWeek1h, btcWeek1m, btcWeek4h, krakenSparse1m } from './data.js';

const m1 = btcWeek1m();

function expectSameCandles(built: CandleSeries, bybit: CandleSeries): void {
  expect(built.length).toBe(bybit.length);
  const bad: string[] = [];
  for (let b = 0; b < bybit.length; b++) {
    const same =
      built.openTime[b] === bybit.openTime[b] &&
      built.open[b] === bybit.open[b] &&
      built.high[b] === bybit.high[b] &&
      built.low[b] === bybit.low[b] &&
      built.close[b] === bybit.close[b] &&
      Math.abs((built.volume[b] as number) - (bybit.volume[b] as number)) <= 1e-9 * (bybit.volume[b] as number);
    if (!same) bad.push(`${b}: ${JSON.stringify(candleAt(built, b))} vs ${JSON.stringify(candleAt(bybit, b))}`);
  }
  expect(bad).toEqual([]);
}

describe('resample', () => {
  it.each([
    ['15m', btcWeek15m],
    ['1h', btcWeek1h],
    ['4h', btcWeek4h],
  ] as const)('1m re-aggregates exactly to Bybit\'s own %s klines for the same week', (interval, load) => {
    const r = resample(m1, interval as Interval);
    expectSameCandles(r.series, load());
    expect([...r.minutes].every((m) => m === INTERVAL_MS[interval as Interval] / INTERVAL_MS['1m'])).toBe(true);
  });

  it('a 15m candle is invisible before its last minute closes and visible at that close (10:15 candle)', () => {
    const r = resample(m1, '15m');
    const t1000 = Date.UTC(2025, 5, 18, 10, 0);
    const i1013 = indexOfOpenTime(m1, Date.UTC(2025, 5, 18, 10, 13));
    const i1014 = indexOfOpenTime(m1, Date.UTC(2025, 5, 18, 10, 14));
    expect(i1014).toBe(i1013 + 1);
    const b = indexOfOpenTime(r.series, t1000); // the 10:00-10:15 candle
    // At the close of 10:13 (10:14:00) only candles up to 09:45-10:00 are closed.
    expect(visibleCountAt(r, i1013)).toBe(b);
    expect(r.series.openTime[visibleCountAt(r, i1013) - 1]).toBe(Date.UTC(2025, 5, 18, 9, 45));
    // At the close of 10:14 (10:15:00) the 10:00 candle is closed and visible...
    expect(visibleCountAt(r, i1014)).toBe(b + 1);
    const v = visibleSeries(r, i1014);
    expect(v.openTime[v.length - 1]).toBe(t1000);
    // ...with exactly Bybit's values.
    const bybit = btcWeek15m();
    const k = indexOfOpenTime(bybit, t1000);
    expect(v.close[v.length - 1]).toBe(bybit.close[k]);
    expect(v.high[v.length - 1]).toBe(bybit.high[k]);
  });

  it('visible HTF candles never end after the 1m close (every index), and appear as soon as they end', () => {
    const r = resample(m1, '1h');
    const bad: number[] = [];
    for (let i = 0; i < m1.length; i++) {
      const close = (m1.openTime[i] as number) + INTERVAL_MS['1m'];
      const c = r.visibleCount[i] as number;
      const lastEnd = c > 0 ? (r.series.openTime[c - 1] as number) + INTERVAL_MS['1h'] : Number.NEGATIVE_INFINITY;
      const nextEnd = c < r.series.length ? (r.series.openTime[c] as number) + INTERVAL_MS['1h'] : Number.POSITIVE_INFINITY;
      if (!(lastEnd <= close && nextEnd > close)) bad.push(i);
    }
    expect(bad).toEqual([]);
    expect(r.visibleCount[m1.length - 1]).toBe(168);
  });

  it('Kraken gaps: buckets are built from the minutes present; a bucket missing its last minute shows at the next close', () => {
    const k = krakenSparse1m();
    const r = resample(k, '15m');
    // Independent recomputation by grouping.
    const groups = new Map<number, number[]>();
    for (let i = 0; i < k.length; i++) {
      const start = Math.floor((k.openTime[i] as number) / INTERVAL_MS['15m']) * INTERVAL_MS['15m'];
      groups.set(start, [...(groups.get(start) ?? []), i]);
    }
    expect(r.series.length).toBe(groups.size);
    let b = 0;
    let partial = 0;
    for (const [start, idx] of groups) {
      const first = idx[0] as number;
      const last = idx[idx.length - 1] as number;
      expect(r.series.openTime[b]).toBe(start);
      expect(r.series.open[b]).toBe(k.open[first]);
      expect(r.series.close[b]).toBe(k.close[last]);
      expect(r.series.high[b]).toBe(Math.max(...idx.map((i) => k.high[i] as number)));
      expect(r.series.low[b]).toBe(Math.min(...idx.map((i) => k.low[i] as number)));
      expect(r.series.volume[b]).toBeCloseTo(idx.reduce((s, i) => s + (k.volume[i] as number), 0), 12);
      expect(r.minutes[b]).toBe(idx.length);
      if (idx.length < 15) partial++;
      // Visible from the first 1m candle closing at or after the bucket end, never before.
      const end = start + INTERVAL_MS['15m'];
      if (last > 0) expect(r.visibleCount[last - 1]).toBeLessThanOrEqual(b);
      const firstAfter = [...Array(k.length).keys()].find((i) => (k.openTime[i] as number) + INTERVAL_MS['1m'] >= end);
      if (firstAfter !== undefined) {
        expect(r.visibleCount[firstAfter]).toBeGreaterThan(b);
        if (firstAfter > 0) expect(r.visibleCount[firstAfter - 1]).toBeLessThanOrEqual(b);
      }
      b++;
    }
    // Real Kraken data is gappy: most buckets here miss minutes.
    expect(partial).toBeGreaterThan(groups.size / 2);
  });

  it('rejects a target that is not a multiple of the base interval', () => {
    expect(() => resample(resample(m1, '15m').series, '1m')).toThrow(/not a whole multiple/);
  });

  it('seriesFromCandles round-trips candleAt and rejects unsorted input', () => {
    const candles = [0, 1, 2].map((i) => candleAt(m1, i));
    const s = seriesFromCandles(candles);
    expect(candleAt(s, 2)).toEqual(candles[2]);
    expect(() => seriesFromCandles([candles[1]!, candles[0]!])).toThrow(/strictly increase/);
  });
});
