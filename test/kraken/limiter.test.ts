/**
 * Kraken's public REST limit is per client IP: the Kraken pull of the 9 SPEC pairs, run concurrently
 * through the deployed path (the kraken-pull handle with its root's deps), sends at most one request
 * per `kraken.minRequestIntervalMs` (1 s) to the host, whatever the pair; a rate-limit answer holds
 * every pair's requests; back-off is jittered within its bounds and retries stop at their bounds.
 *
 * Everything runs on a test clock that jumps from wake time to wake time and never moves while a
 * request travels, so the local Kraken server (infra/replay/kraken-server.ts) stamps each request
 * with the exact clock time it was sent at; nothing sleeps for real and nothing is timed.
 *
 * Data: the REAL `/0/public/OHLC?pair=XBTUSDT&interval=1` response rows (test/fixtures/kraken) are
 * served for each of the 9 pairs: the spacing does not depend on the prices, and the repository
 * has real REST rows for that one pair only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_CONFIG, systemConfigSchema, type SystemConfig } from '../../shared/config/system.js';
import { KrakenApiError, KrakenHttpError } from '../../shared/ports/kraken.js';
import { pullKraken } from '../../shared/market/kraken/pull.js';
import { FUNCTION_NAME as KRAKEN_PULL, handle as krakenPull } from '../../shared/pipeline/kraken-pull.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { KrakenRestClient, krakenClientFromConfig } from '../../infra/kraken/client.js';
import { backoffDelayMs, hostLimiter, retryAfterMs } from '../../infra/http/host-limiter.js';
import { SteppingClock, countFetches, driveRequests, embeddedEnv, pullDeps, readRestExcerpt, seeded, testConfig, krakenRoot, type Env } from './helpers.js';

const S = 1000;
const head = readRestExcerpt('head');
const openRow = head.rows[head.rows.length - 1]!;
const T0 = openRow[0] * S + 30 * S; // 30 s into the still-open minute
/** The 9 SPEC pairs (shared/config/system.ts defaults), each under its canonical key. */
const PAIRS = DEFAULT_SYSTEM_CONFIG.symbols.map((s) => ({ symbol: s.symbol, krakenPair: s.krakenPair }));
const INTERVAL_MS = DEFAULT_SYSTEM_CONFIG.kraken.minRequestIntervalMs;

/** Gaps between consecutive request times. */
const gaps = (ats: number[]) => ats.slice(1).map((t, i) => t - ats[i]!);

let env: Env;
let server: KrakenRestServer;
let clock: SteppingClock;
let fetches: ReturnType<typeof countFetches>;

beforeEach(async () => {
  clock = new SteppingClock(T0);
  env = await embeddedEnv();
  server = new KrakenRestServer({ series: PAIRS.map((p) => ({ pair: p.krakenPair!, intervalMinutes: 1, rows: head.rows })), now: () => clock.now() });
  await server.start();
  fetches = countFetches();
});
afterEach(async () => {
  fetches.restore();
  await server.stop();
  await env.close();
});

const drive = <T>(p: Promise<T>) => driveRequests(clock, fetches.inFlight, p);
const config: SystemConfig = testConfig(PAIRS, ['1m']);

/** A client as the runtime builds it, with a seeded jitter source. */
function seededClient(cfg: SystemConfig['kraken'], seed: number): KrakenRestClient {
  return krakenClientFromConfig(server.url, cfg, clock, env.log, { random: seeded(seed) });
}

