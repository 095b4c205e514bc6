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
 * Risk is the loss when stopped INCLUDING the round trip's costs (costs.ts stoppedLossPerUnit: entry
 * slippage and fee, the stop's exit slippage and fee, the same rules the paper fills apply), so a scalp
 * sized to risk 0.5 % loses about 0.5 % when stopped (a gap through the stop aside).
 *
 * Grids: every entry of a group gets the same NOTIONAL (qty_i = c / price_i), for scalps with c chosen
 * so that Σ stoppedLossPerUnit(price_i, stop) x qty_i equals the risk budget exactly.
 *
 * Notional caps (SPEC 4), scalps and swings, paper and live: one group's notional <= maxLeverage (2)
 * x equity, all open groups' notional (pending entries included) <= maxTotalLeverage (3) x equity, at
 * EVERY moment, not only at placement. Between two placements equity falls by at most the open groups'
 * reserved risk (each loses at most its risk when stopped, a gap through the stop aside), so each
 * placement checks the caps against B = equity - Σ risk of every open group INCLUDING the new one (the
 * equity left if every open stop is hit), for the new group AND every open one (notionalRoom). The
 * new group itself is sized against B minus the scalp risk budget not yet reserved (headroom), so a
 * group at its cap does not block the scalps the risk budget still allows. A size above the room is
 * cut to the room (equal notional per entry, so its risk shrinks in proportion); when the room is
 * nothing (<= RISK_EPSILON_FRACTION x equity) or the cut size is below minCappedNotionalPct (1 %) of
 * equity, the signal is rejected (`notional_cap`) with the numbers in its detail.
 * Equity is realized equity (starting + realized P&L).
 */
import type { RiskConfig, SwingSetup } from '../config/strategy.js';
import { stoppedLossPerUnit, type CostRates } from './costs.js';
import { RISK_EPSILON_FRACTION } from './model.js';
import type { Direction, EngineKind, StrategyId } from '../model/trading.js';

const PCT = 100;

