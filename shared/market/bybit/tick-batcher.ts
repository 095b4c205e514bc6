/**
 * Raw trades -> `raw-tick-data-bybit`, batched: at most one message per symbol per `batchMs`
 * (SPEC 1 cost rule: never one invocation per raw tick). Payload = the catalog's `tickBatchSchema`
 * (shared/messages.ts). The warehouse `ticks` table is filled by the subscriber of that topic
 * (tick-archive function), so the holder only publishes.
 *
 * A failed publish keeps the trades for the next attempt (in order, nothing lost or reordered).
 */
import { TOPICS } from '../../topics.js';
import type { Trade } from '../../model/market.js';
import { publish, type TickBatch } from '../../messages.js';
import type { Bus } from '../../ports/bus.js';
import type { Logger } from '../../log.js';

interface Buffer {
  trades: Trade[];
  lastSentAt: number;
  inFlight: boolean;
}

export interface TickBatcherStats {
  messages: number;
  trades: number;
  failures: number;
  buffered: number;
}

export class TickBatcher {
  private readonly buffers = new Map<string, Buffer>();
  private readonly counters = { messages: 0, trades: 0, failures: 0 };

  constructor(
    private readonly bus: Bus,
    private readonly batchMs: number,
    private readonly log: Logger,
  ) {}

  add(t: Trade): void {
    let b = this.buffers.get(t.symbol);
    if (b === undefined) {
      b = { trades: [], lastSentAt: Number.NEGATIVE_INFINITY, inFlight: false };
      this.buffers.set(t.symbol, b);
    }
    b.trades.push(t);
  }

  /** Publishes the buffers whose last message is at least `batchMs` old. */
  async flushDue(now: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const [symbol, b] of this.buffers) {
      if (b.trades.length > 0 && !b.inFlight && now - b.lastSentAt >= this.batchMs) jobs.push(this.send(symbol, b, now));
    }
    await Promise.all(jobs);
  }

  /** Publishes every buffer now (shutdown). */
  async flushAll(now: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const [symbol, b] of this.buffers) if (b.trades.length > 0 && !b.inFlight) jobs.push(this.send(symbol, b, now));
    await Promise.all(jobs);
  }

  stats(): TickBatcherStats {
    let buffered = 0;
    for (const b of this.buffers.values()) buffered += b.trades.length;
    return { ...this.counters, buffered };
  }

  private async send(symbol: string, b: Buffer, now: number): Promise<void> {
    const trades = b.trades;
    b.trades = [];
    b.inFlight = true;
    b.lastSentAt = now;
    let fromTs = Number.POSITIVE_INFINITY;
    let toTs = Number.NEGATIVE_INFINITY;
    for (const t of trades) {
      if (t.ts < fromTs) fromTs = t.ts;
      if (t.ts > toTs) toTs = t.ts;
    }
    const payload: TickBatch = { symbol, fromTs, toTs, trades };
    try {
      await publish(this.bus, TOPICS.rawTicks, payload, { orderingKey: symbol, attributes: { symbol } });
      this.counters.messages++;
      this.counters.trades += trades.length;
    } catch (e) {
      this.counters.failures++;
      b.trades = trades.concat(b.trades);
      this.log.warn('tick batch publish failed; kept for the next batch', { symbol, trades: trades.length, error: e as Error });
    } finally {
      b.inFlight = false;
    }
  }
}
