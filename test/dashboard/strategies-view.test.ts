/**
 * The Strategies view over an embedded state store filled with REAL candles:
 * - MICRO-SCALP: Bybit SOLUSDT 1m from the kit slice (test/fixtures/kit). Candle by candle, the view's
 *   decision for each scalp strategy is the one the live micro-scalp engine (evaluateMicro) takes on
 *   the same closed candle: the same window, the same levels, the same code.
 * - MACRO: Kraken XBTUSD 5m / 1h / 4h (test/fixtures/macro; 15m for the regime aggregated from the
 *   5m rows), a real MACRO run stores the bias; the view's swing rows carry the run's decisions, the
 *   bias with its components, the trading document's cooldown and volatility protection, and the
 *   config's disabled strategies and symbols.
 * - Memo: a poll with no new candle reads only the newest candle per symbol.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { strategiesView } from '../../shared/dashboard/strategies-view.js';
import type { StrategyReadiness } from '../../shared/dashboard/api.js';
import { createLogger } from '../../shared/log.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import type { Candle } from '../../shared/model/market.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { StateStore } from '../../shared/ports/state.js';
import { createMicroCache, evaluateMicro } from '../../shared/pipeline/micro-scalp.js';
import { runMacro } from '../../shared/pipeline/macro-analysis.js';
import { biasPath, tradingDocPath } from '../../shared/state-paths.js';
import { createTradingState } from '../../shared/trading/core.js';
import { tradingConfigFrom } from '../../shared/trading/model.js';
import { TRADING_SCHEMA_VERSION } from '../../shared/trading/doc-upgrade.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { FILES, aggregate, loadRows, toCandles } from '../macro/helpers.js';

const MIN = 60_000;
const log = createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });
const tg = DEFAULT_TELEGRAM_CONFIG;

function kitCandles(symbol: string): Candle[] {
  const lines = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kit', 'bybit_linear', `${symbol}_1m.csv`), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [t, o, h, lo, c, v] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { venue: 'bybit', symbol, interval: '1m', openTime: t, open: o, high: h, low: lo, close: c, volume: v };
  });
}

/** A state store that counts its queries (the memo test). */
function counting(state: StateStore): { store: StateStore; queries: string[] } {
  const queries: string[] = [];
  const store = new Proxy(state, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (prop === 'query') return (collection: string, q?: unknown) => (queries.push(collection), target.query(collection, q as never));
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, queries };
}

let clock: ManualClock;
let state: SqliteStateStore;
let bus: InMemoryBus;
let warehouse: DuckDbWarehouse;

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2025, 5, 12));
  state = new SqliteStateStore({ file: ':memory:', clock });
  bus = new InMemoryBus({ clock, fast: true, log });
  warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
  await warehouse.ensureSchema();
});

afterEach(async () => {
  await bus.close();
  await state.close();
  await warehouse.close();
});

const row = (rows: StrategyReadiness[], symbol: string, strategy: string) => {
  const r = rows.find((x) => x.symbol === symbol && x.strategy === strategy);
  if (!r) throw new Error(`no row ${symbol} ${strategy}`);
  return r;
};

