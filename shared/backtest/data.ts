/**
 * Backtest input, pure (the caller reads the files / queries the warehouse):
 * - the kit's normalised CSV (`ts_ms,open,high,low,close,volume`, e.g. `bybit_linear/BTCUSDT_1m.csv`):
 *   symbol and interval from the name `SYMBOL_1m.csv`;
 * - Kraken's OHLCVT CSVs, headerless `time_s,open,high,low,close,volume,trades` or normalised, named
 *   `PAIR_MINUTES.csv` (`XBTUSDC_1.csv`): parsed by shared/market/kraken/ohlcvt.ts, the pair mapped
 *   to its system symbol (XBTUSDC -> BTCUSDT), missing minutes are simply absent (no invented candles);
 * - warehouse candles (`Warehouse.candles(range)`), already Candle objects.
 * Candles flagged bad data are dropped (never traded, never part of a strategy window: live's
 * candle cache skips them too). Every CSV row passes the candle gate (shared/market/candle-gate.ts): a
 * bad row is refused naming file and line, or (`badRows: 'skip'`, the CLI's --skip-bad-rows) skipped
 * and counted in `report`.
 */
import type { SystemConfig } from '../config/system.js';
import { candleViolation } from '../market/candle-gate.js';
import { parseOhlcvtCsv, parseOhlcvtFileName, resolveImportSymbol } from '../market/kraken/ohlcvt.js';
import { INTERVAL_MS, isTradable, type Candle, type Interval, type Venue } from '../model/market.js';
import { allocSeries, seriesFromCandles, seriesFromCsv, setCandleAt, sliceSeries, type CandleSeries } from '../strategies/series.js';
import { resample } from '../strategies/resample.js';
import { lowerBound, upperBound } from '../sorted.js';
import { badRow, CANDLE_CSV_HEADER, type CsvGateOptions } from '../market/candle-csv.js';

export interface CsvSource {
  /** File name (its base name gives symbol and interval). */
  name: string;
  text: string;
}

/**
 * `BTCUSDT_1m.csv` -> BTCUSDT / 1m; `XBTUSD_1.csv` -> Kraken pair XBTUSD -> BTCUSDT / 1m. `symbol`
 * overrides the symbol (a Kraken pair the alias table does not map, e.g. XBTUSDC).
 */
export function describeCsv(name: string, system: Pick<SystemConfig, 'symbols'>, symbol?: string): { symbol: string; interval: Interval; kraken: boolean } {
  const base = name.split(/[\\/]/).pop() ?? name;
  const m = /^([A-Z0-9]+)_(1m|3m|5m|15m|30m|1h|4h|1d|60m|240m)\.csv$/i.exec(base);
  if (m) {
    const iv = (m[2] as string).toLowerCase();
    const interval = (iv === '60m' ? '1h' : iv === '240m' ? '4h' : iv) as Interval;
    return { symbol: symbol ?? (m[1] as string).toUpperCase(), interval, kraken: false };
  }
  const info = parseOhlcvtFileName(base);
  return { symbol: resolveImportSymbol(info.pair, symbol, system), interval: info.interval, kraken: true };
}

/** One CSV file as a series (venue: bybit for the kit's normalised files, kraken for OHLCVT files). */
export function seriesFromSource(
  src: CsvSource,
  system: Pick<SystemConfig, 'symbols'>,
  opts: { venue?: Venue; symbol?: string } & Pick<CsvGateOptions, 'badRows' | 'report'> = {},
): CandleSeries {
  const d = describeCsv(src.name, system, opts.symbol);
  const gate: CsvGateOptions = { source: src.name, ...(opts.badRows ? { badRows: opts.badRows } : {}), ...(opts.report ? { report: opts.report } : {}) };
  const firstLine = src.text.slice(0, src.text.indexOf('\n') >>> 0).trim();
  if (!d.kraken && firstLine === CANDLE_CSV_HEADER) {
    return seriesFromCsv(src.text, { symbol: d.symbol, interval: d.interval, venue: opts.venue ?? 'bybit' }, gate);
  }
  const parsed = parseOhlcvtCsv(src.text, { symbol: d.symbol, interval: d.interval, venue: opts.venue ?? 'kraken' });
  if (parsed.rejected > 0) {
    const s = parsed.rejectedSamples[0];
    if ((opts.badRows ?? 'refuse') === 'refuse') badRow(gate, s?.line ?? 0, `${s?.reason} (${parsed.rejected} bad line(s) in the file)`, s?.text ?? '');
    for (const r of parsed.rejectedSamples) badRow(gate, r.line, r.reason, r.text);
    if (gate.report) gate.report.skipped += parsed.rejected - parsed.rejectedSamples.length;
  }
  return seriesFromCandles(parsed.candles.filter(isTradable));
}

