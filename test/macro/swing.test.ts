/**
 * Swing setups on real Kraken XBTUSD candles (2023-Q1), each rule checked by hand at and beyond its
 * threshold. The thresholds of the boundary cases are derived from the real candles with the same
 * arithmetic the rule states, so "at the threshold" is exact where the rule is `>=` / `<=`.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MACRO_CONFIG, type MacroConfig } from '../../shared/config/strategy.js';
import type { Tier } from '../../shared/model/market.js';
import type { CandleColumns } from '../../shared/strategies/macro/columns.js';
import {
  detectChannel,
  evaluateBreakoutAt,
  evaluateChannelAt,
  evaluateDcaAt,
  evaluateSwingAt,
  isSwingSignal,
  prepareSwing,
  resolveSwingConflicts,
  type SwingContext,
  type SwingScan,
  type SwingSignal,
} from '../../shared/strategies/macro/swing.js';
import { FILES, HOUR, MIN, cols, loadRows, ts } from './helpers.js';

const base = DEFAULT_MACRO_CONFIG;
const ctx = (over: Partial<SwingContext> = {}): SwingContext => ({ symbol: 'BTCUSDT', tier: 'large_cap', regime: 'NORMAL', ...over });

function withSetup<K extends keyof MacroConfig['setups']>(k: K, patch: Partial<MacroConfig['setups'][K]>): MacroConfig {
  return { ...base, setups: { ...base.setups, [k]: { ...base.setups[k], ...patch } } };
}

function indexOf(c: CandleColumns, iso: string): number {
  const i = c.openTime.indexOf(ts(iso));
  if (i < 0) throw new Error(`no candle at ${iso}`);
  return i;
}

function signal(d: SwingScan): SwingSignal {
  if (!isSwingSignal(d)) throw new Error(`expected TAKE, got ${d.decision}: ${d.reasons.join(' | ')}`);
  return d;
}

// ------------------------------------------------------------------------------------------------
describe('DCA (5m, drop from the 4h high)', () => {
  const c5 = cols(FILES.btc5mJan, '5m');
  const rows = loadRows(FILES.btc5mJan);
  const prep = (cfg: MacroConfig = base) => prepareSwing(cfg, { '5m': c5 });
  // 2023-01-14: BTC pulled back from 21,400 (00:40) during the January rally.
  const iTake = indexOf(c5, '2023-01-14T01:40:00Z');
  const iNear = indexOf(c5, '2023-01-14T03:30:00Z');

  /** The rule by hand: highest high of candles opened within 4h before the candle closed. */
  function byHand(i: number) {
    const close = rows[i]!.close;
    const closeTime = rows[i]!.openTime + 5 * MIN;
    const high = Math.max(...rows.slice(0, i + 1).filter((r) => r.openTime >= closeTime - 4 * HOUR).map((r) => r.high));
    const prev = rows.slice(i - 20, i).map((r) => r.volume);
    const avg = prev.reduce((s, v) => s + v, 0) / prev.length;
    return { close, high, dropPct: ((high - close) / high) * 100, volumeRatio: rows[i]!.volume / avg };
  }

  it('TAKE at 2.505 % below the 21,400 high with volume above average; grid of 5 buys 1 % apart, 72 h', () => {
    const h = byHand(iTake);
    expect(h.high).toBe(21400);
    expect(h.close).toBe(20863.9);
    expect(h.dropPct).toBeCloseTo(2.50514, 5);
    expect(h.volumeRatio).toBeGreaterThan(1);
    const s = signal(evaluateDcaAt(prep(), iTake, ctx()));
    expect(s.signalId).toBe(`dca:BTCUSDT:${ts('2023-01-14T01:40:00Z')}`);
    expect(s.strategy).toBe('dca');
    expect(s.engine).toBe('SWING');
    expect(s.direction).toBe('LONG');
    expect(s.ts).toBe(ts('2023-01-14T01:45:00Z'));
    expect(s.features.recentHigh).toBe(21400);
    expect(s.features.dropPct).toBeCloseTo(h.dropPct, 6);
    expect(s.features.volumeRatio).toBeCloseTo(h.volumeRatio, 6);
    expect(s.entries).toHaveLength(5);
    const expected = [1, 0.99, 0.98, 0.97, 0.96].map((f) => 20863.9 * f);
    s.entries.forEach((e, k) => expect(e).toBeCloseTo(expected[k]!, 6));
    for (let k = 1; k < 5; k++) expect((s.entries[k - 1]! - s.entries[k]!) / 20863.9).toBeCloseTo(0.01, 12);
    expect(s.entryWeights).toEqual([0.2, 0.2, 0.2, 0.2, 0.2]);
    expect(s.maxHoldMs).toBe(72 * HOUR);
    // large cap exits 2.0 / 2.0 / 0.5 %: stop below the last grid entry, target above the first.
    expect(s.stopLoss).toBeCloseTo(expected[4]! * 0.98, 6);
    expect(s.takeProfit).toBeCloseTo(20863.9 * 1.02, 6);
    expect(s.trailingFraction).toBeCloseTo(0.005, 12);
    expect(s.tier).toBe('large_cap');
    expect(s.confidence).toBeGreaterThanOrEqual(50);
    expect(s.confidence).toBeLessThanOrEqual(100);
  });

  it('the 2.5 % boundary: 2.499 % below the high is a NEAR_MISS, a threshold equal to the drop is a TAKE', () => {
    const h = byHand(iNear);
    expect(h.dropPct).toBeCloseTo(2.499065, 5);
    expect(h.volumeRatio).toBeGreaterThan(1);
    const d = evaluateDcaAt(prep(), iNear, ctx());
    expect(d.decision).toBe('NEAR_MISS');
    expect(d.reasons[0]).toBe('FAIL: close 20865.2 is 2.499 % below the 4h high 21400 (< 2.5 %)');
    // At the threshold (>=) and just beyond it.
    const exact = byHand(iTake).dropPct;
    expect(evaluateDcaAt(prep(withSetup('DCA', { dropFromHighPct: exact })), iTake, ctx()).decision).toBe('TAKE');
    expect(evaluateDcaAt(prep(withSetup('DCA', { dropFromHighPct: exact + 1e-9 })), iTake, ctx()).decision).toBe('NEAR_MISS');
    // Far from the threshold: SKIP, not near.
    expect(evaluateDcaAt(prep(withSetup('DCA', { dropFromHighPct: 5 })), iTake, ctx()).decision).toBe('SKIP');
  });

  it('volume must be ABOVE the average (x minVolumeRatio)', () => {
    const r = byHand(iTake).volumeRatio;
    expect(evaluateDcaAt(prep(withSetup('DCA', { minVolumeRatio: r * (1 - 1e-9) })), iTake, ctx()).decision).toBe('TAKE');
    const at = evaluateDcaAt(prep(withSetup('DCA', { minVolumeRatio: r * (1 + 1e-9) })), iTake, ctx());
    expect(at.decision).toBe('NEAR_MISS');
    expect(at.reasons[1]).toMatch(/^FAIL: volume 1\.074x the 20-candle average \(<= /);
  });

  it('BTC regime PANIC (or unknown) blocks DCA; CAUTION/EUPHORIA do not', () => {
    const p = prep();
    const panic = evaluateDcaAt(p, iTake, ctx({ regime: 'PANIC' }));
    expect(panic.decision).toBe('SKIP');
    expect(panic.reasons).toContain('FAIL: BTC regime PANIC is blocked');
    const unknown = evaluateDcaAt(p, iTake, ctx({ regime: null }));
    expect(unknown.decision).toBe('SKIP');
    expect(unknown.reasons).toContain('FAIL: BTC regime unknown (DCA needs a known regime)');
    expect(evaluateDcaAt(p, iTake, ctx({ regime: 'CAUTION' })).decision).toBe('TAKE');
    expect(evaluateDcaAt(p, iTake, ctx({ regime: 'EUPHORIA' })).decision).toBe('TAKE');
  });

  it('exits follow the tier (mid 2.5/2.5/0.7 %, small 3/3/1 %)', () => {
    const p = prep();
    const exits: Array<[Tier, number, number, number]> = [
      ['mid_cap', 2.5, 2.5, 0.7],
      ['small_cap', 3, 3, 1],
    ];
    for (const [tier, tp, sl, tr] of exits) {
      const s = signal(evaluateDcaAt(p, iTake, ctx({ tier })));
      expect(s.tier).toBe(tier);
      expect(s.takeProfit).toBeCloseTo(20863.9 * (1 + tp / 100), 6);
      expect(s.stopLoss).toBeCloseTo(20863.9 * 0.96 * (1 - sl / 100), 6);
      expect(s.trailingFraction).toBeCloseTo(tr / 100, 12);
    }
  });

  it('too little history is a SKIP with the reason', () => {
    const d = evaluateDcaAt(prep(), 5, ctx());
    expect(d.decision).toBe('SKIP');
    expect(d.direction).toBeNull();
    expect(d.reasons[0]).toBe('insufficient data: 6 5m candles, need 21');
  });
});

