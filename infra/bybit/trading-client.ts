/**
 * TradingVenue adapter: Bybit v5 private REST (`category=linear`) through bybit-api's `RestClientV5`
 * (it signs every private request: HMAC_SHA256(timestamp + apiKey + recvWindow + payload) in the
 * X-BAPI-* headers). `baseUrl` points it at live Bybit or at the local server
 * `infra/replay/bybit-trade-server.ts`.
 *
 * Calls used: POST /v5/order/create (`submitOrder`, orderType ALWAYS 'Limit', timeInForce 'PostOnly'
 * or 'GTC'), POST /v5/order/cancel (`cancelOrder`), GET /v5/order/realtime (`getActiveOrders`),
 * GET /v5/order/history (`getHistoricOrders`), GET /v5/market/instruments-info (`getInstrumentsInfo`).
 * There is no code path that sends any other order type.
 *
 * Errors: a response with retCode != 0 becomes a typed error carrying Bybit's code and message
 * (VenueAuthError for key/signature/timestamp problems, OrderRejectedError for refused orders,
 * a retryable VenueError for rate limits / server trouble / transport failures). Two codes are
 * handled, not thrown: 110072 "OrderLinkedID is duplicate" on create (the order exists: its status is
 * fetched and returned with `alreadyPlaced: true`) and 110001 "Order does not exist" on cancel (the
 * order already finished: its final status is returned).
 *
 * Credentials come from the caller (Secret Manager in the cloud); both are registered with the logger
 * so they are masked in every log line, and they are never logged or put in an error message.
 */
import { RestClientV5 } from 'bybit-api';
import { z } from 'zod';
import { registerSecret, type Logger } from '../../shared/log.js';
import {
  OrderRejectedError,
  VenueAuthError,
  VenueError,
  type TradingVenue,
  type InstrumentRules,
  type LimitOrderRequest,
  type PlacedOrder,
  type VenueOrder,
  type VenueOrderStatus,
} from '../../shared/ports/trading-venue.js';

/** Bybit v5 retCodes this adapter treats specially (https://bybit-exchange.github.io/docs/v5/error). */
const BYBIT_RET = {
  OK: 0,
  REQUEST_EXPIRED: 10002,
  INVALID_API_KEY: 10003,
  INVALID_SIGN: 10004,
  PERMISSION_DENIED: 10005,
  TOO_MANY_VISITS: 10006,
  AUTH_FAILED: 10007,
  IP_BANNED: 10009,
  IP_MISMATCH: 10010,
  SERVER_TIMEOUT: 10000,
  SERVER_ERROR: 10016,
  API_KEY_EXPIRED: 33004,
  ORDER_NOT_EXISTS: 110001,
  ORDER_LINK_ID_DUPLICATE: 110072,
} as const;

const AUTH_CODES = new Set<number>([
  BYBIT_RET.REQUEST_EXPIRED,
  BYBIT_RET.INVALID_API_KEY,
  BYBIT_RET.INVALID_SIGN,
  BYBIT_RET.PERMISSION_DENIED,
  BYBIT_RET.AUTH_FAILED,
  BYBIT_RET.IP_BANNED,
  BYBIT_RET.IP_MISMATCH,
  BYBIT_RET.API_KEY_EXPIRED,
]);
const RETRYABLE_CODES = new Set<number>([BYBIT_RET.TOO_MANY_VISITS, BYBIT_RET.SERVER_TIMEOUT, BYBIT_RET.SERVER_ERROR]);
/** Transport failures (no Bybit answer) are reported with this code. */
const TRANSPORT_ERROR_CODE = -1;

const CATEGORY = 'linear';

interface BybitTradingClientOptions {
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  /** X-BAPI-RECV-WINDOW, ms (Bybit default 5000). */
  recvWindowMs: number;
  requestTimeoutMs: number;
  log?: Logger;
}

const envelope = z.object({ retCode: z.number(), retMsg: z.string(), result: z.unknown(), time: z.number().optional() });

const orderSchema = z.object({
  orderId: z.string(),
  orderLinkId: z.string(),
  symbol: z.string(),
  side: z.enum(['Buy', 'Sell']),
  price: z.string(),
  qty: z.string(),
  orderStatus: z.string(),
  avgPrice: z.string().nullish(),
  cumExecQty: z.string(),
  cumExecFee: z.string().nullish(),
  timeInForce: z.string(),
  orderType: z.string(),
  reduceOnly: z.boolean(),
  rejectReason: z.string().nullish(),
  updatedTime: z.string(),
});
const orderListSchema = z.object({ list: z.array(orderSchema) });
const placedSchema = z.object({ orderId: z.string(), orderLinkId: z.string() });
const instrumentSchema = z.object({
  symbol: z.string(),
  status: z.string(),
  priceFilter: z.object({ minPrice: z.string(), maxPrice: z.string(), tickSize: z.string() }),
  lotSizeFilter: z.object({
    maxOrderQty: z.string(),
    minOrderQty: z.string(),
    qtyStep: z.string(),
    postOnlyMaxOrderQty: z.string().optional(),
    minNotionalValue: z.string().optional(),
  }),
});
const instrumentListSchema = z.object({ list: z.array(instrumentSchema) });

