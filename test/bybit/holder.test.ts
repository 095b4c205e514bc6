/**
 * The holder's behaviour behind a fake stream (messages injected directly, ManualClock): impossible
 * values are flagged and never traded, a crossed book re-subscribes, raw ticks are batched at most
 * once per symbol per second, 15 s snapshots carry the forming candle and book features, connection
 * changes raise alerts. Messages are the REAL recording unless a test needs a broken one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BybitHolder } from '../../shared/market/bybit/holder.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { KlineSource } from '../../shared/ports/bybit.js';
import { CaptureBus, captureLog, FakeStream, recorded, RECORDING_SYMBOLS, testConfig, type Recorded } from './helpers.js';


const noKlines: KlineSource = { closedKlines1m: async () => [] };
const stores: SqliteStateStore[] = [];
afterEach(async () => {
  while (stores.length > 0) await stores.pop()!.close();
});

function setup(startAt: number, symbols: readonly string[] = RECORDING_SYMBOLS, bookDepth: 50 | 200 = 200) {
  const clock = new ManualClock(startAt);
  const bus = new CaptureBus(clock);
  const stream = new FakeStream();
  const state = new SqliteStateStore({ file: ':memory:' });
  stores.push(state);
  const { log, entries } = captureLog();
  const holder = new BybitHolder({ stream, klines: noKlines, bus: bus.bus, state, clock, log, config: testConfig(symbols, { bookDepth }), autoTimers: false });
  return { clock, bus, stream, holder, entries };
}

/** All recorded holder-stream messages (trades, books, klines), in receive order. */
function recording(): Recorded[] {
  return [...recorded('linear_publicTrade.jsonl'), ...recorded('linear_orderbook200.jsonl'), ...recorded('linear_kline1.jsonl')].sort((a, b) => a.recv - b.recv);
}

/** Feeds messages at their receive time, running the holder's timer every `stepMs`. */
async function replay(h: ReturnType<typeof setup>, msgs: Recorded[], stepMs = 250): Promise<void> {
  let i = 0;
  const end = msgs[msgs.length - 1]!.recv + 16_000;
  while (h.clock.now() < end) {
    const t = h.clock.now() + stepMs;
    while (i < msgs.length && msgs[i]!.recv <= t) {
      h.clock.set(Math.max(h.clock.now(), msgs[i]!.recv));
      h.holder.ingest(msgs[i]!.msg);
      i++;
    }
    h.clock.set(t);
    await h.holder.tick();
    await h.holder.idle();
  }
  await h.bus.bus.drain();
}

describe('impossible market data is flagged and never traded', () => {
  it('bad trades are dropped from candles and ticks and logged; good trades of the same message pass', async () => {
    const T = 1_748_736_000_000;
    const h = setup(T - 5_000, ['BTCUSDT']);
    await h.holder.start();
    const good = { T: T + 1_000, s: 'BTCUSDT', S: 'Buy', v: '0.010', p: '104000.5', i: 'a' };
    h.holder.ingest({
      topic: 'publicTrade.BTCUSDT',
      type: 'snapshot',
      ts: T + 1_001,
      data: [
        good,
        { ...good, p: '-1', i: 'b' },
        { ...good, p: '0', i: 'c' },
        { ...good, v: 'NaN', i: 'd' },
        { ...good, s: 'ETHUSDT', i: 'e' },
        { ...good, S: 'Hold', i: 'f' },
        { ...good, T: 'yesterday', i: 'g' },
      ],
    });
    h.holder.ingest('{"topic":"publicTrade.BTCUSDT","data":'); // truncated frame
    h.holder.ingest({ topic: 'publicTrade.BTCUSDT', type: 'snapshot', data: 'not an array' });
    const health = h.holder.health();
    expect(health.symbols.BTCUSDT).toMatchObject({ trades: 1, rejected: 6 });
    expect(health.malformed).toBe(2);
    expect(h.holder.snapshot('BTCUSDT', T + 2_000)!.forming).toBeNull(); // partial minute after connect
    h.clock.set(T + 2_000);
    await h.holder.tick();
    await h.bus.bus.drain();
    expect(h.bus.tickBatches.flatMap((b) => b.trades.map((t) => t.id))).toEqual(['a']);
    const warned = h.entries.filter((e) => e.severity === 'WARNING' && String(e.message).includes('impossible market data'));
    expect(warned.map((e) => e.reason)).toEqual([
      'non-positive or non-finite price',
      'non-positive or non-finite price',
      'non-positive or non-finite size',
      'symbol ETHUSDT on topic of BTCUSDT',
      'bad side',
      'bad trade time',
    ]);
  });

  it('impossible kline.1 bars are rejected; a crossed book after a delta invalidates it and re-subscribes', async () => {
    const msgs = recording();
    const h = setup(msgs[0]!.recv - 1, ['BTCUSDT']);
    await h.holder.start();
    const snap = msgs.find((m) => m.msg.topic === 'orderbook.200.BTCUSDT')!;
    h.holder.ingest(snap.msg);
    const d = snap.msg.data as { u: number; a: string[][] };
    expect(h.holder.health().symbols.BTCUSDT!.book).toBe('ok');
    h.holder.ingest({ topic: 'kline.1.BTCUSDT', type: 'snapshot', data: [{ start: 1786310760000, open: '65119.9', high: '65000', low: '65114.2', close: '65114.3', volume: '1', confirm: false, timestamp: 1 }] });
    expect(h.holder.health().symbols.BTCUSDT!.rejected).toBe(1);
    // a bid at the best ask crosses the book: impossible
    h.holder.ingest({ topic: 'orderbook.200.BTCUSDT', type: 'delta', ts: 1, data: { s: 'BTCUSDT', b: [[d.a[0]![0], '1.0']], a: [], u: d.u + 1, seq: 1 } });
    await h.holder.idle();
    await new Promise((r) => setImmediate(r));
    const s = h.holder.health().symbols.BTCUSDT!;
    expect(s).toMatchObject({ bookCrossed: 1, resubscribes: 1, book: 'awaiting_snapshot' });
    expect(h.holder.snapshot('BTCUSDT')!.book).toBeNull();
    expect(h.stream.calls.slice(-2)).toEqual(['unsub orderbook.200.BTCUSDT', 'sub orderbook.200.BTCUSDT']);
    // the fresh snapshot brings the book back
    h.holder.ingest(snap.msg);
    expect(h.holder.health().symbols.BTCUSDT!.book).toBe('ok');
  });
});

