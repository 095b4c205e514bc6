/**
 * The live ledger: what the exchange really did for each trade group, as pure, JSON-serialisable
 * transitions (the I/O shell is ./executor.ts). One `LiveGroup` per paper-core trade group, stored at
 * `trading/{accountId}/live/{groupId}`.
 *
 * Legs (one exchange order each, client id = clientOrderId(groupId, leg)):
 *   e{k}  entry k of the core's grid: LIMIT PostOnly (maker only).
 *   t{k}  take profit for the filled lot of entry k, placed once entry k is done (Filled, or cancelled
 *         after a partial fill): LIMIT PostOnly reduceOnly at the take-profit level.
 *   g{k}  fallback when t{k} was cancelled because PostOnly would have taken liquidity (the market is
 *         already beyond the take profit): LIMIT GTC reduceOnly at the same take-profit price, so it
 *         fills at once at that price or better.
 *   t{k}r{n} / g{k}r{n}
 *         the owner's n-th take-profit move (`take_profit_moved`, see moveTakeProfit): every working
 *         t/g leg is cancelled, and once a lot's old legs are all terminal, a PostOnly reduceOnly
 *         limit at the new level goes out for what the lot still holds (its entry fill minus what its
 *         take-profit legs filled, a cancel that raced a fill included); `g{k}r{n}` is its GTC
 *         fallback when it would cross. A lot whose take profit already filled gets nothing. New client
 *         ids because Bybit never reuses an orderLinkId; the same move twice (redelivery) is ignored.
 *   x{n}  protective exit (core decided stop_loss / trailing_stop / time_exit / manual / an orphaned
 *         fill): LIMIT GTC reduceOnly at a bounded-slippage price (see orders.ts boundedExitPrice). If
 *         it ends cancelled with size left, attempt n+1 goes out (up to `maxExitAttempts`).
 *
 * Policy for a PostOnly ENTRY that would cross (Bybit accepts it, then cancels it with rejectReason
 * `EC_PostOnlyWillTakeLiquidity`): the entry is CANCELLED, not re-priced. The strategy chose that
 * limit; chasing the market would turn a maker entry into a worse price than the signal's. A
 * `live_order_issue` (post_only_would_cross, entry_cancelled) is emitted; the executor confirms the
 * ended entry to the core (`cancelEntry`), and a group with no entry filled ends `cancelled` here
 * (`live_group_cancelled`, informational).
 *
 * This ledger is ORDER BOOKKEEPING only: client ids, statuses, each leg's cumulative fill as the
 * exchange reports it (cumulative qty, average price, fee) and how much of it the trading core has
 * been given (`coreQty` / `coreDone`). Positions, P&L and fees live in the core, which the executor
 * feeds with these exchange numbers (TradingStore.applyExternalFill / cancelEntry).
 */
import { z } from 'zod';
import type { InstrumentRules, OrderSide, VenueOrder, VenueOrderStatus } from '../../ports/trading-venue.js';
import { TERMINAL_STATUSES } from '../../ports/trading-venue.js';
import type { Tier } from '../../model/market.js';
import type { Position } from '../model.js';
import type { Direction, EngineKind, EventBase, ExitReason, StrategyId } from '../../model/trading.js';
import { boundedExitPrice, clientOrderId, entrySide, exitSide, prepareLimitOrder } from './orders.js';

/** Bybit's reject reason of a PostOnly order that would have taken liquidity. */
const POST_ONLY_CROSS_REASON = 'EC_PostOnlyWillTakeLiquidity';

// ---------- config ----------

const liveExecutionConfigSchema = z.strictObject({
  /** Slippage bound of protective exits, % from the reference price (chosen; proposed `live.exitSlippagePct`). */
  exitSlippagePct: z.number().positive().max(10),
  /** Protective exit attempts before giving up and alerting (chosen; proposed `live.maxExitAttempts`). */
  maxExitAttempts: z.number().int().min(1).max(20),
  /** Place/observe rounds per group per call (bounds the follow-up chain: entry -> TP -> fallback). */
  maxDriveRounds: z.number().int().min(1).max(50),
});
export type LiveExecutionConfig = z.infer<typeof liveExecutionConfigSchema>;

