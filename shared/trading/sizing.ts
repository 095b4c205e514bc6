/**
 * Position sizing (SPEC 4, 12).
 *
 * Scalps, by risk: perTrade = equity x perTradeRiskPct (0.5 %); the cap over ALL open scalp groups is
 * equity x totalRiskPct (2 %), risk = |entry - stop| x qty (reserved from order placement, pending
 * entries included). A new scalp gets budget = min(perTrade x multiplier, remaining) where remaining =
 * cap - used; when nothing remains (<= RISK_EPSILON_FRACTION x equity) it gets none (rejected).
 * multiplier = regime size multiplier (CAUTION 0.5, EUPHORIA 0.7; PANIC halts before sizing) x
 * swingConflictSizeFactor (0.5) when a SWING group is on the same pair.
 *
 * Swings, by allocation: allocatable = equity x (1 - swingReservePct) (20 % reserve); setup allocation =
 * allocatable x swingAllocationPct[setup] (DCA 40 / SWING 30 / CHANNEL 30); one position gets
 * min(allocation / maxPerStrategy x multiplier, allocation - notional already placed in that setup).
 *
 * Grids: every entry of a group gets the same NOTIONAL (qty_i = c / price_i), for scalps with c chosen
 * so that Σ |price_i - stop| x qty_i equals the risk budget exactly.
 * Equity is realized equity (starting + realized P&L).
 */
import type { RiskConfig, SwingSetup } from '../config/strategy.js';
import { RISK_EPSILON_FRACTION } from './model.js';
import type { StrategyId } from './types.js';

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

/** Equal-notional quantities whose total risk to `stop` equals `budget`. */
export function qtysForRisk(entries: readonly number[], stop: number, budget: number): number[] {
  let perUnitNotional = 0;
  for (const e of entries) perUnitNotional += Math.abs(e - stop) / e;
  const c = budget / perUnitNotional;
  return entries.map((e) => c / e);
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
