/**
 * The ONE conversion of a MICRO-SCALP decision (TAKE + proposal) into an actionable `Signal`
 * (shared/model/trading.ts). Used by the live micro engine (shared/pipeline/micro-scalp.ts) and by the
 * backtester, so both hand the trading core exactly the same signal. Pure: no clock, no I/O.
 *
 * - tier: from SystemConfig.symbols (a symbol that is not configured is an error: the caller only
 *   evaluates configured symbols);
 * - emit: the strategy config's `emitSignals` (log-only strategies still produce the Signal, the
 *   trading core rejects it as `not_emitting`, and the micro engine does not publish it);
 * - entries: one limit entry at the proposal's entry; stop loss / take profit from the proposal;
 * - no trailing for scalps (the SPEC gives scalps fixed or ATR exits only);
 * - maxHoldMs and confidence: named constants below (the strategy configs have no such fields yet).
 */
import type { ScalpStrategyConfig } from '../../config/strategy.js';
import type { SystemConfig } from '../../config/system.js';
import type { Tier } from '../../model/market.js';
import type { ScalpDecision } from './common.js';
import type { Signal } from '../../model/trading.js';

/**
 * Time exit of a scalp after its entry fills. Proposed config field: `scalp_<strategy>.maxHoldMs`
 * (a 1m scalp with 0.5 % / 0.3 % exits normally resolves well within an hour).
 */
export const SCALP_MAX_HOLD_MS = 60 * 60_000;
/**
 * Confidence (0-100) attached to scalp signals. The scalp strategies have no confidence model; the
 * trading core uses confidence only to resolve swing conflicts, so scalps carry a neutral value.
 * Proposed config field: `scalp_<strategy>.confidence`.
 */
export const SCALP_SIGNAL_CONFIDENCE = 50;

interface ScalpSignalOptions {
  /** Overrides SCALP_MAX_HOLD_MS (a future config field). */
  maxHoldMs?: number;
  /** Overrides SCALP_SIGNAL_CONFIDENCE (a future config field). */
  confidence?: number;
}

/** The configured tier of `symbol`; throws for a symbol that is not in SystemConfig.symbols. */
function tierOf(system: Pick<SystemConfig, 'symbols'>, symbol: string): Tier {
  const s = system.symbols.find((x) => x.symbol === symbol);
  if (!s) throw new Error(`scalpSignal: ${symbol} is not a configured symbol`);
  return s.tier;
}

/**
 * The Signal of a TAKE decision, or null for any other decision (SKIP, NEAR_MISS, or a TAKE without
 * a proposal or direction, which a strategy never returns).
 */
export function scalpSignal(
  decision: ScalpDecision,
  system: Pick<SystemConfig, 'symbols'>,
  strategyCfg: Pick<ScalpStrategyConfig, 'strategy' | 'emitSignals'>,
  opts: ScalpSignalOptions = {},
): Signal | null {
  if (decision.decision !== 'TAKE' || decision.proposal === null || decision.direction === null) return null;
  if (strategyCfg.strategy !== decision.strategy) {
    throw new Error(`scalpSignal: decision of ${decision.strategy} converted with the ${strategyCfg.strategy} config`);
  }
  const p = decision.proposal;
  return {
    signalId: decision.signalId,
    strategy: decision.strategy,
    engine: 'SCALP',
    symbol: decision.symbol,
    ts: decision.ts,
    candleTime: decision.candleTime,
    decision: 'TAKE',
    direction: decision.direction,
    price: decision.price,
    reasons: [...decision.reasons],
    features: { ...decision.features },
    tier: tierOf(system, decision.symbol),
    entries: [p.entry],
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    trailingFraction: null,
    maxHoldMs: opts.maxHoldMs ?? SCALP_MAX_HOLD_MS,
    confidence: opts.confidence ?? SCALP_SIGNAL_CONFIDENCE,
    emit: strategyCfg.emitSignals,
    // the learning loop's prediction recorded beside the decision travels with its signal (the ML filter reads it)
    ...(decision.ml ? { ml: { ...decision.ml } } : {}),
  };
}
