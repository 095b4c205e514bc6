/**
 * Trades -> 1m candles. On the REAL recording: candles aggregated from the recorded publicTrade
 * messages agree with the recorded kline.1 bars (`confirm: true` for 21:26, and the last kline.1
 * update of the forming 21:27 minute). On real 1m candles: the derived trade sequence of the replay
 * server re-aggregates to exactly the real candles. Plus the edge cases of closing and completeness.
 */
import { describe, expect, it } from 'vitest';
import { CandleAggregator, type ClosedMinute } from '../../shared/market/bybit/candle-aggregator.js';
import { decodeKlines, decodeTrades, type KlineBar, type Rejected } from '../../shared/market/bybit/messages.js';
import type { Trade } from '../../shared/model/market.js';
import { eventMessage } from '../../infra/replay/bybit-replay-data.js';
import { candleData, fixtureCandles, MINUTE, recorded, RECORDING_SYMBOLS, sameCandle } from './helpers.js';

const OPTS = { closeGraceMs: 2_000, completeMarginMs: 1_000 };
const CONFIRMED_MINUTE = 1786310760000; // 2026-08-09 21:26 UTC, confirmed in the recording

function recordedTrades(symbol: string): Trade[] {
  const out: Trade[] = [];
  const rej: Rejected[] = [];
  for (const { msg } of recorded('linear_publicTrade.jsonl')) {
    if (msg.topic === `publicTrade.${symbol}`) decodeTrades(msg.data, symbol, out, rej);
  }
  expect(rej).toEqual([]);
  return out;
}

function recordedKlines(symbol: string): KlineBar[] {
  const out: KlineBar[] = [];
  const rej: Rejected[] = [];
  for (const { msg } of recorded('linear_kline1.jsonl')) {
    if (msg.topic === `kline.1.${symbol}`) decodeKlines(msg.data, out, rej);
  }
  expect(rej).toEqual([]);
  return out;
}

describe('1m candles from the real recorded trades agree with the recorded kline.1', () => {
  it.each(RECORDING_SYMBOLS)('%s: the closed 21:26 candle equals the confirm:true bar; the forming 21:27 candle equals the last kline.1 update', (symbol) => {
    const trades = recordedTrades(symbol);
    const bars = recordedKlines(symbol);
    const confirmed = bars.find((b) => b.confirm && b.start === CONFIRMED_MINUTE)!;
    expect(confirmed).toBeDefined();
    // The recording starts 0.5 s before 21:27: 21:26 was not fully observed, so its exchange state
    // (the last unconfirmed bar) seeds it and the recorded trades after that bar are added.
    const seed = bars.filter((b) => !b.confirm && b.start === CONFIRMED_MINUTE).pop()!;
    const agg = new CandleAggregator(symbol, OPTS);
    agg.reset(CONFIRMED_MINUTE + MINUTE - 2_000); // connected at 21:26:58: 21:27 is fully observed
    const closed: ClosedMinute[] = [];
    agg.seedFromKline(seed, closed);

    const lastForming = bars.filter((b) => !b.confirm && b.start === CONFIRMED_MINUTE + MINUTE).pop()!;
    for (const t of trades) if (t.ts <= lastForming.timestamp) agg.addTrade(t.ts, t.price, t.size, closed);

    expect(closed).toHaveLength(1);
    const c26 = closed[0]!;
    expect(c26.complete).toBe(false); // seeded: published from REST, never from here
    expect(c26.candle).toMatchObject({ openTime: CONFIRMED_MINUTE, open: confirmed.open, high: confirmed.high, low: confirmed.low, close: confirmed.close });
    expect(c26.candle.volume).toBeCloseTo(confirmed.volume, 9);

    // 21:27 opens at the 21:26 close (Bybit convention) and is formed from trades alone
    const forming = agg.forming(lastForming.timestamp)!;
    expect(forming.openTime).toBe(lastForming.start);
    expect([forming.open, forming.high, forming.low, forming.close]).toEqual([lastForming.open, lastForming.high, lastForming.low, lastForming.close]);
    expect(forming.volume).toBeCloseTo(lastForming.volume, 9);
    expect(forming.trades).toBe(trades.filter((t) => t.ts >= lastForming.start && t.ts <= lastForming.timestamp).length);
  });
});

describe('derived trades of the replay server re-aggregate to the real candles', () => {
  it.each(['BTCUSDT', 'ETHUSDT'] as const)('%s: 180 real candles, every one complete and exact', (symbol) => {
    const real = fixtureCandles(symbol);
    const data = candleData([symbol]);
    const agg = new CandleAggregator(symbol, OPTS);
    agg.reset(real[0]!.openTime - 10_000);
    const closed: ClosedMinute[] = [];
    const trades: Trade[] = [];
    const rej: Rejected[] = [];
    for (const e of data.events) if (e.topic.startsWith('publicTrade.')) decodeTrades(eventMessage(e).data, symbol, trades, rej);
    for (const t of trades) agg.addTrade(t.ts, t.price, t.size, closed);
    agg.onClock(real[real.length - 1]!.openTime + MINUTE + OPTS.closeGraceMs, closed);
    expect(closed).toHaveLength(real.length);
    // the very first minute has no previous close: its open is the first trade = the real open
    for (let i = 0; i < real.length; i++) {
      expect(sameCandle(closed[i]!.candle, real[i]!), `minute ${i}`).toBe(true);
    }
    expect(closed.slice(1).every((c) => c.complete)).toBe(true);
  });
});

