/**
 * A local server that speaks Bybit v5 PUBLIC linear: the websocket (`/v5/public/linear`) and REST
 * `GET /v5/market/kline`, fed with REAL market data and driven by a replay clock. Used by the holder
 * tests and by the offline replay runtime.
 *
 * Websocket protocol (shapes copied from the real recording, shared/data/bybit_ws):
 *   -> {"op":"subscribe","args":["publicTrade.BTCUSDT",..],"req_id":"1"}
 *   <- {"success":true,"ret_msg":"","conn_id":"..","req_id":"1","op":"subscribe"}
 *   -> {"op":"unsubscribe",..}  <- same ack with "op":"unsubscribe"
 *   -> {"op":"ping","req_id":".."}
 *   <- {"success":true,"ret_msg":"pong","conn_id":"..","req_id":"..","op":"ping"}
 *   An invalid topic is answered with success:false and `ret_msg` "error:handler not found,topic:..".
 *   Subscribing to `orderbook.{N}.{S}` first sends a snapshot of the current book (as Bybit does).
 *
 * Data sources (both real; choose with the loaders below):
 *   (a) `loadRecording()`: the real v5 recording (linear publicTrade, orderbook.200, kline.1,
 *       tickers), replayed in `recv_ts` order, messages sent byte-for-byte as recorded. Orderbook
 *       topics of another depth (e.g. orderbook.50, the holder's default) are served as the top-N
 *       view of the recorded 200-level book: snapshot = best N levels, deltas = the changes of that
 *       view (levels leaving it are sent with size "0", levels entering it with their size), with
 *       their own `u` increasing by 1 per message.
 *   (b) `tradesFromCandles()`: real 1m candles (shared/data/bybit_linear/*_1m.csv) turned into a
 *       DETERMINISTIC publicTrade sequence per candle: 4 trades at +1 s, +20 s, +40 s, +59 s of the
 *       minute at open, then low/high (low first when close >= open, high first otherwise), then
 *       close, whose sizes split the candle volume exactly; plus kline.1 updates (the minute's open
 *       at +0.1 s with volume 0, one after each trade) and the `confirm: true` bar 0.1 s after the
 *       minute. The prices and volumes are the real candle's; the trade times, sizes split, ids
 *       (`derived-...`) and turnover (sum of price x size) are DERIVED, not recorded. Aggregating
 *       these trades the Bybit way reproduces every candle exactly.
 * REST `/v5/market/kline` answers from the same data up to the replay clock: newest first, at most
 * `limit` rows (default 200, max 1000) of [startTime, open, high, low, close, volume, turnover];
 * the minute still forming at the replay clock is included with its state so far (as Bybit does);
 * an ended minute is answered with its final (confirmed) bar, or left out when the data has none.
 *
 * Replay clock: `advanceTo(t)` / `advance(ms)` send every event due, in order; `play(speed)` runs it
 * in real time x speed. `clock` is a Clock on replay time for the code under test.
 * Faults: `dropConnections()` (server-side close), `setAccepting(false)` (refuse new connections with
 * HTTP 503 until re-enabled), `injectSequenceGap(symbol)` (drop the next book delta of the symbol).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Clock } from '../../shared/ports/clock.js';

const MINUTE = 60_000;
const WS_PATH = '/v5/public/linear';
const KLINE_PATH = '/v5/market/kline';
const REST_DEFAULT_LIMIT = 200;
const REST_MAX_LIMIT = 1000;
/** Derived-trade offsets inside a minute (ms) for open, first extreme, second extreme, close. */
const DERIVED_TRADE_OFFSETS = [1_000, 20_000, 40_000, 59_000] as const;
/** Derived kline.1 updates come this long after the trade they include; the minute's first bar and
 * the confirmed bar this long after the minute starts / ends. */
const DERIVED_KLINE_LAG_MS = 100;
const PLAY_TICK_MS = 20;

type Msg = Record<string, unknown>;
export type KlineRow = [string, string, string, string, string, string, string];

