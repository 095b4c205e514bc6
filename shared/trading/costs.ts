/**
 * The cost model of a trade group (SPEC 5): fee and slippage rates by venue/engine and tier, and the
 * price, fee and slippage cost of one fill. Every simulated fill (paper-fills.ts) and the
 * cost-inclusive risk (the loss if stopped, the unit of the risk budget: sizing.ts, and each group's
 * reserved risk) go through these, so the risk a signal is sized with is exactly what the paper venue
 * books at the stop. There is no other fee or slippage rule anywhere.
 *
 * Profiles (config/paper `costs.profile`):
 * - maker_taker (default): a resting limit filled when price trades through it (a PostOnly entry, the
 *   take profit) is a MAKER fill at its own price with no slippage, at the venue's maker fee; a stop,
 *   a trailing stop, a time exit, an owner / protection close and an entry that crosses the book on
 *   arrival are TAKER fills with the tier's slippage against us, at the venue's taker fee. Venue: the
 *   engine's feed (scalps Bybit linear, swings Kraken spot; costs.bybit / costs.kraken).
 * - conservative: the plans' flat figures: every fill pays `costs.conservative` per side (scalps /
 *   swings) plus slippage, and a crossing entry fills at its limit plus slippage like any other (the
 *   behaviour before the maker/taker split, kept for comparison).
 * Slippage: scalps costs.scalpSlippagePct, swings macro.costs.slippagePct[tier].
 */
import type { CostProfile } from '../config/strategy.js';
import type { Direction, EngineKind, ExitReason, FillLiquidity } from '../model/trading.js';
import type { Position, TradingConfig } from './model.js';

const PCT = 100;

/** How a fill met the book: a resting order traded through (maker) or one that crossed it (taker). */
export type Liquidity = FillLiquidity;

/** The rates (fractions) a group fills with; a Position keeps the ones it was opened with. */
export interface CostRates {
  profile: CostProfile;
  makerFeeRate: number;
  takerFeeRate: number;
  /** Per taker fill (and per maker fill under `conservative`). */
  slippageRate: number;
}

/** Rates of a new group, by profile, venue (the engine's feed) and tier. */
export function costRates(engine: EngineKind, tier: Position['tier'], cfg: TradingConfig): CostRates {
  const c = cfg.paper.costs;
  const slippageRate = (engine === 'SCALP' ? c.scalpSlippagePct : cfg.swingSlippagePct[tier]) / PCT;
  if (c.profile === 'conservative') {
    const flat = (engine === 'SCALP' ? c.conservative.scalpPctPerSide : c.conservative.swingPctPerSide) / PCT;
    return { profile: 'conservative', makerFeeRate: flat, takerFeeRate: flat, slippageRate };
  }
  const venue = c[cfg.feeds[engine].venue];
  return { profile: 'maker_taker', makerFeeRate: venue.makerPct / PCT, takerFeeRate: venue.takerPct / PCT, slippageRate };
}

/** The rates an exit of this reason fills with: a take profit is a resting limit (maker), every other exit crosses (taker). */
export function exitLiquidity(reason: ExitReason): Liquidity {
  return reason === 'take_profit' ? 'maker' : 'taker';
}

/** Slippage rate of a fill: every taker fill; a maker fill only under `conservative`. */
function slippageRateOf(liquidity: Liquidity, rates: CostRates): number {
  return liquidity === 'taker' || rates.profile === 'conservative' ? rates.slippageRate : 0;
}

export function feeRateOf(liquidity: Liquidity, rates: CostRates): number {
  return liquidity === 'maker' ? rates.makerFeeRate : rates.takerFeeRate;
}

/** Entry fill price at reference `price`: slippage against us (LONG buys higher, SHORT sells lower). */
function entryPrice(direction: Direction, price: number, s: number): number {
  if (s === 0) return price;
  return direction === 'LONG' ? price * (1 + s) : price * (1 - s);
}

/** Exit fill price at reference `price`: slippage against us (LONG sells lower, SHORT buys higher). */
function exitPrice(direction: Direction, price: number, s: number): number {
  if (s === 0) return price;
  return direction === 'LONG' ? price * (1 - s) : price * (1 + s);
}

/** One simulated fill. */
export interface Fill {
  price: number;
  /** Fee paid, quote currency: price x qty x the liquidity's fee rate. */
  fee: number;
  /** Slippage cost, quote currency: |price - reference| x qty. */
  slippage: number;
  liquidity: Liquidity;
}

function fill(price: number, reference: number, qty: number, liquidity: Liquidity, rates: CostRates): Fill {
  return { price, fee: price * qty * feeRateOf(liquidity, rates), slippage: Math.abs(price - reference) * qty, liquidity };
}

/** A resting limit entry at `limit` traded through: maker at the limit (plus slippage under conservative). */
export function restingEntryFill(direction: Direction, limit: number, qty: number, rates: CostRates): Fill {
  return fill(entryPrice(direction, limit, slippageRateOf('maker', rates)), limit, qty, 'maker', rates);
}

/**
 * An entry whose limit the market had already passed when it arrived (the first candle opens through
 * it: it crosses the book): taker at the open plus slippage, never worse than its limit. Under
 * `conservative` it is an ordinary fill at the limit plus slippage (the behaviour it keeps).
 */
export function crossingEntryFill(direction: Direction, open: number, limit: number, qty: number, rates: CostRates): Fill {
  // conservative: priced like any entry (limit + slippage, flat fee), but it did cross the book
  if (rates.profile === 'conservative') return { ...restingEntryFill(direction, limit, qty, rates), liquidity: 'taker' };
  const raw = entryPrice(direction, open, rates.slippageRate);
  const price = direction === 'LONG' ? Math.min(raw, limit) : Math.max(raw, limit);
  return fill(price, open, qty, 'taker', rates);
}

/** The fill price of an exit at reference `price` (stop or gap open, take profit, trailing level, close, owner price). */
export function exitFillPrice(direction: Direction, price: number, liquidity: Liquidity, rates: CostRates): number {
  return exitPrice(direction, price, slippageRateOf(liquidity, rates));
}

/**
 * Loss per unit (base asset) of a lot that filled at `entryFill` paying `entryFeeRate`, stopped at
 * `stop` (no gap): the price move to the stop's taker exit fill, its entry fee and the exit fee, by
 * the same fill rules the paper book applies.
 */
export function stoppedLossPerUnitFromFill(direction: Direction, entryFill: number, entryFeeRate: number, stop: number, rates: CostRates): number {
  const exit = exitFillPrice(direction, stop, 'taker', rates);
  const move = direction === 'LONG' ? entryFill - exit : exit - entryFill;
  return move + entryFill * entryFeeRate + exit * rates.takerFeeRate;
}

/**
 * Loss per unit of a resting limit entry at `limit` stopped at `stop`: round-trip costs included (the
 * risk budget's unit): maker entry (at the limit; plus slippage under conservative), taker stop exit
 * with slippage.
 */
export function stoppedLossPerUnit(direction: Direction, limit: number, stop: number, rates: CostRates): number {
  const entry = entryPrice(direction, limit, slippageRateOf('maker', rates));
  return stoppedLossPerUnitFromFill(direction, entry, rates.makerFeeRate, stop, rates);
}
