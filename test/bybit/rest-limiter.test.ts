/**
 * Bybit REST backfills are polite per host: every kline pager of a process (download-data's, the
 * holder's 1m backfill) queues on one line for the host, whatever the symbol; a 429 with
 * Retry-After, or retCode 10006 with X-Bapi-Limit-Reset-Timestamp, holds every symbol's requests;
 * back-off is jittered within bounds and retries stop at their bounds.
 *
 * On the stepping test clock (test/kraken/helpers.ts): the clock jumps from wake time to wake time
 * and never moves while a request travels, so the local Bybit kline server stamps each request with
 * the exact time it was sent at. Nothing sleeps for real, nothing is timed. Real candles: the kit
 * slice's Bybit linear BTC/ETH/SOL 15m and 1m klines (test/fixtures/kit).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BybitKlineRestServer } from '../../infra/replay/bybit-kline-server.js';
import { BYBIT_IP_BAN_MS, BybitKlinePager, BybitRestKlines } from '../../infra/bybit/rest-klines.js';
import { hostLimiter } from '../../infra/http/host-limiter.js';
import { parseOhlcvtCsv } from '../../shared/market/kraken/ohlcvt.js';
import { createLogger } from '../../shared/log.js';
import type { Interval } from '../../shared/model/market.js';
import { KIT_SLICE_DIR } from '../kit.js';
import { SteppingClock, countFetches, driveRequests, seeded } from '../kraken/helpers.js';

const quiet = createLogger({}, { minSeverity: 'CRITICAL' });
const T0 = Date.UTC(2025, 5, 12, 12, 0, 30);
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'] as const;
const MIN = 60_000;
const Q = 15 * MIN;
const SPACING_MS = 200; // download-data's default: 5 requests/s
const kit = (symbol: string, interval: Interval) =>
  parseOhlcvtCsv(readFileSync(join(KIT_SLICE_DIR, 'bybit_linear', `${symbol}_${interval}.csv`), 'utf8'), { symbol, interval, venue: 'bybit' }).candles;

let server: BybitKlineRestServer;
let clock: SteppingClock;
let fetches: ReturnType<typeof countFetches>;

beforeEach(async () => {
  clock = new SteppingClock(T0);
  server = new BybitKlineRestServer({ now: () => clock.now(), series: SYMBOLS.flatMap((symbol) => (['15m', '1m'] as const).map((interval) => ({ symbol, interval, candles: kit(symbol, interval) }))) });
  await server.start();
  fetches = countFetches();
});
afterEach(async () => {
  fetches.restore();
  await server.stop();
});

const drive = <T>(p: Promise<T>) => driveRequests(clock, fetches.inFlight, p);
const gaps = (ats: number[]) => ats.slice(1).map((t, i) => t - ats[i]!);

function pager(o: Partial<ConstructorParameters<typeof BybitKlinePager>[0]> = {}): BybitKlinePager {
  return new BybitKlinePager({ baseUrl: server.url, minRequestIntervalMs: SPACING_MS, requestTimeoutMs: 5_000, maxRetries: 3, backoff: { backoffBaseMs: 1_000, backoffMaxMs: 30_000, jitter: 1 }, clock, log: quiet, random: seeded(11), ...o });
}

/** Four 100-candle pages of one symbol's 15m history, one after the other (as download-data pages). */
async function fourPages(p: BybitKlinePager, symbol: string): Promise<number> {
  let rows = 0;
  for (let k = 0; k < 4; k++) {
    const endMs = Date.UTC(2025, 5, 12, 0, 0) - k * 100 * Q;
    rows += (await p.page({ category: 'linear', symbol, interval: '15m', startMs: endMs - 99 * Q, endMs, limit: 100 })).candles.length;
  }
  return rows;
}

