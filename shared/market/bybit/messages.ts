/**
 * Bybit v5 public websocket messages (linear): `publicTrade.{S}`, `orderbook.{depth}.{S}`,
 * `kline.1.{S}` and the control replies (subscribe ack, pong).
 *
 * The data path is hot (hundreds of messages per second per symbol), so data messages are checked by
 * hand-written, allocation-light guards instead of zod: every number the holder uses is converted
 * once and checked (finite, positive price, positive/non-negative size, ordered OHLC). A message or
 * item that fails is reported with a reason and never reaches a candle or the book. Control replies
 * and REST responses are rare and validated with zod.
 *
 * Shapes (from the real recording in shared/data/bybit_ws):
 *   {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,
 *    "data":[{"T":1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick",
 *             "i":"a9188a0a-...","BT":false,"RPI":false,"seq":753843954913}]}
 *   {"topic":"orderbook.200.BTCUSDT","type":"snapshot"|"delta","ts":..,"data":{"s":"BTCUSDT",
 *    "b":[["65114.20","6.054"],..],"a":[..],"u":15076952,"seq":753843...},"cts":..}
 *   {"topic":"kline.1.BTCUSDT","type":"snapshot","ts":..,"data":[{"start":..,"end":..,"interval":"1",
 *    "open":"65119.9","close":"65114.3","high":"65119.9","low":"65114.2","volume":"1.576",
 *    "turnover":"102627.995","confirm":false,"timestamp":1786310818440}]}
 *   {"success":true,"ret_msg":"","conn_id":"d8bu1olkndm7crnfs1e0-j6akw","req_id":"","op":"subscribe"}
 *   {"success":true,"ret_msg":"pong","conn_id":"...","req_id":"","op":"ping"}
 */
import { z } from 'zod';
import type { Trade } from '../../model/market.js';

type Channel = 'publicTrade' | 'orderbook' | 'kline' | 'other';

interface TopicInfo {
  channel: Channel;
  symbol: string;
  /** orderbook depth (1, 50, 200, 500) */
  depth?: number;
  /** kline interval as Bybit names it ("1", "5", ...). */
  interval?: string;
}

const topicCache = new Map<string, TopicInfo>();

/** Splits `publicTrade.BTCUSDT`, `orderbook.50.BTCUSDT`, `kline.1.BTCUSDT` (memoised). */
export function parseTopic(topic: string): TopicInfo {
  let info = topicCache.get(topic);
  if (info) return info;
  const parts = topic.split('.');
  const head = parts[0];
  if (head === 'publicTrade' && parts.length === 2) info = { channel: 'publicTrade', symbol: parts[1] as string };
  else if (head === 'orderbook' && parts.length === 3) info = { channel: 'orderbook', symbol: parts[2] as string, depth: Number(parts[1]) };
  else if (head === 'kline' && parts.length === 3) info = { channel: 'kline', symbol: parts[2] as string, interval: parts[1] as string };
  else info = { channel: 'other', symbol: parts[parts.length - 1] ?? '' };
  topicCache.set(topic, info);
  return info;
}

export const tradeTopic = (symbol: string): string => `publicTrade.${symbol}`;
export const bookTopic = (symbol: string, depth: number): string => `orderbook.${depth}.${symbol}`;
export const klineTopic = (symbol: string): string => `kline.1.${symbol}`;

/** Converts a Bybit decimal string (or number) to a number; NaN when it is neither. */
export function num(v: unknown): number {
  return typeof v === 'string' ? (v.length === 0 ? Number.NaN : +v) : typeof v === 'number' ? v : Number.NaN;
}

const isPos = (x: number): boolean => x > 0 && x < Number.POSITIVE_INFINITY;

/** Why one raw trade item is impossible, or null when it is fine. */
function tradeIssue(t: Trade, topicSymbol: string): string | null {
  if (!isPos(t.price)) return 'non-positive or non-finite price';
  if (!isPos(t.size)) return 'non-positive or non-finite size';
  if (!Number.isSafeInteger(t.ts) || t.ts <= 0) return 'bad trade time';
  if (t.side !== 'Buy' && t.side !== 'Sell') return 'bad side';
  if (t.symbol !== topicSymbol) return `symbol ${t.symbol} on topic of ${topicSymbol}`;
  if (t.id.length === 0) return 'missing trade id';
  return null;
}

export interface Rejected {
  reason: string;
  item: unknown;
}

/**
 * Decodes the trades of a `publicTrade` message into `out` (appends). Impossible items are appended
 * to `rejected` instead. Returns false when the message itself is malformed.
 */