describe('MICRO-SCALP readiness on the hot store', () => {
  const system: SystemConfig = { ...DEFAULT_SYSTEM_CONFIG, symbols: [{ symbol: 'SOLUSDT', krakenPair: null, tier: 'mid_cap', enabled: true }] };
  const config = staticConfig(system, DEFAULT_STRATEGY_CONFIGS);

  it('candle by candle, each scalp row has the decision the live engine takes on that candle', async () => {
    const all = kitCandles('SOLUSDT').slice(0, -1); // the kit's last row may be unclosed
    const LIVE = 40;
    await writeHotCandles(state, all.slice(0, -LIVE));
    const engine = { state, bus, warehouse, clock, log, config, endpoints: { krakenRest: '', bybitRest: '', bybitWs: '' }, cache: createMicroCache() };
    const d = { state, config, tg, log };
    let compared = 0;
    let decided = 0;
    for (const c of all.slice(-LIVE)) {
      await writeHotCandles(state, [c]);
      clock.set(c.openTime + MIN);
      const view = await strategiesView(d, clock.now());
      const live = await evaluateMicro(engine, { kind: 'close', candle: c });
      for (const strategy of ['v52_divergence', 'levels_exhaustion'] as const) {
        const r = row(view.readiness, 'SOLUSDT', strategy);
        const e = live.decisions.find((x) => x.strategy === strategy) ?? null;
        expect(r.asOf, `${strategy} @ ${c.openTime}`).toBe(c.openTime + MIN);
        expect(r.decision, `${strategy} @ ${c.openTime}`).toBe(e ? e.decision : null);
        expect(r.engine).toBe('SCALP');
        expect(r.sides.map((s) => s.direction)).toEqual(['SHORT', 'LONG']);
        compared++;
        if (e) decided++;
        if (e && e.decision === 'TAKE') expect(r.sides.find((s) => s.direction === e.direction)?.met).toBe(r.sides.find((s) => s.direction === e.direction)?.total);
        if (e && strategy === 'levels_exhaustion') {
          const side = r.sides.find((s) => s.direction === e.features.setupDirection);
          expect(side?.conditions.find((x) => x.id === 'exhaustion_checks')?.value).toBe(e.features.checksHit);
          expect(side?.conditions.find((x) => x.id === 'at_level')?.met).toBe(true);
        }
      }
    }
    expect(compared).toBe(2 * LIVE);
    expect(decided).toBeGreaterThan(5);
    // config as the rows say it: levels_exhaustion decides but is log-only by default
    const last = await strategiesView(d, clock.now());
    expect(row(last.readiness, 'SOLUSDT', 'levels_exhaustion')).toMatchObject({ enabled: true, emitting: DEFAULT_STRATEGY_CONFIGS.scalp.levels_exhaustion.emitSignals, cooldownUntil: null });
  });

  it('a poll with no new candle computes nothing and reads only the newest candle', async () => {
    const all = kitCandles('SOLUSDT').slice(0, -1);
    await writeHotCandles(state, all.slice(-5000));
    const { store, queries } = counting(state);
    const d = { state: store, config, tg, log };
    const first = await strategiesView(d, clock.now());
    const firstReads = queries.length;
    queries.length = 0;
    const again = await strategiesView(d, clock.now() + 1_500);
    expect(queries).toEqual(['candles/bybit:SOLUSDT:1m/bars']);
    expect(firstReads).toBeGreaterThan(1);
    expect(again.readiness).toEqual(first.readiness);
  });

  it('a new candle is seen at once: the newest-candle read plus one read of the gap', async () => {
    const all = kitCandles('SOLUSDT').slice(0, -1);
    const held = all[all.length - 1] as Candle;
    await writeHotCandles(state, all.slice(-5000, -1));
    const { store, queries } = counting(state);
    const d = { state: store, config, tg, log };
    const before = await strategiesView(d, clock.now());
    expect(row(before.readiness, 'SOLUSDT', 'v52_divergence').asOf).toBe(held.openTime);
    await writeHotCandles(state, [held]);
    queries.length = 0;
    const after = await strategiesView(d, clock.now());
    expect(queries).toEqual(['candles/bybit:SOLUSDT:1m/bars', 'candles/bybit:SOLUSDT:1m/bars']);
    for (const r of after.readiness) expect(r.asOf).toBe(held.openTime + MIN);
  });

  it('no candles yet: every scalp row says so', async () => {
    const v = await strategiesView({ state, config, tg, log }, clock.now());
    expect(v.readiness.map((r) => [r.strategy, r.decision, r.note])).toEqual([
      ['levels_exhaustion', null, 'no Bybit 1m candles in the hot store yet'],
      ['v52_divergence', null, 'no Bybit 1m candles in the hot store yet'],
    ]);
    expect(v.biases).toEqual([]);
  });
});

