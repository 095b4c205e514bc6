/**
 * Trading-core model: the JSON-serialisable paper account (trade groups with their limit entries),
 * the typed trade events it emits, the warehouse row of a closed trade, and the resolved config the
 * core runs with. Types shared with the engines live in ./types.ts (not edited here).
 *
 * Everything in these shapes is plain JSON (no undefined, no Infinity/NaN, no class instances), so a
 * state can be written to the StateStore as-is and read back identical.
 *
 * Units: prices in quote currency, quantities in base asset, times epoch ms UTC; `...Pct` = percent
 * numbers (2.5 = 2.5 %), `...Rate` = fractions (0.0006 = 0.06 %).
 */
import { z } from 'zod';
import type { Tier } from '../config/system.js';
import { TIERS } from '../config/system.js';
import type { Interval } from '../market/types.js';
import type {
  FiltersConfig,
  PaperConfig,
  PerTier,
  ProtectionsConfig,
  RiskConfig,
  StrategyConfigs,
} from '../config/strategy.js';
import type { Direction, EngineKind, ExitReason, Signal, StrategyId } from './types.js';

// ---------- named constants (proposed config fields, see the report) ----------

/**
 * A trailing stop activates once the favourable move from the average entry reaches this multiple of
 * the trailing distance (1 = the trail would sit at break-even). Proposed: `paper.trailingActivationMultiple`.
 */
export const TRAILING_ACTIVATION_MULTIPLE = 1;
/** Risk below this fraction of equity counts as "nothing remains" (guards float dust). */
export const RISK_EPSILON_FRACTION = 1e-9;
/** Feed each engine's positions are marked and filled on (candles of other venues/intervals are ignored). */
export const DEFAULT_FEEDS: Record<EngineKind, { venue: 'bybit' | 'kraken'; interval: Interval }> = {
  SCALP: { venue: 'bybit', interval: '1m' },
  SWING: { venue: 'kraken', interval: '5m' },
};

// ---------- config the core runs with ----------

/** The config slice the trading core reads; build it with `tradingConfigFrom`. */
export interface TradingConfig {
  risk: RiskConfig;
  filters: FiltersConfig;
  protections: ProtectionsConfig;
  paper: PaperConfig;
  /** Swing slippage per fill by tier, % (macro.costs.slippagePct). */
  swingSlippagePct: PerTier<number>;
  feeds: Record<EngineKind, { venue: 'bybit' | 'kraken'; interval: Interval }>;
}

export function tradingConfigFrom(
  c: Pick<StrategyConfigs, 'risk' | 'filters' | 'protections' | 'paper' | 'macro'>,
  feeds: TradingConfig['feeds'] = DEFAULT_FEEDS,
): TradingConfig {
  return {
    risk: c.risk,
    filters: c.filters,
    protections: c.protections,
    paper: c.paper,
    swingSlippagePct: c.macro.costs.slippagePct,
    feeds,
  };
}

// ---------- account state ----------

export type EntryStatus = 'pending' | 'filled' | 'cancelled';

/** One limit entry of a trade group (a DCA grid has several). */
export interface EntryOrder {
  /** `${groupId}:e${k}`. */
  orderId: string;
  /** Limit price. */
  price: number;
  qty: number;
  status: EntryStatus;
  /** Fill price including slippage; null until filled. */
  fillPrice: number | null;
  /** End of the candle that filled it; null until filled. */
  fillTime: number | null;
  /** Entry fee paid (0 until filled). */
  fee: number;
}

/** A trade group: its limit entries (pending or filled) and exit state. One per signal. */
export interface Position {
  /** `tg:${signalId}`: joins the entries and the exit (warehouse `trade_group_id`). */
  groupId: string;
  signalId: string;
  strategy: StrategyId;
  engine: EngineKind;
  symbol: string;
  tier: Tier;
  direction: Direction;
  /** pending: no entry filled yet; open: at least one entry filled. */
  status: 'pending' | 'open';
  /** Decision time: only candles opening at or after it can fill (never the decision candle). */
  placedAt: number;
  /** Unfilled entries are cancelled once a candle opens at or after this time. */
  expiresAt: number;
  entries: EntryOrder[];
  stopLoss: number;
  takeProfit: number;
  trailingFraction: number | null;
  maxHoldMs: number;
  /** Fill time of the first entry. */
  openedAt: number | null;
  filledQty: number;
  /** Size-weighted average fill price of the filled entries (0 while none). */
  avgEntry: number;
  /** Σ |limit - stop| x qty over pending and filled entries (the risk the group reserves). */
  risk: number;
  /** Σ limit x qty over pending and filled entries. */
  notional: number;
  /** Favourable extreme since the first fill (updated after the exit checks of each candle). */
  bestPrice: number | null;
  trailActive: boolean;
  trailStop: number | null;
  /** Price covered >= 50 % of the entry->TP distance (trade-limiter reset). */
  halfTpReached: boolean;
  feeRate: number;
  slippageRate: number;
  feedVenue: 'bybit' | 'kraken';
  feedInterval: Interval;
  /** Open time of the last candle processed (a candle is never processed twice). */
  lastCandleOpen: number;
  confidence: number;
  features: Record<string, number | boolean | string | null>;
}