export function decodeTrades(data: unknown, topicSymbol: string, out: Trade[], rejected: Rejected[]): boolean {
  if (!Array.isArray(data)) return false;
  for (let i = 0; i < data.length; i++) {
    const r = data[i] as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object') {
      rejected.push({ reason: 'trade item is not an object', item: r });
      continue;
    }
    const id = r.i;
    const t: Trade = {
      symbol: r.s as string,
      ts: r.T as number,
      price: num(r.p),
      size: num(r.v),
      side: r.S as Trade['side'],
      id: typeof id === 'string' ? id : '',
    };
    const issue = tradeIssue(t, topicSymbol);
    if (issue) rejected.push({ reason: issue, item: r });
    else out.push(t);
  }
  return true;
}

/** One kline bar of a `kline.1` message, numbers converted. */
export interface KlineBar {
  start: number;
  end: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  turnover: number;
  confirm: boolean;
  /** Exchange time of this state of the bar. */
  timestamp: number;
}

export function klineIssue(b: KlineBar): string | null {
  if (!Number.isSafeInteger(b.start) || b.start < 0) return 'bad start';
  if (!isPos(b.open) || !isPos(b.high) || !isPos(b.low) || !isPos(b.close)) return 'non-positive or non-finite price';
  if (!(b.volume >= 0) || b.volume === Number.POSITIVE_INFINITY) return 'negative or non-finite volume';
  if (b.low > Math.min(b.open, b.close) || b.high < Math.max(b.open, b.close)) return 'OHLC out of order';
  return null;
}

export function decodeKlines(data: unknown, out: KlineBar[], rejected: Rejected[]): boolean {
  if (!Array.isArray(data)) return false;
  for (const r of data as Array<Record<string, unknown> | null>) {
    if (r === null || typeof r !== 'object') {
      rejected.push({ reason: 'kline item is not an object', item: r });
      continue;
    }
    const b: KlineBar = {
      start: r.start as number,
      end: r.end as number,
      open: num(r.open),
      high: num(r.high),
      low: num(r.low),
      close: num(r.close),
      volume: num(r.volume),
      turnover: num(r.turnover),
      confirm: r.confirm === true,
      timestamp: typeof r.timestamp === 'number' ? r.timestamp : 0,
    };
    const issue = klineIssue(b);
    if (issue) rejected.push({ reason: issue, item: r });
    else out.push(b);
  }
  return true;
}

/** The `data` object of an orderbook message (levels still as exchange strings). */
export interface BookData {
  s: string;
  b: unknown[];
  a: unknown[];
  u: number;
  seq?: number;
}

/** Checks the envelope of an orderbook `data` object (levels are checked while they are applied). */
export function bookDataIssue(d: unknown): string | null {
  if (d === null || typeof d !== 'object') return 'orderbook data is not an object';
  const o = d as Record<string, unknown>;
  if (!Array.isArray(o.b) || !Array.isArray(o.a)) return 'orderbook data without b/a arrays';
  if (!Number.isSafeInteger(o.u)) return 'orderbook data without integer u';
  return null;
}

// ---- control replies (rare: zod) -------------------------------------------------------------

/** Reply to `{"op":"subscribe"|"unsubscribe","args":[..],"req_id":".."}` on public v5 streams. */
export const subscribeAckSchema = z.object({
  success: z.boolean(),
  ret_msg: z.string(),
  conn_id: z.string(),
  req_id: z.string().optional(),
  op: z.enum(['subscribe', 'unsubscribe']),
});

/** Reply to `{"op":"ping"}` on public v5 linear/inverse streams. */
export const pongSchema = z.object({
  success: z.literal(true),
  ret_msg: z.literal('pong'),
  conn_id: z.string(),
  req_id: z.string().optional(),
  op: z.literal('ping'),
});

// ---- REST `GET /v5/market/kline` ---------------------------------------------------------------

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/, 'not a decimal string');

/** Row `[startTime, open, high, low, close, volume, turnover]`, all strings, newest first. */
export const klineRowSchema = z.tuple([z.string().regex(/^\d+$/), decimal, decimal, decimal, decimal, decimal, decimal]);

export const klineResponseSchema = z.object({
  retCode: z.number(),
  retMsg: z.string(),
  result: z.union([
    z.object({
      category: z.string().optional(),
      symbol: z.string().optional(),
      list: z.array(klineRowSchema),
    }),
    z.object({}).strict(),
  ]),
  retExtInfo: z.unknown().optional(),
  /** Exchange time of the response, ms. */
  time: z.number().optional(),
});
