/**
 * Ground floor, trading vocabulary: the plain types the strategies, the trading core, the backtester,
 * the notifier and the ports speak (scan decisions, signals, macro bias, the trade events the core
 * emits, closed trades and their warehouse rows) and the base zod schema of a signal. It imports
 * nothing but zod and the market vocabulary; the logic on these shapes lives in shared/trading/ and
 * shared/strategies/. Prices in quote currency (USD/USDT), quantities in base asset, times epoch ms
 * UTC, percentages as fractions unless a name ends in `Pct` (then 2.5 means 2.5 %).
 */
import { z } from 'zod';
import { TIERS, type Tier } from './market.js';

export type Direction = 'LONG' | 'SHORT';
export type Bias = 'LONG' | 'SHORT' | 'NEUTRAL';
export type Decision = 'TAKE' | 'SKIP' | 'NEAR_MISS';
export type EngineKind = 'SCALP' | 'SWING';
export type StrategyId = 'v52_divergence' | 'levels_exhaustion' | 'dca' | 'swing_breakout' | 'channel';
export type ExitReason = 'stop_loss' | 'take_profit' | 'trailing_stop' | 'time_exit' | 'manual' | 'entry_timeout';

/** What a strategy decided at one evaluation (one row of the `signals` scan history). */
export interface ScanDecision {
  /** Deterministic: `${strategy}:${symbol}:${candleOpenTime}` (+ `:snap:${ts}` for a 15 s snapshot evaluation). */
  signalId: string;
  strategy: StrategyId;
  engine: EngineKind;
  symbol: string;
  /** Decision time: the close of the candle (or the snapshot time) the decision used. */
  ts: number;
  /** Open time of the candle the decision belongs to. */
  candleTime: number;
  decision: Decision;
  direction: Direction | null;
  /** Reference price at decision time (close or snapshot price). */
  price: number;
  reasons: string[];
  /** Entry features (ML learning loop): numbers and flags. */
  features: Record<string, number | boolean | string | null>;
  /**
   * The learning loop's win probability for this scan (SPEC 8), recorded beside the decision.
   * Absent: the strategy has no model (nothing to predict with). Present with `probability: null`:
   * the strategy has a model but it could not predict (`error` says why); the ML filter then fails
   * closed (`ml_unavailable`).
   */
  ml?: MlPrediction;
}

/** A model's prediction for one scan (shared/learning). */
export interface MlPrediction {
  /** P(WIN) in [0, 1], or null when the model could not predict (a feature missing or not finite). */
  probability: number | null;
  /** The stored model that predicted (`{strategy}@{n}`). */
  modelVersion: string;
  /** The feature-set version the model was trained on (shared/learning/features.ts). */
  featureVersion: string;
  /** Why no probability (probability null only). */
  error?: string;
}

export const mlPredictionSchema = z.strictObject({
  probability: z.number().min(0).max(1).nullable(),
  modelVersion: z.string().min(1).max(80),
  featureVersion: z.string().min(1).max(80),
  error: z.string().max(500).optional(),
}) satisfies z.ZodType<MlPrediction>;

/** A TAKE turned into an actionable signal: limit entry, exits. */
export interface Signal extends ScanDecision {
  decision: 'TAKE';
  direction: Direction;
  tier: Tier;
  /** Limit entry price(s): one for scalps/breakouts, a grid for DCA. */
  entries: number[];
  stopLoss: number;
  takeProfit: number;
  /** Trailing distance as a fraction of price, when the strategy trails. */
  trailingFraction: number | null;
  /** Time exit after entry, ms. */
  maxHoldMs: number;
  /** Strategy confidence 0-100 (swing conflicts: the higher wins). */
  confidence: number;
  /** Whether this strategy may emit (config `emitSignals`); log-only strategies still record scans. */
  emit: boolean;
}

/** Macro bias per symbol, stored at `bias/{symbol}` and published on `macro-bias-updates`. */
export interface BiasState {
  symbol: string;
  bias: Bias;
  confidence: number;
  components: Array<{ name: string; weight: number; score: number; detail: string }>;
  ts: number;
  expiresAt: number;
}

// ---------- events ----------

