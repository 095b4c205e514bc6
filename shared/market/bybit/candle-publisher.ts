/**
 * Publishes closed Bybit 1m candles on `candles-bybit-1m`: every minute once, in order, per symbol.
 *
 * - A cursor per symbol (`holder/bybit/cursors/{symbol}`: the open time of the last published candle) is
 *   persisted in the state store after every publish, so a restarted holder neither repeats nor
 *   skips a minute. The cursor only moves forward (transaction).
 * - A candle older than or equal to the cursor is a duplicate and is dropped.
 * - Before a candle newer than cursor + 1m is published, the missing minutes are fetched from REST
 *   (`KlineSource`) and published first, in order. A minute the aggregator did not fully observe
 *   (around a reconnect) is submitted without a candle and also comes from REST. When REST does not
 *   have a minute yet, the symbol's queue waits (retry after `backfillRetryMs`): nothing newer is
 *   published before the hole is filled.
 * - Each candle goes through the bad-data rule (shared/market/quality.ts) against the previous close:
 *   a flagged candle is published with `flags: ['bad_data']` (stored, never traded) and logged.
 *
 * Delivery: publish, then advance the cursor. A crash between the two republishes that one candle
 * after restart; consumers de-duplicate on the `candleKey` attribute (venue:symbol:interval:openTime).
 */
import { TOPICS } from '../../topics.js';
import { candleKey, INTERVAL_MS, type Candle } from '../../model/market.js';
import { EMPTY_SANITY, judgeSanity, type QualityConfig, type SanityState } from '../quality.js';
import type { Bus } from '../../ports/bus.js';
import type { StateStore } from '../../ports/state.js';
import type { Clock } from '../../ports/clock.js';
import type { KlineSource } from '../../ports/bybit.js';
import type { Logger } from '../../log.js';
import { holderCursorPath } from '../../state-paths.js';
import { publish } from '../../messages.js';

const MINUTE = INTERVAL_MS['1m'];

export interface CursorDoc {
  symbol: string;
  lastOpenTime: number;
  /** Close of the last candle that passed the bad-data rule (its reference after a restart). */
  lastClose: number | null;
  updatedAt: number;
}

interface PublisherOptions {
  bus: Bus;
  state: StateStore;
  klines: KlineSource;
  clock: Clock;
  log: Logger;
  quality: QualityConfig;
  maxBackfillMinutes: number;
  backfillRetryMs: number;
  /** REST is asked for a minute only this long after the minute ended. */
  restSettleMs: number;
  maxCandlesPerMessage: number;
}

interface Item {
  openTime: number;
  /** Absent: take this minute from REST. */
  candle?: Candle;
}

export interface SymbolPublishStats {
  cursor: number | null;
  published: number;
  backfilled: number;
  duplicatesDropped: number;
  flaggedBadData: number;
  skippedMinutes: number;
  waitingForRest: boolean;
  queued: number;
}

class SymbolLane {
  cursor: number | undefined;
  /** Sanity reference (last good close, run of consistent suspects): re-anchors after a lasting move. */
  sanity: SanityState = EMPTY_SANITY;
  loaded = false;
  queue: Item[] = [];
  chain: Promise<void> = Promise.resolve();
  retryAt = 0;
  stats: SymbolPublishStats = {
    cursor: null,
    published: 0,
    backfilled: 0,
    duplicatesDropped: 0,
    flaggedBadData: 0,
    skippedMinutes: 0,
    waitingForRest: false,
    queued: 0,
  };
  constructor(readonly symbol: string) {}
}

/** Thrown inside a drain when REST lacks minutes (or they are too fresh); the queue waits. */
class NotYetAvailable extends Error {
  constructor(
    message: string,
    readonly retryAt: number,
  ) {
    super(message);
  }
}

export class CandlePublisher {
  private readonly lanes = new Map<string, SymbolLane>();

  constructor(private readonly o: PublisherOptions) {}

  private lane(symbol: string): SymbolLane {
    let l = this.lanes.get(symbol);
    if (!l) {
      l = new SymbolLane(symbol);
      this.lanes.set(symbol, l);
    }
    return l;
  }

  /** Loads the persisted cursors (call once before submitting). */
  async init(symbols: string[]): Promise<void> {
    await Promise.all(symbols.map((s) => this.load(this.lane(s))));
  }

  private async load(l: SymbolLane): Promise<void> {
    if (l.loaded) return;
    const doc = await this.o.state.get<CursorDoc>(holderCursorPath(l.symbol));
    l.cursor = doc?.lastOpenTime;
    const close = doc?.lastClose ?? undefined;
    l.sanity = close === undefined ? EMPTY_SANITY : { ref: { openTime: doc?.lastOpenTime ?? Number.NEGATIVE_INFINITY, close }, run: [] };
    l.stats.cursor = l.cursor ?? null;
    l.loaded = true;
  }

  /** Queues a closed minute (with its candle when fully observed, else REST is asked). */
  submit(symbol: string, openTime: number, candle?: Candle): void {
    const l = this.lane(symbol);
    l.queue.push(candle ? { openTime, candle } : { openTime });
    l.stats.queued = l.queue.length;
    this.kick(l);
  }

  /** Retries queues that wait for REST and are due (called from the holder's timer). */
  retryDue(now: number): void {
    for (const l of this.lanes.values()) if (l.queue.length > 0 && l.retryAt <= now) this.kick(l);
  }

