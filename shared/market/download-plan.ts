/**
 * Pure planning for `npm run download-data` (issue 10 item 5): which candles a download still needs,
 * in which REST pages, and which intervals are missing afterwards. No I/O: the infra downloader
 * (infra/market-data/download.ts) asks the warehouse what it holds and the venues for pages.
 *
 * Conventions: every range is INCLUSIVE of open times on the interval's grid (epoch ms UTC), so a
 * range of one candle has fromMs === toMs. A candle is CLOSED when openTime + interval <= now.
 */
import { z } from 'zod';
import { INTERVAL_MS, type Candle, type Interval, type Venue } from '../model/market.js';
import { candleViolation } from './candle-gate.js';
import { flagBadData, type QualityConfig } from './quality.js';
import type { GapRange } from './kraken/gaps.js';

export type { GapRange };

/** Inclusive range of candle open times on one interval's grid. */
export interface OpenTimeRange {
  fromMs: number;
  toMs: number;
}

// --- config ---------------------------------------------------------------------------------

const venueDownloadSchema = z.strictObject({
  /** Requests per second sent to the venue (the whole run, every series). */
  requestsPerSecond: z.number().positive().max(50),
  /** Candles per REST page (Bybit at most 1000; Kraken answers at most 720 whatever is asked). */
  pageLimit: z.number().int().min(1).max(1000),
  requestTimeoutMs: z.number().int().min(1_000).max(120_000),
});

export const downloadConfigSchema = z.strictObject({
  bybit: venueDownloadSchema,
  kraken: venueDownloadSchema,
  /** Retries of one page after a rate limit, 5xx or network failure (then the run stops; re-run resumes). */
  maxRetries: z.number().int().min(0).max(20),
  /** Back-off of retry n: a random draw in [(1 - jitter) c, c], c = min(base * 2^n, max) (infra/http/host-limiter.ts; jitter 1 = full jitter). */
  backoffBaseMs: z.number().int().min(1).max(60_000),
  backoffMaxMs: z.number().int().min(1).max(10 * 60_000),
  jitter: z.number().min(0).max(1),
  /** Gap ranges listed per series in the text report (the JSON summary has them all). */
  gapsListed: z.number().int().min(0).max(1000),
});
export type DownloadConfig = z.infer<typeof downloadConfigSchema>;

/**
 * Defaults well below the published limits: Bybit allows 600 requests per 5 s per IP (120/s) on
 * public market data, Kraken's public endpoints about one call per second.
 */
export const DEFAULT_DOWNLOAD_CONFIG: DownloadConfig = downloadConfigSchema.parse({
  bybit: { requestsPerSecond: 5, pageLimit: 1000, requestTimeoutMs: 10_000 },
  kraken: { requestsPerSecond: 1, pageLimit: 720, requestTimeoutMs: 10_000 },
  maxRetries: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  jitter: 0.25,
  gapsListed: 5,
});

/** Bybit v5 kline `interval` parameter of each system interval. */
export const BYBIT_KLINE_INTERVAL: Record<Interval, string> = {
  '1m': '1',
  '5m': '5',
  '15m': '15',
  '1h': '60',
  '4h': '240',
  '12h': '720',
  '1d': 'D',
};

// --- ranges ---------------------------------------------------------------------------------

/**
 * The closed candles of `interval` whose open time is in [fromMs, toMs) (`--from` inclusive, `--to`
 * exclusive, as dates), and that had closed at `nowMs`. Null when there is none.
 */
export function requestedRange(interval: Interval, fromMs: number, toMs: number, nowMs: number): OpenTimeRange | null {
  const iv = INTERVAL_MS[interval];
  const first = Math.ceil(fromMs / iv) * iv;
  const lastByTo = Math.ceil(toMs / iv) * iv - iv; // last open time < toMs
  const lastClosed = Math.floor(nowMs / iv) * iv - iv; // last open time with open + iv <= now
  const last = Math.min(lastByTo, lastClosed);
  return last >= first ? { fromMs: first, toMs: last } : null;
}

/** Number of grid open times in a range. */
export function candlesIn(r: OpenTimeRange, intervalMs: number): number {
  return Math.round((r.toMs - r.fromMs) / intervalMs) + 1;
}

/** Runs of consecutive open times (ascending input, duplicates tolerated) as ranges. */
export function heldRanges(openTimes: readonly number[], intervalMs: number): OpenTimeRange[] {
  const out: OpenTimeRange[] = [];
  let cur: OpenTimeRange | null = null;
  for (const t of openTimes) {
    if (cur && t <= cur.toMs) continue;
    if (cur && t === cur.toMs + intervalMs) cur.toMs = t;
    else {
      cur = { fromMs: t, toMs: t };
      out.push(cur);
    }
  }
  return out;
}

