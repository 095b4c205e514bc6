/**
 * External (live) groups: trade groups whose fills come from an exchange (`Position.external` set; see
 * FillSource in model.ts), booked from the live ledger's fills. The book never fills them:
 * - Candles run the same checks as DECISIONS: stop (touch) > take profit (traded through) > trailing >
 *   time exit emit `exit_decided` (reference price, no slippage); a protective decision is final, a
 *   take-profit decision can still be followed by a stop / trailing / time decision (the exchange's
 *   resting take profit may not have filled). Candles that ended at or before the first fill (the fill
 *   candle and earlier) get only the stop and time checks and do not move the favourable extreme. The
 *   entry timeout emits `entry_cancel_decided` once; the entries stay pending until `endEntry` confirms.
 * - `applyFill` books the exchange's fills (cumulative per exchange order, so a repeated report is a
 *   no-op): entry fills at the exchange's price and fee (partial fills included), exit fills likewise;
 *   the group closes when the exits cover every entry fill and no entry is working. Its ClosedTrade
 *   (rows mode `live`) uses the size-weighted average exit price, the exit fees shared by lot size.
 * - Risk and notional follow the fills: filled lots at their fill price, working remainders at their
 *   limit, scaled down by the part already exited.
 */
import type { Candle } from '../model/market.js';
import { QTY_EPSILON_FRACTION, type AccountState, type EntryOrder, type ExternalExecution, type ExternalFill, type Position } from './model.js';
import type { ExitReason, EntryCancelReason, TradeEvent } from '../model/trading.js';
import { NO_TRADE_EVENTS, settleAccount, type BookResult } from './account.js';
import { stoppedLossPerUnit, stoppedLossPerUnitFromFill } from './costs.js';
import { bookClose, eventBase, updateExcursion } from './trade-group.js';

// ---------- external (live) groups ----------

export type ExternalFillOutcome =
  /** New quantity booked (or the entry ended). */
  | 'applied'
  /** Nothing beyond what the book already has for this exchange order. */
  | 'duplicate'
  /** No such group in the book (closed, or never placed here). */
  | 'unknown_group'
  /** The group is simulated (paper): it never takes exchange fills. */
  | 'not_external'
  /** entryIndex does not name an entry of the group. */
  | 'unknown_entry';

interface FillBookResult extends BookResult {
  outcome: ExternalFillOutcome;
}

export function newExternal(): ExternalExecution {
  return { orders: {}, exitedQty: 0, exitValue: 0, exitFees: 0, exitReason: null, lastExitTime: null, decision: null, cancelDecidedAt: null };
}

export function heldQty(p: Position, x: ExternalExecution): number {
  return p.filledQty - x.exitedQty;
}

/** Quantity tolerance of a group (relative to its size). */
export function qtyEps(p: Position): number {
  let q = p.filledQty;
  for (const e of p.entries) q = Math.max(q, e.qty);
  return q * QTY_EPSILON_FRACTION;
}

export function decideExit(p: Position, x: ExternalExecution, reason: ExitReason, reference: number, accountId: string, now: number, out: TradeEvent[]): Position {
  const q: Position = { ...p, external: { ...x, decision: { reason, reference, at: now } } };
  out.push({ type: 'exit_decided', ...eventBase(accountId, p, now, `${p.groupId}:decided:${reason}`), reason, price: reference, qty: heldQty(p, x) });
  return q;
}

export function decideCancel(p: Position, x: ExternalExecution, reason: EntryCancelReason | 'manual', accountId: string, now: number, out: TradeEvent[]): Position {
  const orderIds = p.entries.filter((e) => e.status === 'pending').map((e) => e.orderId);
  out.push({ type: 'entry_cancel_decided', ...eventBase(accountId, p, now, `${p.groupId}:cancel-decided`), reason, orderIds });
  return { ...p, external: { ...x, cancelDecidedAt: now } };
}

