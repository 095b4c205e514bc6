/**
 * A small typed Kraken REST client on global `fetch` (SPEC 1: `kraken-api` is deprecated by its own
 * README, which says to call the REST API with fetch). Implements the `KrakenMarketData` port:
 *
 * - ONE request line per host for the whole process (infra/http/host-limiter.ts): Kraken limits
 *   public calls per client IP, so every pair, interval, endpoint and client object of a process
 *   shares one spacing of `minRequestIntervalMs` (config `kraken.minRequestIntervalMs`, 1 s);
 * - a timeout per request (AbortController, `requestTimeoutMs`);
 * - zod validation of the body and numeric parsing of Kraken's decimal strings;
 * - Kraken errors (`{"error":["EQuery:Unknown asset pair"]}`) surfaced as `KrakenApiError`;
 * - retries on 5xx/429, network failures, timeouts and Kraken's transient errors, never on request
 *   errors: a full-jitter exponential back-off (random source injectable), at least what the server
 *   asked for (`Retry-After`, seconds or HTTP-date), bounded by `maxRetries` and by a total wait
 *   `maxRetryWaitMs`. A rate-limit answer (HTTP 429, a 503 with Retry-After, `EAPI:Rate limit
 *   exceeded` / `EGeneral:Too many requests` in a 200 body) holds the host's whole line for that
 *   wait, so the other pairs' requests wait too;
 * - the result key is Kraken's canonical pair name: when it differs from the requested name, the
 *   client confirms it once with `/0/public/AssetPairs` (SPEC 12: ask, never guess silently).
 */
import { z } from 'zod';
import type { SystemConfig } from '../../shared/config/system.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { Clock } from '../../shared/ports/clock.js';
import { HostHeldError, backoffDelayMs, hostLimiter, retryAfterMs, type HostLimiter } from '../http/host-limiter.js';
import {
  KrakenApiError,
  KrakenError,
  KrakenHttpError,
  KrakenResponseError,
  type KrakenAssetPair,
  type KrakenMarketData,
  type KrakenOhlcResult,
  type KrakenOhlcRow,
} from '../../shared/ports/kraken.js';

/** Kraken's OHLC intervals (minutes). */
const KRAKEN_OHLC_INTERVALS = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600] as const;

const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_RETRY_BASE_MS = 1_000;
const DEFAULT_RETRY_MAX_MS = 16_000;
/** Default total back-off of one request (a CLI's; the scheduled pull takes kraken.maxRetryWaitMs). */
const DEFAULT_MAX_RETRY_WAIT_MS = 10 * 60_000;
const HTTP_TOO_MANY_REQUESTS = 429;
const HTTP_SERVER_ERROR = 500;
const BODY_EXCERPT_CHARS = 200;

const krakenClientOptionsSchema = z.object({
  baseUrl: z.string().url(),
  requestTimeoutMs: z.number().int().positive(),
  minRequestIntervalMs: z.number().int().nonnegative(),
  maxRetries: z.number().int().nonnegative().default(DEFAULT_MAX_RETRIES),
  retryBaseMs: z.number().int().positive().default(DEFAULT_RETRY_BASE_MS),
  retryMaxMs: z.number().int().positive().default(DEFAULT_RETRY_MAX_MS),
  /** Total back-off (Retry-After included) one request may spend before it gives up. */
  maxRetryWaitMs: z.number().int().nonnegative().default(DEFAULT_MAX_RETRY_WAIT_MS),
  userAgent: z.string().min(1).default('crypto-signal-tracker'),
  /** Random share of each back-off: retry n waits a draw in [(1 - jitter) c, c]; 1 = full jitter. */
  jitter: z.number().min(0).max(1).default(1),
});
type KrakenClientOptions = z.input<typeof krakenClientOptionsSchema> & {
  /** [0, 1) source of the back-off jitter (default Math.random); tests pass a seeded one. */
  random?: () => number;
};

// --- wire schemas ---------------------------------------------------------------------------

const decimal = z.string().regex(/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i, 'not a decimal string');
const rawRowSchema = z.tuple([
  z.number().int().nonnegative(),
  decimal,
  decimal,
  decimal,
  decimal,
  decimal,
  decimal,
  z.number().int().nonnegative(),
]);
const envelopeSchema = z.object({
  error: z.array(z.string()),
  result: z.record(z.string(), z.unknown()).optional(),
});
const assetPairSchema = z.looseObject({
  altname: z.string(),
  wsname: z.string().optional(),
  base: z.string().optional(),
  quote: z.string().optional(),
});

function parseRow(r: z.infer<typeof rawRowSchema>): KrakenOhlcRow {
  return {
    time: r[0],
    open: Number(r[1]),
    high: Number(r[2]),
    low: Number(r[3]),
    close: Number(r[4]),
    vwap: Number(r[5]),
    volume: Number(r[6]),
    count: r[7],
  };
}

function issues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

