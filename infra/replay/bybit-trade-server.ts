/**
 * A local HTTP server speaking the Bybit v5 PRIVATE REST subset the live execution adapter uses, with
 * a small matching engine driven by the test (or the offline runtime) instead of a real market:
 *
 *   GET  /v5/market/instruments-info   public; serves a REAL recorded response (filtered by `symbol`)
 *   POST /v5/order/create              Limit orders only: any other orderType is REFUSED (retCode
 *                                       10001) and recorded in `violations`, so a market order fails
 *                                       the tests loudly
 *   POST /v5/order/cancel              by orderLinkId or orderId
 *   GET  /v5/order/realtime            open orders (New / PartiallyFilled); closed ones with openOnly=1
 *   GET  /v5/order/history             closed orders, newest first
 *
 * Authentication exactly as Bybit v5 defines it: headers X-BAPI-API-KEY, X-BAPI-TIMESTAMP,
 * X-BAPI-RECV-WINDOW, X-BAPI-SIGN, where SIGN = hex(HMAC_SHA256(secret, timestamp + apiKey +
 * recvWindow + payload)) and payload is the raw query string (GET) or the raw JSON body (POST).
 * Unknown key -> 10003, timestamp outside [server - recvWindow, server + 1000) -> 10002, bad
 * signature -> 10004 (Bybit's messages from https://bybit-exchange.github.io/docs/v5/error). Like
 * Bybit, business errors come back as HTTP 200 with `retCode` != 0.
 *
 * Matching (one price per symbol, driven with `trade(symbol, price, size?)`; bid = ask = that price):
 * - A resting BUY limit fills when the driven price trades AT OR BELOW it (SELL: at or above), at its
 *   own limit price (maker fee); `size` caps the quantity that trade can fill (partial fills).
 * - At placement, a limit that would cross the current price: PostOnly is accepted (retCode 0) and then
 *   cancelled by the exchange with rejectReason `EC_PostOnlyWillTakeLiquidity` (Bybit's behaviour for
 *   linear contracts); GTC fills at once at the current price (taker fee, price improvement).
 * - Duplicate orderLinkId -> 110072 "OrderLinkedID is duplicate". Cancel of an unknown or finished
 *   order -> 110001 "Order does not exist". reduceOnly that would open / grow a position -> 110017.
 * Fees: Bybit's published non-VIP derivatives rates by default (maker 0.02 %, taker 0.055 %).
 *
 * Every request is recorded (`requests`) with its parsed body/query, auth outcome and retCode.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { DEFAULT_PAPER_CONFIG } from '../../shared/config/strategy.js';

/** The venue's base-tier fees (fractions): the same numbers the paper book charges (config/paper costs.bybit). */
export const BYBIT_MAKER_FEE_RATE = DEFAULT_PAPER_CONFIG.costs.bybit.makerPct / 100;
export const BYBIT_TAKER_FEE_RATE = DEFAULT_PAPER_CONFIG.costs.bybit.takerPct / 100;
const DEFAULT_RECV_WINDOW_MS = 5000;
/** Bybit accepts a timestamp at most this far ahead of its clock. */
const MAX_FUTURE_SKEW_MS = 1000;
const MAX_ORDER_LINK_ID = 36;
const HISTORY_DEFAULT_LIMIT = 20;
const HISTORY_MAX_LIMIT = 50;

const RET = {
  OK: [0, 'OK'],
  PARAMS: [10001, 'Request parameter error.'],
  EXPIRED: [10002, 'The request time exceeds the time window range.'],
  API_KEY: [10003, 'API key is invalid.'],
  SIGN: [10004, 'Error sign, please check your signature generation algorithm.'],
  ORDER_NOT_EXISTS: [110001, 'Order does not exist'],
  REDUCE_ONLY: [110017, 'Reduce-only rule not satisfied'],
  LINK_ID_DUPLICATE: [110072, 'OrderLinkedID is duplicate'],
} as const satisfies Record<string, readonly [number, string]>;

interface TradeServerOptions {
  apiKey: string;
  apiSecret: string;
  /** Path of a real recorded `/v5/market/instruments-info?category=linear` response. */
  instrumentsFile: string;
  clock?: Clock;
  makerFeeRate?: number;
  takerFeeRate?: number;
}

interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | null;
  authenticated: boolean;
  /** The X-BAPI-* headers and the exact payload the signature covers (private endpoints). */
  auth: { apiKey: string; timestamp: string; recvWindow: string; sign: string; payload: string } | null;
  retCode: number;
  retMsg: string;
  at: number;
}

interface ServerOrder {
  orderId: string;
  orderLinkId: string;
  symbol: string;
  side: 'Buy' | 'Sell';
  orderType: string;
  price: number;
  qty: number;
  timeInForce: string;
  reduceOnly: boolean;
  status: 'New' | 'PartiallyFilled' | 'Filled' | 'Cancelled' | 'PartiallyFilledCanceled' | 'Rejected';
  cumQty: number;
  cumValue: number;
  cumFee: number;
  rejectReason: string;
  cancelType: string;
  lastPriceOnCreated: number;
  createdTime: number;
  updatedTime: number;
  seq: number;
}

interface InstrumentRow {
  symbol: string;
  priceFilter: { tickSize: string; minPrice: string; maxPrice: string };
  lotSizeFilter: { qtyStep: string; minOrderQty: string; maxOrderQty: string; minNotionalValue?: string };
  [k: string]: unknown;
}

interface InstrumentsResponse {
  retCode: number;
  retMsg: string;
  result: { category: string; list: InstrumentRow[]; nextPageCursor?: string };
  retExtInfo: unknown;
  time: number;
}

/** Decimals beyond the tick of an average fill price, and of values / fees (quote currency). */
const AVG_PRICE_EXTRA_DECIMALS = 4;
const VALUE_DECIMALS = 8;

/** Fixed decimals without trailing zeros (Bybit prints e.g. "109100" / "3.62212"). */
function dec(x: number, d: number): string {
  return String(Number(x.toFixed(d)));
}

function decimals(step: string): number {
  const i = step.indexOf('.');
  return i < 0 ? 0 : step.length - i - 1;
}

function isMultiple(x: number, step: string): boolean {
  const u = x / Number(step);
  return Math.abs(u - Math.round(u)) < 1e-7;
}

const OPEN = new Set(['New', 'PartiallyFilled']);

export class BybitTradeServer {
  readonly requests: RecordedRequest[] = [];
  /** Order requests refused because they were not limit orders (must stay empty). */
  readonly violations: RecordedRequest[] = [];
  private readonly orders: ServerOrder[] = [];
  private readonly lastPrice = new Map<string, number>();
  /** Net position per symbol (base qty, + long / - short). */
  private readonly positions = new Map<string, number>();
  private readonly instruments: InstrumentsResponse;
  private readonly bySymbol = new Map<string, InstrumentRow>();
  private readonly clock: Clock;
  private readonly maker: number;
  private readonly taker: number;
  private server: Server | null = null;
  private seq = 0;

  constructor(private readonly o: TradeServerOptions) {
    this.instruments = JSON.parse(readFileSync(o.instrumentsFile, 'utf8')) as InstrumentsResponse;
    for (const row of this.instruments.result.list) this.bySymbol.set(row.symbol, row);
    this.clock = o.clock ?? systemClock;
    this.maker = o.makerFeeRate ?? BYBIT_MAKER_FEE_RATE;
    this.taker = o.takerFeeRate ?? BYBIT_TAKER_FEE_RATE;
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ retCode: 10016, retMsg: `Server error. ${String(err)}`, result: {}, retExtInfo: {}, time: this.clock.now() }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Order requests (create) as received, for assertions. */
  orderCreates(): Array<Record<string, unknown>> {
    return this.requests.filter((r) => r.path === '/v5/order/create' && r.body).map((r) => r.body as Record<string, unknown>);
  }

  /** Orders the exchange holds (a copy). */
  allOrders(): ServerOrder[] {
    return this.orders.map((x) => ({ ...x }));
  }

  position(symbol: string): number {
    return this.positions.get(symbol) ?? 0;
  }

  /** Sets the price without trading (no fills): e.g. the market before the first order. */
  setPrice(symbol: string, price: number): void {
    this.lastPrice.set(symbol, price);
  }