/** Warehouse candles of one symbol as a series (flagged candles dropped, de-duplicated by open time). */
export function seriesFromWarehouse(candles: readonly Candle[]): CandleSeries {
  const byTime = new Map<number, Candle>();
  for (const c of candles) if (isTradable(c) && candleViolation(c) === null) byTime.set(c.openTime, c);
  const list = [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  return seriesFromCandles(list);
}

/** Candles of `s` with open time in [fromMs, toMs] (a view; either bound optional). */
export function trimSeries(s: CandleSeries, fromMs: number | undefined, toMs: number | undefined): CandleSeries {
  const a = fromMs === undefined ? 0 : lowerBound(s.openTime, fromMs);
  const b = toMs === undefined ? s.length : upperBound(s.openTime, toMs);
  return a === 0 && b === s.length ? s : sliceSeries(s, a, b);
}

/** Complete `interval` buckets resampled from `base` (a bucket missing a base candle is dropped: no invented prices). */
function completeBuckets(base: CandleSeries, interval: Interval, venue: Venue): CandleSeries {
  const r = resample(base, interval);
  const full = INTERVAL_MS[interval] / INTERVAL_MS[base.interval];
  let n = 0;
  for (let b = 0; b < r.series.length; b++) if ((r.minutes[b] as number) === full) n++;
  const out = allocSeries(base.symbol, interval, venue, n);
  let k = 0;
  for (let b = 0; b < r.series.length; b++) {
    if ((r.minutes[b] as number) !== full) continue;
    setCandleAt(out, k++, { openTime: r.series.openTime[b] as number, open: r.series.open[b] as number, high: r.series.high[b] as number, low: r.series.low[b] as number, close: r.series.close[b] as number, volume: r.series.volume[b] as number });
  }
  return out;
}

/** The same columns under another venue (the MACRO engine reads Kraken-venue candles). */
function asVenue(s: CandleSeries, venue: Venue): CandleSeries {
  return s.venue === venue ? s : { ...s, venue };
}

/**
 * The MACRO engine's candles of ONE symbol per interval, from whatever series a source holds (any
 * folder's SYMBOL_5m / 15m / 60m / 240m files or Kraken PAIR_5 / 15 / 60 / 240 OHLCVT files, the
 * warehouse): for each of `intervals`, the source's own candles of that interval or complete buckets
 * resampled from a finer series, whichever reaches further back (ties: the interval's own candles,
 * then the coarsest source). On the kit that is 5m and 15m from their files and 1h / 4h resampled from
 * 15m (its 60m / 240m files only cover the month), exactly what infra/replay/kit-data.ts gives the replay.
 * An interval no source can give is absent (its components then say they have no candles).
 */
export function macroSeriesOf(sources: readonly CandleSeries[], intervals: readonly Interval[], venue: Venue = 'kraken'): Partial<Record<Interval, CandleSeries>> {
  const out: Partial<Record<Interval, CandleSeries>> = {};
  for (const iv of intervals) {
    const ms = INTERVAL_MS[iv];
    let best: { c: CandleSeries; rank: number } | undefined;
    for (const s of sources) {
      const sm = INTERVAL_MS[s.interval];
      if (s.length === 0 || sm > ms || ms % sm !== 0) continue;
      const c = s.interval === iv ? asVenue(s, venue) : completeBuckets(s, iv, venue);
      if (c.length === 0) continue;
      // Earliest first candle; ties: the interval's own candles, then the coarsest source.
      const rank = s.interval === iv ? Number.POSITIVE_INFINITY : sm;
      const t = c.openTime[0] as number;
      const bt = best ? (best.c.openTime[0] as number) : Number.POSITIVE_INFINITY;
      if (!best || t < bt || (t === bt && rank > best.rank)) best = { c, rank };
    }
    if (best) out[iv] = best.c;
  }
  return out;
}
