/**
 * Position sizing (SPEC 4, 12).
 *
 * Scalps, by risk: perTrade = equity x perTradeRiskPct (0.5 %); the cap over ALL open scalp groups is
 * equity x totalRiskPct (2 %), risk = Position.risk (reserved from order placement, pending
 * entries included). A new scalp gets budget = min(perTrade x multiplier, remaining) where remaining =
 * cap - used; when nothing remains (<= RISK_EPSILON_FRACTION x equity) it gets none (rejected).
 * multiplier = regime size multiplier (CAUTION 0.5, EUPHORIA 0.7; PANIC halts before sizing) x
 * swingConflictSizeFactor (0.5) when a SWING group is on the same pair.
 *
 * Swings, by allocation: allocatable = equity x (1 - swingReservePct) (20 % reserve); setup allocation =
 * allocatable x swingAllocationPct[setup] (DCA 40 / SWING 30 / CHANNEL 30); one position gets
 * min(allocation / maxPerStrategy x multiplier, allocation - notional already placed in that setup).
 *
 * Risk is the loss when stopped INCLUDING the round trip's costs (book.ts stoppedLossPerUnit: entry
 * slippage and fee, the stop's exit slippage and fee, the same rules the paper fills apply), so a scalp
 * sized to risk 0.5 % loses about 0.5 % when stopped (a gap through the stop aside).
 *
 * Grids: every entry of a group gets the same NOTIONAL (qty_i = c / price_i), for scalps with c chosen
 * so that Σ stoppedLossPerUnit(price_i, stop) x qty_i equals the risk budget exactly.
 *
 * Notional caps (SPEC 4), scalps and swings, paper and live: the sizing basis B = equity - Σ risk of
 * every open group (the equity left if every open stop is hit); one group's notional <= maxLeverage x B
 * (2x), all open groups' notional (pending entries included) <= maxTotalLeverage x B (3x). Deducting
 * the open risk keeps the caps true against the equity of later moments too: other groups stopping
 * out cost at most their reserved risk (gaps aside). A size above the room is cut to the room (equal
 * notional per entry, so the risk shrinks in proportion); when the room is nothing (<=
 * RISK_EPSILON_FRACTION x equity) or the cut size is below minCappedNotionalPct of equity, the signal
 * is rejected (`notional_cap`) with the numbers in its detail.
 * Equity is realized equity (starting + realized P&L).
 */
import type { RiskConfig, SwingSetup } from '../config/strategy.js';
import { stoppedLossPerUnit, type CostRates } from './book.js';
import { RISK_EPSILON_FRACTION } from './model.js';
import type { Direction, StrategyId } from './types.js';

const PCT = 100;

export interface ScalpBudget {
  perTrade: number;
  cap: number;
  used: number;
  remaining: number;
  multiplier: number;
  /** Risk this trade may take (0 = none). */
  budget: number;
}

export function scalpRiskBudget(equity: number, usedRisk: number, multiplier: number, risk: RiskConfig): ScalpBudget {
  const perTrade = (equity * risk.scalp.perTradeRiskPct) / PCT;
  const cap = (equity * risk.scalp.totalRiskPct) / PCT;
  let remaining = Math.max(0, cap - usedRisk);
  if (remaining <= equity * RISK_EPSILON_FRACTION) remaining = 0;
  const budget = Math.min(perTrade * multiplier, remaining);
  return { perTrade, cap, used: usedRisk, remaining, multiplier, budget };
}

/** Equal-notional quantities whose total cost-inclusive risk to `stop` equals `budget`. */
export function qtysForRisk(direction: Direction, entries: readonly number[], stop: number, budget: number, rates: CostRates): number[] {
  let perUnitNotional = 0;
  for (const e of entries) perUnitNotional += stoppedLossPerUnit(direction, e, stop, rates) / e;
  const c = budget / perUnitNotional;
  return entries.map((e) => c / e);
}

