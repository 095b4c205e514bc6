import { afterEach, describe, expect, it } from 'vitest';
import { checkFreshness, freshnessSeries, lastDataTime, type HealthDoc } from '../../shared/health/freshness.js';
import { healthPath } from '../../shared/state-paths.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { staticConfig } from '../../shared/config/source.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { handle as healthCheck, type Deps } from '../../shared/pipeline/health-check.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { alertBus, captureLog, memoryStore, type AlertBus } from '../config/support.js';
import { loadCandles } from './support.js';

const MIN = 60_000;
const btc = loadCandles('bybit_BTCUSDT_1m_tail60.csv', 'bybit', 'BTCUSDT', '1m');
const eth = loadCandles('bybit_ETHUSDT_1m_tail60.csv', 'bybit', 'ETHUSDT', '1m');
const krakenBtc = loadCandles('kraken_XBTUSD_5_maintenance.csv', 'kraken', 'BTCUSDT', '5m');

let store: SqliteStateStore;
let ab: AlertBus;
afterEach(async () => {
  await ab.settle();
  await ab.bus.close();
  await store.close();
});

function config(symbols: SystemConfig['symbols']): SystemConfig {
  return { ...DEFAULT_SYSTEM_CONFIG, symbols };
}
const BTC = { symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap' as const, enabled: true };
const ETH = { symbol: 'ETHUSDT', krakenPair: 'XETHZUSD', tier: 'large_cap' as const, enabled: true };

describe('data freshness', () => {
  it('a symbol with no candle for 10 minutes raises ONE data_stale over many checks, and ONE data_fresh on recovery', async () => {
    store = memoryStore();
    ab = alertBus();
    const cap = captureLog();
    const deps = { state: store, bus: ab.bus, log: cap.log };
    const cfg = config([BTC, ETH, { ...BTC, symbol: 'SOLUSDT', krakenPair: null, enabled: false }]);

    // Both feeds live for the first 30 minutes of real data; then BTC stops while ETH goes on.
    await writeHotCandles(store, [...btc.slice(0, 30), ...eth.slice(0, 30)]);
    let now = btc[29]!.openTime + MIN + 5_000; // 5 s after the last close
    const first = await checkFreshness(deps, cfg, now);
    expect(first).toMatchObject({ checked: 2, stale: [], transitions: [] });
    expect(((await store.get(healthPath('BTCUSDT'))) as unknown as HealthDoc).status).toBe('fresh');

    const staleAt: number[] = [];
    for (let i = 30; i < 50; i++) {
      await writeHotCandles(store, [eth[i]!]);
      now += MIN;
      // Two instances of the function running the same minute (Scheduler retry): still one alert.
      const [a, b] = await Promise.all([checkFreshness(deps, cfg, now), checkFreshness(deps, cfg, now)]);
      if ([...a.transitions, ...b.transitions].length > 0) staleAt.push(now);
    }
    await ab.settle();
    expect(ab.alerts).toHaveLength(1);
    const alert = ab.alerts[0]!;
    expect(alert).toMatchObject({ kind: 'data_stale', subject: 'BTCUSDT', severity: 'warning' });
    // Stale on the first check where the newest close is more than 10 minutes old.
    const lastClose = btc[29]!.openTime + MIN;
    expect(staleAt).toEqual([lastClose + 5_000 + 10 * MIN]);
    expect(alert.ts - lastClose).toBeGreaterThan(DEFAULT_SYSTEM_CONFIG.dataQuality.staleAfterMs);
    expect(alert.message).toBe(`BTCUSDT: no candle for 10 min (newest bybit 1m / kraken 5m candle closed ${new Date(lastClose).toISOString()})`);
    expect(((await store.get(healthPath('BTCUSDT'))) as unknown as HealthDoc)).toMatchObject({ status: 'stale', since: staleAt[0], lastDataAt: lastClose });
    expect(((await store.get(healthPath('ETHUSDT'))) as unknown as HealthDoc).status).toBe('fresh');

    // The BTC feed comes back (the holder backfills the missed candles).
    await writeHotCandles(store, btc.slice(30, 51));
    now += MIN;
    for (let i = 0; i < 5; i++) await checkFreshness(deps, cfg, now + i * MIN);
    await ab.settle();
    expect(ab.alerts.map((a) => [a.kind, a.subject])).toEqual([
      ['data_stale', 'BTCUSDT'],
      ['data_fresh', 'BTCUSDT'],
    ]);
    expect(ab.alerts[1]!.message).toBe('BTCUSDT: data fresh again after 11 min stale');
    expect(cap.lines.filter((l) => l.severity === 'WARNING')).toHaveLength(1);
  });

  it('flags the real Kraken maintenance gap (2023-02-22 00:10-01:30 UTC) once, from the Kraken series', async () => {
    store = memoryStore();
    ab = alertBus();
    const deps = { state: store, bus: ab.bus, log: captureLog().log };
    const cfg = config([BTC]);
    expect(freshnessSeries(cfg, BTC)).toEqual([
      { venue: 'bybit', interval: '1m' },
      { venue: 'kraken', interval: '5m' },
    ]);
    // Replay: each real candle is written when it closes; the health check runs every minute.
    const start = krakenBtc[0]!.openTime + 5 * MIN;
    const end = krakenBtc.at(-1)!.openTime + 5 * MIN;
    const transitions: string[] = [];
    for (let now = start; now <= end; now += MIN) {
      await writeHotCandles(store, krakenBtc.filter((c) => c.openTime + 5 * MIN <= now));
      const r = await checkFreshness(deps, cfg, now);
      for (const t of r.transitions) transitions.push(`${new Date(now).toISOString().slice(11, 16)} ${t.to}`);
    }
    // Last candle before the gap closes 00:15; stale after 10 min without data; back at 01:35.
    expect(transitions).toEqual(['00:26 stale', '01:35 fresh']);
    await ab.settle();
    expect(ab.alerts.map((a) => a.kind)).toEqual(['data_stale', 'data_fresh']);
  });

  it('takes the newest candle over the configured series, and a symbol never seen gets a grace period', async () => {
    store = memoryStore();
    ab = alertBus();
    await writeHotCandles(store, [...krakenBtc.slice(0, 3), ...btc.slice(0, 2)]);
    const series = freshnessSeries(DEFAULT_SYSTEM_CONFIG, BTC);
    expect(await lastDataTime(store, 'BTCUSDT', series)).toBe(btc[1]!.openTime + MIN); // 2025 bybit beats 2023 kraken
    expect(await lastDataTime(store, 'BTCUSDT', [series[1]!])).toBe(krakenBtc[2]!.openTime + 5 * MIN);
    expect(await lastDataTime(store, 'ETHUSDT', series)).toBeNull();

    const deps = { state: store, bus: ab.bus, log: captureLog().log };
    const cfg = config([ETH]);
    const t0 = btc[0]!.openTime;
    expect((await checkFreshness(deps, cfg, t0)).stale).toEqual([]);
    expect((await checkFreshness(deps, cfg, t0 + 10 * MIN)).stale).toEqual([]);
    expect((await checkFreshness(deps, cfg, t0 + 10 * MIN + 1)).stale).toEqual(['ETHUSDT']);
    await ab.settle();
    expect(ab.alerts.map((a) => a.message)).toEqual(['ETHUSDT: no candle received (bybit 1m / kraken 5m) for 10 min']);
  });

  it('the health-check function runs the check with the context config and clock', async () => {
    store = memoryStore();
    ab = alertBus();
    await writeHotCandles(store, btc.slice(0, 10));
    const clock = new ManualClock(btc[9]!.openTime + MIN);
    const ctx: Deps = { state: store, bus: ab.bus, clock, log: captureLog().log, config: staticConfig(config([BTC])) };
    expect(await healthCheck(ctx)).toEqual({ checked: 1, stale: [], transitions: [] });
    await clock.advance(11 * MIN);
    expect(await healthCheck(ctx)).toEqual({ checked: 1, stale: ['BTCUSDT'], transitions: ['BTCUSDT->stale'] });
    expect(await healthCheck(ctx)).toEqual({ checked: 1, stale: ['BTCUSDT'], transitions: [] });
  });
});
