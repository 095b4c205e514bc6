/**
 * How far the owner may move a group's take profit and stop loss (Telegram "Move TP", the dashboard's
 * sliders, the `move_tp` / `move_sl` trade commands): ONE rule, read by the page to draw its sliders
 * and enforced again by the core when the command arrives (book.ts moveTakeProfit / moveStopLoss, at
 * the core's own mark then).
 *
 * The reference price is the group's average entry: the size-weighted average fill once an entry
 * filled, else the size-weighted average of its working entry limits (what it would be if they fill).
 *
 * - Take profit: on the profit side of every working or filled entry limit and of the average fill
 *   (LONG above, SHORT below: the rule a signal's levels pass), and at most `takeProfitMaxPct` from the
 *   reference. It does not depend on the mark.
 * - Stop loss: on the loss side of the MARK (LONG below, SHORT above: a stop is never placed where the
 *   last close would already have hit it; closing at the market is the `close_position` command) and
 *   of every entry still working (a stop inside the grid would stop the group out before that entry
 *   could fill), and at most `stopLossMaxPct` from the reference (the tier's adaptive-stop cap, config
 *   protections.adaptiveStops.capPct). A filled group's stop MAY move past its entry (break-even, or
 *   a locked-in profit) as long as it stays on the loss side of the mark.
 * - Neither can move (null) on a live group whose exit the core already decided (a protective exit is
 *   final; the exchange is closing it) or that holds nothing and is only waiting for its entries'
 *   cancels. The stop also cannot move without a mark (`groupMark`: no candle of the group's feed since
 *   it was placed).
 * - The ranges are inclusive, each strict side kept `LEVEL_GAP_PCT` away from its limit (a slider's
 *   end is a valid level); a range that would be empty is null.
 */
import type { PerTier, ProtectionsConfig } from '../config/strategy.js';
import type { Tier } from '../model/market.js';
import type { AccountState, Position } from './model.js';

export interface OwnerLevelLimits {
  /** The TP may sit at most this far from the average entry, % (config/telegram dashboard.takeProfitMaxPct). */
  takeProfitMaxPct: number;
  /** The stop may sit at most this far from the average entry, % (the tier's adaptive-stop cap). */
  stopLossMaxPct: number;
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
}

/**
 * How far a strict side of a range stays from its limit, % of that limit (1 basis point): the
 * inclusive range's end is then a level the book accepts (strictly beyond the entry, strictly on the
 * loss side of the mark). Proposed config field: `dashboard.levelGapPct`.
 */
export const LEVEL_GAP_PCT = 0.01;

const PCT = 100;

/** The owner-level config from the protections config and the dashboard's TP max. */
export function ownerLevelConfig(protections: Pick<ProtectionsConfig, 'adaptiveStops'>, takeProfitMaxPct: number): OwnerLevelConfig {
  return { takeProfitMaxPct, stopLossCapPct: protections.adaptiveStops.capPct };
}

/** The limits of a group of `tier`. */
export function ownerLevelLimits(c: OwnerLevelConfig, tier: Tier): OwnerLevelLimits {
  return { takeProfitMaxPct: c.takeProfitMaxPct, stopLossMaxPct: c.stopLossCapPct[tier] };
}

/**
 * The mark the owner's levels are checked against: the account's last close of the group's symbol, but
 * only once the group has processed a candle of its feed (before that the stored mark may be an old
 * position's). Null: no mark for this group yet.
 */
export function groupMark(a: Pick<AccountState, 'marks'>, p: Position): number | null {
  if (p.lastCandleOpen < 0) return null;
  const m = a.marks[p.symbol];
  return m !== undefined && Number.isFinite(m) && m > 0 ? m : null;
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

  // take profit: beyond every working / filled entry limit and the average fill
  let tpSide = long ? -Infinity : Infinity;
  for (const e of p.entries) if (e.status !== 'cancelled') tpSide = long ? Math.max(tpSide, e.price) : Math.min(tpSide, e.price);
  if (p.filledQty > 0) tpSide = long ? Math.max(tpSide, p.avgEntry) : Math.min(tpSide, p.avgEntry);
  const tpFar = long ? ref * (1 + limits.takeProfitMaxPct / PCT) : Math.max(ref * (1 - limits.takeProfitMaxPct / PCT), ref * gap);
  const takeProfit = long ? range(tpSide * (1 + gap), tpFar) : range(tpFar, tpSide * (1 - gap));

  // stop loss: on the loss side of the mark and of every working entry, within the cap
  let stopLoss: PriceRange | null = null;
  if (mark !== null && Number.isFinite(mark) && mark > 0) {
    let slSide = mark;
    for (const e of p.entries) if (e.status === 'pending') slSide = long ? Math.min(slSide, e.price) : Math.max(slSide, e.price);
    const slFar = long ? ref * (1 - limits.stopLossMaxPct / PCT) : ref * (1 + limits.stopLossMaxPct / PCT);
    stopLoss = long ? range(slFar, slSide * (1 - gap)) : range(slSide * (1 + gap), slFar);
  }
  return { takeProfit, stopLoss };
}

/**
 * The bounds of group `groupId` of account `a` as the core checks them (its mark: groupMark; its tier's
 * limits), for the dashboard's PositionView.bounds and any pre-check before a command is published
 * (Telegram's "Move TP", the dashboard's actions). Null: no such group.
 */
export function groupLevelBounds(a: Pick<AccountState, 'marks' | 'positions'>, groupId: string, c: OwnerLevelConfig): (OwnerLevelBounds & { mark: number | null }) | null {
  const p = a.positions.find((x) => x.groupId === groupId);
  if (!p) return null;
  const mark = groupMark(a, p);
  return { ...ownerLevelBounds(p, mark, ownerLevelLimits(c, p.tier)), mark };
}

/** Why ownerLevelBounds has no range for `kind` on `p` at `mark` (for the owner's refusal message). */
export function immovableReason(p: Position, mark: number | null, kind: 'take_profit' | 'stop_loss'): string {
  const x = p.external;
  if (x?.decision && x.decision.reason !== 'take_profit') return `its ${x.decision.reason.replace(/_/g, ' ')} exit is already decided (the exchange is closing it)`;
  if (referenceEntry(p) === null || !movable(p)) return 'nothing is held and its entries are being cancelled';
  if (kind === 'stop_loss' && (mark === null || !(mark > 0))) return 'no mark yet (no candle of its feed since it was placed)';
  return kind === 'stop_loss'
    ? 'the mark is already at or beyond the widest stop allowed (the tier\'s adaptive-stop cap): close it instead'
    : 'no room between its entries and the take-profit maximum';
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
