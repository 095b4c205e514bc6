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
/** Quantities within this fraction of each other are equal (sums of exchange fills carry float noise). */
export const QTY_EPSILON_FRACTION = 1e-9;
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
  /**
   * Not config (no document can set it): the backtester's `allowMissingReference` opt-out. When true
   * the regime reference's freshness is not checked (no reference gate, no reference alerts).
   */
  allowMissingReference?: boolean;
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

/**
 * Where a trade group's fills come from.
 * - `simulated` (paper, the default): the book fills entries and exits from candles (book.ts rules).
 * - `external` (live): the exchange fills; the executor feeds them in with `applyExternalFill` /
 *   `cancelEntry`. Candles only produce DECISIONS (exit_decided, entry_cancel_decided) and move the
 *   protections, the trailing level and the half-TP mark.
 * An account's `fillSource` is the source its NEW groups get; each group keeps the source it was
 * placed with (a mode switch never changes how an existing group is filled).
 */
export type FillSource = 'simulated' | 'external';
export const FILL_SOURCES = ['simulated', 'external'] as const satisfies readonly FillSource[];

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
  /**
   * Quantity filled so far: simulated entries 0 or `qty`; external entries the exchange's cumulative
   * (partial fills). An external entry stays `pending` while its exchange order works (even partly
   * filled), becomes `filled` when the order ends with some fill and `cancelled` when it ends with none.
   */
  filledQty: number;
}

/** Cumulative fill of one exchange order as applied to the book (idempotency of external fills). */
export interface ExternalOrderFill {
  leg: 'entry' | 'exit';
  qty: number;
  /** The exchange's average price over qty (kept as reported: no float round trip). */
  avgPrice: number;
  fee: number;
}

/** A decision of the core that the live executor carries out on the exchange. */
export interface ExitDecision {
  reason: ExitReason;
  /** Reference price (no slippage): stop / gap open, trailing level, take profit, close, owner price. */
  reference: number;
  at: number;
}

/** Exchange-side bookkeeping of an `external` trade group. */
export interface ExternalExecution {
  /** Exchange order (client) id -> cumulative fill applied: a fill at or below it changes nothing. */
  orders: Record<string, ExternalOrderFill>;
  /** Σ exit fills. */
  exitedQty: number;
  exitValue: number;
  exitFees: number;
  /** Reason of the last non-take-profit exit fill; null while only take profits filled. */
  exitReason: ExitReason | null;
  lastExitTime: number | null;
  /** Latest exit decision (a protective one is final; a take-profit one can still become a stop). */
  decision: ExitDecision | null;
  /** When the entry timeout (or an owner close of an unfilled group) was decided; null while not. */
  cancelDecidedAt: number | null;
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
  /**
   * The risk the group reserves: its loss if stopped, round-trip costs included (book.ts
   * stoppedLossPerUnit x qty over pending and filled entries; external filled lots from their fill).
   */
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
  /** null: simulated fills (paper). Set: external fills (live), see FillSource. */
  external: ExternalExecution | null;
}

/**
 * The owner's controls of an account (Telegram /pause, /resume; shared/pipeline/execution/owner-commands.ts). Absent on
 * accounts that never received one (and in the backtester): not paused.
 */
