/**
 * How far the owner may move a group's take profit and stop loss (Telegram "Move TP", the dashboard's
 * sliders, the `move_tp` / `move_sl` trade commands): ONE rule, read by the page to draw its sliders
 * and enforced again by the core when the command arrives (book.ts moveTakeProfit / moveStopLoss, at
 * the core's own mark then).
 *
 * The reference price is the group's average entry: the size-weighted average fill once an entry
 * filled, else the size-weighted average of its working entry limits (what it would be if they fill).
 *
 * - Take profit: on the profit side of every working or filled entry limit, of the average fill
 *   (LONG above, SHORT below: the rule a signal's levels pass) AND of the mark when there is one (a TP
 *   the market is already past would book a fill that never traded on paper, and be rejected PostOnly
 *   live: exiting now is `close_position`), and at most `takeProfitMaxPct` from the reference.
 * - Stop loss: on the loss side of the MARK (LONG below, SHORT above: a stop is never placed where the
 *   last close would already have hit it; closing at the market is the `close_position` command) and
 *   of every entry still working (a stop inside the grid would stop the group out before that entry
 *   could fill), and at most `stopLossMaxPct` from the reference (the tier's adaptive-stop cap, config
 *   protections.adaptiveStops.capPct). A filled group's stop MAY move past its entry (break-even, or
 *   a locked-in profit) as long as it stays on the loss side of the mark. A stop move never makes the
 *   group reserve more risk than max(its current risk, what the sizing rules allow a trade of its
 *   engine: sizing.ts groupRiskCap, the per-trade budget, the scalp total cap and the notional caps),
 *   so the far end also stops where the re-priced risk (`atStopLoss`) reaches that cap.
 * - The mark (`groupMark`) is the close of the last candle of the GROUP'S feed (Position.lastClose),
 *   refused when older than the feed interval plus `maxMarkAgeMs` (config/telegram
 *   dashboard.maxMarkAgeMs): a fresh hourly mark may be an hour old, a 1m one may not.
 * - Neither can move (null) on a live group whose exit the core already decided (a protective exit is
 *   final; the exchange is closing it) or that holds nothing and is only waiting for its entries'
 *   cancels. The stop also cannot move without a mark (`groupMark`: no candle of the group's feed since
 *   it was placed).
 * - The ranges are inclusive, each strict side kept `LEVEL_GAP_PCT` away from its limit (a slider's
 *   end is a valid level); a range that would be empty is null.
 */
import type { PerTier, ProtectionsConfig, RiskConfig } from '../config/strategy.js';
import { INTERVAL_MS } from '../model/market.js';
import { accountEquity, largestNotional, openNotional, openRisk } from './account.js';
import { heldQty, qtyEps, refreshExternal } from './external-groups.js';
import type { AccountState, Position } from './model.js';
import { reservedRisk } from './paper-fills.js';
import { groupRiskCap, type GroupRiskCap } from './sizing.js';

export interface OwnerLevelLimits {
  /** The TP may sit at most this far from the average entry, % (config/telegram dashboard.takeProfitMaxPct). */
  takeProfitMaxPct: number;
  /** The stop may sit at most this far from the average entry, % (the tier's adaptive-stop cap). */
  stopLossMaxPct: number;
  /** A stop move may not make the group reserve more than this (sizing.ts groupRiskCap; Infinity: no bound). */
  maxRisk: number;
}

export interface PriceRange {
  min: number;
  max: number;
}

export interface OwnerLevelBounds {
  takeProfit: PriceRange | null;
  stopLoss: PriceRange | null;
}

/**
 * The config the limits come from: the TP max (config/telegram `dashboard.takeProfitMaxPct`) and the
 * stop caps per tier (config/protections `adaptiveStops.capPct`).
 */
export interface OwnerLevelConfig {
  takeProfitMaxPct: number;
  stopLossCapPct: PerTier<number>;
  /** The sizing rules a moved stop's risk stays within (config/strategy risk). */
  risk: RiskConfig;
  /** A mark older than its feed interval plus this is stale (config/telegram dashboard.maxMarkAgeMs). */
  maxMarkAgeMs: number;
}