export interface ReplayEvent {
  /** Replay time (ms) at which the server sends the message. */
  at: number;
  topic: string;
  /** The exchange message, or a function that builds it when it is sent (derived streams are built
   * lazily, so a month of candles for several symbols stays small in memory). */
  msg: Msg | (() => Msg);
}

/** One state of a REST kline row, valid from replay time `at` on. */
export interface KlineState {
  at: number;
  symbol: string;
  /** The bar's open time (ms). */
  start: number;
  /** `[startTime, open, high, low, close, volume, turnover]`, or a function building it. */
  row: KlineRow | (() => KlineRow);
  /** The exchange's final (confirmed) bar: REST returns it as soon as the minute has ended. */
  final: boolean;
}

export function eventMessage(e: ReplayEvent): Msg {
  return typeof e.msg === 'function' ? e.msg() : e.msg;
}

function klineRow(k: KlineState): KlineRow {
  return typeof k.row === 'function' ? k.row() : k.row;
}

export interface ReplayData {
  events: ReplayEvent[];
  klines: KlineState[];
}

// ---------------------------------------------------------------------------------------------
// loaders

export const RECORDING_FILES = ['linear_publicTrade.jsonl', 'linear_orderbook200.jsonl', 'linear_kline1.jsonl', 'linear_tickers.jsonl'];

/**
 * The real Bybit v5 linear recording (jsonl lines `{"recv_ts": s, "msg": {...}}`), all topics, in
 * receive order. REST kline states come from the recorded kline.1 messages.
 */
export function loadRecording(dir: string, opts: { symbols?: string[]; files?: string[] } = {}): ReplayData {
  const events: ReplayEvent[] = [];
  for (const f of opts.files ?? RECORDING_FILES) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const rec = JSON.parse(line) as { recv_ts: number; msg: Record<string, unknown> };
      const topic = rec.msg.topic;
      if (typeof topic !== 'string') continue;
      const symbol = topic.split('.').pop() as string;
      if (opts.symbols && !opts.symbols.includes(symbol)) continue;
      events.push({ at: Math.round(rec.recv_ts * 1000), topic, msg: rec.msg });
    }
  }
  events.sort((a, b) => a.at - b.at);
  const klines: KlineState[] = [];
  for (const e of events) {
    if (!e.topic.startsWith('kline.1.')) continue;
    const symbol = e.topic.slice('kline.1.'.length);
    for (const b of eventMessage(e).data as Array<Record<string, unknown>>) {
      klines.push({
        at: e.at,
        symbol,
        start: Number(b.start),
        row: [String(b.start), String(b.open), String(b.high), String(b.low), String(b.close), String(b.volume), String(b.turnover)],
        final: b.confirm === true,
      });
    }
  }
  return { events, klines };
}

/** A 1m candle as the CSV stores it (strings kept exact). */
export interface CsvCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/** Reads `ts_ms,open,high,low,close,volume` rows with `from <= ts_ms < to`. */
export function loadCandlesCsv(path: string, range: { from?: number; to?: number } = {}): CsvCandle[] {
  const out: CsvCandle[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.trim() === '') continue;
    const [ts, open, high, low, close, volume] = line.split(',') as [string, string, string, string, string, string];
    const openTime = Number(ts);
    if (range.from !== undefined && openTime < range.from) continue;
    if (range.to !== undefined && openTime >= range.to) continue;
    out.push({ openTime, open, high, low, close, volume: volume.trim() });
  }
  return out;
}

