/**
 * Paper execution engine core (SPEC 5): a JSON-serialisable account of trade groups and pure
 * transitions over it. Nothing here reads a clock or does I/O; the caller passes `now`.
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
 *
 * External groups (live, `Position.external` set; see FillSource in model.ts) are NOT filled by candles:
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
import { INTERVAL_MS, type Candle } from '../market/types.js';
import type { Direction, EngineKind, ExitReason, Signal } from './types.js';
import {
  QTY_EPSILON_FRACTION,
  TRAILING_ACTIVATION_MULTIPLE,
  groupIdOf,
  type AccountState,
  type ClosedTrade,
  type EntryCancelReason,
  type EntryOrder,
  type ExternalExecution,
  type ExternalFill,
  type FillSource,
  type PaperTradeRow,
  type Position,
  type TradeEvent,
  type TradingConfig,
} from './model.js';

const PCT = 100;

export interface BookResult {
  account: AccountState;
  events: readonly TradeEvent[];
}

/** Shared empty event list (never mutated) so the no-op path allocates nothing. */
export const NO_TRADE_EVENTS: readonly TradeEvent[] = Object.freeze([]) as readonly TradeEvent[];

export function createAccount(accountId: string, startingEquity: number): AccountState {
  return {
    accountId,
    mode: 'paper',
    fillSource: 'simulated',
    startingEquity,
    realizedPnl: 0,
    feesPaid: 0,
    positions: [],
    marks: {},
    counters: { ordersPlaced: 0, entriesFilled: 0, entryTimeouts: 0, tradesClosed: 0, wins: 0, losses: 0 },
  };
}

// ---------- read-only views ----------

/** Realized equity: starting equity + realized P&L. The sizing basis. */
export function accountEquity(a: AccountState): number {
  return a.startingEquity + a.realizedPnl;
}

/**
 * Unrealized P&L of one position at `mark` (entry fees already paid included, exit costs not). For an
 * external group with partial exits: the held part at `mark` plus the exited part at its exit fills.
 */
export function positionUnrealized(p: Position, mark: number): number {
  if (p.filledQty === 0) return 0;
  let fees = 0;
  for (const e of p.entries) fees += e.fee;
  const x = p.external;
  if (x && x.exitedQty > 0) {
    const dir = p.direction === 'LONG' ? 1 : -1;
    const held = p.filledQty - x.exitedQty;
    const gross = dir * (mark - p.avgEntry) * held + dir * (x.exitValue / x.exitedQty - p.avgEntry) * x.exitedQty;
    return gross - fees - x.exitFees;
  }
  const gross = p.direction === 'LONG' ? (mark - p.avgEntry) * p.filledQty : (p.avgEntry - mark) * p.filledQty;
  return gross - fees;
}

/** Fill source of an account's new groups (accounts stored before the field existed are simulated). */
export function fillSourceOf(a: AccountState): FillSource {
  return a.fillSource === 'external' ? 'external' : 'simulated';
}

/** The account with `fillSource` for its new groups (same object when unchanged). */
export function withFillSource(a: AccountState, source: FillSource): AccountState {
  return a.fillSource === source ? a : { ...a, fillSource: source };
}

/** Σ unrealized P&L over open positions, marked at `marks` (default: the account's last closes). */
export function unrealizedPnl(a: AccountState, marks: Record<string, number> = a.marks): number {
  let u = 0;
  for (const p of a.positions) {
    if (p.filledQty === 0) continue;
    const m = marks[p.symbol];
    u += positionUnrealized(p, m ?? p.avgEntry);
  }
  return u;
}

/** Mark-to-market equity: realized equity + unrealized P&L. */
export function markedEquity(a: AccountState, marks: Record<string, number> = a.marks): number {
  return accountEquity(a) + unrealizedPnl(a, marks);
}

/** Σ reserved risk (loss if stopped, costs included: Position.risk) over groups of `engine` (null: all). */
export function openRisk(a: AccountState, engine: EngineKind | null = 'SCALP'): number {
  let r = 0;
  for (const p of a.positions) if (engine === null || p.engine === engine) r += p.risk;
  return r;
}

/** Σ notional (limit x qty, pending and filled entries) over every open group: the notional caps' usage. */
export function openNotional(a: AccountState): number {
  let n = 0;
  for (const p of a.positions) n += p.notional;
  return n;
}

