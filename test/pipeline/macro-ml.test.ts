/**
 * The MACRO run records the swing strategies' predictions beside their scans and publishes them with
 * the TAKE (shared/pipeline/macro-analysis.ts step 5): runMacro on the embedded adapters with REAL
 * Kraken XBTUSD candles (the 2023-03-17 02:00 breakout slot of test/pipeline/macro-analysis.test.ts:
 * one SWING TAKE, DCA and CHANNEL scans).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { INTERVAL_MS, type Interval } from '../../shared/model/market.js';
import type { Signal } from '../../shared/model/trading.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { DocData } from '../../shared/ports/state.js';
import { MESSAGE_SCHEMAS } from '../../shared/messages.js';
import { runMacro, type MacroDeps } from '../../shared/pipeline/macro-analysis.js';
import { ModelCache } from '../../shared/learning/model-cache.js';
import { modelPath } from '../../shared/state-paths.js';
import { TOPICS } from '../../shared/topics.js';
import { FILES, aggregate, loadRows, quietLogger, toCandles, ts, type Row } from '../macro/helpers.js';

const SYSTEM: SystemConfig = {
  ...DEFAULT_SYSTEM_CONFIG,
  symbols: [{ symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap', enabled: true }],
};

const SERIES: Array<[Interval, () => Row[]]> = [
  ['4h', () => loadRows(FILES.btc4h)],
  ['1h', () => loadRows(FILES.btc1h)],
  ['5m', () => loadRows(FILES.btc5mMarch)],
  ['15m', () => aggregate(loadRows(FILES.btc5mMarch), '15m')],
];

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function slotRun(models: Record<string, unknown>) {
  const clock = new ManualClock(ts('2023-03-17T02:01:30Z'));
  const state = new SqliteStateStore({ file: ':memory:' });
  const bus = new InMemoryBus({ fast: true, clock, log: quietLogger() });
  const warehouse = new DuckDbWarehouse({ file: ':memory:' });
  await warehouse.ensureSchema();
  cleanup.push(() => state.close(), () => bus.close(), () => warehouse.close());
  const swing: unknown[] = [];
  bus.subscribe({ name: 'test--swing', topic: TOPICS.swingSignals, handler: (ev) => void swing.push(JSON.parse(Buffer.from(ev.data.message.data, 'base64').toString('utf8'))) });
  for (const [path, doc] of Object.entries(models)) await state.set(path, doc as DocData);
  for (const [interval, rows] of SERIES) {
    const closed = rows().filter((r) => r.openTime + INTERVAL_MS[interval] <= clock.now());
    await writeHotCandles(state, toCandles(closed.slice(-SYSTEM.hotWindowCandles), 'BTCUSDT', interval));
  }
  const deps: MacroDeps = { state, bus, warehouse, clock, log: quietLogger(), config: staticConfig(SYSTEM, DEFAULT_STRATEGY_CONFIGS), models: new ModelCache() };
  await runMacro(deps);
  await bus.drain();
  return { rows: await warehouse.rows('signals'), swing: swing.map((s) => MESSAGE_SCHEMAS[TOPICS.swingSignals].parse(s) as Signal) };
}

describe('runMacro: the swing models\' predictions beside the scans', () => {
  it('no model: nothing attached (rows without probability or version, the signal without ml)', async () => {
    const { rows, swing } = await slotRun({});
    expect(rows).toHaveLength(3);
    for (const r of rows) expect([r.ml_probability ?? null, r.model_version ?? null]).toEqual([null, null]);
    expect(swing).toHaveLength(1);
    expect(swing[0]?.ml).toBeUndefined();
  });

  it('an unreadable model document: the TAKE / NEAR_MISS rows and the published TAKE carry probability null with the reason (the filter fails closed); SKIPs carry nothing', async () => {
    const corrupt = { strategy: 'swing_breakout', version: 'swing_breakout@2' };
    const { rows, swing } = await slotRun({ [modelPath('swing_breakout')]: corrupt, [modelPath('dca')]: corrupt, [modelPath('channel')]: corrupt });
    const take = rows.find((r) => r.strategy === 'swing_breakout');
    expect(take?.decision).toBe('TAKE');
    for (const r of rows) {
      if (r.decision === 'SKIP') expect(r.model_version ?? null).toBeNull();
      else expect([r.ml_probability, r.model_version]).toEqual([null, 'unknown']);
    }
    expect(swing).toHaveLength(1);
    expect(swing[0]?.ml).toMatchObject({ probability: null, modelVersion: 'unknown', error: expect.stringMatching(/models\/swing_breakout is not a valid stored document/) });
  });
});
