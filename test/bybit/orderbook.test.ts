/**
 * Local order book on the REAL Bybit recording (orderbook.200: 4 snapshots + 1,594 deltas) and its
 * edge cases. The reference for "the recorded state at the end" is independent of the book code:
 * the recorded `tickers` stream (bid1/ask1 price and size, the exchange's own top of book) and a
 * naive string-keyed rebuild written in this test.
 */
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../shared/market/bybit/orderbook.js';
import type { BookData } from '../../shared/market/bybit/messages.js';
import { recorded, RECORDING_SYMBOLS } from './helpers.js';

const bookMsgs = recorded('linear_orderbook200.jsonl');
const tickerMsgs = recorded('linear_tickers.jsonl');

function naiveRebuild(symbol: string): { bids: Map<string, string>; asks: Map<string, string> } {
  const bids = new Map<string, string>();
  const asks = new Map<string, string>();
  for (const { msg } of bookMsgs) {
    const d = msg.data as { s: string; b: string[][]; a: string[][] };
    if (d.s !== symbol) continue;
    if (msg.type === 'snapshot') {
      bids.clear();
      asks.clear();
    }
    for (const [p, s] of d.b) (Number(s) === 0 ? bids.delete(p as string) : bids.set(p as string, s as string));
    for (const [p, s] of d.a) (Number(s) === 0 ? asks.delete(p as string) : asks.set(p as string, s as string));
  }
  return { bids, asks };
}

function lastTicker(symbol: string): Record<string, string> {
  const top: Record<string, string> = {};
  for (const { msg } of tickerMsgs) {
    const d = msg.data as Record<string, string>;
    if (d.symbol !== symbol) continue;
    for (const k of ['bid1Price', 'bid1Size', 'ask1Price', 'ask1Size']) if (d[k] !== undefined) top[k] = d[k] as string;
  }
  return top;
}

describe('order book rebuilt from the real recording', () => {
  it.each(RECORDING_SYMBOLS)('%s: snapshot + every delta applies in sequence and the end state equals the recorded state', (symbol) => {
    const book = new OrderBook(symbol);
    let applied = 0;
    for (const { msg } of bookMsgs) {
      const d = msg.data as BookData;
      if (d.s !== symbol) continue;
      expect(book.apply(msg.type, d, msg.ts as number)).toBe('ok');
      applied++;
    }
    expect(applied).toBeGreaterThan(370);

    // the exchange's own top of book at the end of the recording (tickers stream)
    const t = lastTicker(symbol);
    expect(book.bestBid()).toBe(Number(t.bid1Price));
    expect(book.bestAsk()).toBe(Number(t.ask1Price));
    expect(book.levels('bid', 1)[0]!.size).toBe(Number(t.bid1Size));
    expect(book.levels('ask', 1)[0]!.size).toBe(Number(t.ask1Size));

    // every level equals an independent rebuild; the book keeps Bybit's 200 levels per side
    const ref = naiveRebuild(symbol);
    const refBids = [...ref.bids].map(([p, s]) => ({ price: Number(p), size: Number(s) })).sort((a, b) => b.price - a.price);
    const refAsks = [...ref.asks].map(([p, s]) => ({ price: Number(p), size: Number(s) })).sort((a, b) => a.price - b.price);
    expect(book.levels('bid')).toEqual(refBids);
    expect(book.levels('ask')).toEqual(refAsks);
    expect(book.size('bid')).toBe(200);
    expect(book.size('ask')).toBe(200);
    const last = [...bookMsgs].reverse().find(({ msg }) => (msg.data as BookData).s === symbol)!;
    expect(book.updateId).toBe((last.msg.data as BookData).u);
  });

  it('features: best bid/ask, mid, spread in bps, top-N depth and imbalance', () => {
    const book = new OrderBook('BTCUSDT');
    const snap = bookMsgs.find(({ msg }) => (msg.data as BookData).s === 'BTCUSDT' && msg.type === 'snapshot')!;
    book.apply('snapshot', snap.msg.data, snap.msg.ts as number);
    const d = snap.msg.data as { b: string[][]; a: string[][] };
    const n = 10;
    const bidDepth = d.b.slice(0, n).reduce((s, l) => s + Number(l[1]), 0);
    const askDepth = d.a.slice(0, n).reduce((s, l) => s + Number(l[1]), 0);
    const f = book.features(n)!;
    expect(f.bestBid).toBe(65114.2);
    expect(f.bestAsk).toBe(Number(d.a[0]![0]));
    expect(f.mid).toBeCloseTo((f.bestBid + f.bestAsk) / 2, 9);
    expect(f.spreadBps).toBeCloseTo(((f.bestAsk - f.bestBid) / f.mid) * 10_000, 9);
    expect(f.bidDepth).toBeCloseTo(bidDepth, 9);
    expect(f.askDepth).toBeCloseTo(askDepth, 9);
    expect(f.imbalance).toBeCloseTo((bidDepth - askDepth) / (bidDepth + askDepth), 9);
    expect(f.depthLevels).toBe(n);
  });
});