describe('MACRO readiness, bias, cooldowns and disabled', () => {
  const system: SystemConfig = {
    ...DEFAULT_SYSTEM_CONFIG,
    symbols: [
      { symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap', enabled: true },
      { symbol: 'ETHUSDT', krakenPair: 'XETHZUSD', tier: 'large_cap', enabled: false },
    ],
  };
  const strategies: StrategyConfigs = {
    ...DEFAULT_STRATEGY_CONFIGS,
    scalp: { ...DEFAULT_STRATEGY_CONFIGS.scalp, levels_exhaustion: { ...DEFAULT_STRATEGY_CONFIGS.scalp.levels_exhaustion, enabled: false } },
  };
  const config = staticConfig(system, strategies);
  // the slot after the 2023-01-14 01:40 5m candle closed: a real DCA setup (2.505 % under the 4h high)
  const NOW = Date.UTC(2023, 0, 14, 1, 47);

  async function seed(): Promise<void> {
    const r5 = loadRows(FILES.btc5mJan);
    await writeHotCandles(state, [
      ...toCandles(r5, 'BTCUSDT', '5m'),
      ...toCandles(aggregate(r5, '15m'), 'BTCUSDT', '15m').slice(0, -1),
      ...toCandles(loadRows(FILES.btc1h), 'BTCUSDT', '1h'),
      ...toCandles(loadRows(FILES.btc4h), 'BTCUSDT', '4h'),
    ].filter((c) => c.openTime < NOW));
  }

  it('swing rows carry the MACRO run’s decisions; the stored bias, cooldown, volatility protection and config are shown', async () => {
    await seed();
    clock.set(NOW);
    const macroDeps = { state, bus, warehouse, clock, log, config, endpoints: { krakenRest: '', bybitRest: '', bybitWs: '' } };
    await runMacro(macroDeps, { symbols: ['BTCUSDT'] });
    const logged = await warehouse.rows('signals');
    // the trading document: a cooldown on BTCUSDT and CHANNEL off by volatility
    const st = createTradingState(tg.accountId, tradingConfigFrom(strategies), NOW - 3_600_000);
    st.protections.limiter.BTCUSDT = { consecutiveStops: 0, cooldownUntil: NOW + 3_600_000 };
    st.protections.nextCooldownEnd = NOW + 3_600_000;
    st.protections.volDisabled.CHANNEL = { BTCUSDT: NOW - 600_000 };
    const doc: TradingDoc = { schemaVersion: TRADING_SCHEMA_VERSION, state: st, candleWatermarks: {}, lastCandleEvents: {}, updatedAt: NOW };
    await state.set(tradingDocPath(tg.accountId), doc as never);

    const v = await strategiesView({ state, config, tg, log }, NOW);
    for (const strategy of ['dca', 'swing_breakout', 'channel']) {
      const r = row(v.readiness, 'BTCUSDT', strategy);
      expect(r.engine).toBe('MACRO');
      expect(r.cooldownUntil).toBe(NOW + 3_600_000);
      const l = logged.find((x) => x.strategy === strategy);
      expect(l, strategy).toBeDefined();
      expect(r.decision, strategy).toBe(l?.decision);
    }
    // the run's scans on this slot: a DCA TAKE, the others SKIP
    expect(Object.fromEntries(v.readiness.filter((r) => r.engine === 'MACRO').map((r) => [r.strategy, r.decision]))).toEqual({ dca: 'TAKE', swing_breakout: 'SKIP', channel: 'SKIP' });
    expect(row(v.readiness, 'BTCUSDT', 'dca').sides[0]).toMatchObject({ met: 3, total: 3, closeness: 1 });
    const dca = row(v.readiness, 'BTCUSDT', 'dca');
    expect(dca.asOf).toBe(Date.UTC(2023, 0, 14, 1, 45));
    const drop = dca.sides[0]?.conditions.find((c) => c.id === 'drop');
    expect(drop).toMatchObject({ threshold: strategies.macro.setups.DCA.dropFromHighPct, comparator: '>=', met: true });
    expect(drop?.value as number).toBeCloseTo(2.50514, 4);
    expect(dca.sides[0]?.conditions.map((c) => c.id)).toEqual(['drop', 'volume', 'regime']);
    expect(row(v.readiness, 'BTCUSDT', 'channel').enabled).toBe(false);
    expect(row(v.readiness, 'BTCUSDT', 'dca').enabled).toBe(true);
    expect(row(v.readiness, 'BTCUSDT', 'levels_exhaustion')).toMatchObject({ enabled: false, note: 'no Bybit 1m candles in the hot store yet' });

    const stored = (await state.get(biasPath('BTCUSDT'))) as { bias: string; confidence: number; components: Array<{ name: string }> };
    expect(v.biases).toHaveLength(1);
    expect(v.biases[0]).toMatchObject({ symbol: 'BTCUSDT', bias: stored.bias, confidence: stored.confidence, active: true });
    for (const c of stored.components) expect(v.biases[0]?.components.some((x) => x.name.startsWith(c.name))).toBe(true);

    expect(v.disabled).toEqual(
      expect.arrayContaining([
        { strategy: 'all', symbol: 'ETHUSDT', reason: 'symbol disabled in config/system' },
        { strategy: 'levels_exhaustion', symbol: null, reason: 'disabled in config/strategies (scalp_levels_exhaustion.enabled)' },
        { strategy: 'channel', symbol: 'BTCUSDT', reason: `24h volatility protection since ${new Date(NOW - 600_000).toISOString()}` },
      ]),
    );
  });

  it('a stored bias that fails validation is left out', async () => {
    await state.set(biasPath('BTCUSDT'), { symbol: 'BTCUSDT', bias: 'UP', confidence: 'high' } as never);
    const v = await strategiesView({ state, config, tg, log }, NOW);
    expect(v.biases).toEqual([]);
    expect(row(v.readiness, 'BTCUSDT', 'dca').note).toMatch(/no candles|no 5m candle/);
  });
});