/** Fields every trade event carries (the live ledger's events too). */
export interface EventBase {
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
  /**
   * The signal's own plan, added by the execution function when it publishes this event as the
   * signal's outcome (the Telegram alert shows it); absent on the core's stored copy.
   */
  signal?: SignalPlan;
}
interface EntryFilledEvent extends EventBase {
  type: 'entry_filled';
  orderId: string;
  price: number;
  qty: number;
  fee: number;
  /** Simulated (paper) fills: maker (a resting limit traded through) or taker (crossed the book), and
   * the slippage cost |price - reference| x qty. Absent on exchange fills and on older events. */
  liquidity?: FillLiquidity;
  slippage?: number;
  avgEntry: number;
  filledQty: number;
}
/** How a simulated fill met the book (shared/trading/costs.ts). */
export type FillLiquidity = 'maker' | 'taker';
export const fillLiquiditySchema = z.enum(['maker', 'taker']) satisfies z.ZodType<FillLiquidity>;

/** Why unfilled entries were cancelled: their timeout, or the regime turning PANIC (SPEC 6). */
export type EntryCancelReason = 'entry_timeout' | 'regime_panic';

interface EntryTimeoutEvent extends EventBase {
  type: 'entry_timeout';
  cancelledOrderIds: string[];
  /** true when some entries had filled: the position stays open with them. */
  positionRemains: boolean;
  /** Absent: the entry timeout; `regime_panic`: cancelled because PANIC holds (booked the same way). */
  reason?: Exclude<EntryCancelReason, 'entry_timeout'>;
}
interface TrailingActivatedEvent extends EventBase {
  type: 'trailing_activated';
  trailStop: number;
}
interface HalfTakeProfitEvent extends EventBase {
  type: 'half_take_profit';
  price: number;
}
interface ExitFilledEvent extends EventBase {
  type: 'exit_filled';
  reason: ExitReason;
  price: number;
  qty: number;
  fee: number;
  /** As on EntryFilledEvent: simulated fills only. */
  liquidity?: FillLiquidity;
  slippage?: number;
}
export interface PositionClosedEvent extends EventBase {
  type: 'position_closed';
  trade: ClosedTrade;
}
/**
 * External groups only: the core decided an exit (stop loss, take profit, trailing stop, time exit,
 * owner close); the executor carries it out. Nothing filled yet: fills arrive as exit_filled.
 */
interface ExitDecidedEvent extends EventBase {
  type: 'exit_decided';
  reason: ExitReason;
  /** Reference price (no slippage). */
  price: number;
  /** Quantity held when decided. */
  qty: number;
}
/**
 * External groups only: the core decided to cancel these unfilled entries (entry timeout, owner
 * close). They end when the executor confirms with `cancelEntry` (an `entry_timeout` each).
 */
interface EntryCancelDecidedEvent extends EventBase {
  type: 'entry_cancel_decided';
  reason: EntryCancelReason | 'manual';
  orderIds: string[];
}

/**
 * Owner command (Telegram "move TP", the dashboard's TP slider): a group's take profit moved (book.ts
 * moveTakeProfit). Simulated groups: candles exit at the new level from the next candle on; live
 * groups: the executor re-places the resting take-profit orders at the new level.
 */
interface TakeProfitMovedEvent extends EventBase {
  type: 'take_profit_moved';
  from: number;
  to: number;
  /** The owner command that moved it (`tg:{update_id}`, `dash:{id}`). */
  commandId: string;
}
/**
 * Owner command (the dashboard's SL slider, `move_sl`): a group's stop loss moved (book.ts
 * moveStopLoss). Candles check the new stop from the next candle on, for simulated and live groups
 * alike (the core decides stops; no exchange order rests at the stop). Its reserved risk follows.
 */
interface StopLossMovedEvent extends EventBase {
  type: 'stop_loss_moved';
  from: number;
  to: number;
  commandId: string;
}

// ---------- the outcome of a signal (published by the execution function) ----------

/**
 * A signal as its alert presents it: its plan before the core sized it or made its stop adaptive.
 * Carried by the signal's outcome on `trade-events` (order_placed `signal`, signal_rejected).
 */
export interface SignalPlan {
  engine: EngineKind;
  /** Decision time and the open time of its candle (the cycle: signals of one cycle go out together). */
  ts: number;
  candleTime: number;
  price: number;
  entries: number[];
  stopLoss: number;
  takeProfit: number;
  confidence: number;
  reasons: string[];
  /** The learning loop's prediction for the signal (Signal.ml), shown on the alert; absent without a model. */
  ml?: MlPrediction;
}

