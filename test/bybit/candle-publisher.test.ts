/**
 * Exactly-once, in-order publishing of closed 1m candles (real BTCUSDT candles from the fixtures):
 * duplicates and out-of-order candles are dropped, gaps are backfilled from REST before newer
 * candles, a REST source that lags makes the queue wait, a restart resumes from the persisted cursor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CandlePublisher, type CursorDoc } from '../../shared/market/bybit/candle-publisher.js';
import { holderCursorPath } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import type { KlineSource } from '../../shared/ports/bybit.js';
import type { Candle } from '../../shared/model/market.js';
import { CaptureBus, captureLog, fixtureCandles, MINUTE } from './helpers.js';

const real = fixtureCandles('BTCUSDT');
const at = (i: number): Candle => real[i] as Candle;

/** REST stand-in over the real candles: serves minutes up to `availableThrough` and records calls. */
class FakeKlines implements KlineSource {
  calls: Array<[number, number]> = [];
  availableThrough = Number.POSITIVE_INFINITY;
  async closedKlines1m(symbol: string, from: number, to: number): Promise<Candle[]> {
    this.calls.push([from, to]);
    return real.filter((c) => c.symbol === symbol && c.openTime >= from && c.openTime <= to && c.openTime <= this.availableThrough);
  }
}

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  while (stores.length > 0) await stores.pop()!.close();
});

function setup(state = new SqliteStateStore({ file: ':memory:' })) {
  stores.push(state);
  // the clock stands after the fixture's last minute: every minute has ended and settled at REST
  const clock = new ManualClock(real[real.length - 1]!.openTime + 2 * MINUTE);
  const bus = new CaptureBus(clock);
  const klines = new FakeKlines();
  const { log, entries } = captureLog();
  const pub = new CandlePublisher({
    bus: bus.bus,
    state,
    klines,
    clock,
    log,
    quality: DEFAULT_SYSTEM_CONFIG.dataQuality,
    maxBackfillMinutes: 60,
    backfillRetryMs: 5_000,
    restSettleMs: 2_000,
    maxCandlesPerMessage: 500,
  });
  const settle = async () => {
    await pub.idle();
    await bus.bus.drain();
  };
  return { state, clock, bus, klines, pub, settle, entries };
}

