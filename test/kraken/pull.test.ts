/**
 * The Kraken pull end to end: local Kraken REST server (real XBTUSDT 1m response excerpt) -> typed
 * client -> domain -> SQLite state, DuckDB warehouse, in-memory bus.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { TOPICS } from '../../shared/topics.js';
import { barsCollection, krakenCursorPath } from '../../shared/state-paths.js';
import { advanceCursor, pullKraken, type KrakenCursor } from '../../shared/market/kraken/pull.js';
import type { KrakenOhlcRawRow } from '../../shared/ports/kraken.js';
import { FUNCTION_NAME as KRAKEN_PULL, handle as krakenPull } from '../../shared/pipeline/kraken-pull.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { drive, embeddedEnv, pullDeps, readRestExcerpt, record, testConfig, krakenRoot, type Env } from './helpers.js';
import type { Alert, CandleBatch } from '../../shared/messages.js';

const S = 1000;
const head = readRestExcerpt('head');
const times = head.rows.map((r) => r[0]);
const openRow = head.rows[head.rows.length - 1]!;
const config = testConfig([{ symbol: 'BTCUSDT', krakenPair: 'XBTUSDT' }], ['1m']);

let env: Env;
let server: KrakenRestServer;
let clock: ManualClock;
let batches: CandleBatch[];
let alerts: Alert[];

async function setup(rows: KrakenOhlcRawRow[], nowMs: number) {
  clock = new ManualClock(nowMs);
  env = await embeddedEnv();
  batches = record<CandleBatch>(env.bus, TOPICS.krakenOhlc);
  alerts = record<Alert>(env.bus, TOPICS.alerts);
  server = new KrakenRestServer({ series: [{ pair: 'XBTUSDT', intervalMinutes: 1, rows }], now: () => clock.now() });
  await server.start();
}

const hotCount = async () => (await env.state.query(barsCollection('kraken', 'BTCUSDT', '1m'))).length;
const published = () => batches.flatMap((b) => b.candles);

afterEach(async () => {
  await server.stop();
  await env.close();
});

describe('Kraken pull on the real XBTUSDT 1m response', () => {
  beforeEach(async () => {
    await setup(head.rows, openRow[0] * S + 30 * S); // 30 s into the still-open minute
  });

  it('stores and publishes every closed candle, never the open one, and advances the cursor to Kraken `last`', async () => {
    const deps = pullDeps(env, config, clock, server.url);
    const res = await pullKraken(deps);
    await env.bus.drain();
    const s = res.summaries[0]!;
    expect(s.error).toBeUndefined();
    expect(s).toMatchObject({ pair: 'XBTUSDT', pairKey: 'XBTUSDT', symbol: 'BTCUSDT', interval: '1m', received: 65, droppedOpen: 1, stored: 64, published: 64, flagged: 0, gapMissing: 0 });
    expect(s.since).toBeUndefined();
    expect(s.cursorAfter).toBe(head.last * S); // 1762780800000, the last committed minute

    const cursor = await env.state.get<KrakenCursor>(krakenCursorPath('XBTUSDT', '1m'));
    expect(cursor).toMatchObject({ lastOpenTime: 1762780800 * S, krakenLast: 1762780800, pairKey: 'XBTUSDT', symbol: 'BTCUSDT' });

    expect(published().map((c) => c.openTime)).toEqual(times.slice(0, -1).map((t) => t * S));
    expect(published().some((c) => c.openTime === openRow[0] * S)).toBe(false);
    expect(await env.warehouse.count('ohlcv')).toBe(64);
    expect(await hotCount()).toBe(64);
    expect(await env.state.get(`${barsCollection('kraken', 'BTCUSDT', '1m')}/${openRow[0] * S}`)).toBeUndefined();

    // Values arrive intact (row 1762777200 of the real response).
    const [c] = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '1m', venue: 'kraken', fromMs: 1762777200 * S, toMs: 1762777200 * S });
    expect(c).toMatchObject({ open: 106038.1, high: 106044.3, low: 106038.1, close: 106040.1, volume: 0.08317981, trades: 3, vwap: 106039.6 });
    expect(batches[0]!.candles[0]).toMatchObject({ venue: 'kraken', symbol: 'BTCUSDT', interval: '1m', trades: 0 });
    expect(batches[0]!.candles[0]!.vwap).toBeUndefined(); // Kraken's "0.0" vwap of a minute without trades
  });

  it('a second pull refetches the overlap and re-publishes nothing; counts stay unchanged', async () => {
    const deps = pullDeps(env, config, clock, server.url);
    await pullKraken(deps);
    // In the same open minute nothing can have closed since the cursor: Kraken is not asked.
    await clock.advance(5 * S);
    const same = await pullKraken(deps);
    expect(same).toMatchObject({ pulls: 0, skipped: 1 });
    expect(same.summaries[0]).toMatchObject({ skipped: true, received: 0, cursorBefore: 1762780800 * S, cursorAfter: 1762780800 * S });
    expect(server.ohlcRequests()).toHaveLength(1);
    await clock.advance(30 * S); // the open minute has closed: asked again
    const res = await pullKraken(deps);
    await env.bus.drain();
    const s = res.summaries[0]!;
    // since = cursor - 3 candles; Kraken returns the rows after it plus the open one.
    expect(s.since).toBe(1762780800 - 3 * 60);
    expect(server.ohlcRequests()[1]!.params.since).toBe(String(1762780800 - 3 * 60));
    expect(s).toMatchObject({ received: 4, stored: 3, overlapped: 3, published: 0, cursorBefore: 1762780800 * S, cursorAfter: 1762780800 * S });
    expect(batches).toHaveLength(1);
    expect(await env.warehouse.count('ohlcv')).toBe(64);
    expect(await hotCount()).toBe(64);
  });
});

describe('Kraken pull over time', () => {
  it('never moves a cursor backwards (a late or concurrent run with older data)', async () => {
    await setup(head.rows, openRow[0] * S + 30 * S);
    await pullKraken(pullDeps(env, config, clock, server.url));
    const older: KrakenCursor = { venue: 'kraken', pair: 'XBTUSDT', pairKey: 'XBTUSDT', symbol: 'BTCUSDT', interval: '1m', lastOpenTime: times[10]! * S, krakenLast: times[10]!, updatedAt: clock.now() };
    expect(await advanceCursor(env.state, older)).toBe(head.last * S);
    expect((await env.state.get<KrakenCursor>(krakenCursorPath('XBTUSDT', '1m')))!.lastOpenTime).toBe(head.last * S);
  });

  it('publishes each closed candle exactly once as time advances (overlap de-duplicated)', async () => {
    const start = times[20]! * S + 10 * S;
    await setup(head.rows, start);
    const deps = pullDeps(env, config, clock, server.url);
    const results = [];
    for (const t of [start, times[21]! * S + 50 * S, times[40]! * S + 1 * S, times[41]! * S + 2 * S, openRow[0] * S + 59 * S]) {
      clock.set(t);
      results.push(await pullKraken(deps));
    }
    await env.bus.drain();
    const got = published().map((c) => c.openTime);
    expect(got).toEqual(times.slice(0, -1).map((t) => t * S)); // in order, no duplicate, no open candle
    expect(results.map((r) => r.published)).toEqual([20, 1, 19, 1, 23]);
    expect(await env.warehouse.count('ohlcv')).toBe(64);
    expect((await env.state.get<KrakenCursor>(krakenCursorPath('XBTUSDT', '1m')))!.lastOpenTime).toBe(times[63]! * S);
  });

  it('drops a row whose interval has not ended even when it is not the last row', async () => {
    // A server clock ahead of ours (skew): Kraken's second-to-last row is still open for us.
    const nowMs = times[40]! * S + 30 * S;
    clock = new ManualClock(nowMs);
    env = await embeddedEnv();
    batches = record<CandleBatch>(env.bus, TOPICS.krakenOhlc);
    alerts = record<Alert>(env.bus, TOPICS.alerts);
    server = new KrakenRestServer({ series: [{ pair: 'XBTUSDT', intervalMinutes: 1, rows: head.rows }], now: () => clock.now() + 60 * S });
    await server.start();
    const res = await pullKraken(pullDeps(env, config, clock, server.url));
    expect(res.summaries[0]).toMatchObject({ received: 42, droppedOpen: 2, stored: 40, cursorAfter: times[39]! * S });
  });

  it('flags an impossible candle: stored flagged, not published, one bad_data alert (one real candle altered)', async () => {
    // ALTERED DATA: the high of the real 1762778400 row is multiplied by 3 to make it impossible.
    const idx = times.indexOf(1762778400);
    const rows = head.rows.map((r, i) => (i === idx ? ([r[0], r[1], String(Number(r[2]) * 3), r[3], r[4], r[5], r[6], r[7]] as KrakenOhlcRawRow) : r));
    await setup(rows, openRow[0] * S + 30 * S);
    const deps = pullDeps(env, config, clock, server.url);
    const res = await pullKraken(deps);
    await env.bus.drain();
    expect(res.summaries[0]).toMatchObject({ stored: 64, published: 63, flagged: 1 });
    expect(published().some((c) => c.openTime === 1762778400 * S)).toBe(false);
    expect(published().some((c) => c.openTime === 1762778460 * S)).toBe(true); // its successor is fine
    const [stored] = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '1m', fromMs: 1762778400 * S, toMs: 1762778400 * S });
    expect(stored!.flags).toEqual(['bad_data']);
    const hot = await env.state.get<{ flags?: string[] }>(`${barsCollection('kraken', 'BTCUSDT', '1m')}/${1762778400 * S}`);
    expect(hot!.flags).toEqual(['bad_data']);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      alertId: `bad_data:kraken:BTCUSDT:1m:${1762778400 * S}:${1762778400 * S}:1`,
      kind: 'bad_data',
      subject: 'BTCUSDT',
      severity: 'warning',
    });
    expect(alerts[0]!.message).toContain('range');
    // The overlap refetch does not raise the alert again.
    await clock.advance(5 * S);
    await pullKraken(deps);
    await env.bus.drain();
    expect(alerts).toHaveLength(1);
  });

  it('reports a Kraken error per pair and still pulls the others', async () => {
    await setup(head.rows, openRow[0] * S + 30 * S);
    const cfg = testConfig(
      [
        { symbol: 'BTCUSDT', krakenPair: 'XBTUSDT' },
        { symbol: 'ETHUSDT', krakenPair: 'ETHNOPE' },
      ],
      ['1m'],
    );
    const res = await drive(clock, pullKraken(pullDeps(env, cfg, clock, server.url))); // the second pair waits its turn in the host's line
    expect(res.errors).toBe(1);
    const eth = res.summaries.find((s) => s.symbol === 'ETHUSDT')!;
    expect(eth.error).toEqual({
      name: 'KrakenApiError',
      message: 'Kraken OHLC (pair=ETHNOPE interval=1) returned error: EQuery:Unknown asset pair',
      retryable: false,
    });
    expect(res.summaries.find((s) => s.symbol === 'BTCUSDT')!.published).toBe(64);
    expect(env.logs.some((l) => l.severity === 'ERROR' && l.message === 'kraken pull failed' && l.pair === 'ETHNOPE')).toBe(true);
    expect(await env.state.get(krakenCursorPath('ETHNOPE', '1m'))).toBeUndefined();
  });

  it('the scheduled job runs with its root\'s deps (endpoint from the root\'s endpoints.krakenRest)', async () => {
    await setup(head.rows, openRow[0] * S + 59_500); // half a second before the open minute closes
    const root = krakenRoot(env, clock, config, server.url);
    const out = await krakenPull(await root.deps(KRAKEN_PULL));
    expect(out).toMatchObject({ pulls: 1, published: 64, stored: 64, errors: 0 });
    expect(server.ohlcRequests()).toHaveLength(1);
    // A warm instance keeps its host line: the spacing holds across invocations (the next run, just
    // after the close, waits for the second the first request started).
    await clock.advance(500);
    const second = krakenPull(await root.deps(KRAKEN_PULL));
    await new Promise((r) => setTimeout(r, 50));
    expect(server.ohlcRequests()).toHaveLength(1);
    await clock.advance(500);
    expect(await second).toMatchObject({ pulls: 1, errors: 0 });
    expect(server.ohlcRequests().map((r) => r.at)).toEqual([openRow[0] * S + 59_500, openRow[0] * S + 60_500]);
  });
});
