/**
 * The trading book (SPEC 5): the transitions of a JSON-serialisable account of trade groups. A signal
 * places a group's limit entries (`submitSignal`); closed candles (`onCandle`), suspect candles, the
 * entry-timeout sweep, a PANIC regime and owner commands move the groups. Nothing here reads a clock
 * or does I/O; the caller passes `now`. Every transition returns the same account object when nothing
 * changed.
 *
 * The rules live beside it, one concern per module:
 * - paper-fills.ts: how a candle fills, exits and times out a SIMULATED group (the fill model);
 * - external-groups.ts: groups whose fills come from an exchange (live): candles only DECIDE, the
 *   exchange's fills (`applyFill`, `endEntry`) are booked;
 * - costs.ts: maker / taker fee and slippage rates, fills, the cost-inclusive loss per unit at the stop;
 * - account.ts: equity, unrealized P&L, reserved risk and notional, and the totals a transition books;
 * - trade-group.ts: event header, favourable excursion and the closed-trade record both kinds share.
 */
import { INTERVAL_MS, type Candle } from '../model/market.js';
import type { AccountState, EntryOrder, Position, TradingConfig } from './model.js';
import type { ExitReason, Signal, TradeEvent } from '../model/trading.js';
import { fillSourceOf, NO_TRADE_EVENTS, settleAccount, type BookResult } from './account.js';
import { costRates, stoppedLossPerUnit } from './costs.js';
import { decideCancel, decideExit, heldQty, newExternal, qtyEps, stepExternal } from './external-groups.js';
import { groupIdOf } from './group-id.js';
import { cancelPending, closeGroup, stepPosition } from './paper-fills.js';
import { atStopLoss, groupMark, immovableReason, levelBreach, noMarkReason, ownerLevelBounds, ownerLevelLimits, stopFarBreach, type OwnerLevelConfig } from './owner-levels.js';
import { eventBase } from './trade-group.js';

const PCT = 100;

// ---------- transitions ----------

interface OrderPlan {
  /** One quantity per `signal.entries` price. */
  qtys: number[];
  stopLoss: number;
  takeProfit: number;
}

/** Places the limit entries of an accepted signal (no checks: the engine decides; see core.ts). */
export function submitSignal(a: AccountState, signal: Signal, plan: OrderPlan, cfg: TradingConfig, now: number): BookResult {
  if (plan.qtys.length !== signal.entries.length) throw new Error('order plan: one qty per entry price');
  const groupId = groupIdOf(signal.signalId);
  const costs = costRates(signal.engine, signal.tier, cfg);
  const feed = cfg.feeds[signal.engine];
  const entries: EntryOrder[] = signal.entries.map((price, k) => ({
    orderId: `${groupId}:e${k}`,
    price,
    qty: plan.qtys[k] as number,
    status: 'pending',
    fillPrice: null,
    fillTime: null,
    fee: 0,
    slippage: 0,
    liquidity: null,
    filledQty: 0,
  }));
  let risk = 0;
  let notional = 0;
  for (const e of entries) {
    risk += stoppedLossPerUnit(signal.direction, e.price, plan.stopLoss, costs) * e.qty;
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
    costs,
    feedVenue: feed.venue,
    feedInterval: feed.interval,
    lastCandleOpen: -1,
    confidence: signal.confidence,
    features: signal.features,
    external: fillSourceOf(a) === 'external' ? newExternal() : null,
  };
  const event: TradeEvent = {
    type: 'order_placed',
    ...eventBase(a.accountId, p, now, `${groupId}:placed`),
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
  return { account: settleAccount(a, next, out, c.symbol, c.close), events: out };
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
  return { account: settleAccount(a, next, out, null, 0), events: out };
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
  return { account: settleAccount(a, next, out, null, 0), events: out };
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
  return { account: settleAccount(a, next, out, null, 0), events: out };
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
    return { account: settleAccount(a, next, out, null, 0), events: out };
  }
  if (p.filledQty === 0) {
    next[k] = cancelPending(p, a.accountId, now, out) as Position;
  } else {
    closeGroup(p, 'manual', price, now, a.accountId, now, out);
    next[k] = null as unknown as Position;
  }
  return { account: settleAccount(a, next, out, null, 0), events: out };
}

export type MoveLevelOutcome =
  /** Moved (one take_profit_moved / stop_loss_moved event). */
  | 'applied'
  /** The group already has this level. */
  | 'unchanged'
  /** No such group (closed, timed out, never placed). */
  | 'unknown_group'
  /** The command names another symbol than the group's. */
  | 'symbol_mismatch'
  /** Not a price, or on the wrong side (TP: not beyond every entry and the average fill; SL: not on the loss side of the mark and the working entries). */
  | 'invalid_level'
  /** Beyond the allowed distance from the average entry (TP: dashboard.takeProfitMaxPct; SL: the tier's adaptive-stop cap). */
  | 'out_of_bounds'
  /** The level cannot move now (owner-levels.ts: a live group being exited; a stop without a mark). */
  | 'not_movable';

interface MoveLevelResult extends BookResult {
  outcome: MoveLevelOutcome;
  detail: string;
}

const LEVEL_NAME = { take_profit: 'take profit', stop_loss: 'stop loss' } as const;

/** A range end for a message (10 significant digits: no float noise in the owner's chat). */
const px = (x: number): string => String(Number(x.toPrecision(10)));