describe('order book edge cases', () => {
  const snapshot = { s: 'X', b: [['100.0', '1'], ['99.5', '2'], ['99.0', '3']], a: [['100.5', '1'], ['101.0', '2']], u: 10, seq: 1 };

  it('size "0" removes a level, a new price inserts in order, an existing one is replaced', () => {
    const b = new OrderBook('X');
    expect(b.applySnapshot(snapshot, 1)).toBe('ok');
    expect(b.applyDelta({ s: 'X', b: [['99.5', '0'], ['99.75', '4'], ['100.0', '5']], a: [['100.5', '0']], u: 11 }, 2)).toBe('ok');
    expect(b.levels('bid')).toEqual([
      { price: 100, size: 5 },
      { price: 99.75, size: 4 },
      { price: 99, size: 3 },
    ]);
    expect(b.levels('ask')).toEqual([{ price: 101, size: 2 }]);
    expect(b.updateId).toBe(11);
  });

  it('a u that does not increase by exactly 1 is a gap: the book waits for a snapshot, which resets it', () => {
    const b = new OrderBook('X');
    b.applySnapshot(snapshot, 1);
    expect(b.applyDelta({ s: 'X', b: [['99.0', '9']], a: [], u: 12 }, 2)).toBe('gap');
    expect(b.awaitingSnapshot).toBe(true);
    expect(b.features(5)).toBeNull();
    expect(b.applyDelta({ s: 'X', b: [], a: [], u: 13 }, 3)).toBe('awaiting_snapshot');
    // a repeated u is a gap too
    b.applySnapshot(snapshot, 4);
    expect(b.applyDelta({ s: 'X', b: [], a: [], u: 10 }, 5)).toBe('gap');
    // a snapshot resets, whatever its u
    expect(b.applySnapshot({ ...snapshot, b: [['98.0', '1']], u: 500 }, 6)).toBe('ok');
    expect(b.levels('bid')).toEqual([{ price: 98, size: 1 }]);
    expect(b.applyDelta({ s: 'X', b: [], a: [['101.0', '3']], u: 501 }, 7)).toBe('ok');
  });

  it('a delta that crosses the book is impossible: flagged, the book is dropped', () => {
    const b = new OrderBook('X');
    b.applySnapshot(snapshot, 1);
    expect(b.applyDelta({ s: 'X', b: [['100.5', '1']], a: [], u: 11 }, 2)).toBe('crossed');
    expect(b.awaitingSnapshot).toBe(true);
  });

  it.each([
    ['a NaN size', [['99.0', 'abc']]],
    ['a negative size', [['99.0', '-1']]],
    ['a zero price', [['0', '1']]],
    ['a negative price', [['-5', '1']]],
    ['an empty price', [['', '1']]],
    ['a level that is not a pair', ['99.0']],
  ])('%s is impossible: flagged invalid, the book is dropped', (_, levels) => {
    const b = new OrderBook('X');
    b.applySnapshot(snapshot, 1);
    expect(b.apply('delta', { s: 'X', b: levels, a: [], u: 11 }, 2)).toBe('invalid');
    expect(b.awaitingSnapshot).toBe(true);
  });

  it('a malformed message (no u, no arrays, unknown type) is invalid', () => {
    const b = new OrderBook('X');
    expect(b.apply('snapshot', { s: 'X', b: [], a: [] }, 1)).toBe('invalid');
    expect(b.apply('snapshot', { s: 'X', u: 1 }, 1)).toBe('invalid');
    expect(b.apply('partial', snapshot, 1)).toBe('invalid');
    expect(b.apply('snapshot', null, 1)).toBe('invalid');
  });
});
