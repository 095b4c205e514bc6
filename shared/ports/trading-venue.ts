/**
 * Execution port (SPEC 5, live mode): an exchange venue that takes LIMIT orders only.
 *
 * There is deliberately no market order anywhere in this port: every order has a price. Entries and
 * take-profit exits go out PostOnly (maker or nothing); protective exits (stop loss, time exit,
 * manual close) go out as GTC limit orders with a bounded-slippage price (a "marketable limit": it
 * fills at once against the book at any price up to the bound, and rests there if the market gapped
 * beyond it; see shared/trading/live/orders.ts).
 *
 * Prices and quantities cross this port as DECIMAL STRINGS already on the instrument's tick / qty-step
 * grid (build them with `shared/trading/live/orders.ts`), so no float noise ever reaches the exchange.
 *
 * Adapter: `infra/bybit/trading-client.ts` (bybit-api `RestClientV5`, Bybit v5 `category=linear`), also
 * against the local server `infra/replay/bybit-trade-server.ts`.
 */

export type OrderSide = 'Buy' | 'Sell';

/** Normalised order status (Bybit's Created/Untriggered map to New, PartiallyFilledCanceled and Deactivated to Cancelled). */
export type VenueOrderStatus = 'New' | 'PartiallyFilled' | 'Filled' | 'Cancelled' | 'Rejected';

export const TERMINAL_STATUSES: ReadonlySet<VenueOrderStatus> = new Set(['Filled', 'Cancelled', 'Rejected']);

export interface LimitOrderRequest {
  symbol: string;
  side: OrderSide;
  /** Limit price, a decimal string on the tick grid. */
  price: string;
  /** Quantity in base asset, a decimal string on the qty-step grid. */
  qty: string;
  /** PostOnly (maker only: the exchange cancels it instead of letting it take liquidity); else GTC. */
  postOnly: boolean;
  /** Only reduces an open position (exits). */
  reduceOnly: boolean;
  /** Client order id (Bybit `orderLinkId`, <= 36 chars): deterministic, so a retried placement is idempotent. */
  clientOrderId: string;
}

export interface PlacedOrder {
  orderId: string;
  clientOrderId: string;
  status: VenueOrderStatus;
  /** true when the venue already had an order with this client id (a retried placement): nothing new was created. */
  alreadyPlaced: boolean;
}

export interface VenueOrder {
  orderId: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  price: number;
  qty: number;
  status: VenueOrderStatus;
  /** Cumulative executed quantity. */
  filledQty: number;
  /** Average fill price of the executed quantity (0 while nothing filled). */
  avgPrice: number;
  /** Cumulative fee paid in quote currency (null when the venue did not report it). */
  fee: number | null;
  postOnly: boolean;
  reduceOnly: boolean;
  /** Exchange reason for a rejection / system cancel (e.g. Bybit `EC_PostOnlyWillTakeLiquidity`), '' when none. */
  rejectReason: string;
  updatedTime: number;
}

/** Trading rules of one instrument (Bybit `instruments-info`: priceFilter + lotSizeFilter). */
export interface InstrumentRules {
  symbol: string;
  status: string;
  /** Decimal strings exactly as the exchange publishes them (their decimals set the formatting). */
  tickSize: string;
  qtyStep: string;
  minOrderQty: string;
  maxOrderQty: string;
  postOnlyMaxOrderQty: string;
  /** Minimum order value in quote currency ('0' when the venue has none). */
  minNotionalValue: string;
  minPrice: string;
  maxPrice: string;
}

export interface TradingVenue {
  /** Places a limit order. A duplicate client id resolves to the existing order (`alreadyPlaced: true`). */
  placeLimitOrder(req: LimitOrderRequest): Promise<PlacedOrder>;
  /** Cancels by client id. Returns the order's status afterwards (an order already closed is not an error). */
  cancelOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null>;
  /** The order's current status, or null when the venue does not know this client id. */
  getOrder(symbol: string, clientOrderId: string): Promise<VenueOrder | null>;
  /** Trading rules of the instrument (cached by adapters). */
  instrument(symbol: string): Promise<InstrumentRules>;
}

/** A venue error with the exchange's own code and message (Bybit `retCode` / `retMsg`). */
export class VenueError extends Error {
  constructor(
    readonly code: number,
    readonly venueMessage: string,
    readonly operation: string,
    /** true when retrying the same request later may succeed (timeouts, rate limits, server errors). */
    readonly retryable: boolean,
  ) {
    super(`${operation} failed: venue error ${code}: ${venueMessage}`);
    this.name = 'VenueError';
  }
}

/** The request was not authenticated (bad key, bad signature, timestamp outside the window). */
export class VenueAuthError extends VenueError {
  constructor(code: number, venueMessage: string, operation: string) {
    super(code, venueMessage, operation, false);
    this.name = 'VenueAuthError';
  }
}

/** The venue refused the order itself (invalid price/qty, insufficient balance, reduce-only rule...). */
export class OrderRejectedError extends VenueError {
  constructor(code: number, venueMessage: string, operation: string) {
    super(code, venueMessage, operation, false);
    this.name = 'OrderRejectedError';
  }
}
