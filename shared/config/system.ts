/**
 * The system config document (`config/system` in state), validated with zod. Every number is a
 * SPEC default and lives here, not in code. The owner edits the document in the Firestore console;
 * `ConfigService` (shared/config/service.ts) validates edits and keeps the last valid one.
 * Every object is strict (an unknown or misspelt key is rejected with its path) and every number has
 * bounds, chosen so no value switches a safety filter off (e.g. the spike threshold stays in a band
 * that still flags a bad print).
 */
import { z } from 'zod';
import { INTERVALS, TIERS } from '../model/market.js';

const symbolSchema = z.strictObject({
  /** System symbol = Bybit linear perp, e.g. BTCUSDT. */
  symbol: z.string().regex(/^[A-Z0-9]{2,20}USDT$/, 'symbol must look like BTCUSDT'),
  /** Kraken REST `pair` parameter and result key (SPEC 12), or null when Kraken has no pair. */
  krakenPair: z.string().min(3).max(20).nullable(),
  tier: z.enum(TIERS),
  enabled: z.boolean().default(true),
});
export type SymbolConfig = z.infer<typeof symbolSchema>;

/** An IANA time zone name the runtime knows (`America/Los_Angeles`, `UTC`). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const systemConfigSchema = z
  .strictObject({
    symbols: z.array(symbolSchema).min(1).max(25, 'at most the top 25 symbols'),
    kraken: z.strictObject({
      baseUrl: z.string().url(),
      /** Intervals pulled every minute (5m, 4h for the bias; 15m, 1h for strategies). */
      intervals: z.array(z.enum(INTERVALS)).min(1).max(INTERVALS.length),
      /** Kraken returns at most this many of the most recent candles. */
      maxCandlesPerResponse: z.number().int().min(10).max(720),
      /** Candles re-fetched before the cursor to heal late revisions (at least one: the last may have been forming). */
      overlapCandles: z.number().int().min(1).max(100),
      /**
       * Spacing of ALL Kraken REST requests of a process (every pair, interval and endpoint): Kraken
       * limits public calls per client IP, about one per second (faster gets the IP banned).
       */
      minRequestIntervalMs: z.number().int().min(500).max(60_000),
      requestTimeoutMs: z.number().int().min(1_000).max(120_000),
      /** Retries of one request after a 5xx, 429, timeout or Kraken's "try later" errors. */
      maxRetries: z.number().int().min(0).max(10),
      /** Back-off ceiling of retry n: min(retryBaseMs x 2^n, retryMaxMs); the wait is a full-jitter draw in [0, ceiling]. */
      retryBaseMs: z.number().int().min(100).max(60_000),
      retryMaxMs: z.number().int().min(1_000).max(10 * 60_000),
      /**
       * Total back-off (Retry-After included) one request may spend before it gives up; the next run
       * retries. A hold delays every pair, so it adds to the run: 9 pairs x 4 intervals at 1 request/s
       * take about 36 s, and 36 + 15 s stays inside the scheduler's 55 s attempt deadline.
       */
      maxRetryWaitMs: z.number().int().min(0).max(10 * 60_000),
    }),
    bybit: z.strictObject({
      wsUrl: z.string().url(),
      restUrl: z.string().url(),
      /** Bybit drops a connection without a ping for 10 minutes; it asks for one every 20 s. */
      pingIntervalMs: z.number().int().min(5_000).max(60_000),
      reconnectMinMs: z.number().int().min(100).max(60_000),
      reconnectMaxMs: z.number().int().min(1_000).max(10 * 60_000),
      bookDepth: z.union([z.literal(1), z.literal(50), z.literal(200), z.literal(500)]),
      /** Top-N levels for depth and imbalance features. */
      featureLevels: z.number().int().positive().max(500),
      snapshotIntervalMs: z.number().int().min(1_000).max(5 * 60_000),
      /** Raw trades are batched: at most one message per symbol per this period. */
      tickBatchMs: z.number().int().min(100).max(60_000),
    }),
    dataQuality: z.strictObject({
      /**
       * A candle moving more than this fraction within one minute is flagged bad_data. Bounded to a
       * band that still filters: below 5 % ordinary memecoin minutes are flagged; at 90 % and above a
       * print that lost (almost) all its value would pass, and at 1 no downward move could be caught.
       */
      maxMoveFractionPerMinute: z.number().min(0.05).max(0.9),
      /** No candle for this long on a symbol raises one `data_stale` alert. */
      staleAfterMs: z.number().int().min(2 * 60_000).max(24 * 60 * 60_000),
      /**
       * Consecutive suspect candles, consistent with each other, after which the sanity reference
       * re-anchors (a real crash or pump becomes the new normal; shared/market/quality.ts judgeSanity).
       */
      reanchorAfterCandles: z.number().int().min(2).max(30).default(3),
      /** Clock skew allowed to a closed candle: openTime + interval <= now + this (candle gate). */
      maxClockSkewMs: z.number().int().min(0).max(5 * 60_000).default(5_000),
      /** Verdicts the candle gate remembers per series (a re-sent candle with other values is refused). */
      gateMemoryCandles: z.number().int().min(10).max(2_000).default(240),
    }),
    /** Hot-store retention in days per interval; null keeps forever (SPEC 2). */
    retentionDays: z.record(z.enum(INTERVALS), z.number().int().positive().max(3_650).nullable()),
    /** Idempotency markers (processed updates, applied signals) are kept this long (>= Pub/Sub's 7-day retention). */
    markerRetentionDays: z.number().int().min(7).max(365).default(7),
    /** Candles kept readable per symbol/interval for engines (the hot window size; EMA 200 + slope needs > 210). */
    hotWindowCandles: z.number().int().min(250).max(2_000),
    /** How often a running process re-reads config documents (SPEC 10: within a minute). */
    configReloadMs: z.number().int().min(1_000).max(60_000),
    /** Bus delivery: attempts before dead-lettering, and back-off (Pub/Sub allows 0-600 s). */
    delivery: z.strictObject({
      maxAttempts: z.number().int().min(2).max(100),
      minBackoffMs: z.number().int().min(100).max(600_000),
      maxBackoffMs: z.number().int().min(1_000).max(600_000),
    }),
    timeZone: z.string().min(1).refine(isTimeZone, 'not a known IANA time zone (e.g. America/Los_Angeles)'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, s] of c.symbols.entries()) {
      if (seen.has(s.symbol)) ctx.addIssue({ code: 'custom', path: ['symbols', i, 'symbol'], message: `duplicate symbol ${s.symbol}` });
      seen.add(s.symbol);
    }
    if (c.bybit.reconnectMinMs > c.bybit.reconnectMaxMs) {
      ctx.addIssue({ code: 'custom', path: ['bybit', 'reconnectMinMs'], message: 'reconnectMinMs must be <= reconnectMaxMs' });
    }
    if (c.bybit.featureLevels > c.bybit.bookDepth) {
      ctx.addIssue({ code: 'custom', path: ['bybit', 'featureLevels'], message: 'featureLevels must be <= bookDepth' });
    }
    if (c.kraken.retryBaseMs > c.kraken.retryMaxMs) {
      ctx.addIssue({ code: 'custom', path: ['kraken', 'retryBaseMs'], message: 'retryBaseMs must be <= retryMaxMs' });
    }
    if (c.delivery.minBackoffMs > c.delivery.maxBackoffMs) {
      ctx.addIssue({ code: 'custom', path: ['delivery', 'minBackoffMs'], message: 'minBackoffMs must be <= maxBackoffMs' });
    }
  });

