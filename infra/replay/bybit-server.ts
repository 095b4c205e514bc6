/**
 * A local server that speaks Bybit v5 PUBLIC linear: the websocket (`/v5/public/linear`) and REST
 * `GET /v5/market/kline`, fed with REAL market data and driven by a replay clock. Used by the holder
 * tests and by the offline replay runtime. What it serves (the recording, or messages derived from
 * real 1m candles) is loaded by infra/replay/bybit-replay-data.ts; this file is the protocol.
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
 * Orderbook topics of another depth than the data's (e.g. orderbook.50, the holder's default, over
 * the recorded orderbook.200) are served as the top-N view of the source book: snapshot = best N
 * levels, deltas = the changes of that view (levels leaving it are sent with size "0", levels entering
 * it with their size), with their own `u` increasing by 1 per message.
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
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { Clock } from '../../shared/ports/clock.js';
import { upperBound } from '../../shared/sorted.js';
import { eventMessage, klineRow, type KlineRow, type KlineState, type ReplayData, type ReplayEvent } from './bybit-replay-data.js';

const MINUTE = 60_000;
const WS_PATH = '/v5/public/linear';
const KLINE_PATH = '/v5/market/kline';
const REST_DEFAULT_LIMIT = 200;
const REST_MAX_LIMIT = 1000;
const PLAY_TICK_MS = 20;

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

interface ReplayServerOptions {
  data: ReplayData;
  /** Replay time to start at (default: 1 ms before the first event). */
  startAt?: number;
}

interface ReplayServerStats {
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
    for (let i = upperBound(minutes, end) - 1; i >= 0 && rows.length < limit; i--) {
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
