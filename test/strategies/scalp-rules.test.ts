/** Direction rules, decisions, exits and snapshots of both scalp strategies on hand-built series. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LEVELS_EXHAUSTION_CONFIG,
  DEFAULT_V52_DIVERGENCE_CONFIG,
  type LevelsExhaustionConfig,
  type V52DivergenceConfig,
} from '../../shared/config/strategy.js';
import type { BookFeatures } from '../../shared/market/types.js';
import type { LevelSet } from '../../shared/strategies/levels.js';
import { levelsExhaustion } from '../../shared/strategies/scalp/levels-exhaustion.js';
import { pivotIndex, v52Divergence } from '../../shared/strategies/scalp/v52-divergence.js';
import { refAtr, refEma, refRsi } from '../indicators/reference.js';
import { mkSeries, path } from './helpers.js';

const LE: LevelsExhaustionConfig = DEFAULT_LEVELS_EXHAUSTION_CONFIG;
const V52: V52DivergenceConfig = DEFAULT_V52_DIVERGENCE_CONFIG;
const ATR_EXITS = { ...LE.exits, mode: 'atr' as const };

const resistance = (price: number): LevelSet => ({
  horizontal: [{ source: 'horizontal', price, touches: 4, kind: 'resistance', lastTouchTime: 0 }],
  trendLines: [],
});
const support = (price: number): LevelSet => ({
  horizontal: [{ source: 'horizontal', price, touches: 5, kind: 'support', lastTouchTime: 0 }],
  trendLines: [],
});

/** 40 one-minute candles rising by 0.1 from 100 (RSI(7) = 100), volume 10, last candle volume `lastVol`. */
function rally(lastVol: number) {
  const closes = Array.from({ length: 40 }, (_, k) => 100 + 0.1 * (k + 1));
  const bars = path(100, closes);
  bars[39] = { ...bars[39]!, v: lastVol };
  return mkSeries(bars);
}
/** The mirror: falling by 0.1 from 104 (RSI(7) = 0). */
function selloff(lastVol: number) {
  const closes = Array.from({ length: 40 }, (_, k) => 104 - 0.1 * (k + 1));
  const bars = path(104, closes);
  bars[39] = { ...bars[39]!, v: lastVol };
  return mkSeries(bars);
}