/** The dashboard's part of the owner-level config (config/telegram `dashboard`). */
export interface OwnerLevelDashboard {
  takeProfitMaxPct: number;
  maxMarkAgeMs: number;
}

/**
 * How far a strict side of a range stays from its limit, % of that limit (1 basis point): the
 * inclusive range's end is then a level the book accepts (strictly beyond the entry, strictly on the
 * loss side of the mark). Proposed config field: `dashboard.levelGapPct`.
 */
export const LEVEL_GAP_PCT = 0.01;

const PCT = 100;

/** The owner-level config from the trading config (adaptive-stop caps, risk) and config/telegram `dashboard`. */
export function ownerLevelConfig(cfg: { protections: Pick<ProtectionsConfig, 'adaptiveStops'>; risk: RiskConfig }, dashboard: OwnerLevelDashboard): OwnerLevelConfig {
  return { takeProfitMaxPct: dashboard.takeProfitMaxPct, stopLossCapPct: cfg.protections.adaptiveStops.capPct, risk: cfg.risk, maxMarkAgeMs: dashboard.maxMarkAgeMs };
}

/** The risk cap of group `p` of account `a` (sizing.ts groupRiskCap over the account's open groups). */
export function groupRiskCapOf(c: Pick<OwnerLevelConfig, 'risk'>, p: Position, a: Pick<AccountState, 'positions' | 'startingEquity' | 'realizedPnl'>): GroupRiskCap {
  const acc = a as AccountState;
  const exposure = { risk: openRisk(acc, null), scalpRisk: openRisk(acc, 'SCALP'), notional: openNotional(acc), largest: largestNotional(acc) };
  return groupRiskCap(p.engine, p.risk, accountEquity(acc), exposure, c.risk);
}

/** The limits of group `p` of account `a`: its tier's caps and its risk cap. */
export function ownerLevelLimits(c: OwnerLevelConfig, p: Position, a: Pick<AccountState, 'positions' | 'startingEquity' | 'realizedPnl'>): OwnerLevelLimits {
  return { takeProfitMaxPct: c.takeProfitMaxPct, stopLossMaxPct: c.stopLossCapPct[p.tier], maxRisk: groupRiskCapOf(c, p, a).cap };
}

/** When the group's mark was made: the close time of the last candle of its feed (null: none yet). */
export function groupMarkTime(p: Position): number | null {
  return p.lastCandleOpen < 0 ? null : p.lastCandleOpen + INTERVAL_MS[p.feedInterval];
}

/** Whether the group's mark is too old at `now` (see the header: older than its feed interval + maxAgeMs). */
export function markStale(p: Position, now: number, maxAgeMs: number): boolean {
  const t = groupMarkTime(p);
  return t !== null && now - t > INTERVAL_MS[p.feedInterval] + maxAgeMs;
}

/**
 * The mark the owner's levels and close are checked against: the close of the last candle of the
 * GROUP'S feed (Position.lastClose; a group stored before that field reads the account's mark of the
 * symbol only when no other open group of the symbol reads another feed). Null: no candle of its feed
 * since the group was placed, or that candle is stale at `now` (markStale).
 */
export function groupMark(a: Pick<AccountState, 'marks' | 'positions'>, p: Position, now: number, maxAgeMs: number): number | null {
  if (p.lastCandleOpen < 0 || markStale(p, now, maxAgeMs)) return null;
  let m = p.lastClose;
  if (m === undefined) {
    const mixed = a.positions.some((x) => x.symbol === p.symbol && (x.feedVenue !== p.feedVenue || x.feedInterval !== p.feedInterval));
    m = mixed ? undefined : a.marks[p.symbol];
  }
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : null;
}

/** Why groupMark is null (for the owner's refusal messages). */
export function noMarkReason(p: Position, now: number, maxAgeMs: number): string {
  const t = groupMarkTime(p);
  if (t !== null && markStale(p, now, maxAgeMs)) {
    return `the last ${p.feedVenue} ${p.feedInterval} close of ${p.symbol} is ${Math.round((now - t) / 60_000)} min old (max ${Math.round((INTERVAL_MS[p.feedInterval] + maxAgeMs) / 60_000)} min): no fresh mark`;
  }
  return 'no mark yet (no candle of its feed since it was placed)';
}

