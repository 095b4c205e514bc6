/**
 * `download-data` (issue 10 item 5): fills the warehouse's `ohlcv` table from Bybit v5 REST klines
 * or Kraken's `/0/public/OHLC`, for chosen symbols, intervals and dates.
 *
 * Per series (venue, symbol, interval):
 * 1. the requested range is the closed candles with open time in [from, to) (download-plan.ts);
 * 2. RESUMABLE: the plan is the requested range minus what the warehouse already holds;
 * 3. pages are fetched (rate-limited, retried with back-off; see the venue clients), every candle
 *    screened by the candle gate's rules (a refused row is reported, never stored; an out-of-band one
 *    is stored flagged bad_data, as the importer does), only CLOSED candles kept, and each page written
 *    at once in ONE atomic insert idempotent by key (shared/market/candle-writer.ts): a run killed
 *    mid-way keeps every page written, a re-run adds no duplicate;
 * 4. the gaps (missing candles inside the range) are read back from the warehouse and reported.
 *
 * Kraken specifics: OHLC returns only the 720 most recent candles of an interval (older history
 * comes from Kraken's quarterly OHLCVT files: `npm run import:ohlcvt`), so the part of the range
 * before the oldest candle served is reported as NOT SERVED, apart from gaps. The last row of every
 * answer is the still-open candle (dropped). REST fills minutes without trades with zero-volume rows
 * (volume 0, 0 trades) that the quarterly files omit: they are NOT stored, so a series looks the same
 * whichever way it was filled (no trades = no candle), and they show up as gaps.
 */
import { INTERVAL_MS, KRAKEN_INTERVAL_MINUTES, type Candle, type Interval, type Venue } from '../../shared/model/market.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log.js';
import type { QualityConfig } from '../../shared/market/quality.js';
import type { KrakenMarketData } from '../../shared/ports/kraken.js';
import { writeCandles } from '../../shared/market/candle-writer.js';
import {
  candlesIn,
  gapsOf,
  heldRanges,
  planPages,
  requestedRange,
  screenCandles,
  subtractRanges,
  type GapRange,
  type OpenTimeRange,
} from '../../shared/market/download-plan.js';
import { BybitIpBan, type BybitKlinePager } from '../bybit/rest-klines.js';
import type { DuckDbWarehouse } from '../warehouse/duckdb.js';

/** Rejected rows kept per series in the summary (the count is complete). */
const MAX_REJECTED_KEPT = 20;
const MS_PER_S = 1000;

export interface DownloadTarget {
  /** System symbol stored in the warehouse. */
  symbol: string;
  /** Kraken pair asked for (Kraken only). */
  pair?: string;
}

export interface DownloadRequest {
  venue: Venue;
  /** Bybit category (linear or spot). */
  category: 'linear' | 'spot';
  targets: DownloadTarget[];
  intervals: Interval[];
  /** `--from` inclusive, `--to` exclusive (ms). */
  fromMs: number;
  toMs: number;
}

export interface SeriesReport {
  /** Bybit answered HTTP 403 (IP ban): the remaining series were not started. */
  ipBan?: boolean;
  venue: Venue;
  symbol: string;
  pair?: string;
  interval: Interval;
  /** Closed candles asked for (inclusive open times), or null when the range holds none. */
  range: OpenTimeRange | null;
  expected: number;
  /** Candles of the range the warehouse held before this run. */
  heldBefore: number;
  /** Candles of the range it holds now. */
  held: number;
  pages: number;
  stored: number;
  rejected: number;
  rejectedSamples: Array<{ openTime: number | null; reason: string }>;
  flagged: number;
  /** Kraken: zero-volume rows (minutes without trades) not stored. */
  emptyIntervals: number;
  /** Kraken: the venue served nothing before this open time (only its 720 most recent candles). */
  notServedBefore?: number;
  /** Missing candles inside the range (after `notServedBefore` for Kraken). */
  gaps: GapRange[];
  missing: number;
  status: 'ok' | 'failed' | 'aborted';
  error?: string;
}

export interface DownloadSummary {
  venue: Venue;
  category?: 'linear' | 'spot';
  fromMs: number;
  toMs: number;
  series: SeriesReport[];
  requests: number;
  retries: number;
  rateLimited: number;
}

