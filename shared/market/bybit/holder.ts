/**
 * The Bybit websocket holder (SPEC 1-2): one always-on process that keeps the v5 public linear
 * stream, rebuilds the order books, aggregates trades into 1m candles, and publishes:
 *   - closed 1m candles, exactly once and in order per symbol (CandlePublisher, REST backfill after
 *     every disconnect) on `candles-bybit-1m`;
 *   - a Snapshot (forming candle + book features) per symbol every `snapshotIntervalMs` on
 *     `snapshots-bybit-15s`;
 *   - raw trades in batches (TickBatcher, at most one message per symbol per `tickBatchMs`) on
 *     `raw-tick-data-bybit`;
 *   - `holder_disconnected` / `holder_reconnected` alerts on `system-alerts`.
 *
 * Everything is behind ports (stream, REST klines, bus, state, clock, log), so the same class runs
 * against live Bybit in Cloud Run and against the local replay server offline and in tests.
 * `ingest()` is synchronous and allocation-light: it is the hot path measured by `npm run bench`.
 */
import { TOPICS } from '../../topics.js';
import { INTERVAL_MS, type Snapshot, type Trade } from '../../model/market.js';
import type { Bus } from '../../ports/bus.js';
import type { StateStore } from '../../ports/state.js';
import type { Clock } from '../../ports/clock.js';
import type { BybitStream, KlineSource, StreamState } from '../../ports/bybit.js';
import { LOG_EVENTS, type Logger } from '../../log.js';
import type { SystemConfig } from '../../config/system.js';
import { holderSettings, type HolderSettings } from './holder-config.js';
import {
  bookTopic,
  decodeKlines,
  decodeTrades,
  klineTopic,
  parseTopic,
  subscribeAckSchema,
  tradeTopic,
  type KlineBar,
  type Rejected,
} from './messages.js';
import { OrderBook, type BookApplyResult } from './orderbook.js';
import { CandleAggregator, type ClosedMinute } from './candle-aggregator.js';
import { CandlePublisher, type SymbolPublishStats } from './candle-publisher.js';
import { TickBatcher, type TickBatcherStats } from './tick-batcher.js';
import { publish, type Alert, type AlertKind } from '../../messages.js';
import { alertAttributes } from '../../alerts.js';

const MINUTE = INTERVAL_MS['1m'];
/** Relative tolerance of the kline.1 volume cross-check (float sums of decimal sizes). */
const VOLUME_REL_TOLERANCE = 1e-9;

interface HolderDeps {
  stream: BybitStream;
  klines: KlineSource;
  bus: Bus;
  state: StateStore;
  clock: Clock;
  log: Logger;
  config: SystemConfig;
  settings?: Partial<HolderSettings>;
  /** Run the internal timer loop (default true). Tests and step-wise replays call `tick()` instead. */
  autoTimers?: boolean;
}

interface SymbolState {
  symbol: string;
  agg: CandleAggregator;
  book: OrderBook;
  bookTopic: string;
  bookSubscribed: boolean;
  resubscribing: boolean;
  lastMessageAt: number | undefined;
  lastTradeAt: number | undefined;
  messages: number;
  trades: number;
  bookUpdates: number;
  gaps: number;
  crossed: number;
  invalidBook: number;
  resubscribes: number;
  rejected: number;
  lastKline: KlineBar | undefined;
  recentClosed: Map<number, ClosedMinute>;
  pendingConfirm: Map<number, KlineBar>;
}

interface KlineCheckStats {
  /** Fully observed minutes equal to the exchange's confirmed kline.1. */
  matched: number;
  mismatched: number;
  /** Minutes seeded from kline.1 around a connect, compared to the confirmed bar. */
  seededMatched: number;
  seededMismatched: number;
}

interface SymbolHealth {
  lastMessageAgeMs: number | null;
  lastTradeAgeMs: number | null;
  book: 'ok' | 'awaiting_snapshot';
  bookUpdateId: number | null;
  messages: number;
  trades: number;
  bookUpdates: number;
  bookGaps: number;
  bookCrossed: number;
  bookInvalid: number;
  resubscribes: number;
  rejected: number;
  lateTrades: number;
  candles: SymbolPublishStats | null;
}

export interface HolderHealth {
  healthy: boolean;
  connection: StreamState;
  connectedSinceMs: number | null;
  reconnects: number;
  disconnects: number;
  messages: number;
  malformed: number;
  symbols: Record<string, SymbolHealth>;
  published: { candles: number; backfilledCandles: number; snapshots: number; tickBatches: number; ticks: number };
  klineCheck: KlineCheckStats;
  ticks: TickBatcherStats;
}