  /**
   * A trade at `price` of `size` (unbounded when omitted): fills resting orders the price reaches
   * (BUY at or below its limit, SELL at or above), oldest first, at their limit prices (maker).
   */
  trade(symbol: string, price: number, size = Number.POSITIVE_INFINITY): void {
    this.lastPrice.set(symbol, price);
    let left = size;
    for (const ord of this.orders) {
      if (left <= 0) break;
      if (ord.symbol !== symbol || !OPEN.has(ord.status)) continue;
      const reaches = ord.side === 'Buy' ? price <= ord.price : price >= ord.price;
      if (!reaches) continue;
      const q = Math.min(ord.qty - ord.cumQty, left);
      this.fill(ord, q, ord.price, this.maker);
      left -= q;
    }
  }

  private fill(ord: ServerOrder, q: number, price: number, feeRate: number): void {
    const step = this.bySymbol.get(ord.symbol)?.lotSizeFilter.qtyStep ?? '0.001';
    const d = decimals(step);
    q = Number(q.toFixed(d));
    if (q <= 0) return;
    ord.cumQty = Number((ord.cumQty + q).toFixed(d));
    ord.cumValue += q * price;
    ord.cumFee += q * price * feeRate;
    ord.status = ord.cumQty >= ord.qty ? 'Filled' : 'PartiallyFilled';
    ord.updatedTime = this.clock.now();
    const pos = this.positions.get(ord.symbol) ?? 0;
    this.positions.set(ord.symbol, Number((pos + (ord.side === 'Buy' ? q : -q)).toFixed(d)));
  }

