/**
 * The system config document (`config/system` in state), validated with zod. Every number is a
 * SPEC default and lives here, not in code. The owner edits the document in the Firestore console;
 * `ConfigService` (shared/config/service.ts) validates edits and keeps the last valid one.
 */
import { z } from 'zod';
import { INTERVALS } from '../market/types.js';

export const TIERS = ['large_cap', 'mid_cap', 'small_cap', 'memecoin'] as const;
export type Tier = (typeof TIERS)[number];

const symbolSchema = z.object({
  /** System symbol = Bybit linear perp, e.g. BTCUSDT. */
  symbol: z.string().regex(/^[A-Z0-9]{2,20}USDT$/, 'symbol must look like BTCUSDT'),
  /** Kraken REST `pair` parameter and result key (SPEC 12), or null when Kraken has no pair. */
  krakenPair: z.string().min(3).nullable(),
  tier: z.enum(TIERS),
  enabled: z.boolean().default(true),
});
export type SymbolConfig = z.infer<typeof symbolSchema>;

const ms = z.number().int().positive();
const fraction = z.number().min(0).max(1);

export const systemConfigSchema = z
  .object({
    symbols: z.array(symbolSchema).min(1).max(25, 'at most the top 25 symbols'),
    kraken: z.object({
      baseUrl: z.string().url(),
      /** Intervals pulled every minute (5m, 4h for the bias; 15m, 1h for strategies). */
      intervals: z.array(z.enum(INTERVALS)).min(1),
      /** Kraken returns at most this many of the most recent candles. */
      maxCandlesPerResponse: z.number().int().positive(),
      /** Candles re-fetched before the cursor to heal late revisions. */
      overlapCandles: z.number().int().nonnegative(),
      /** About one request per second per pair. */
      minRequestIntervalMs: ms,
      requestTimeoutMs: ms,
    }),
    bybit: z.object({
      wsUrl: z.string().url(),
      restUrl: z.string().url(),
      pingIntervalMs: ms,
      reconnectMinMs: ms,
      reconnectMaxMs: ms,
      bookDepth: z.union([z.literal(1), z.literal(50), z.literal(200), z.literal(500)]),
      /** Top-N levels for depth and imbalance features. */
      featureLevels: z.number().int().positive(),
      snapshotIntervalMs: ms,
      /** Raw trades are batched: at most one message per symbol per this period. */
      tickBatchMs: ms,
    }),
    dataQuality: z.object({
      /** A candle moving more than this fraction within one minute is flagged bad_data. */
      maxMoveFractionPerMinute: z.number().positive(),
      /** No candle for this long on a symbol raises one `data_stale` alert. */
      staleAfterMs: ms,
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
    retentionDays: z.record(z.enum(INTERVALS), z.number().int().positive().nullable()),
    /** Idempotency markers (processed updates, applied signals) are kept this long (>= Pub/Sub's 7-day retention). */
    markerRetentionDays: z.number().int().min(7).default(7),
    /** Candles kept readable per symbol/interval for engines (the hot window size). */
    hotWindowCandles: z.number().int().positive(),
    /** How often a running process re-reads config documents (SPEC 10: within a minute). */
    configReloadMs: ms.max(60_000),
    /** Bus delivery: attempts before dead-lettering, and back-off. */
    delivery: z.object({
      maxAttempts: z.number().int().min(2).max(100),
      minBackoffMs: ms,
      maxBackoffMs: ms,
    }),
    timeZone: z.string().min(1),
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