export class KrakenRestClient implements KrakenMarketData {
  private readonly opts: z.output<typeof krakenClientOptionsSchema>;
  /** The process's line for this host, shared with every other Kraken client of the process. */
  readonly limiter: HostLimiter;
  private readonly random: () => number;
  /** requested name -> confirmed canonical key. */
  private readonly confirmedKeys = new Map<string, string>();
  /** Requests sent, retries made, and failures that were rate limits (429, EAPI:Rate limit exceeded...). */
  readonly stats = { requests: 0, retries: 0, rateLimited: 0 };

  constructor(
    options: KrakenClientOptions,
    private readonly clock: Clock,
    private readonly log: Logger = createLogger({ component: 'kraken-client' }),
  ) {
    const { random, ...rest } = options;
    this.opts = krakenClientOptionsSchema.parse(rest);
    this.limiter = hostLimiter(clock, this.opts.baseUrl);
    this.random = random ?? Math.random;
  }

  async ohlc(pair: string, intervalMinutes: number, sinceSec?: number): Promise<KrakenOhlcResult> {
    if (!(KRAKEN_OHLC_INTERVALS as readonly number[]).includes(intervalMinutes)) {
      throw new KrakenError(`Kraken has no ${intervalMinutes}-minute OHLC interval (valid: ${KRAKEN_OHLC_INTERVALS.join(', ')})`, false);
    }
    const params: Record<string, string> = { pair, interval: String(intervalMinutes) };
    if (sinceSec !== undefined) params.since = String(Math.floor(sinceSec));
    const result = await this.call('OHLC', params);

    const keys = Object.keys(result).filter((k) => k !== 'last');
    if (keys.length !== 1) {
      throw new KrakenResponseError(`Kraken OHLC for ${pair}: expected exactly one pair key in result, got [${keys.join(', ')}]`);
    }
    const pairKey = keys[0] as string;
    const last = z.number().int().nonnegative().safeParse(result.last);
    if (!last.success) throw new KrakenResponseError(`Kraken OHLC for ${pair}: result.last is not an integer (${issues(last.error)})`);
    const rows = z.array(rawRowSchema).safeParse(result[pairKey]);
    if (!rows.success) throw new KrakenResponseError(`Kraken OHLC for ${pair}: malformed rows: ${issues(rows.error)}`);
    const parsed = rows.data.map(parseRow);
    for (let i = 1; i < parsed.length; i++) {
      if (parsed[i]!.time <= parsed[i - 1]!.time) {
        throw new KrakenResponseError(`Kraken OHLC for ${pair}: rows not strictly ascending at index ${i}`);
      }
    }
    await this.checkPairKey(pair, pairKey);
    return { pairKey, rows: parsed, last: last.data };
  }

  async assetPairs(pairs: string[]): Promise<KrakenAssetPair[]> {
    const result = await this.call('AssetPairs', { pair: pairs.join(',') });
    return Object.entries(result).map(([key, v]) => {
      const p = assetPairSchema.safeParse(v);
      if (!p.success) throw new KrakenResponseError(`Kraken AssetPairs entry ${key} malformed: ${issues(p.error)}`);
      const out: KrakenAssetPair = { key, altname: p.data.altname };
      if (p.data.wsname !== undefined) out.wsname = p.data.wsname;
      if (p.data.base !== undefined) out.base = p.data.base;
      if (p.data.quote !== undefined) out.quote = p.data.quote;
      return out;
    });
  }

  /** The answer's key must be the requested pair, or its canonical key per AssetPairs. */
  private async checkPairKey(pair: string, pairKey: string): Promise<void> {
    if (pairKey.toUpperCase() === pair.toUpperCase() || this.confirmedKeys.get(pair) === pairKey) return;
    const entries = await this.assetPairs([pair]);
    const match = entries.find((e) => e.key === pairKey);
    const names = match ? [match.key, match.altname, match.wsname].filter((n): n is string => !!n).map((n) => n.toUpperCase()) : [];
    if (!names.includes(pair.toUpperCase())) {
      throw new KrakenResponseError(
        `Kraken answered OHLC for ${pair} under key ${pairKey}, and AssetPairs does not confirm that ${pairKey} is ${pair}`,
      );
    }
    this.confirmedKeys.set(pair, pairKey);
    this.log.info('kraken pair key confirmed by AssetPairs', { pair, pairKey });
  }

