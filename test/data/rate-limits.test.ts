/**
 * The wait the exchange asks for is honoured: Kraken's `Retry-After` on HTTP 429, Bybit's
 * `X-Bapi-Limit-Reset-Timestamp` on retCode 10006 and `Retry-After` on 429 (a fake clock records
 * the sleeps; nothing is timed). Real candles are served (test/fixtures).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BybitKlineRestServer } from '../../infra/replay/bybit-kline-server.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { BybitKlinePager } from '../../infra/bybit/rest-klines.js';
import { KrakenRestClient } from '../../infra/kraken/client.js';
import { parseOhlcvtCsv } from '../../shared/market/kraken/ohlcvt.js';
import { createLogger } from '../../shared/log.js';
import type { Clock } from '../../shared/ports/clock.js';
import { fixture, KIT_SLICE_DIR } from '../kit.js';

const quiet = createLogger({}, { minSeverity: 'CRITICAL' });
const NOW = Date.UTC(2025, 5, 12, 12, 0, 30);

function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => NOW, sleep: async (ms) => void sleeps.push(ms) };
}

describe('rate-limit waits', () => {
  let bybit: BybitKlineRestServer;
  let kraken: KrakenRestServer;
  beforeAll(async () => {
    const candles = parseOhlcvtCsv(readFileSync(join(KIT_SLICE_DIR, 'bybit_linear', 'BTCUSDT_15m.csv'), 'utf8'), { symbol: 'BTCUSDT', interval: '15m', venue: 'bybit' }).candles;
    bybit = new BybitKlineRestServer({ now: () => NOW, series: [{ symbol: 'BTCUSDT', interval: '15m', candles }] });
    await bybit.start();
    const k = parseOhlcvtCsv(readFileSync(fixture('kraken', 'XBTUSD_5.csv'), 'utf8'), { symbol: 'BTCUSDT', interval: '5m', venue: 'kraken' }).candles;
    kraken = new KrakenRestServer({ now: () => Date.UTC(2023, 1, 22, 6, 2), series: [{ pair: 'XBTUSD', intervalMinutes: 5, candles: k }] });
    await kraken.start();
  });
  afterAll(async () => {
    await bybit.stop();
    await kraken.stop();
  });

  it('Bybit: retCode 10006 waits until X-Bapi-Limit-Reset-Timestamp; 429 waits Retry-After; both with jittered back-off as a floor', async () => {
    const clock = recordingClock();
    const pager = new BybitKlinePager({ baseUrl: bybit.url, minRequestIntervalMs: 1, requestTimeoutMs: 5_000, maxRetries: 3, backoff: { backoffBaseMs: 10, backoffMaxMs: 100, jitter: 0.5 }, clock, log: quiet });
    bybit.failNext({ kind: 'rateLimit', resetInMs: 4_000 });
    bybit.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '7' } });
    const page = await pager.page({ category: 'linear', symbol: 'BTCUSDT', interval: '15m', startMs: Date.UTC(2025, 5, 11), endMs: Date.UTC(2025, 5, 11, 23, 45), limit: 1000 });
    expect(page.candles).toHaveLength(96);
    expect(pager.stats).toEqual({ requests: 3, retries: 2, rateLimited: 2 });
    expect(clock.sleeps.filter((ms) => ms > 100)).toEqual([4_000, 7_000]); // (the 1 ms spacing of 1,000 requests/s aside)
  });

  it('Bybit: gives up after maxRetries with the exchange message', async () => {
    const pager = new BybitKlinePager({ baseUrl: bybit.url, minRequestIntervalMs: 1, requestTimeoutMs: 5_000, maxRetries: 1, backoff: { backoffBaseMs: 10, backoffMaxMs: 100, jitter: 0 }, clock: recordingClock(), log: quiet });
    bybit.failNext({ kind: 'rateLimit', resetInMs: 10 }, 2);
    await expect(pager.page({ category: 'linear', symbol: 'BTCUSDT', interval: '15m', startMs: Date.UTC(2025, 5, 11), endMs: Date.UTC(2025, 5, 11, 1), limit: 10 })).rejects.toThrow('bybit kline error 10006: Too many visits! (gave up after 2 attempts)');
  });

  it('Kraken: HTTP 429 waits Retry-After (longer than the back-off)', async () => {
    const clock = recordingClock();
    const client = new KrakenRestClient({ baseUrl: kraken.url, requestTimeoutMs: 5_000, minRequestIntervalMs: 0, maxRetries: 2, retryBaseMs: 10, retryMaxMs: 100, jitter: 0.5 }, clock, quiet);
    kraken.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '3' }, body: 'Too Many Requests' }, { endpoint: 'OHLC' });
    const res = await client.ohlc('XXBTZUSD', 5);
    expect(res.rows).toHaveLength(721);
    expect(client.stats).toEqual({ requests: 2, retries: 1, rateLimited: 1 });
    expect(clock.sleeps).toEqual([3_000]);
  });
});
