/**
 * Trading domain types shared by the engines (MACRO, MICRO-SCALP), the execution/paper engine, the
 * backtester and the notifier. Prices in quote currency (USD/USDT), quantities in base asset, times
 * epoch ms UTC, percentages as fractions unless a name ends in `Pct` (then 2.5 means 2.5 %).
 */
import type { Tier } from '../config/system.js';

export type Direction = 'LONG' | 'SHORT';
export type Bias = 'LONG' | 'SHORT' | 'NEUTRAL';
export type Decision = 'TAKE' | 'SKIP' | 'NEAR_MISS';
export type EngineKind = 'SCALP' | 'SWING';
export type StrategyId = 'v52_divergence' | 'levels_exhaustion' | 'dca' | 'swing_breakout' | 'channel';
export type ExitReason = 'stop_loss' | 'take_profit' | 'trailing_stop' | 'time_exit' | 'manual' | 'entry_timeout';
export type Venue = 'paper' | 'bybit';

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
}

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