/**
 * The core refused a signal: its outcome on `trade-events` (the core itself never emits it; the
 * execution function publishes it from the core's decision). eventId `${groupId}:rejected`, groupId
 * the group it would have opened, ts the signal's decision time (a redelivery publishes it identical).
 */
export interface SignalRejectedEvent extends EventBase {
  type: 'signal_rejected';
  /** The core's rejection reason (core.ts RejectReason). */
  reason: string;
  /** Its human-readable detail. */
  detail: string;
  signal: SignalPlan;
}

export type TradeEvent =
  | SignalRejectedEvent
  | OrderPlacedEvent
  | TakeProfitMovedEvent
  | StopLossMovedEvent
  | EntryFilledEvent
  | EntryTimeoutEvent
  | TrailingActivatedEvent
  | HalfTakeProfitEvent
  | ExitFilledEvent
  | PositionClosedEvent
  | ExitDecidedEvent
  | EntryCancelDecidedEvent;

// ---------- closed trades ----------

/** zod schemas of the trading vocabulary (./types.ts), for the shapes below that cross an edge. */
export const strategyIdSchema = z.enum(['v52_divergence', 'levels_exhaustion', 'dca', 'swing_breakout', 'channel']) satisfies z.ZodType<StrategyId>;
export const engineKindSchema = z.enum(['SCALP', 'SWING']) satisfies z.ZodType<EngineKind>;
export const directionSchema = z.enum(['LONG', 'SHORT']) satisfies z.ZodType<Direction>;
export const exitReasonSchema = z.enum(['stop_loss', 'take_profit', 'trailing_stop', 'time_exit', 'manual', 'entry_timeout']) satisfies z.ZodType<ExitReason>;

const finite = z.number().finite();
/** A warehouse cell (JSON columns travel as strings). */
const rowCell = z.union([z.string(), finite, z.boolean(), z.null()]);

/** One `paper_trades` row: one filled entry lot of a trade group with its share of the exit. */
const paperTradeRowSchema = z
  .object({
    trade_id: z.string(),
    trade_group_id: z.string(),
    signal_id: z.string().nullable(),
    strategy: z.string(),
    symbol: z.string(),
    direction: z.string(),
    mode: z.string(),
    entry_time: finite,
    exit_time: finite,
    entry_price: finite,
    exit_price: finite,
    qty: finite,
    fees: finite,
    /** Slippage cost of the lot's entry and its share of the exit, USD (absent on rows written before it existed). */
    slippage: finite.nullable().optional(),
    pnl: finite,
    pnl_pct: finite,
    exit_reason: z.string(),
    /** JSON string (warehouse JSON columns travel as strings). */
    features: z.string().nullable(),
  })
  .catchall(rowCell);
export type PaperTradeRow = z.infer<typeof paperTradeRowSchema>;

/**
 * A closed trade group: THE closed-trade shape (the `position_closed` trade event carries it, the
 * trade history keeps its `ClosedTradeRecord` part (shared/ports/trade-history.ts), which the formatter
 * and the reports read).
 */
export const closedTradeSchema = z.object({
  groupId: z.string().min(1),
  signalId: z.string().min(1),
  strategy: strategyIdSchema,
  engine: engineKindSchema,
  symbol: z.string().min(1),
  tier: z.enum(TIERS),
  direction: directionSchema,
  entryTime: z.number().int(),
  exitTime: z.number().int(),
  /** Size-weighted average entry fill. */
  avgEntry: finite,
  exitPrice: finite,
  qty: finite,
  /** Fees of every fill, USD. */
  fees: finite,
  /** Slippage cost of every fill, Σ |fill - reference| x qty, USD (absent on trades booked before it existed). */
  slippage: finite.optional(),
  pnl: finite,
  /** pnl / entry notional x 100: the size-weighted mean of the lots' pnl_pct (never a sum). */
  pnlPct: finite,
  exitReason: exitReasonSchema,
  /** Rows for the warehouse `paper_trades` table, one per filled entry lot. */
  rows: z.array(paperTradeRowSchema),
});
export type ClosedTrade = z.infer<typeof closedTradeSchema>;

/** The paper account every signal trades on (state document `trading/paper`). Proposed config field: `paper.accountId`. */
export const PAPER_ACCOUNT_ID = 'paper';
