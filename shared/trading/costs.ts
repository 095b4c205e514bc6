/**
 * The cost model of a trade group: fee and slippage rates by venue/engine and tier, and the fill price
 * and fee of one fill. Every simulated fill (paper-fills.ts) and the cost-inclusive risk (the loss if
 * stopped, the unit of the risk budget: sizing.ts, and each group's reserved risk) go through these,
 * so the risk a signal is sized with is exactly what the paper venue would book at the stop.
 */
import type { Direction, EngineKind } from './types.js';
import type { Position, TradingConfig } from './model.js';

const PCT = 100;

/** Fee and slippage rates (fractions) of a group: what `costRates` returns. */
export interface CostRates {
  feeRate: number;
  slippageRate: number;
}

/** Fee and slippage rates (fractions) of a group, by venue/engine and tier. */
export function costRates(engine: EngineKind, tier: Position['tier'], cfg: TradingConfig): CostRates {
  if (engine === 'SCALP') {
    return { feeRate: cfg.paper.fees.scalpPctPerSide / PCT, slippageRate: cfg.paper.scalpSlippagePct / PCT };
  }
  return { feeRate: cfg.paper.fees.swingPctPerSide / PCT, slippageRate: cfg.swingSlippagePct[tier] / PCT };
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