export interface NotionalRoom {
  /** equity - Σ risk reserved by the open groups. */
  basis: number;
  /** maxLeverage x basis. */
  perPosition: number;
  /** maxTotalLeverage x basis. */
  totalCap: number;
  /** Σ notional of the open groups (pending entries included). */
  used: number;
  /** Notional the new group may take: max(0, min(perPosition, totalCap - used)). */
  room: number;
}

export function notionalRoom(equity: number, openRiskAll: number, openNotionalAll: number, risk: RiskConfig): NotionalRoom {
  const basis = Math.max(0, equity - openRiskAll);
  const perPosition = basis * risk.maxLeverage;
  const totalCap = basis * risk.maxTotalLeverage;
  const room = Math.max(0, Math.min(perPosition, totalCap - openNotionalAll));
  return { basis, perPosition, totalCap, used: openNotionalAll, room };
}

export type CappedSize =
  | { ok: true; qtys: number[]; notional: number; cappedBy: 'position' | 'total' | null }
  | { ok: false; detail: string };

/** `qtys` (equal notional per entry) inside the notional room: unchanged, cut to the room, or rejected (see the header). */
export function capToRoom(entries: readonly number[], qtys: readonly number[], room: NotionalRoom, equity: number, risk: RiskConfig): CappedSize {
  let notional = 0;
  for (let i = 0; i < entries.length; i++) notional += (entries[i] as number) * (qtys[i] as number);
  if (notional <= room.room) return { ok: true, qtys: [...qtys], notional, cappedBy: null };
  const cappedBy = room.room < room.perPosition ? 'total' : 'position';
  const why = `wants ${notional.toFixed(2)} notional; room ${room.room.toFixed(2)} (one position <= ${risk.maxLeverage}x, all <= ${risk.maxTotalLeverage}x of basis ${room.basis.toFixed(2)} = equity ${equity.toFixed(2)} - open risk; open notional ${room.used.toFixed(2)})`;
  if (room.room <= equity * RISK_EPSILON_FRACTION) return { ok: false, detail: `no notional room left: ${why}` };
  const min = (equity * risk.minCappedNotionalPct) / PCT;
  if (room.room < min) return { ok: false, detail: `capped size ${room.room.toFixed(2)} below the minimum ${min.toFixed(2)} (${risk.minCappedNotionalPct} % of equity): ${why}` };
  return { ok: true, qtys: qtysForNotional(entries, room.room), notional: room.room, cappedBy };
}

export interface SwingBudget {
  allocation: number;
  perPosition: number;
  used: number;
  remaining: number;
  multiplier: number;
  /** Notional this position may take (0 = none). */
  budget: number;
}

export function swingNotionalBudget(equity: number, setup: SwingSetup, usedNotional: number, multiplier: number, risk: RiskConfig): SwingBudget {
  const allocatable = equity * (1 - risk.swingReservePct / PCT);
  const allocation = (allocatable * risk.swingAllocationPct[setup]) / PCT;
  const perPosition = allocation / risk.positions.maxPerStrategy;
  let remaining = Math.max(0, allocation - usedNotional);
  if (remaining <= equity * RISK_EPSILON_FRACTION) remaining = 0;
  return { allocation, perPosition, used: usedNotional, remaining, multiplier, budget: Math.min(perPosition * multiplier, remaining) };
}

/** Equal-notional quantities totalling `notional`. */
export function qtysForNotional(entries: readonly number[], notional: number): number[] {
  const each = notional / entries.length;
  return entries.map((e) => each / e);
}

const SETUP_OF: Partial<Record<StrategyId, SwingSetup>> = { dca: 'DCA', swing_breakout: 'SWING', channel: 'CHANNEL' };

/** The swing book setup a strategy trades in, or null for scalps. */
export function swingSetupOf(strategy: StrategyId): SwingSetup | null {
  return SETUP_OF[strategy] ?? null;
}
