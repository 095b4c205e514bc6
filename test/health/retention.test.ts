import { afterEach, describe, expect, it } from 'vitest';
import { cleanupRetention, DAY_MS, retentionCutoffs } from '../../shared/health/retention.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { barsCollection } from '../../shared/state-paths.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { staticConfig } from '../../shared/config/source.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { handle as retentionCleanup, type Deps } from '../../shared/pipeline/retention-cleanup.js';
import type { Candle, Interval, Venue } from '../../shared/model/market.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { captureLog, memoryStore } from '../config/support.js';
import { loadCandles } from './support.js';

const m1 = loadCandles('bybit_BTCUSDT_1m_every240.csv', 'bybit', 'BTCUSDT', '1m');
const m15 = loadCandles('bybit_BTCUSDT_15m_every16.csv', 'bybit', 'BTCUSDT', '15m');
const h1 = loadCandles('bybit_BTCUSDT_60m_every4.csv', 'bybit', 'BTCUSDT', '1h');
const d1 = loadCandles('kraken_XBTUSD_1440.csv', 'kraken', 'BTCUSDT', '1d');
const ALL = [...m1, ...m15, ...h1, ...d1];

const cfg: SystemConfig = { ...DEFAULT_SYSTEM_CONFIG, symbols: DEFAULT_SYSTEM_CONFIG.symbols.slice(0, 2) };

let store: SqliteStateStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function openTimes(venue: Venue, interval: Interval): Promise<number[]> {
  const docs = await store!.query<Candle>(barsCollection(venue, 'BTCUSDT', interval), { orderBy: { field: 'openTime', direction: 'asc' } });
  return docs.map((d) => d.data.openTime);
}

const kept = (cs: Candle[], cutoff: number) => cs.filter((c) => c.openTime >= cutoff).map((c) => c.openTime);

describe('hot-store retention (1m 30 d, 15m 1 y, 1h 2 y, 1d forever)', () => {
  it('SPEC retention defaults', () => {
    expect(DEFAULT_SYSTEM_CONFIG.retentionDays).toMatchObject({ '1m': 30, '15m': 365, '1h': 730, '1d': null });
  });

  it('deletes exactly the candles older than each interval\'s retention and never touches 1d', async () => {
    store = memoryStore();
    await writeHotCandles(store, ALL);
    const log = captureLog().log;

    // 1) Just after the 1m data ends: only the oldest 1m candles are past 30 days.
    const t1 = Date.parse('2025-06-29T14:00:00Z');
    const r1 = await cleanupRetention(store, cfg, t1, { batchSize: 7, log });
    const cut1m = t1 - 30 * DAY_MS;
    const old1m = m1.filter((c) => c.openTime < cut1m).length;
    expect(old1m).toBeGreaterThan(0);
    expect(r1.deleted).toEqual({ '1m': old1m });
    expect(await openTimes('bybit', '1m')).toEqual(kept(m1, cut1m));
    expect(await openTimes('bybit', '15m')).toHaveLength(m15.length);
    expect(await openTimes('bybit', '1h')).toHaveLength(h1.length);

    // Idempotent: the same run again deletes nothing.
    expect((await cleanupRetention(store, cfg, t1, { log })).totalDeleted).toBe(0);

    // 2) A year on: 15m candles older than 365 days go, every 1m goes, 1h (2 years) stays.
    const t2 = Date.parse('2026-05-15T00:00:00Z');
    const r2 = await cleanupRetention(store, cfg, t2, { batchSize: 50, log });
    const cut15 = t2 - 365 * DAY_MS;
    expect(r2.deleted).toEqual({ '1m': m1.length - old1m, '15m': m15.filter((c) => c.openTime < cut15).length });
    expect(await openTimes('bybit', '1m')).toEqual([]);
    expect(await openTimes('bybit', '15m')).toEqual(kept(m15, cut15));
    expect((await openTimes('bybit', '15m')).length).toBeGreaterThan(0);
    expect(await openTimes('bybit', '1h')).toHaveLength(h1.length);

    // 3) Two years on: 1h candles older than 730 days go; 1d (null retention) is kept forever.
    const t3 = Date.parse('2027-06-15T00:00:00Z');
    await cleanupRetention(store, cfg, t3, { log });
    const cut1h = t3 - 730 * DAY_MS;
    const left1h = await openTimes('bybit', '1h');
    expect(left1h).toEqual(kept(h1, cut1h));
    expect(left1h.length).toBeGreaterThan(0);
    expect(left1h.length).toBeLessThan(h1.length);
    expect(await openTimes('kraken', '1d')).toEqual(d1.map((c) => c.openTime));
    expect(retentionCutoffs(cfg, t3)['1d']).toBeNull();
  });

  it('bounds one run with maxBatchesPerSeries and finishes on the next run', async () => {
    store = memoryStore();
    await writeHotCandles(store, m1);
    const now = Date.parse('2025-08-01T00:00:00Z');
    const r = await cleanupRetention(store, cfg, now, { batchSize: 20, maxBatchesPerSeries: 3, log: captureLog().log });
    expect(r.deleted['1m']).toBe(60);
    expect(r.truncated).toEqual([barsCollection('bybit', 'BTCUSDT', '1m')]);
    const r2 = await cleanupRetention(store, cfg, now, { log: captureLog().log });
    expect(r2.deleted['1m']).toBe(m1.length - 60);
    expect(await openTimes('bybit', '1m')).toEqual([]);
  });

  it('the retention-cleanup function uses the context config and clock', async () => {
    store = memoryStore();
    await writeHotCandles(store, [...m1, ...d1]);
    const ctx: Deps = { state: store, clock: new ManualClock(Date.parse('2025-06-29T14:00:00Z')), log: captureLog().log, config: staticConfig(cfg) };
    const r = await retentionCleanup(ctx);
    expect(r.deleted).toEqual({ '1m': m1.filter((c) => c.openTime < Date.parse('2025-05-30T14:00:00Z')).length });
    expect(await openTimes('kraken', '1d')).toHaveLength(90);
  });
});

