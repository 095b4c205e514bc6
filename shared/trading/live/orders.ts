/**
 * Pure order helpers of live execution (SPEC 5: limit orders only, PostOnly where it fits).
 *
 * Rounding rule (one rule for every order): a price is moved to the tick grid in the LESS aggressive
 * direction: a BUY rounds DOWN, a SELL rounds UP. So a PostOnly limit never crosses because of
 * rounding, a take profit never becomes worse than the strategy's level, and the bounded price of a
 * protective exit never allows more slippage than configured. Quantities round DOWN to the qty step
 * (never more size, hence never more risk, than the core sized).
 *
 * All arithmetic on the grid is done in integer steps (price / tick) with a relative tolerance, and
 * results are formatted with the decimals of the exchange's own tick/step strings, so "0.1 + 0.2"
 * float noise never reaches the exchange.
 *
 * Client order ids (Bybit `orderLinkId`, <= 36 chars of [A-Za-z0-9_-]) are derived from
 * (trade_group_id, leg): `c` + 24 hex chars of sha256(groupId) + `-` + leg. The same decision always
 * yields the same id, so a retried placement hits Bybit's duplicate check (retCode 110072) instead of
 * creating a second order.
 */
import { createHash } from 'node:crypto';
import type { InstrumentRules, OrderSide } from '../../ports/trading-venue.js';
import type { Direction } from '../../model/trading.js';

/** Bybit's `orderLinkId` limit. */
export const MAX_CLIENT_ORDER_ID_LENGTH = 36;
/** Hex chars of the group hash in a client id (96 bits: collisions are not a practical concern). */
const GROUP_HASH_CHARS = 24;
const LEG_PATTERN = /^[A-Za-z0-9_]{1,10}$/;
/** Relative tolerance when snapping a value that is already on the grid (float division noise). */
const GRID_TOLERANCE = 1e-9;
const PCT = 100;

export function clientOrderId(groupId: string, leg: string): string {
  if (!LEG_PATTERN.test(leg)) throw new Error(`invalid order leg '${leg}' (1-10 chars of [A-Za-z0-9_])`);
  const h = createHash('sha256').update(groupId).digest('hex').slice(0, GROUP_HASH_CHARS);
  const id = `c${h}-${leg}`;
  if (id.length > MAX_CLIENT_ORDER_ID_LENGTH) throw new Error(`client order id too long: ${id}`);
  return id;
}

/** Entry side of a direction; the exit side is the other one. */
export function entrySide(direction: Direction): OrderSide {
  return direction === 'LONG' ? 'Buy' : 'Sell';
}
export function exitSide(direction: Direction): OrderSide {
  return direction === 'LONG' ? 'Sell' : 'Buy';
}

function decimalsOf(step: string): number {
  const s = step.trim();
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** Number of whole steps in `x`, snapped when within tolerance of an integer, then floored/ceiled. */
function steps(x: number, step: number, dir: 'down' | 'up'): number {
  const u = x / step;
  const r = Math.round(u);
  if (Math.abs(u - r) <= GRID_TOLERANCE * Math.max(1, Math.abs(u))) return r;
  return dir === 'down' ? Math.floor(u) : Math.ceil(u);
}

function onGrid(x: number, step: string, dir: 'down' | 'up'): { value: number; text: string } {
  const s = Number(step);
  const d = decimalsOf(step);
  const n = steps(x, s, dir);
  const text = (n * s).toFixed(d);
  return { value: Number(text), text };
}

/** Price on the tick grid, less aggressive side: BUY rounds down, SELL rounds up. */
export function roundPrice(price: number, side: OrderSide, rules: Pick<InstrumentRules, 'tickSize'>): { value: number; text: string } {
  return onGrid(price, rules.tickSize, side === 'Buy' ? 'down' : 'up');
}

/** Quantity on the qty-step grid, rounded down. */
export function roundQty(qty: number, rules: Pick<InstrumentRules, 'qtyStep'>): { value: number; text: string } {
  return onGrid(qty, rules.qtyStep, 'down');
}

type OrderCheckFailure =
  | 'invalid_input'
  | 'instrument_not_trading'
  | 'price_out_of_range'
  | 'qty_below_min'
  | 'qty_above_max'
  | 'notional_below_min';

type PreparedOrder =
  | { ok: true; side: OrderSide; price: string; qty: string; priceValue: number; qtyValue: number; notional: number }
  | { ok: false; reason: OrderCheckFailure; detail: string };

/**
 * Rounds a limit order to the instrument's grid and checks the exchange's minimums. The failure
 * reasons name the rule and the numbers, e.g. "qty 0.0004 rounds down to 0.000 (step 0.001), below
 * the minimum order qty 0.001".
 */
export function prepareLimitOrder(rules: InstrumentRules, side: OrderSide, price: number, qty: number, postOnly: boolean): PreparedOrder {
  if (!(Number.isFinite(price) && price > 0) || !(Number.isFinite(qty) && qty > 0)) {
    return { ok: false, reason: 'invalid_input', detail: `price ${price} and qty ${qty} must be finite and > 0` };
  }
  if (rules.status !== 'Trading') {
    return { ok: false, reason: 'instrument_not_trading', detail: `${rules.symbol} status is ${rules.status}, not Trading` };
  }
  const p = roundPrice(price, side, rules);
  const q = roundQty(qty, rules);
  if (p.value < Number(rules.minPrice) || p.value > Number(rules.maxPrice)) {
    return { ok: false, reason: 'price_out_of_range', detail: `price ${p.text} outside ${rules.symbol} range [${rules.minPrice}, ${rules.maxPrice}]` };
  }
  if (q.value < Number(rules.minOrderQty)) {
    return {
      ok: false,
      reason: 'qty_below_min',
      detail: `qty ${qty} rounds down to ${q.text} (step ${rules.qtyStep}), below the minimum order qty ${rules.minOrderQty} of ${rules.symbol}`,
    };
  }
  const max = Number(postOnly ? rules.postOnlyMaxOrderQty : rules.maxOrderQty);
  if (max > 0 && q.value > max) {
    return { ok: false, reason: 'qty_above_max', detail: `qty ${q.text} above the ${postOnly ? 'PostOnly ' : ''}maximum ${max} of ${rules.symbol}` };
  }
  const notional = p.value * q.value;
  const minNotional = Number(rules.minNotionalValue);
  if (minNotional > 0 && notional < minNotional) {
    return {
      ok: false,
      reason: 'notional_below_min',
      detail: `order value ${notional.toFixed(4)} (${q.text} x ${p.text}) below the minimum order value ${rules.minNotionalValue} of ${rules.symbol}`,
    };
  }
  return { ok: true, side, price: p.text, qty: q.text, priceValue: p.value, qtyValue: q.value, notional };
}

/**
 * Bounded price of a protective exit (stop loss, time exit, manual close): the reference price moved
 * AGAINST us by `slippagePct` (sell: below, buy: above). Sent as a GTC limit, it is marketable (fills
 * at once at any book price up to the bound) but can never fill beyond the bound: never a market order.
 */
export function boundedExitPrice(direction: Direction, reference: number, slippagePct: number): number {
  return direction === 'LONG' ? reference * (1 - slippagePct / PCT) : reference * (1 + slippagePct / PCT);
}