function decimals(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function toUnits(s: string, d: number): bigint {
  const [int, frac = ''] = s.split('.');
  return BigInt((int as string) + frac.padEnd(d, '0'));
}

function fromUnits(u: bigint, d: number): string {
  if (d === 0) return u.toString();
  const s = u.toString().padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
}

/** What the derived messages of one real candle are built from (on demand). */
interface DerivedCandle {
  symbol: string;
  c: CsvCandle;
  /** Open = the previous close (Bybit convention, true on every CSV row). */
  open: string;
  /** Trade prices: open, first extreme, second extreme, close. */
  prices: string[];
  /** Trade sizes in units of 10^-d (0 = no trade). */
  sizes: bigint[];
  d: number;
  /** Price of the trade before this candle's first one (tick direction). */
  prevPrice: number | undefined;
  /** `seq` of this candle's first trade. */
  seq0: number;
}

/** The candle's state after its trades 0..k (k = -1: the minute's first bar, no trade yet). */
function derivedState(dc: DerivedCandle, k: number): { high: string; low: string; close: string; volume: string; turnover: string } {
  let hi = dc.open;
  let lo = dc.open;
  let close = dc.open;
  let volU = 0n;
  let turnover = 0;
  for (let i = 0; i <= k; i++) {
    const sz = dc.sizes[i] as bigint;
    if (sz === 0n) continue;
    const p = dc.prices[i] as string;
    if (Number(p) > Number(hi)) hi = p;
    if (Number(p) < Number(lo)) lo = p;
    close = p;
    volU += sz;
    turnover += Number(p) * Number(fromUnits(sz, dc.d));
  }
  return { high: hi, low: lo, close, volume: fromUnits(volU, dc.d), turnover: k < 0 ? '0' : turnover.toFixed(4) };
}

function derivedKlineRow(dc: DerivedCandle, k: number, final: boolean): KlineRow {
  const m = String(dc.c.openTime);
  const st = derivedState(dc, k);
  if (final) return [m, dc.open, dc.c.high, dc.c.low, dc.c.close, dc.c.volume, st.turnover];
  return [m, dc.open, st.high, st.low, st.close, st.volume, st.turnover];
}

function derivedKlineMsg(dc: DerivedCandle, k: number, final: boolean, at: number): Msg {
  const [, open, high, low, close, volume, turnover] = derivedKlineRow(dc, k, final);
  const m = dc.c.openTime;
  const topic = `kline.1.${dc.symbol}`;
  const bar = { start: m, end: m + MINUTE - 1, interval: '1', open, close, high, low, volume, turnover, confirm: final, timestamp: at };
  return { topic, data: [bar], ts: at, type: 'snapshot' };
}

function derivedTradeMsg(dc: DerivedCandle, k: number): Msg {
  const T = dc.c.openTime + (DERIVED_TRADE_OFFSETS[k] as number);
  let prev = dc.prevPrice;
  let seq = dc.seq0;
  for (let i = 0; i < k; i++) {
    if (dc.sizes[i] === 0n) continue;
    prev = Number(dc.prices[i]);
    seq++;
  }
  const p = dc.prices[k] as string;
  const pn = Number(p);
  const tick = prev === undefined || pn === prev ? 'ZeroPlusTick' : pn > prev ? 'PlusTick' : 'MinusTick';
  const trade = {
    T,
    s: dc.symbol,
    S: tick === 'MinusTick' ? 'Sell' : 'Buy',
    v: fromUnits(dc.sizes[k] as bigint, dc.d),
    p,
    L: tick,
    i: `derived-${dc.symbol}-${dc.c.openTime}-${k}`,
    BT: false,
    RPI: false,
    seq,
  };
  return { topic: `publicTrade.${dc.symbol}`, type: 'snapshot', ts: T + 1, data: [trade] };
}

/** A derived message, built when it is sent (a few numbers per event instead of a message object). */
class DerivedEvent implements ReplayEvent {
  constructor(
    readonly at: number,
    readonly topic: string,
    private readonly dc: DerivedCandle,
    /** Trade index; for klines the last trade included (-1: none). */
    private readonly k: number,
    private readonly kind: 'trade' | 'kline' | 'final',
  ) {}
  get msg(): Msg {
    return this.kind === 'trade' ? derivedTradeMsg(this.dc, this.k) : derivedKlineMsg(this.dc, this.k, this.kind === 'final', this.at);
  }
}

class DerivedKlineState implements KlineState {
  constructor(
    readonly at: number,
    readonly symbol: string,
    readonly start: number,
    private readonly dc: DerivedCandle,
    private readonly k: number,
    readonly final: boolean,
  ) {}
  get row(): KlineRow {
    return derivedKlineRow(this.dc, this.k, this.final);
  }
}

/**
 * Turns real 1m candles of one symbol into Bybit publicTrade + kline.1 messages and REST kline
 * states (see the file header for the exact, deterministic rule). Messages are built when sent.
 */
export function tradesFromCandles(symbol: string, candles: CsvCandle[]): ReplayData {
  const events: ReplayEvent[] = [];
  const klines: KlineState[] = [];
  const tradeTopic = `publicTrade.${symbol}`;
  const klineTopic = `kline.1.${symbol}`;
  let seq = 1;
  let prevPrice: number | undefined;
  let prevClose: string | undefined;
  for (const c of candles) {
    const m = c.openTime;
    const bull = Number(c.close) >= Number(c.open);
    const prices = bull ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
    let d = decimals(c.volume);
    let units = toUnits(c.volume, d);
    while (units < BigInt(prices.length) && units > 0n) {
      d++;
      units *= 10n;
    }
    const part = units / BigInt(prices.length);
    const sizes = prices.map((_, i) => (i === prices.length - 1 ? units - part * BigInt(prices.length - 1) : part));
    const dc: DerivedCandle = { symbol, c, open: prevClose ?? c.open, prices, sizes, d, prevPrice, seq0: seq };
    const first = m + DERIVED_KLINE_LAG_MS;
    events.push(new DerivedEvent(first, klineTopic, dc, -1, 'kline'));
    klines.push(new DerivedKlineState(first, symbol, m, dc, -1, false));
    for (let k = 0; k < prices.length; k++) {
      if (sizes[k] === 0n) continue; // a zero-volume candle has no trades
      const T = m + (DERIVED_TRADE_OFFSETS[k] as number);
      events.push(new DerivedEvent(T, tradeTopic, dc, k, 'trade'));
      events.push(new DerivedEvent(T + DERIVED_KLINE_LAG_MS, klineTopic, dc, k, 'kline'));
      klines.push(new DerivedKlineState(T + DERIVED_KLINE_LAG_MS, symbol, m, dc, k, false));
      prevPrice = Number(prices[k]);
      seq++;
    }
    const confirmAt = m + MINUTE + DERIVED_KLINE_LAG_MS;
    events.push(new DerivedEvent(confirmAt, klineTopic, dc, prices.length - 1, 'final'));
    klines.push(new DerivedKlineState(confirmAt, symbol, m, dc, prices.length - 1, true));
    prevClose = c.close;
  }
  events.sort((a, b) => a.at - b.at);
  return { events, klines };
}

export function mergeReplayData(...parts: ReplayData[]): ReplayData {
  const events = parts.flatMap((p) => p.events).sort((a, b) => a.at - b.at);
  const klines = parts.flatMap((p) => p.klines);
  return { events, klines };
}

// ---------------------------------------------------------------------------------------------
// order books kept by the server (for snapshots to new subscribers and top-N views)

type Levels = Map<string, string>;

interface ServerBook {
  symbol: string;
  sourceDepth: number;
  bids: Levels;
  asks: Levels;
  u: number;
  seq: number;
  ts: number;
  ready: boolean;
}

interface BookView {
  topic: string;
  symbol: string;
  depth: number;
  u: number;
  bids: Levels;
  asks: Levels;
}

function topLevels(side: Levels, n: number, desc: boolean): Array<[string, string]> {
  const arr = [...side.entries()];
  arr.sort((a, b) => (desc ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  return arr.slice(0, n);
}

function diffLevels(prev: Levels, next: Levels): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [p, s] of next) if (prev.get(p) !== s) out.push([p, s]);
  for (const p of prev.keys()) if (!next.has(p)) out.push([p, '0']);
  return out;
}

// ---------------------------------------------------------------------------------------------

interface Client {
  ws: WebSocket;
  connId: string;
  topics: Set<string>;
}

export interface ReplayServerOptions {
  data: ReplayData;
  /** Replay time to start at (default: 1 ms before the first event). */
  startAt?: number;
}

export interface ReplayServerStats {
  connections: number;
  refused: number;
  subscribeRequests: number;
  unsubscribeRequests: number;
  pings: number;
  /** Data messages sent (all clients). */
  dataSent: number;
  restRequests: number;
  gapsInjected: number;
}

const TOPIC_RE = /^(publicTrade|orderbook\.(1|50|200|500)|kline\.(1|3|5|15|30|60|120|240|360|720|D|W|M)|tickers)\.[A-Z0-9]+$/;

export class BybitReplayServer {
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly clients = new Set<Client>();
  private readonly events: ReplayEvent[];
  private idx = 0;
  private t: number;
  private accepting = true;
  private connSeq = 0;
  private readonly books = new Map<string, ServerBook>();
  private readonly views = new Map<string, BookView>();
  /** Book topics whose next delta is dropped (injected sequence gap). */
  private readonly gapTopics = new Set<string>();
  private readonly klineStates = new Map<string, Map<number, KlineState[]>>();
  private readonly klineMinutes = new Map<string, number[]>();
  private readonly sleepers: Array<{ at: number; resolve: () => void }> = [];
  private playTimer: NodeJS.Timeout | undefined;
  private port = 0;
  /** Wall-clock times (Date.now) of refused connection attempts (back-off checks). */
  readonly refusedAt: number[] = [];
  readonly stats: ReplayServerStats = {
    connections: 0,
    refused: 0,
    subscribeRequests: 0,
    unsubscribeRequests: 0,
    pings: 0,
    dataSent: 0,
    restRequests: 0,
    gapsInjected: 0,
  };

  /** A Clock on replay time (sleep resolves when the replay clock passes the wake time). */
  readonly clock: Clock = {
    now: () => this.t,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        this.sleepers.push({ at: this.t + Math.max(0, ms), resolve });
        this.sleepers.sort((a, b) => a.at - b.at);
      }),
  };

  constructor(opts: ReplayServerOptions) {
    this.events = [...opts.data.events].sort((a, b) => a.at - b.at);
    this.t = opts.startAt ?? (this.events[0] ? this.events[0].at - 1 : 0);
    for (const k of opts.data.klines) {
      let bySymbol = this.klineStates.get(k.symbol);
      if (!bySymbol) {
        bySymbol = new Map();
        this.klineStates.set(k.symbol, bySymbol);
      }
      const start = k.start;
      const list = bySymbol.get(start) ?? [];
      list.push(k);
      bySymbol.set(start, list);
    }
    for (const [symbol, bySymbol] of this.klineStates) {
      for (const list of bySymbol.values()) list.sort((a, b) => a.at - b.at);
      this.klineMinutes.set(symbol, [...bySymbol.keys()].sort((a, b) => a - b));
    }
    // Book events before the start time are applied silently, so the server has the book ready.
    while (this.idx < this.events.length && (this.events[this.idx] as ReplayEvent).at <= this.t) {
      this.dispatch(this.events[this.idx++] as ReplayEvent, false);
    }
  }

  async start(port = 0): Promise<{ wsUrl: string; restUrl: string }> {
    this.wss = new WebSocketServer({ noServer: true });
    this.http = createServer((req, res) => this.onHttp(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.http.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    return { wsUrl: this.wsUrl, restUrl: this.restUrl };
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}${WS_PATH}`;
  }
  get restUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.pause();
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    if (this.http) {
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => this.http!.close(() => resolve()));
    }
    this.http = undefined;
    this.wss = undefined;
  }

  // ---- replay clock ----------------------------------------------------------------------------

  now(): number {
    return this.t;
  }
  /** Replay time of the first and last event. */
  get range(): { first: number; last: number } {
    return { first: this.events[0]?.at ?? 0, last: this.events[this.events.length - 1]?.at ?? 0 };
  }
  get finished(): boolean {
    return this.idx >= this.events.length;
  }

  /** Moves the replay clock to `t`, sending every event due (in order) and waking sleepers. */
  async advanceTo(t: number): Promise<void> {
    if (t < this.t) return;
    for (;;) {
      const e = this.events[this.idx];
      const s = this.sleepers[0];
      const nextEvent = e && e.at <= t ? e.at : Number.POSITIVE_INFINITY;
      const nextSleeper = s && s.at <= t ? s.at : Number.POSITIVE_INFINITY;
      if (nextEvent === Number.POSITIVE_INFINITY && nextSleeper === Number.POSITIVE_INFINITY) break;
      if (nextEvent <= nextSleeper) {
        this.t = nextEvent;
        this.idx++;
        this.dispatch(e as ReplayEvent, true);
      } else {
        this.t = nextSleeper;
        this.sleepers.shift();
        s!.resolve();
        await new Promise((r) => setImmediate(r));
      }
    }
    this.t = t;
  }

  advance(ms: number): Promise<void> {
    return this.advanceTo(this.t + ms);
  }

  /** Plays in real time x `speed` until `pause()` (or the end of the data when `untilEnd`). */
  play(speed = 1, opts: { untilEnd?: boolean } = {}): void {
    this.pause();
    let last = Date.now();
    let busy = false;
    this.playTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      const nowReal = Date.now();
      const step = (nowReal - last) * speed;
      last = nowReal;
      void this.advance(step).finally(() => {
        busy = false;
        if (opts.untilEnd && this.finished) this.pause();
      });
    }, PLAY_TICK_MS);
  }

  pause(): void {
    if (this.playTimer) clearInterval(this.playTimer);
    this.playTimer = undefined;
  }

  // ---- faults ----------------------------------------------------------------------------------

  /** Closes every client connection from the server side (clients see a drop). */
  dropConnections(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
  }

  /** While false, websocket upgrades are refused with HTTP 503. */
  setAccepting(accepting: boolean): void {
    this.accepting = accepting;
  }

  /** The next orderbook delta of `symbol` (every subscribed depth topic) is not sent: `u` jumps. */
  injectSequenceGap(symbol: string): void {
    const topics = new Set<string>();
    for (const c of this.clients) for (const t of c.topics) if (t.startsWith('orderbook.') && t.endsWith(`.${symbol}`)) topics.add(t);
    if (topics.size === 0) throw new Error(`injectSequenceGap: no client is subscribed to an orderbook topic of ${symbol}`);
    for (const t of topics) this.gapTopics.add(t);
  }

  /** Consumes a pending injected gap of `topic`: true when this delta must not be sent. */
  private dropForGap(topic: string): boolean {
    if (!this.gapTopics.has(topic)) return false;
    this.gapTopics.delete(topic);
    this.stats.gapsInjected++;
    return true;
  }

  get connectedClients(): number {
    return this.clients.size;
  }

  /** The server's current book of a symbol at `depth` levels (the reference for tests). */
  bookState(symbol: string, depth: number): { bids: Array<[string, string]>; asks: Array<[string, string]>; u: number; seq: number } | undefined {
    const b = this.books.get(symbol);
    if (!b || !b.ready) return undefined;
    return { bids: topLevels(b.bids, depth, true), asks: topLevels(b.asks, depth, false), u: b.u, seq: b.seq };
  }

  // ---- dispatch --------------------------------------------------------------------------------

  private dispatch(e: ReplayEvent, send: boolean): void {
    if (e.topic.startsWith('orderbook.')) {
      this.onSourceBook(e, send);
      return;
    }
    if (!send || !this.hasSubscriber(e.topic)) return;
    this.broadcast(e.topic, JSON.stringify(eventMessage(e)));
  }

  private hasSubscriber(topic: string): boolean {
    for (const c of this.clients) if (c.topics.has(topic)) return true;
    return false;
  }

  private broadcast(topic: string, text: string): void {
    for (const c of this.clients) {
      if (c.topics.has(topic) && c.ws.readyState === WebSocket.OPEN) {
        c.ws.send(text);
        this.stats.dataSent++;
      }
    }
  }

  private onSourceBook(e: ReplayEvent, send: boolean): void {
    const [, depthStr, symbol] = e.topic.split('.') as [string, string, string];
    const depth = Number(depthStr);
    const msg = eventMessage(e);
    const d = msg.data as { b: Array<[string, string]>; a: Array<[string, string]>; u: number; seq: number };
    let book = this.books.get(symbol);
    if (!book) {
      book = { symbol, sourceDepth: depth, bids: new Map(), asks: new Map(), u: 0, seq: 0, ts: 0, ready: false };
      this.books.set(symbol, book);
    }
    const isSnapshot = msg.type === 'snapshot';
    if (isSnapshot) {
      book.bids.clear();
      book.asks.clear();
      book.ready = true;
      this.ensureViews(book);
    }
    for (const [p, s] of d.b) (Number(s) === 0 ? book.bids.delete(p) : book.bids.set(p, s));
    for (const [p, s] of d.a) (Number(s) === 0 ? book.asks.delete(p) : book.asks.set(p, s));
    book.u = d.u;
    book.seq = d.seq;
    book.ts = (msg.ts as number) ?? e.at;
    // the recorded stream itself
    if (send && (isSnapshot || !this.dropForGap(e.topic)) && this.hasSubscriber(e.topic)) {
      this.broadcast(e.topic, JSON.stringify(msg));
    }
    // top-N views of it
    for (const v of this.views.values()) {
      if (v.symbol !== symbol) continue;
      const bids = new Map(topLevels(book.bids, v.depth, true));
      const asks = new Map(topLevels(book.asks, v.depth, false));
      if (isSnapshot) {
        v.u++;
        v.bids = bids;
        v.asks = asks;
        if (send) this.broadcast(v.topic, JSON.stringify(this.snapshotMsg(v.topic, book, v.depth, v.u)));
        continue;
      }
      const db = diffLevels(v.bids, bids);
      const da = diffLevels(v.asks, asks);
      v.bids = bids;
      v.asks = asks;
      if (db.length === 0 && da.length === 0) continue;
      v.u++;
      if (send && !this.dropForGap(v.topic)) {
        const msg = { topic: v.topic, type: 'delta', ts: book.ts, data: { s: symbol, b: db, a: da, u: v.u, seq: book.seq }, cts: book.ts };
        this.broadcast(v.topic, JSON.stringify(msg));
      }
    }
  }

  private snapshotMsg(topic: string, book: ServerBook, depth: number, u: number): Record<string, unknown> {
    return {
      topic,
      type: 'snapshot',
      ts: book.ts,
      data: { s: book.symbol, b: topLevels(book.bids, depth, true), a: topLevels(book.asks, depth, false), u, seq: book.seq },
      cts: book.ts,
    };
  }

  // ---- websocket -------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (!this.accepting || path !== WS_PATH) {
      this.stats.refused++;
      this.refusedAt.push(Date.now());
      const status = this.accepting ? '404 Not Found' : '503 Service Unavailable';
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
      return;
    }
    this.wss!.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const client: Client = { ws, connId: `replay-${++this.connSeq}`, topics: new Set() };
    this.clients.add(client);
    this.stats.connections++;
    ws.on('message', (data: RawData) => this.onClientMessage(client, data));
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => this.clients.delete(client));
  }

  private reply(c: Client, msg: Record<string, unknown>): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }

  private onClientMessage(c: Client, data: RawData): void {
    let req: { op?: unknown; args?: unknown; req_id?: unknown };
    try {
      req = JSON.parse(data.toString()) as typeof req;
    } catch {
      this.reply(c, { success: false, ret_msg: 'error:request not json', conn_id: c.connId, op: '' });
      return;
    }
    const reqId = typeof req.req_id === 'string' ? req.req_id : '';
    if (req.op === 'ping') {
      this.stats.pings++;
      this.reply(c, { success: true, ret_msg: 'pong', conn_id: c.connId, req_id: reqId, op: 'ping' });
      return;
    }
    if (req.op !== 'subscribe' && req.op !== 'unsubscribe') {
      this.reply(c, { success: false, ret_msg: `error:handler not found,op:${String(req.op)}`, conn_id: c.connId, req_id: reqId, op: String(req.op) });
      return;
    }
    const args = Array.isArray(req.args) ? (req.args as unknown[]) : [];
    const bad = args.filter((a) => typeof a !== 'string' || !TOPIC_RE.test(a));
    if (bad.length > 0 || args.length === 0) {
      this.reply(c, { success: false, ret_msg: `error:handler not found,topic:${bad.map(String).join(',')}`, conn_id: c.connId, req_id: reqId, op: req.op });
      return;
    }
    const topics = args as string[];
    if (req.op === 'unsubscribe') {
      this.stats.unsubscribeRequests++;
      for (const t of topics) c.topics.delete(t);
      this.reply(c, { success: true, ret_msg: '', conn_id: c.connId, req_id: reqId, op: 'unsubscribe' });
      return;
    }
    this.stats.subscribeRequests++;
    for (const t of topics) c.topics.add(t);
    this.reply(c, { success: true, ret_msg: '', conn_id: c.connId, req_id: reqId, op: 'subscribe' });
    for (const t of topics) if (t.startsWith('orderbook.')) this.sendBookSnapshot(c, t);
  }

  /** Creates the top-N views that subscribed clients need for a book (depth != recorded depth). */
  private ensureViews(book: ServerBook): void {
    for (const c of this.clients) {
      for (const topic of c.topics) {
        if (!topic.startsWith('orderbook.') || this.views.has(topic)) continue;
        const [, depthStr, symbol] = topic.split('.') as [string, string, string];
        const depth = Number(depthStr);
        if (symbol !== book.symbol || depth === book.sourceDepth) continue;
        this.views.set(topic, {
          topic,
          symbol,
          depth,
          u: 0,
          bids: new Map(topLevels(book.bids, depth, true)),
          asks: new Map(topLevels(book.asks, depth, false)),
        });
      }
    }
  }

  private sendBookSnapshot(c: Client, topic: string): void {
    const [, depthStr, symbol] = topic.split('.') as [string, string, string];
    const depth = Number(depthStr);
    const book = this.books.get(symbol);
    if (!book || !book.ready) return; // the view is created with the first recorded snapshot
    this.ensureViews(book);
    const view = this.views.get(topic);
    const u = view ? view.u : book.u;
    if (c.ws.readyState === WebSocket.OPEN) {
      c.ws.send(JSON.stringify(this.snapshotMsg(topic, book, depth, u)));
      this.stats.dataSent++;
    }
  }

  // ---- REST ------------------------------------------------------------------------------------

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== KLINE_PATH) {
      send(404, { retCode: 404, retMsg: 'Not Found', result: {}, retExtInfo: {}, time: this.t });
      return;
    }
    this.stats.restRequests++;
    const q = url.searchParams;
    const err = (msg: string): void => send(200, { retCode: 10001, retMsg: msg, result: {}, retExtInfo: {}, time: this.t });
    const category = q.get('category') ?? 'linear';
    const symbol = q.get('symbol') ?? '';
    if (category !== 'linear') return err('params error: this replay server serves category=linear only');
    if (q.get('interval') !== '1') return err('params error: this replay server serves interval=1 only');
    const minutes = this.klineMinutes.get(symbol);
    if (!minutes) return err('params error: symbol invalid');
    const limitRaw = q.get('limit');
    const limit = limitRaw === null ? REST_DEFAULT_LIMIT : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > REST_MAX_LIMIT) return err('params error: limit invalid');
    const start = q.get('start') === null ? Number.NEGATIVE_INFINITY : Number(q.get('start'));
    const end = q.get('end') === null ? this.t : Math.min(Number(q.get('end')), this.t);
    if (!Number.isFinite(end) || Number.isNaN(start)) return err('params error: start/end invalid');
    const states = this.klineStates.get(symbol)!;
    const rows: KlineRow[] = [];
    // newest first: walk minutes descending from `end`
    let lo = 0;
    let hi = minutes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((minutes[mid] as number) <= end) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && rows.length < limit; i--) {
      const m = minutes[i] as number;
      if (m < start) break;
      const list = states.get(m) as KlineState[];
      // An ended minute is answered with its final bar only (the data may end mid-minute: then the
      // server does not know the final bar and leaves the minute out rather than invent it).
      let state: KlineState | undefined;
      if (m + MINUTE <= this.t) state = list.find((s) => s.final);
      else for (const s of list) if (s.at <= this.t) state = s;
      if (state) rows.push(klineRow(state));
    }
    send(200, { retCode: 0, retMsg: 'OK', result: { category: 'linear', symbol, list: rows }, retExtInfo: {}, time: this.t });
  }
}
