/**
 * Trading-core model: the JSON-serialisable paper account (trade groups with their limit entries),
 * the exchange fills of live groups, and the resolved config the core runs with. The vocabulary the
 * core shares with everything else (signals, trade events, closed trades) is on the ground floor,
 * shared/model/trading.ts.
 *
 * Everything in these shapes is plain JSON (no undefined, no Infinity/NaN, no class instances), so a
 * state can be written to the StateStore as-is and read back identical.
 *
 * Units: prices in quote currency, quantities in base asset, times epoch ms UTC; `...Pct` = percent
 * numbers (2.5 = 2.5 %), `...Rate` = fractions (0.0006 = 0.06 %).
 */
import { z } from 'zod';
import type { Interval, Tier } from '../model/market.js';
import type {
  FiltersConfig,
  MlConfig,
  PaperConfig,
  PerTier,
  ProtectionsConfig,
  RiskConfig,
  StrategyConfigs,
} from '../config/strategy.js';
import { exitReasonSchema, type Direction, type EngineKind, type ExitReason, type StrategyId } from '../model/trading.js';
import type { CostRates, Liquidity } from './costs.js';

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
  /** Swing slippage per taker fill by tier, % (macro.costs.slippagePct). */
  swingSlippagePct: PerTier<number>;
  feeds: Record<EngineKind, { venue: 'bybit' | 'kraken'; interval: Interval }>;
  /** The learning loop's switch (config/ml): in `filter` mode a signal whose model predicts below `minConfidence` is refused. */
  ml: Pick<MlConfig, 'mode' | 'minConfidence'>;
  /**
   * Not config (no document can set it): the backtester's `allowMissingReference` opt-out. When true
   * the regime reference's freshness is not checked (no reference gate, no reference alerts).
   */
  allowMissingReference?: boolean;
}

export function tradingConfigFrom(
  c: Pick<StrategyConfigs, 'risk' | 'filters' | 'protections' | 'paper' | 'macro' | 'ml'>,
  feeds: TradingConfig['feeds'] = DEFAULT_FEEDS,
): TradingConfig {
  return {
    ml: { mode: c.ml.mode, minConfidence: c.ml.minConfidence },
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

type EntryStatus = 'pending' | 'filled' | 'cancelled';

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
  /** Slippage cost of the fill, |fillPrice - reference| x qty (0 until filled; external fills: 0). */
  slippage: number;
  /** How the fill met the book (costs.ts); null until filled, and for external (exchange) fills. */
  liquidity: Liquidity | null;
  /**
   * Quantity filled so far: simulated entries 0 or `qty`; external entries the exchange's cumulative
   * (partial fills). An external entry stays `pending` while its exchange order works (even partly
   * filled), becomes `filled` when the order ends with some fill and `cancelled` when it ends with none.
   */
  filledQty: number;
}

/** Cumulative fill of one exchange order as applied to the book (idempotency of external fills). */
interface ExternalOrderFill {
  leg: 'entry' | 'exit';
  qty: number;
  /** The exchange's average price over qty (kept as reported: no float round trip). */
  avgPrice: number;
  fee: number;
}

/** A decision of the core that the live executor carries out on the exchange. */
interface ExitDecision {
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
  /** The cost rates the group was opened with (costs.ts costRates; a config edit never re-prices it). */
  costs: CostRates;
  feedVenue: 'bybit' | 'kraken';
  feedInterval: Interval;
  /** Open time of the last candle processed (a candle is never processed twice). */
  lastCandleOpen: number;
  /**
   * Close of that candle: the group's own mark (owner-levels.ts groupMark), from ITS feed (venue +
   * interval) even when another group of the symbol reads another feed. Absent on groups stored before
   * the field existed (until their next candle).
   */
  lastClose?: number;
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

interface AccountCounters {
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

// ---------- external fill validation at the edge ----------

const finitePositive = z.number().finite().positive();

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
    reason: exitReasonSchema.optional(),
    orderDone: z.boolean().optional(),
  })
  .refine((f) => f.leg === 'exit' || f.entryIndex !== undefined, { message: 'an entry fill needs entryIndex', path: ['entryIndex'] }) satisfies z.ZodType<ExternalFill>;
