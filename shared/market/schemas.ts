/**
 * zod schemas of the market vocabulary (a candle, a trade, the order-book features): the building
 * blocks of the bus payloads (the catalog, shared/messages.ts, declares those), fixtures and config.
 */
import { z } from 'zod';
import { INTERVALS, type BookFeatures } from './types.js';

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

/** The order-book features of a snapshot (shared/market/types.ts `BookFeatures`). */
export const bookFeaturesSchema = z.object({
  bestBid: positive,
  bestAsk: positive,
  mid: positive,
  spreadBps: finite,
  bidDepth: finite.nonnegative(),
  askDepth: finite.nonnegative(),
  imbalance: finite.min(-1).max(1),
  depthLevels: z.number().int().nonnegative(),
}) satisfies z.ZodType<BookFeatures>;
