/**
 * The project kit's month of REAL market data as the month replay (infra/runtime/month-replay.ts), the
 * backtest CLI's `--htf-data` and the parity tests read it: `{kit}/bybit_linear/{SYMBOL}_{1m,5m,15m}.csv`
 * in the kit's normalised candle CSV (shared/market/candle-csv.ts; every row validated, a bad row
 * refused naming file and line).
 *
 * The kit has no Kraken data for this month (its Kraken files are 2023). The Kraken-venue candles are
 * therefore the SAME real Bybit linear prices: 5m and 15m from the kit's Bybit 5m / 15m files (90 days:
 * they also give the macro engine its 4h history before the month) and 1h / 4h resampled from the 15m
 * file (shared/strategies/resample.ts, complete buckets only). The kit's README says the 1m data
 * re-aggregates exactly to its 5m data, so all intervals agree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INTERVAL_MS, type Candle, type Interval } from '../../shared/model/market.js';
import { resample } from '../../shared/strategies/resample.js';
import { candleAt, seriesFromCsv, type CandleSeries } from '../../shared/strategies/series.js';

/** Kraken-venue intervals written for the macro engine (SystemConfig kraken.intervals). */
const KRAKEN_SOURCES: Record<string, { file: string; from: Interval }> = {
  '5m': { file: '5m', from: '5m' },
  '15m': { file: '15m', from: '15m' },
  '1h': { file: '15m', from: '15m' },
  '4h': { file: '15m', from: '15m' },
};

/** The kit's `bybit_linear/{symbol}_{suffix}.csv` as a Bybit series of `interval`. */
export function kitSeries(dataDir: string, symbol: string, suffix: string, interval: Interval): CandleSeries {
  const file = join(dataDir, 'bybit_linear', `${symbol}_${suffix}.csv`);
  return seriesFromCsv(readFileSync(file, 'utf8'), { symbol, interval, venue: 'bybit' }, { source: file });
}

/** Candles of `s`, as `venue`/`interval`, keeping only complete buckets when `minutes` is given. */
function candlesOf(s: CandleSeries, venue: Candle['venue'], interval: Interval, minutes?: Int32Array, full?: number): Candle[] {
  const out: Candle[] = [];
  for (let i = 0; i < s.length; i++) {
    if (minutes && full !== undefined && (minutes[i] as number) < full) continue;
    out.push({ ...candleAt(s, i), venue, interval });
  }
  return out;
}

/** Kraken-venue candles of one symbol per interval (see the file header), ascending. */
export function krakenCandles(dataDir: string, symbol: string, intervals: readonly Interval[]): Map<Interval, Candle[]> {
  const out = new Map<Interval, Candle[]>();
  const loaded = new Map<string, CandleSeries>();
  for (const iv of intervals) {
    const src = KRAKEN_SOURCES[iv];
    if (!src) throw new Error(`replay: no source for Kraken interval ${iv}`);
    let base = loaded.get(src.file);
    if (!base) {
      base = kitSeries(dataDir, symbol, src.file, src.from);
      loaded.set(src.file, base);
    }
    if (iv === src.from) out.set(iv, candlesOf(base, 'kraken', iv));
    else {
      const r = resample(base, iv);
      out.set(iv, candlesOf(r.series, 'kraken', iv, r.minutes, INTERVAL_MS[iv] / INTERVAL_MS[src.from]));
    }
  }
  return out;
}