/** The largest one group's notional (0 when none). */
export function largestNotional(a: AccountState): number {
  let n = 0;
  for (const p of a.positions) if (p.notional > n) n = p.notional;
  return n;
}

export function findPosition(a: AccountState, strategy: string, symbol: string): Position | undefined {
  return a.positions.find((p) => p.strategy === strategy && p.symbol === symbol);
}

/** Fee and slippage rates (fractions) of a group, by venue/engine and tier. */
export function costRates(engine: EngineKind, tier: Position['tier'], cfg: TradingConfig): CostRates {
  if (engine === 'SCALP') {
    return { feeRate: cfg.paper.fees.scalpPctPerSide / PCT, slippageRate: cfg.paper.scalpSlippagePct / PCT };
  }
  return { feeRate: cfg.paper.fees.swingPctPerSide / PCT, slippageRate: cfg.swingSlippagePct[tier] / PCT };
}

// ---------- the cost model (every simulated fill, and the cost-inclusive risk, go through these) ----------

/** Fee and slippage rates (fractions) of a group: what `costRates` returns. */
export interface CostRates {
  feeRate: number;
  slippageRate: number;
}

/** Entry fill price of a limit at `limit`: slippage against us (LONG buys higher, SHORT sells lower). */
export function entryFillPrice(direction: Direction, limit: number, slippageRate: number): number {
  return direction === 'LONG' ? limit * (1 + slippageRate) : limit * (1 - slippageRate);
}

/** Exit fill price at reference `price` (stop, take profit, close...): slippage against us. */
export function exitFillPrice(direction: Direction, price: number, slippageRate: number): number {
  return direction === 'LONG' ? price * (1 - slippageRate) : price * (1 + slippageRate);
}

/** Fee of one fill: on its notional, per side. */
export function fillFee(price: number, qty: number, feeRate: number): number {
  return price * qty * feeRate;
}

/**
 * Loss per unit (base asset) of a lot that filled at `entryFill` (slippage included) and is stopped at
 * `stop` (no gap): the price move to the stop's exit fill, its entry fee and the exit fee, by the same
 * fill rules the paper book applies.
 */
export function stoppedLossPerUnitFromFill(direction: Direction, entryFill: number, stop: number, rates: CostRates): number {
  const exit = exitFillPrice(direction, stop, rates.slippageRate);
  const move = direction === 'LONG' ? entryFill - exit : exit - entryFill;
  return move + fillFee(entryFill, 1, rates.feeRate) + fillFee(exit, 1, rates.feeRate);
}

/** Loss per unit of a limit entry at `limit` stopped at `stop`: round-trip costs included (the risk budget's unit). */
export function stoppedLossPerUnit(direction: Direction, limit: number, stop: number, rates: CostRates): number {
  return stoppedLossPerUnitFromFill(direction, entryFillPrice(direction, limit, rates.slippageRate), stop, rates);
}

// ---------- transitions ----------

export interface OrderPlan {
  /** One quantity per `signal.entries` price. */
  qtys: number[];
  stopLoss: number;
  takeProfit: number;
}