describe('one Kraken limiter per client IP across pairs (test clock)', () => {
  it('the kraken-pull of 9 concurrently pulled pairs sends one request per second to the host, never two within 1 s', async () => {
    expect(PAIRS).toHaveLength(9);
    expect(INTERVAL_MS).toBe(1_000); // the issue's figure: 1 request/s per IP
    const root = krakenRoot(env, clock, config, server.url);
    const out = await drive(krakenPull(await root.deps(KRAKEN_PULL)));
    expect(out).toMatchObject({ pulls: 9, errors: 0 });

    const reqs = server.ohlcRequests();
    expect(new Set(reqs.map((r) => r.params.pair))).toEqual(new Set(PAIRS.map((p) => p.krakenPair)));
    expect(reqs).toHaveLength(9);
    expect(server.requests.filter((r) => r.error)).toEqual([]);
    const ats = server.requests.map((r) => r.at);
    expect(gaps(ats).every((g) => g >= INTERVAL_MS)).toBe(true);
    expect(ats).toEqual(Array.from({ length: 9 }, (_, i) => T0 + i * INTERVAL_MS)); // and no slower than that

    // The next run in the same minute asks Kraken nothing: no candle can have closed since the cursors.
    const same = await drive(krakenPull(await root.deps(KRAKEN_PULL)));
    expect(same).toMatchObject({ pulls: 0, skipped: 9, errors: 0 });
    expect(server.requests).toHaveLength(9);

    // Two runs of the warm instance after the next close (a scheduler retry overlapping the run) stay
    // in the same line: 18 requests, one a second.
    clock.set(openRow[0] * S + 60 * S);
    const [a, b] = await drive(Promise.all([krakenPull(await root.deps(KRAKEN_PULL)), krakenPull(await root.deps(KRAKEN_PULL))]));
    expect([a, b]).toMatchObject([{ errors: 0 }, { errors: 0 }]);
    expect(server.requests).toHaveLength(27);
    expect(gaps(server.requests.map((r) => r.at)).every((g) => g >= INTERVAL_MS)).toBe(true);
  });

  it('two clients of one process (different settings) share the host line', async () => {
    const a = seededClient(config.kraken, 1);
    const b = seededClient({ ...config.kraken, requestTimeoutMs: 20_000 }, 2);
    expect(a.limiter).toBe(b.limiter);
    expect(a.limiter).toBe(hostLimiter(clock, server.url));
    await drive(Promise.all([a.ohlc('XXBTZUSD', 1), b.ohlc('XETHZUSD', 1), a.ohlc('SOLUSD', 1), b.ohlc('XXRPZUSD', 1)]));
    expect(server.requests.map((r) => r.at)).toEqual([T0, T0 + 1_000, T0 + 2_000, T0 + 3_000]);
  });

  it('a 429 with Retry-After: 7 holds the next request of ANY pair for >= 7 s, then the pull completes', async () => {
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '7' }, body: 'Too Many Requests' }, { endpoint: 'OHLC', pair: 'XETHZUSD' });
    const res = await drive(pullKraken(pullDeps(env, config, clock, server.url, seededClient(config.kraken, 7))));
    expect(res.errors).toBe(0);

    const reqs = server.requests;
    const limited = reqs.findIndex((r) => r.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const after = reqs.slice(limited + 1);
    expect(after.length).toBeGreaterThan(0);
    // every later request, of whichever pair, waited the 7 s Kraken asked for
    expect(after.every((r) => r.at >= reqs[limited]!.at + 7_000)).toBe(true);
    expect(after[0]!.at).toBe(reqs[limited]!.at + 7_000);
    expect(after.some((r) => r.params.pair !== 'XETHZUSD')).toBe(true);
    expect(reqs.filter((r) => r.params.pair === 'XETHZUSD').map((r) => r.status)).toEqual([429, 200]);
    expect(gaps(reqs.map((r) => r.at)).every((g) => g >= INTERVAL_MS)).toBe(true);
    expect(reqs).toHaveLength(10);
  });

  it('Retry-After as an HTTP-date on a 503, and Kraken\'s "EGeneral:Too many requests" in a 200 body, hold every pair too', async () => {
    const date = new Date(T0 + 5_000).toUTCString(); // "Mon, 10 Nov 2025 13:21:30 GMT": 5 s after the first request
    server.failNext({ kind: 'http', status: 503, headers: { 'retry-after': date } }, { endpoint: 'OHLC', pair: 'XXBTZUSD' });
    server.failNext({ kind: 'kraken', error: 'EGeneral:Too many requests' }, { endpoint: 'OHLC', pair: 'SOLUSD' });
    // random 0.25 with full jitter: the first back-off draws 0.75 x retryBaseMs = 3 s
    const cfg = { ...config.kraken, retryBaseMs: 4_000 };
    const client = krakenClientFromConfig(server.url, cfg, clock, env.log, { random: () => 0.25 });
    const p = Promise.all([client.ohlc('XXBTZUSD', 1), client.ohlc('XETHZUSD', 1), client.ohlc('SOLUSD', 1), client.ohlc('XXRPZUSD', 1)]);
    await drive(p);
    const seen = server.requests.map((r) => [r.params.pair, r.at - T0, r.status, r.error ?? null]);
    expect(seen).toEqual([
      ['XXBTZUSD', 0, 503, 'http 503'],
      // XETHZUSD had its slot at 1 s: the hold (until the date, 5 s) keeps it back
      ['XETHZUSD', 5_000, 200, null],
      ['SOLUSD', 6_000, 200, 'EGeneral:Too many requests'],
      // the rate-limit answer holds the line for SOLUSD's back-off (3 s): XXRPZUSD waits too
      ['XXRPZUSD', 9_000, 200, null],
      ['XXBTZUSD', 10_000, 200, null],
      ['SOLUSD', 11_000, 200, null],
    ]);
    expect(client.stats).toEqual({ requests: 6, retries: 2, rateLimited: 1 });
  });

  it('a Retry-After within the budget is waited out once, not counted twice', async () => {
    const client = seededClient({ ...config.kraken, maxRetryWaitMs: 15_000 }, 5);
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '12' } }, { endpoint: 'OHLC' });
    await drive(client.ohlc('XXBTZUSD', 1));
    expect(server.requests.map((r) => [r.status, r.at - T0])).toEqual([
      [429, 0],
      [200, 12_000],
    ]);
  });

  it('retries stop at kraken.maxRetries with a clear error that keeps the error type', async () => {
    const cfg = { ...config.kraken, maxRetries: 2 };
    const client = seededClient(cfg, 3);
    server.failNext({ kind: 'http', status: 502 }, { endpoint: 'OHLC', times: 3 });
    const err = await drive(client.ohlc('XXBTZUSD', 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KrakenHttpError);
    expect((err as KrakenHttpError).status).toBe(502);
    expect((err as Error).message).toMatch(/^Kraken OHLC HTTP 502: .* \(gave up after 3 attempts, \d+ ms of back-off\): retry limit 2 reached \(kraken\.maxRetries\)$/);
    expect(server.ohlcRequests()).toHaveLength(3);
  });

  it('a wait past kraken.maxRetryWaitMs gives up at once; the other pairs do not sit out the wait either, and the next run respects it', async () => {
    const cfg = { ...config.kraken, maxRetryWaitMs: 30_000 };
    const client = seededClient(cfg, 4);
    server.failNext({ kind: 'http', status: 429, headers: { 'retry-after': '120' } }, { endpoint: 'OHLC', pair: 'XXBTZUSD' });
    const [btc, eth] = await drive(Promise.all([client.ohlc('XXBTZUSD', 1).catch((e: unknown) => e), client.ohlc('XETHZUSD', 1).catch((e: unknown) => e)]));
    expect(btc).toBeInstanceOf(KrakenHttpError);
    expect((btc as Error).message).toContain('(gave up after 1 attempts, 0 ms of back-off): Kraken asked for 120000 ms (Retry-After), past the retry budget of 30000 ms (kraken.maxRetryWaitMs)');
    expect(eth).toBeInstanceOf(KrakenHttpError);
    expect((eth as KrakenHttpError).retryable).toBe(true);
    // refused at its turn (1 s), with 119 s of the hold left, without being sent
    expect((eth as Error).message).toBe('Kraken OHLC (pair=XETHZUSD&interval=1) not sent: Kraken asked this IP to wait 119000 ms more, past the retry budget of 30000 ms (kraken.maxRetryWaitMs); the next run retries');
    expect(server.requests.map((r) => [r.params.pair, r.at - T0])).toEqual([['XXBTZUSD', 0]]);

    // a minute later (the next scheduled run, same instance) the hold has 60 s left: still refused
    clock.set(T0 + 60_000);
    await expect(drive(client.ohlc('XETHZUSD', 1))).rejects.toThrow('wait 60000 ms more');
    // 100 s after the 429 the 20 s left fit the budget: the request waits them out, then goes
    clock.set(T0 + 100_000);
    await drive(client.ohlc('XETHZUSD', 1));
    expect(server.requests.map((r) => [r.params.pair, r.at - T0])).toEqual([
      ['XXBTZUSD', 0],
      ['XETHZUSD', 120_000],
    ]);
  });

  it('Kraken rate-limit answers are typed: retryable and rate-limited', () => {
    for (const code of ['EAPI:Rate limit exceeded', 'EGeneral:Too many requests']) {
      const e = new KrakenApiError([code], 'OHLC', { pair: 'XXBTZUSD' });
      expect([e.retryable, e.rateLimited]).toEqual([true, true]);
    }
    const other = new KrakenApiError(['EService:Unavailable'], 'OHLC', {});
    expect([other.retryable, other.rateLimited]).toEqual([true, false]);
  });
});