describe('candle publisher', () => {
  it('publishes in order and drops duplicates and candles older than the cursor', async () => {
    const { bus, pub, settle, state } = setup();
    await pub.init(['BTCUSDT']);
    pub.submit('BTCUSDT', at(0).openTime, at(0));
    pub.submit('BTCUSDT', at(1).openTime, at(1));
    pub.submit('BTCUSDT', at(1).openTime, at(1)); // duplicate
    pub.submit('BTCUSDT', at(0).openTime, at(0)); // out of order (older than the cursor)
    pub.submit('BTCUSDT', at(2).openTime, at(2));
    await settle();
    expect(bus.candles('BTCUSDT').map((c) => c.openTime)).toEqual([at(0).openTime, at(1).openTime, at(2).openTime]);
    expect(pub.stats().BTCUSDT).toMatchObject({ published: 3, duplicatesDropped: 2, backfilled: 0 });
    expect(bus.candleMessages.map((m) => m.candleKey)).toEqual([0, 1, 2].map((i) => `bybit:BTCUSDT:1m:${at(i).openTime}`));
    expect((await state.get<CursorDoc>(holderCursorPath('BTCUSDT')))!.lastOpenTime).toBe(at(2).openTime);
  });

  it('a gap is backfilled from REST, in order, BEFORE the newer candle', async () => {
    const { bus, pub, settle, klines } = setup();
    await pub.init(['BTCUSDT']);
    pub.submit('BTCUSDT', at(0).openTime, at(0));
    pub.submit('BTCUSDT', at(5).openTime, at(5));
    await settle();
    expect(klines.calls).toEqual([[at(1).openTime, at(4).openTime]]);
    expect(bus.candleMessages.map((m) => [m.kind, m.candles.map((c) => c.openTime)])).toEqual([
      ['live', [at(0).openTime]],
      ['backfill', [1, 2, 3, 4].map((i) => at(i).openTime)],
      ['live', [at(5).openTime]],
    ]);
    expect(bus.candles('BTCUSDT').every((c, i) => c.close === at(i).close && c.volume === at(i).volume)).toBe(true);
  });

  it('a minute submitted without a candle (not fully observed) comes from REST', async () => {
    const { bus, pub, settle } = setup();
    await pub.init(['BTCUSDT']);
    pub.submit('BTCUSDT', at(0).openTime); // first minute after a connect: REST
    pub.submit('BTCUSDT', at(1).openTime, at(1));
    await settle();
    expect(bus.candles('BTCUSDT').map((c) => [c.openTime, c.kind])).toEqual([
      [at(0).openTime, 'backfill'],
      [at(1).openTime, 'live'],
    ]);
  });

  it('when REST has not closed the missing minutes yet, nothing newer is published until it has', async () => {
    const { bus, pub, settle, klines, clock, entries } = setup();
    await pub.init(['BTCUSDT']);
    pub.submit('BTCUSDT', at(0).openTime, at(0));
    klines.availableThrough = at(2).openTime; // REST lags: minute 3 not there yet
    pub.submit('BTCUSDT', at(4).openTime, at(4));
    pub.submit('BTCUSDT', at(5).openTime, at(5));
    await settle();
    expect(bus.candles('BTCUSDT').map((c) => c.openTime)).toEqual([at(0).openTime]);
    expect(pub.stats().BTCUSDT).toMatchObject({ waitingForRest: true, queued: 2 });
    expect(entries.some((e) => String(e.message).includes('REST has not closed'))).toBe(true);

    pub.retryDue(clock.now() + 1_000); // not due yet
    await settle();
    expect(bus.candles('BTCUSDT')).toHaveLength(1);

    klines.availableThrough = Number.POSITIVE_INFINITY;
    await clock.advance(5_000);
    pub.retryDue(clock.now());
    await settle();
    expect(bus.candles('BTCUSDT').map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4, 5].map((i) => at(i).openTime));
    expect(pub.stats().BTCUSDT).toMatchObject({ waitingForRest: false, queued: 0, published: 6, backfilled: 3 });
  });

  it('a minute that just ended is asked from REST only after restSettleMs', async () => {
    const { bus, pub, settle, klines, clock } = setup();
    await pub.init(['BTCUSDT']);
    clock.set(at(5).openTime + MINUTE + 500);
    pub.submit('BTCUSDT', at(5).openTime); // the partial minute of a reconnect
    await settle();
    expect(klines.calls).toEqual([]);
    expect(pub.stats().BTCUSDT!.waitingForRest).toBe(true);
    clock.set(at(5).openTime + MINUTE + 1_999);
    pub.retryDue(clock.now());
    await settle();
    expect(klines.calls).toEqual([]);
    clock.set(at(5).openTime + MINUTE + 2_000);
    pub.retryDue(clock.now());
    await settle();
    expect(klines.calls).toEqual([[at(5).openTime, at(5).openTime]]);
    expect(bus.candles('BTCUSDT').map((c) => c.openTime)).toEqual([at(5).openTime]);
  });

  it('a restart resumes from the persisted cursor: the missed minutes are backfilled, none repeated', async () => {
    const first = setup();
    await first.pub.init(['BTCUSDT']);
    for (let i = 0; i <= 3; i++) first.pub.submit('BTCUSDT', at(i).openTime, at(i));
    await first.settle();

    // a new process on the same store: its first candle is minute 7
    const second = setup(first.state);
    await second.pub.init(['BTCUSDT']);
    expect(second.pub.stats().BTCUSDT!.cursor).toBe(at(3).openTime);
    second.pub.submit('BTCUSDT', at(3).openTime, at(3)); // a replay of the last one: dropped
    second.pub.submit('BTCUSDT', at(7).openTime, at(7));
    await second.settle();
    expect(second.klines.calls).toEqual([[at(4).openTime, at(6).openTime]]);
    const all = [...first.bus.candles('BTCUSDT'), ...second.bus.candles('BTCUSDT')].map((c) => c.openTime);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => at(i).openTime));
  });

  it('the cursor never moves backwards, even if another writer advanced it', async () => {
    const { pub, settle, state, bus } = setup();
    await pub.init(['BTCUSDT']);
    await state.set(holderCursorPath('BTCUSDT'), { symbol: 'BTCUSDT', lastOpenTime: at(10).openTime, lastClose: null, updatedAt: 0 });
    pub.submit('BTCUSDT', at(0).openTime, at(0)); // this publisher's cursor was unset when loaded
    await settle();
    expect(bus.candles('BTCUSDT')).toHaveLength(1);
    expect((await state.get<CursorDoc>(holderCursorPath('BTCUSDT')))!.lastOpenTime).toBe(at(10).openTime);
  });

  it('a gap longer than maxBackfillMinutes backfills only the newest part and logs the skip', async () => {
    const { bus, pub, settle, entries } = setup();
    await pub.init(['BTCUSDT']);
    pub.submit('BTCUSDT', at(0).openTime, at(0));
    pub.submit('BTCUSDT', at(100).openTime, at(100));
    await settle();
    const times = bus.candles('BTCUSDT').map((c) => c.openTime);
    expect(times[1]).toBe(at(40).openTime);
    expect(times.at(-1)).toBe(at(100).openTime);
    expect(times).toHaveLength(1 + 61);
    expect(pub.stats().BTCUSDT!.skippedMinutes).toBe(39);
    expect(entries.some((e) => e.severity === 'ERROR' && String(e.message).includes('maxBackfillMinutes'))).toBe(true);
  });

  it('an implausible candle is published flagged bad_data (stored, never traded) and logged', async () => {
    const { bus, pub, settle, entries } = setup();
    await pub.init(['BTCUSDT']);
    const spike: Candle = { ...at(1), high: at(1).high * 3, close: at(1).close * 2.5 };
    pub.submit('BTCUSDT', at(0).openTime, at(0));
    pub.submit('BTCUSDT', spike.openTime, spike);
    pub.submit('BTCUSDT', at(2).openTime, at(2));
    await settle();
    const [a, b, c] = bus.candles('BTCUSDT');
    expect(a!.flags).toBeUndefined();
    expect(b!.flags).toEqual(['bad_data']);
    expect(c!.flags).toBeUndefined(); // judged against the last good close, not the spike
    expect(entries.some((e) => e.severity === 'WARNING' && String(e.message).includes('bad_data'))).toBe(true);
  });

  it('one symbol waiting for REST does not hold back another symbol', async () => {
    const { bus, pub, settle, klines } = setup();
    const eth = fixtureCandles('ETHUSDT');
    await pub.init(['BTCUSDT', 'ETHUSDT']);
    klines.availableThrough = 0;
    pub.submit('BTCUSDT', at(0).openTime); // needs REST, which has nothing
    pub.submit('ETHUSDT', eth[0]!.openTime, eth[0]);
    pub.submit('ETHUSDT', eth[1]!.openTime, eth[1]);
    await settle();
    expect(bus.candles('BTCUSDT')).toHaveLength(0);
    expect(bus.candles('ETHUSDT').map((c) => c.openTime)).toEqual([eth[0]!.openTime, eth[1]!.openTime]);
  });
});

describe('candle publisher timing', () => {
  it('keeps publishing minute after minute (cursor advances by exactly one minute each time)', async () => {
    const { bus, pub, settle } = setup();
    await pub.init(['BTCUSDT']);
    for (let i = 0; i < 30; i++) pub.submit('BTCUSDT', at(i).openTime, at(i));
    await settle();
    const times = bus.candles('BTCUSDT').map((c) => c.openTime);
    expect(times.slice(1).every((t, i) => t - times[i]! === MINUTE)).toBe(true);
    expect(times).toHaveLength(30);
  });
});