/** Places the limit entries of an accepted signal (no checks: the engine decides; see core.ts). */
export function submitSignal(a: AccountState, signal: Signal, plan: OrderPlan, cfg: TradingConfig, now: number): BookResult {
  if (plan.qtys.length !== signal.entries.length) throw new Error('order plan: one qty per entry price');
  const groupId = groupIdOf(signal.signalId);
  const { feeRate, slippageRate } = costRates(signal.engine, signal.tier, cfg);
  const feed = cfg.feeds[signal.engine];
  const entries: EntryOrder[] = signal.entries.map((price, k) => ({
    orderId: `${groupId}:e${k}`,
    price,
    qty: plan.qtys[k] as number,
    status: 'pending',
    fillPrice: null,
    fillTime: null,
    fee: 0,
    filledQty: 0,
  }));
  let risk = 0;
  let notional = 0;
  for (const e of entries) {
    risk += stoppedLossPerUnit(signal.direction, e.price, plan.stopLoss, { feeRate, slippageRate }) * e.qty;
    notional += e.price * e.qty;
  }
  const timeout = signal.engine === 'SCALP' ? cfg.paper.entryTimeoutMs.scalp : cfg.paper.entryTimeoutMs.swing;
  const p: Position = {
    groupId,
    signalId: signal.signalId,
    strategy: signal.strategy,
    engine: signal.engine,
    symbol: signal.symbol,
    tier: signal.tier,
    direction: signal.direction,
    status: 'pending',
    placedAt: signal.ts,
    expiresAt: signal.ts + timeout,
    entries,
    stopLoss: plan.stopLoss,
    takeProfit: plan.takeProfit,
    trailingFraction: signal.trailingFraction,
    maxHoldMs: signal.maxHoldMs,
    openedAt: null,
    filledQty: 0,
    avgEntry: 0,
    risk,
    notional,
    bestPrice: null,
    trailActive: false,
    trailStop: null,
    halfTpReached: false,
    feeRate,
    slippageRate,
    feedVenue: feed.venue,
    feedInterval: feed.interval,
    lastCandleOpen: -1,
    confidence: signal.confidence,
    features: signal.features,
    external: fillSourceOf(a) === 'external' ? newExternal() : null,
  };
  const event: TradeEvent = {
    type: 'order_placed',
    ...base(a.accountId, p, now, `${groupId}:placed`),
    entries: entries.map((e) => ({ orderId: e.orderId, price: e.price, qty: e.qty })),
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    risk,
    notional,
  };
  return {
    account: {
      ...a,
      positions: [...a.positions, p],
      counters: { ...a.counters, ordersPlaced: a.counters.ordersPlaced + 1 },
    },
    events: [event],
  };
}

/**
 * Applies one closed candle to the groups of its symbol whose feed (venue + interval) it matches.
 * Returns the same account object when nothing changed.
 */
export function onCandle(a: AccountState, c: Candle, cfg: TradingConfig, now: number): BookResult {
  const ps = a.positions;
  if (ps.length === 0) return { account: a, events: NO_TRADE_EVENTS };
  let next: Position[] | null = null;
  let out: TradeEvent[] | null = null;
  const end = c.openTime + INTERVAL_MS[c.interval];
  const halfTp = cfg.protections.tradeLimiter.resetOn.takeProfitReachedPct / PCT;
  for (let k = 0; k < ps.length; k++) {
    const p = ps[k] as Position;
    if (p.symbol !== c.symbol || p.feedVenue !== c.venue || p.feedInterval !== c.interval) continue;
    if (c.openTime <= p.lastCandleOpen || c.openTime < p.placedAt) continue;
    next ??= ps.slice();
    out ??= [];
    next[k] = (p.external ? stepExternal(p, p.external, c, end, halfTp, a.accountId, now, out) : stepPosition(p, c, end, halfTp, a.accountId, now, out)) as Position;
  }
  if (next === null || out === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, c.symbol, c.close), events: out };
}

/**
 * A candle the candle gate held back as SUSPECT (out of the sanity band, shared/market/candle-gate.ts):
 * a stop is never skipped, so only the PROTECTIVE exits of the groups of its symbol and feed are
 * evaluated, conservatively: the stop (then an active trailing stop) triggers when the candle crosses
 * it (exiting errs on the safe side) and fills AT ITS LEVEL (a stop fill: taker, with the tier's
 * slippage), never at the suspect candle's own prices: one bad print 60 % away must not book a loss of
 * its own making (a real gap through the stop is booked at the stop; the re-anchor confirms the move
 * later, and the position is out either way). Nothing else: no
 * entry fill, no take profit, no time exit, no excursion or trailing update, `lastCandleOpen` and the
 * marks unchanged (the candle is not data). External groups get the exit DECISION.
 */
export function onSuspectCandle(a: AccountState, c: Candle, now: number): BookResult {
  let next: Array<Position | null> | null = null;
  const out: TradeEvent[] = [];
  const end = c.openTime + INTERVAL_MS[c.interval];
  for (let k = 0; k < a.positions.length; k++) {
    const p = a.positions[k] as Position;
    if (p.symbol !== c.symbol || p.feedVenue !== c.venue || p.feedInterval !== c.interval) continue;
    if (c.openTime <= p.lastCandleOpen || c.openTime < p.placedAt) continue;
    const long = p.direction === 'LONG';
    let reason: ExitReason | null = null;
    let level = 0;
    if (long ? c.low <= p.stopLoss : c.high >= p.stopLoss) {
      reason = 'stop_loss';
      level = p.stopLoss;
    } else if (p.trailActive && p.trailStop !== null && (long ? c.low <= p.trailStop : c.high >= p.trailStop)) {
      reason = 'trailing_stop';
      level = p.trailStop;
    }
    if (reason === null) continue;
    const price = level;
    const x = p.external;
    if (x) {
      if (!(p.status === 'open' && heldQty(p, x) > qtyEps(p)) || (x.decision !== null && x.decision.reason !== 'take_profit')) continue;
      next ??= a.positions.slice();
      next[k] = decideExit(p, x, reason, price, a.accountId, now, out);
      continue;
    }
    if (p.status !== 'open' || p.filledQty === 0) continue;
    next ??= a.positions.slice();
    closeGroup(p, reason, price, end, a.accountId, now, out);
    next[k] = null;
  }
  if (next === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, null, 0), events: out };
}

