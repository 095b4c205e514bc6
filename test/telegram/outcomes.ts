/**
 * A signal's outcome as the execution function publishes it on `trade-events` (the notifier's only
 * road for signals): the trading core decides (shared/trading/core.ts applySignal on a fresh paper
 * account) and the outcome carries the signal's plan (shared/pipeline/execution.ts).
 */
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { rejectionEvent, signalPlanOf } from '../../shared/pipeline/execution.js';
import { applySignal, createTradingState, type RejectReason } from '../../shared/trading/core.js';
import { tradingConfigFrom, type OrderPlacedEvent, type SignalRejectedEvent } from '../../shared/trading/model.js';
import type { Signal } from '../../shared/trading/types.js';

/** The "opened" outcome: the order_placed the core emits for the signal, with the signal's plan. */
export function openedOutcome(s: Signal): OrderPlacedEvent {
  const cfg = { ...tradingConfigFrom(DEFAULT_STRATEGY_CONFIGS), allowMissingReference: true };
  const r = applySignal(createTradingState('paper', cfg, s.ts), s, null, cfg, s.ts);
  const placed = r.events.find((e): e is OrderPlacedEvent => e.type === 'order_placed');
  if (!r.decision.accepted || !placed) throw new Error(`the core did not open ${s.signalId}: ${JSON.stringify(r.decision)}`);
  return { ...placed, signal: signalPlanOf(s) };
}

/** The "rejected" outcome of the signal for `reason`. */
export function rejectedOutcome(s: Signal, reason: RejectReason, detail: string): SignalRejectedEvent {
  const e = rejectionEvent('paper', { signal: s, decision: { accepted: false, reason, detail } });
  if (!e) throw new Error(`${reason}: no rejection outcome`);
  return e;
}
