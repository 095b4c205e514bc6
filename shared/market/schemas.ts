/** zod schemas for market data crossing an edge (bus payloads, fixtures, config). */
import { z } from 'zod';
import { INTERVALS } from './types.js';

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

/** A batch of closed candles on `ohlc-data-kraken` / `candles-bybit-1m`. */
export const candleBatchSchema = z.object({
  candles: z.array(candleSchema).min(1),
});
export type CandleBatch = z.infer<typeof candleBatchSchema>;

export const tradeSchema = z.object({
  symbol: z.string().min(1),
  ts: z.number().int().nonnegative(),
  price: positive,
  size: positive,
  side: z.enum(['Buy', 'Sell']),
  id: z.string().min(1),
});

/** One message on `raw-tick-data-bybit`: the trades of one symbol over (at most) one second. */
export const tickBatchSchema = z.object({
  symbol: z.string().min(1),
  fromTs: z.number().int(),
  toTs: z.number().int(),
  trades: z.array(tradeSchema).min(1),
});
export type TickBatch = z.infer<typeof tickBatchSchema>;