/** Cancels unfilled entries whose timeout passed (a sweep for when candles stop arriving). */
export function expireOrders(a: AccountState, now: number): BookResult {
  let next: Position[] | null = null;
  const out: TradeEvent[] = [];
  for (let k = 0; k < a.positions.length; k++) {
    const p = a.positions[k] as Position;
    if (now < p.expiresAt || !p.entries.some((e) => e.status === 'pending')) continue;
    if (p.external) {
      if (p.external.cancelDecidedAt !== null) continue;
      next ??= a.positions.slice();
      next[k] = decideCancel(p, p.external, 'entry_timeout', a.accountId, now, out);
      continue;
    }
    next ??= a.positions.slice();
    next[k] = cancelPending(p, a.accountId, now, out) as Position;
  }
  if (next === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, null, 0), events: out };
}

/** Whether any group has an entry still working that the book itself may still fill or cancel. */
export function hasPendingEntries(a: AccountState): boolean {
  for (const p of a.positions) {
    if (p.external && p.external.cancelDecidedAt !== null) continue;
    if (p.entries.some((e) => e.status === 'pending')) return true;
  }
  return false;
}

/**
 * Cancels every pending (unfilled) entry of every group because the regime turned PANIC (SPEC 6:
 * while PANIC holds, pending entries are cancelled, not filled). Booked exactly like an entry timeout
 * (`entry_timeout` events with `reason: 'regime_panic'`, the entryTimeouts counter; a group with no
 * fill leaves the book, one with fills keeps them); external (live) groups get the cancel DECISION
 * (`entry_cancel_decided`, reason regime_panic) that the executor carries out.
 */
export function cancelPendingEntries(a: AccountState, reason: 'regime_panic', now: number): BookResult {
  let next: Array<Position | null> | null = null;
  const out: TradeEvent[] = [];
  for (let k = 0; k < a.positions.length; k++) {
    const p = a.positions[k] as Position;
    if (!p.entries.some((e) => e.status === 'pending')) continue;
    if (p.external) {
      if (p.external.cancelDecidedAt !== null) continue;
      next ??= a.positions.slice();
      next[k] = decideCancel(p, p.external, reason, a.accountId, now, out);
      continue;
    }
    next ??= a.positions.slice();
    next[k] = cancelPending(p, a.accountId, now, out, reason);
  }
  if (next === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, null, 0), events: out };
}

/**
 * Closes a group at `price` (owner command), cancelling unfilled entries. An external group is not
 * closed here: the close is DECIDED (exit_decided 'manual' at `price`, or entry_cancel_decided when
 * nothing is held) and the exchange's fills close it.
 */
export function closeManually(a: AccountState, groupId: string, price: number, now: number): BookResult {
  const k = a.positions.findIndex((p) => p.groupId === groupId);
  if (k < 0) return { account: a, events: NO_TRADE_EVENTS };
  const p = a.positions[k] as Position;
  const out: TradeEvent[] = [];
  const next = a.positions.slice();
  const x = p.external;
  if (x) {
    if (heldQty(p, x) > qtyEps(p)) {
      if (x.decision !== null && x.decision.reason !== 'take_profit') return { account: a, events: NO_TRADE_EVENTS };
      next[k] = decideExit(p, x, 'manual', price, a.accountId, now, out);
    } else if (x.cancelDecidedAt === null && p.entries.some((e) => e.status === 'pending')) {
      next[k] = decideCancel(p, x, 'manual', a.accountId, now, out);
    } else {
      return { account: a, events: NO_TRADE_EVENTS };
    }
    return { account: settle(a, next, out, null, 0), events: out };
  }
  if (p.filledQty === 0) {
    next[k] = cancelPending(p, a.accountId, now, out) as Position;
  } else {
    closeGroup(p, 'manual', price, now, a.accountId, now, out);
    next[k] = null as unknown as Position;
  }
  return { account: settle(a, next, out, null, 0), events: out };
}