/** `want` minus the `held` ranges (ascending, non-overlapping), as ascending ranges. */
export function subtractRanges(want: OpenTimeRange, held: readonly OpenTimeRange[], intervalMs: number): OpenTimeRange[] {
  const out: OpenTimeRange[] = [];
  let cursor = want.fromMs;
  for (const h of held) {
    if (h.toMs < cursor) continue;
    if (h.fromMs > want.toMs) break;
    if (h.fromMs > cursor) out.push({ fromMs: cursor, toMs: Math.min(h.fromMs - intervalMs, want.toMs) });
    cursor = Math.max(cursor, h.toMs + intervalMs);
    if (cursor > want.toMs) break;
  }
  if (cursor <= want.toMs) out.push({ fromMs: cursor, toMs: want.toMs });
  return out;
}

/** The missing candles of a range as gap ranges (same shape as the importer's). */
export function gapsOf(missing: readonly OpenTimeRange[], intervalMs: number): GapRange[] {
  return missing.map((r) => ({ fromMs: r.fromMs, toMs: r.toMs, missing: candlesIn(r, intervalMs) }));
}

/**
 * REST pages (each at most `pageLimit` candles wide, so one request answers it whole) covering every
 * missing candle, NEWEST FIRST (Bybit pages backwards with `end`). Missing ranges closer together than
 * a page share one page rather than cost two requests.
 */
export function planPages(missing: readonly OpenTimeRange[], intervalMs: number, pageLimit: number): OpenTimeRange[] {
  const span = (pageLimit - 1) * intervalMs;
  const pages: OpenTimeRange[] = [];
  let top: number | undefined; // the newest candle not covered yet
  let i = missing.length - 1;
  while (i >= 0) {
    const r = missing[i]!;
    const hi = top === undefined ? r.toMs : Math.min(top, r.toMs);
    if (hi < r.fromMs) {
      i--;
      continue;
    }
    const lo = hi - span;
    pages.push({ fromMs: lo, toMs: hi });
    top = lo - intervalMs;
    while (i >= 0 && missing[i]!.fromMs >= lo) i--; // wholly inside this page
  }
  // trim each page to the missing candles it covers (narrower requests, same count)
  return pages.map((p) => {
    const inside = missing.filter((r) => r.toMs >= p.fromMs && r.fromMs <= p.toMs);
    return { fromMs: Math.max(p.fromMs, inside[0]!.fromMs), toMs: Math.min(p.toMs, inside[inside.length - 1]!.toMs) };
  });
}

// --- coverage -------------------------------------------------------------------------------

/** What the warehouse holds of one series (list-data). */
export interface SeriesCoverage {
  venue: Venue;
  symbol: string;
  interval: Interval;
  count: number;
  firstMs: number;
  lastMs: number;
  /** Candles between first and last, both included, on the interval's grid. */
  expected: number;
  /** expected - count. */
  missing: number;
  /** Runs of missing candles between first and last. */
  gapRanges: number;
}

/** Coverage from a series' stored open times (ascending). */
export function coverageOf(series: Pick<SeriesCoverage, 'venue' | 'symbol' | 'interval'>, openTimes: readonly number[]): SeriesCoverage | null {
  if (openTimes.length === 0) return null;
  const iv = INTERVAL_MS[series.interval];
  const runs = heldRanges(openTimes, iv);
  const firstMs = runs[0]!.fromMs;
  const lastMs = runs[runs.length - 1]!.toMs;
  const count = runs.reduce((n, r) => n + candlesIn(r, iv), 0);
  const expected = candlesIn({ fromMs: firstMs, toMs: lastMs }, iv);
  return { ...series, count, firstMs, lastMs, expected, missing: expected - count, gapRanges: runs.length - 1 };
}

// --- validation -----------------------------------------------------------------------------

interface ScreenedCandles {
  /** Closed, well-formed candles to store (those out of the sanity band carry the bad_data flag). */
  keep: Candle[];
  /** Refused by the candle gate's stateless rules (never stored). */
  rejected: Array<{ candle: Candle; reason: string }>;
  /** Stored with the bad_data flag (never traded), as the OHLCVT importer does. */
  flagged: Array<{ candle: Candle; reason: string }>;
}

/**
 * Every candle read from a REST page through the candle gate's stateless rules (integrity, grid
 * alignment, closed at the exchange's time `nowMs`) and the sanity band of the page (quality.ts, as
 * the importer): a violation is refused, an out-of-band candle is kept flagged bad_data.
 */
export function screenCandles(candles: readonly Candle[], nowMs: number, quality: QualityConfig): ScreenedCandles {
  const rejected: ScreenedCandles['rejected'] = [];
  const ok: Candle[] = [];
  for (const c of [...candles].sort((a, b) => a.openTime - b.openTime)) {
    const why = candleViolation(c, { now: nowMs });
    if (why) rejected.push({ candle: c, reason: why });
    else ok.push(c);
  }
  const { candles: keep, flagged } = flagBadData(ok, undefined, quality);
  return { keep, rejected, flagged };
}
