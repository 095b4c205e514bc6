/**
 * Real labelled trades for the learning tests: one backtest of the repository's kit slice
 * (BTC/ETH/SOL 1m, 2025-06-10 00:00 -> 06-12 11:59 UTC, 74 h warm-up) with both scalp strategies
 * emitting; each closed trade joined to the scan decision that produced it. Run once per test file.
 */
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult } from '../../shared/backtest/run.js';
import { labelledFromClosedTrade, type LabelledTrade } from '../../shared/learning/labels.js';
import { HOUR, kitSeries, slice, SYMBOLS } from '../backtest/helpers.js';

export const FROM = Date.UTC(2025, 5, 10, 0, 0);
export const TO = Date.UTC(2025, 5, 12, 11, 59);

let cached: { run: BacktestResult; labelled: LabelledTrade[] } | null = null;

export function sliceRun(): { run: BacktestResult; labelled: LabelledTrade[] } {
  if (cached) return cached;
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  s.scalp.v52_divergence.emitSignals = true;
  const run = runBacktest(createMarket({ series: SYMBOLS.map((x) => slice(kitSeries(x), FROM - 74 * HOUR, TO)), from: FROM, to: TO }), {
    system: DEFAULT_SYSTEM_CONFIG,
    strategies: s,
  });
  const bySignal = new Map(run.decisions.map((d) => [d.signalId, d]));
  const labelled = run.trades.map((t) => {
    const d = bySignal.get(t.signalId);
    if (!d) throw new Error(`trade ${t.groupId} has no recorded scan ${t.signalId}`);
    return labelledFromClosedTrade(t, d, 'paper');
  });
  cached = { run, labelled };
  return cached;
}

export function ofStrategy(rows: readonly LabelledTrade[], strategy: LabelledTrade['strategy']): LabelledTrade[] {
  return rows.filter((r) => r.strategy === strategy);
}