export type MoveTakeProfitOutcome =
  /** Moved (one take_profit_moved event). */
  | 'applied'
  /** The group already has this take profit. */
  | 'unchanged'
  /** No such group (closed, timed out, never placed). */
  | 'unknown_group'
  /** The command names another symbol than the group's. */
  | 'symbol_mismatch'
  /** The new level is not beyond every entry (and the average fill) on the profit side. */
  | 'invalid_level';

export interface MoveTakeProfitResult extends BookResult {
  outcome: MoveTakeProfitOutcome;
  detail: string;
}

/**
 * Owner command: moves a group's take profit to `takeProfit` (simulated and external alike; for an
 * external group the live executor re-places its resting take-profit orders on the event). The level must stay on the
 * profit side of every entry limit and of the average fill (LONG: above, SHORT: below), the same rule
 * a signal's levels pass; candles exit at the new level from the next candle on. The half-TP mark
 * already reached stays reached. `commandId` makes the event id deterministic.
 */
export function moveTakeProfit(a: AccountState, groupId: string, symbol: string, takeProfit: number, commandId: string, now: number): MoveTakeProfitResult {
  const k = a.positions.findIndex((p) => p.groupId === groupId);
  const p = a.positions[k];
  const none = (outcome: MoveTakeProfitOutcome, detail: string): MoveTakeProfitResult => ({ account: a, events: NO_TRADE_EVENTS, outcome, detail });
  if (!p) return none('unknown_group', `no open trade group ${groupId}`);
  if (p.symbol !== symbol) return none('symbol_mismatch', `${groupId} trades ${p.symbol}, not ${symbol}`);
  if (!(Number.isFinite(takeProfit) && takeProfit > 0)) return none('invalid_level', `take profit ${takeProfit} is not a price`);
  if (takeProfit === p.takeProfit) return none('unchanged', `${groupId} already takes profit at ${takeProfit}`);
  const long = p.direction === 'LONG';
  let bound = long ? -Infinity : Infinity;
  for (const e of p.entries) bound = long ? Math.max(bound, e.price) : Math.min(bound, e.price);
  if (p.filledQty > 0) bound = long ? Math.max(bound, p.avgEntry) : Math.min(bound, p.avgEntry);
  if (long ? !(takeProfit > bound) : !(takeProfit < bound)) {
    return none('invalid_level', `${p.direction} take profit ${takeProfit} must be ${long ? 'above' : 'below'} ${bound} (entries and average fill)`);
  }
  const next = a.positions.slice();
  next[k] = { ...p, takeProfit };
  const event: TradeEvent = { type: 'take_profit_moved', ...base(a.accountId, p, now, `${groupId}:tp:${commandId}`), from: p.takeProfit, to: takeProfit, commandId };
  return { account: { ...a, positions: next }, events: [event], outcome: 'applied', detail: `${p.takeProfit} -> ${takeProfit}` };
}

// ---------- internals ----------

function base(accountId: string, p: Position, ts: number, eventId: string) {
  return {
    eventId,
    accountId,
    ts,
    groupId: p.groupId,
    signalId: p.signalId,
    symbol: p.symbol,
    strategy: p.strategy,
    direction: p.direction,
  };
}

/** Removes closed (null) slots, books realized P&L and counters, updates the mark. */
function settle(a: AccountState, next: Array<Position | null>, out: TradeEvent[], symbol: string | null, mark: number, entryFills?: number): AccountState {
  let realized = 0;
  let fees = 0;
  let fills = 0;
  let timeouts = 0;
  let closed = 0;
  let wins = 0;
  let losses = 0;
  for (const e of out) {
    if (e.type === 'entry_filled') fills++;
    else if (e.type === 'entry_timeout') timeouts++;
    else if (e.type === 'position_closed') {
      closed++;
      realized += e.trade.pnl;
      fees += e.trade.fees;
      if (e.trade.pnl > 0) wins++;
      else if (e.trade.pnl < 0) losses++;
    }
  }
  if (entryFills !== undefined) fills = entryFills;
  const positions = next.filter((p): p is Position => p !== null);
  const c = a.counters;
  const counters =
    fills + timeouts + closed === 0
      ? c
      : {
          ordersPlaced: c.ordersPlaced,
          entriesFilled: c.entriesFilled + fills,
          entryTimeouts: c.entryTimeouts + timeouts,
          tradesClosed: c.tradesClosed + closed,
          wins: c.wins + wins,
          losses: c.losses + losses,
        };
  let marks = a.marks;
  if (symbol !== null && marks[symbol] !== mark) {
    if (positions.some((p) => p.symbol === symbol)) marks = { ...marks, [symbol]: mark };
    else if (symbol in marks) {
      marks = { ...marks };
      delete marks[symbol];
    }
  }
  return {
    ...a,
    realizedPnl: closed > 0 ? a.realizedPnl + realized : a.realizedPnl,
    feesPaid: closed > 0 ? a.feesPaid + fees : a.feesPaid,
    positions,
    marks,
    counters,
  };
}

