/**
 * Paper fills: how one closed candle moves one SIMULATED trade group (the paper venue). The entry
 * fills, the exits in priority order, the entry timeout and the favourable excursion of one candle
 * (`stepPosition`), the cancel of pending entries and the close at a fill price with the cost model's
 * slippage and fees (costs.ts).
 *
 * Fill model (documented rules, all pessimistic where a 1m candle cannot tell the order of events):
 * - Limit orders only. A group's entries are eligible on candles that OPEN at or after the decision
 *   time (`signal.ts`, the close of the decision candle or the snapshot time), so the decision candle
 *   (or the forming candle of a snapshot decision) never fills. They stay eligible while the candle
 *   opens before `expiresAt` (decision + paper.entryTimeoutMs); once a processed candle ends at or
 *   after `expiresAt`, unfilled entries are cancelled (`entry_timeout`).
 * - Tie rule: a BUY limit fills only when the candle trades THROUGH it (low < limit); touching
 *   (low == limit) does not fill. SELL limits mirror (high > limit). The take profit is a resting limit,
 *   so it follows the same rule. Fills happen at the limit price (a resting order), then slippage.
 * - Stops trigger on touch (long: low <= stop; short: high >= stop) and fill at the stop, or at the open
 *   when the candle gapped through it. The trailing stop is the same with its ratcheted level.
 * - Slippage moves every fill against us (buy x (1 + s), sell x (1 - s)): scalps paper.scalpSlippagePct,
 *   swings macro.costs.slippagePct[tier]. Fees per side on the fill notional: scalps
 *   paper.fees.scalpPctPerSide (Bybit), swings paper.fees.swingPctPerSide (Kraken).
 * - Exit priority (SPEC 5) on one candle: stop loss > take profit > trailing stop > time exit. When the
 *   stop and the take profit are both inside one candle, the STOP wins.
 * - On a candle in which an entry filled, only the stop (and the time exit) is checked: the candle may
 *   have reached the stop after the fill, but whether it reached the take profit after the fill cannot
 *   be known. Pending entries traded through on a stop candle fill first (price passed them on the way).
 * - Trailing: levels used for the exit checks of a candle are those known at its open. After the checks
 *   the favourable extreme (`bestPrice`) is updated with the candle; the trail activates once it is
 *   TRAILING_ACTIVATION_MULTIPLE x trailing distance beyond the average entry, at best x (1 -/+ f), and
 *   then only ratchets in the favourable direction. The fill candle does not move `bestPrice`.
 * - Time exit: at the close of the first candle ending at or after first fill + maxHoldMs.
 * - P&L per filled entry lot: (exit - entry) x qty (short: reversed) - entry fee - its share of the exit
 *   fee. Group pnlPct = Σ pnl / Σ entry notional x 100, i.e. size-weighted, never a sum of percentages.
 */
import type { Candle } from '../market/types.js';
import type { ExitReason } from './types.js';
import type { EntryCancelReason, EntryOrder, Position, TradeEvent } from './model.js';
import { entryFillPrice, exitFillPrice, fillFee, stoppedLossPerUnit } from './costs.js';
import { bookClose, eventBase, updateExcursion } from './trade-group.js';

/**
 * One candle for one simulated group: entry fills, then the exits in priority order, then the entry
 * timeout, then the favourable excursion. Returns the updated group, or null when it closed or timed
 * out empty.
 */
export function stepPosition(p: Position, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position | null {
  const q: Position = { ...p, lastCandleOpen: c.openTime };

  // 1. entry fills (traded through, strictly)
  const filledNow = fillEntries(p, q, c, end, accountId, now, out);

  // 2. exits, in priority order
  if (q.status === 'open') {
    const exit = paperExit(q, c, end, filledNow);
    if (exit !== null) {
      closeGroup(q, exit.reason, exit.price, end, accountId, now, out);
      return null;
    }
  }

  // 3. entry timeout: no later candle can fill
  let r: Position | null = q;
  if (end >= q.expiresAt && q.entries.some((e) => e.status === 'pending')) {
    r = cancelPending(q, accountId, now, out);
    if (r === null) return null;
  }

  // 4. favourable extreme, half-TP mark, trailing activation / ratchet (not on a fill candle)
  if (!filledNow && r.status === 'open') updateExcursion(r, c, halfTp, accountId, now, out);
  return r;
}

/**
 * Step 1 of a candle: every pending entry the candle traded through fills (at its limit, then
 * slippage; fee on the fill) while the entries are still eligible. Updates `q` (the group's fresh
 * copy: entries, filled quantity, average entry, status) and pushes one entry_filled per new fill.
 * Returns whether anything filled.
 */
function fillEntries(p: Position, q: Position, c: Candle, end: number, accountId: string, now: number, out: TradeEvent[]): boolean {
  if (!(c.openTime < p.expiresAt && p.filledQty < totalQty(p))) return false;
  const entries = tradedThrough(p, c, end);
  if (entries === null) return false;
  q.entries = entries;
  let qty = 0;
  let cost = 0;
  for (const e of entries) {
    if (e.status !== 'filled') continue;
    qty += e.qty;
    cost += (e.fillPrice as number) * e.qty;
  }
  q.filledQty = qty;
  q.avgEntry = cost / qty;
  q.status = 'open';
  q.openedAt ??= end;
  q.bestPrice ??= q.avgEntry;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as EntryOrder;
    if (e.status !== 'filled' || p.entries[i] === e) continue;
    out.push({
      type: 'entry_filled',
      ...eventBase(accountId, q, now, `${e.orderId}:filled`),
      orderId: e.orderId,
      price: e.fillPrice as number,
      qty: e.qty,
      fee: e.fee,
      avgEntry: q.avgEntry,
      filledQty: q.filledQty,
    });
  }
  return true;
}

