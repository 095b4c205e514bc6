/**
 * The candle-ingest and tick-archive Pub/Sub functions, driven with real messagePublished CloudEvent
 * envelopes over the embedded adapters (SQLite state, DuckDB warehouse) and real market data: Bybit
 * linear BTCUSDT 1m candles and a recorded Bybit publicTrade batch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as candleIngestFn from '../../shared/pipeline/candle-ingest.js';
import * as tickArchiveFn from '../../shared/pipeline/tick-archive.js';
import { encodePayload, type CloudEventHandler, type PubsubCloudEvent } from '../../infra/bus/envelope.js';
import { bindPubsub } from '../../infra/functions.js';
import { createRoot } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { PermanentError, type Bus } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { Row, Warehouse } from '../../shared/ports/warehouse.js';
import { createLogger } from '../../shared/log.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { candleToDoc, recentHotCandles } from '../../shared/market/hot-store.js';
import { barsCollection } from '../../shared/state-paths.js';
import type { Candle } from '../../shared/model/market.js';
import type { TableName } from '../../shared/warehouse-schema.js';
import { readCandlesCsv } from '../warehouse/market-csv.js';
import { fixture } from '../kit.js';
import type { TickBatch } from '../../shared/messages.js';

const PROJECT = 'local-project';
const START = Date.UTC(2025, 4, 29, 19); // after the candles below closed (the candle gate refuses a candle from the future)

/** Real Bybit linear BTCUSDT 1m candles (2025-05-29 17:05 UTC onward: the head of the kit's file, bundled by the state tests). */
const bybit1m = readCandlesCsv(join(import.meta.dirname, '..', 'state', 'fixtures', 'bybit_linear_BTCUSDT_1m_head300.csv'), 'bybit', 'BTCUSDT', '1m').slice(0, 90);

/** The first recorded BTCUSDT publicTrade message with several trades, as the holder batches it. */
function realTickBatch(): TickBatch {
  const lines = readFileSync(fixture('bybit', 'linear_publicTrade.jsonl'), 'utf8').trim().split(/\r?\n/);
  for (const line of lines) {
    const { msg } = JSON.parse(line) as {
      msg: { topic: string; data: Array<{ T: number; s: string; S: 'Buy' | 'Sell'; v: string; p: string; i: string }> };
    };
    if (msg.topic !== 'publicTrade.BTCUSDT' || msg.data.length < 3) continue;
    const trades = msg.data.map((t) => ({ symbol: t.s, ts: t.T, price: Number(t.p), size: Number(t.v), side: t.S, id: t.i }));
    return {
      symbol: 'BTCUSDT',
      fromTs: Math.min(...trades.map((t) => t.ts)),
      toTs: Math.max(...trades.map((t) => t.ts)),
      trades,
    };
  }
  throw new Error('no BTCUSDT publicTrade message with 3+ trades in the recording');
}

/** The error a handler throws (or undefined when it succeeds). */
async function failure(handler: CloudEventHandler, event: PubsubCloudEvent): Promise<unknown> {
  try {
    await handler(event);
    return undefined;
  } catch (e) {
    return e;
  }
}