  /** Resolves when every queue is empty or waiting for REST. */
  async idle(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.chain));
  }

  stats(): Record<string, SymbolPublishStats> {
    const out: Record<string, SymbolPublishStats> = {};
    for (const [s, l] of this.lanes) out[s] = { ...l.stats, queued: l.queue.length };
    return out;
  }

  private kick(l: SymbolLane): void {
    l.chain = l.chain.then(() => this.drain(l)).catch((e: unknown) => {
      this.o.log.error('candle publish failed; will retry', { symbol: l.symbol, error: e as Error });
      l.retryAt = this.o.clock.now() + this.o.backfillRetryMs;
    });
  }

  private async drain(l: SymbolLane): Promise<void> {
    await this.load(l);
    while (l.queue.length > 0) {
      const item = l.queue[0] as Item;
      if (l.cursor !== undefined && item.openTime <= l.cursor) {
        l.queue.shift();
        if (item.candle) {
          l.stats.duplicatesDropped++;
          this.o.log.debug('duplicate candle dropped', { symbol: l.symbol, openTime: item.openTime, cursor: l.cursor });
        }
        continue;
      }
      try {
        await this.publishUpTo(l, item);
      } catch (e) {
        if (e instanceof NotYetAvailable) {
          l.stats.waitingForRest = true;
          l.retryAt = e.retryAt;
          this.o.log.info('REST has not closed the missing minutes yet; waiting', { symbol: l.symbol, reason: e.message });
          return;
        }
        throw e;
      }
      l.stats.waitingForRest = false;
      l.queue.shift();
    }
    l.stats.queued = 0;
  }

  /** Publishes everything from cursor+1m through `item` (REST for the missing part). */
  private async publishUpTo(l: SymbolLane, item: Item): Promise<void> {
    let from = l.cursor === undefined ? item.openTime : l.cursor + MINUTE;
    const restTo = item.candle ? item.openTime - MINUTE : item.openTime;
    const maxFrom = item.openTime - this.o.maxBackfillMinutes * MINUTE;
    if (from < maxFrom) {
      const skipped = (maxFrom - from) / MINUTE;
      l.stats.skippedMinutes += skipped;
      this.o.log.error('gap longer than maxBackfillMinutes: oldest missed minutes are not backfilled', {
        symbol: l.symbol,
        fromOpenTime: from,
        skippedMinutes: skipped,
      });
      from = maxFrom;
    }
    if (from <= restTo) {
      const settledAt = restTo + MINUTE + this.o.restSettleMs;
      const now = this.o.clock.now();
      if (now < settledAt) throw new NotYetAvailable(`minute ${new Date(restTo).toISOString()} ended less than restSettleMs ago`, settledAt);
      const fetched = await this.o.klines.closedKlines1m(l.symbol, from, restTo);
      const byTime = new Map(fetched.map((c) => [c.openTime, c]));
      const run: Candle[] = [];
      for (let t = from; t <= restTo; t += MINUTE) {
        const c = byTime.get(t);
        if (!c) throw new NotYetAvailable(`REST has no closed candle at ${new Date(t).toISOString()} (${l.symbol})`, now + this.o.backfillRetryMs);
        run.push(c);
      }
      for (let i = 0; i < run.length; i += this.o.maxCandlesPerMessage) {
        await this.publish(l, run.slice(i, i + this.o.maxCandlesPerMessage), 'backfill');
      }
    }
    if (item.candle) await this.publish(l, [item.candle], 'live');
  }

  private async publish(l: SymbolLane, run: Candle[], kind: 'live' | 'backfill'): Promise<void> {
    if (run.length === 0) return;
    const candles = run.map((c) => this.checkQuality(l, c));
    const first = candles[0] as Candle;
    const last = candles[candles.length - 1] as Candle;
    await publish(this.o.bus, TOPICS.bybitCandles, { candles }, {
      orderingKey: l.symbol,
      attributes: {
        symbol: l.symbol,
        kind,
        candleKey: candleKey(last),
        firstOpenTime: String(first.openTime),
        lastOpenTime: String(last.openTime),
      },
    });
    l.stats.published += candles.length;
    if (kind === 'backfill') l.stats.backfilled += candles.length;
    await this.advanceCursor(l, last.openTime);
  }

  private checkQuality(l: SymbolLane, c: Candle): Candle {
    const j = judgeSanity(l.sanity, c, this.o.quality);
    l.sanity = j.state;
    if (j.verdict === 'suspect') {
      l.stats.flaggedBadData++;
      this.o.log.warn('candle flagged bad_data (held back by every consumer, never traded)', { symbol: l.symbol, openTime: c.openTime, reason: j.reason });
      return { ...c, flags: ['bad_data'] };
    }
    if (j.verdict === 'reanchored') this.o.log.warn('sanity reference re-anchored after a lasting move', { symbol: l.symbol, openTime: c.openTime, reason: j.reason });
    return c;
  }

  private async advanceCursor(l: SymbolLane, openTime: number): Promise<void> {
    const path = holderCursorPath(l.symbol);
    const now = this.o.clock.now();
    await this.o.state.runTransaction(async (tx) => {
      const doc = await tx.get<CursorDoc>(path);
      if (doc && doc.lastOpenTime >= openTime) return;
      tx.set(path, { symbol: l.symbol, lastOpenTime: openTime, lastClose: l.sanity.ref?.close ?? null, updatedAt: now });
    });
    l.cursor = openTime;
    l.stats.cursor = openTime;
  }
}