/** One candle for one external group: decisions only (see the header). Never removes the group. */
export function stepExternal(p: Position, x: ExternalExecution, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position {
  const long = p.direction === 'LONG';
  let q: Position = { ...p, lastCandleOpen: c.openTime, lastClose: c.close };
  const holding = p.status === 'open' && heldQty(p, x) > qtyEps(p);
  const afterFill = p.openedAt !== null && end > p.openedAt;
  let protective = x.decision !== null && x.decision.reason !== 'take_profit';
  if (holding && !protective) {
    let reason: ExitReason | null = null;
    let price = 0;
    if (long ? c.low <= q.stopLoss : c.high >= q.stopLoss) {
      reason = 'stop_loss';
      price = long ? Math.min(q.stopLoss, c.open) : Math.max(q.stopLoss, c.open);
    } else if (afterFill) {
      if (x.decision === null && (long ? c.high > q.takeProfit : c.low < q.takeProfit)) {
        reason = 'take_profit';
        price = q.takeProfit;
      } else if (q.trailActive && q.trailStop !== null && (long ? c.low <= q.trailStop : c.high >= q.trailStop)) {
        reason = 'trailing_stop';
        price = long ? Math.min(q.trailStop, c.open) : Math.max(q.trailStop, c.open);
      }
    }
    if (reason === null && end >= (q.openedAt as number) + q.maxHoldMs) {
      reason = 'time_exit';
      price = c.close;
    }
    if (reason !== null) {
      q = decideExit(q, x, reason, price, accountId, now, out);
      protective = reason !== 'take_profit';
    }
  }
  const qx = q.external as ExternalExecution;
  if (end >= q.expiresAt && qx.cancelDecidedAt === null && q.entries.some((e) => e.status === 'pending')) {
    q = decideCancel(q, qx, 'entry_timeout', accountId, now, out);
  }
  if (holding && afterFill && !protective) updateExcursion(q, c, halfTp, accountId, now, out);
  return q;
}

/** Risk and notional of an external group from its fills, working remainders and exits (a lot stopped past its entry reserves nothing). */
function externalExposure(q: Position, filledQty: number, exitedQty: number): { risk: number; notional: number } {
  const { entries, stopLoss: stop, direction } = q;
  let fr = 0;
  let fn = 0;
  let pr = 0;
  let pn = 0;
  for (const e of entries) {
    if (e.filledQty > 0) {
      const f = e.fillPrice as number;
      // a working PostOnly entry fills as a maker (its real fee is booked when it closes)
      fr += Math.max(0, stoppedLossPerUnitFromFill(direction, f, q.costs.makerFeeRate, stop, q.costs)) * e.filledQty;
      fn += f * e.filledQty;
    }
    if (e.status === 'pending') {
      const rem = Math.max(0, e.qty - e.filledQty);
      pr += Math.max(0, stoppedLossPerUnit(direction, e.price, stop, q.costs)) * rem;
      pn += e.price * rem;
    }
  }
  const heldFrac = filledQty > 0 ? Math.max(0, filledQty - exitedQty) / filledQty : 1;
  return { risk: fr * heldFrac + pr, notional: fn * heldFrac + pn };
}

/** Recomputes the derived fields of an external group after its entries / exits / stop changed (mutates q). */
export function refreshExternal(q: Position, x: ExternalExecution): void {
  let qty = 0;
  let cost = 0;
  let common: number | null = null;
  let mixed = false;
  for (const e of q.entries) {
    if (e.filledQty <= 0) continue;
    qty += e.filledQty;
    cost += (e.fillPrice as number) * e.filledQty;
    if (common === null) common = e.fillPrice;
    else if (common !== e.fillPrice) mixed = true;
  }
  q.filledQty = qty;
  // size-weighted; exactly the fill price when every lot filled at one price (no float round trip)
  q.avgEntry = qty > 0 ? (mixed || common === null ? cost / qty : common) : 0;
  if (qty > 0) {
    q.status = 'open';
    q.bestPrice ??= q.avgEntry;
  }
  const ex = externalExposure(q, qty, x.exitedQty);
  q.risk = ex.risk;
  q.notional = ex.notional;
}

/** Closed when the exits cover every entry fill and no entry works any more. */
function externalDone(q: Position, x: ExternalExecution): boolean {
  return q.filledQty > 0 && x.exitedQty >= q.filledQty - qtyEps(q) && !q.entries.some((e) => e.status === 'pending');
}

/**
 * Books one exchange fill of an external group (see ExternalFill: cumulative per exchange order, the
 * part beyond what the book has for `orderId` is new). Emits entry_filled / exit_filled at the
 * exchange's price, quantity and fee, and position_closed once the group is flat.
 */
export function applyFill(a: AccountState, f: ExternalFill, now: number): FillBookResult {
  const k = a.positions.findIndex((p) => p.groupId === f.groupId);
  if (k < 0) return { account: a, events: NO_TRADE_EVENTS, outcome: 'unknown_group' };
  const p = a.positions[k] as Position;
  const x = p.external;
  if (!x) return { account: a, events: NO_TRADE_EVENTS, outcome: 'not_external' };
  const ei = f.leg === 'entry' ? (f.entryIndex ?? -1) : -1;
  const entry = f.leg === 'entry' ? p.entries[ei] : undefined;
  if (f.leg === 'entry' && !entry) return { account: a, events: NO_TRADE_EVENTS, outcome: 'unknown_entry' };

  const prev = x.orders[f.orderId] ?? { leg: f.leg, qty: 0, avgPrice: 0, fee: 0 };
  const eps = Math.max(f.cumQty, prev.qty) * QTY_EPSILON_FRACTION;
  const newQty = f.cumQty > prev.qty + eps;
  const ends = entry !== undefined && f.orderDone === true && entry.status === 'pending';
  if (!newQty && !ends) return { account: a, events: NO_TRADE_EVENTS, outcome: 'duplicate' };

  const out: TradeEvent[] = [];
  const q: Position = { ...p };
  const qx: ExternalExecution = { ...x };
  let firstFills = 0;
  if (newQty) {
    const dq = f.cumQty - prev.qty;
    // the price of the increment: exactly the order's average when it is its first fill or unchanged
    const dPrice = prev.qty === 0 || prev.avgPrice === f.avgPrice ? f.avgPrice : (f.avgPrice * f.cumQty - prev.avgPrice * prev.qty) / dq;
    const dFee = f.cumFee - prev.fee;
    qx.orders = { ...x.orders, [f.orderId]: { leg: f.leg, qty: f.cumQty, avgPrice: f.avgPrice, fee: f.cumFee } };
    if (entry) {
      const filled = entry.filledQty + dq;
      const e: EntryOrder = {
        ...entry,
        filledQty: filled,
        fillPrice: entry.filledQty === 0 || entry.fillPrice === dPrice ? dPrice : ((entry.fillPrice as number) * entry.filledQty + dPrice * dq) / filled,
        fillTime: entry.fillTime ?? f.ts,
        fee: entry.fee + dFee,
        // the exchange is the truth: a fill on an entry the book had ended still counts
        status: entry.status === 'pending' && !f.orderDone && filled < entry.qty - eps ? 'pending' : 'filled',
      };
      if (entry.filledQty === 0) firstFills = 1;
      q.entries = p.entries.slice();
      q.entries[ei] = e;
      q.openedAt ??= f.ts;
      refreshExternal(q, qx);
      out.push({
        type: 'entry_filled',
        ...eventBase(a.accountId, q, now, `${e.orderId}:fill:${f.orderId}:${f.cumQty}`),
        orderId: e.orderId,
        price: dPrice,
        qty: dq,
        fee: dFee,
        avgEntry: q.avgEntry,
        filledQty: q.filledQty,
      });
    } else {
      const reason: ExitReason = f.reason ?? x.decision?.reason ?? 'manual';
      qx.exitedQty = x.exitedQty + dq;
      qx.exitValue = x.exitValue + dPrice * dq;
      qx.exitFees = x.exitFees + dFee;
      qx.lastExitTime = f.ts;
      if (reason !== 'take_profit') qx.exitReason = reason;
      refreshExternal(q, qx);
      out.push({ type: 'exit_filled', ...eventBase(a.accountId, q, now, `${p.groupId}:exit:${f.orderId}:${f.cumQty}`), reason, price: dPrice, qty: dq, fee: dFee });
    }
  } else if (entry) {
    // no new quantity: the exchange order finished (Filled) after its last reported fill
    q.entries = p.entries.slice();
    q.entries[ei] = { ...entry, status: entry.filledQty > 0 ? 'filled' : 'cancelled' };
    refreshExternal(q, qx);
  }
  q.external = qx;
  const next: Array<Position | null> = a.positions.slice();
  next[k] = q;
  if (externalDone(q, qx)) {
    closeExternal(q, qx, a.accountId, now, out);
    next[k] = null;
  } else if (q.filledQty === 0 && !q.entries.some((e) => e.status === 'pending')) {
    next[k] = null; // ended with nothing filled (only reachable through orderDone without quantity)
  }
  return { account: settleAccount(a, next, out, null, 0, firstFills), events: out, outcome: 'applied' };
}

/**
 * The exchange order of an external entry ended without (further) fills: cancelled after a timeout,
 * a PostOnly cross, a rejection. The entry ends (`cancelled`, or `filled` with what it got) with one
 * `entry_timeout` (`positionRemains`: the group is still in the book). A group with no fill and no
 * working entry is removed; a group whose exits already cover its fills closes (position_closed).
 * Idempotent: an entry that is not pending changes nothing.
 */
export function endEntry(a: AccountState, groupId: string, entryIndex: number, now: number): BookResult {
  const k = a.positions.findIndex((p) => p.groupId === groupId);
  const p = a.positions[k];
  const x = p?.external;
  const entry = p?.entries[entryIndex];
  if (!p || !x || !entry || entry.status !== 'pending') return { account: a, events: NO_TRADE_EVENTS };
  const q: Position = { ...p, entries: p.entries.slice() };
  q.entries[entryIndex] = { ...entry, status: entry.filledQty > 0 ? 'filled' : 'cancelled' };
  refreshExternal(q, x);
  const out: TradeEvent[] = [];
  const next: Array<Position | null> = a.positions.slice();
  next[k] = q;
  const gone = q.filledQty === 0 && !q.entries.some((e) => e.status === 'pending');
  out.push({ type: 'entry_timeout', ...eventBase(a.accountId, p, now, `${entry.orderId}:cancelled`), cancelledOrderIds: [entry.orderId], positionRemains: !gone && !externalDone(q, x) });
  if (gone) next[k] = null;
  else if (externalDone(q, x)) {
    closeExternal(q, x, a.accountId, now, out);
    next[k] = null;
  }
  return { account: settleAccount(a, next, out, null, 0), events: out };
}

/** Size-weighted average exit price over the exit orders (exactly their price when they share one). */
function exitAverage(x: ExternalExecution): number {
  let qty = 0;
  let value = 0;
  let common: number | null = null;
  let mixed = false;
  for (const o of Object.values(x.orders)) {
    if (o.leg !== 'exit' || o.qty <= 0) continue;
    qty += o.qty;
    value += o.avgPrice * o.qty;
    if (common === null) common = o.avgPrice;
    else if (common !== o.avgPrice) mixed = true;
  }
  return mixed || common === null ? (qty > 0 ? value / qty : x.exitValue / x.exitedQty) : common;
}

/**
 * position_closed of a flat external group from the exchange's fills (rows mode `live`). Slippage
 * cost: entries none (a limit never fills worse than its price); the exit, when a protective decision
 * (stop, trailing, time, owner) drove it, the adverse distance of the average exit from the decision's
 * reference price x qty (a better price counts 0).
 */
function closeExternal(p: Position, x: ExternalExecution, accountId: string, now: number, out: TradeEvent[]): void {
  const lots = p.entries
    .filter((e) => e.filledQty > 0)
    .map((e) => ({ orderId: e.orderId, fill: e.fillPrice as number, qty: e.filledQty, fee: e.fee, slippage: e.slippage, fillTime: e.fillTime as number }));
  const exit = exitAverage(x);
  const ref = x.decision !== null && x.decision.reason !== 'take_profit' ? x.decision.reference : null;
  const slipPerUnit = ref === null ? 0 : Math.max(0, p.direction === 'LONG' ? ref - exit : exit - ref);
  const { trade } = bookClose(p, lots, exit, (qty) => ({ fee: x.exitFees * (qty / p.filledQty), slippage: slipPerUnit * qty }), x.exitReason ?? 'take_profit', x.lastExitTime ?? now, 'live');
  out.push({ type: 'position_closed', ...eventBase(accountId, p, now, `${p.groupId}:closed`), trade });
}
