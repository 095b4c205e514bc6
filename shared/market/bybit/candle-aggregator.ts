/**
 * Public trades -> 1m candles, by trade time, following Bybit's own kline convention (checked on the
 * real data: in all 133k rows of shared/data/bybit_linear/*_1m.csv `open` equals the previous
 * `close`, and the recorded kline.1 stream opens each minute at the previous close with volume 0):
 *
 *   open = previous minute's close; high/low include the open; close = last trade; volume = sum of
 *   sizes; a minute without trades is a flat candle at the previous close with volume 0.
 *
 * A minute is closed when a trade of a later minute arrives, or by the clock `closeGraceMs` after
 * its end. A closed minute is `complete` (safe to publish) only when the stream observed all of it:
 * it began at least `completeMarginMs` after the last (re)connect and its open (the previous close)
 * was observed. Other minutes (the partial minute around a reconnect) are reported `complete: false`
 * and must be taken from REST by the caller.
 */
import { INTERVAL_MS, type Candle } from '../../model/market.js';
import type { KlineBar } from './messages.js';

const MINUTE = INTERVAL_MS['1m'];
/** Volumes are float sums of decimal sizes; rounding to this many significant digits removes the
 * float noise (Kahan-compensated sum) while keeping every digit a real volume has. */
const VOLUME_SIGNIFICANT_DIGITS = 12;

export interface ClosedMinute {
  openTime: number;
  /** True when every trade of the minute was observed (publish it); false: take it from REST. */
  complete: boolean;
  /** The aggregated candle (for incomplete minutes: what was observed, for diagnostics only). */
  candle: Candle;
}

interface Forming {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  vol: number;
  volC: number;
  trades: number;
  complete: boolean;
  /** Exchange time up to which a kline.1 seed already contains the trades; -1 when not seeded. */
  seededAt: number;
}

interface AggregatorOptions {
  closeGraceMs: number;
  completeMarginMs: number;
}

const minuteOf = (ts: number): number => ts - (((ts % MINUTE) + MINUTE) % MINUTE);

function roundVolume(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(VOLUME_SIGNIFICANT_DIGITS));
}

export class CandleAggregator {
  private cur: Forming | null = null;
  private lastClose: number | undefined;
  /** First minute not yet emitted (continuity cursor). */
  private nextOpen: number | undefined;
  /** Minutes opening at or after this are fully observed; +Infinity while disconnected. */
  private reliableFrom = Number.POSITIVE_INFINITY;
  /** Trades older than the minute being formed (out of order): ignored and counted. */
  lateTrades = 0;

  constructor(
    readonly symbol: string,
    private readonly opts: AggregatorOptions,
  ) {}

  /** The stream is (re)connected at `now`: forget everything, trust minutes starting after it. */
  reset(now: number): void {
    this.cur = null;
    this.lastClose = undefined;
    this.nextOpen = undefined;
    this.reliableFrom = minuteOf(now + this.opts.completeMarginMs + MINUTE - 1);
  }

  /** The stream dropped: nothing is observed until the next `reset`. */
  suspend(): void {
    this.cur = null;
    this.lastClose = undefined;
    this.nextOpen = undefined;
    this.reliableFrom = Number.POSITIVE_INFINITY;
  }

  /** Adds one trade; minutes it closes are appended to `out` in order. */
  addTrade(ts: number, price: number, size: number, out: ClosedMinute[]): void {
    const m = ts - (ts % MINUTE);
    const c = this.cur;
    if (c !== null) {
      if (m === c.openTime) {
        if (ts <= c.seededAt) return; // already inside the kline.1 seed
        if (price > c.high) c.high = price;
        if (price < c.low) c.low = price;
        c.close = price;
        // Kahan summation of the volume
        const y = size - c.volC;
        const t = c.vol + y;
        c.volC = t - c.vol - y;
        c.vol = t;
        c.trades++;
        return;
      }
      if (m < c.openTime) {
        this.lateTrades++;
        return;
      }
      this.closeCurrent(out);
    } else if (this.nextOpen !== undefined && m < this.nextOpen) {
      this.lateTrades++;
      return;
    }
    this.fillFlats(m, out);
    const open = this.lastClose ?? price;
    this.cur = {
      openTime: m,
      open,
      high: price > open ? price : open,
      low: price < open ? price : open,
      close: price,
      vol: size,
      volC: 0,
      trades: 1,
      complete: m >= this.reliableFrom && this.lastClose !== undefined,
      seededAt: -1,
    };
  }