export type SystemConfig = z.infer<typeof systemConfigSchema>;

/** SPEC defaults. */
export const DEFAULT_SYSTEM_CONFIG: SystemConfig = {
  symbols: [
    { symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap', enabled: true },
    { symbol: 'ETHUSDT', krakenPair: 'XETHZUSD', tier: 'large_cap', enabled: true },
    { symbol: 'SOLUSDT', krakenPair: 'SOLUSD', tier: 'mid_cap', enabled: true },
    { symbol: 'XRPUSDT', krakenPair: 'XXRPZUSD', tier: 'mid_cap', enabled: true },
    { symbol: 'DOGEUSDT', krakenPair: 'XDGUSD', tier: 'memecoin', enabled: true },
    { symbol: 'SEIUSDT', krakenPair: 'SEIUSD', tier: 'small_cap', enabled: true },
    { symbol: 'LINKUSDT', krakenPair: 'LINKUSD', tier: 'mid_cap', enabled: true },
    { symbol: 'SUIUSDT', krakenPair: 'SUIUSD', tier: 'small_cap', enabled: true },
    { symbol: 'ADAUSDT', krakenPair: 'ADAUSD', tier: 'mid_cap', enabled: true },
  ],
  kraken: {
    baseUrl: 'https://api.kraken.com',
    intervals: ['5m', '15m', '1h', '4h'],
    maxCandlesPerResponse: 720,
    overlapCandles: 3,
    minRequestIntervalMs: 1_000,
    requestTimeoutMs: 10_000,
    maxRetries: 3,
    retryBaseMs: 1_000,
    retryMaxMs: 16_000,
    maxRetryWaitMs: 15_000,
  },
  bybit: {
    wsUrl: 'wss://stream.bybit.com/v5/public/linear',
    restUrl: 'https://api.bybit.com',
    pingIntervalMs: 20_000,
    reconnectMinMs: 500,
    reconnectMaxMs: 30_000,
    bookDepth: 50,
    featureLevels: 10,
    snapshotIntervalMs: 15_000,
    tickBatchMs: 1_000,
  },
  dataQuality: {
    maxMoveFractionPerMinute: 0.5,
    staleAfterMs: 10 * 60_000,
    reanchorAfterCandles: 3,
    maxClockSkewMs: 5_000,
    gateMemoryCandles: 240,
  },
  retentionDays: { '1m': 30, '5m': 90, '15m': 365, '1h': 730, '4h': 730, '12h': null, '1d': null },
  markerRetentionDays: 7,
  hotWindowCandles: 500,
  configReloadMs: 30_000,
  delivery: { maxAttempts: 5, minBackoffMs: 10_000, maxBackoffMs: 600_000 },
  timeZone: 'America/Los_Angeles',
};