// ------------------------------------------------------------------------------------------------
describe('SWING breakout (1h close over the 50-candle resistance, volume, RSI, 4h uptrend)', () => {
  const c1 = cols(FILES.btc1h, '1h');
  const c4 = cols(FILES.btc4h, '4h');
  const rows = loadRows(FILES.btc1h);
  const prep = (cfg: MacroConfig = base, with4h = true) => prepareSwing(cfg, { '1h': c1, ...(with4h ? { '4h': c4 } : {}) });
  // 2023-03-17 01:00 UTC: BTC broke above 25,300 on heavy volume (the rally after the SVB low).
  const i = indexOf(c1, '2023-03-17T01:00:00Z');

  function byHand(k: number) {
    const resistance = Math.max(...rows.slice(k - 50, k).map((r) => r.high));
    const prev = rows.slice(k - 20, k).map((r) => r.volume);
    const avg = prev.reduce((s, v) => s + v, 0) / prev.length;
    return { resistance, close: rows[k]!.close, volumeRatio: rows[k]!.volume / avg };
  }

  it('TAKE: close 25,732.3 > 25,300 x 1.010 with volume >= 1.3x, RSI > 60, 4h uptrend; one entry, 48 h', () => {
    const h = byHand(i);
    expect(h.resistance).toBe(25300);
    expect(h.close).toBe(25732.3);
    expect(h.close).toBeGreaterThan(h.resistance * 1.01);
    expect(h.volumeRatio).toBeGreaterThanOrEqual(1.3);
    const s = signal(evaluateBreakoutAt(prep(), i, ctx()));
    expect(s.signalId).toBe(`swing_breakout:BTCUSDT:${ts('2023-03-17T01:00:00Z')}`);
    expect(s.features.resistance).toBe(25300);
    expect(s.features.volumeRatio).toBeCloseTo(h.volumeRatio, 6);
    expect(s.features.rsi as number).toBeGreaterThan(60);
    expect(s.features.uptrend4h).toBe(true);
    expect(s.entries).toEqual([25732.3]);
    expect(s.entryWeights).toEqual([1]);
    expect(s.maxHoldMs).toBe(48 * HOUR);
    expect(s.stopLoss).toBeCloseTo(25732.3 * 0.98, 6);
    expect(s.takeProfit).toBeCloseTo(25732.3 * 1.02, 6);
    expect(s.reasons.every((r) => r.startsWith('ok: '))).toBe(true);
  });

  it('the 1.010 boundary is strict: a breakout exactly at the threshold is not a TAKE', () => {
    const h = byHand(i);
    const exact = (h.close / h.resistance - 1) * 100;
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { breakoutPct: exact })), i, ctx()).decision).toBe('NEAR_MISS');
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { breakoutPct: exact - 1e-9 })), i, ctx()).decision).toBe('TAKE');
    // A real near miss: 2023-03-17 06:00 closed 0.92 % over its resistance.
    const j = indexOf(c1, '2023-03-17T06:00:00Z');
    const near = evaluateBreakoutAt(prep(), j, ctx());
    expect(near.decision).toBe('NEAR_MISS');
    expect(near.reasons[0]).toMatch(/^FAIL: close 26212\.6 is 0\.92\d % above resistance 25972\.9 \(50-candle high; <= 1 %\)$/);
  });

  it('volume >= 1.3x (inclusive) and RSI > 60 (strict) at their boundaries', () => {
    const r = byHand(i).volumeRatio;
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { minVolumeRatio: r * (1 - 1e-9) })), i, ctx()).decision).toBe('TAKE');
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { minVolumeRatio: r * (1 + 1e-9) })), i, ctx()).decision).toBe('NEAR_MISS');
    const rsi = evaluateBreakoutAt(prep(), i, ctx()).features.rsi as number;
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { rsiMin: rsi - 1e-3 })), i, ctx()).decision).toBe('TAKE');
    const at = evaluateBreakoutAt(prep(withSetup('SWING', { rsiMin: rsi + 1e-3 })), i, ctx());
    expect(at.decision).toBe('NEAR_MISS');
    expect(at.reasons[2]).toMatch(/^FAIL: RSI14 70\.75 \(<= 70\.749\d+\)$/);
  });

  it('without a known 4h uptrend there is no TAKE (and it is not a near miss)', () => {
    const d = evaluateBreakoutAt(prep(base, false), i, ctx());
    expect(d.decision).toBe('SKIP');
    expect(d.reasons[3]).toBe('FAIL: 4h trend unknown (fewer than 200 closed 4h candles)');
    expect(evaluateBreakoutAt(prep(withSetup('SWING', { require4hUptrend: false }), false), i, ctx()).decision).toBe('TAKE');
  });

  it('supplied resistance levels replace the recent high', () => {
    const levels = [{ price: 24000 }, { price: 25400 }, { price: 26000 }];
    const d = evaluateBreakoutAt(prep(), i, ctx({ resistance: levels }));
    expect(d.features.resistance).toBe(25400);
    expect(d.features.resistanceSource).toBe('supplied level');
    expect(d.decision).toBe('TAKE');
  });
});

