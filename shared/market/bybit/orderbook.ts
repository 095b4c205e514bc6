/**
 * Local L2 order book of one Bybit symbol, rebuilt from `orderbook.{depth}` snapshot + deltas.
 *
 * Bybit rules (v5 docs, and what the recording shows): a `snapshot` replaces the whole book; a
 * `delta` sets the size of each listed level, size "0" removes the level; `u` (update id) increases
 * by exactly 1 from one message to the next of the same stream. Anything else is a gap: the book is
 * untrustworthy until a fresh snapshot, which the caller obtains by re-subscribing.
 *
 * Structure: per side two parallel Float64Arrays sorted ascending by key, where key = price for asks
 * and -price for bids, so index 0 is always the best level. Updates are a binary search plus an
 * in-place size change (the common case) or a memmove (`copyWithin`, insert/remove): O(log n)
 * compares, O(n) moves only for structural changes, with n <= 500. Features read the first N
 * entries directly.
 */
import type { BookFeatures, BookLevel } from '../../model/market.js';
import { bookDataIssue, num, type BookData } from './messages.js';
import { lowerBound } from '../../sorted.js';

export type BookApplyResult =
  /** Applied. */
  | 'ok'
  /** Delta ignored: the book waits for a snapshot (after a gap, a reconnect or a re-subscribe). */
  | 'awaiting_snapshot'
  /** `u` did not increase by exactly 1: the book is invalidated, re-subscribe. */
  | 'gap'
  /** After the delta best bid >= best ask: impossible, the book is invalidated, re-subscribe. */
  | 'crossed'
  /** A level with a non-positive/non-finite price or negative/non-finite size, or a malformed message. */
  | 'invalid';

const BPS = 10_000;

/** Initial per-side capacity (grows by doubling); Bybit books are at most 500 levels deep. */
const INITIAL_CAPACITY = 256;

class BookSide {
  /** Ascending keys in [0, n): index 0 is the best level. Typed arrays: inserts/removals are memmoves. */
  private keys = new Float64Array(INITIAL_CAPACITY);
  private sizes = new Float64Array(INITIAL_CAPACITY);
  private n = 0;
  constructor(private readonly sign: 1 | -1) {}

  clear(): void {
    this.n = 0;
  }

  get length(): number {
    return this.n;
  }

  /** Best price (highest bid / lowest ask), NaN when empty. */
  best(): number {
    return this.n === 0 ? Number.NaN : this.sign * (this.keys[0] as number);
  }

  /** Sets one level; size 0 removes it. */
  set(price: number, size: number): void {
    const k = this.sign * price;
    const keys = this.keys;
    const n = this.n;
    // Fast path for snapshots, which list levels best first (ascending key).
    if (n === 0 || (keys[n - 1] as number) < k) {
      if (size !== 0) {
        if (n === keys.length) this.grow();
        this.keys[n] = k;
        this.sizes[n] = size;
        this.n = n + 1;
      }
      return;
    }
    const lo = lowerBound(keys, k, 0, n);
    if (keys[lo] === k) {
      if (size === 0) {
        keys.copyWithin(lo, lo + 1, n);
        this.sizes.copyWithin(lo, lo + 1, n);
        this.n = n - 1;
      } else this.sizes[lo] = size;
    } else if (size !== 0) {
      if (n === keys.length) this.grow();
      this.keys.copyWithin(lo + 1, lo, n);
      this.sizes.copyWithin(lo + 1, lo, n);
      this.keys[lo] = k;
      this.sizes[lo] = size;
      this.n = n + 1;
    }
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    const sizes = new Float64Array(this.sizes.length * 2);
    keys.set(this.keys);
    sizes.set(this.sizes);
    this.keys = keys;
    this.sizes = sizes;
  }

  levels(n: number): BookLevel[] {
    const m = Math.min(n, this.n);
    const out: BookLevel[] = new Array(m);
    for (let i = 0; i < m; i++) out[i] = { price: this.sign * (this.keys[i] as number), size: this.sizes[i] as number };
    return out;
  }

  depth(n: number): number {
    const m = Math.min(n, this.n);
    let s = 0;
    for (let i = 0; i < m; i++) s += this.sizes[i] as number;
    return s;
  }
}