describe('levels + exhaustion: direction and decisions', () => {
  it('at resistance with overbought RSI and low volume -> SHORT TAKE with fixed 0.5 % / 0.3 % exits', () => {
    const s = rally(5);
    const p = levelsExhaustion.prepare(s, LE);
    const d = levelsExhaustion.evaluateAt(p, 39, { levels: resistance(104.05) });
    expect(d).toMatchObject({
      signalId: `levels_exhaustion:BTCUSDT:${s.openTime[39]}`,
      strategy: 'levels_exhaustion',
      engine: 'SCALP',
      decision: 'TAKE',
      direction: 'SHORT',
      price: 104,
      ts: (s.openTime[39] as number) + 60_000,
      candleTime: s.openTime[39],
    });
    expect(d?.proposal).toEqual({ entry: 104, takeProfit: expect.closeTo(103.48, 9), stopLoss: expect.closeTo(104.312, 9), exitMode: 'fixed' });
    expect(d?.features).toMatchObject({
      checksHit: 2,
      checkRsi: true,
      rsi: 100,
      checkLowVolume: true,
      volumeRatio: 0.5,
      checkDoubleWick: false,
      checkBookFlip: 'unavailable',
      levelKind: 'resistance',
      levelPrice: 104.05,
      levelDistancePct: expect.closeTo(-0.0480538, 6),
    });
    expect(d?.reasons.join(' | ')).toMatch(/RSI\(7\) 100 > 80.*low volume: 0.5 x EMA20 < 0.75.*2\/4 overbought exhaustion checks >= 2: SHORT/);
  });

  it('at support with oversold RSI and low volume -> LONG TAKE (stop below, target above)', () => {
    const s = selloff(5);
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, LE), 39, { levels: support(100) });
    expect(d).toMatchObject({ decision: 'TAKE', direction: 'LONG', price: 100 });
    expect(d?.proposal?.takeProfit).toBeCloseTo(100.5, 9);
    expect(d?.proposal?.stopLoss).toBeCloseTo(99.7, 9);
  });

  it('one check -> NEAR_MISS; no check or no level -> null', () => {
    const s = rally(10);
    const p = levelsExhaustion.prepare(s, LE);
    const near = levelsExhaustion.evaluateAt(p, 39, { levels: resistance(104) });
    expect(near).toMatchObject({ decision: 'NEAR_MISS', direction: null, proposal: null, features: { checksHit: 1, checkRsi: true } });
    expect(levelsExhaustion.evaluateAt(p, 39, { levels: resistance(104.2) })).toBeNull(); // 0.19 % away
    // A falling market reaching a level ABOVE its last 15m close is still a resistance: oversold RSI is
    // not SHORT exhaustion, normal volume is not low -> 0 checks.
    const f = selloff(10);
    expect(levelsExhaustion.evaluateAt(levelsExhaustion.prepare(f, LE), 39, { levels: resistance(100) })).toBeNull();
  });

  it('direction follows the level: oversold + low volume at a RESISTANCE is only 1 SHORT check', () => {
    const s = selloff(5);
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, LE), 39, { levels: resistance(100) });
    expect(d).toMatchObject({ decision: 'NEAR_MISS', features: { setupDirection: 'SHORT', checkRsi: false, checkLowVolume: true } });
  });

  it('ATR exits: TP = entry - 1.5 ATR, SL = entry + 1.0 ATR for a SHORT (ATR checked independently)', () => {
    const s = rally(5);
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, { ...LE, exits: ATR_EXITS }), 39, { levels: resistance(104) });
    const a = refAtr(s.high, s.low, s.close, 14)[39] as number;
    expect(a).toBeGreaterThan(0);
    expect(d?.proposal).toEqual({ entry: 104, takeProfit: expect.closeTo(104 - 1.5 * a, 9), stopLoss: expect.closeTo(104 + a, 9), exitMode: 'atr' });
    expect(d?.features.atr).toBeCloseTo(a, 9);
  });

  it('ATR exits during ATR warm-up -> SKIP (setup seen, no trade)', () => {
    const s = mkSeries(path(100, [100.1, 100.2, 100.3, 100.4, 100.5, 100.6, 100.7, 100.8, 100.9, 101]).map((b, k) => (k === 9 ? { ...b, v: 5 } : b)));
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, { ...LE, exits: ATR_EXITS }), 9, { levels: resistance(101) });
    expect(d).toMatchObject({ decision: 'SKIP', direction: null, proposal: null });
    expect(d?.reasons.at(-1)).toBe('ATR(14) not available for ATR exits');
  });

  it('an order-book flip adds a check when book data is present', () => {
    const s = rally(5);
    const ts = (s.openTime[39] as number) + 60_000;
    const book = (imbalance: number): BookFeatures => ({ bestBid: 104, bestAsk: 104.1, mid: 104.05, spreadBps: 9.6, bidDepth: 1, askDepth: 1, imbalance, depthLevels: 10 });
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, LE), 39, {
      levels: resistance(104),
      book: [
        { ts: ts - 40_000, book: book(0.45) },
        { ts: ts - 10_000, book: book(-0.5) },
      ],
    });
    expect(d?.features).toMatchObject({ checksHit: 3, checkBookFlip: true, bookFlipImbalance: 0.45 });
  });

  it('a trend line is a level too: its value at the decision time is used', () => {
    const s = rally(5);
    const ts = (s.openTime[39] as number) + 60_000;
    const levels: LevelSet = {
      horizontal: [],
      trendLines: [{ source: 'trendline', side: 'high', slopePerMs: 1 / 3_600_000, intercept: 103.5, originTime: ts - 3_600_000 / 2, r2: 0.9, swings: 6, kind: 'resistance' }],
    };
    // Value at ts: 103.5 + 0.5 = 104.0.
    const d = levelsExhaustion.evaluateAt(levelsExhaustion.prepare(s, LE), 39, { levels });
    expect(d).toMatchObject({ decision: 'TAKE', direction: 'SHORT', features: { levelSource: 'trendline_high', levelPrice: expect.closeTo(104, 9), levelR2: 0.9 } });
  });

  it('15 s snapshot: evaluates the forming candle with peeked RSI and pace-projected volume', () => {
    const s = rally(5);
    const p = levelsExhaustion.prepare(s, LE);
    const ot = (s.openTime[39] as number) + 60_000; // forming candle after index 39
    const forming = { openTime: ot, ts: ot + 30_000, open: 104, high: 104.12, low: 103.98, close: 104.1, volume: 2.5 };
    const d = levelsExhaustion.evaluateAt(p, 39, { levels: resistance(104.1), forming });
    expect(d).toMatchObject({
      signalId: `levels_exhaustion:BTCUSDT:${ot}:snap:${ot + 30_000}`,
      ts: ot + 30_000,
      candleTime: ot,
      price: 104.1,
      decision: 'TAKE',
      direction: 'SHORT',
      // 2.5 in 30 s -> 5 per minute, against EMA20(volume) of the closed candles 0..39.
      features: { snapshot: true, rsi: expect.closeTo(100, 9), volumeRatio: expect.closeTo(5 / (refEma(s.volume, 20)[39] as number), 9) },
    });
    expect(() => levelsExhaustion.evaluateAt(p, 39, { forming: { ...forming, openTime: s.openTime[39] as number } })).toThrow(/must open after/);
  });
});

/**
 * V5.2 fixture: 30 flat-ish warm-up candles, a strong rally to a swing high (index 39), a pull-back,
 * then a slow grind to a HIGHER high at index 51 with weaker RSI, on a volume spike (30 vs 10).
 */