export interface AccountCounters {
  ordersPlaced: number;
  entriesFilled: number;
  entryTimeouts: number;
  tradesClosed: number;
  wins: number;
  losses: number;
}

export interface AccountState {
  accountId: string;
  mode: 'paper';
  startingEquity: number;
  /** Σ net P&L of closed trade groups (all fees included). */
  realizedPnl: number;
  feesPaid: number;
  positions: Position[];
  /** Last close seen per symbol that has (or had) a position: marks for unrealized P&L. */
  marks: Record<string, number>;
  counters: AccountCounters;
}

// ---------- events ----------

interface EventBase {
  /** Deterministic id (publish de-dup downstream). */
  eventId: string;
  accountId: string;
  ts: number;
  groupId: string;
  signalId: string;
  symbol: string;
  strategy: StrategyId;
  direction: Direction;
}

export interface OrderPlacedEvent extends EventBase {
  type: 'order_placed';
  entries: Array<{ orderId: string; price: number; qty: number }>;
  stopLoss: number;
  takeProfit: number;
  risk: number;
  notional: number;
}
export interface EntryFilledEvent extends EventBase {
  type: 'entry_filled';
  orderId: string;
  price: number;
  qty: number;
  fee: number;
  avgEntry: number;
  filledQty: number;
}
export interface EntryTimeoutEvent extends EventBase {
  type: 'entry_timeout';
  cancelledOrderIds: string[];
  /** true when some entries had filled: the position stays open with them. */
  positionRemains: boolean;
}
export interface TrailingActivatedEvent extends EventBase {
  type: 'trailing_activated';
  trailStop: number;
}
export interface HalfTakeProfitEvent extends EventBase {
  type: 'half_take_profit';
  price: number;
}
export interface ExitFilledEvent extends EventBase {
  type: 'exit_filled';
  reason: ExitReason;
  price: number;
  qty: number;
  fee: number;
}
export interface PositionClosedEvent extends EventBase {
  type: 'position_closed';
  trade: ClosedTrade;
}

export type TradeEvent =
  | OrderPlacedEvent
  | EntryFilledEvent
  | EntryTimeoutEvent
  | TrailingActivatedEvent
  | HalfTakeProfitEvent
  | ExitFilledEvent
  | PositionClosedEvent;

// ---------- closed trades ----------

/** One `paper_trades` row: one filled entry lot of a trade group with its share of the exit. */
export interface PaperTradeRow {
  [k: string]: string | number | boolean | null;
  trade_id: string;
  trade_group_id: string;
  signal_id: string | null;
  strategy: string;
  symbol: string;
  direction: string;
  mode: string;
  entry_time: number;
  exit_time: number;
  entry_price: number;
  exit_price: number;
  qty: number;
  fees: number;
  pnl: number;
  pnl_pct: number;
  exit_reason: string;
  /** JSON string (warehouse JSON columns travel as strings). */
  features: string | null;
}

export interface ClosedTrade {
  groupId: string;
  signalId: string;
  strategy: StrategyId;
  engine: EngineKind;
  symbol: string;
  tier: Tier;
  direction: Direction;
  entryTime: number;
  exitTime: number;
  /** Size-weighted average entry fill. */
  avgEntry: number;
  exitPrice: number;
  qty: number;
  fees: number;
  pnl: number;
  /** pnl / entry notional x 100: the size-weighted mean of the lots' pnl_pct (never a sum). */
  pnlPct: number;
  exitReason: ExitReason;
  /** Rows for the warehouse `paper_trades` table, one per filled entry lot. */
  rows: PaperTradeRow[];
}

// ---------- signal validation at the edge ----------

const finitePositive = z.number().finite().positive();

/** zod schema of a `Signal` (bus payloads on trade-signals-micro / trade-signals-swing). */
export const signalSchema = z.object({
  signalId: z.string().min(1),
  strategy: z.enum(['v52_divergence', 'levels_exhaustion', 'dca', 'swing_breakout', 'channel']),
  engine: z.enum(['SCALP', 'SWING']),
  symbol: z.string().min(1),
  ts: z.number().int(),
  candleTime: z.number().int(),
  decision: z.literal('TAKE'),
  direction: z.enum(['LONG', 'SHORT']),
  price: finitePositive,
  reasons: z.array(z.string()),
  features: z.record(z.string(), z.union([z.number(), z.boolean(), z.string(), z.null()])),
  tier: z.enum(TIERS),
  entries: z.array(finitePositive).min(1).max(50),
  stopLoss: finitePositive,
  takeProfit: finitePositive,
  trailingFraction: z.number().positive().lt(1).nullable(),
  maxHoldMs: z.number().int().positive(),
  confidence: z.number().min(0).max(100),
  emit: z.boolean(),
}) satisfies z.ZodType<Signal>;