  /** Closes minutes whose end + grace has passed at `now` (appends to `out`). */
  onClock(now: number, out: ClosedMinute[]): void {
    const grace = this.opts.closeGraceMs;
    if (this.cur !== null && now >= this.cur.openTime + MINUTE + grace) this.closeCurrent(out);
    if (this.cur === null && this.nextOpen !== undefined && this.lastClose !== undefined) {
      while (now >= this.nextOpen + MINUTE + grace) {
        out.push(this.flat(this.nextOpen, this.lastClose));
        this.nextOpen += MINUTE;
      }
    }
  }

  /**
   * Adopts the exchange's state of a forming minute (a non-confirmed kline.1 bar) for a minute the
   * stream did not fully observe (around a connect): trades up to `bar.timestamp` are taken as
   * included, later trades are added. Such a minute stays `complete: false` (never published from
   * here); the seed makes the forming candle of the 15 s snapshots right at once.
   */
  seedFromKline(bar: KlineBar, out: ClosedMinute[]): void {
    if (bar.confirm) return;
    const m = bar.start;
    const c = this.cur;
    if (c !== null) {
      if (m < c.openTime) return;
      if (m === c.openTime) {
        if (c.complete) return;
        c.open = bar.open;
        c.high = bar.high;
        c.low = bar.low;
        c.close = bar.close;
        c.vol = bar.volume;
        c.volC = 0;
        c.seededAt = bar.timestamp;
        return;
      }
      this.closeCurrent(out);
    }
    if (this.nextOpen !== undefined && m < this.nextOpen) return;
    // A minute this stream observes in full needs no seed: its trades will form it.
    if (m >= this.reliableFrom && this.lastClose !== undefined) return;
    this.fillFlats(m, out);
    this.cur = {
      openTime: m,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      vol: bar.volume,
      volC: 0,
      trades: 0,
      complete: false,
      seededAt: bar.timestamp,
    };
  }

  /**
   * The forming candle of the minute containing `now` (for snapshots): the aggregated one, a flat
   * candle at the last close when the minute has no trade yet, or null when it is unknown (a partial
   * minute after a reconnect that no kline.1 seed covers).
   */
  forming(now: number): Candle | null {
    const mNow = minuteOf(now);
    const c = this.cur;
    if (c !== null) {
      if (c.openTime === mNow) return c.complete || c.seededAt >= 0 ? this.toCandle(c) : null;
      if (c.openTime < mNow) return this.flat(mNow, c.close).candle;
      return null;
    }
    if (this.lastClose !== undefined && this.nextOpen !== undefined && this.nextOpen <= mNow) {
      return this.flat(mNow, this.lastClose).candle;
    }
    return null;
  }

  /** The last observed close (undefined right after a (re)connect). */
  get lastPrice(): number | undefined {
    return this.cur?.close ?? this.lastClose;
  }

  private closeCurrent(out: ClosedMinute[]): void {
    const c = this.cur as Forming;
    out.push({ openTime: c.openTime, complete: c.complete, candle: this.toCandle(c) });
    this.lastClose = c.close;
    this.nextOpen = c.openTime + MINUTE;
    this.cur = null;
  }

  private fillFlats(m: number, out: ClosedMinute[]): void {
    if (this.nextOpen !== undefined && this.lastClose !== undefined) {
      for (let t = this.nextOpen; t < m; t += MINUTE) out.push(this.flat(t, this.lastClose));
    }
    this.nextOpen = m;
  }

  private flat(openTime: number, price: number): ClosedMinute {
    return {
      openTime,
      complete: openTime >= this.reliableFrom,
      candle: {
        symbol: this.symbol,
        interval: '1m',
        venue: 'bybit',
        openTime,
        open: price,
        high: price,
        low: price,
        close: price,
        volume: 0,
        trades: 0,
      },
    };
  }

  private toCandle(c: Forming): Candle {
    const candle: Candle = {
      symbol: this.symbol,
      interval: '1m',
      venue: 'bybit',
      openTime: c.openTime,
      open: c.open,
      high: c.high,
      low: c.low,
      close: c.close,
      volume: roundVolume(c.vol),
    };
    if (c.seededAt < 0) candle.trades = c.trades;
    return candle;
  }
}