/**
 * An owner level move (take profit or stop loss), checked against ownerLevelBounds at the account's
 * mark for the group (owner-levels.ts groupMark: the same rule the dashboard's sliders are drawn
 * with). A stop move re-computes the group's reserved risk at the new stop.
 */
function moveLevel(a: AccountState, kind: 'take_profit' | 'stop_loss', groupId: string, symbol: string, level: number, commandId: string, now: number, levels: OwnerLevelConfig): MoveLevelResult {
  const k = a.positions.findIndex((p) => p.groupId === groupId);
  const p = a.positions[k];
  const name = LEVEL_NAME[kind];
  const none = (outcome: MoveLevelOutcome, detail: string): MoveLevelResult => ({ account: a, events: NO_TRADE_EVENTS, outcome, detail });
  if (!p) return none('unknown_group', `no open trade group ${groupId}`);
  if (p.symbol !== symbol) return none('symbol_mismatch', `${groupId} trades ${p.symbol}, not ${symbol}`);
  if (!(Number.isFinite(level) && level > 0)) return none('invalid_level', `${name} ${level} is not a price`);
  const current = kind === 'take_profit' ? p.takeProfit : p.stopLoss;
  if (level === current) return none('unchanged', `${groupId} already has its ${name} at ${px(level)}`);
  const mark = groupMark(a, p, now, levels.maxMarkAgeMs);
  const limits = ownerLevelLimits(levels, p, a);
  const b = ownerLevelBounds(p, mark, limits);
  const r = kind === 'take_profit' ? b.takeProfit : b.stopLoss;
  if (r === null) return none('not_movable', `the ${name} of ${groupId} cannot move now: ${immovableReason(p, mark, kind, noMarkReason(p, now, levels.maxMarkAgeMs))}`);
  const long = p.direction === 'LONG';
  const breach = levelBreach(kind, long, r, level);
  if (breach === 'side') {
    const side = kind === 'take_profit' ? 'every entry, the average fill and the mark' : 'the mark and every working entry';
    return none('invalid_level', `${p.direction} ${name} ${px(level)} must be ${(kind === 'take_profit') === long ? 'above' : 'below'} ${side} (allowed ${px(r.min)} .. ${px(r.max)})`);
  }
  if (breach === 'distance' && kind === 'stop_loss') {
    const far = stopFarBreach(p, limits, level);
    if (far.kind === 'risk') return none('out_of_bounds', `${p.direction} ${name} ${px(level)} would reserve ${far.risk.toFixed(2)} of risk, cap ${limits.maxRisk.toFixed(2)} (the sizing rules' risk budget and caps; allowed ${px(r.min)} .. ${px(r.max)})`);
  }
  if (breach === 'distance') {
    const pct = kind === 'take_profit' ? `${limits.takeProfitMaxPct} % (dashboard.takeProfitMaxPct)` : `${limits.stopLossMaxPct} % (the ${p.tier} adaptive-stop cap)`;
    return none('out_of_bounds', `${p.direction} ${name} ${px(level)} is more than ${pct} from the average entry (allowed ${px(r.min)} .. ${px(r.max)})`);
  }
  const next = a.positions.slice();
  const base = eventBase(a.accountId, p, now, `${groupId}:${kind === 'take_profit' ? 'tp' : 'sl'}:${commandId}`);
  let event: TradeEvent;
  if (kind === 'take_profit') {
    next[k] = { ...p, takeProfit: level };
    event = { type: 'take_profit_moved', ...base, from: p.takeProfit, to: level, commandId };
  } else {
    next[k] = atStopLoss(p, level);
    event = { type: 'stop_loss_moved', ...base, from: p.stopLoss, to: level, commandId };
  }
  return { account: { ...a, positions: next }, events: [event], outcome: 'applied', detail: `${px(current)} -> ${px(level)}` };
}

/**
 * Owner command: moves a group's take profit to `takeProfit` (simulated and external alike; for an
 * external group the live executor re-places its resting take-profit orders on the event). The level
 * must be inside ownerLevelBounds (owner-levels.ts): on the profit side of every entry limit and of the
 * average fill (LONG: above, SHORT: below), the same rule a signal's levels pass, and at most
 * `levels.takeProfitMaxPct` from the average entry; candles exit at the new level from the next candle
 * on. The half-TP mark already reached stays reached. `commandId` makes the event id deterministic.
 */
export function moveTakeProfit(a: AccountState, groupId: string, symbol: string, takeProfit: number, commandId: string, now: number, levels: OwnerLevelConfig): MoveLevelResult {
  return moveLevel(a, 'take_profit', groupId, symbol, takeProfit, commandId, now, levels);
}

/**
 * Owner command: moves a group's stop loss to `stopLoss` (one stop_loss_moved event). The level must be
 * inside ownerLevelBounds at the group's mark: on the loss side of the mark (a stop is never placed
 * where the last close would already have hit it) and of every working entry, and at most the tier's
 * adaptive-stop cap from the average entry; a filled group's stop may move past its entry
 * (break-even or a locked-in profit). The reserved risk follows the new stop (never below 0). Candles
 * check the new stop from the next candle on, for simulated AND external groups alike: stops are
 * decided by the core on candles (external-groups.ts stepExternal), no exchange order rests at the
 * stop, so a live group needs no exchange action (the live ledger only records the level).
 */
export function moveStopLoss(a: AccountState, groupId: string, symbol: string, stopLoss: number, commandId: string, now: number, levels: OwnerLevelConfig): MoveLevelResult {
  return moveLevel(a, 'stop_loss', groupId, symbol, stopLoss, commandId, now, levels);
}