export const DEFAULT_LIVE_EXECUTION_CONFIG: LiveExecutionConfig = {
  exitSlippagePct: 0.5,
  maxExitAttempts: 3,
  maxDriveRounds: 8,
};

// ---------- state ----------

type LegKind = 'entry' | 'take_profit' | 'take_profit_gtc' | 'exit';
/** `placing`: the intent is recorded, the exchange's answer is not (yet) known. */
type LegStatus = 'placing' | VenueOrderStatus;

export interface LiveLeg {
  leg: string;
  kind: LegKind;
  clientOrderId: string;
  orderId: string | null;
  side: OrderSide;
  price: string;
  qty: string;
  postOnly: boolean;
  reduceOnly: boolean;
  /** Entry index the leg belongs to (entry and take-profit legs), null for protective exits. */
  entryIndex: number | null;
  status: LegStatus;
  filledQty: number;
  avgPrice: number;
  fee: number;
  rejectReason: string;
  cancelRequested: boolean;
  /** Take-profit legs: the take-profit generation (number of owner moves) it was placed for (absent: 0). */
  tpGen?: number;
  /** Cumulative fill of this order the trading core has been given (acknowledged). */
  coreQty: number;
  /** Entry legs: the core was told the order ended (its entry takes no more fills). */
  coreDone: boolean;
  placedAt: number;
  updatedAt: number;
}

type LiveGroupStatus = 'working' | 'closing' | 'closed' | 'cancelled';
export const OPEN_GROUP_STATUSES: readonly LiveGroupStatus[] = ['working', 'closing'];

export interface LiveGroup {
  groupId: string;
  signalId: string;
  accountId: string;
  symbol: string;
  strategy: StrategyId;
  engine: EngineKind;
  tier: Tier;
  direction: Direction;
  stopLoss: number;
  takeProfit: number;
  /** Owner take-profit moves applied (absent: 0); the generation of the take-profit legs to work. */
  tpGen?: number;
  /** Event ids of the applied take-profit moves (a redelivered move changes nothing). */
  tpMoves?: string[];
  /** Instrument grid (copied from the rules at creation). */
  tickSize: string;
  qtyStep: string;
  status: LiveGroupStatus;
  exitReason: ExitReason | null;
  /** Reference price of the protective exit (the bound is computed from it). */
  exitReference: number | null;
  exitAttempts: number;
  /** false once the paper core no longer tracks the group (its position closed or timed out). */
  coreActive: boolean;
  legs: LiveLeg[];
  openedAt: number | null;
  closedAt: number | null;
  createdAt: number;
  updatedAt: number;
  features: string;
}

// ---------- events ----------


type LiveIssue = 'post_only_would_cross' | 'rejected_by_venue' | 'below_minimum' | 'exit_unfilled' | 'orphaned_fill';

interface LiveOrderIssueEvent extends EventBase {
  type: 'live_order_issue';
  leg: string;
  clientOrderId: string;
  issue: LiveIssue;
  /** What the executor did about it. */
  action: 'entry_cancelled' | 'replaced_gtc' | 'skipped' | 'retrying' | 'gave_up' | 'flattening';
  detail: string;
}

/** No entry of the group filled and none is working (informational: the core learnt it through cancelEntry). */
interface LiveGroupCancelledEvent extends EventBase {
  type: 'live_group_cancelled';
  reason: string;
}

/** What the ledger reports besides order statuses: exchange-side issues (alerts). Fills go to the core. */
export type LiveEvent = LiveOrderIssueEvent | LiveGroupCancelledEvent;

// ---------- helpers ----------