let nextId = 1;
/** A `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent as Eventarc delivers it. */
function envelope(topic: string, subscription: string, payload: unknown, opts: { messageId?: string; attempt?: number; rawData?: string } = {}): PubsubCloudEvent {
  const messageId = opts.messageId ?? String(nextId++);
  const publishTime = new Date(START).toISOString();
  return {
    specversion: '1.0',
    id: messageId,
    source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/${topic}`,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    datacontenttype: 'application/json',
    time: publishTime,
    data: {
      message: { data: opts.rawData ?? encodePayload(payload), messageId, publishTime },
      subscription: `projects/${PROJECT}/subscriptions/${subscription}`,
      deliveryAttempt: opts.attempt ?? 1,
    },
  };
}

const candleEvent = (candles: Candle[], opts?: Parameters<typeof envelope>[3]) =>
  envelope(TOPICS.bybitCandles, 'candle-ingest--candles-bybit-1m', { candles }, opts);
const tickEvent = (batch: unknown, opts?: Parameters<typeof envelope>[3]) =>
  envelope(TOPICS.rawTicks, 'tick-archive--raw-tick-data-bybit', batch, opts);

const noBus: Bus = {
  publish: async (topic) => {
    throw new Error(`these functions publish nothing (tried ${topic})`);
  },
  close: async () => undefined,
};

let state: SqliteStateStore;
let duck: DuckDbWarehouse;
let clock: ManualClock;
let logLines: string[];

/** The two functions as their cloud entries bind them, over a root with `warehouse`. */
let candleIngest: CloudEventHandler;
let tickArchive: CloudEventHandler;

function install(warehouse: Warehouse = duck): void {
  const root = createRoot({
    state,
    bus: noBus,
    warehouse,
    clock,
    log: createLogger({}, { sink: (line) => logLines.push(line), minSeverity: 'DEBUG' }),
    config: staticConfig(DEFAULT_SYSTEM_CONFIG),
    endpoints: { krakenRest: 'http://127.0.0.1:1', bybitRest: 'http://127.0.0.1:1', bybitWs: 'ws://127.0.0.1:1' },
  });
  candleIngest = bindPubsub(candleIngestFn.FUNCTION_NAME, candleIngestFn.handle, () => root.deps(candleIngestFn.FUNCTION_NAME));
  tickArchive = bindPubsub(tickArchiveFn.FUNCTION_NAME, tickArchiveFn.handle, () => root.deps(tickArchiveFn.FUNCTION_NAME));
}

beforeEach(() => {
  clock = new ManualClock(START);
  state = new SqliteStateStore({ file: ':memory:', clock });
  duck = new DuckDbWarehouse({ file: ':memory:' });
  logLines = [];
  install();
});

afterEach(async () => {
  await state.close();
  await duck.close();
});

async function hotBars() {
  return (await state.query(barsCollection('bybit', 'BTCUSDT', '1m'))).map((d) => ({ path: d.path, data: d.data }));
}

async function snapshot(table: TableName): Promise<{ hot: unknown; rows: Row[]; count: number }> {
  return { hot: await hotBars(), rows: await duck.rows(table), count: await duck.count(table) };
}

describe('candleIngest (candles-bybit-1m)', () => {
  it('writes real closed candles to the hot window and the warehouse', async () => {
    const batch = bybit1m.slice(0, 60);
    await candleIngest(candleEvent(batch));
    const bars = await hotBars();
    expect(bars).toHaveLength(60);
    expect(bars[0]).toEqual({
      path: `candles/bybit:BTCUSDT:1m/bars/${batch[0]?.openTime}`,
      data: candleToDoc(batch[0] as Candle),
    });
    expect(await recentHotCandles(state, 'bybit', 'BTCUSDT', '1m', 3)).toEqual(batch.slice(-3));
    expect(await duck.count('ohlcv')).toBe(60);
    expect(await duck.candles({ symbol: 'BTCUSDT', interval: '1m', venue: 'bybit' })).toEqual(batch);
    const [first] = await duck.rows('ohlcv');
    expect(first).toMatchObject({ open_time: 1748538300000, open: 106631.1, close: 106688.4, ingested_at: START });
    const info = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'ingested closed candles');
    expect(info).toMatchObject({ function: 'candle-ingest', count: 60, series: ['bybit:BTCUSDT:1m'] });
  });

  it('a redelivered message leaves identical state and warehouse', async () => {
    const batch = bybit1m.slice(0, 60);
    const event = candleEvent(batch);
    await candleIngest(event);
    const once = await snapshot('ohlcv');
    clock.set(START + 90_000);
    await candleIngest({ ...event, data: { ...event.data, deliveryAttempt: 2 } });
    expect(await snapshot('ohlcv')).toEqual(once);
    expect(once.count).toBe(60);

    // An overlapping later batch (the holder refetches a small overlap) only adds the new candles.
    await candleIngest(candleEvent(bybit1m.slice(30, 90)));
    expect(await duck.count('ohlcv')).toBe(90);
    expect(await hotBars()).toHaveLength(90);
    expect(await duck.candles({ symbol: 'BTCUSDT', interval: '1m' })).toEqual(bybit1m.slice(0, 90));
  });

  it('converges when the warehouse fails after the hot write and the bus retries', async () => {
    let failures = 1;
    const flaky: Warehouse = {
      ensureSchema: () => duck.ensureSchema(),
      insert: (table, rows) => {
        if (failures-- > 0) return Promise.reject(new Error('warehouse unavailable'));
        return duck.insert(table, rows);
      },
      candles: (r) => duck.candles(r),
      count: (t) => duck.count(t),
      strategyRows: (t, s) => duck.strategyRows(t, s),
      close: async () => undefined,
    };
    install(flaky);
    const event = candleEvent(bybit1m.slice(0, 10));
    const err = await failure(candleIngest, event);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentError);
    expect(await hotBars()).toHaveLength(10);
    expect(await duck.count('ohlcv')).toBe(0);
    await candleIngest({ ...event, data: { ...event.data, deliveryAttempt: 2 } });
    expect(await duck.count('ohlcv')).toBe(10);
    expect(await hotBars()).toHaveLength(10);
  });

  it('rejects malformed payloads with PermanentError and writes nothing', async () => {
    const real = bybit1m[0] as Candle;
    const cases: Array<[PubsubCloudEvent, string]> = [
      [candleEvent([], { rawData: Buffer.from('{"candles": [', 'utf8').toString('base64') }), 'payload is not JSON'],
      [candleEvent([]), 'candles'],
      [candleEvent([{ ...real, high: real.low - 1 }]), 'OHLC out of order'],
      [candleEvent([{ ...real, interval: '2m' } as unknown as Candle]), 'interval'],
    ];
    for (const [event, reason] of cases) {
      const err = await failure(candleIngest, event);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as Error).message).toContain(reason);
    }
    expect(await hotBars()).toEqual([]);
    expect(await duck.count('ohlcv')).toBe(0);
  });
});

describe('tickArchive (raw-tick-data-bybit)', () => {
  it('archives a real trade batch once, however often it is delivered', async () => {
    const batch = realTickBatch();
    const event = tickEvent(batch);
    await tickArchive(event);
    const once = await snapshot('ticks');
    expect(once.count).toBe(batch.trades.length);
    const t0 = batch.trades[0];
    expect(once.rows).toContainEqual({
      venue: 'bybit',
      symbol: 'BTCUSDT',
      trade_id: t0?.id,
      ts: t0?.ts,
      price: t0?.price,
      size: t0?.size,
      side: t0?.side,
    });
    await tickArchive({ ...event, data: { ...event.data, deliveryAttempt: 2 } });
    await tickArchive(tickEvent(batch)); // re-published under a new message id
    expect(await snapshot('ticks')).toEqual(once);
  });

  it('rejects malformed batches with PermanentError', async () => {
    const batch = realTickBatch();
    const [t0] = batch.trades;
    const cases: Array<[PubsubCloudEvent, string]> = [
      [tickEvent({ ...batch, trades: [] }), 'trades'],
      [tickEvent({ ...batch, trades: [{ ...t0, side: 'buy' }] }), 'side'],
      [tickEvent({ ...batch, trades: [{ ...t0, symbol: 'ETHUSDT' }] }), 'contains a ETHUSDT trade'],
      [tickEvent(batch, { rawData: 'not base64 json' }), 'payload is not JSON'],
    ];
    for (const [event, reason] of cases) {
      const err = await failure(tickArchive, event);
      expect(err).toBeInstanceOf(PermanentError);
      expect((err as Error).message).toContain(reason);
    }
    expect(await duck.count('ticks')).toBe(0);
  });
});
