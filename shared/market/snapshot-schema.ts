/**
 * zod schema of the 15-second snapshot the Bybit holder publishes on `snapshots-bybit-15s`
 * (shared/market/types.ts `Snapshot`): the forming 1m candle as it is at `ts`, and the order-book
 * features. Subscribers (functions/micro-scalp) validate with it at their edge.
 */
import { z } from 'zod';
import { candleSchema } from './schemas.js';
import type { BookFeatures, Snapshot } from './types.js';

const finite = z.number().finite();

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

export const snapshotSchema = z
  .object({
    symbol: z.string().min(1),
    ts: z.number().int().nonnegative(),
    forming: candleSchema.nullable(),
    book: bookFeaturesSchema.nullable(),
  })
  .refine((s) => s.forming === null || (s.forming.symbol === s.symbol && s.forming.interval === '1m'), {
    message: 'forming must be a 1m candle of the snapshot symbol',
  }) satisfies z.ZodType<Snapshot>;
// A forming candle opening after `ts` is NOT rejected here: the holder stamps a snapshot with its
// scheduled boundary, and a late tick can already see the next minute's candle. The engine skips it.