describe('back-off and Retry-After', () => {
  it('full jitter stays within [0, min(base x 2^n, max)] with a seeded random, and spreads over it', () => {
    const policy = { baseMs: 1_000, maxMs: 16_000, jitter: 1 };
    const random = seeded(42);
    for (let n = 0; n < 8; n++) {
      const ceiling = Math.min(1_000 * 2 ** n, 16_000);
      const draws = Array.from({ length: 500 }, () => backoffDelayMs(n, policy, random()));
      expect(draws.every((d) => d >= 0 && d <= ceiling)).toBe(true);
      expect(Math.min(...draws)).toBeLessThan(ceiling * 0.05);
      expect(Math.max(...draws)).toBeGreaterThan(ceiling * 0.95);
    }
    // partial jitter: [(1 - j) c, c]
    const part = Array.from({ length: 500 }, () => backoffDelayMs(2, { ...policy, jitter: 0.25 }, random()));
    expect(part.every((d) => d >= 3_000 && d <= 4_000)).toBe(true);
    expect(backoffDelayMs(3, { ...policy, jitter: 0 }, 0.9)).toBe(8_000);
  });

  it('the client draws its back-off from the injected source: same seed, same waits, each within its ceiling', async () => {
    const waits = async (seed: number) => {
      const sleeps: number[] = [];
      const fixed = { now: () => T0, sleep: async (ms: number) => void sleeps.push(ms) };
      const c = new KrakenRestClient({ baseUrl: server.url, requestTimeoutMs: 5_000, minRequestIntervalMs: 0, maxRetries: 4, retryBaseMs: 1_000, retryMaxMs: 16_000, random: seeded(seed) }, fixed, env.log);
      server.failNext({ kind: 'http', status: 500 }, { endpoint: 'OHLC', times: 4 });
      await c.ohlc('XXBTZUSD', 1);
      return sleeps;
    };
    const a = await waits(9);
    const b = await waits(9);
    expect(a).toHaveLength(4);
    expect(a).toEqual(b);
    a.forEach((ms, n) => expect(ms).toBeLessThanOrEqual(1_000 * 2 ** n));
    expect(a.every((ms) => ms >= 0)).toBe(true);
  });

  it('reads Retry-After as delta-seconds or HTTP-date', () => {
    const now = Date.UTC(2025, 10, 10, 13, 21, 0);
    expect(retryAfterMs('7', now)).toBe(7_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 10 Nov 2025 13:21:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Mon, 10 Nov 2025 13:20:00 GMT', now)).toBe(0); // already past
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('-3', now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('kraken retry settings in SystemConfig', () => {
  it('are validated strictly', () => {
    const withKraken = (k: Record<string, unknown>) => systemConfigSchema.safeParse({ ...DEFAULT_SYSTEM_CONFIG, kraken: { ...DEFAULT_SYSTEM_CONFIG.kraken, ...k } });
    expect(withKraken({}).success).toBe(true);
    expect(withKraken({ maxRetries: -1 }).success).toBe(false);
    expect(withKraken({ maxRetries: 11 }).success).toBe(false);
    expect(withKraken({ maxRetryWaitMs: 1.5 }).success).toBe(false);
    expect(withKraken({ retryBaseMs: 20_000, retryMaxMs: 10_000 }).error?.issues[0]?.message).toBe('retryBaseMs must be <= retryMaxMs');
    expect(withKraken({ retryJitter: 1 }).success).toBe(false); // unknown key
    expect(DEFAULT_SYSTEM_CONFIG.kraken).toMatchObject({ minRequestIntervalMs: 1_000, maxRetries: 3, retryBaseMs: 1_000, retryMaxMs: 16_000, maxRetryWaitMs: 15_000 });
  });
});