export class BybitHolder {
  readonly settings: HolderSettings;
  private readonly symbols = new Map<string, SymbolState>();
  private readonly publisher: CandlePublisher;
  private readonly batcher: TickBatcher;
  private readonly log: Logger;
  private readonly clock: Clock;
  private running = false;
  private connectedAt: number | undefined;
  private startedAt = 0;
  private nextSnapshotAt = 0;
  private reconnects = 0;
  private disconnects = 0;
  private messages = 0;
  private malformed = 0;
  private snapshotsPublished = 0;
  private rejectLogWindow = { start: 0, count: 0 };
  private readonly klineCheck: KlineCheckStats = { matched: 0, mismatched: 0, seededMatched: 0, seededMismatched: 0 };
  // scratch buffers reused by ingest (the hot path allocates only what it publishes)
  private readonly tradeBuf: Trade[] = [];
  private readonly klineBuf: KlineBar[] = [];
  private readonly rejectBuf: Rejected[] = [];
  private readonly closedBuf: ClosedMinute[] = [];

  constructor(private readonly d: HolderDeps) {
    this.settings = holderSettings(d.settings);
    this.log = d.log.child({ component: 'bybit-holder' });
    this.clock = d.clock;
    const aggOpts = { closeGraceMs: this.settings.closeGraceMs, completeMarginMs: this.settings.completeMarginMs };
    for (const s of d.config.symbols) {
      if (!s.enabled) continue;
      this.symbols.set(s.symbol, {
        symbol: s.symbol,
        agg: new CandleAggregator(s.symbol, aggOpts),
        book: new OrderBook(s.symbol),
        bookTopic: bookTopic(s.symbol, d.config.bybit.bookDepth),
        bookSubscribed: false,
        resubscribing: false,
        lastMessageAt: undefined,
        lastTradeAt: undefined,
        messages: 0,
        trades: 0,
        bookUpdates: 0,
        gaps: 0,
        crossed: 0,
        invalidBook: 0,
        resubscribes: 0,
        rejected: 0,
        lastKline: undefined,
        recentClosed: new Map(),
        pendingConfirm: new Map(),
      });
    }
    this.publisher = new CandlePublisher({
      bus: d.bus,
      state: d.state,
      klines: d.klines,
      clock: d.clock,
      log: this.log,
      quality: d.config.dataQuality,
      maxBackfillMinutes: this.settings.maxBackfillMinutes,
      backfillRetryMs: this.settings.backfillRetryMs,
      restSettleMs: this.settings.restSettleMs,
      maxCandlesPerMessage: this.settings.maxCandlesPerMessage,
    });
    this.batcher = new TickBatcher(d.bus, d.config.bybit.tickBatchMs, this.log);
  }

  /** The subscribed topics: publicTrade, orderbook.{depth} and kline.1 per enabled symbol. */
  topics(): string[] {
    const out: string[] = [];
    for (const s of this.symbols.values()) out.push(tradeTopic(s.symbol), s.bookTopic, klineTopic(s.symbol));
    return out;
  }