export interface DownloadDeps {
  warehouse: DuckDbWarehouse;
  bybit?: BybitKlinePager;
  kraken?: Pick<KrakenMarketData, 'ohlc'> & { stats?: { requests: number; retries: number; rateLimited: number } };
  clock: Clock;
  log?: Logger;
  quality: QualityConfig;
  /** Candles per Bybit page (at most 1000). */
  bybitPageLimit: number;
  /** Stops between pages (Ctrl-C, tests): the series in progress is reported `aborted`. */
  signal?: AbortSignal;
  /** Progress of a series: candles of the plan covered so far out of the plan's total. */
  onProgress?: (series: { symbol: string; interval: Interval }, done: number, total: number) => void;
  /** Called after each page is written. */
  onPage?: (series: { symbol: string; interval: Interval }, page: number) => void;
}

class Aborted extends Error {}

export async function downloadData(deps: DownloadDeps, req: DownloadRequest): Promise<DownloadSummary> {
  const summary: DownloadSummary = { venue: req.venue, fromMs: req.fromMs, toMs: req.toMs, series: [], requests: 0, retries: 0, rateLimited: 0 };
  if (req.venue === 'bybit') summary.category = req.category;
  // once interrupted, or once Bybit has banned this IP, the remaining series are not started
  let stop: string | undefined;
  for (const target of req.targets) {
    for (const interval of req.intervals) {
      const rep = await downloadSeries(deps, req, target, interval, stop);
      if (rep.status === 'aborted') stop ??= 'not started (interrupted; re-run the same command to resume)';
      if (rep.ipBan) stop ??= 'not started: Bybit refused this IP (HTTP 403); wait, lower --rps and re-run the same command to resume';
      summary.series.push(rep);
    }
  }
  const stats = req.venue === 'bybit' ? deps.bybit?.stats : deps.kraken?.stats;
  if (stats) Object.assign(summary, { requests: stats.requests, retries: stats.retries, rateLimited: stats.rateLimited });
  return summary;
}

async function downloadSeries(deps: DownloadDeps, req: DownloadRequest, target: DownloadTarget, interval: Interval, skip: string | undefined): Promise<SeriesReport> {
  const iv = INTERVAL_MS[interval];
  const range = requestedRange(interval, req.fromMs, req.toMs, deps.clock.now());
  const rep: SeriesReport = {
    venue: req.venue,
    symbol: target.symbol,
    ...(target.pair ? { pair: target.pair } : {}),
    interval,
    range,
    expected: range ? candlesIn(range, iv) : 0,
    heldBefore: 0,
    held: 0,
    pages: 0,
    stored: 0,
    rejected: 0,
    rejectedSamples: [],
    flagged: 0,
    emptyIntervals: 0,
    gaps: [],
    missing: 0,
    status: 'ok',
  };
  if (!range) return rep;
  const series = { venue: req.venue, symbol: target.symbol, interval };
  const heldNow = async () => heldRanges(await deps.warehouse.openTimes({ ...series, fromMs: range.fromMs, toMs: range.toMs }), iv);
  const before = await heldNow();
  rep.heldBefore = before.reduce((n, r) => n + candlesIn(r, iv), 0);
  const missing = subtractRanges(range, before, iv);
  try {
    if (skip !== undefined) throw new Aborted(skip);
    if (req.venue === 'bybit') await bybitSeries(deps, req, target, interval, missing, rep);
    else await krakenSeries(deps, target, interval, missing, rep);
  } catch (e) {
    rep.status = e instanceof Aborted ? 'aborted' : 'failed';
    rep.error = (e as Error).message;
    if (e instanceof BybitIpBan) rep.ipBan = true;
  }
  const after = await heldNow();
  rep.held = after.reduce((n, r) => n + candlesIn(r, iv), 0);
  const gapRange = rep.notServedBefore !== undefined ? { fromMs: Math.max(range.fromMs, rep.notServedBefore), toMs: range.toMs } : range;
  rep.gaps = gapRange.fromMs <= gapRange.toMs ? gapsOf(subtractRanges(gapRange, after, iv), iv) : [];
  rep.missing = rep.gaps.reduce((n, g) => n + g.missing, 0);
  return rep;
}

/** Screens one page's candles (closed, inside `keepIn`) and writes the accepted ones in one insert. */
async function storePage(deps: DownloadDeps, rep: SeriesReport, candles: Candle[], serverTime: number, keepIn: OpenTimeRange): Promise<void> {
  const iv = INTERVAL_MS[rep.interval];
  const inRange = candles.filter((c) => c.openTime >= keepIn.fromMs && c.openTime <= keepIn.toMs && c.openTime + iv <= serverTime);
  const { keep, rejected, flagged } = screenCandles(inRange, serverTime, deps.quality);
  for (const r of rejected) noteRejected(rep, r.candle.openTime, r.reason);
  if (rejected.length > 0) deps.log?.warn('download-data: candles refused by the candle gate (not stored)', { symbol: rep.symbol, interval: rep.interval, rejected: rejected.slice(0, 5).map((r) => ({ openTime: new Date(r.candle.openTime).toISOString(), reason: r.reason })) });
  rep.flagged += flagged.length;
  await writeCandles(deps.warehouse, keep, { ingestedAt: deps.clock.now() });
  rep.stored += keep.length;
  rep.pages++;
  deps.onPage?.({ symbol: rep.symbol, interval: rep.interval }, rep.pages);
}