function divergenceSeries(lastVol: number) {
  const warm = Array.from({ length: 30 }, (_, k) => (k % 2 === 0 ? 100.1 : 100));
  const rally = Array.from({ length: 10 }, (_, k) => 100 + 0.5 * (k + 1)); // 100.5 .. 105 (index 39)
  const pull = [104.5, 104, 103.5]; // 40..42
  const grind = [103.7, 103.9, 104.1, 104.3, 104.5, 104.7, 104.9, 105.1, 105.15]; // 43..51
  const bars = path(100, [...warm, ...rally, ...pull, ...grind]);
  bars[51] = { ...bars[51]!, v: lastVol };
  return mkSeries(bars);
}

describe('V5.2 divergence', () => {
  it('pivot links: a pivot is listed only from the candle that confirms it', () => {
    const flags = new Uint8Array([0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    const idx = pivotIndex(flags, 2);
    expect([...idx.last]).toEqual([-1, -1, -1, -1, 2, 2, 2, 2, 2, 7]);
    expect(idx.prev[7]).toBe(2);
  });

  it('bearish divergence (higher high, lower RSI) + volume spike -> SHORT TAKE', () => {
    const s = divergenceSeries(30);
    const r = refRsi(s.close, 14);
    expect(r[39]).toBeGreaterThan(60); // the swing high was overbought
    expect((r[51] as number) <= (r[39] as number) - 2).toBe(true); // RSI lower high
    expect(s.high[51]).toBeGreaterThan(s.high[39] as number); // price higher high
    const d = v52Divergence.evaluateAt(v52Divergence.prepare(s, V52), 51);
    expect(d).toMatchObject({
      signalId: `v52_divergence:BTCUSDT:${s.openTime[51]}`,
      decision: 'TAKE',
      direction: 'SHORT',
      price: 105.15,
      features: { divergence: 'bearish', pivotTime: s.openTime[39], pivotAgeCandles: 12, pivotPrice: s.high[39], volumeSpike: true },
    });
    expect(d?.features.pivotRsi).toBeCloseTo(r[39] as number, 6);
    expect(d?.features.volumeRatio).toBeCloseTo(3, 9);
    expect(d?.proposal).toEqual({ entry: 105.15, takeProfit: expect.closeTo(105.15 * 0.995, 9), stopLoss: expect.closeTo(105.15 * 1.003, 9), exitMode: 'fixed' });
  });

  it('divergence without a volume spike -> NEAR_MISS; the same candles without divergence -> null', () => {
    const s = divergenceSeries(19.99); // 1.999 x EMA20 < 2
    const d = v52Divergence.evaluateAt(v52Divergence.prepare(s, V52), 51);
    expect(d).toMatchObject({ decision: 'NEAR_MISS', direction: null, proposal: null, features: { divergence: 'bearish', volumeSpike: false } });
    // At index 45 price is still below the swing high: nothing to consider.
    expect(v52Divergence.evaluateAt(v52Divergence.prepare(s, V52), 45)).toBeNull();
  });

  it('bullish divergence on the mirrored series -> LONG TAKE with the stop below', () => {
    const up = divergenceSeries(30);
    const m = mkSeries(
      Array.from({ length: up.length }, (_, k) => ({
        o: 210 - (up.open[k] as number),
        c: 210 - (up.close[k] as number),
        h: 210 - (up.low[k] as number),
        l: 210 - (up.high[k] as number),
        v: up.volume[k] as number,
      })),
    );
    const d = v52Divergence.evaluateAt(v52Divergence.prepare(m, V52), 51);
    expect(d).toMatchObject({ decision: 'TAKE', direction: 'LONG', features: { divergence: 'bullish', pivotAgeCandles: 12 } });
    expect(d!.proposal!.stopLoss).toBeLessThan(d!.proposal!.entry);
    expect(d!.proposal!.takeProfit).toBeGreaterThan(d!.proposal!.entry);
  });

  it('the pivot must lie within lookbackCandles', () => {
    const s = divergenceSeries(30);
    expect(v52Divergence.evaluateAt(v52Divergence.prepare(s, { ...V52, divergence: { ...V52.divergence, lookbackCandles: 11 } }), 51)).toBeNull();
  });

  it('snapshot: the forming candle making the higher high on a partial-volume spike is evaluated from closed data + the forming values', () => {
    const s = divergenceSeries(30);
    const p = v52Divergence.prepare(s, V52);
    const ot = (s.openTime[50] as number) + 60_000;
    // Forming = candle 51 as it was 20 s in: same prices, 2/3 of the volume (still >= 2 x EMA).
    const forming = { openTime: ot, ts: ot + 20_000, open: s.open[51] as number, high: s.high[51] as number, low: s.low[51] as number, close: s.close[51] as number, volume: 20 };
    const snap = v52Divergence.evaluateAt(p, 50, { forming });
    const closed = v52Divergence.evaluateAt(p, 51);
    expect(snap).toMatchObject({ signalId: `v52_divergence:BTCUSDT:${ot}:snap:${ot + 20_000}`, decision: 'TAKE', direction: 'SHORT' });
    expect(snap?.features.rsi).toBeCloseTo(closed?.features.rsi as number, 9);
    expect(snap?.features.volumeRatio).toBeCloseTo(2, 9);
  });
});
