/**
 * Shared helpers of the backtest tests: the kit's REAL Bybit 1m data (../shared/data/bybit_linear)
 * loaded once per file, sliced by open time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seriesFromCandles, seriesFromCsv, sliceSeries, type CandleSeries } from '../../shared/strategies/series.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import type { Interval } from '../../shared/market/types.js';
import type { MacroSeries } from '../../shared/backtest/macro.js';
import { krakenCandles } from '../../scripts/replay-month.js';
import { lowerBound, upperBound } from '../../shared/backtest/market.js';

export const DATA_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'backtest');
export const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const MIN = 60_000;
export const HOUR = 60 * MIN;

const cache = new Map<string, CandleSeries>();

/** The whole month of a symbol's 1m candles from the kit. */
export function kitSeries(symbol: string): CandleSeries {
  let s = cache.get(symbol);
  if (!s) {
    s = seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${symbol}_1m.csv`), 'utf8'), { symbol, interval: '1m', venue: 'bybit' });
    cache.set(symbol, s);
  }
  return s;
}

/** Candles with open time in [from, to] (a view). */
export function slice(s: CandleSeries, from: number, to: number): CandleSeries {
  return sliceSeries(s, lowerBound(s.openTime, from), upperBound(s.openTime, to));
}

let macro: MacroSeries | undefined;

/**
 * The Kraken-venue candles the replay feeds the MACRO engine (scripts/replay-month.ts `krakenCandles`:
 * the kit's Bybit 5m / 15m files, 1h / 4h resampled from 15m), per symbol and interval.
 */
export function kitMacroSeries(): MacroSeries {
  if (!macro) {
    const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
    for (const s of SYMBOLS) {
      out[s] = {};
      for (const [iv, list] of krakenCandles(DATA_DIR, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) (out[s] as Partial<Record<Interval, CandleSeries>>)[iv] = seriesFromCandles(list);
    }
    macro = out;
  }
  return macro;
}
