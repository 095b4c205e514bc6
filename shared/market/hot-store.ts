/**
 * The hot window of candles in state: `candles/{venue}:{symbol}:{interval}/bars/{openTime}`.
 * Writes are keyed by open time, so writing the same candle twice leaves the same state.
 */
import type { DocData, StateStore, WriteOp } from '../ports/state.js';
import type { Candle, Interval, Venue } from '../model/market.js';
import { barsCollection, candlePath } from '../state-paths.js';

/** Firestore allows 500 writes per batch; stay well under. */
export const MAX_BATCH_WRITES = 400;

export function candleToDoc(c: Candle): DocData {
  const doc: DocData = {
    symbol: c.symbol,
    interval: c.interval,
    venue: c.venue,
    openTime: c.openTime,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
  };
  if (c.trades !== undefined) doc.trades = c.trades;
  if (c.vwap !== undefined) doc.vwap = c.vwap;
  if (c.flags && c.flags.length > 0) doc.flags = [...c.flags];
  return doc;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Writes closed candles to the hot window (idempotent: same key, same document). */
export async function writeHotCandles(state: StateStore, candles: Candle[]): Promise<void> {
  const ops: WriteOp[] = candles.map((c) => ({ kind: 'set', path: candlePath(c), data: candleToDoc(c) }));
  for (const part of chunk(ops, MAX_BATCH_WRITES)) await state.batch(part);
}

/** The most recent `n` candles, ascending by open time. */
export async function recentHotCandles(
  state: StateStore,
  venue: Venue,
  symbol: string,
  interval: Interval,
  n: number,
): Promise<Candle[]> {
  const docs = await state.query<Candle>(barsCollection(venue, symbol, interval), {
    orderBy: { field: 'openTime', direction: 'desc' },
    limit: n,
  });
  return docs.map((d) => d.data).reverse();
}

export async function latestHotCandle(
  state: StateStore,
  venue: Venue,
  symbol: string,
  interval: Interval,
): Promise<Candle | undefined> {
  const [last] = await recentHotCandles(state, venue, symbol, interval, 1);
  return last;
}