/** Bybit order status -> port status. */
function normaliseStatus(s: string): VenueOrderStatus {
  switch (s) {
    case 'New':
    case 'Created':
    case 'Untriggered':
    case 'Triggered':
    case 'Active':
      return 'New';
    case 'PartiallyFilled':
      return 'PartiallyFilled';
    case 'Filled':
      return 'Filled';
    case 'Rejected':
      return 'Rejected';
    case 'Cancelled':
    case 'PartiallyFilledCanceled':
    case 'Deactivated':
      return 'Cancelled';
    default:
      throw new VenueError(TRANSPORT_ERROR_CODE, `unknown order status '${s}'`, 'order status', false);
  }
}

function toVenueOrder(o: z.infer<typeof orderSchema>): VenueOrder {
  const fee = o.cumExecFee === undefined || o.cumExecFee === null || o.cumExecFee === '' ? null : Number(o.cumExecFee);
  return {
    orderId: o.orderId,
    clientOrderId: o.orderLinkId,
    symbol: o.symbol,
    side: o.side,
    price: Number(o.price),
    qty: Number(o.qty),
    status: normaliseStatus(o.orderStatus),
    filledQty: Number(o.cumExecQty),
    avgPrice: o.avgPrice ? Number(o.avgPrice) : 0,
    fee,
    postOnly: o.timeInForce === 'PostOnly',
    reduceOnly: o.reduceOnly,
    rejectReason: o.rejectReason && o.rejectReason !== 'EC_NoError' ? o.rejectReason : '',
    updatedTime: Number(o.updatedTime),
  };
}

export class BybitTradingClient implements TradingVenue {
  private readonly client: RestClientV5;
  private readonly rules = new Map<string, InstrumentRules>();

  constructor(private readonly o: BybitTradingClientOptions) {
    if (!o.apiKey || !o.apiSecret) throw new Error('Bybit trading client needs an API key and secret');
    registerSecret(o.apiKey);
    registerSecret(o.apiSecret);
    this.client = new RestClientV5(
      {
        key: o.apiKey,
        secret: o.apiSecret,
        baseUrl: o.baseUrl,
        recv_window: o.recvWindowMs,
        throwExceptions: false,
        parseAPIRateLimits: false,
        enable_time_sync: false,
      },
      { timeout: o.requestTimeoutMs },
    );
  }

  /** Runs one call; returns the validated envelope (retCode may be != 0), transport failures typed. */
  private async call(operation: string, fn: () => Promise<unknown>): Promise<z.infer<typeof envelope>> {
    let raw: unknown;
    try {
      raw = await fn();
    } catch (err) {
      // bybit-api rejects with a string (no response) or {code, message, body} (non-2xx HTTP)
      const msg = typeof err === 'string' ? err : err && typeof err === 'object' && 'message' in err ? String((err as { message: unknown }).message) : 'request failed';
      const code = err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number' ? (err as { code: number }).code : TRANSPORT_ERROR_CODE;
      throw new VenueError(code, msg, operation, true);
    }
    const env = envelope.safeParse(raw);
    if (!env.success) throw new VenueError(TRANSPORT_ERROR_CODE, `malformed response: ${env.error.issues[0]?.message ?? 'unknown'}`, operation, true);
    return env.data;
  }

  private fail(operation: string, retCode: number, retMsg: string, orderOperation: boolean): never {
    if (AUTH_CODES.has(retCode)) throw new VenueAuthError(retCode, retMsg, operation);
    if (RETRYABLE_CODES.has(retCode)) throw new VenueError(retCode, retMsg, operation, true);
    if (orderOperation) throw new OrderRejectedError(retCode, retMsg, operation);
    throw new VenueError(retCode, retMsg, operation, false);
  }