describe('idempotency marker pruning', () => {
  it('deletes markers older than the retention and keeps newer ones, in every marker collection', async () => {
    const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
    const { markerCollections, pruneMarkers } = await import('../../shared/health/markers.js');
    const state = new SqliteStateStore({ file: ':memory:' });
    const now = Date.UTC(2025, 5, 29);
    const day = 24 * 60 * 60_000;
    await state.set('tg_updates/1', { updateId: 1, receivedAt: now - 8 * day, status: 'done' });
    await state.set('tg_updates/2', { updateId: 2, receivedAt: now - 6 * day, status: 'done' });
    await state.set('trading/paper/applied/a', { signalId: 'a', appliedAt: now - 30 * day });
    await state.set('trading/paper/external/x', { key: 'x', appliedAt: now - 1 * day });
    await state.set('macro_swing_published/s', { signalId: 's', publishedAt: now - 7 * day - 1 });
    await state.set('dashboard_logins/n1', { nonce: 'n1', userId: 1, usedAt: now - 8 * day, expiresAt: now - 8 * day + 600_000 });
    await state.set('dashboard_actions/dash:a', { commandId: 'dash:a', at: now - 2 * day });
    const deleted = await pruneMarkers(state, markerCollections(['paper']), 7, now);
    expect(deleted).toEqual({ tg_updates: 1, macro_swing_published: 1, dashboard_logins: 1, dashboard_actions: 0, protection_alerts: 0, 'trading/paper/applied': 1, 'trading/paper/external': 0 });
    expect(await state.get('tg_updates/2')).toBeDefined();
    expect(await state.get('trading/paper/external/x')).toBeDefined();
    expect(await pruneMarkers(state, markerCollections(['paper']), 7, now)).toEqual({
      tg_updates: 0, macro_swing_published: 0, dashboard_logins: 0, dashboard_actions: 0, protection_alerts: 0, 'trading/paper/applied': 0, 'trading/paper/external': 0,
    });
    await state.close();
  });
});
