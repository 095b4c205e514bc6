/**
 * Ground floor, market vocabulary: the plain market-data types every layer speaks (candles, intervals,
 * venues, trades, order-book features, snapshots, symbol tiers) and their base zod schemas. It imports
 * nothing but zod, so ports, config, charts and the domain can all import it without pulling in logic.
 * Message schemas (a topic's payload) are built from these in shared/messages.ts.
 * All times are UTC epoch milliseconds.
 */
import { z } from 'zod';

/** Market-cap tier of a symbol: risk, exits and costs are configured per tier. */
export const TIERS = ['large_cap', 'mid_cap', 'small_cap', 'memecoin'] as const;
export type Tier = (typeof TIERS)[number];

/** Candle intervals the system stores. Kraken and Bybit names are mapped onto these. */
export const INTERVALS = ['1m', '5m', '15m', '1h', '4h', '12h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

export const INTERVAL_MS: Record<Interval, number> = {
  '1m': 60_000,
  '5m': 5 * 60_000,
  '15m': 15 * 60_000,
  '1h': 60 * 60_000,
  '4h': 4 * 60 * 60_000,
  '12h': 12 * 60 * 60_000,
  '1d': 24 * 60 * 60_000,
};

/** Kraken REST `interval` parameter (minutes) for each interval. */
export const KRAKEN_INTERVAL_MINUTES: Record<Interval, number> = {
  '1m': 1,
  '5m': 5,
  '15m': 15,
  '1h': 60,
  '4h': 240,
  '12h': 720,
  '1d': 1440,
};

export function intervalFromMinutes(minutes: number): Interval {
  const found = INTERVALS.find((i) => KRAKEN_INTERVAL_MINUTES[i] === minutes);
  if (!found) throw new Error(`unsupported interval: ${minutes} minutes`);
  return found;
}

export type Venue = 'kraken' | 'bybit';

/** Data-quality flags carried on a candle. A flagged candle is stored but never traded. */
export type CandleFlag = 'bad_data';

export interface Candle {
  /** The system symbol, e.g. BTCUSDT (Kraken pairs are mapped onto the scalp symbols). */
  symbol: string;
  interval: Interval;
  venue: Venue;
  /** Candle OPEN time, epoch ms UTC. */
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** Base-asset volume. */
  volume: number;
  /** Number of trades, when the venue reports it. */
  trades?: number;
  /** Volume-weighted average price, when the venue reports it. */
  vwap?: number;
  flags?: CandleFlag[];
}

/** Stable idempotency key of a closed candle: venue + symbol + interval + open time. */
export function candleKey(c: Pick<Candle, 'venue' | 'symbol' | 'interval' | 'openTime'>): string {
  return `${c.venue}:${c.symbol}:${c.interval}:${c.openTime}`;
}

export function isTradable(c: Candle): boolean {
  return !c.flags || c.flags.length === 0;
}

/** One public trade (Bybit `publicTrade`). */
export interface Trade {
  symbol: string;
  /** Trade time, epoch ms. */
  ts: number;
  price: number;
  size: number;
  side: 'Buy' | 'Sell';
  id: string;
}

/** A price level of an order book. */
export interface BookLevel {
  price: number;
  size: number;
}

/** Order-book features the holder computes for the scalp logic (order-book flip etc.). */
export interface BookFeatures {
  bestBid: number;
  bestAsk: number;
  mid: number;
  spreadBps: number;
  /** Sum of bid size over the top N levels. */
  bidDepth: number;
  askDepth: number;
  /** (bid - ask) / (bid + ask) over the top N levels, in [-1, 1]. */
  imbalance: number;
  depthLevels: number;
}

/** The 15-second snapshot the holder publishes per symbol. */
export interface Snapshot {
  symbol: string;
  ts: number;
  /** The forming (not yet closed) 1m candle, as it is at `ts`. */
  forming: Candle | null;
  book: BookFeatures | null;
}

// ---------- base zod schemas (validation at an edge: bus payloads, fixtures, config) ----------

const finite = z.number().finite();
const positive = finite.positive();

export const candleSchema = z
  .object({
    symbol: z.string().min(1),
    interval: z.enum(INTERVALS),
    venue: z.enum(['kraken', 'bybit']),
    openTime: z.number().int().nonnegative(),
    open: positive,
    high: positive,
    low: positive,
    close: positive,
    volume: finite.nonnegative(),
    trades: z.number().int().nonnegative().optional(),
    vwap: finite.nonnegative().optional(),
    flags: z.array(z.enum(['bad_data'])).optional(),
  })
  .refine((c) => c.low <= Math.min(c.open, c.close) && c.high >= Math.max(c.open, c.close), {
    message: 'OHLC out of order (need low <= open,close <= high)',
  });

export const tradeSchema = z.object({
  symbol: z.string().min(1),
  ts: z.number().int().nonnegative(),
  price: positive,
  size: positive,
  side: z.enum(['Buy', 'Sell']),
  id: z.string().min(1),
});

export const bookFeaturesSchema = z
  .object({
    bestBid: finite.positive(),
    bestAsk: finite.positive(),
    mid: finite.positive(),
    spreadBps: finite,
    bidDepth: finite.nonnegative(),
    askDepth: finite.nonnegative(),
    imbalance: finite.min(-1).max(1),
    depthLevels: z.number().int().nonnegative(),
  }) satisfies z.ZodType<BookFeatures>;