  async placeLimitOrder(req: LimitOrderRequest): Promise<PlacedOrder> {
    const op = `place ${req.side} limit ${req.qty} ${req.symbol} @ ${req.price} (${req.clientOrderId})`;
    const res = await this.call(op, () =>
      this.client.submitOrder({
        category: CATEGORY,
        symbol: req.symbol,
        side: req.side,
        orderType: 'Limit',
        qty: req.qty,
        price: req.price,
        timeInForce: req.postOnly ? 'PostOnly' : 'GTC',
        orderLinkId: req.clientOrderId,
        reduceOnly: req.reduceOnly,
      }),
    );
    if (res.retCode === BYBIT_RET.ORDER_LINK_ID_DUPLICATE) {
      const existing = await this.getOrder(req.symbol, req.clientOrderId);
      if (!existing) throw new VenueError(res.retCode, `${res.retMsg} (but no order with that orderLinkId was found)`, op, true);
      this.o.log?.info('bybit: duplicate orderLinkId, order already placed', { clientOrderId: req.clientOrderId, orderId: existing.orderId });
      return { orderId: existing.orderId, clientOrderId: req.clientOrderId, status: existing.status, alreadyPlaced: true };
    }
    if (res.retCode !== BYBIT_RET.OK) this.fail(op, res.retCode, res.retMsg, true);
    const placed = placedSchema.safeParse(res.result);
    if (!placed.success) throw new VenueError(TRANSPORT_ERROR_CODE, 'create order answer without orderId', op, true);
    return { orderId: placed.data.orderId, clientOrderId: req.clientOrderId, status: 'New', alreadyPlaced: false };
  }

  async cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    const op = `cancel ${symbol} ${clientOrderId}`;
    const res = await this.call(op, () => this.client.cancelOrder({ category: CATEGORY, symbol, orderLinkId: clientOrderId }));
    if (res.retCode !== BYBIT_RET.OK && res.retCode !== BYBIT_RET.ORDER_NOT_EXISTS) this.fail(op, res.retCode, res.retMsg, true);
    return this.getOrder(symbol, clientOrderId);
  }

  async getOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null> {
    const op = `order status ${symbol} ${clientOrderId}`;
    const active = await this.call(op, () => this.client.getActiveOrders({ category: CATEGORY, symbol, orderLinkId: clientOrderId }));
    if (active.retCode !== BYBIT_RET.OK) this.fail(op, active.retCode, active.retMsg, false);
    const a = this.orders(op, active.result).find((x) => x.orderLinkId === clientOrderId);
    if (a) return toVenueOrder(a);
    const hist = await this.call(op, () => this.client.getHistoricOrders({ category: CATEGORY, symbol, orderLinkId: clientOrderId }));
    if (hist.retCode !== BYBIT_RET.OK) this.fail(op, hist.retCode, hist.retMsg, false);
    const h = this.orders(op, hist.result).find((x) => x.orderLinkId === clientOrderId);
    return h ? toVenueOrder(h) : null;
  }

  private orders(op: string, result: unknown): Array<z.infer<typeof orderSchema>> {
    const r = orderListSchema.safeParse(result);
    if (!r.success) throw new VenueError(TRANSPORT_ERROR_CODE, `malformed order list: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`, op, true);
    return r.data.list;
  }

  async instrument(symbol: string): Promise<InstrumentRules> {
    const cached = this.rules.get(symbol);
    if (cached) return cached;
    const op = `instruments-info ${symbol}`;
    const res = await this.call(op, () => this.client.getInstrumentsInfo({ category: CATEGORY, symbol }));
    if (res.retCode !== BYBIT_RET.OK) this.fail(op, res.retCode, res.retMsg, false);
    const list = instrumentListSchema.safeParse(res.result);
    if (!list.success) throw new VenueError(TRANSPORT_ERROR_CODE, `malformed instruments-info: ${list.error.issues[0]?.message}`, op, true);
    const i = list.data.list.find((x) => x.symbol === symbol);
    if (!i) throw new VenueError(TRANSPORT_ERROR_CODE, `${symbol} is not a linear instrument`, op, false);
    const rules: InstrumentRules = {
      symbol,
      status: i.status,
      tickSize: i.priceFilter.tickSize,
      qtyStep: i.lotSizeFilter.qtyStep,
      minOrderQty: i.lotSizeFilter.minOrderQty,
      maxOrderQty: i.lotSizeFilter.maxOrderQty,
      postOnlyMaxOrderQty: i.lotSizeFilter.postOnlyMaxOrderQty ?? i.lotSizeFilter.maxOrderQty,
      minNotionalValue: i.lotSizeFilter.minNotionalValue ?? '0',
      minPrice: i.priceFilter.minPrice,
      maxPrice: i.priceFilter.maxPrice,
    };
    this.rules.set(symbol, rules);
    return rules;
  }
}
