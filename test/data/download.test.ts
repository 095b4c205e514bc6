/**
 * download-data against local servers that speak Bybit v5 REST and Kraken REST, fed with REAL candles
 * (test/fixtures: the kit's Bybit klines, Kraken's XBTUSD 5m with its real gaps, a real Kraken OHLC
 * answer with zero-volume rows), into a temp DuckDB warehouse.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BybitKlineRestServer } from '../../infra/replay/bybit-kline-server.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { BybitKlinePager, BybitRestKlines } from '../../infra/bybit/rest-klines.js';
import { KrakenRestClient } from '../../infra/kraken/client.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { downloadData, type DownloadDeps, type DownloadRequest } from '../../infra/market-data/download.js';
import { parseOhlcvtCsv } from '../../shared/market/kraken/ohlcvt.js';
import { coverageOf, DEFAULT_DOWNLOAD_CONFIG } from '../../shared/market/download-plan.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger } from '../../shared/log.js';
import type { Candle, Interval } from '../../shared/model/market.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { KrakenOhlcRawRow } from '../../shared/ports/kraken.js';
import { fixture, KIT_SLICE_DIR } from '../kit.js';

const dir = mkdtempSync(join(tmpdir(), 'cst-download-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = createLogger({}, { minSeverity: 'CRITICAL' });
const M = 60_000;
let n = 0;
const tempWarehouse = () => new DuckDbWarehouse({ file: join(dir, `wh-${++n}.duckdb`) });

function csvCandles(file: string, symbol: string, interval: Interval, venue: 'bybit' | 'kraken'): Candle[] {
  return parseOhlcvtCsv(readFileSync(file, 'utf8'), { symbol, interval, venue }).candles;
}

function fixedClock(now: number): Clock {
  return { now: () => now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
}

const FAST = { backoffBaseMs: 5, backoffMaxMs: 50, jitter: 0.25 };

/** Stored candles compare to the CSV's: same fields (the warehouse has no trades/vwap for Bybit). */
const plain = (cs: Candle[]) => cs.map(({ symbol, interval, venue, openTime, open, high, low, close, volume }) => ({ symbol, interval, venue, openTime, open, high, low, close, volume }));

