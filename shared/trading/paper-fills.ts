/**
 * Paper fills: how one closed candle moves one SIMULATED trade group (the paper venue). The entry
 * fills, the exits in priority order, the entry timeout and the favourable excursion of one candle
 * (`stepPosition`), the cancel of pending entries and the close at a fill price with the cost model's
 * slippage and fees (costs.ts: maker / taker by how each order fills).
 *
 * Fill model (documented rules, all pessimistic where a 1m candle cannot tell the order of events):
 * - Limit orders only. A group's entries are eligible on candles that OPEN at or after the decision
 *   time (`signal.ts`, the close of the decision candle or the snapshot time), so the decision candle
 *   (or the forming candle of a snapshot decision) never fills. They stay eligible while the candle
 *   opens before `expiresAt` (decision + paper.entryTimeoutMs); once a processed candle ends at or
 *   after `expiresAt`, unfilled entries are cancelled (`entry_timeout`).
 * - Tie rule: a BUY limit fills only when the candle trades THROUGH it (low < limit); touching
 *   (low == limit) does not fill. SELL limits mirror (high > limit). The take profit is a resting limit,
 *   so it follows the same rule.
 * - Stops trigger on touch (long: low <= stop; short: high >= stop) and fill at the stop, or at the open
 *   when the candle gapped through it (the worse of the two). The trailing stop is the same with its
 *   ratcheted level.
 * - Costs (costs.ts; profile config/paper costs.profile), decided per fill:
 *   * maker_taker (default). MAKER, at its own price, no slippage, the venue's maker fee: an entry
 *     limit traded through by a later candle (also when that candle gaps through it: the order was
 *     resting, the exchange fills it at its limit), and the take profit. TAKER, slippage against us
 *     (buy x (1 + s), sell x (1 - s)), the venue's taker fee: the stop and the trailing stop (at the
 *     worse of level and open), the time exit (at the close), an owner close or a protection
 *     (suspect-candle) close.
 *     Crossing entry: an entry whose FIRST eligible candle (the first candle of its feed the group
 *     processes, i.e. the first opening at or after the decision) already OPENS through its limit
 *     (long: open < limit; short: open > limit, strictly, as the tie rule) would cross the book on
 *     arrival: it is a TAKER fill at that open plus slippage, never worse than its limit (long:
 *     min(open x (1 + s), limit); short: max(open x (1 - s), limit)); its reference price (for the
 *     slippage cost) is the open. On the venue a PostOnly order would be rejected instead; the paper
 *     book takes the trade at the taker price rather than guess which later price a re-placed order
 *     would get. Any later candle gapping through a resting entry is a maker fill at the limit.
 *   * conservative: every fill (entries, crossing or not, and every exit) at its reference price
 *     (limit, stop / open, take profit, trailing level, close) plus slippage, at the flat fee per side
 *     (costs.conservative.scalpPctPerSide for scalps, swingPctPerSide for swings): the rule before the
 *     maker/taker split.
 *   Slippage: scalps costs.scalpSlippagePct, swings macro.costs.slippagePct[tier]. Each fill records
 *   its fee and its slippage cost |fill - reference| x qty; a closed trade sums both (ClosedTrade
 *   fees / slippage). A group keeps the rates it was opened with (Position.costs).
 * - Reserved risk: the loss at the stop with costs (costs.ts stoppedLossPerUnit: maker entry at the
 *   limit, taker stop exit with slippage), exactly what this book charges at the stop; once a lot has
 *   filled it counts from its actual fill and fee (a crossing entry: taker).
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
import type { Candle } from '../model/market.js';
import type { EntryOrder, Position } from './model.js';
import type { ExitReason, EntryCancelReason, TradeEvent } from '../model/trading.js';
import { type Liquidity, crossingEntryFill, exitFillPrice, exitLiquidity, feeRateOf, restingEntryFill, stoppedLossPerUnit, stoppedLossPerUnitFromFill } from './costs.js';
import { bookClose, eventBase, updateExcursion } from './trade-group.js';

/**
 * One candle for one simulated group: entry fills, then the exits in priority order, then the entry
 * timeout, then the favourable excursion. Returns the updated group, or null when it closed or timed
 * out empty.
 */