  // ---------- HTTP ----------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawQuery = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '';
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | null = null;
    if (req.method === 'POST' && rawBody) {
      try {
        body = JSON.parse(rawBody) as Record<string, unknown>;
      } catch {
        body = null;
      }
    }
    const rec: RecordedRequest = { method: req.method ?? '', path: url.pathname, query, body, authenticated: false, auth: null, retCode: 0, retMsg: '', at: this.clock.now() };
    this.requests.push(rec);
    const send = (ret: readonly [number, string], result: unknown = {}, detail = '') => {
      rec.retCode = ret[0];
      rec.retMsg = detail ? `${ret[1]} ${detail}` : ret[1];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ retCode: ret[0], retMsg: rec.retMsg, result, retExtInfo: {}, time: this.clock.now() }));
    };

    if (req.method === 'GET' && url.pathname === '/v5/market/instruments-info') {
      if (query.category !== 'linear') return send(RET.PARAMS, {}, 'this server records category=linear only');
      const list = query.symbol ? this.instruments.result.list.filter((x) => x.symbol === query.symbol) : this.instruments.result.list;
      rec.retCode = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...this.instruments, result: { ...this.instruments.result, list } }));
      return;
    }
    const routes: Record<string, string> = {
      '/v5/order/create': 'POST',
      '/v5/order/cancel': 'POST',
      '/v5/order/realtime': 'GET',
      '/v5/order/history': 'GET',
    };
    if (routes[url.pathname] !== req.method) {
      rec.retCode = 404;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    const payload = req.method === 'GET' ? rawQuery : rawBody;
    const hv = (name: string) => String(req.headers[name] ?? '');
    rec.auth = { apiKey: hv('x-bapi-api-key'), timestamp: hv('x-bapi-timestamp'), recvWindow: hv('x-bapi-recv-window'), sign: hv('x-bapi-sign'), payload };
    const auth = this.verify(req, payload);
    if (auth) return send(auth[0], {}, auth[1]);
    rec.authenticated = true;
    if (req.method === 'POST' && body === null) return send(RET.PARAMS, {}, 'body is not JSON');

    switch (url.pathname) {
      case '/v5/order/create':
        return this.create(body as Record<string, unknown>, rec, send);
      case '/v5/order/cancel':
        return this.cancel(body as Record<string, unknown>, send);
      case '/v5/order/realtime':
        return send(RET.OK, this.list(query, query.openOnly === '1' ? 'closed' : 'open'));
      default:
        return send(RET.OK, this.list(query, 'closed'));
    }
  }

  /** null when authenticated, else the Bybit error and a detail. */
  private verify(req: IncomingMessage, payload: string): [readonly [number, string], string] | null {
    const h = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const key = h('x-bapi-api-key');
    const ts = h('x-bapi-timestamp');
    const sign = h('x-bapi-sign');
    const recv = h('x-bapi-recv-window') ?? String(DEFAULT_RECV_WINDOW_MS);
    if (!key || key !== this.o.apiKey) return [RET.API_KEY, ''];
    if (!ts || !sign) return [RET.SIGN, '(missing X-BAPI-TIMESTAMP / X-BAPI-SIGN)'];
    const now = this.clock.now();
    const t = Number(ts);
    const window = Number(recv);
    if (!Number.isFinite(t) || !Number.isFinite(window) || !(t >= now - window && t < now + MAX_FUTURE_SKEW_MS)) {
      return [RET.EXPIRED, `req_timestamp[${ts}],server_timestamp[${now}],recv_window[${recv}]`];
    }
    const expected = bybitSign(this.o.apiSecret, ts, key, recv, payload);
    const a = Buffer.from(expected, 'utf8');
    const b = Buffer.from(sign, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return [RET.SIGN, ''];
    return null;
  }

  private create(b: Record<string, unknown>, rec: RecordedRequest, send: (r: readonly [number, string], result?: unknown, detail?: string) => void): void {
    const str = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
    if (b.orderType !== 'Limit') {
      this.violations.push(rec);
      return send(RET.PARAMS, {}, `orderType ${String(b.orderType)} refused: this venue takes Limit orders only`);
    }
    if (b.category !== 'linear') return send(RET.PARAMS, {}, 'category must be linear');
    const symbol = str('symbol') ?? '';
    const inst = this.bySymbol.get(symbol);
    if (!inst) return send(RET.PARAMS, {}, `symbol invalid: ${symbol}`);
    const side = b.side;
    if (side !== 'Buy' && side !== 'Sell') return send(RET.PARAMS, {}, 'side invalid');
    const tif = str('timeInForce') ?? 'GTC';
    if (tif !== 'GTC' && tif !== 'PostOnly') return send(RET.PARAMS, {}, `timeInForce ${tif} not supported here (GTC, PostOnly)`);
    const link = str('orderLinkId') ?? '';
    if (!link || link.length > MAX_ORDER_LINK_ID || !/^[A-Za-z0-9_-]+$/.test(link)) return send(RET.PARAMS, {}, 'orderLinkId invalid');
    if (this.orders.some((x) => x.orderLinkId === link)) return send(RET.LINK_ID_DUPLICATE);
    const price = Number(str('price'));
    const qty = Number(str('qty'));
    const pf = inst.priceFilter;
    const lf = inst.lotSizeFilter;
    if (!(price > 0) || !isMultiple(price, pf.tickSize) || price < Number(pf.minPrice) || price > Number(pf.maxPrice)) {
      return send(RET.PARAMS, {}, `price ${String(b.price)} invalid (tickSize ${pf.tickSize})`);
    }
    if (!(qty > 0) || !isMultiple(qty, lf.qtyStep) || qty < Number(lf.minOrderQty) || qty > Number(lf.maxOrderQty)) {
      return send(RET.PARAMS, {}, `qty ${String(b.qty)} invalid (qtyStep ${lf.qtyStep}, min ${lf.minOrderQty})`);
    }
    if (lf.minNotionalValue && price * qty < Number(lf.minNotionalValue)) return send(RET.PARAMS, {}, `order value below ${lf.minNotionalValue}`);
    const reduceOnly = b.reduceOnly === true;
    if (reduceOnly) {
      const pos = this.positions.get(symbol) ?? 0;
      const reduces = side === 'Sell' ? pos > 0 : pos < 0;
      if (!reduces) return send(RET.REDUCE_ONLY);
    }
    const now = this.clock.now();
    this.seq += 1;
    const last = this.lastPrice.get(symbol);
    const ord: ServerOrder = {
      orderId: orderIdOf(this.seq),
      orderLinkId: link,
      symbol,
      side,
      orderType: 'Limit',
      price,
      qty,
      timeInForce: tif,
      reduceOnly,
      status: 'New',
      cumQty: 0,
      cumValue: 0,
      cumFee: 0,
      rejectReason: 'EC_NoError',
      cancelType: 'UNKNOWN',
      lastPriceOnCreated: last ?? 0,
      createdTime: now,
      updatedTime: now,
      seq: this.seq,
    };
    this.orders.push(ord);
    if (last !== undefined && (side === 'Buy' ? price >= last : price <= last)) {
      if (tif === 'PostOnly') {
        ord.status = 'Cancelled';
        ord.rejectReason = 'EC_PostOnlyWillTakeLiquidity';
      } else {
        this.fill(ord, qty, last, this.taker);
      }
    }
    send(RET.OK, { orderId: ord.orderId, orderLinkId: link });
  }

  private cancel(b: Record<string, unknown>, send: (r: readonly [number, string], result?: unknown, detail?: string) => void): void {
    const ord = this.orders.find((x) => (b.orderLinkId ? x.orderLinkId === b.orderLinkId : x.orderId === b.orderId) && x.symbol === b.symbol);
    if (!ord || !OPEN.has(ord.status)) return send(RET.ORDER_NOT_EXISTS);
    ord.status = ord.cumQty > 0 ? 'PartiallyFilledCanceled' : 'Cancelled';
    ord.cancelType = 'CancelByUser';
    ord.updatedTime = this.clock.now();
    send(RET.OK, { orderId: ord.orderId, orderLinkId: ord.orderLinkId });
  }

  private list(q: Record<string, string>, which: 'open' | 'closed'): unknown {
    if (q.category !== 'linear') return { category: q.category ?? '', list: [], nextPageCursor: '' };
    const limit = Math.min(Number(q.limit ?? HISTORY_DEFAULT_LIMIT) || HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
    const list = this.orders
      .filter((x) => (which === 'open' ? OPEN.has(x.status) : !OPEN.has(x.status)))
      .filter((x) => (!q.symbol || x.symbol === q.symbol) && (!q.orderLinkId || x.orderLinkId === q.orderLinkId) && (!q.orderId || x.orderId === q.orderId))
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit)
      .map((x) => this.render(x));
    return { category: 'linear', list, nextPageCursor: '' };
  }

  /** An order in Bybit's v5 order-list shape (AccountOrderV5 fields, all numbers as strings). */
  private render(x: ServerOrder): Record<string, unknown> {
    const inst = this.bySymbol.get(x.symbol);
    const pd = decimals(inst?.priceFilter.tickSize ?? '0.01');
    const qd = decimals(inst?.lotSizeFilter.qtyStep ?? '0.001');
    const leaves = OPEN.has(x.status) ? x.qty - x.cumQty : 0;
    const avg = x.cumQty > 0 ? x.cumValue / x.cumQty : 0;
    return {
      orderId: x.orderId,
      orderLinkId: x.orderLinkId,
      blockTradeId: '',
      symbol: x.symbol,
      price: x.price.toFixed(pd),
      qty: x.qty.toFixed(qd),
      side: x.side,
      isLeverage: '',
      positionIdx: 0,
      orderStatus: x.status,
      createType: 'CreateByUser',
      cancelType: x.cancelType,
      rejectReason: x.rejectReason,
      avgPrice: x.cumQty > 0 ? dec(avg, pd + AVG_PRICE_EXTRA_DECIMALS) : '',
      leavesQty: leaves.toFixed(qd),
      leavesValue: dec(leaves * x.price, VALUE_DECIMALS),
      cumExecQty: x.cumQty.toFixed(qd),
      cumExecValue: dec(x.cumValue, VALUE_DECIMALS),
      cumExecFee: dec(x.cumFee, VALUE_DECIMALS),
      timeInForce: x.timeInForce,
      orderType: x.orderType,
      stopOrderType: '',
      orderIv: '',
      triggerPrice: '',
      takeProfit: '',
      stopLoss: '',
      tpTriggerBy: '',
      slTriggerBy: '',
      triggerDirection: 0,
      triggerBy: '',
      lastPriceOnCreated: String(x.lastPriceOnCreated),
      reduceOnly: x.reduceOnly,
      closeOnTrigger: false,
      smpType: 'None',
      smpGroup: 0,
      smpOrderId: '',
      tpslMode: '',
      tpLimitPrice: '',
      slLimitPrice: '',
      placeType: '',
      createdTime: String(x.createdTime),
      updatedTime: String(x.updatedTime),
    };
  }
}

/** Bybit v5 request signature: hex(HMAC_SHA256(secret, timestamp + apiKey + recvWindow + payload)). */
export function bybitSign(secret: string, timestamp: string, apiKey: string, recvWindow: string, payload: string): string {
  return createHmac('sha256', secret).update(timestamp + apiKey + recvWindow + payload).digest('hex');
}

/** Deterministic UUID-shaped order ids (Bybit linear order ids are UUIDs). */
function orderIdOf(n: number): string {
  const h = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${h}`;
}
