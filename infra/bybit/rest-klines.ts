/**
 * KlineSource adapter: Bybit REST `GET /v5/market/kline?category=linear&interval=1` through
 * bybit-api's `RestClientV5` (its `baseUrl` option points it at live Bybit or the replay server).
 *
 * Bybit returns at most `limit` rows, NEWEST FIRST, each `[startTime, open, high, low, close, volume,
 * turnover]` as strings, including the minute still forming. This adapter validates the response
 * (zod), pages backwards through `end` until the range is covered, drops minutes that had not closed
 * at the exchange's response `time`, and returns ascending candles without duplicates.
 */
import { RestClientV5 } from 'bybit-api';
import type { KlineSource } from '../../shared/ports/bybit.js';
import type { Candle } from '../../shared/model/market.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import { klineIssue, klineResponseSchema, type KlineBar } from '../../shared/market/bybit/messages.js';

const MINUTE = INTERVAL_MS['1m'];

interface RestKlinesOptions {
  baseUrl: string;
  /** Page size (Bybit allows at most 1000). */
  pageLimit: number;
  requestTimeoutMs: number;
  clock: Clock;
  log: Logger;
}

export class BybitRestKlines implements KlineSource {
  private readonly client: RestClientV5;

  constructor(private readonly o: RestKlinesOptions) {
    this.client = new RestClientV5({ baseUrl: o.baseUrl, throwExceptions: false, parseAPIRateLimits: false }, { timeout: o.requestTimeoutMs });
  }

  async closedKlines1m(symbol: string, fromOpenTime: number, toOpenTime: number): Promise<Candle[]> {
    const byTime = new Map<number, Candle>();
    let end = toOpenTime;
    for (;;) {
      const raw: unknown = await this.client.getKline({ category: 'linear', symbol, interval: '1', start: fromOpenTime, end, limit: this.o.pageLimit });
      const parsed = klineResponseSchema.safeParse(raw);
      if (!parsed.success) {
        throw new Error(`bybit kline response failed validation: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      const res = parsed.data;
      if (res.retCode !== 0) throw new Error(`bybit kline error ${res.retCode}: ${res.retMsg}`);
      const list = 'list' in res.result ? res.result.list : [];
      const serverTime = res.time ?? this.o.clock.now();
      let oldest = Number.POSITIVE_INFINITY;
      for (const row of list) {
        const start = Number(row[0]);
        if (start < oldest) oldest = start;
        if (start < fromOpenTime || start > toOpenTime) continue;
        if (start + MINUTE > serverTime) continue; // still forming at the exchange
        const bar: KlineBar = {
          start,
          end: start + MINUTE - 1,
          open: Number(row[1]),
          high: Number(row[2]),
          low: Number(row[3]),
          close: Number(row[4]),
          volume: Number(row[5]),
          turnover: Number(row[6]),
          confirm: true,
          timestamp: serverTime,
        };
        const issue = klineIssue(bar);
        if (issue) {
          this.o.log.error('impossible REST kline dropped (never traded)', { symbol, start, issue, row });
          continue;
        }
        byTime.set(start, {
          symbol,
          interval: '1m',
          venue: 'bybit',
          openTime: start,
          open: bar.open,
          high: bar.high,
          low: bar.low,
          close: bar.close,
          volume: bar.volume,
        });
      }
      if (list.length < this.o.pageLimit || oldest <= fromOpenTime) break;
      end = oldest - 1;
    }
    return [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  }
}