  /** Loads cursors, connects, subscribes and starts the timer loop. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.startedAt = this.clock.now();
    this.nextSnapshotAt = this.nextBoundary(this.startedAt);
    await this.publisher.init([...this.symbols.keys()]);
    this.d.stream.setHandlers({
      onOpen: () => this.onConnected(false),
      onReconnected: () => this.onConnected(true),
      onDisconnect: (reason) => this.onDisconnected(reason),
      onMessage: (m) => this.ingest(m),
      onSubscribeFailed: (topics, reason) => this.log.error('subscription rejected', { topics, reason }),
    });
    await this.d.stream.connect();
    if (this.d.stream.state() === 'connected' && this.connectedAt === undefined) this.onConnected(false);
    await this.d.stream.subscribe(this.topics());
    for (const s of this.symbols.values()) s.bookSubscribed = true;
    this.log.info('holder started', { symbols: [...this.symbols.keys()], topics: this.topics().length });
    if (this.d.autoTimers !== false) void this.loop();
  }

  /** Graceful stop: timers off, tick batches flushed, candle queues drained, stream closed. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const now = this.clock.now();
    await this.batcher.flushAll(now);
    await this.publisher.idle();
    await this.d.stream.close();
    this.connectedAt = undefined;
    this.log.info('holder stopped', { published: this.health().published });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      await this.clock.sleep(this.settings.timerStepMs);
      if (!this.running) break;
      try {
        await this.tick();
      } catch (e) {
        this.log.error('holder timer failed', { error: e as Error });
      }
    }
  }

  // ---- connection events ---------------------------------------------------------------------

  private onConnected(reconnected: boolean): void {
    const now = this.clock.now();
    this.connectedAt = now;
    for (const s of this.symbols.values()) {
      s.agg.reset(now);
      s.book.invalidate();
    }
    if (reconnected) {
      this.reconnects++;
      this.log.notice('bybit stream reconnected; missed minutes will be backfilled from REST', { event: LOG_EVENTS.holderReconnected, reconnects: this.reconnects });
      void this.alert('holder_reconnected', 'info', `Bybit stream reconnected (reconnect #${this.reconnects})`, now);
    } else {
      this.log.info('bybit stream connected');
    }
  }

  private onDisconnected(reason: string): void {
    const now = this.clock.now();
    this.connectedAt = undefined;
    this.disconnects++;
    for (const s of this.symbols.values()) {
      s.agg.suspend();
      s.book.invalidate();
    }
    this.log.warn('bybit stream disconnected; reconnecting with back-off', { event: LOG_EVENTS.holderDisconnected, reason });
    void this.alert('holder_disconnected', 'warning', `Bybit stream disconnected: ${reason}`, now);
  }

  private async alert(kind: AlertKind, severity: Alert['severity'], message: string, ts: number): Promise<void> {
    const a: Alert = { alertId: `bybit-holder:${kind}:${ts}`, kind, severity, subject: 'bybit-holder', message, ts };
    try {
      await publish(this.d.bus, TOPICS.alerts, a, { attributes: alertAttributes(a) });
    } catch (e) {
      this.log.warn('alert publish failed', { kind, error: e as Error });
    }
  }

  // ---- hot path ------------------------------------------------------------------------------

  /** One exchange message (parsed object or raw JSON text). */
  ingest(raw: unknown): void {
    let msg = raw;
    if (typeof raw === 'string') {
      try {
        msg = JSON.parse(raw);
      } catch {
        this.malformed++;
        return;
      }
    }
    if (msg === null || typeof msg !== 'object') {
      this.malformed++;
      return;
    }
    const m = msg as { topic?: unknown; type?: unknown; data?: unknown; ts?: unknown };
    const topic = m.topic;
    if (typeof topic !== 'string') {
      this.onControl(msg);
      return;
    }
    const info = parseTopic(topic);
    const s = this.symbols.get(info.symbol);
    if (s === undefined) return;
    const now = this.clock.now();
    this.messages++;
    s.messages++;
    s.lastMessageAt = now;
    switch (info.channel) {
      case 'publicTrade':
        this.onTrades(s, m.data, now);
        break;
      case 'orderbook':
        if (topic === s.bookTopic) this.onBook(s, m.type, m.data, typeof m.ts === 'number' ? m.ts : now);
        break;
      case 'kline':
        if (info.interval === '1') this.onKline(s, m.data);
        break;
      default:
        break;
    }
  }

  private onTrades(s: SymbolState, data: unknown, now: number): void {
    const trades = this.tradeBuf;
    const rejected = this.rejectBuf;
    trades.length = 0;
    rejected.length = 0;
    if (!decodeTrades(data, s.symbol, trades, rejected)) {
      this.malformed++;
      return;
    }
    const closed = this.closedBuf;
    for (let i = 0; i < trades.length; i++) {
      const t = trades[i] as Trade;
      s.agg.addTrade(t.ts, t.price, t.size, closed);
      this.batcher.add(t);
    }
    s.trades += trades.length;
    if (trades.length > 0) s.lastTradeAt = now;
    if (rejected.length > 0) this.onRejected(s, 'publicTrade', rejected);
    if (closed.length > 0) this.onClosed(s);
  }

  private onBook(s: SymbolState, type: unknown, data: unknown, ts: number): void {
    const r: BookApplyResult = s.book.apply(type, data, ts);
    if (r === 'ok') {
      s.bookUpdates++;
      return;
    }
    if (r === 'awaiting_snapshot') return;
    if (r === 'gap') s.gaps++;
    else if (r === 'crossed') s.crossed++;
    else s.invalidBook++;
    this.log.warn('order book invalidated; re-subscribing for a fresh snapshot', {
      symbol: s.symbol,
      reason: r,
      u: (data as { u?: unknown } | null)?.u,
    });
    this.resubscribeBook(s);
  }

