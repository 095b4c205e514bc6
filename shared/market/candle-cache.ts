/**
 * Per-instance memory of recent closed candles per symbol (one venue + interval), so an engine
 * invoked once per candle does not re-read its whole look-back from the hot store on every message.
 *
 * Firestore-read design (the cost that matters):
 * - COLD START (first message of a symbol in this instance): ONE query of the hot window
 *   (`candles/{venue}:{symbol}:{interval}/bars`, openTime <= the message's candle, newest first,
 *   limit = capacity). Bounded by the message's candle, so a redelivered old candle sees the window
 *   as it was (no lookahead) even on a fresh instance.
 * - WARM: every message's candles are merged in (replace by open time); nothing is read.
 * - GAP (a message whose first candle is more than one interval after the newest cached one, e.g.
 *   this instance missed messages handled by another instance): ONE range query for the missing
 *   open times only.
 * Candles flagged bad data, or with impossible numbers (the candle gate's stateless layer,
 * shared/market/candle-gate.ts), are never cached (SPEC 2: never traded), as the MACRO columns do.
 * Capacity is in candles; the oldest are dropped beyond it.
 *
 * Several instances each hold their own cache (Cloud Functions scale out); every read above is a
 * plain query of the shared hot store, so any instance converges to the same window.
 */
import { candleViolation } from './candle-gate.js';
import { barsCollection } from '../state-paths.js';
import { INTERVAL_MS, isTradable, type Candle, type Interval, type Venue } from '../model/market.js';
import type { StateStore } from '../ports/state.js';
import { allocSeries, setCandleAt, type CandleSeries } from '../strategies/series.js';
import { lowerBoundBy } from '../sorted.js';

/** Columns of a window as plain arrays (ArrayLike views for the protection functions; never copied). */
interface WindowColumns {
  readonly openTime: number[];
  readonly high: number[];
  readonly low: number[];
  readonly close: number[];
}

/** Closed candles of one symbol, ascending by open time, unique per open time. */
export class CandleWindow {
  private list: Candle[] = [];
  /** Parallel columns of `list`, kept in step by `merge`. */
  readonly cols: WindowColumns = { openTime: [], high: [], low: [], close: [] };

  constructor(
    readonly symbol: string,
    readonly intervalMs: number,
    public capacity: number,
  ) {}

  get length(): number {
    return this.list.length;
  }

  get candles(): readonly Candle[] {
    return this.list;
  }

  at(i: number): Candle | undefined {
    return this.list[i];
  }

  last(): Candle | undefined {
    return this.list[this.list.length - 1];
  }

  /** Index of the candle with this open time, or -1 (binary search). */
  indexOf(openTime: number): number {
    const k = this.lowerBound(openTime);
    return k < this.list.length && (this.list[k] as Candle).openTime === openTime ? k : -1;
  }

  /** First index whose open time is >= t (length when none). */
  lowerBound(t: number): number {
    return lowerBoundBy(this.list, t, (c) => c.openTime);
  }

  /** Merges candles of this symbol (replace by open time; flagged candles skipped), then trims to capacity. */
  merge(candles: readonly Candle[]): void {
    const cols = this.cols;
    for (const c of candles) {
      if (c.symbol !== this.symbol) throw new Error(`CandleWindow(${this.symbol}): got a ${c.symbol} candle`);
      if (!isTradable(c) || candleViolation(c) !== null) continue;
      const last = this.list[this.list.length - 1];
      if (!last || c.openTime > last.openTime) {
        this.list.push(c);
        cols.openTime.push(c.openTime);
        cols.high.push(c.high);
        cols.low.push(c.low);
        cols.close.push(c.close);
        continue;
      }
      const k = this.lowerBound(c.openTime);
      const at = this.list[k];
      const replace = at !== undefined && at.openTime === c.openTime;
      this.list.splice(k, replace ? 1 : 0, c);
      cols.openTime.splice(k, replace ? 1 : 0, c.openTime);
      cols.high.splice(k, replace ? 1 : 0, c.high);
      cols.low.splice(k, replace ? 1 : 0, c.low);
      cols.close.splice(k, replace ? 1 : 0, c.close);
    }
    const extra = this.list.length - this.capacity;
    // Trim in chunks (amortised O(1) per candle instead of a shift per message).
    if (extra >= TRIM_SLACK) {
      this.list.splice(0, extra);
      for (const col of [cols.openTime, cols.high, cols.low, cols.close]) col.splice(0, extra);
    }
  }

