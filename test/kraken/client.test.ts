/**
 * The typed Kraken client against the local server speaking Kraken REST, fed with the REAL
 * `/0/public/OHLC` response excerpts (XBTUSDT 1m, 2025-11-10).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { KrakenApiError, KrakenHttpError, KrakenResponseError } from '../../shared/ports/kraken.js';
import { KrakenRestClient } from '../../infra/kraken/client.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { capturingLogger, drive, readRestExcerpt, until } from './helpers.js';

const head = readRestExcerpt('head');
const tail = readRestExcerpt('tail');
const S = 1000;

let server: KrakenRestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function serve(clock: ManualClock, extra: Partial<ConstructorParameters<typeof KrakenRestServer>[0]> = {}) {
  server = new KrakenRestServer({
    series: [
      { pair: 'XBTUSDT', intervalMinutes: 1, rows: head.rows },
      { pair: 'XBTUSD', intervalMinutes: 1, rows: tail.rows },
    ],
    now: () => clock.now(),
    ...extra,
  });
  return server.start();
}

/** Back-off draws at the ceiling (random 0): the waits are exactly base x 2^n. */
function client(url: string, clock: ManualClock, opts: Partial<ConstructorParameters<typeof KrakenRestClient>[0]> = {}) {
  return new KrakenRestClient({ baseUrl: url, requestTimeoutMs: 2_000, minRequestIntervalMs: 1_000, random: () => 0, ...opts }, clock, capturingLogger().log);
}

