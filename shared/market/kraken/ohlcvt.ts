/**
 * Kraken's downloadable quarterly OHLCVT files (SPEC 2: import backfills history).
 *
 * Accepted formats:
 * - Kraken's own, headerless: `time_s,open,high,low,close,volume,trades` (time = candle OPEN time in
 *   epoch SECONDS), e.g. `1672531200,16528.7,16530.0,16520.1,16520.4,2.11146726,78`;
 * - the normalised format of the project kit: header `ts_ms,open,high,low,close,volume` (OPEN time in
 *   epoch MILLISECONDS).
 *
 * File names carry pair and interval in minutes: `XBTUSD_5.csv` = XBTUSD, 5 minutes
 * (`XBTUSD_240_derived_from_60.csv` also parses). The pair maps to the system symbol through the
 * config or the alias table (shared/market/kraken/pairs.ts); other quotes need an explicit symbol.
 *
 * The files OMIT intervals with no trades: gaps are reported, never filled.
 */
import type { SystemConfig } from '../../config/system.js';
import type { Logger } from '../../log.js';
import type { Clock } from '../../ports/clock.js';
import type { StateStore } from '../../ports/state.js';
import type { Warehouse } from '../../ports/warehouse.js';
import { DEFAULT_WRITE_BATCH_ROWS, writeCandles } from '../candle-writer.js';
import { writeHotCandles } from '../hot-store.js';
import { flagBadData, type QualityConfig } from '../quality.js';
import { INTERVAL_MS, intervalFromMinutes, type Candle, type Interval, type Venue } from '../../model/market.js';
import { readCandleCsv, type CandleCsvFormat } from '../candle-csv.js';
import { detectGaps, totalMissing, type GapRange } from './gaps.js';
import { symbolForKrakenPair } from './pairs.js';

export const DEFAULT_IMPORT_BATCH_ROWS = DEFAULT_WRITE_BATCH_ROWS;
/** Rejected lines kept verbatim in a summary (the count is always complete). */
const MAX_REJECTED_KEPT = 20;

interface OhlcvtFileInfo {
  pair: string;
  intervalMinutes: number;
  interval: Interval;
}

/** `XBTUSD_5.csv` -> { pair: 'XBTUSD', intervalMinutes: 5, interval: '5m' }. Throws on other names. */
export function parseOhlcvtFileName(fileName: string): OhlcvtFileInfo {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const m = /^([A-Za-z0-9]+)_(\d+)(?:_[^.]*)?\.csv$/i.exec(base);
  if (!m) throw new Error(`cannot infer pair and interval from file name "${base}" (expected PAIR_MINUTES.csv, e.g. XBTUSD_5.csv)`);
  const intervalMinutes = Number(m[2]);
  let interval: Interval;
  try {
    interval = intervalFromMinutes(intervalMinutes);
  } catch {
    throw new Error(`file "${base}": ${intervalMinutes}-minute candles are not an interval this system stores`);
  }
  return { pair: (m[1] as string).toUpperCase(), intervalMinutes, interval };
}

interface OhlcvtRejected {
  /** 1-based line number. */
  line: number;
  reason: string;
  text: string;
}

interface OhlcvtParseResult {
  format: CandleCsvFormat;
  /** Data lines read (header and blank lines excluded). */
  rows: number;
  /** Ascending by open time, one per open time (a later duplicate line wins). */
  candles: Candle[];
  /** Count of lines that could not become a candle; `rejectedSamples` keeps the first few. */
  rejected: number;
  rejectedSamples: OhlcvtRejected[];
  duplicates: number;
  /** True when the lines were not in ascending time order (they are sorted). */
  unsorted: boolean;
}

interface OhlcvtSeries {
  symbol: string;
  interval: Interval;
  venue?: Venue;
}

/**
 * Parses one file's text (the one candle CSV reader, shared/market/candle-csv.ts, either format). Lines
 * that cannot become a candle are counted and sampled, not fatal.
 */
export function parseOhlcvtCsv(text: string, series: OhlcvtSeries): OhlcvtParseResult {
  const byTime = new Map<number, Candle>();
  const rejectedSamples: OhlcvtRejected[] = [];
  let rejected = 0;
  let duplicates = 0;
  let unsorted = false;
  let prevTime = Number.NEGATIVE_INFINITY;
  const reject = (line: number, reason: string, t: string) => {
    rejected++;
    if (rejectedSamples.length < MAX_REJECTED_KEPT) rejectedSamples.push({ line, reason, text: t });
  };
  const meta = { symbol: series.symbol, interval: series.interval, venue: series.venue ?? 'kraken' };
  const { format, rows } = readCandleCsv(text, meta, { formats: 'any', onBadRow: reject }, ({ candle }) => {
    if (candle.openTime < prevTime) unsorted = true;
    prevTime = Math.max(prevTime, candle.openTime);
    if (byTime.has(candle.openTime)) duplicates++;
    byTime.set(candle.openTime, candle);
  });
  const candles = [...byTime.values()];
  if (unsorted) candles.sort((a, b) => a.openTime - b.openTime);
  return { format, rows, candles, rejected, rejectedSamples, duplicates, unsorted };
}

