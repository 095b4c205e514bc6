/** The four exhaustion checks, each at and beyond its threshold. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEVELS_EXHAUSTION_CONFIG } from '../../shared/config/strategy.js';
import type { BookFeatures } from '../../shared/model/market.js';
import {
  doubleWickCheck,
  lowVolumeCheck,
  orderBookFlipCheck,
  rsiCheck,
  UNAVAILABLE,
  wickFraction,
  type BookSample,
} from '../../shared/strategies/exhaustion.js';
import { mkSeries, type Bar } from './helpers.js';

const EX = DEFAULT_LEVELS_EXHAUSTION_CONFIG.exhaustion; // RSI 80/20, volume 0.75, wick 60 % / 0.1 % / 10, flip 10 / 0.3 / 60 s

describe('RSI check', () => {
  it('SHORT hits strictly above 80, LONG strictly below 20; NaN never hits', () => {
    expect(rsiCheck(80, 'SHORT', EX.rsi)).toEqual({ hit: false, value: 80, threshold: 80 });
    expect(rsiCheck(80.01, 'SHORT', EX.rsi).hit).toBe(true);
    expect(rsiCheck(20, 'LONG', EX.rsi)).toEqual({ hit: false, value: 20, threshold: 20 });
    expect(rsiCheck(19.99, 'LONG', EX.rsi).hit).toBe(true);
    expect(rsiCheck(85, 'LONG', EX.rsi).hit).toBe(false);
    expect(rsiCheck(Number.NaN, 'SHORT', EX.rsi).hit).toBe(false);
  });
});

describe('low-volume check', () => {
  it('hits strictly below 0.75 x the average', () => {
    expect(lowVolumeCheck(75, 100, 0.75)).toEqual({ hit: false, value: 0.75, threshold: 0.75 });
    expect(lowVolumeCheck(74.99, 100, 0.75).hit).toBe(true);
    expect(lowVolumeCheck(10, 0, 0.75).hit).toBe(false);
    expect(lowVolumeCheck(10, Number.NaN, 0.75).hit).toBe(false);
  });
});

describe('double-wick check', () => {
  // Upper wick 70 % of range: open = close = 100.3 in [100, 101].
  const top = (h: number): Bar => ({ o: h - 0.7, c: h - 0.7, h, l: h - 1 });
  const plain: Bar = { o: 99, c: 99.5, h: 99.6, l: 98.9 };

  it('wick fraction: exactly 60 % is not "> 60 %"', () => {
    expect(wickFraction(102, 105, 100, 102, 'SHORT')).toBe(0.6);
    const s = mkSeries([{ o: 102, c: 102, h: 105, l: 100 }, plain, { o: 102, c: 102, h: 105, l: 100 }]);
    expect(doubleWickCheck(s, 2, 'SHORT', EX.doubleWick).hit).toBe(false);
  });

  it('two upper wicks whose highs are 0.1 % apart hit; 0.101 % apart miss', () => {
    const at = mkSeries([top(101), plain, plain, top(101.101)]);
    const r = doubleWickCheck(at, 3, 'SHORT', EX.doubleWick);
    expect(r.hit).toBe(true);
    expect(r.value).toBeCloseTo(0.1, 9);
    expect(r.threshold).toBe(0.1);
    const beyond = mkSeries([top(101), plain, plain, top(101.10201)]);
    expect(doubleWickCheck(beyond, 3, 'SHORT', EX.doubleWick).hit).toBe(false);
  });

  it('the evaluated candle must be the second wick, within the last lookbackCandles candles', () => {
    // Wick pair at 0 and 1, evaluated at 3 (plain): not a fresh rejection.
    expect(doubleWickCheck(mkSeries([top(101), top(101), plain, plain]), 3, 'SHORT', EX.doubleWick).hit).toBe(false);
    // Earlier wick exactly lookbackCandles - 1 candles back: inside the 10-candle window; one more: outside.
    const inside = mkSeries([top(101), ...Array<Bar>(8).fill(plain), top(101)]);
    expect(doubleWickCheck(inside, 9, 'SHORT', EX.doubleWick).hit).toBe(true);
    const outside = mkSeries([top(101), ...Array<Bar>(9).fill(plain), top(101)]);
    expect(doubleWickCheck(outside, 10, 'SHORT', EX.doubleWick).hit).toBe(false);
  });

  it('LONG uses lower wicks and lows; a forming candle can be the second wick', () => {
    const bottom = (l: number): Bar => ({ o: l + 0.7, c: l + 0.7, h: l + 1, l });
    const s = mkSeries([bottom(100), plain, bottom(100.05)]);
    expect(doubleWickCheck(s, 2, 'LONG', EX.doubleWick).hit).toBe(true);
    expect(doubleWickCheck(s, 2, 'SHORT', EX.doubleWick).hit).toBe(false);
    const closed = mkSeries([bottom(100), plain]);
    expect(doubleWickCheck(closed, 1, 'LONG', EX.doubleWick).hit).toBe(false);
    expect(doubleWickCheck(closed, 1, 'LONG', EX.doubleWick, { open: 100.8, high: 101, low: 100.02, close: 100.8 }).hit).toBe(true);
  });
});

describe('order-book flip check', () => {
  const now = Date.UTC(2025, 5, 18, 12, 0);
  const book = (imbalance: number, depthLevels = 10): BookFeatures => ({
    bestBid: 100,
    bestAsk: 100.1,
    mid: 100.05,
    spreadBps: 10,
    bidDepth: 1 + imbalance,
    askDepth: 1 - imbalance,
    imbalance,
    depthLevels,
  });
  const at = (secondsAgo: number, imbalance: number, depthLevels = 10): BookSample => ({ ts: now - secondsAgo * 1000, book: book(imbalance, depthLevels) });
  const P = EX.orderBookFlip;

  it('SHORT: bid-heavy then ask-heavy with |imbalance| >= 0.3 on both sides within 60 s', () => {
    expect(orderBookFlipCheck([at(45, 0.4), at(30, 0.1), at(15, -0.35)], now, 'SHORT', P)).toEqual({ hit: true, value: 0.35, threshold: 0.3 });
    expect(orderBookFlipCheck([at(45, 0.3), at(15, -0.3)], now, 'SHORT', P)).toMatchObject({ hit: true, value: 0.3 });
    expect(orderBookFlipCheck([at(45, 0.4), at(15, -0.29)], now, 'SHORT', P)).toMatchObject({ hit: false, value: 0.29 });
  });

  it('direction matters: ask-to-bid is a LONG flip, not a SHORT one', () => {
    const seq = [at(45, -0.5), at(15, 0.45)];
    expect(orderBookFlipCheck(seq, now, 'LONG', P)).toMatchObject({ hit: true, value: 0.45 });
    expect(orderBookFlipCheck(seq, now, 'SHORT', P)).toMatchObject({ hit: false, value: 0 });
  });

  it('only samples inside [now - 60 s, now] count; later samples are never read', () => {
    expect(orderBookFlipCheck([at(75, 0.5), at(45, 0.1), at(15, -0.4)], now, 'SHORT', P)).toMatchObject({ hit: false, value: 0.1 });
    expect(orderBookFlipCheck([at(60, 0.5), at(15, -0.4)], now, 'SHORT', P)).toMatchObject({ hit: true });
    expect(orderBookFlipCheck([at(45, 0.5), at(15, 0.4), at(-15, -0.6)], now, 'SHORT', P)).toMatchObject({ hit: false, value: 0 });
  });

  it('returns unavailable (not a miss) without usable book data', () => {
    expect(orderBookFlipCheck(undefined, now, 'SHORT', P)).toBe(UNAVAILABLE);
    expect(orderBookFlipCheck([], now, 'SHORT', P)).toBe(UNAVAILABLE);
    expect(orderBookFlipCheck([{ ts: now - 30_000, book: null }, at(15, -0.4)], now, 'SHORT', P)).toBe(UNAVAILABLE);
    expect(orderBookFlipCheck([at(90, 0.5), at(15, -0.4)], now, 'SHORT', P)).toBe(UNAVAILABLE);
    // Features computed over 50 levels are not the configured top-10 imbalance.
    expect(orderBookFlipCheck([at(45, 0.5, 50), at(15, -0.4, 50)], now, 'SHORT', P)).toBe(UNAVAILABLE);
  });

  it('rejects samples out of time order', () => {
    expect(() => orderBookFlipCheck([at(15, 0.5), at(45, -0.4)], now, 'SHORT', P)).toThrow(/ascending/);
  });
});