/** The group at stop `stopLoss`, its reserved risk re-computed (simulated: paper-fills.ts; external: from its fills). */
export function atStopLoss(p: Position, stopLoss: number): Position {
  const q: Position = { ...p, stopLoss };
  if (q.external) refreshExternal(q, q.external);
  else q.risk = reservedRisk(q, q.entries);
  return q;
}

/** The group's average entry: the average fill once filled, else the size-weighted working limits (null: nothing left). */
export function referenceEntry(p: Position): number | null {
  if (p.filledQty > 0 && p.avgEntry > 0) return p.avgEntry;
  let qty = 0;
  let value = 0;
  for (const e of p.entries) {
    if (e.status !== 'pending') continue;
    qty += e.qty;
    value += e.price * e.qty;
  }
  return qty > 0 ? value / qty : null;
}

/** Whether the group's levels can move at all (see the header: a live group being exited cannot). */
function movable(p: Position): boolean {
  const x = p.external;
  if (!x) return true;
  if (x.decision !== null && x.decision.reason !== 'take_profit') return false;
  const held = p.filledQty - x.exitedQty;
  if (p.filledQty > 0) return held > 0;
  return x.cancelDecidedAt === null && p.entries.some((e) => e.status === 'pending');
}

const range = (min: number, max: number): PriceRange | null => (Number.isFinite(min) && Number.isFinite(max) && min > 0 && min <= max ? { min, max } : null);

/** The TP and SL ranges the owner may set on `p` at mark `mark` (null: that level cannot be moved now). */
export function ownerLevelBounds(p: Position, mark: number | null, limits: OwnerLevelLimits): OwnerLevelBounds {
  const ref = referenceEntry(p);
  if (ref === null || !movable(p)) return { takeProfit: null, stopLoss: null };
  const long = p.direction === 'LONG';
  const gap = LEVEL_GAP_PCT / PCT;

  const hasMark = mark !== null && Number.isFinite(mark) && mark > 0;

  // take profit: beyond every working / filled entry limit, the average fill and the mark
  let tpSide = long ? -Infinity : Infinity;
  for (const e of p.entries) if (e.status !== 'cancelled') tpSide = long ? Math.max(tpSide, e.price) : Math.min(tpSide, e.price);
  if (p.filledQty > 0) tpSide = long ? Math.max(tpSide, p.avgEntry) : Math.min(tpSide, p.avgEntry);
  if (hasMark) tpSide = long ? Math.max(tpSide, mark) : Math.min(tpSide, mark);
  const tpFar = long ? ref * (1 + limits.takeProfitMaxPct / PCT) : Math.max(ref * (1 - limits.takeProfitMaxPct / PCT), ref * gap);
  const takeProfit = long ? range(tpSide * (1 + gap), tpFar) : range(tpFar, tpSide * (1 - gap));

  // stop loss: on the loss side of the mark and of every working entry, within the cap and the risk cap
  let stopLoss: PriceRange | null = null;
  if (hasMark) {
    let slSide = mark;
    for (const e of p.entries) if (e.status === 'pending') slSide = long ? Math.min(slSide, e.price) : Math.max(slSide, e.price);
    const near = long ? slSide * (1 - gap) : slSide * (1 + gap);
    const far = riskBoundedFar(p, near, long ? ref * (1 - limits.stopLossMaxPct / PCT) : ref * (1 + limits.stopLossMaxPct / PCT), limits.maxRisk);
    if (far !== null) stopLoss = long ? range(far, near) : range(near, far);
  }
  return { takeProfit, stopLoss };
}

/** Bisection steps of riskBoundedFar (2^-60 of the range: below a price's float resolution). */
const RISK_BISECTIONS = 60;

/**
 * The far end of the stop range: `far` (the distance cap) when the group's risk there is within
 * `maxRisk`, else the stop between `near` and `far` where it reaches `maxRisk` (the risk grows
 * monotonically with the stop's distance; bisection keeps the returned end on the allowed side). Null:
 * even `near` reserves more than `maxRisk`.
 */