export function isTerminal(s: LegStatus): boolean {
  return s !== 'placing' && TERMINAL_STATUSES.has(s);
}

function base(g: LiveGroup, now: number, eventId: string): EventBase {
  return { eventId, accountId: g.accountId, ts: now, groupId: g.groupId, signalId: g.signalId, symbol: g.symbol, strategy: g.strategy, direction: g.direction };
}

function issue(g: LiveGroup, l: LiveLeg, what: LiveIssue, action: LiveOrderIssueEvent['action'], detail: string, now: number): LiveOrderIssueEvent {
  return { type: 'live_order_issue', ...base(g, now, `${l.clientOrderId}:${what}`), leg: l.leg, clientOrderId: l.clientOrderId, issue: what, action, detail };
}

/** Half a qty step: quantities closer than this are equal. */
function qtyEps(g: LiveGroup): number {
  return Number(g.qtyStep) / 2;
}

/** Filled quantity, size-weighted average price (exact when one order filled) and fees of some legs. */
function filledOf(legs: readonly LiveLeg[], entry: boolean): { qty: number; avg: number; fee: number } {
  let qty = 0;
  let value = 0;
  let fee = 0;
  let n = 0;
  let only = 0;
  for (const l of legs) {
    if ((l.kind === 'entry') !== entry || l.filledQty === 0) continue;
    qty += l.filledQty;
    value += l.filledQty * l.avgPrice;
    fee += l.fee;
    n++;
    only = l.avgPrice;
  }
  return { qty, avg: n === 0 ? 0 : n === 1 ? only : value / qty, fee };
}

export function entryFilled(g: LiveGroup): { qty: number; avg: number; fee: number } {
  return filledOf(g.legs, true);
}

export function exitFilled(g: LiveGroup): { qty: number; avg: number; fee: number } {
  return filledOf(g.legs, false);
}

function newLeg(g: LiveGroup, leg: string, kind: LegKind, side: OrderSide, price: string, qty: string, postOnly: boolean, reduceOnly: boolean, entryIndex: number | null, now: number): LiveLeg {
  return {
    leg,
    kind,
    clientOrderId: clientOrderId(g.groupId, leg),
    orderId: null,
    side,
    price,
    qty,
    postOnly,
    reduceOnly,
    entryIndex,
    status: 'placing',
    filledQty: 0,
    avgPrice: 0,
    fee: 0,
    rejectReason: '',
    cancelRequested: false,
    coreQty: 0,
    coreDone: false,
    placedAt: now,
    updatedAt: now,
  };
}

// ---------- transitions (pure: they return new objects) ----------

/**
 * A new live group from the core's accepted position: one PostOnly entry leg per entry, rounded to
 * the instrument grid. Entries failing the exchange minimums are recorded as Rejected with the reason
 * (and reported), so the caller sees why nothing was sent.
 */
export function openLiveGroup(accountId: string, p: Position, rules: InstrumentRules, now: number): { group: LiveGroup; events: LiveEvent[] } {
  const g: LiveGroup = {
    groupId: p.groupId,
    signalId: p.signalId,
    accountId,
    symbol: p.symbol,
    strategy: p.strategy,
    engine: p.engine,
    tier: p.tier,
    direction: p.direction,
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    tickSize: rules.tickSize,
    qtyStep: rules.qtyStep,
    status: 'working',
    exitReason: null,
    exitReference: null,
    exitAttempts: 0,
    coreActive: true,
    legs: [],
    openedAt: null,
    closedAt: null,
    createdAt: now,
    updatedAt: now,
    features: JSON.stringify(p.features),
  };
  const events: LiveEvent[] = [];
  const side = entrySide(p.direction);
  p.entries.forEach((e, k) => {
    const prep = prepareLimitOrder(rules, side, e.price, e.qty, true);
    if (prep.ok) {
      g.legs.push(newLeg(g, `e${k}`, 'entry', side, prep.price, prep.qty, true, false, k, now));
    } else {
      const l = newLeg(g, `e${k}`, 'entry', side, String(e.price), String(e.qty), true, false, k, now);
      l.status = 'Rejected';
      l.rejectReason = `${prep.reason}: ${prep.detail}`;
      g.legs.push(l);
      events.push(issue(g, l, 'below_minimum', 'skipped', prep.detail, now));
    }
  });
  return { group: settleGroup(g, rules, DEFAULT_LIVE_EXECUTION_CONFIG, now, events), events };
}

