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
import { isTradable, type Candle, type Interval, type Venue } from '../model/market.js';
import { seriesFromCandles, seriesFromCsv, type CandleSeries } from '../strategies/series.js';
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