  /**
   * GET /0/public/{endpoint} in the host's line, with timeout and retries; returns `result`. A
   * rate-limit answer or a Retry-After holds the whole line for the wait (every pair waits); other
   * failures wait their back-off alone.
   */
  private async call(endpoint: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    let waitedMs = 0;
    /** How long the next turn may sit out a hold: the budget left, plus this request's own hold (already counted). */
    let allowanceMs = this.opts.maxRetryWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.limiter.acquire(this.opts.minRequestIntervalMs, allowanceMs);
      } catch (e) {
        if (!(e instanceof HostHeldError)) throw e;
        throw new KrakenHttpError(
          `Kraken ${endpoint} (${new URLSearchParams(params).toString()}) not sent: Kraken asked this IP to wait ${e.waitMs} ms more, past the retry budget of ${this.opts.maxRetryWaitMs} ms (kraken.maxRetryWaitMs); the next run retries`,
          undefined,
          true,
        );
      }
      try {
        this.stats.requests++;
        return await this.once(endpoint, params);
      } catch (e) {
        if (!(e instanceof KrakenError) || !e.retryable) throw e;
        const rateLimited = (e instanceof KrakenHttpError && e.status === HTTP_TOO_MANY_REQUESTS) || (e instanceof KrakenApiError && e.rateLimited);
        if (rateLimited) this.stats.rateLimited++;
        const asked = e instanceof KrakenHttpError ? e.retryAfterMs : undefined;
        const delay = Math.max(backoffDelayMs(attempt, { baseMs: this.opts.retryBaseMs, maxMs: this.opts.retryMaxMs, jitter: this.opts.jitter }, this.random()), asked ?? 0);
        const holdsAll = rateLimited || asked !== undefined;
        // Kraken's wait applies to every pair, whether or not this request is retried
        if (holdsAll) this.limiter.hold(this.clock.now() + delay);
        if (attempt >= this.opts.maxRetries) throw gaveUp(e, attempt + 1, waitedMs, `retry limit ${this.opts.maxRetries} reached (kraken.maxRetries)`);
        if (waitedMs + delay > this.opts.maxRetryWaitMs) {
          const what = asked !== undefined && asked >= delay ? `Kraken asked for ${asked} ms (Retry-After)` : `the next back-off is ${delay} ms`;
          throw gaveUp(e, attempt + 1, waitedMs, `${what}, past the retry budget of ${this.opts.maxRetryWaitMs} ms (kraken.maxRetryWaitMs)`);
        }
        waitedMs += delay;
        allowanceMs = this.opts.maxRetryWaitMs - waitedMs + (holdsAll ? delay : 0);
        this.stats.retries++;
        this.log.warn('kraken request failed; retrying', { endpoint, params, attempt: attempt + 1, delayMs: delay, rateLimited, holdsAllPairs: holdsAll, error: e.message });
        if (!holdsAll) await this.clock.sleep(delay);
      }
    }
  }

  private async once(endpoint: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const url = `${this.opts.baseUrl.replace(/\/+$/, '')}/0/public/${endpoint}?${new URLSearchParams(params).toString()}`;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.opts.requestTimeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await fetch(url, { signal: ac.signal, headers: { accept: 'application/json', 'user-agent': this.opts.userAgent } });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (e) {
      const timedOut = ac.signal.aborted;
      throw new KrakenHttpError(
        timedOut
          ? `Kraken ${endpoint} timed out after ${this.opts.requestTimeoutMs} ms`
          : `Kraken ${endpoint} request failed: ${(e as Error).message}`,
        undefined,
        true,
      );
    } finally {
      clearTimeout(timer);
    }
    if (status < 200 || status >= 300) {
      const retryable = status >= HTTP_SERVER_ERROR || status === HTTP_TOO_MANY_REQUESTS;
      const asked = retryable ? retryAfterMs(retryAfter, this.clock.now()) : undefined;
      throw new KrakenHttpError(`Kraken ${endpoint} HTTP ${status}: ${text.slice(0, BODY_EXCERPT_CHARS)}`, status, retryable, asked);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KrakenResponseError(`Kraken ${endpoint} returned non-JSON: ${text.slice(0, BODY_EXCERPT_CHARS)}`);
    }
    const env = envelopeSchema.safeParse(json);
    if (!env.success) throw new KrakenResponseError(`Kraken ${endpoint} response malformed: ${issues(env.error)}`);
    if (env.data.error.length > 0) throw new KrakenApiError(env.data.error, endpoint, params);
    if (!env.data.result) throw new KrakenResponseError(`Kraken ${endpoint} response has neither error nor result`);
    return env.data.result;
  }
}

/**
 * The last error of a request that will not be retried again, its message saying why: the error
 * keeps its type (status, Kraken code) for callers that inspect it.
 */
function gaveUp(e: KrakenError, attempts: number, waitedMs: number, why: string): KrakenError {
  e.message = `${e.message} (gave up after ${attempts} attempts, ${waitedMs} ms of back-off): ${why}`;
  return e;
}

/** The client settings of a system config's `kraken` section. */
export function krakenClientSettings(cfg: SystemConfig['kraken']): Omit<KrakenClientOptions, 'baseUrl'> {
  return {
    requestTimeoutMs: cfg.requestTimeoutMs,
    minRequestIntervalMs: cfg.minRequestIntervalMs,
    maxRetries: cfg.maxRetries,
    retryBaseMs: cfg.retryBaseMs,
    retryMaxMs: cfg.retryMaxMs,
    maxRetryWaitMs: cfg.maxRetryWaitMs,
  };
}

/** The client for a base URL (live Kraken or the local replay server) from the system config. */
export function krakenClientFromConfig(
  baseUrl: string,
  cfg: SystemConfig['kraken'],
  clock: Clock,
  log?: Logger,
  overrides: Partial<KrakenClientOptions> = {},
): KrakenRestClient {
  return new KrakenRestClient({ baseUrl, ...krakenClientSettings(cfg), ...overrides }, clock, log);
}