  /** Columnar copy of candles [start, end) (a series the strategies and protections read). */
  series(start: number, end: number): CandleSeries {
    const a = Math.max(0, start);
    const b = Math.min(end, this.list.length);
    const first = this.list[a];
    const s = allocSeries(this.symbol, first?.interval ?? '1m', first?.venue ?? 'bybit', Math.max(0, b - a));
    for (let i = a; i < b; i++) {
      const c = this.list[i] as Candle;
      setCandleAt(s, i - a, c);
    }
    return s;
  }
}

/** Candles a window may exceed its capacity by before the oldest are dropped (amortised trimming). */
const TRIM_SLACK = 64;

interface CandleCacheStats {
  coldFills: number;
  gapFills: number;
  docsRead: number;
}

/** Windows of every symbol of one venue + interval, filled from the hot store on demand. */
export class CandleCache {
  private readonly windows = new Map<string, CandleWindow>();
  private readonly filling = new Map<string, Promise<CandleWindow>>();
  readonly stats: CandleCacheStats = { coldFills: 0, gapFills: 0, docsRead: 0 };
  readonly intervalMs: number;

  constructor(
    readonly venue: Venue,
    readonly interval: Interval,
  ) {
    this.intervalMs = INTERVAL_MS[interval];
  }

  /** The cached window of `symbol`, if any (no I/O). */
  peek(symbol: string): CandleWindow | undefined {
    return this.windows.get(symbol);
  }

  /**
   * The window of `symbol` holding at least `capacity` candles of look-back, with `candles` (all of
   * that symbol) merged in. Cold start and gaps read the hot store as described above.
   */
  async ingest(state: StateStore, symbol: string, candles: readonly Candle[], capacity: number): Promise<CandleWindow> {
    const sorted = [...candles].sort((a, b) => a.openTime - b.openTime);
    const newest = sorted[sorted.length - 1];
    let w = this.windows.get(symbol);
    if (!w || w.capacity < capacity) {
      w = await this.coldFill(state, symbol, capacity, newest?.openTime);
    } else if (sorted[0]) {
      await this.fillGap(state, w, sorted[0].openTime, false, capacity);
    }
    w.merge(sorted);
    return w;
  }

  /**
   * Makes sure the window holds every stored candle up to and including `openTime` (a snapshot needs
   * the close before its forming candle): cold fill, or one range read of what is missing.
   */
  async fillThrough(state: StateStore, symbol: string, openTime: number, capacity: number): Promise<CandleWindow> {
    let w = this.windows.get(symbol);
    if (!w || w.capacity < capacity) w = await this.coldFill(state, symbol, capacity, openTime);
    else await this.fillGap(state, w, openTime, true, capacity);
    return w;
  }

  /** Reads the stored candles after the newest cached one and before (or through) `until`. */
  private async fillGap(state: StateStore, w: CandleWindow, until: number, inclusive: boolean, capacity: number): Promise<void> {
    const last = w.last();
    if (!last) return;
    const missing = Math.round((until - last.openTime) / this.intervalMs) - (inclusive ? 0 : 1);
    if (missing <= 0) return;
    const docs = await state.query<Candle>(barsCollection(this.venue, w.symbol, this.interval), {
      where: [
        { field: 'openTime', op: '>', value: last.openTime },
        { field: 'openTime', op: inclusive ? '<=' : '<', value: until },
      ],
      orderBy: { field: 'openTime', direction: 'asc' },
      limit: Math.min(capacity, missing),
    });
    this.stats.gapFills++;
    this.stats.docsRead += docs.length;
    w.merge(docs.map((d) => d.data));
  }

  private coldFill(state: StateStore, symbol: string, capacity: number, upTo: number | undefined): Promise<CandleWindow> {
    const key = `${symbol}|${capacity}`;
    const inFlight = this.filling.get(key);
    if (inFlight) return inFlight;
    const run = (async () => {
      const docs = await state.query<Candle>(barsCollection(this.venue, symbol, this.interval), {
        ...(upTo !== undefined ? { where: [{ field: 'openTime', op: '<=', value: upTo }] } : {}),
        orderBy: { field: 'openTime', direction: 'desc' },
        limit: capacity,
      });
      this.stats.coldFills++;
      this.stats.docsRead += docs.length;
      const w = new CandleWindow(symbol, this.intervalMs, capacity);
      w.merge(docs.map((d) => d.data).reverse());
      const prev = this.windows.get(symbol);
      if (prev) w.merge(prev.candles);
      this.windows.set(symbol, w);
      return w;
    })();
    this.filling.set(key, run);
    return run.finally(() => this.filling.delete(key));
  }
}
