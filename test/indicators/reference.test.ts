/**
 * shared/indicators (typed tulind wrapper + incremental indicators) against the independent textbook
 * implementations in ./reference.ts, on REAL Bybit candles (test/fixtures/strategies). After warm-up
 * both agree to 1e-6 (relative for prices; absolute for RSI's 0-100 scale).
 */
import { describe, expect, it } from 'vitest';
import { IncrementalEma, IncrementalRsi } from '../../shared/indicators/incremental.js';
import { atr, ema, macd, rsi, sma } from '../../shared/indicators/tulind.js';
import { peekRsi, rsiState } from '../../shared/strategies/scalp/common.js';
import { btcWeek1m, eth2Days1m } from '../strategies/data.js';
import { refAtr, refEma, refMacd, refRsi, refSma } from './reference.js';

const TOL = 1e-6;
const WARMUP = 300;

/** Max |a - b| (scaled by |b| when `relative`) over indices >= from, plus how many were compared. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, from: number, relative: boolean): { diff: number; compared: number } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let compared = 0;
  for (let t = from; t < a.length; t++) {
    const x = a[t] as number;
    const y = b[t] as number;
    // A NaN on either side (not warmed up) is a failure, not a skipped point.
    if (!Number.isFinite(x) || !Number.isFinite(y)) return { diff: Number.POSITIVE_INFINITY, compared };
    const d = Math.abs(x - y) / (relative ? Math.max(Math.abs(y), 1e-12) : 1);
    if (d > diff) diff = d;
    compared++;
  }
  return { diff, compared };
}

const SERIES = [
  ['BTCUSDT week', btcWeek1m()],
  ['ETHUSDT 2 days', eth2Days1m()],
] as const;

describe.each(SERIES)('indicators on real %s candles', (_name, s) => {
  it('EMA (periods 10, 20, 50 on close; 20 on volume) matches the textbook EMA seeded with the first value', () => {
    for (const p of [10, 20, 50]) {
      const r = maxDiff(ema(s.close, p), refEma(s.close, p), 0, true);
      expect(r.diff).toBeLessThan(TOL);
      expect(r.compared).toBe(s.length);
    }
    expect(maxDiff(ema(s.volume, 20), refEma(s.volume, 20), WARMUP, true).diff).toBeLessThan(TOL);
  });

  it('SMA matches and is NaN exactly during warm-up', () => {
    const got = sma(s.close, 20);
    expect(Number.isNaN(got[18] as number)).toBe(true);
    expect(Number.isFinite(got[19] as number)).toBe(true);
    expect(maxDiff(got, refSma(s.close, 20), 19, true).diff).toBeLessThan(TOL);
  });

  it('RSI (Wilder; periods 6, 7, 10, 14) matches after warm-up', () => {
    for (const p of [6, 7, 10, 14]) {
      const got = rsi(s.close, p);
      expect(Number.isNaN(got[p - 1] as number)).toBe(true);
      expect(maxDiff(got, refRsi(s.close, p), WARMUP, false).diff).toBeLessThan(TOL);
    }
  });

  it('ATR (Wilder smoothing) matches from its first value', () => {
    const got = atr(s.high, s.low, s.close, 14);
    expect(Number.isNaN(got[12] as number)).toBe(true);
    expect(maxDiff(got, refAtr(s.high, s.low, s.close, 14), 13, true).diff).toBeLessThan(TOL);
  });

  it('MACD (8, 21, 5) matches the textbook MACD', () => {
    const got = macd(s.close, 8, 21, 5);
    const ref = refMacd(s.close, 8, 21, 5);
    // MACD hovers around 0, so compare absolutely against the price scale.
    const scale = s.close[0] as number;
    for (const k of ['macd', 'signal', 'histogram'] as const) {
      expect(maxDiff(got[k], ref[k], WARMUP, false).diff / scale).toBeLessThan(TOL);
    }
  });

  it('MACD (12, 26, 9) is the textbook MACD too (tulind alone would use alphas 0.15 / 0.075 here)', () => {
    const got = macd(s.close, 12, 26, 9);
    const textbook = refMacd(s.close, 12, 26, 9);
    const quirk = refMacd(s.close, 12, 26, 9, { fast: 0.15, slow: 0.075 });
    const scale = s.close[0] as number;
    for (const k of ['macd', 'signal', 'histogram'] as const) {
      expect(maxDiff(got[k], textbook[k], WARMUP, false).diff / scale).toBeLessThan(TOL);
    }
    expect(maxDiff(got.macd, quirk.macd, WARMUP, false).diff / scale).toBeGreaterThan(1e-5);
  });

  it('IncrementalEma / IncrementalRsi reproduce the batch series, and peek = the next batch value', () => {
    const e = new IncrementalEma(20);
    const r = new IncrementalRsi(7);
    const batchE = ema(s.close, 20);
    const batchR = rsi(s.close, 7);
    const bad: string[] = [];
    for (let t = 0; t < s.length; t++) {
      const x = s.close[t] as number;
      const pe = e.peek(x);
      const pr = r.peek(x);
      if (pe !== e.update(x)) bad.push(`ema peek != update at ${t}`);
      if (!Object.is(pr, r.update(x))) bad.push(`rsi peek != update at ${t}`);
      if (t >= WARMUP) {
        if (!(Math.abs(e.current() - (batchE[t] as number)) / (batchE[t] as number) < TOL)) bad.push(`ema at ${t}`);
        if (!(Math.abs(r.current() - (batchR[t] as number)) < TOL)) bad.push(`rsi at ${t}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('the strategies\' O(1) RSI peek at any index equals IncrementalRsi.peek after the same closes', () => {
    const period = 7;
    const st = rsiState(s.close, period);
    const inc = new IncrementalRsi(period);
    const bad: string[] = [];
    let checked = 0;
    for (let i = 0; i < s.length - 1; i++) {
      inc.update(s.close[i] as number);
      // A hypothetical forming close: the real next close nudged, so it differs from any batch value.
      const x = (s.close[i + 1] as number) * 1.0003;
      const want = inc.peek(x);
      const got = peekRsi(st, s.close, i, x);
      if (Number.isNaN(want)) {
        if (!Number.isNaN(got)) bad.push(`peek at ${i}: ${got}, want NaN`);
      } else {
        if (!(Math.abs(got - want) < 1e-9)) bad.push(`peek at ${i}: ${got}, want ${want}`);
        checked++;
      }
    }
    expect(bad).toEqual([]);
    expect(checked).toBe(s.length - period);
  });
});