  private onKline(s: SymbolState, data: unknown): void {
    const bars = this.klineBuf;
    const rejected = this.rejectBuf;
    bars.length = 0;
    rejected.length = 0;
    if (!decodeKlines(data, bars, rejected)) {
      this.malformed++;
      return;
    }
    if (rejected.length > 0) this.onRejected(s, 'kline', rejected);
    const closed = this.closedBuf;
    for (const b of bars) {
      if (b.confirm) {
        s.pendingConfirm.set(b.start, b);
        this.crossCheck(s, b.start);
      } else {
        s.lastKline = b;
        s.agg.seedFromKline(b, closed);
      }
    }
    if (closed.length > 0) this.onClosed(s);
  }

  private onControl(msg: object): void {
    const op = (msg as { op?: unknown }).op;
    if (op === 'subscribe' || op === 'unsubscribe') {
      const ack = subscribeAckSchema.safeParse(msg);
      if (ack.success && !ack.data.success) this.log.error('subscribe request failed', { op, ret_msg: ack.data.ret_msg });
    }
  }

  private onRejected(s: SymbolState, channel: string, rejected: Rejected[]): void {
    s.rejected += rejected.length;
    const now = this.clock.now();
    if (now - this.rejectLogWindow.start >= MINUTE) this.rejectLogWindow = { start: now, count: 0 };
    for (const r of rejected) {
      if (this.rejectLogWindow.count >= this.settings.maxRejectLogsPerMinute) break;
      this.rejectLogWindow.count++;
      this.log.warn('impossible market data flagged and dropped (never traded)', { symbol: s.symbol, channel, reason: r.reason, item: r.item });
    }
  }

  private onClosed(s: SymbolState): void {
    const closed = this.closedBuf;
    for (const c of closed) {
      if (c.complete) this.publisher.submit(s.symbol, c.openTime, c.candle);
      else this.publisher.submit(s.symbol, c.openTime);
      s.recentClosed.set(c.openTime, c);
      if (s.recentClosed.size > this.settings.crossCheckWindow) {
        const oldest = s.recentClosed.keys().next().value as number;
        s.recentClosed.delete(oldest);
      }
      this.crossCheck(s, c.openTime);
    }
    closed.length = 0;
  }

  /** Compares a closed minute with the exchange's confirmed kline.1 bar once both are known. */
  private crossCheck(s: SymbolState, openTime: number): void {
    const bar = s.pendingConfirm.get(openTime);
    const mine = s.recentClosed.get(openTime);
    if (s.pendingConfirm.size > this.settings.crossCheckWindow) {
      const oldest = s.pendingConfirm.keys().next().value as number;
      s.pendingConfirm.delete(oldest);
    }
    if (!bar || !mine) return;
    s.pendingConfirm.delete(openTime);
    const c = mine.candle;
    const same =
      c.open === bar.open &&
      c.high === bar.high &&
      c.low === bar.low &&
      c.close === bar.close &&
      Math.abs(c.volume - bar.volume) <= VOLUME_REL_TOLERANCE * Math.max(1, Math.abs(bar.volume));
    const seeded = !mine.complete;
    if (same) {
      if (seeded) this.klineCheck.seededMatched++;
      else this.klineCheck.matched++;
      return;
    }
    if (seeded) this.klineCheck.seededMismatched++;
    else this.klineCheck.mismatched++;
    const fields = {
      symbol: s.symbol,
      openTime,
      seeded,
      mine: { o: c.open, h: c.high, l: c.low, c: c.close, v: c.volume },
      exchange: { o: bar.open, h: bar.high, l: bar.low, c: bar.close, v: bar.volume },
    };
    if (seeded) this.log.debug('kline.1-seeded minute differs from the confirmed kline.1', fields);
    else this.log.warn('aggregated 1m candle differs from the confirmed kline.1', fields);
  }

  private resubscribeBook(s: SymbolState, newGap = true): void {
    if (s.resubscribing) return;
    s.resubscribing = true;
    if (newGap) s.resubscribes++;
    const topic = s.bookTopic;
    void (async () => {
      try {
        if (s.bookSubscribed) {
          s.bookSubscribed = false;
          await this.d.stream.unsubscribe([topic]);
        }
        await this.d.stream.subscribe([topic]);
        s.bookSubscribed = true;
      } catch (e) {
        this.log.warn('order book re-subscribe failed; retrying on the next timer', { symbol: s.symbol, error: e as Error });
      } finally {
        s.resubscribing = false;
      }
    })();
  }

  // ---- timers --------------------------------------------------------------------------------