describe('download-data from a local Bybit v5 REST server (real kit klines)', () => {
  const NOW = Date.UTC(2025, 5, 12, 12, 0, 30); // the 12:00 candle is still forming
  const FROM = Date.UTC(2025, 5, 10, 0, 0);
  const TO = Date.UTC(2025, 5, 11, 12, 0); // 36 h: 2,160 1m candles = 3 pages of 1,000
  const files: Record<string, Record<string, string>> = {
    BTCUSDT: { '1m': join(KIT_SLICE_DIR, 'bybit_linear', 'BTCUSDT_1m.csv'), '5m': join(KIT_SLICE_DIR, 'bybit_linear', 'BTCUSDT_5m.csv'), '1h': fixture('data', 'BTCUSDT_60m.csv') },
    ETHUSDT: { '1m': join(KIT_SLICE_DIR, 'bybit_linear', 'ETHUSDT_1m.csv'), '5m': join(KIT_SLICE_DIR, 'bybit_linear', 'ETHUSDT_5m.csv'), '1h': fixture('data', 'ETHUSDT_60m.csv') },
  };
  const kit = (symbol: string, interval: Interval) => csvCandles(files[symbol]![interval]!, symbol, interval, 'bybit');
  let server: BybitKlineRestServer;

  beforeAll(async () => {
    server = new BybitKlineRestServer({
      now: () => NOW,
      series: Object.entries(files).flatMap(([symbol, byIv]) => Object.keys(byIv).map((iv) => ({ symbol, interval: iv as Interval, candles: kit(symbol, iv as Interval) }))),
    });
    await server.start();
  });
  afterAll(() => server.stop());
  afterEach(() => {
    server.requests.splice(0);
    server.clearFaults();
  });

  it('a Bybit IP ban (HTTP 403) stops the download: the remaining series are not started, nothing more is asked', async () => {
    const wh = tempWarehouse();
    server.failNext({ kind: 'http', status: 403 });
    try {
      const s = await downloadData(deps(wh), request(['BTCUSDT', 'ETHUSDT'], ['1h']));
      expect(server.requests).toHaveLength(1);
      expect(s.series.map((r) => r.status)).toEqual(['failed', 'aborted']);
      expect(s.series[0]).toMatchObject({ ipBan: true });
      expect(s.series[1]!.error).toContain('Bybit refused this IP (HTTP 403)');
    } finally {
      await wh.close();
    }
  });

  it("the live holder's 1m backfill (same pager) fails on a malformed row, to be retried on its next poll: no silent gap", async () => {
    const klines = new BybitRestKlines({ baseUrl: server.url, pageLimit: 1000, requestTimeoutMs: 5_000, clock: fixedClock(NOW), log: quiet });
    const from = Date.UTC(2025, 5, 10, 0, 0);
    const to = from + 59 * 60_000;
    expect(await klines.closedKlines1m('BTCUSDT', from, to)).toHaveLength(60);
    server.tamper('BTCUSDT', '1m', from + 30 * 60_000, [String(from + 30 * 60_000), 'abc', '1', '1', '1', '1', '1']);
    await expect(klines.closedKlines1m('BTCUSDT', from, to)).rejects.toThrow(/malformed row/);
  });

  function deps(warehouse: DuckDbWarehouse, extra: Partial<DownloadDeps> = {}): DownloadDeps {
    const clock = fixedClock(NOW);
    const bybit = new BybitKlinePager({ baseUrl: server.url, minRequestIntervalMs: 1, requestTimeoutMs: 5_000, maxRetries: 3, backoff: FAST, clock, log: quiet });
    return { warehouse, bybit, clock, log: quiet, quality: DEFAULT_SYSTEM_CONFIG.dataQuality, bybitPageLimit: DEFAULT_DOWNLOAD_CONFIG.bybit.pageLimit, ...extra };
  }
  const request = (symbols: string[], intervals: Interval[]): DownloadRequest => ({ venue: 'bybit', category: 'linear', targets: symbols.map((symbol) => ({ symbol })), intervals, fromMs: FROM, toMs: TO });

  it('stores exactly the kit candles of the range; a rate limit is backed off; bad rows are refused and reported as gaps', async () => {
    const wh = tempWarehouse();
    const bad = Date.UTC(2025, 5, 10, 6, 30);
    const realBad = kit('BTCUSDT', '1m').find((c) => c.openTime === bad)!;
    // a real candle made impossible (high below low: the real high and low swapped), and a malformed row
    server.tamper('BTCUSDT', '1m', bad, [String(bad), String(realBad.open), String(realBad.low), String(realBad.high), String(realBad.close), String(realBad.volume), '0']);
    const malformed = Date.UTC(2025, 5, 10, 12, 0);
    server.tamper('ETHUSDT', '5m', malformed, [String(malformed), 'abc', '1', '1', '1', '1', '1']);
    server.failNext({ kind: 'rateLimit', resetInMs: 30 });
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '0' } });
    try {
      const s = await downloadData(deps(wh), request(['BTCUSDT', 'ETHUSDT'], ['1m', '5m', '1h']));
      expect(s.retries).toBe(2);
      expect(s.rateLimited).toBe(2);
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
        for (const interval of ['1m', '5m', '1h'] as Interval[]) {
          const want = kit(symbol, interval).filter((c) => c.openTime >= FROM && c.openTime < TO);
          const refused = symbol === 'BTCUSDT' && interval === '1m' ? bad : symbol === 'ETHUSDT' && interval === '5m' ? malformed : undefined;
          const stored = await wh.candles({ symbol, interval, venue: 'bybit' });
          expect(plain(stored)).toEqual(plain(want.filter((c) => c.openTime !== refused)));
          const rep = s.series.find((r) => r.symbol === symbol && r.interval === interval)!;
          expect(rep).toMatchObject({ status: 'ok', expected: want.length, heldBefore: 0, stored: stored.length, rejected: refused ? 1 : 0 });
          // the refused candle is a gap; Bybit has no other
          expect(rep.gaps).toEqual(refused ? [{ fromMs: refused, toMs: refused, missing: 1 }] : []);
        }
      }
      const btc1m = s.series.find((r) => r.symbol === 'BTCUSDT' && r.interval === '1m')!;
      expect(btc1m.pages).toBe(3);
      expect(btc1m.rejectedSamples[0]!.reason).toContain('OHLC out of order');
      expect(s.series.find((r) => r.symbol === 'ETHUSDT' && r.interval === '5m')!.rejectedSamples[0]!.reason).toContain('malformed row');
      // pages were asked newest first, at most 1,000 candles wide, as Bybit pages with `end`
      const asked = server.dataRequests.filter((r) => r.params.symbol === 'BTCUSDT' && r.params.interval === '1').map((r) => Number(r.params.end));
      expect(asked).toEqual([...asked].sort((a, b) => b - a));
      // list-data's SQL coverage agrees with the pure computation
      const cov = await wh.ohlcvCoverage();
      const btc = cov.find((c) => c.symbol === 'BTCUSDT' && c.interval === '1m')!;
      const times = (await wh.openTimes({ venue: 'bybit', symbol: 'BTCUSDT', interval: '1m' }));
      const pure = coverageOf({ venue: 'bybit', symbol: 'BTCUSDT', interval: '1m' }, times)!;
      expect(btc).toEqual({ venue: pure.venue, symbol: pure.symbol, interval: pure.interval, count: pure.count, firstMs: pure.firstMs, lastMs: pure.lastMs, missing: pure.missing, gapRanges: pure.gapRanges });
      expect(btc).toMatchObject({ count: 2159, missing: 1, gapRanges: 1 });
    } finally {
      await wh.close();
    }
  });

  it('an interrupted download resumed gives the same candles, asks only for what is missing, duplicates nothing', async () => {
    const wh = tempWarehouse();
    try {
      const ac = new AbortController();
      const first = await downloadData(deps(wh, { bybitPageLimit: 200, signal: ac.signal, onPage: (_s, page) => page === 4 && ac.abort() }), request(['BTCUSDT'], ['1m', '5m']));
      expect(first.series.map((r) => r.status)).toEqual(['aborted', 'aborted']);
      expect(first.series[0]!.stored).toBe(800);
      expect(await wh.count('ohlcv')).toBe(800);
      const firstRequests = server.dataRequests.length;
      expect(firstRequests).toBe(4);

      const second = await downloadData(deps(wh, { bybitPageLimit: 200 }), request(['BTCUSDT'], ['1m', '5m']));
      expect(second.series.map((r) => r.status)).toEqual(['ok', 'ok']);
      expect(second.series[0]).toMatchObject({ heldBefore: 800, stored: 2160 - 800, held: 2160, missing: 0 });
      // 1m: 2,160 candles = 11 pages of 200, 4 already done; 5m: 432 = 3 pages
      expect(server.dataRequests.length - firstRequests).toBe(7 + 3);
      for (const interval of ['1m', '5m'] as Interval[]) {
        const want = kit('BTCUSDT', interval).filter((c) => c.openTime >= FROM && c.openTime < TO);
        expect(plain(await wh.candles({ symbol: 'BTCUSDT', interval, venue: 'bybit' }))).toEqual(plain(want));
      }
      expect(await wh.count('ohlcv')).toBe(2160 + 432);

      // a third run has nothing to do
      const before = server.requests.length;
      const third = await downloadData(deps(wh), request(['BTCUSDT'], ['1m', '5m']));
      expect(server.requests.length).toBe(before);
      expect(third.series.map((r) => r.stored)).toEqual([0, 0]);
      expect(await wh.count('ohlcv')).toBe(2160 + 432);
    } finally {
      await wh.close();
    }
  });

  it('a retCode other than a rate limit fails the series with the exchange message; the others go on', async () => {
    const wh = tempWarehouse();
    try {
      const s = await downloadData(deps(wh), request(['NOPEUSDT', 'BTCUSDT'], ['1h']));
      expect(s.series[0]).toMatchObject({ status: 'failed', stored: 0 });
      expect(s.series[0]!.error).toContain('bybit kline error 10001: params error: symbol invalid');
      expect(s.series[1]).toMatchObject({ status: 'ok', stored: 36 });
    } finally {
      await wh.close();
    }
  });
});