/**
 * Applies what the exchange reports for one leg (monotonic: a stale report never rolls fills back).
 * Records the order's cumulative fill; the executor hands it to the core.
 */
export function observeLeg(g0: LiveGroup, cid: string, o: VenueOrder | null, now: number): { group: LiveGroup; events: LiveEvent[] } {
  const i = g0.legs.findIndex((l) => l.clientOrderId === cid);
  const prev = g0.legs[i];
  if (i < 0 || !prev || o === null) return { group: g0, events: [] };
  if (isTerminal(prev.status) && o.filledQty <= prev.filledQty) return { group: g0, events: [] };
  const g: LiveGroup = { ...g0, legs: g0.legs.slice(), updatedAt: now };
  const l: LiveLeg = { ...prev, orderId: o.orderId, updatedAt: now, rejectReason: o.rejectReason };
  if (!isTerminal(prev.status) || o.status !== prev.status) l.status = o.status;
  const events: LiveEvent[] = [];
  if (o.filledQty > prev.filledQty) {
    l.filledQty = o.filledQty;
    l.avgPrice = o.avgPrice;
    l.fee = o.fee ?? prev.fee;
    if (l.kind === 'entry') g.openedAt ??= now;
  }
  g.legs[i] = l;
  if (l.status === 'Cancelled' && l.rejectReason === POST_ONLY_CROSS_REASON && l.filledQty === 0 && l.kind === 'entry') {
    events.push(issue(g, l, 'post_only_would_cross', 'entry_cancelled', `PostOnly ${l.side} ${l.qty} @ ${l.price} would have taken liquidity: entry cancelled (not re-priced)`, now));
  } else if (l.status === 'Rejected' && prev.status !== 'Rejected') {
    events.push(issue(g, l, 'rejected_by_venue', 'skipped', `${l.side} ${l.qty} @ ${l.price} rejected: ${l.rejectReason || 'no reason given'}`, now));
  }
  return { group: g, events };
}

/** Records a placement the venue refused outright (retCode != 0). */
export function rejectLeg(g0: LiveGroup, cid: string, reason: string, now: number): LiveGroup {
  return { ...g0, updatedAt: now, legs: g0.legs.map((l) => (l.clientOrderId === cid ? { ...l, status: 'Rejected', rejectReason: reason, updatedAt: now } : l)) };
}

/** Core decided a protective exit (or the group lost its core position): close everything live. */
export function startClosing(g0: LiveGroup, reason: ExitReason, reference: number, now: number): LiveGroup {
  if (g0.status !== 'working') return g0;
  return { ...g0, status: 'closing', exitReason: reason, exitReference: reference, updatedAt: now };
}

/** Core cancelled these entries (entry timeout). */
export function requestEntryCancels(g0: LiveGroup, entryIndexes: number[], now: number): LiveGroup {
  const set = new Set(entryIndexes);
  return {
    ...g0,
    updatedAt: now,
    legs: g0.legs.map((l) => (l.kind === 'entry' && l.entryIndex !== null && set.has(l.entryIndex) && !isTerminal(l.status) ? { ...l, cancelRequested: true } : l)),
  };
}

function isTakeProfitLeg(l: LiveLeg): boolean {
  return l.kind === 'take_profit' || l.kind === 'take_profit_gtc';
}