  /** Closes minutes by the clock, retries backfills, sends due tick batches and snapshots. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    const closed = this.closedBuf;
    for (const s of this.symbols.values()) {
      s.agg.onClock(now, closed);
      if (closed.length > 0) this.onClosed(s);
      if (!s.bookSubscribed && !s.resubscribing && this.connectedAt !== undefined) this.resubscribeBook(s, false);
    }
    this.publisher.retryDue(now);
    await this.batcher.flushDue(now);
    if (now >= this.nextSnapshotAt) {
      const at = this.nextSnapshotAt;
      this.nextSnapshotAt = this.nextBoundary(now);
      await this.publishSnapshots(at, now);
    }
  }

  private nextBoundary(now: number): number {
    const p = this.d.config.bybit.snapshotIntervalMs;
    return Math.floor(now / p) * p + p;
  }

  /** Builds the 15 s snapshot of one symbol as of `now`. */
  snapshot(symbol: string, now: number = this.clock.now()): Snapshot | null {
    const s = this.symbols.get(symbol);
    if (!s) return null;
    let forming = s.agg.forming(now);
    if (forming === null && s.lastKline && s.lastKline.start === now - (now % MINUTE)) {
      const b = s.lastKline;
      forming = { symbol, interval: '1m', venue: 'bybit', openTime: b.start, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume };
    }
    return { symbol, ts: now, forming, book: s.book.features(this.d.config.bybit.featureLevels) };
  }

  private async publishSnapshots(at: number, now: number): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    for (const symbol of this.symbols.keys()) {
      const snap = this.snapshot(symbol, now);
      if (!snap || (snap.forming === null && snap.book === null)) continue;
      snap.ts = at;
      jobs.push(
        publish(this.d.bus, TOPICS.snapshots, snap, { orderingKey: symbol, attributes: { symbol } }).then(
          () => this.snapshotsPublished++,
          (e: unknown) => this.log.warn('snapshot publish failed', { symbol, error: e as Error }),
        ),
      );
    }
    await Promise.all(jobs);
  }

  // ---- observability -------------------------------------------------------------------------

  /** Resolves when the candle queues are idle (empty or waiting for REST). */
  async idle(): Promise<void> {
    await this.publisher.idle();
  }

  /** The local book of a symbol (read-only use: tests, diagnostics). */
  book(symbol: string): OrderBook | undefined {
    return this.symbols.get(symbol)?.book;
  }

  health(): HolderHealth {
    const now = this.clock.now();
    const pub = this.publisher.stats();
    const symbols: Record<string, SymbolHealth> = {};
    let fresh = true;
    let candles = 0;
    let backfilled = 0;
    for (const s of this.symbols.values()) {
      const ref = s.lastMessageAt ?? this.connectedAt ?? this.startedAt;
      if (now - ref > this.settings.staleAfterMs) fresh = false;
      const p = pub[s.symbol] ?? null;
      candles += p?.published ?? 0;
      backfilled += p?.backfilled ?? 0;
      symbols[s.symbol] = {
        lastMessageAgeMs: s.lastMessageAt === undefined ? null : now - s.lastMessageAt,
        lastTradeAgeMs: s.lastTradeAt === undefined ? null : now - s.lastTradeAt,
        book: s.book.awaitingSnapshot ? 'awaiting_snapshot' : 'ok',
        bookUpdateId: s.book.updateId ?? null,
        messages: s.messages,
        trades: s.trades,
        bookUpdates: s.bookUpdates,
        bookGaps: s.gaps,
        bookCrossed: s.crossed,
        bookInvalid: s.invalidBook,
        resubscribes: s.resubscribes,
        rejected: s.rejected,
        lateTrades: s.agg.lateTrades,
        candles: p,
      };
    }
    const ticks = this.batcher.stats();
    const connection = this.d.stream.state();
    return {
      healthy: this.running && connection === 'connected' && fresh,
      connection,
      connectedSinceMs: this.connectedAt === undefined ? null : now - this.connectedAt,
      reconnects: this.reconnects,
      disconnects: this.disconnects,
      messages: this.messages,
      malformed: this.malformed,
      symbols,
      published: {
        candles,
        backfilledCandles: backfilled,
        snapshots: this.snapshotsPublished,
        tickBatches: ticks.messages,
        ticks: ticks.trades,
      },
      klineCheck: { ...this.klineCheck },
      ticks,
    };
  }

  /** Per-symbol candle publishing stats (cursor, published, backfilled, duplicates dropped). */
  candleStats(): Record<string, SymbolPublishStats> {
    return this.publisher.stats();
  }
}
