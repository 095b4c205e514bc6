/**
 * How far the owner may move a group's take profit and stop loss (Telegram "Move TP", the dashboard's
 * sliders, the `move_tp` / `move_sl` trade commands): ONE rule, read by the page to draw its sliders
 * and enforced again by the core when the command arrives (book.ts).
 *
 * CONTRACT STUB (issue 12): the helper that builds move_sl / close_position replaces the body; the
 * signature and meaning stay.
 */
import type { Position } from './model.js';

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

/** The TP and SL ranges the owner may set on `p` at mark `mark` (null: that level cannot be moved now). */
export function ownerLevelBounds(p: Position, mark: number | null, limits: OwnerLevelLimits): { takeProfit: PriceRange | null; stopLoss: PriceRange | null } {
  void p;
  void mark;
  void limits;
  return { takeProfit: null, stopLoss: null };
}