/**
 * The owner moved the take profit (core event `take_profit_moved`, id `moveId`): the group takes
 * profit at `takeProfit` from now on, every working take-profit leg is cancelled, and settleGroup
 * re-places each lot's remainder under generation n (`t{k}r{n}`) once its old legs are terminal.
 * Idempotent by `moveId`; a group that is closing or done is left alone.
 */
export function moveTakeProfit(g0: LiveGroup, takeProfit: number, moveId: string, now: number): LiveGroup {
  if (g0.status !== 'working' || (g0.tpMoves ?? []).includes(moveId)) return g0;
  return {
    ...g0,
    takeProfit,
    tpGen: (g0.tpGen ?? 0) + 1,
    tpMoves: [...(g0.tpMoves ?? []), moveId],
    updatedAt: now,
    legs: g0.legs.map((l) => (isTakeProfitLeg(l) && !isTerminal(l.status) && !l.cancelRequested ? { ...l, cancelRequested: true, updatedAt: now } : l)),
  };
}

/**
 * Follow-ups after any change: TP legs for finished entry lots, GTC fallback for crossed TPs,
 * cancels + protective exit while closing, and the final close / cancel with its events.
 */
export function settleGroup(g0: LiveGroup, rules: InstrumentRules, cfg: LiveExecutionConfig, now: number, out: LiveEvent[]): LiveGroup {
  if (g0.status === 'closed' || g0.status === 'cancelled') return g0;
  const g: LiveGroup = { ...g0, legs: g0.legs.slice() };
  const eps = qtyEps(g);
  if (g.status === 'working') {
    coverFilledLots(g, g0, rules, eps, now, out);
    if (cancelWhenNothingFilled(g, eps, now, out)) return g;
  }
  if (g.status === 'closing' && settleClosing(g, rules, cfg, eps, now, out)) return g;
  closeWhenFlat(g, eps, now);
  return g;
}

function hasLeg(g: LiveGroup, leg: string): boolean {
  return g.legs.some((l) => l.leg === leg);
}

/**
 * A working group's take profits: one per finished entry lot, the GTC fallback of a crossed PostOnly
 * take profit of the current generation, and after an owner move the remainder of each lot whose
 * older take-profit legs are all terminal. Pushes onto `g.legs` (a fresh copy).
 */
function coverFilledLots(g: LiveGroup, g0: LiveGroup, rules: InstrumentRules, eps: number, now: number, out: LiveEvent[]): void {
  const gen = g.tpGen ?? 0;
  for (const l of g0.legs) {
    if (l.kind === 'entry' && isTerminal(l.status) && l.filledQty > eps && l.entryIndex !== null && !hasLeg(g, `t${l.entryIndex}`)) {
      placeTakeProfit(g, rules, `t${l.entryIndex}`, l.entryIndex, l.filledQty, now, out);
    }
    // the GTC fallback of a crossed PostOnly take profit of the current generation (an older one is re-placed below)
    const fallback = `g${l.leg.slice(1)}`;
    if (l.kind === 'take_profit' && l.status === 'Cancelled' && l.rejectReason === POST_ONLY_CROSS_REASON && l.entryIndex !== null && (l.tpGen ?? 0) === gen && !hasLeg(g, fallback)) {
      placeGtcFallback(g, l, fallback, rules, now, out);
    }
  }
  // owner moves: a lot whose take-profit legs are all terminal and older than the move gets its
  // remainder re-placed at the new level (nothing when they filled it, a cancel racing a fill included)
  if (gen > 0) {
    for (const l of g0.legs) {
      if (l.kind !== 'entry' || l.entryIndex === null || !isTerminal(l.status) || l.filledQty <= eps) continue;
      const k = l.entryIndex;
      const tps = g.legs.filter((t) => isTakeProfitLeg(t) && t.entryIndex === k);
      if (tps.length === 0 || tps.some((t) => !isTerminal(t.status) || (t.tpGen ?? 0) >= gen)) continue;
      const left = l.filledQty - tps.reduce((sum, t) => sum + t.filledQty, 0);
      if (left > eps) placeTakeProfit(g, rules, `t${k}r${gen}`, k, left, now, out);
    }
  }
}