function noteRejected(rep: SeriesReport, openTime: number | null, reason: string): void {
  rep.rejected++;
  if (rep.rejectedSamples.length < MAX_REJECTED_KEPT) rep.rejectedSamples.push({ openTime, reason });
}

function checkAbort(deps: DownloadDeps): void {
  if (deps.signal?.aborted) throw new Aborted('aborted before the next page (re-run the same command to resume)');
}

async function bybitSeries(deps: DownloadDeps, req: DownloadRequest, target: DownloadTarget, interval: Interval, missing: OpenTimeRange[], rep: SeriesReport): Promise<void> {
  if (!deps.bybit) throw new Error('no Bybit client');
  const iv = INTERVAL_MS[interval];
  const pages = planPages(missing, iv, deps.bybitPageLimit);
  const total = missing.reduce((n, r) => n + candlesIn(r, iv), 0);
  let done = 0;
  deps.onProgress?.({ symbol: target.symbol, interval }, 0, total);
  for (const p of pages) {
    checkAbort(deps);
    const page = await deps.bybit.page({ category: req.category, symbol: target.symbol, interval, startMs: p.fromMs, endMs: p.toMs, limit: deps.bybitPageLimit });
    for (const b of page.badRows) noteRejected(rep, null, `malformed row ${JSON.stringify(b.row).slice(0, 120)}: ${b.reason}`);
    await storePage(deps, rep, page.candles, page.serverTime, p);
    done += missing.reduce((n, r) => {
      const lo = Math.max(r.fromMs, p.fromMs);
      const hi = Math.min(r.toMs, p.toMs);
      return hi >= lo ? n + candlesIn({ fromMs: lo, toMs: hi }, iv) : n;
    }, 0);
    deps.onProgress?.({ symbol: target.symbol, interval }, done, total);
  }
}

async function krakenSeries(deps: DownloadDeps, target: DownloadTarget, interval: Interval, missing: OpenTimeRange[], rep: SeriesReport): Promise<void> {
  if (!deps.kraken) throw new Error('no Kraken client');
  if (missing.length === 0) return;
  const pair = target.pair ?? target.symbol;
  const iv = INTERVAL_MS[interval];
  const first = missing[0]!;
  const last = missing[missing.length - 1]!;
  const total = missing.reduce((n, r) => n + candlesIn(r, iv), 0);
  deps.onProgress?.({ symbol: target.symbol, interval }, 0, total);
  // `since` is exclusive: rows with time > since.
  let since = Math.floor(first.fromMs / MS_PER_S) - 1;
  let oldestServed: number | undefined;
  for (;;) {
    checkAbort(deps);
    const res = await deps.kraken.ohlc(pair, KRAKEN_INTERVAL_MINUTES[interval], since);
    const serverTime = deps.clock.now();
    const committed = res.rows.slice(0, -1); // the last row is the still-open candle
    const candles: Candle[] = [];
    for (const r of committed) {
      const openTime = r.time * MS_PER_S;
      if (oldestServed === undefined || openTime < oldestServed) oldestServed = openTime;
      if (r.volume === 0 && r.count === 0) {
        if (openTime >= first.fromMs && openTime <= last.toMs) rep.emptyIntervals++;
        continue;
      }
      const c: Candle = { symbol: target.symbol, interval, venue: 'kraken', openTime, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume };
      if (r.count > 0) c.trades = r.count;
      if (r.vwap > 0) c.vwap = r.vwap;
      candles.push(c);
    }
    await storePage(deps, rep, candles, serverTime, { fromMs: first.fromMs, toMs: last.toMs });
    deps.onProgress?.({ symbol: target.symbol, interval }, total, total);
    const newest = committed.length > 0 ? committed[committed.length - 1]!.time : undefined;
    // Kraken serves the most recent candles only: another page exists only if this one stopped short
    // of both the range's end and the exchange's last committed candle.
    if (newest === undefined || newest * MS_PER_S >= last.toMs || newest >= res.last || newest <= since) break;
    since = newest;
  }
  if (oldestServed === undefined || oldestServed > first.fromMs) rep.notServedBefore = oldestServed ?? last.toMs + iv;
}