export function stepPosition(p: Position, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position | null {
  const q: Position = { ...p, lastCandleOpen: c.openTime, lastClose: c.close };

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
 * Step 1 of a candle: every pending entry the candle traded through fills (maker at its limit, or
 * taker when it crossed on arrival; see the header) while the entries are still eligible. Updates `q`
 * (the group's fresh copy: entries, filled quantity, average entry, status, reserved risk) and pushes
 * one entry_filled per new fill. Returns whether anything filled.
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
  q.risk = reservedRisk(p, entries);
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
      liquidity: e.liquidity as Liquidity,
      slippage: e.slippage,
      avgEntry: q.avgEntry,
      filledQty: q.filledQty,
    });
  }
  return true;
}

/** The group's entries with those the candle traded through filled at `end`; null when none did. */
function tradedThrough(p: Position, c: Candle, end: number): EntryOrder[] | null {
  const long = p.direction === 'LONG';
  // the first candle the group processes: an entry it opens through crossed the book on arrival
  const arrival = p.lastCandleOpen < p.placedAt;
  let entries: EntryOrder[] | null = null;
  for (let i = 0; i < p.entries.length; i++) {
    const e = p.entries[i] as EntryOrder;
    if (e.status !== 'pending') continue;
    if (long ? !(c.low < e.price) : !(c.high > e.price)) continue;
    const crossed = arrival && (long ? c.open < e.price : c.open > e.price);
    const f = crossed ? crossingEntryFill(p.direction, c.open, e.price, e.qty, p.costs) : restingEntryFill(p.direction, e.price, e.qty, p.costs);
    entries ??= p.entries.slice();
    entries[i] = { ...e, status: 'filled', fillPrice: f.price, fillTime: end, fee: f.fee, slippage: f.slippage, liquidity: f.liquidity, filledQty: e.qty };
  }
  return entries;
}

/**
 * The risk a simulated group reserves: its loss if stopped with costs, pending entries from their
 * limit (a maker fill), filled lots from their actual fill and fee rate (cancelled entries: none). A
 * lot whose stop sits past its entry (the owner moved it to lock a profit) reserves nothing, never a
 * negative amount.
 */
export function reservedRisk(p: Position, entries: readonly EntryOrder[]): number {
  let risk = 0;
  for (const e of entries) {
    if (e.status === 'cancelled') continue;
    const perUnit =
      e.status === 'filled'
        ? stoppedLossPerUnitFromFill(p.direction, e.fillPrice as number, feeRateOf(e.liquidity ?? 'maker', p.costs), p.stopLoss, p.costs)
        : stoppedLossPerUnit(p.direction, e.price, p.stopLoss, p.costs);
    risk += Math.max(0, perUnit) * e.qty;
  }
  return risk;
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
  const risk = reservedRisk(p, entries);
  let notional = 0;
  for (const e of entries) if (e.status !== 'cancelled') notional += e.price * e.qty;
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

/**
 * Books the exit of every filled lot at reference `rawPrice` (a take profit maker, every other reason
 * taker: costs.ts exitLiquidity); pushes exit_filled and position_closed.
 */
export function closeGroup(p: Position, reason: ExitReason, rawPrice: number, exitTime: number, accountId: string, now: number, out: TradeEvent[]): void {
  const liquidity = exitLiquidity(reason);
  const exitPrice = exitFillPrice(p.direction, rawPrice, liquidity, p.costs);
  const feeRate = feeRateOf(liquidity, p.costs);
  const slipPerUnit = Math.abs(exitPrice - rawPrice);
  const lots = p.entries
    .filter((e) => e.status === 'filled')
    .map((e) => ({ orderId: e.orderId, fill: e.fillPrice as number, qty: e.qty, fee: e.fee, slippage: e.slippage, fillTime: e.fillTime as number }));
  const { trade, exitFees, exitSlippage } = bookClose(p, lots, exitPrice, (qty) => ({ fee: exitPrice * qty * feeRate, slippage: slipPerUnit * qty }), reason, exitTime, 'paper');
  out.push({ type: 'exit_filled', ...eventBase(accountId, p, now, `${p.groupId}:exit`), reason, price: exitPrice, qty: p.filledQty, fee: exitFees, liquidity, slippage: exitSlippage });
  out.push({ type: 'position_closed', ...eventBase(accountId, p, now, `${p.groupId}:closed`), trade });
}
