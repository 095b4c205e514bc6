/**
 * Real gaps: Kraken's XBTUSD 5m history (2023-02-02 00:00 -> 2023-02-22 06:00 UTC, 5,817 real
 * candles) misses 2023-02-02 22:05 (no trades) and 2023-02-22 00:15..01:25 (the 00:10-01:30
 * maintenance window). Replayed through the local Kraken REST server, the pull must detect exactly
 * these gaps and invent no candle; a cursor too old for one response is reported as unserved and
 * the OHLCVT import fills it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { TOPICS } from '../../shared/topics.js';
import { detectGaps } from '../../shared/market/kraken/gaps.js';
import { importOhlcvt, parseOhlcvtCsv } from '../../shared/market/kraken/ohlcvt.js';
import { pullKraken, type KrakenCursor, type PairIntervalSummary } from '../../shared/market/kraken/pull.js';
import { krakenCursorPath } from '../../shared/state-paths.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { FIXTURES, drive, embeddedEnv, pullDeps, record, testConfig, type Env } from './helpers.js';
import type { CandleBatch } from '../../shared/messages.js';

const MIN = 60_000;
const FIVE = 5 * MIN;
const DAY = 24 * 60 * MIN;
const utc = (s: string) => Date.parse(`${s}Z`);
const SLICE_START = utc('2023-02-02T00:00:00');
const SLICE_END = utc('2023-02-22T06:00:00');
const text = readFileSync(join(FIXTURES, 'XBTUSD_5.csv'), 'utf8');
const real = parseOhlcvtCsv(text, { symbol: 'BTCUSDT', interval: '5m' }).candles;
const REAL_GAPS = [
  { fromMs: utc('2023-02-02T22:05:00'), toMs: utc('2023-02-02T22:05:00'), missing: 1 },
  { fromMs: utc('2023-02-22T00:15:00'), toMs: utc('2023-02-22T01:25:00'), missing: 15 },
];
const config = testConfig([{ symbol: 'BTCUSDT', krakenPair: 'XBTUSD' }], ['5m']);

let env: Env;
let server: KrakenRestServer;
let clock: ManualClock;
let batches: CandleBatch[];

beforeEach(async () => {
  clock = new ManualClock(SLICE_START);
  env = await embeddedEnv();
  batches = record<CandleBatch>(env.bus, TOPICS.krakenOhlc);
  server = new KrakenRestServer({ series: [{ pair: 'XBTUSD', intervalMinutes: 5, candles: real }], now: () => clock.now() });
  await server.start();
});
afterEach(async () => {
  await server.stop();
  await env.close();
});

describe('the fixture itself', () => {
  it('is the real slice with its real gaps', () => {
    expect(real).toHaveLength(5_817);
    expect(real[0]!.openTime).toBe(SLICE_START);
    expect(real[real.length - 1]!.openTime).toBe(SLICE_END);
    expect(detectGaps(real.map((c) => c.openTime), FIVE)).toEqual(REAL_GAPS);
  });
});

describe('Kraken pull over real history with gaps', () => {
  it('detects exactly the real gaps, invents no candle, and publishes each candle once', async () => {
    const deps = pullDeps(env, config, clock, server.url);
    const nows = [...Array.from({ length: 10 }, (_, k) => SLICE_START + (k + 1) * 2 * DAY + 150_000), utc('2023-02-22T00:52:30'), SLICE_END + 150_000];
    const summaries: PairIntervalSummary[] = [];
    for (const t of nows) {
      clock.set(t);
      const res = await drive(clock, pullKraken(deps)); // AssetPairs confirms XXBTZUSD once, 1 s after the first OHLC
      expect(res.errors).toBe(0);
      summaries.push(res.summaries[0]!);
    }
    await env.bus.drain();

    expect(summaries.flatMap((s) => s.gaps)).toEqual(REAL_GAPS);
    expect(summaries.reduce((n, s) => n + s.gapMissing, 0)).toBe(16);
    expect(summaries.every((s) => s.unserved === undefined && s.pairKey === 'XXBTZUSD')).toBe(true);

    // Inside the maintenance window the last row Kraken has (00:10) is presented as current: held back.
    const inWindow = summaries[10]!;
    expect(inWindow.cursorAfter).toBe(utc('2023-02-22T00:05:00'));
    expect(inWindow.gaps).toEqual([]);
    // The final pull picks 00:10 up and sees the 15 missing candles after it.
    expect(summaries[11]!.gaps).toEqual([REAL_GAPS[1]]);

    // Everything real is stored except the still-open last candle; nothing else.
    const stored = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '5m', venue: 'kraken' });
    expect(stored.map((c) => c.openTime)).toEqual(real.slice(0, -1).map((c) => c.openTime));
    const window = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '5m', fromMs: utc('2023-02-22T00:00:00'), toMs: utc('2023-02-22T01:40:00') });
    expect(window.map((c) => new Date(c.openTime).toISOString().slice(11, 16))).toEqual(['00:00', '00:05', '00:10', '01:30', '01:35', '01:40']);
    const sample = stored.find((c) => c.openTime === utc('2023-02-22T01:30:00'))!;
    const realSample = real.find((c) => c.openTime === sample.openTime)!;
    expect([sample.open, sample.high, sample.low, sample.close, sample.volume]).toEqual([realSample.open, realSample.high, realSample.low, realSample.close, realSample.volume]);

    const pub = batches.flatMap((b) => b.candles.map((c) => c.openTime));
    expect(pub).toEqual(real.slice(0, -1).map((c) => c.openTime));
    expect((await env.state.get<KrakenCursor>(krakenCursorPath('XBTUSD', '5m')))!.lastOpenTime).toBe(SLICE_END - FIVE);
    const gapLogs = env.logs.filter((l) => l.message.startsWith('gaps: Kraken omitted intervals'));
    expect(gapLogs.map((l) => l.missing)).toEqual([1, 15]);
  });

  it('reports a range older than 720 candles as unserved (no candle invented) and the OHLCVT import fills it', async () => {
    const deps = pullDeps(env, config, clock, server.url);
    clock.set(SLICE_START + DAY + 150_000);
    const first = (await drive(clock, pullKraken(deps))).summaries[0]!;
    expect(first.cursorAfter).toBe(utc('2023-02-02T23:55:00'));
    expect(first.gaps).toEqual([REAL_GAPS[0]]);

    clock.set(SLICE_START + 5 * DAY + 150_000); // 4 days = 1,152 candles later: more than one response covers
    const second = (await pullKraken(deps)).summaries[0]!;
    expect(second.received).toBe(721);
    const unserved = { fromMs: utc('2023-02-03T00:00:00'), toMs: utc('2023-02-04T11:55:00'), missing: 432 };
    expect(second.unserved).toEqual(unserved);
    expect(second.gapMissing).toBe(0);
    expect(second.cursorAfter).toBe(utc('2023-02-06T23:55:00'));
    const warn = env.logs.find((l) => l.severity === 'WARNING' && String(l.message).includes('Kraken cannot serve this range'));
    expect(warn).toMatchObject({ missing: 432, from: '2023-02-03T00:00:00.000Z', to: '2023-02-04T11:55:00.000Z' });
    const range = { symbol: 'BTCUSDT', interval: '5m' as const, fromMs: unserved.fromMs, toMs: unserved.toMs };
    expect(await env.warehouse.candles(range)).toEqual([]);

    const imported = await importOhlcvt(
      { warehouse: env.warehouse, clock, quality: DEFAULT_SYSTEM_CONFIG.dataQuality },
      { fileName: 'XBTUSD_5.csv', text },
    );
    expect(imported).toMatchObject({ symbol: 'BTCUSDT', interval: '5m', candles: 5_817, missing: 16, gaps: REAL_GAPS, flagged: 0 });
    expect(await env.warehouse.candles(range)).toHaveLength(432);
    expect(await env.warehouse.count('ohlcv')).toBe(5_817); // pulled rows were not duplicated by the import
  });
});