export interface OwnerControl {
  /** New entries are refused while paused; exits, timeouts and live order management still run. */
  paused: boolean;
  /** When the current pause started (null while not paused). */
  pausedAt: number | null;
  /** Who sent the last applied pause / resume (Telegram user id). */
  by: string | null;
  /**
   * `ts` of the last applied pause / resume command. An older one changes nothing, so a redelivered or
   * late `pause` can never undo a later `resume` (the topic has no ordering key).
   */
  commandTs: number;
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
  /** Fill source of NEW groups (TradingStore sets it from `trading/mode`: live -> external). */
  fillSource: FillSource;
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
  /**
   * The signal's own plan, added by the execution function when it publishes this event as the
   * signal's outcome (the Telegram alert shows it); absent on the core's stored copy.
   */
  signal?: SignalPlan;
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
/** Why unfilled entries were cancelled: their timeout, or the regime turning PANIC (SPEC 6). */
export type EntryCancelReason = 'entry_timeout' | 'regime_panic';

export interface EntryTimeoutEvent extends EventBase {
  type: 'entry_timeout';
  cancelledOrderIds: string[];
  /** true when some entries had filled: the position stays open with them. */
  positionRemains: boolean;
  /** Absent: the entry timeout; `regime_panic`: cancelled because PANIC holds (booked the same way). */
  reason?: Exclude<EntryCancelReason, 'entry_timeout'>;
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
/**
 * External groups only: the core decided an exit (stop loss, take profit, trailing stop, time exit,
 * owner close); the executor carries it out. Nothing filled yet: fills arrive as exit_filled.
 */
export interface ExitDecidedEvent extends EventBase {
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
export interface EntryCancelDecidedEvent extends EventBase {
  type: 'entry_cancel_decided';
  reason: EntryCancelReason | 'manual';
  orderIds: string[];
}

/**
 * Owner command (Telegram "move TP"): a group's take profit moved. Simulated groups only: candles
 * exit at the new level from the next candle on (book.ts moveTakeProfit).
 */
export interface TakeProfitMovedEvent extends EventBase {
  type: 'take_profit_moved';
  from: number;
  to: number;
  /** The owner command that moved it (`tg:{update_id}`). */
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
  | EntryFilledEvent
  | EntryTimeoutEvent
  | TrailingActivatedEvent
  | HalfTakeProfitEvent
  | ExitFilledEvent
  | PositionClosedEvent
  | ExitDecidedEvent
  | EntryCancelDecidedEvent;

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

// ---------- external fills ----------

/**
 * One fill reported by the exchange for an `external` group, in the exchange's CUMULATIVE per-order
 * form (Bybit order status: cumExecQty, avgPrice, cumExecFee). The book applies only the part beyond
 * what it already has for `orderId`, so the same report twice (or an older one) changes nothing, and a
 * report that covers several fills at once (e.g. after a crash) is applied exactly once.
 * Fill id = `${orderId}:${cumQty}` (see externalFillId).
 */
export interface ExternalFill {
  groupId: string;
  leg: 'entry' | 'exit';
  /** Entry leg: index of the grid entry the exchange order belongs to. */
  entryIndex?: number;
  /** Exchange order (client) id: the fills of one order are cumulative. */
  orderId: string;
  /** The order's cumulative executed quantity (base asset). */
  cumQty: number;
  /** The order's average fill price over cumQty. */
  avgPrice: number;
  /** The order's cumulative fee, quote currency. */
  cumFee: number;
  /** When the fill was observed. */
  ts: number;
  /** Exit leg: take_profit for resting take profits, else the reason of the decision it executes. */
  reason?: ExitReason;
  /** Entry leg: the exchange order is finished (Filled): the entry takes no more fills. */
  orderDone?: boolean;
}

export function externalFillId(f: Pick<ExternalFill, 'orderId' | 'cumQty'>): string {
  return `${f.orderId}:${f.cumQty}`;
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

/** zod schema of an `ExternalFill` (validated by TradingStore.applyExternalFill). */
export const externalFillSchema = z
  .object({
    groupId: z.string().min(1),
    leg: z.enum(['entry', 'exit']),
    entryIndex: z.number().int().min(0).optional(),
    orderId: z.string().min(1),
    cumQty: finitePositive,
    avgPrice: finitePositive,
    cumFee: z.number().finite(),
    ts: z.number().int(),
    reason: z.enum(['stop_loss', 'take_profit', 'trailing_stop', 'time_exit', 'manual', 'entry_timeout']).optional(),
    orderDone: z.boolean().optional(),
  })
  .refine((f) => f.leg === 'exit' || f.entryIndex !== undefined, { message: 'an entry fill needs entryIndex', path: ['entryIndex'] }) satisfies z.ZodType<ExternalFill>;
