/** zod schemas of market-data batches crossing the bus (built from the ground-floor base schemas). */
import { z } from 'zod';
import { candleSchema, tradeSchema } from '../model/market.js';

/** A batch of closed candles on `ohlc-data-kraken` / `candles-bybit-1m`. */
export const candleBatchSchema = z.object({
  candles: z.array(candleSchema).min(1),
});
export type CandleBatch = z.infer<typeof candleBatchSchema>;

/** One message on `raw-tick-data-bybit`: the trades of one symbol over (at most) one second. */
export const tickBatchSchema = z.object({
  symbol: z.string().min(1),
  fromTs: z.number().int(),
  toTs: z.number().int(),
  trades: z.array(tradeSchema).min(1),
});
export type TickBatch = z.infer<typeof tickBatchSchema>;