// ------------------------------------------------------------------------------------------------
describe('CHANNEL (bottom 10 % of a linear-regression channel with strength >= 0.75)', () => {
  const c1 = cols(FILES.btc1h, '1h');
  const rows = loadRows(FILES.btc1h);
  const prep = (cfg: MacroConfig = base) => prepareSwing(cfg, { '1h': c1 });

  /** The channel by hand: least squares of the closes, +/- 2 mean ranges, strength = closes inside / 100. */
  function byHand(k: number) {
    const w = rows.slice(k - 99, k + 1);
    const n = w.length;
    const xs = w.map((_, x) => x);
    const mx = xs.reduce((s, x) => s + x, 0) / n;
    const my = w.reduce((s, r) => s + r.close, 0) / n;
    const slope = xs.reduce((s, x, j) => s + (x - mx) * (w[j]!.close - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const half = (2 * w.reduce((s, r) => s + r.high - r.low, 0)) / n;
    const centre = (x: number) => my + slope * (x - mx);
    const inside = w.filter((r, x) => r.close >= centre(x) - half && r.close <= centre(x) + half).length;
    const lower = centre(n - 1) - half;
    return { strength: inside / n, position: (w[n - 1]!.close - lower) / (2 * half), lower, upper: lower + 2 * half };
  }

  it('TAKE on 2023-01-05 08:00: strength 0.81, close at 8.5 % of the channel; one entry, 72 h', () => {
    const i = indexOf(c1, '2023-01-05T08:00:00Z');
    const h = byHand(i);
    expect(h.strength).toBe(0.81);
    expect(h.position).toBeCloseTo(0.0853, 4);
    const ch = detectChannel(c1, i, 100)!;
    expect(ch.strength).toBe(h.strength);
    expect(ch.lower).toBeCloseTo(h.lower, 6);
    expect(ch.upper).toBeCloseTo(h.upper, 6);
    const s = signal(evaluateChannelAt(prep(), i, ctx()));
    expect(s.signalId).toBe(`channel:BTCUSDT:${ts('2023-01-05T08:00:00Z')}`);
    expect(s.entries).toEqual([rows[i]!.close]);
    expect(s.maxHoldMs).toBe(72 * HOUR);
    expect(s.features.channelStrength).toBe(0.81);
  });

  it('the bottom-10 % boundary: 8.5 % is in a 10 % zone, not in an 8 % zone (near miss) nor a 5 % zone (skip)', () => {
    const i = indexOf(c1, '2023-01-05T08:00:00Z');
    const pos = byHand(i).position;
    expect(evaluateChannelAt(prep(withSetup('CHANNEL', { entryZonePct: pos * 100 * (1 + 1e-9) })), i, ctx()).decision).toBe('TAKE');
    const near = evaluateChannelAt(prep(withSetup('CHANNEL', { entryZonePct: 8 })), i, ctx());
    expect(near.decision).toBe('NEAR_MISS');
    expect(near.reasons[2]).toMatch(/^FAIL: close at 8\.53 % of the channel \[.*\] \(> 8 %\)$/);
    expect(evaluateChannelAt(prep(withSetup('CHANNEL', { entryZonePct: 5 })), i, ctx()).decision).toBe('SKIP');
  });

  it('the 0.75 strength boundary (inclusive): 0.81 passes at 0.81, fails at 0.82; a real 0.72 channel is a near miss', () => {
    const i = indexOf(c1, '2023-01-05T08:00:00Z');
    expect(evaluateChannelAt(prep(withSetup('CHANNEL', { minStrength: 0.81 })), i, ctx()).decision).toBe('TAKE');
    expect(evaluateChannelAt(prep(withSetup('CHANNEL', { minStrength: 0.82 })), i, ctx()).decision).toBe('NEAR_MISS');
    const j = indexOf(c1, '2023-01-11T14:00:00Z');
    expect(byHand(j).strength).toBe(0.72);
    expect(byHand(j).position).toBeLessThanOrEqual(0.1);
    const d = evaluateChannelAt(prep(), j, ctx());
    expect(d.decision).toBe('NEAR_MISS');
    expect(d.reasons[0]).toBe('FAIL: channel strength 0.72 (72/100 closes inside; < 0.75)');
  });

  it('a close below the lower line is a breakdown, not the bottom of the channel', () => {
    const p = prep();
    let found = -1;
    for (let k = 99; k < c1.length && found < 0; k++) {
      const h = byHand(k);
      if (h.strength >= 0.75 && h.position < 0) found = k;
    }
    expect(found).toBeGreaterThan(0);
    const d = evaluateChannelAt(p, found, ctx());
    expect(d.decision).toBe('SKIP');
    expect(d.reasons[1]).toMatch(/^FAIL: close is below the lower line/);
  });
});

// ------------------------------------------------------------------------------------------------
describe('all setups at one time and conflicts (SPEC 12)', () => {
  it('evaluateSwingAt runs each enabled setup on its last CLOSED candle', () => {
    const p = prepareSwing(base, { '5m': cols(FILES.btc5mMarch, '5m'), '1h': cols(FILES.btc1h, '1h'), '4h': cols(FILES.btc4h, '4h') });
    const asOf = ts('2023-03-17T02:00:00Z');
    const ev = evaluateSwingAt(p, asOf, ctx());
    expect(ev.decisions.map((d) => [d.strategy, d.candleTime])).toEqual([
      ['dca', asOf - 5 * MIN],
      ['swing_breakout', asOf - HOUR],
      ['channel', asOf - HOUR],
    ]);
    expect(ev.decisions[1]!.decision).toBe('TAKE');
    const off = evaluateSwingAt(prepareSwing(withSetup('CHANNEL', { enabled: false }), { '1h': cols(FILES.btc1h, '1h') }), asOf, ctx());
    expect(off.notes).toEqual(['DCA: no candles', 'CHANNEL: disabled']);
  });

  const c1 = cols(FILES.btc1h, '1h');
  const p = prepareSwing(base, { '1h': c1, '4h': cols(FILES.btc4h, '4h'), '5m': cols(FILES.btc5mJan, '5m') });
  const breakout = signal(evaluateBreakoutAt(p, indexOf(c1, '2023-03-17T01:00:00Z'), ctx()));
  const channel = signal(evaluateChannelAt(p, indexOf(c1, '2023-01-05T08:00:00Z'), ctx()));
  const dca = signal(evaluateDcaAt(p, indexOf(p.dca!.cols, '2023-01-14T01:40:00Z'), ctx()));

  it('same coin, same direction: the higher confidence wins', () => {
    expect(breakout.confidence).toBeGreaterThan(channel.confidence);
    const r = resolveSwingConflicts([channel, breakout, dca]);
    const winner = [breakout, channel, dca].sort((a, b) => b.confidence - a.confidence)[0]!;
    expect(r.kept).toEqual([winner]);
    expect(r.dropped.map((d) => d.signal.signalId).sort()).toEqual([breakout, channel, dca].filter((s) => s !== winner).map((s) => s.signalId).sort());
    expect(r.dropped[0]!.reason).toContain(`conflict: ${winner.signalId} has higher confidence`);
  });

  it('opposing signals on one coin cancel both; other coins are untouched', () => {
    const short: SwingSignal = { ...channel, direction: 'SHORT', signalId: 'channel:BTCUSDT:short' };
    const eth: SwingSignal = { ...dca, symbol: 'ETHUSDT', signalId: 'dca:ETHUSDT:1' };
    const r = resolveSwingConflicts([breakout, short, eth]);
    expect(r.kept).toEqual([eth]);
    expect(r.dropped.map((d) => d.signal.signalId)).toEqual([breakout.signalId, short.signalId]);
    expect(r.dropped.every((d) => d.reason.startsWith('conflict: opposing swing signals on BTCUSDT cancel each other'))).toBe(true);
  });

  it('ties are broken deterministically (earlier candle), whatever the input order', () => {
    const a: SwingSignal = { ...channel, confidence: 70 };
    const b: SwingSignal = { ...breakout, confidence: 70 };
    expect(resolveSwingConflicts([a, b]).kept).toEqual([a]);
    expect(resolveSwingConflicts([b, a]).kept).toEqual([a]);
    expect(resolveSwingConflicts([])).toEqual({ kept: [], dropped: [] });
  });
});