describe('aggregator edge cases', () => {
  const T0 = 1_748_736_000_000; // a minute boundary
  const run = (f: (a: CandleAggregator, out: ClosedMinute[]) => void): ClosedMinute[] => {
    const a = new CandleAggregator('X', OPTS);
    const out: ClosedMinute[] = [];
    f(a, out);
    return out;
  };

  it('a minute closes on the first trade of a later minute; empty minutes between are flat at the last close', () => {
    const out = run((a, o) => {
      a.reset(T0 - 5_000);
      a.addTrade(T0 + 1_000, 100, 1, o);
      a.addTrade(T0 + 2_000, 102, 2, o);
      a.addTrade(T0 + 3 * MINUTE + 10, 99, 1, o);
    });
    expect(out.map((c) => [c.openTime - T0, c.complete, c.candle.open, c.candle.high, c.candle.low, c.candle.close, c.candle.volume])).toEqual([
      [0, false, 100, 102, 100, 102, 3], // no previous close observed: not complete
      [MINUTE, true, 102, 102, 102, 102, 0],
      [2 * MINUTE, true, 102, 102, 102, 102, 0],
    ]);
  });

  it('the clock closes a minute after end + grace, and keeps emitting flat minutes while no trade comes', () => {
    const a = new CandleAggregator('X', OPTS);
    const out: ClosedMinute[] = [];
    a.reset(T0 - MINUTE - 5_000);
    a.addTrade(T0 - 30_000, 50, 1, out);
    a.addTrade(T0 + 1_000, 51, 1, out);
    out.length = 0;
    a.onClock(T0 + MINUTE + OPTS.closeGraceMs - 1, out);
    expect(out).toHaveLength(0);
    a.onClock(T0 + MINUTE + OPTS.closeGraceMs, out);
    expect(out.map((c) => [c.openTime, c.complete, c.candle.close])).toEqual([[T0, true, 51]]);
    a.onClock(T0 + 3 * MINUTE + OPTS.closeGraceMs, out);
    expect(out.map((c) => c.openTime)).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    // a trade of an already closed minute is late: ignored and counted, never reopens a minute
    a.addTrade(T0 + 2 * MINUTE + 5, 70, 1, out);
    expect(a.lateTrades).toBe(1);
    expect(out).toHaveLength(3);
  });

  it('after a reconnect the partial minute is incomplete; the next minute is complete', () => {
    const out = run((a, o) => {
      a.reset(T0 + 30_000); // connected mid-minute
      a.addTrade(T0 + 31_000, 10, 1, o);
      a.addTrade(T0 + MINUTE + 1_000, 11, 1, o);
      a.addTrade(T0 + 2 * MINUTE + 1_000, 12, 1, o);
    });
    expect(out.map((c) => [c.openTime - T0, c.complete])).toEqual([
      [0, false],
      [MINUTE, true],
    ]);
    expect(out[1]!.candle).toMatchObject({ open: 10, high: 11, low: 10, close: 11 });
  });

  it('connecting less than the margin before a minute makes that minute incomplete too', () => {
    const out = run((a, o) => {
      a.reset(T0 - 500);
      a.addTrade(T0 - 100, 10, 1, o);
      a.addTrade(T0 + 1_000, 11, 1, o);
      a.addTrade(T0 + MINUTE + 1_000, 12, 1, o);
      a.addTrade(T0 + 2 * MINUTE + 1_000, 12, 1, o);
    });
    expect(out.map((c) => [c.openTime - T0, c.complete])).toEqual([
      [-MINUTE, false],
      [0, false],
      [MINUTE, true],
    ]);
  });

  it('a disconnect suspends: nothing is emitted by the clock until the next reset', () => {
    const a = new CandleAggregator('X', OPTS);
    const out: ClosedMinute[] = [];
    a.reset(T0 - 2 * MINUTE);
    a.addTrade(T0 - MINUTE + 1, 10, 1, out);
    a.addTrade(T0 + 1, 10, 1, out);
    out.length = 0;
    a.suspend();
    a.onClock(T0 + 10 * MINUTE, out);
    expect(out).toEqual([]);
    expect(a.forming(T0 + 10 * MINUTE)).toBeNull();
  });

  it('forming(): the aggregated candle, a flat candle before the first trade of a minute, null when unknown', () => {
    const a = new CandleAggregator('X', OPTS);
    const out: ClosedMinute[] = [];
    a.reset(T0 - 2 * MINUTE);
    expect(a.forming(T0)).toBeNull();
    a.addTrade(T0 - MINUTE + 10, 10, 1, out);
    expect(a.forming(T0 - MINUTE + 20)).toBeNull(); // partial minute, no kline seed
    a.addTrade(T0 + 10, 11, 2, out);
    expect(a.forming(T0 + 20)).toMatchObject({ openTime: T0, open: 10, high: 11, low: 10, close: 11, volume: 2, trades: 1 });
    expect(a.forming(T0 + MINUTE + 500)).toMatchObject({ openTime: T0 + MINUTE, open: 11, high: 11, low: 11, close: 11, volume: 0 });
  });

  it('volume sums of decimal sizes carry no float noise', () => {
    const out = run((a, o) => {
      a.reset(T0 - 5_000);
      a.addTrade(T0 - 1_000, 1, 0.1, o);
      for (let i = 0; i < 10; i++) a.addTrade(T0 + 1_000 + i, 1, 0.1, o);
      a.addTrade(T0 + MINUTE, 1, 0.1, o);
    });
    expect(out[1]!.candle.volume).toBe(1);
  });
});
