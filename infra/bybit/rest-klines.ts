/**
 * Bybit REST `GET /v5/market/kline`, one implementation for both users:
 * - `BybitKlinePager` (below): one page of any interval, linear or spot, on global fetch, spaced,
 *   retried with back-off + jitter on rate limits (honouring the exchange's wait), every row checked;
 *   `download-data` pages history with it;
 * - `BybitRestKlines`: the holder's KlineSource (1m backfill), paging backwards with `end` through
 *   the pager until the range is covered, without spacing or retries (the holder polls again), but in
 *   the same host line: a rate limit met by one symbol's backfill holds every symbol's requests.
 *
 * Bybit limits REST calls per IP (600 per 5 s; HTTP 403 is a ban of 10 minutes or more): every pager
 * of a process queues on one line per host (infra/http/host-limiter.ts), whatever the symbol.
 *
 * Bybit returns at most `limit` rows, NEWEST FIRST, each `[startTime, open, high, low, close, volume,
 * turnover]` as strings, including the minute still forming; the still-forming minute (at the
 * response's `time`) is dropped, and candles come back ascending without duplicates.
 */
import { z } from 'zod';
import type { KlineSource } from '../../shared/ports/bybit.js';
import type { Candle, Interval } from '../../shared/model/market.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import { klineIssue, klineRowSchema, type KlineBar } from '../../shared/market/bybit/messages.js';
import { BYBIT_KLINE_INTERVAL, type DownloadConfig } from '../../shared/market/download-plan.js';
import { HostHeldError, backoffDelayMs, hostLimiter, retryAfterMs, type HostLimiter } from '../http/host-limiter.js';

const MINUTE = INTERVAL_MS['1m'];

interface RestKlinesOptions {
  baseUrl: string;
  /** Page size (Bybit allows at most 1000). */
  pageLimit: number;
  requestTimeoutMs: number;
  clock: Clock;
  log: Logger;
}

export class BybitRestKlines implements KlineSource {
  private readonly pager: BybitKlinePager;

  constructor(private readonly o: RestKlinesOptions) {
    // No spacing and no retries: the holder polls on its own cadence and retries on its next tick.
    this.pager = new BybitKlinePager({ baseUrl: o.baseUrl, minRequestIntervalMs: 0, requestTimeoutMs: o.requestTimeoutMs, maxRetries: 0, backoff: { backoffBaseMs: 1, backoffMaxMs: 1, jitter: 0 }, clock: o.clock, log: o.log });
  }