describe('one Bybit REST line per host across symbols (test clock)', () => {
  it('three symbols paged concurrently by three pagers are spaced as one line', async () => {
    const pagers = SYMBOLS.map(() => pager());
    expect(new Set(pagers.map((p) => p.limiter)).size).toBe(1);
    expect(pagers[0]!.limiter).toBe(hostLimiter(clock, server.url));
    const rows = await drive(Promise.all(SYMBOLS.map((s, i) => fourPages(pagers[i]!, s))));
    expect(rows.every((n) => n > 0)).toBe(true);
    const reqs = server.requests;
    expect(reqs).toHaveLength(12);
    expect(new Set(reqs.map((r) => r.params.symbol))).toEqual(new Set(SYMBOLS));
    expect(reqs.map((r) => r.at)).toEqual(Array.from({ length: 12 }, (_, i) => T0 + i * SPACING_MS));
    expect(gaps(reqs.map((r) => r.at)).every((g) => g >= SPACING_MS)).toBe(true);
  });

  it('a 429 with Retry-After: 7 holds the next request of ANY symbol for >= 7 s', async () => {
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '7' }, body: 'Too Many Requests' });
    const pagers = SYMBOLS.map(() => pager());
    await drive(Promise.all(SYMBOLS.map((s, i) => fourPages(pagers[i]!, s))));
    const reqs = server.requests;
    expect(reqs[0]!.status).toBe(429);
    expect(reqs).toHaveLength(13);
    expect(reqs.slice(1).every((r) => r.at >= T0 + 7_000)).toBe(true);
    expect(reqs[1]!.at).toBe(T0 + 7_000);
    expect(new Set(reqs.slice(1, 4).map((r) => r.params.symbol)).size).toBe(3); // the other symbols waited too
    expect(gaps(reqs.map((r) => r.at)).every((g) => g >= SPACING_MS)).toBe(true);
    expect(pagers.reduce((n, p) => n + p.stats.rateLimited, 0)).toBe(1);
  });

  it('retCode 10006 met by the holder\'s backfill (no retries) holds download-data\'s other symbols until X-Bapi-Limit-Reset-Timestamp', async () => {
    const holder = new BybitRestKlines({ baseUrl: server.url, pageLimit: 1000, requestTimeoutMs: 5_000, clock, log: quiet });
    const download = pager();
    server.failNext({ kind: 'rateLimit', resetInMs: 4_000 });
    const backfill = holder.closedKlines1m('BTCUSDT', T0 - 30 * MIN, T0 - MIN).catch((e: unknown) => e);
    const pages = Promise.all([fourPages(download, 'ETHUSDT'), fourPages(download, 'SOLUSDT')]);
    await drive(Promise.all([backfill, pages]));
    const err = await backfill;
    expect(String(err)).toContain('bybit kline error 10006: Too many visits! (gave up after 1 attempts): retry limit 0 reached');
    const reqs = server.requests;
    expect([reqs[0]!.params.symbol, reqs[0]!.retCode]).toEqual(['BTCUSDT', 10006]);
    expect(reqs.slice(1).every((r) => r.at >= T0 + 4_000)).toBe(true);
    expect(reqs[1]!.at).toBe(T0 + 4_000);
    expect(reqs.slice(1).map((r) => r.params.symbol).sort()).toEqual([...Array(4).fill('ETHUSDT'), ...Array(4).fill('SOLUSDT')]);
  });

  it('an IP ban (HTTP 403) holds every symbol of the process for the ban\'s 10 minutes', async () => {
    server.failNext({ kind: 'http', status: 403, body: 'Forbidden' });
    const holder = new BybitRestKlines({ baseUrl: server.url, pageLimit: 1000, requestTimeoutMs: 5_000, clock, log: quiet });
    const banned = await drive(holder.closedKlines1m('BTCUSDT', T0 - 30 * MIN, T0 - MIN).catch((e: unknown) => e));
    expect(String(banned)).toContain('HTTP 403');
    // the next request of any symbol, from any pager of the process, waits the ban out
    const download = pager();
    await drive(Promise.all([holder.closedKlines1m('ETHUSDT', T0 - 30 * MIN, T0 - MIN), fourPages(download, 'SOLUSDT')]));
    const reqs = server.requests;
    expect([reqs[0]!.params.symbol, reqs[0]!.status, reqs[0]!.at]).toEqual(['BTCUSDT', 403, T0]);
    expect(reqs.length).toBe(6);
    expect(reqs.slice(1).every((r) => r.status === 200 && r.at >= T0 + BYBIT_IP_BAN_MS)).toBe(true);
  });

  it('a Retry-After within the budget is waited out once, not counted twice', async () => {
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '8' } });
    await drive(fourPages(pager({ maxRetryWaitMs: 10_000 }), 'BTCUSDT'));
    expect(server.requests.map((r) => [r.status, r.at - T0])).toEqual([
      [429, 0],
      [200, 8_000],
      [200, 8_000 + SPACING_MS],
      [200, 8_000 + 2 * SPACING_MS],
      [200, 8_000 + 3 * SPACING_MS],
    ]);
  });

  it('retries stop at maxRetries, and a wait past the budget gives up at once, with clear errors', async () => {
    server.failNext({ kind: 'http', status: 502 }, 3);
    const p = pager({ maxRetries: 2 });
    const err = await drive(fourPages(p, 'BTCUSDT')).catch((e: unknown) => e);
    expect(String(err)).toMatch(/bybit kline HTTP 502: .* \(gave up after 3 attempts\): retry limit 2 reached$/);
    expect(server.requests).toHaveLength(3);

    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '60' } });
    const q = pager({ maxRetryWaitMs: 10_000 });
    const tooLong = await drive(fourPages(q, 'ETHUSDT')).catch((e: unknown) => e);
    expect(String(tooLong)).toContain('(gave up after 1 attempts): the next wait of 60000 ms would pass the retry budget of 10000 ms');
    expect(server.requests).toHaveLength(4);
    // the line still honours the 60 s: another symbol's page with the same budget is not sent at all
    const held = await drive(fourPages(pager({ maxRetryWaitMs: 10_000 }), 'SOLUSDT')).catch((e: unknown) => e);
    expect(String(held)).toMatch(/bybit kline SOLUSDT not sent: Bybit asked this IP to wait \d+ ms more, past the retry budget of 10000 ms/);
    expect(server.requests).toHaveLength(4);
  });

  it('the back-off is drawn from the injected source within [0, min(base x 2^n, max)] (full jitter), the same for the same seed', async () => {
    const waits = async () => {
      const sleeps: number[] = [];
      const fixed = { now: () => T0, sleep: async (ms: number) => void sleeps.push(ms) };
      const p = new BybitKlinePager({ baseUrl: server.url, minRequestIntervalMs: 0, requestTimeoutMs: 5_000, maxRetries: 5, backoff: { backoffBaseMs: 1_000, backoffMaxMs: 8_000, jitter: 1 }, clock: fixed, log: quiet, random: seeded(5) });
      server.failNext({ kind: 'http', status: 500 }, 5);
      await p.page({ category: 'linear', symbol: 'BTCUSDT', interval: '15m', startMs: T0 - 10 * Q, endMs: T0, limit: 10 });
      return sleeps;
    };
    const a = await waits();
    expect(a).toHaveLength(5);
    expect(a.every((ms) => ms >= 0)).toBe(true);
    a.forEach((ms, n) => expect(ms).toBeLessThanOrEqual(Math.min(1_000 * 2 ** n, 8_000)));
    expect(await waits()).toEqual(a);
  });
});