export interface OhlcvtImportDeps {
  warehouse: Warehouse;
  /** When set with `hotCandles` > 0, the most recent candles also go to the hot store. */
  state?: StateStore;
  clock: Clock;
  log?: Logger;
  quality: QualityConfig;
}

interface OhlcvtImportOptions {
  fileName: string;
  text: string;
  /** System symbol; inferred from the pair (config, then alias table) when absent. */
  symbol?: string;
  config?: Pick<SystemConfig, 'symbols'>;
  batchRows?: number;
  /** Most recent candles to write to the hot store (0 = none). */
  hotCandles?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface OhlcvtImportSummary {
  file: string;
  pair: string;
  symbol: string;
  interval: Interval;
  format: CandleCsvFormat;
  rows: number;
  candles: number;
  rejected: number;
  rejectedSamples: OhlcvtRejected[];
  duplicates: number;
  flagged: number;
  /** Intervals the file omits (no trades, maintenance): reported, never filled. */
  gaps: GapRange[];
  missing: number;
  firstOpenTime?: number;
  lastOpenTime?: number;
  /** Rows sent to the warehouse (idempotent by key: re-importing changes nothing). */
  warehouseRows: number;
  hotWritten: number;
}

export function resolveImportSymbol(pair: string, symbol: string | undefined, config?: Pick<SystemConfig, 'symbols'>): string {
  if (symbol) return symbol;
  const s = symbolForKrakenPair(pair, config);
  if (!s) {
    throw new Error(`cannot map Kraken pair ${pair} to a system symbol (only USD spot pairs are aliased, e.g. XBTUSD -> BTCUSDT); pass --symbol`);
  }
  return s;
}

/** Parses, validates (bad-data flag), reports gaps and loads one OHLCVT file. */
export async function importOhlcvt(deps: OhlcvtImportDeps, opts: OhlcvtImportOptions): Promise<OhlcvtImportSummary> {
  const info = parseOhlcvtFileName(opts.fileName);
  const symbol = resolveImportSymbol(info.pair, opts.symbol, opts.config);
  const parsed = parseOhlcvtCsv(opts.text, { symbol, interval: info.interval });
  const { candles, flagged } = flagBadData(parsed.candles, undefined, deps.quality);
  const gaps = detectGaps(
    candles.map((c) => c.openTime),
    INTERVAL_MS[info.interval],
  );
  opts.onProgress?.(0, candles.length);
  await writeCandles(deps.warehouse, candles, {
    ingestedAt: deps.clock.now(),
    batchRows: opts.batchRows ?? DEFAULT_IMPORT_BATCH_ROWS,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  let hotWritten = 0;
  if (deps.state && opts.hotCandles && opts.hotCandles > 0) {
    const recent = candles.slice(-opts.hotCandles);
    await writeHotCandles(deps.state, recent);
    hotWritten = recent.length;
  }
  const summary: OhlcvtImportSummary = {
    file: opts.fileName,
    pair: info.pair,
    symbol,
    interval: info.interval,
    format: parsed.format,
    rows: parsed.rows,
    candles: candles.length,
    rejected: parsed.rejected,
    rejectedSamples: parsed.rejectedSamples,
    duplicates: parsed.duplicates,
    flagged: flagged.length,
    gaps,
    missing: totalMissing(gaps),
    warehouseRows: candles.length,
    hotWritten,
  };
  if (candles.length > 0) {
    summary.firstOpenTime = candles[0]!.openTime;
    summary.lastOpenTime = candles[candles.length - 1]!.openTime;
  }
  deps.log?.info('ohlcvt import done', {
    file: summary.file,
    symbol,
    interval: summary.interval,
    candles: summary.candles,
    rejected: summary.rejected,
    flagged: summary.flagged,
    missing: summary.missing,
    gapRanges: gaps.length,
  });
  if (flagged.length > 0) {
    deps.log?.warn('ohlcvt import: bad-data candles stored flagged', {
      file: summary.file,
      candles: flagged.slice(0, MAX_REJECTED_KEPT).map((f) => ({ openTime: new Date(f.candle.openTime).toISOString(), reason: f.reason })),
    });
  }
  return summary;
}