/** A PostOnly take-profit leg at the group's level for lot `k`; a size below the minimum is recorded as a Rejected leg and an issue. */
function placeTakeProfit(g: LiveGroup, rules: InstrumentRules, leg: string, k: number, qty: number, now: number, out: LiveEvent[]): void {
  const gen = g.tpGen ?? 0;
  const xSide = exitSide(g.direction);
  const prep = prepareLimitOrder(rules, xSide, g.takeProfit, qty, true);
  if (prep.ok) {
    g.legs.push({ ...newLeg(g, leg, 'take_profit', xSide, prep.price, prep.qty, true, true, k, now), tpGen: gen });
    return;
  }
  const t: LiveLeg = { ...newLeg(g, leg, 'take_profit', xSide, String(g.takeProfit), String(qty), true, true, k, now), tpGen: gen };
  t.status = 'Rejected';
  t.rejectReason = `${prep.reason}: ${prep.detail}`;
  g.legs.push(t);
  out.push(issue(g, t, 'below_minimum', 'skipped', `take profit not placed (${prep.detail}); the lot stays covered by the core's stop / time exit`, now));
}

/** Re-sends the unfilled rest of a crossed PostOnly take profit `l` as a GTC limit at the same price (leg `fallback`). */
function placeGtcFallback(g: LiveGroup, l: LiveLeg, fallback: string, rules: InstrumentRules, now: number, out: LiveEvent[]): void {
  const xSide = exitSide(g.direction);
  const left = Number(l.qty) - l.filledQty;
  const prep = prepareLimitOrder(rules, xSide, Number(l.price), left, false);
  if (!prep.ok) return;
  g.legs.push({ ...newLeg(g, fallback, 'take_profit_gtc', xSide, prep.price, prep.qty, false, true, l.entryIndex, now), tpGen: g.tpGen ?? 0 });
  out.push(issue(g, l, 'post_only_would_cross', 'replaced_gtc', `PostOnly take profit ${l.qty} @ ${l.price} would have taken liquidity (market already beyond it): re-sent as GTC limit at the same price`, now));
}

/** A working group whose entries all ended with nothing filled is cancelled (live_group_cancelled). Returns whether it was. */
function cancelWhenNothingFilled(g: LiveGroup, eps: number, now: number, out: LiveEvent[]): boolean {
  const entries = g.legs.filter((l) => l.kind === 'entry');
  const entryDone = entries.every((l) => isTerminal(l.status));
  if (!entryDone || entryFilled(g).qty > eps) return false;
  g.status = 'cancelled';
  g.closedAt = now;
  g.updatedAt = now;
  const why = entries.map((l) => `${l.leg} ${l.status}${l.rejectReason ? ` (${l.rejectReason})` : ''}`).join(', ');
  out.push({ type: 'live_group_cancelled', ...base(g, now, `${g.groupId}:live-cancelled`), reason: `no entry filled: ${why}` });
  return true;
}

/**
 * A closing group: cancel everything that could still add or reduce size, then flatten what is left
 * with the next protective exit attempt. Returns true when the group was cancelled (nothing had filled).
 */
function settleClosing(g: LiveGroup, rules: InstrumentRules, cfg: LiveExecutionConfig, eps: number, now: number, out: LiveEvent[]): boolean {
  for (let i = 0; i < g.legs.length; i++) {
    const l = g.legs[i] as LiveLeg;
    if (l.kind !== 'exit' && !isTerminal(l.status) && !l.cancelRequested) g.legs[i] = { ...l, cancelRequested: true };
  }
  const othersDone = g.legs.every((l) => l.kind === 'exit' || isTerminal(l.status));
  const exitWorking = g.legs.some((l) => l.kind === 'exit' && !isTerminal(l.status));
  const left = entryFilled(g).qty - exitFilled(g).qty;
  if (othersDone && !exitWorking && entryFilled(g).qty <= eps) {
    g.status = 'cancelled';
    g.closedAt = now;
    g.updatedAt = now;
    out.push({ type: 'live_group_cancelled', ...base(g, now, `${g.groupId}:live-cancelled`), reason: `${g.exitReason ?? 'exit'} decided before any live entry filled: working orders cancelled` });
    return true;
  }
  if (othersDone && !exitWorking && left > eps) placeExitAttempt(g, rules, cfg, left, now, out);
  return false;
}

