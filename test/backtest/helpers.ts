/**
 * Shared helpers of the backtest tests: REAL Bybit 1m data, loaded once per file, sliced by open time.
 * By default from the repository's slice of the kit (test/fixtures/kit: BTC/ETH/SOL 2025-06-06 22:00 ->
 * 2025-06-12 12:00 UTC, see its README); tests that need more pass `KIT_DIR` and gate on the kit with
 * `withKit` (test/kit.ts). `slice` refuses a window the loaded data does not cover, so a test cannot
 * silently run on less data than it asked for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seriesFromCandles, seriesFromCsv, sliceSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { DEFAULT_STRATEGY_CONFIGS, type CostProfile, type StrategyConfigs } from '../../shared/config/strategy.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import type { Interval } from '../../shared/model/market.js';
import type { MacroSeries } from '../../shared/backtest/macro.js';
import { krakenCandles } from '../../infra/replay/kit-data.js';
import { lowerBound, upperBound } from '../../shared/sorted.js';
import { bybitLinearFiles, fixture, KIT_DIR, KIT_SLICE_DIR } from '../kit.js';

export { KIT_DIR, KIT_SLICE_DIR };
export const FIXTURES = fixture('backtest');
export const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const MIN = 60_000;
export const HOUR = 60 * MIN;

const cache = new Map<string, CandleSeries>();

/** The kit files behind `kitSeries(s, KIT_DIR)` for every symbol (the whole month of 1m candles). */
export const MONTH_KIT_FILES = bybitLinearFiles(SYMBOLS, ['1m']);
/** The kit files `kitMacroSeries()` and a replay with the MACRO engine read. */
export const MACRO_KIT_FILES = bybitLinearFiles(SYMBOLS, ['1m', '5m', '15m']);

/** The 1m candles of a symbol from `dir` (kit layout): the repository's slice by default, `KIT_DIR` for the whole month. */
export function kitSeries(symbol: string, dir: string = KIT_SLICE_DIR): CandleSeries {
  const file = join(dir, 'bybit_linear', `${symbol}_1m.csv`);
  let s = cache.get(file);
  if (!s) {
    s = seriesFromCsv(readFileSync(file, 'utf8'), { symbol, interval: '1m', venue: 'bybit' });
    cache.set(file, s);
  }
  return s;
}

/** Candles with open time in [from, to] (a view); throws when the series does not cover the window. */
export function slice(s: CandleSeries, from: number, to: number): CandleSeries {
  const first = s.openTime[0] as number;
  const last = s.openTime[s.length - 1] as number;
  if (s.length === 0 || from < first || to > last) {
    const iso = (t: number) => new Date(t).toISOString();
    throw new Error(`slice: ${s.symbol} ${iso(from)} .. ${iso(to)} is outside the loaded data ${s.length ? `${iso(first)} .. ${iso(last)}` : '(empty)'}; widen test/fixtures/kit or read the kit (KIT_DIR, gated by withKit)`);
  }
  return sliceSeries(s, lowerBound(s.openTime, from), upperBound(s.openTime, to));
}

let macro: MacroSeries | undefined;

/**
 * The Kraken-venue candles the replay feeds the MACRO engine (infra/replay/kit-data.ts `krakenCandles`:
 * the kit's Bybit 5m / 15m files, 1h / 4h resampled from 15m), per symbol and interval. Always the
 * whole kit (the 4h hot window is 83 days of 15m history): gate on `MACRO_KIT_FILES`.
 */
export function kitMacroSeries(): MacroSeries {
  if (!macro) {
    const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
    for (const s of SYMBOLS) {
      out[s] = {};
      for (const [iv, list] of krakenCandles(KIT_DIR, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) (out[s] as Partial<Record<Interval, CandleSeries>>)[iv] = seriesFromCandles(list);
    }
    macro = out;
  }
  return macro;
}

/** The hand-computed scenario's 16 REAL ETH candles (test/backtest/scenario.test.ts works it out). */
export const SCENARIO_CSV = join(FIXTURES, 'ETHUSDT_1m_2025-06-03T13_53_16.csv');

export function scenarioSeries(): CandleSeries {
  return seriesFromCsv(readFileSync(SCENARIO_CSV, 'utf8'), { symbol: 'ETHUSDT', interval: '1m', venue: 'bybit' });
}

/** V5.2 alone, MACRO off, with the short periods the 16-candle scenario needs. */
/**
 * The hand-computed scenario's configs. Cost profile `conservative` by default: the hand computation
 * in scenario.test.ts (and the trade reference.test.ts re-uses) was worked out with the flat costs;
 * scenario.test.ts re-derives the same trade under maker_taker separately.
 */
export function scenarioStrategies(profile: CostProfile = 'conservative'): StrategyConfigs {
  return applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'v52_divergence'), {
    'paper.costs.profile': profile,
    'macro.enabled': false,
    'scalp.v52_divergence.divergence.rsiPeriod': 3,
    'scalp.v52_divergence.divergence.pivotStrength': 1,
    'scalp.v52_divergence.divergence.lookbackCandles': 8,
    'scalp.v52_divergence.volumeSpike.emaPeriod': 3,
    'scalp.v52_divergence.volumeSpike.minRatio': 1.5,
  });
}
