/**
 * The production shadow run (SPEC 8), called by the daily retrain job (shared/pipeline/retrain.ts):
 * the champion (the config in force) and the challengers of config/ml `shadow.variations` re-simulated
 * over the longest comparison period (30 days by default) that ended at the last full minute, on the
 * warehouse's REAL candles — Bybit 1m for the scalps and the exits, the Kraken 5m / 15m / 1h / 4h
 * series for the MACRO engine — with the warm-up every variation needs before the window
 * (shared/backtest/warmup.ts). The same runner as `npm run backtest -- shadow` (runner.ts: one
 * backtest per variation, the production strategy / risk / cost / fill code), the ML-filter
 * challengers with walk-forward models (shared/backtest/learning.ts); stored with storeShadow (state
 * `shadow/latest` + `shadow_runs/{id}`, warehouse `shadow_trades` / `shadow_results`; idempotent on
 * the deterministic run id).
 */
import type { StrategyConfigs } from '../config/strategy.js';
import type { SystemConfig } from '../config/system.js';
import type { Logger } from '../log.js';
import { INTERVAL_MS, type Interval } from '../model/market.js';
import type { StateStore } from '../ports/state.js';
import type { Warehouse } from '../ports/warehouse.js';
import type { CandleSeries } from '../strategies/series.js';
import { macroSeriesOf, seriesFromWarehouse } from '../backtest/data.js';
import { runWithLearning } from '../backtest/learning.js';
import type { MacroSeries } from '../backtest/macro.js';
import { createMarket } from '../backtest/market.js';
import { neededWarmup } from '../backtest/warmup.js';
import { featuresOf, runShadow, type ShadowRun, type ShadowTrade } from './runner.js';
import { shadowTradeRows, storeShadow, type StoredShadow } from './store.js';
import { CHAMPION_UNFILTERED, shadowVariants } from './variations.js';

const MINUTE = INTERVAL_MS['1m'];
const HOUR = INTERVAL_MS['1h'];
const MACRO_INTERVALS: readonly Interval[] = ['5m', '15m', '1h', '4h'];

export interface DailyShadowDeps {
  state: StateStore;
  warehouse: Pick<Warehouse, 'candles' | 'insert'>;
  log: Logger;
}

export type DailyShadowOutcome =
  | { ran: true; run: ShadowRun; stored: StoredShadow; symbols: string[]; missing: string[] }
  | { ran: false; reason: string };

/** The window of the run at `now`: the longest period, ending at the last full minute. */
export function shadowWindow(now: number, periodsHours: readonly number[]): { from: number; to: number } {
  const to = Math.floor(now / MINUTE) * MINUTE - MINUTE;
  return { from: to + MINUTE - Math.max(...periodsHours) * HOUR, to };
}

export async function runDailyShadow(deps: DailyShadowDeps, base: StrategyConfigs, system: SystemConfig, now: number): Promise<DailyShadowOutcome> {
  const ml = base.ml;
  if (!ml.shadow.enabled) return { ran: false, reason: 'shadow testing is off (shadow.enabled is false in the ml config)' };
  const { from, to } = shadowWindow(now, ml.shadow.periodsHours);
  const macro = base.macro.enabled;
  const warmup = neededWarmup(base, shadowVariants(base, ml).map((v) => v.overrides), macro);
  const series: CandleSeries[] = [];
  const missing: string[] = [];
  const macroSeries: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
  for (const { symbol } of system.symbols) {
    const candles = await deps.warehouse.candles({ symbol, interval: '1m', venue: 'bybit', fromMs: from - warmup.scalpMs, toMs: to });
    if (candles.length === 0) {
      missing.push(symbol);
      continue;
    }
    series.push(seriesFromWarehouse(candles));
    if (!macro) continue;
    const longest = Math.max(...MACRO_INTERVALS.map((iv) => (warmup.macroMs[iv] ?? 0) + INTERVAL_MS[iv]));
    const htf: CandleSeries[] = [];
    for (const interval of MACRO_INTERVALS) {
      const c = await deps.warehouse.candles({ symbol, interval, venue: 'kraken', fromMs: from - longest, toMs: to });
      if (c.length > 0) htf.push(seriesFromWarehouse(c));
    }
    const s = macroSeriesOf(htf, MACRO_INTERVALS);
    if (s['5m'] && s['15m']) macroSeries[symbol] = s;
  }
  if (series.length === 0) return { ran: false, reason: `no Bybit 1m candles in the warehouse between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}` };
  if (missing.length > 0) deps.log.warn('shadow: symbols without 1m candles in the window are left out', { missing });
  const hasMacro = macro && Object.keys(macroSeries).length > 0;
  if (macro && !hasMacro) deps.log.warn('shadow: no Kraken 5m / 15m candles in the warehouse: the MACRO engine does not run in the shadow (the swing challengers trade as the champion)');
  const market = createMarket({ series, from, to });
  // in filter mode the champion runs with walk-forward models; its unfiltered pass is kept for training
  let unfiltered: ShadowTrade[] | null = null;
  const run = runShadow(
    { market, system, base, ml, ...(hasMacro ? { macroSeries: macroSeries as MacroSeries } : {}) },
    {
      ts: now,
      learning: (m, c, o) => {
        const r = runWithLearning(m, c, o);
        if (c.strategies === base) unfiltered = r.unfiltered.trades.map((trade) => ({ trade, features: featuresOf(trade), mlProbability: null }));
        return r.run;
      },
    },
  );
  const stored = await storeShadow(deps.state, deps.warehouse, run);
  if (unfiltered !== null) await deps.warehouse.insert('shadow_trades', shadowTradeRows(run.results.runId, { [CHAMPION_UNFILTERED]: unfiltered }));
  deps.log.info('shadow run stored', { runId: run.results.runId, variations: run.results.variations.length, scans: run.results.scans, wallMs: Math.round(run.results.wallMs) });
  return { ran: true, run, stored, symbols: series.map((s) => s.symbol), missing };
}