/** One candle for one group. Returns the updated group, or null when it closed or timed out empty. */
function stepPosition(p: Position, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position | null {
  const long = p.direction === 'LONG';
  const q: Position = { ...p, lastCandleOpen: c.openTime };

  // 1. entry fills (traded through, strictly)
  let filledNow = false;
  if (c.openTime < p.expiresAt && p.filledQty < totalQty(p)) {
    let entries: EntryOrder[] | null = null;
    for (let i = 0; i < p.entries.length; i++) {
      const e = p.entries[i] as EntryOrder;
      if (e.status !== 'pending') continue;
      if (long ? !(c.low < e.price) : !(c.high > e.price)) continue;
      const fillPrice = entryFillPrice(p.direction, e.price, p.slippageRate);
      const fee = fillFee(fillPrice, e.qty, p.feeRate);
      entries ??= p.entries.slice();
      entries[i] = { ...e, status: 'filled', fillPrice, fillTime: end, fee, filledQty: e.qty };
      filledNow = true;
    }
    if (entries !== null) {
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
          ...base(accountId, q, now, `${e.orderId}:filled`),
          orderId: e.orderId,
          price: e.fillPrice as number,
          qty: e.qty,
          fee: e.fee,
          avgEntry: q.avgEntry,
          filledQty: q.filledQty,
        });
      }
    }
  }

  // 2. exits, in priority order
  if (q.status === 'open') {
    let reason: ExitReason | null = null;
    let price = 0;
    if (long ? c.low <= q.stopLoss : c.high >= q.stopLoss) {
      reason = 'stop_loss';
      price = long ? Math.min(q.stopLoss, c.open) : Math.max(q.stopLoss, c.open);
    } else if (!filledNow) {
      if (long ? c.high > q.takeProfit : c.low < q.takeProfit) {
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
      closeGroup(q, reason, price, end, accountId, now, out);
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

function totalQty(p: Position): number {
  let q = 0;
  for (const e of p.entries) if (e.status !== 'cancelled') q += e.qty;
  return q;
}

/** Mutates `q` (a fresh copy owned by the caller). */
function updateExcursion(q: Position, c: Candle, halfTp: number, accountId: string, now: number, out: TradeEvent[]): void {
  const long = q.direction === 'LONG';
  const prev = q.bestPrice ?? q.avgEntry;
  const best = long ? Math.max(prev, c.high) : Math.min(prev, c.low);
  q.bestPrice = best;
  if (!q.halfTpReached) {
    const target = q.avgEntry + halfTp * (q.takeProfit - q.avgEntry);
    if (long ? best >= target : best <= target) {
      q.halfTpReached = true;
      out.push({ type: 'half_take_profit', ...base(accountId, q, now, `${q.groupId}:halftp`), price: target });
    }
  }
  const f = q.trailingFraction;
  if (f === null) return;
  const level = long ? best * (1 - f) : best * (1 + f);
  if (!q.trailActive) {
    const activation = long ? q.avgEntry * (1 + f * TRAILING_ACTIVATION_MULTIPLE) : q.avgEntry * (1 - f * TRAILING_ACTIVATION_MULTIPLE);
    if (long ? best >= activation : best <= activation) {
      q.trailActive = true;
      q.trailStop = level;
      out.push({ type: 'trailing_activated', ...base(accountId, q, now, `${q.groupId}:trail`), trailStop: level });
    }
  } else if (q.trailStop === null || (long ? level > q.trailStop : level < q.trailStop)) {
    q.trailStop = level;
  }
}

/** Cancels pending entries; returns the group (with its filled entries) or null when none filled. */
function cancelPending(p: Position, accountId: string, now: number, out: TradeEvent[], reason: EntryCancelReason = 'entry_timeout'): Position | null {
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
    ...base(accountId, p, now, `${p.groupId}:timeout`),
    cancelledOrderIds: cancelled,
    positionRemains: remains,
    ...(reason === 'entry_timeout' ? {} : { reason }),
  });
  return remains ? { ...p, entries, risk, notional } : null;
}

/** One filled lot of a group, as the close books it. */
interface ClosedLot {
  orderId: string;
  fill: number;
  qty: number;
  fee: number;
  fillTime: number;
}

/**
 * The closed-trade record of a group: one warehouse row per filled lot (sharing trade_group_id) and
 * the group's size-weighted P&L. Paper and live closes both book through here; they differ only in
 * where the exit price and exit fees come from.
 */
function bookClose(
  p: Position,
  lots: readonly ClosedLot[],
  exitPrice: number,
  exitFeeOf: (qty: number) => number,
  reason: ExitReason,
  exitTime: number,
  mode: 'paper' | 'live',
): { trade: ClosedTrade; exitFees: number } {
  const long = p.direction === 'LONG';
  const rows: PaperTradeRow[] = [];
  let pnl = 0;
  let fees = 0;
  let entryNotional = 0;
  let exitFees = 0;
  const features = JSON.stringify(p.features);
  for (const lot of lots) {
    const exitFee = exitFeeOf(lot.qty);
    const gross = long ? (exitPrice - lot.fill) * lot.qty : (lot.fill - exitPrice) * lot.qty;
    const lotFees = lot.fee + exitFee;
    const lotPnl = gross - lotFees;
    const lotNotional = lot.fill * lot.qty;
    pnl += lotPnl;
    fees += lotFees;
    exitFees += exitFee;
    entryNotional += lotNotional;
    rows.push({
      trade_id: mode === 'live' ? `${lot.orderId}:live` : lot.orderId,
      trade_group_id: p.groupId,
      signal_id: p.signalId,
      strategy: p.strategy,
      symbol: p.symbol,
      direction: p.direction,
      mode,
      entry_time: lot.fillTime,
      exit_time: exitTime,
      entry_price: lot.fill,
      exit_price: exitPrice,
      qty: lot.qty,
      fees: lotFees,
      pnl: lotPnl,
      pnl_pct: (lotPnl / lotNotional) * PCT,
      exit_reason: reason,
      features,
    });
  }
  const trade: ClosedTrade = {
    groupId: p.groupId,
    signalId: p.signalId,
    strategy: p.strategy,
    engine: p.engine,
    symbol: p.symbol,
    tier: p.tier,
    direction: p.direction,
    entryTime: p.openedAt as number,
    exitTime,
    avgEntry: p.avgEntry,
    exitPrice,
    qty: p.filledQty,
    fees,
    pnl,
    pnlPct: (pnl / entryNotional) * PCT,
    exitReason: reason,
    rows,
  };
  return { trade, exitFees };
}

/** Books the exit of every filled lot; pushes exit_filled and position_closed. */
function closeGroup(p: Position, reason: ExitReason, rawPrice: number, exitTime: number, accountId: string, now: number, out: TradeEvent[]): void {
  const exitPrice = exitFillPrice(p.direction, rawPrice, p.slippageRate);
  const lots = p.entries
    .filter((e) => e.status === 'filled')
    .map((e) => ({ orderId: e.orderId, fill: e.fillPrice as number, qty: e.qty, fee: e.fee, fillTime: e.fillTime as number }));
  const { trade, exitFees } = bookClose(p, lots, exitPrice, (qty) => fillFee(exitPrice, qty, p.feeRate), reason, exitTime, 'paper');
  out.push({ type: 'exit_filled', ...base(accountId, p, now, `${p.groupId}:exit`), reason, price: exitPrice, qty: p.filledQty, fee: exitFees });
  out.push({ type: 'position_closed', ...base(accountId, p, now, `${p.groupId}:closed`), trade });
}

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

export interface FillBookResult extends BookResult {
  outcome: ExternalFillOutcome;
}

function newExternal(): ExternalExecution {
  return { orders: {}, exitedQty: 0, exitValue: 0, exitFees: 0, exitReason: null, lastExitTime: null, decision: null, cancelDecidedAt: null };
}

function heldQty(p: Position, x: ExternalExecution): number {
  return p.filledQty - x.exitedQty;
}

/** Quantity tolerance of a group (relative to its size). */
function qtyEps(p: Position): number {
  let q = p.filledQty;
  for (const e of p.entries) q = Math.max(q, e.qty);
  return q * QTY_EPSILON_FRACTION;
}

function decideExit(p: Position, x: ExternalExecution, reason: ExitReason, reference: number, accountId: string, now: number, out: TradeEvent[]): Position {
  const q: Position = { ...p, external: { ...x, decision: { reason, reference, at: now } } };
  out.push({ type: 'exit_decided', ...base(accountId, p, now, `${p.groupId}:decided:${reason}`), reason, price: reference, qty: heldQty(p, x) });
  return q;
}

function decideCancel(p: Position, x: ExternalExecution, reason: EntryCancelReason | 'manual', accountId: string, now: number, out: TradeEvent[]): Position {
  const orderIds = p.entries.filter((e) => e.status === 'pending').map((e) => e.orderId);
  out.push({ type: 'entry_cancel_decided', ...base(accountId, p, now, `${p.groupId}:cancel-decided`), reason, orderIds });
  return { ...p, external: { ...x, cancelDecidedAt: now } };
}

/** One candle for one external group: decisions only (see the header). Never removes the group. */
function stepExternal(p: Position, x: ExternalExecution, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position {
  const long = p.direction === 'LONG';
  let q: Position = { ...p, lastCandleOpen: c.openTime };
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

/** Risk and notional of an external group from its fills, working remainders and exits. */
function externalExposure(q: Position, filledQty: number, exitedQty: number): { risk: number; notional: number } {
  const { entries, stopLoss: stop, direction } = q;
  let fr = 0;
  let fn = 0;
  let pr = 0;
  let pn = 0;
  for (const e of entries) {
    if (e.filledQty > 0) {
      const f = e.fillPrice as number;
      fr += stoppedLossPerUnitFromFill(direction, f, stop, q) * e.filledQty;
      fn += f * e.filledQty;
    }
    if (e.status === 'pending') {
      const rem = Math.max(0, e.qty - e.filledQty);
      pr += stoppedLossPerUnit(direction, e.price, stop, q) * rem;
      pn += e.price * rem;
    }
  }
  const heldFrac = filledQty > 0 ? Math.max(0, filledQty - exitedQty) / filledQty : 1;
  return { risk: fr * heldFrac + pr, notional: fn * heldFrac + pn };
}

/** Recomputes the derived fields of an external group after its entries / exits changed (mutates q). */
function refreshExternal(q: Position, x: ExternalExecution): void {
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
        ...base(a.accountId, q, now, `${e.orderId}:fill:${f.orderId}:${f.cumQty}`),
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
      out.push({ type: 'exit_filled', ...base(a.accountId, q, now, `${p.groupId}:exit:${f.orderId}:${f.cumQty}`), reason, price: dPrice, qty: dq, fee: dFee });
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
  return { account: settle(a, next, out, null, 0, firstFills), events: out, outcome: 'applied' };
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
  out.push({ type: 'entry_timeout', ...base(a.accountId, p, now, `${entry.orderId}:cancelled`), cancelledOrderIds: [entry.orderId], positionRemains: !gone && !externalDone(q, x) });
  if (gone) next[k] = null;
  else if (externalDone(q, x)) {
    closeExternal(q, x, a.accountId, now, out);
    next[k] = null;
  }
  return { account: settle(a, next, out, null, 0), events: out };
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

/** position_closed of a flat external group from the exchange's fills (rows mode `live`). */
function closeExternal(p: Position, x: ExternalExecution, accountId: string, now: number, out: TradeEvent[]): void {
  const lots = p.entries
    .filter((e) => e.filledQty > 0)
    .map((e) => ({ orderId: e.orderId, fill: e.fillPrice as number, qty: e.filledQty, fee: e.fee, fillTime: e.fillTime as number }));
  const { trade } = bookClose(p, lots, exitAverage(x), (qty) => x.exitFees * (qty / p.filledQty), x.exitReason ?? 'take_profit', x.lastExitTime ?? now, 'live');
  out.push({ type: 'position_closed', ...base(accountId, p, now, `${p.groupId}:closed`), trade });
}