describe('publishing cadence on the real recording', () => {
  it('raw ticks: every trade once, at most one message per symbol per tickBatchMs', async () => {
    const msgs = recording();
    const h = setup(msgs[0]!.recv - 1);
    await h.holder.start();
    await replay(h, msgs);
    const recordedIds = recorded('linear_publicTrade.jsonl').flatMap((r) => (r.msg.data as Array<{ i: string }>).map((t) => t.i));
    const published = h.bus.tickBatches.flatMap((b) => b.trades.map((t) => t.id));
    expect(published.sort()).toEqual([...recordedIds].sort());
    for (const symbol of RECORDING_SYMBOLS) {
      const batches = h.bus.tickBatches.filter((b) => b.symbol === symbol);
      expect(batches.length).toBeGreaterThan(3);
      for (let i = 1; i < batches.length; i++) expect(batches[i]!.publishedAt - batches[i - 1]!.publishedAt).toBeGreaterThanOrEqual(1_000);
      for (const b of batches) {
        expect(b.fromTs).toBe(Math.min(...b.trades.map((t) => t.ts)));
        expect(b.toTs).toBe(Math.max(...b.trades.map((t) => t.ts)));
        expect(b.trades.every((t) => t.symbol === symbol)).toBe(true);
      }
    }
    const health = h.holder.health();
    expect(health.published.tickBatches).toBe(h.bus.tickBatches.length);
    expect(health.published.ticks).toBe(recordedIds.length);
  });

  it('15 s snapshots per symbol with the forming candle and the book features', async () => {
    const msgs = recording();
    const h = setup(msgs[0]!.recv - 1);
    await h.holder.start();
    await replay(h, msgs);
    const snaps = h.bus.snapshots;
    for (const symbol of RECORDING_SYMBOLS) {
      const mine = snaps.filter((s) => s.symbol === symbol);
      expect(mine.length).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < mine.length; i++) {
        expect(mine[i]!.ts % 15_000).toBe(0);
        if (i > 0) expect(mine[i]!.ts - mine[i - 1]!.ts).toBe(15_000);
      }
      const withBook = mine.filter((s) => s.book !== null);
      expect(withBook.length).toBeGreaterThanOrEqual(3);
      for (const s of withBook) {
        expect(s.book!.bestBid).toBeLessThan(s.book!.bestAsk);
        expect(s.book!.spreadBps).toBeGreaterThan(0);
        expect(Math.abs(s.book!.imbalance)).toBeLessThanOrEqual(1);
        expect(s.book!.depthLevels).toBe(10);
      }
      // the forming candle of 21:27 (seeded by kline.1 then formed by trades) opens at the 21:26 close
      const forming = mine.map((s) => s.forming).filter((c) => c !== null && c.openTime === 1786310820000);
      expect(forming.length).toBeGreaterThanOrEqual(2);
      const confirmed = recorded('linear_kline1.jsonl')
        .flatMap((r) => (r.msg.topic === `kline.1.${symbol}` ? (r.msg.data as Array<Record<string, unknown>>) : []))
        .find((b) => b.confirm === true)!;
      for (const c of forming) expect(c!.open).toBe(Number(confirmed.close));
    }
  });

  it('a disconnect suspends aggregation and books, raises one alert per transition; a reconnect counts', async () => {
    const msgs = recording();
    const h = setup(msgs[0]!.recv - 1);
    await h.holder.start();
    await replay(h, msgs.slice(0, 400));
    expect(h.holder.health().healthy).toBe(true);
    h.stream.drop();
    let health = h.holder.health();
    expect(health).toMatchObject({ healthy: false, connection: 'reconnecting', disconnects: 1, reconnects: 0 });
    expect(Object.values(health.symbols).every((s) => s.book === 'awaiting_snapshot')).toBe(true);
    h.stream.back();
    health = h.holder.health();
    expect(health).toMatchObject({ connection: 'connected', reconnects: 1 });
    await h.bus.bus.drain();
    expect(h.bus.alerts.map((a) => a.kind)).toEqual(['holder_disconnected', 'holder_reconnected']);
  });
});