describe('Kraken REST client on the real response excerpts', () => {
  it('parses the real rows, keeps the open candle last and reports `last` as Kraken does', async () => {
    const lastRow = head.rows[head.rows.length - 1]!;
    const clock = new ManualClock(lastRow[0] * S + 30 * S); // inside the last (open) minute
    const c = client(await serve(clock), clock);
    const res = await c.ohlc('XBTUSDT', 1);
    expect(res.pairKey).toBe('XBTUSDT');
    expect(res.rows).toHaveLength(head.rows.length);
    expect(res.last).toBe(head.last); // 1762780800: the second-to-last row
    expect(res.rows[res.rows.length - 1]!.time).toBe(lastRow[0]);
    const r = res.rows.find((x) => x.time === 1762777200)!;
    expect(r).toEqual({ time: 1762777200, open: 106038.1, high: 106044.3, low: 106038.1, close: 106040.1, vwap: 106039.6, volume: 0.08317981, count: 3 });
  });

  it('serves the tail excerpt verbatim under the canonical key and confirms XBTUSD -> XXBTZUSD with AssetPairs', async () => {
    const clock = new ManualClock(1762820220 * S + 10 * S);
    const url = await serve(clock);
    const body = (await (await fetch(`${url}/0/public/OHLC?pair=XBTUSD&interval=1`)).json()) as typeof tail.body;
    expect(body).toEqual({ error: [], result: { XXBTZUSD: tail.rows, last: tail.last } });

    const c = client(url, clock);
    const res = await drive(clock, c.ohlc('XBTUSD', 1)); // AssetPairs waits its turn (1 s) in the host's line
    expect(res.pairKey).toBe('XXBTZUSD');
    expect(res.last).toBe(1762820160);
    expect(res.rows.map((x) => x.volume)).toEqual([0, 0, 0, 0]); // REST fills empty minutes with zero-volume rows
    expect(server!.requests.map((r) => r.endpoint)).toEqual(['OHLC', 'OHLC', 'AssetPairs']);
    await clock.advance(1_000); // the host's spacing would otherwise hold the next request
    await drive(clock, c.ohlc('XBTUSD', 1, 1762820100));
    expect(server!.requests.filter((r) => r.endpoint === 'AssetPairs')).toHaveLength(1); // confirmed once
  });

  it('honours since as exclusive and always appends the open candle', async () => {
    const clock = new ManualClock(head.rows[head.rows.length - 1]![0] * S + 30 * S);
    const c = client(await serve(clock), clock);
    const res = await c.ohlc('XBTUSDT', 1, 1762780680);
    expect(res.rows.map((r) => r.time)).toEqual([1762780740, 1762780800, 1762780860]);
    expect(server!.ohlcRequests()[0]!.params).toEqual({ pair: 'XBTUSDT', interval: '1', since: '1762780680' });
  });

  it('surfaces Kraken errors as typed, non-retryable KrakenApiError', async () => {
    const clock = new ManualClock(1762780900 * S);
    const c = client(await serve(clock), clock);
    const err = await c.ohlc('NOPEUSD', 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KrakenApiError);
    const e = err as KrakenApiError;
    expect(e.code).toBe('EQuery:Unknown asset pair');
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('pair=NOPEUSD');
    expect(e.message).toContain('EQuery:Unknown asset pair');
    expect(server!.requests).toHaveLength(1); // not retried
  });

  it('rejects an answer under a key AssetPairs does not confirm, and malformed rows', async () => {
    const clock = new ManualClock(1762780900 * S);
    const c = client(await serve(clock), clock);
    server!.failNext({ kind: 'raw', body: JSON.stringify({ error: [], result: { XETHZUSD: [], last: 0 } }) }, { endpoint: 'OHLC' });
    const wrongKey = await drive(clock, c.ohlc('XBTUSD', 1)).catch((e: unknown) => e);
    expect(wrongKey).toBeInstanceOf(KrakenResponseError);
    expect((wrongKey as Error).message).toContain('AssetPairs does not confirm that XETHZUSD is XBTUSD');

    server!.failNext({ kind: 'raw', body: JSON.stringify({ error: [], result: { XBTUSDT: [[1762780800, 'abc', '1', '1', '1', '1', '1', 1]], last: 0 } }) });
    await clock.advance(1_000);
    const bad = await drive(clock, c.ohlc('XBTUSDT', 1)).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(KrakenResponseError);
    expect((bad as Error).message).toMatch(/malformed rows: .*not a decimal string/);
  });

  it('retries 5xx and EAPI:Rate limit exceeded with back-off, then succeeds', async () => {
    const clock = new ManualClock(head.rows[head.rows.length - 1]![0] * S + 5 * S);
    const c = client(await serve(clock), clock, { retryBaseMs: 1_000, maxRetries: 3 });
    server!.failNext({ kind: 'http', status: 503 });
    server!.failNext({ kind: 'kraken', error: 'EAPI:Rate limit exceeded' });
    const res = await drive(clock, c.ohlc('XBTUSDT', 1));
    expect(res.rows).toHaveLength(head.rows.length);
    const reqs = server!.ohlcRequests();
    expect(reqs.map((r) => r.status)).toEqual([503, 200, 200]);
    expect(reqs.map((r) => r.error)).toEqual(['http 503', 'EAPI:Rate limit exceeded', undefined]);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(1_000); // back-off 1 s
    expect(reqs[2]!.at - reqs[1]!.at).toBeGreaterThanOrEqual(2_000); // then 2 s
  });

  it('gives up after maxRetries with the last error, and times out slow answers', async () => {
    const clock = new ManualClock(1762780900 * S);
    const c = client(await serve(clock), clock, { maxRetries: 1, requestTimeoutMs: 100 });
    server!.failNext({ kind: 'http', status: 502 }, { times: 2 });
    const err = await drive(clock, c.ohlc('XBTUSDT', 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KrakenHttpError);
    expect((err as KrakenHttpError).status).toBe(502);
    expect(server!.ohlcRequests()).toHaveLength(2);

    server!.failNext({ kind: 'delay', ms: 400 });
    const slow = await drive(clock, c.ohlc('XBTUSDT', 1));
    expect(slow.rows.length).toBeGreaterThan(0);
    expect(server!.ohlcRequests()).toHaveLength(4); // timed-out attempt + retry
  });

  it('spaces every request to the host by minRequestIntervalMs (ManualClock), whatever the pair', async () => {
    const t0 = 1762780900 * S;
    const clock = new ManualClock(t0);
    const c = client(await serve(clock, { rateLimitMs: 1_000 }), clock);
    const ps = [c.ohlc('XBTUSDT', 1), c.ohlc('XBTUSDT', 1), c.ohlc('XBTUSD', 1)];
    await until(() => server!.requests.length === 1);
    // Nothing else may go out until the clock moves.
    await new Promise((r) => setTimeout(r, 50));
    expect(server!.requests).toHaveLength(1);
    await clock.advance(1_000);
    await until(() => server!.requests.length === 2);
    await clock.advance(1_000);
    await until(() => server!.ohlcRequests().length === 3);
    await clock.advance(1_000); // XBTUSD is answered under XXBTZUSD: AssetPairs confirms it, in the same line
    await Promise.all(ps);
    expect(server!.requests.map((r) => [r.endpoint, r.params.pair, r.at - t0])).toEqual([
      ['OHLC', 'XBTUSDT', 0],
      ['OHLC', 'XBTUSDT', 1_000],
      ['OHLC', 'XBTUSD', 2_000],
      ['AssetPairs', 'XBTUSD', 3_000],
    ]);
    expect(server!.requests.filter((r) => r.error)).toEqual([]); // the server's own limit never tripped
  });
});

describe('KrakenRestServer', () => {
  it('caps at 720 committed candles plus the open one, answers Time and unknown methods like Kraken', async () => {
    const candles = Array.from({ length: 1_000 }, (_, i) => ({
      openTime: (1762777020 + i * 60) * S,
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume: 0,
    }));
    const now = candles[999]!.openTime + 1;
    server = new KrakenRestServer({ series: [{ pair: 'XBTUSDT', intervalMinutes: 1, candles }], now: () => now });
    const url = await server.start();
    const body = (await (await fetch(`${url}/0/public/OHLC?pair=XBTUSDT&interval=1&since=0`)).json()) as {
      result: { XBTUSDT: unknown[][]; last: number };
    };
    expect(body.result.XBTUSDT).toHaveLength(721);
    expect(body.result.XBTUSDT[0]![0]).toBe(candles[279]!.openTime / S);
    expect(body.result.last).toBe(candles[998]!.openTime / S);
    expect(body.result.XBTUSDT[720]).toEqual([candles[999]!.openTime / S, '1', '1', '1', '1', '0.0', '0.00000000', 0]);
    const time = (await (await fetch(`${url}/0/public/Time`)).json()) as { result: { unixtime: number } };
    expect(time.result.unixtime).toBe(Math.floor(now / S));
    const nf = await fetch(`${url}/0/public/Nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: ['EGeneral:Unknown method'] });
    const bad = (await (await fetch(`${url}/0/public/OHLC?pair=XBTUSDT&interval=7`)).json()) as { error: string[] };
    expect(bad.error).toEqual(['EGeneral:Invalid arguments']);
  });
});