interface ScalpBudget {
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

/** What the open groups hold, as the notional caps see it (account.ts openRisk / openNotional over every group). */
export interface Exposure {
  /** Σ risk of every open group (Position.risk: loss if stopped, costs included). */
  risk: number;
  /** Σ risk of the open SCALP groups. */
  scalpRisk: number;
  /** Σ notional of every open group (pending entries included). */
  notional: number;
  /** The largest one group's notional (0 when none). */
  largest: number;
}

interface NotionalRoom {
  /** equity - Σ open risk, before the new group. */
  basis: number;
  /** Scalp risk budget not yet reserved (totalRiskPct x equity - open scalp risk, >= 0). */
  headroom: number;
  /** Limits on the new group's notional from each rule (see the header). */
  position: number;
  existing: number;
  total: number;
  /** min of the three, >= 0. */
  room: number;
  binding: 'position' | 'existing' | 'total';
}

/**
 * The notional the new group may take, given its risk per unit of notional `rho` (> 0) and whether it
 * is a scalp. With B(N) = basis - rho x N (the equity left if every stop, the new one's included, is hit):
 *   position: N <= maxLeverage x (B(N) - headroom)  (a scalp's own risk comes out of the headroom)
 *   existing: every open group's notional <= maxLeverage x B(N)
 *   total:    Σ open notional + N <= maxTotalLeverage x B(N)
 */
export function notionalRoom(equity: number, x: Exposure, rho: number, scalp: boolean, risk: RiskConfig): NotionalRoom {
  const L = risk.maxLeverage;
  const T = risk.maxTotalLeverage;
  const basis = equity - x.risk;
  const headroom = Math.max(0, (equity * risk.scalp.totalRiskPct) / PCT - x.scalpRisk);
  const position = (L * (basis - headroom)) / (1 + L * (scalp ? 0 : rho));
  const existing = x.largest <= 0 ? Infinity : (basis - x.largest / L) / rho;
  const total = (T * basis - x.notional) / (1 + T * rho);
  let room = position;
  let binding: NotionalRoom['binding'] = 'position';
  if (existing < room) {
    room = existing;
    binding = 'existing';
  }
  if (total < room) {
    room = total;
    binding = 'total';
  }
  return { basis, headroom, position, existing, total, room: Math.max(0, room), binding };
}

type CappedSize =
  | { ok: true; qtys: number[]; notional: number; cappedBy: NotionalRoom['binding'] | null }
  | { ok: false; detail: string };

/**
 * `qtys` (equal notional per entry, risk per notional `rho`) inside the notional caps: unchanged, cut
 * to the room, or rejected (see the header).
 */
export function capToRoom(entries: readonly number[], qtys: readonly number[], rho: number, scalp: boolean, equity: number, x: Exposure, risk: RiskConfig): CappedSize {
  let notional = 0;
  for (let i = 0; i < entries.length; i++) notional += (entries[i] as number) * (qtys[i] as number);
  const r = notionalRoom(equity, x, rho, scalp, risk);
  if (notional <= r.room) return { ok: true, qtys: [...qtys], notional, cappedBy: null };
  const why =
    `wants ${notional.toFixed(2)} notional, room ${r.room.toFixed(2)} (${r.binding} cap: one group <= ${risk.maxLeverage}x, all <= ${risk.maxTotalLeverage}x ` +
    `of equity ${equity.toFixed(2)} - open risk ${x.risk.toFixed(2)}; open notional ${x.notional.toFixed(2)}, largest ${x.largest.toFixed(2)})`;
  if (r.room <= equity * RISK_EPSILON_FRACTION) return { ok: false, detail: `no notional room: ${why}` };
  const min = (equity * risk.minCappedNotionalPct) / PCT;
  if (r.room < min) return { ok: false, detail: `capped size below the minimum ${min.toFixed(2)} (${risk.minCappedNotionalPct} % of equity): ${why}` };
  return { ok: true, qtys: qtysForNotional(entries, r.room), notional: r.room, cappedBy: r.binding };
}

/** The most reserved risk one open group may carry (groupRiskCap) and which rule sets it. */
export interface GroupRiskCap {
  /** max(the group's current risk, the allowance): a stop move may never reserve more. */
  cap: number;
  /** What the sizing rules allow a trade of the group's engine now (Infinity: no rule of that kind). */
  allowance: number;
  binding: 'current' | 'per_trade' | 'total_risk' | 'notional_caps' | 'none';
}

/**
 * The most reserved risk an OPEN group (engine `engine`, reserving `groupRisk` now) may carry after its
 * stop moves (owner-levels.ts: the far end of the owner's stop range), so that a moved stop never
 * re-sizes a trade past what the sizing rules would have given it:
 * - SCALP: the scalp budget with multiplier 1, the group's own risk left out of the used total
 *   (scalpRiskBudget: min(perTrade, totalRisk cap - the other scalp groups' risk));
 * - every engine: the notional caps stay valid if every stop is hit (the basis B = equity - Σ open risk
 *   of notionalRoom: the largest group's notional <= maxLeverage x B and Σ notional <= maxTotalLeverage
 *   x B), so Σ open risk <= equity - max(largest / maxLeverage, Σ notional / maxTotalLeverage).
 * Swings are sized by allocation (no per-trade risk budget): their stop is bounded by the tier's
 * adaptive-stop cap and the notional caps' rule. The cap is never below the group's current risk: a
 * move that does not add risk is always allowed.
 */
export function groupRiskCap(engine: EngineKind, groupRisk: number, equity: number, x: Exposure, risk: RiskConfig): GroupRiskCap {
  let allowance = Infinity;
  let binding: GroupRiskCap['binding'] = 'none';
  if (engine === 'SCALP') {
    const b = scalpRiskBudget(equity, Math.max(0, x.scalpRisk - groupRisk), 1, risk);
    allowance = b.budget;
    binding = b.budget < b.perTrade ? 'total_risk' : 'per_trade';
  }
  const othersRisk = Math.max(0, x.risk - groupRisk);
  const notional = equity - Math.max(x.largest / risk.maxLeverage, x.notional / risk.maxTotalLeverage) - othersRisk;
  if (notional < allowance) {
    allowance = Math.max(0, notional);
    binding = 'notional_caps';
  }
  return groupRisk >= allowance ? { cap: groupRisk, allowance, binding: 'current' } : { cap: allowance, allowance, binding };
}

interface SwingBudget {
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