  async closedKlines1m(symbol: string, fromOpenTime: number, toOpenTime: number): Promise<Candle[]> {
    const byTime = new Map<number, Candle>();
    let end = toOpenTime;
    for (;;) {
      const page = await this.pager.page({ category: 'linear', symbol, interval: '1m', startMs: fromOpenTime, endMs: end, limit: this.o.pageLimit });
      // A malformed answer fails the backfill (the holder retries on its next tick) rather than
      // leaving a silent gap where the row was.
      if (page.badRows.length > 0) throw new Error(`Bybit REST kline answer for ${symbol} has ${page.badRows.length} malformed row(s) (first: ${JSON.stringify(page.badRows[0])}); retried on the next poll`);
      const serverTime = page.serverTime;
      const oldest = page.oldestStart ?? Number.POSITIVE_INFINITY;
      for (const c of page.candles) {
        const start = c.openTime;
        if (start < fromOpenTime || start > toOpenTime) continue;
        if (start + MINUTE > serverTime) continue; // still forming at the exchange
        const bar: KlineBar = { start, end: start + MINUTE - 1, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, turnover: c.turnover, confirm: true, timestamp: serverTime };
        const issue = klineIssue(bar);
        if (issue) {
          this.o.log.error('impossible REST kline dropped (never traded)', { symbol, start, issue, row: [start, c.open, c.high, c.low, c.close, c.volume] });
          continue;
        }
        byTime.set(start, { symbol, interval: '1m', venue: 'bybit', openTime: start, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
      }
      if (page.rows < this.o.pageLimit || oldest <= fromOpenTime) break;
      end = oldest - 1;
    }
    return [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  }
}

// ---------------------------------------------------------------------------------------------
// History pages for `download-data` (issue 10): any interval, spot or linear, rate-limited, retried.

/** Bybit retCodes that mean "try again later": 10006 too many visits, 10000 server timeout, 10016 server error. */
const BYBIT_RETRY_CODES = new Set([10006, 10000, 10016]);
const BYBIT_RATE_LIMIT_CODE = 10006;
const HTTP_TOO_MANY_REQUESTS = 429;
const HTTP_FORBIDDEN = 403;
/** How long Bybit bans an IP that exceeded its limit (HTTP 403): "at least 10 minutes". */
export const BYBIT_IP_BAN_MS = 10 * 60_000;
const HTTP_SERVER_ERROR = 500;
const BODY_EXCERPT = 200;
/** Default total back-off of one page: Bybit's IP ban lasts 10 minutes, waiting longer for a page is pointless. */
const DEFAULT_MAX_RETRY_WAIT_MS = 10 * 60_000;

const pageEnvelopeSchema = z.object({
  retCode: z.number(),
  retMsg: z.string(),
  result: z.union([z.object({ category: z.string().optional(), symbol: z.string().optional(), list: z.array(z.unknown()) }), z.object({}).strict()]),
  retExtInfo: z.unknown().optional(),
  time: z.number().optional(),
});

export interface BybitKlinePageRequest {
  category: 'linear' | 'spot';
  symbol: string;
  interval: Interval;
  /** Inclusive open-time bounds (ms). */
  startMs: number;
  endMs: number;
  limit: number;
}

export interface BybitKlinePage {
  /** Every well-formed row as a candle, ascending (not yet screened by the candle gate). */
  candles: Array<Candle & { turnover: number }>;
  /** Rows in the answer (well-formed or not). */
  rows: number;
  /** The oldest well-formed row's start time (Bybit pages backwards from it). */
  oldestStart?: number;
  /** Rows that are not [start, o, h, l, c, volume, turnover] decimal strings. */
  badRows: Array<{ row: unknown; reason: string }>;
  /** The exchange's time of the response (ms). */
  serverTime: number;
}

interface BybitKlinePagerOptions {
  baseUrl: string;
  /** Spacing of requests for the whole run (1000 / requests per second); 0 = none. */
  minRequestIntervalMs: number;
  requestTimeoutMs: number;
  maxRetries: number;
  /** Back-off of retry n: a draw in [(1 - jitter) c, c], c = min(base x 2^n, max) (jitter 1 = full jitter). */
  backoff: Pick<DownloadConfig, 'backoffBaseMs' | 'backoffMaxMs' | 'jitter'>;
  /** Total back-off (exchange waits included) of one page before it gives up. */
  maxRetryWaitMs?: number;
  clock: Clock;
  log: Logger;
  /** [0, 1) source of the back-off jitter (default Math.random). */
  random?: () => number;
}

/** HTTP 403: Bybit banned this IP for a while; every further request would be refused too. */
export class BybitIpBan extends Error {}

class BybitRetryable extends Error {
  constructor(
    message: string,
    /** The wait the exchange asked for (Retry-After, X-Bapi-Limit-Reset-Timestamp), ms. */
    readonly waitMs: number | undefined,
    readonly rateLimited: boolean,
  ) {
    super(message);
  }
}

/**
 * `GET /v5/market/kline` pages on global fetch, in the process's line for the host: one request per
 * `minRequestIntervalMs` across every symbol; HTTP 429 / 5xx / network failures / timeouts and
 * retCode 10006 (rate limit), 10000, 10016 are retried with a jittered exponential back-off, waiting
 * at least what the exchange asked for (`Retry-After`, seconds or HTTP-date, or
 * `X-Bapi-Limit-Reset-Timestamp` on a rate limit), bounded by `maxRetries` and `maxRetryWaitMs`. A
 * rate limit or an exchange wait holds the whole line (every symbol waits); when a response says
 * `X-Bapi-Limit-Status: 0` the line waits for the reset. Any other retCode, HTTP 403 (Bybit's IP ban)
 * or a malformed envelope is an error at once.
 */
export class BybitKlinePager {
  /** The process's line for this host, shared with every other pager of the process. */
  readonly limiter: HostLimiter;
  private readonly random: () => number;
  readonly stats = { requests: 0, retries: 0, rateLimited: 0 };

  constructor(private readonly o: BybitKlinePagerOptions) {
    this.limiter = hostLimiter(o.clock, o.baseUrl);
    this.random = o.random ?? Math.random;
  }

  async page(req: BybitKlinePageRequest): Promise<BybitKlinePage> {
    const budget = this.o.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
    let waitedMs = 0;
    /** How long the next turn may sit out a hold: the budget left, plus this page's own hold (already counted). */
    let allowanceMs = budget;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.limiter.acquire(this.o.minRequestIntervalMs, allowanceMs);
      } catch (e) {
        if (!(e instanceof HostHeldError)) throw e;
        throw new Error(`bybit kline ${req.symbol} not sent: Bybit asked this IP to wait ${e.waitMs} ms more, past the retry budget of ${budget} ms; re-run later`);
      }
      try {
        this.stats.requests++;
        return await this.once(req);
      } catch (e) {
        if (!(e instanceof BybitRetryable)) throw e;
        if (e.rateLimited) this.stats.rateLimited++;
        const { backoffBaseMs, backoffMaxMs, jitter } = this.o.backoff;
        const delay = Math.max(backoffDelayMs(attempt, { baseMs: backoffBaseMs, maxMs: backoffMaxMs, jitter }, this.random()), e.waitMs ?? 0);
        const holdsAll = e.rateLimited || e.waitMs !== undefined;
        // the exchange's wait applies to every symbol, whether or not this page is retried
        if (holdsAll) this.limiter.hold(this.o.clock.now() + delay);
        if (attempt >= this.o.maxRetries) throw new Error(`${e.message} (gave up after ${attempt + 1} attempts): retry limit ${this.o.maxRetries} reached`);
        if (waitedMs + delay > budget) {
          throw new Error(`${e.message} (gave up after ${attempt + 1} attempts): the next wait of ${delay} ms would pass the retry budget of ${budget} ms`);
        }
        waitedMs += delay;
        allowanceMs = budget - waitedMs + (holdsAll ? delay : 0);
        this.stats.retries++;
        this.o.log.warn('bybit kline request failed; retrying', { symbol: req.symbol, interval: req.interval, attempt: attempt + 1, delayMs: delay, rateLimited: e.rateLimited, holdsAllSymbols: holdsAll, error: e.message });
        if (!holdsAll) await this.o.clock.sleep(delay);
      }
    }
  }

  private async once(req: BybitKlinePageRequest): Promise<BybitKlinePage> {
    const params = new URLSearchParams({
      category: req.category,
      symbol: req.symbol,
      interval: BYBIT_KLINE_INTERVAL[req.interval],
      start: String(req.startMs),
      end: String(req.endMs),
      limit: String(req.limit),
    });
    const url = `${this.o.baseUrl.replace(/\/+$/, '')}/v5/market/kline?${params.toString()}`;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.o.requestTimeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { signal: ac.signal, headers: { accept: 'application/json' } });
      text = await res.text();
    } catch (e) {
      throw new BybitRetryable(ac.signal.aborted ? `bybit kline timed out after ${this.o.requestTimeoutMs} ms` : `bybit kline request failed: ${(e as Error).message}`, undefined, false);
    } finally {
      clearTimeout(timer);
    }
    const now = this.o.clock.now();
    const resetAt = Number(res.headers.get('x-bapi-limit-reset-timestamp'));
    const remaining = res.headers.get('x-bapi-limit-status');
    const asked = retryAfterMs(res.headers.get('retry-after'), now);
    if (res.status === HTTP_FORBIDDEN) {
      // the ban is on the IP: every symbol's requests from this process wait it out
      this.limiter.hold(now + BYBIT_IP_BAN_MS);
      throw new BybitIpBan(`bybit refused the request (HTTP 403: Bybit bans an IP that exceeds 600 requests per 5 s for at least 10 minutes); wait, lower --rps and re-run (the download resumes)`);
    }
    if (res.status === HTTP_TOO_MANY_REQUESTS || res.status >= HTTP_SERVER_ERROR) {
      throw new BybitRetryable(`bybit kline HTTP ${res.status}: ${text.slice(0, BODY_EXCERPT)}`, asked, res.status === HTTP_TOO_MANY_REQUESTS);
    }
    if (res.status < 200 || res.status >= 300) throw new Error(`bybit kline HTTP ${res.status}: ${text.slice(0, BODY_EXCERPT)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`bybit kline returned non-JSON: ${text.slice(0, BODY_EXCERPT)}`);
    }
    const env = pageEnvelopeSchema.safeParse(json);
    if (!env.success) {
      throw new Error(`bybit kline response failed validation: ${env.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const body = env.data;
    if (body.retCode !== 0) {
      const msg = `bybit kline error ${body.retCode}: ${body.retMsg}`;
      if (BYBIT_RETRY_CODES.has(body.retCode)) {
        const rateLimited = body.retCode === BYBIT_RATE_LIMIT_CODE;
        const waitMs = rateLimited && Number.isFinite(resetAt) && resetAt > now ? resetAt - now : asked;
        throw new BybitRetryable(msg, waitMs, rateLimited);
      }
      throw new Error(`${msg} (${req.category} ${req.symbol} interval ${BYBIT_KLINE_INTERVAL[req.interval]})`);
    }
    const list = 'list' in body.result ? body.result.list : [];
    const candles: BybitKlinePage['candles'] = [];
    const badRows: BybitKlinePage['badRows'] = [];
    for (const row of list) {
      const r = klineRowSchema.safeParse(row);
      if (!r.success) {
        badRows.push({ row, reason: r.error.issues.slice(0, 2).map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; ') });
        continue;
      }
      const [start, open, high, low, close, volume, turnover] = r.data;
      candles.push({ symbol: req.symbol, interval: req.interval, venue: 'bybit', openTime: Number(start), open: Number(open), high: Number(high), low: Number(low), close: Number(close), volume: Number(volume), turnover: Number(turnover) });
    }
    candles.sort((a, b) => a.openTime - b.openTime);
    // the last request of the window: every next request to the host waits for the reset
    if (remaining !== null && Number(remaining) <= 0 && Number.isFinite(resetAt)) this.limiter.hold(resetAt);
    const page: BybitKlinePage = { candles, rows: list.length, badRows, serverTime: body.time ?? now };
    if (candles.length > 0) page.oldestStart = candles[0]!.openTime;
    return page;
  }
}