/** The group's entries with those the candle traded through filled at `end`; null when none did. */
function tradedThrough(p: Position, c: Candle, end: number): EntryOrder[] | null {
  const long = p.direction === 'LONG';
  let entries: EntryOrder[] | null = null;
  for (let i = 0; i < p.entries.length; i++) {
    const e = p.entries[i] as EntryOrder;
    if (e.status !== 'pending') continue;
    if (long ? !(c.low < e.price) : !(c.high > e.price)) continue;
    const fillPrice = entryFillPrice(p.direction, e.price, p.slippageRate);
    const fee = fillFee(fillPrice, e.qty, p.feeRate);
    entries ??= p.entries.slice();
    entries[i] = { ...e, status: 'filled', fillPrice, fillTime: end, fee, filledQty: e.qty };
  }
  return entries;
}

/**
 * Step 2 of a candle: the exit an open group takes on it, by priority: stop loss (touch; at the stop,
 * or the open when gapped through) > take profit (traded through) > trailing stop > time exit (at the
 * close). On a fill candle only the stop and the time exit count. Null: the group stays open.
 */
function paperExit(q: Position, c: Candle, end: number, filledNow: boolean): { reason: ExitReason; price: number } | null {
  const long = q.direction === 'LONG';
  if (long ? c.low <= q.stopLoss : c.high >= q.stopLoss) {
    return { reason: 'stop_loss', price: long ? Math.min(q.stopLoss, c.open) : Math.max(q.stopLoss, c.open) };
  }
  if (!filledNow) {
    if (long ? c.high > q.takeProfit : c.low < q.takeProfit) return { reason: 'take_profit', price: q.takeProfit };
    if (q.trailActive && q.trailStop !== null && (long ? c.low <= q.trailStop : c.high >= q.trailStop)) {
      return { reason: 'trailing_stop', price: long ? Math.min(q.trailStop, c.open) : Math.max(q.trailStop, c.open) };
    }
  }
  if (end >= (q.openedAt as number) + q.maxHoldMs) return { reason: 'time_exit', price: c.close };
  return null;
}

function totalQty(p: Position): number {
  let q = 0;
  for (const e of p.entries) if (e.status !== 'cancelled') q += e.qty;
  return q;
}

/** Cancels pending entries; returns the group (with its filled entries) or null when none filled. */
export function cancelPending(p: Position, accountId: string, now: number, out: TradeEvent[], reason: EntryCancelReason = 'entry_timeout'): Position | null {
  const cancelled: string[] = [];
  const entries = p.entries.map((e) => {
    if (e.status !== 'pending') return e;
    cancelled.push(e.orderId);
    return { ...e, status: 'cancelled' as const };
  });
  let risk = 0;
  let notional = 0;
  for (const e of entries) {
    if (e.status === 'cancelled') continue;
    risk += stoppedLossPerUnit(p.direction, e.price, p.stopLoss, p) * e.qty; // a simulated lot fills at entryFillPrice(limit)
    notional += e.price * e.qty;
  }
  const remains = p.filledQty > 0;
  out.push({
    type: 'entry_timeout',
    ...eventBase(accountId, p, now, `${p.groupId}:timeout`),
    cancelledOrderIds: cancelled,
    positionRemains: remains,
    ...(reason === 'entry_timeout' ? {} : { reason }),
  });
  return remains ? { ...p, entries, risk, notional } : null;
}

/** Books the exit of every filled lot; pushes exit_filled and position_closed. */
export function closeGroup(p: Position, reason: ExitReason, rawPrice: number, exitTime: number, accountId: string, now: number, out: TradeEvent[]): void {
  const exitPrice = exitFillPrice(p.direction, rawPrice, p.slippageRate);
  const lots = p.entries
    .filter((e) => e.status === 'filled')
    .map((e) => ({ orderId: e.orderId, fill: e.fillPrice as number, qty: e.qty, fee: e.fee, fillTime: e.fillTime as number }));
  const { trade, exitFees } = bookClose(p, lots, exitPrice, (qty) => fillFee(exitPrice, qty, p.feeRate), reason, exitTime, 'paper');
  out.push({ type: 'exit_filled', ...eventBase(accountId, p, now, `${p.groupId}:exit`), reason, price: exitPrice, qty: p.filledQty, fee: exitFees });
  out.push({ type: 'position_closed', ...eventBase(accountId, p, now, `${p.groupId}:closed`), trade });
}