describe('download-data from a local Kraken REST server (real Kraken candles)', () => {
  const XBTUSD_5 = fixture('kraken', 'XBTUSD_5.csv');
  // The fixture's last candle (2023-02-22 06:00) is the one still open at this time.
  const NOW = Date.UTC(2023, 1, 22, 6, 2);
  const kraken5 = () => csvCandles(XBTUSD_5, 'BTCUSDT', '5m', 'kraken');

  function krakenDeps(warehouse: DuckDbWarehouse, url: string, now: number): DownloadDeps {
    const clock = fixedClock(now);
    const kraken = new KrakenRestClient({ baseUrl: url, requestTimeoutMs: 5_000, minRequestIntervalMs: 0, maxRetries: 3, retryBaseMs: 5, retryMaxMs: 50, jitter: 0.25 }, clock, quiet);
    return { warehouse, kraken, clock, log: quiet, quality: DEFAULT_SYSTEM_CONFIG.dataQuality, bybitPageLimit: 1000 };
  }

  it('reports the real gap (the 2023-02-22 maintenance window), backs off a 429, refuses a bad row, and says what REST cannot serve', async () => {
    const candles = kraken5();
    const bad = Date.UTC(2023, 1, 21, 12, 0);
    const rows: KrakenOhlcRawRow[] = candles.map((c) => [c.openTime / 1000, String(c.open), c.openTime === bad ? String(c.low) : String(c.high), c.openTime === bad ? String(c.high) : String(c.low), String(c.close), '0.0', c.volume.toFixed(8), 0]);
    const server = new KrakenRestServer({ now: () => NOW, series: [{ pair: 'XBTUSD', intervalMinutes: 5, rows }] });
    await server.start();
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '0' }, body: 'Too Many Requests' }, { endpoint: 'OHLC' });
    const wh = tempWarehouse();
    try {
      const from = Date.UTC(2023, 1, 1);
      const to = Date.UTC(2023, 1, 22, 6, 0);
      const s = await downloadData(krakenDeps(wh, server.url, NOW), { venue: 'kraken', category: 'linear', targets: [{ symbol: 'BTCUSDT', pair: 'XXBTZUSD' }], intervals: ['5m'], fromMs: from, toMs: to });
      const rep = s.series[0]!;
      expect(s).toMatchObject({ retries: 1, rateLimited: 1 });
      // Kraken serves the 720 most recent committed candles only
      const served = candles.filter((c) => c.openTime < to).slice(-720);
      expect(rep.notServedBefore).toBe(served[0]!.openTime);
      expect(rep.rejected).toBe(1);
      expect(rep.rejectedSamples[0]).toMatchObject({ openTime: bad });
      const stored = await wh.candles({ symbol: 'BTCUSDT', interval: '5m', venue: 'kraken' });
      expect(plain(stored)).toEqual(plain(served.filter((c) => c.openTime !== bad)));
      // the maintenance window's 15 candles are missing at Kraken; the refused one is missing here
      expect(rep.gaps).toEqual([
        { fromMs: bad, toMs: bad, missing: 1 },
        { fromMs: Date.UTC(2023, 1, 22, 0, 15), toMs: Date.UTC(2023, 1, 22, 1, 25), missing: 15 },
      ]);
      expect(rep.missing).toBe(16);
    } finally {
      await wh.close();
      await server.stop();
    }
  });

  it('zero-volume REST rows (minutes without trades) are not stored, as the quarterly files omit them; the open candle is dropped', async () => {
    const answer = JSON.parse(readFileSync(fixture('kraken', 'OHLC_XBTUSDT_1m_head_excerpt.json'), 'utf8')) as { result: { XBTUSDT: KrakenOhlcRawRow[] } };
    const rows = answer.result.XBTUSDT;
    const lastTime = rows[rows.length - 1]![0] * 1000;
    const server = new KrakenRestServer({ now: () => lastTime + 30_000, series: [{ pair: 'XBTUSDT', intervalMinutes: 1, rows }] });
    await server.start();
    const wh = tempWarehouse();
    try {
      const from = rows[0]![0] * 1000;
      const s = await downloadData(krakenDeps(wh, server.url, lastTime + 30_000), { venue: 'kraken', category: 'linear', targets: [{ symbol: 'BTCUSDT', pair: 'XBTUSDT' }], intervals: ['1m'], fromMs: from, toMs: lastTime + M });
      const committed = rows.slice(0, -1);
      const traded = committed.filter((r) => Number(r[6]) > 0);
      const rep = s.series[0]!;
      expect(rep.emptyIntervals).toBe(committed.length - traded.length);
      expect(rep.emptyIntervals).toBeGreaterThan(0);
      const stored = await wh.candles({ symbol: 'BTCUSDT', interval: '1m', venue: 'kraken' });
      expect(stored.map((c) => c.openTime)).toEqual(traded.map((r) => r[0] * 1000));
      expect(stored[0]).toMatchObject({ trades: traded[0]![7], vwap: Number(traded[0]![5]) });
      expect(rep.missing).toBe(rep.expected - traded.length);
    } finally {
      await wh.close();
      await server.stop();
    }
  });
});