export class OrderBook {
  private readonly bids = new BookSide(-1);
  private readonly asks = new BookSide(1);
  private lastU: number | undefined;
  private lastSeq: number | undefined;
  private lastTs = 0;
  private waiting = true;

  constructor(readonly symbol: string) {}

  /** True until a snapshot has been applied (and again after a gap / invalidate). */
  get awaitingSnapshot(): boolean {
    return this.waiting;
  }
  get updateId(): number | undefined {
    return this.lastU;
  }
  get seq(): number | undefined {
    return this.lastSeq;
  }
  /** Exchange time of the last applied message. */
  get ts(): number {
    return this.lastTs;
  }

  /** Drops the book; deltas are ignored until the next snapshot. */
  invalidate(): void {
    this.waiting = true;
    this.bids.clear();
    this.asks.clear();
    this.lastU = undefined;
  }

  /** Applies one orderbook message (`type` 'snapshot' or 'delta', its `data`, its `ts`). */
  apply(type: unknown, data: unknown, ts: number): BookApplyResult {
    if (bookDataIssue(data)) return 'invalid';
    const d = data as BookData;
    if (type === 'snapshot') return this.applySnapshot(d, ts);
    if (type === 'delta') return this.applyDelta(d, ts);
    return 'invalid';
  }

  applySnapshot(d: BookData, ts: number): BookApplyResult {
    this.bids.clear();
    this.asks.clear();
    this.waiting = false;
    if (!this.load(d)) {
      this.invalidate();
      return 'invalid';
    }
    this.lastU = d.u;
    this.lastSeq = d.seq;
    this.lastTs = ts;
    if (this.isCrossed()) {
      this.invalidate();
      return 'crossed';
    }
    return 'ok';
  }

  applyDelta(d: BookData, ts: number): BookApplyResult {
    if (this.waiting) return 'awaiting_snapshot';
    if (d.u !== (this.lastU as number) + 1) {
      this.invalidate();
      return 'gap';
    }
    if (!this.load(d)) {
      this.invalidate();
      return 'invalid';
    }
    this.lastU = d.u;
    this.lastSeq = d.seq;
    this.lastTs = ts;
    if (this.isCrossed()) {
      this.invalidate();
      return 'crossed';
    }
    return 'ok';
  }

  private load(d: BookData): boolean {
    return this.loadSide(this.bids, d.b) && this.loadSide(this.asks, d.a);
  }

  private loadSide(side: BookSide, levels: unknown[]): boolean {
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i] as unknown[];
      if (!Array.isArray(lv)) return false;
      const price = num(lv[0]);
      const size = num(lv[1]);
      if (!(price > 0) || price === Number.POSITIVE_INFINITY) return false;
      if (!(size >= 0) || size === Number.POSITIVE_INFINITY) return false;
      side.set(price, size);
    }
    return true;
  }

  private isCrossed(): boolean {
    const b = this.bids.best();
    const a = this.asks.best();
    return b >= a; // NaN (an empty side) compares false
  }

  bestBid(): number {
    return this.bids.best();
  }
  bestAsk(): number {
    return this.asks.best();
  }
  size(side: 'bid' | 'ask'): number {
    return side === 'bid' ? this.bids.length : this.asks.length;
  }
  /** The best `n` levels of a side, best first. */
  levels(side: 'bid' | 'ask', n = Number.MAX_SAFE_INTEGER): BookLevel[] {
    return side === 'bid' ? this.bids.levels(n) : this.asks.levels(n);
  }

  /** Best bid/ask, mid, spread in bps, top-`n` depth and imbalance; null without a two-sided book. */
  features(n: number): BookFeatures | null {
    if (this.waiting || this.bids.length === 0 || this.asks.length === 0) return null;
    const bestBid = this.bids.best();
    const bestAsk = this.asks.best();
    const mid = (bestBid + bestAsk) / 2;
    const bidDepth = this.bids.depth(n);
    const askDepth = this.asks.depth(n);
    const total = bidDepth + askDepth;
    return {
      bestBid,
      bestAsk,
      mid,
      spreadBps: ((bestAsk - bestBid) / mid) * BPS,
      bidDepth,
      askDepth,
      imbalance: total > 0 ? (bidDepth - askDepth) / total : 0,
      depthLevels: Math.min(n, Math.max(this.bids.length, this.asks.length)),
    };
  }
}