/**
 * The next protective exit of `left` (a limit bounded by exitSlippagePct from the decision's
 * reference), or, after maxExitAttempts, one `gave_up` issue: manual action needed.
 */
function placeExitAttempt(g: LiveGroup, rules: InstrumentRules, cfg: LiveExecutionConfig, left: number, now: number, out: LiveEvent[]): void {
  if (g.exitAttempts >= cfg.maxExitAttempts) {
    const last = [...g.legs].reverse().find((l) => l.kind === 'exit');
    if (last && !last.rejectReason.startsWith('gave_up')) {
      const k = g.legs.indexOf(last);
      g.legs[k] = { ...last, rejectReason: `gave_up; ${last.rejectReason}` };
      out.push(issue(g, last, 'exit_unfilled', 'gave_up', `${left} ${g.symbol} still open after ${g.exitAttempts} exit attempts: manual action needed`, now));
    }
    return;
  }
  const xSide = exitSide(g.direction);
  const ref = g.exitReference ?? g.stopLoss;
  const prep = prepareLimitOrder(rules, xSide, boundedExitPrice(g.direction, ref, cfg.exitSlippagePct), left, false);
  if (prep.ok) {
    g.legs.push(newLeg(g, `x${g.exitAttempts}`, 'exit', xSide, prep.price, prep.qty, false, true, null, now));
    g.exitAttempts += 1;
    return;
  }
  const t = newLeg(g, `x${g.exitAttempts}`, 'exit', xSide, String(ref), String(left), false, true, null, now);
  t.status = 'Rejected';
  t.rejectReason = `gave_up; ${prep.reason}: ${prep.detail}`;
  g.legs.push(t);
  g.exitAttempts += 1;
  out.push(issue(g, t, 'below_minimum', 'gave_up', `protective exit not placeable (${prep.detail}): manual action needed`, now));
}

/** Closed: every filled lot is out and no entry works; leftovers (e.g. another lot's TP a GTC fallback covered) are cancelled first. */
function closeWhenFlat(g: LiveGroup, eps: number, now: number): void {
  const inQ = entryFilled(g);
  const outQ = exitFilled(g);
  const working = g.legs.some((l) => !isTerminal(l.status));
  const entriesWorking = g.legs.some((l) => l.kind === 'entry' && !isTerminal(l.status));
  if (!(inQ.qty > eps && outQ.qty >= inQ.qty - eps && !entriesWorking)) return;
  if (working) {
    for (let i = 0; i < g.legs.length; i++) {
      const l = g.legs[i] as LiveLeg;
      if (!isTerminal(l.status) && !l.cancelRequested) g.legs[i] = { ...l, cancelRequested: true };
    }
    return;
  }
  g.status = 'closed';
  g.closedAt = now;
  g.updatedAt = now;
}

/** Legs the shell must act on: place (`placing`) or cancel (`cancelRequested`, still working). */
export function pendingActions(g: LiveGroup): Array<{ kind: 'place' | 'cancel'; leg: LiveLeg }> {
  const out: Array<{ kind: 'place' | 'cancel'; leg: LiveLeg }> = [];
  for (const l of g.legs) {
    if (l.status === 'placing' && !l.cancelRequested) out.push({ kind: 'place', leg: l });
    else if (l.cancelRequested && !isTerminal(l.status)) out.push({ kind: 'cancel', leg: l });
  }
  return out;
}