function riskBoundedFar(p: Position, near: number, far: number, maxRisk: number): number | null {
  if (!(maxRisk < Infinity) || atStopLoss(p, far).risk <= maxRisk) return far;
  if (atStopLoss(p, near).risk > maxRisk) return null;
  let ok = near;
  let bad = far;
  for (let i = 0; i < RISK_BISECTIONS; i++) {
    const mid = (ok + bad) / 2;
    if (mid === ok || mid === bad) break;
    if (atStopLoss(p, mid).risk <= maxRisk) ok = mid;
    else bad = mid;
  }
  return ok;
}

/**
 * The bounds of group `groupId` of account `a` as the core checks them (its mark: groupMark; its tier's
 * limits), for the dashboard's PositionView.bounds and any pre-check before a command is published
 * (Telegram's "Move TP", the dashboard's actions). Null: no such group.
 */
export function groupLevelBounds(a: Pick<AccountState, 'marks' | 'positions' | 'startingEquity' | 'realizedPnl'>, groupId: string, c: OwnerLevelConfig, now: number): (OwnerLevelBounds & { mark: number | null }) | null {
  const p = a.positions.find((x) => x.groupId === groupId);
  if (!p) return null;
  const mark = groupMark(a, p, now, c.maxMarkAgeMs);
  return { ...ownerLevelBounds(p, mark, ownerLevelLimits(c, p, a)), mark };
}

/**
 * Why ownerLevelBounds has no range for `kind` on `p` at `mark` (for the owner's refusal message);
 * `noMark`: why the mark is null (noMarkReason).
 */
export function immovableReason(p: Position, mark: number | null, kind: 'take_profit' | 'stop_loss', noMark = 'no mark yet (no candle of its feed since it was placed)'): string {
  const x = p.external;
  if (x?.decision && x.decision.reason !== 'take_profit') return `its ${x.decision.reason.replace(/_/g, ' ')} exit is already decided (the exchange is closing it)`;
  if (referenceEntry(p) === null || !movable(p)) return 'nothing is held and its entries are being cancelled';
  if (kind === 'stop_loss' && (mark === null || !(mark > 0))) return noMark;
  return kind === 'stop_loss'
    ? 'no stop on the loss side of the mark stays within the tier\'s adaptive-stop cap and the group\'s risk cap (sizing.ts groupRiskCap): close it instead'
    : 'no room between its entries, the mark and the take-profit maximum';
}

/**
 * Whether the owner's close of `p` needs a mark (core.ts ownerClosePosition): only when something is
 * held; an unfilled group just has its entries cancelled. The dashboard's pre-check reads this too.
 */
export function closeNeedsMark(p: Position): boolean {
  return p.external ? heldQty(p, p.external) > qtyEps(p) : p.filledQty > 0;
}

/**
 * Which limit a stop beyond the far end of its range breaks: the tier's distance cap, else the risk cap
 * (`risk`: what the group would reserve at `level`).
 */
export function stopFarBreach(p: Position, limits: OwnerLevelLimits, level: number): { kind: 'distance' } | { kind: 'risk'; risk: number } {
  const ref = referenceEntry(p);
  if (ref === null) return { kind: 'distance' };
  const long = p.direction === 'LONG';
  const capEnd = long ? ref * (1 - limits.stopLossMaxPct / PCT) : ref * (1 + limits.stopLossMaxPct / PCT);
  if (long ? level < capEnd : level > capEnd) return { kind: 'distance' };
  return { kind: 'risk', risk: atStopLoss(p, level).risk };
}

/** Which way a level breaks its range: `side` = the entry / mark side (wrong side), `distance` = beyond the max distance. */
export type LevelBreach = 'side' | 'distance';

/**
 * Where `level` falls against the range of `kind` on a `direction` group: null inside, else which end
 * it breaks (for TP the entry side is the low end of a LONG; for SL the mark side is the high end).
 */
export function levelBreach(kind: 'take_profit' | 'stop_loss', long: boolean, r: PriceRange, level: number): LevelBreach | null {
  if (level >= r.min && level <= r.max) return null;
  const below = level < r.min;
  // LONG TP: below = entry side; LONG SL: above = mark side; SHORT mirrors
  const sideIsLow = kind === 'take_profit' ? long : !long;
  return below === sideIsLow ? 'side' : 'distance';
}
