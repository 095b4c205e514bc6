/**
 * The production shadow run (shared/shadow/daily.ts) as the 02:00 retrain job calls it: the kit
 * slice's REAL 1m candles in the embedded warehouse (DuckDB `ohlcv`), the state in SQLite. The
 * window ends at the last full minute before `now`; the warm-up is read before it; the result equals
 * runShadow on the same candles loaded directly (the warehouse path changes no trade) and is stored
 * once (a retried job writes nothing twice). An empty warehouse is a reason, not a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, DEFAULT_SHADOW_VARIATIONS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { createMarket } from '../../shared/backtest/market.js';
import { candleAt } from '../../shared/strategies/series.js';
import { candleToRow } from '../../shared/warehouse-schema.js';
import { runDailyShadow, shadowWindow } from '../../shared/shadow/daily.js';
import { runShadow } from '../../shared/shadow/runner.js';
import { SHADOW_LATEST_PATH } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { captureLog } from '../bus/helpers.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from '../backtest/helpers.js';

const NOW = Date.UTC(2025, 5, 12, 12, 0, 30); // the job runs at 12:00:30: the window ends with the 11:59 candle
const named = (n: string) => DEFAULT_SHADOW_VARIATIONS.find((v) => v.name === n)!;
const base: StrategyConfigs = applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.enabled': false, 'scalp.levels_exhaustion.emitSignals': true });
base.ml = { ...base.ml, shadow: { ...base.ml.shadow, periodsHours: [12, 36], variations: [named('AGGRESSIVE'), named('VOLATILITY_SIZED')] } };
const system = { ...DEFAULT_SYSTEM_CONFIG, symbols: DEFAULT_SYSTEM_CONFIG.symbols.filter((s) => SYMBOLS.includes(s.symbol)) };

let state: SqliteStateStore;
let warehouse: DuckDbWarehouse;
beforeAll(async () => {
  state = new SqliteStateStore({ file: ':memory:' });
  warehouse = new DuckDbWarehouse({ file: ':memory:' });
  await warehouse.ensureSchema();
  for (const s of SYMBOLS) {
    const k = kitSeries(s);
    await warehouse.insert('ohlcv', Array.from({ length: k.length }, (_, i) => candleToRow(candleAt(k, i), NOW)));
  }
});
afterAll(async () => {
  await warehouse.close();
  await state.close();
});

describe('runDailyShadow', () => {
  it('the window: the longest period, ending at the last full minute', () => {
    expect(shadowWindow(NOW, [12, 36])).toEqual({ from: Date.UTC(2025, 5, 11, 0, 0), to: Date.UTC(2025, 5, 12, 11, 59) });
  });

  it('simulates the window from the warehouse exactly as from the candles themselves, stores it once', async () => {
    const { log } = captureLog();
    const r = await runDailyShadow({ state, warehouse, log }, base, system, NOW);
    if (!r.ran) throw new Error(r.reason);
    expect(r.symbols).toEqual(SYMBOLS);
    expect(r.run.results.from).toBe(Date.UTC(2025, 5, 11, 0, 0));
    expect(r.run.results.variations.map((v) => v.name)).toEqual(['CHAMPION', 'AGGRESSIVE', 'VOLATILITY_SIZED']);
    const { from, to } = shadowWindow(NOW, [12, 36]);
    const direct = runShadow({ market: createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s), from - 80 * HOUR, to)), from, to }), system, base }, { ts: NOW });
    for (const name of ['CHAMPION', 'AGGRESSIVE', 'VOLATILITY_SIZED']) {
      expect(r.run.trades[name]!.map((t) => t.trade), name).toEqual(direct.trades[name]!.map((t) => t.trade));
    }
    expect(r.run.trades.CHAMPION!.length).toBeGreaterThan(5);
    expect(r.stored).toMatchObject({ created: true, latest: true });
    expect(await state.get(SHADOW_LATEST_PATH)).toMatchObject({ runId: r.run.results.runId });
    const rows = (await warehouse.rows('shadow_trades')).length;
    const again = await runDailyShadow({ state, warehouse, log }, base, system, NOW);
    expect(again.ran && again.stored.created).toBe(false);
    expect(await warehouse.rows('shadow_trades')).toHaveLength(rows);
  }, 120_000);

  it('no candles in the window, or shadow disabled: a reason, nothing stored', async () => {
    const { log } = captureLog();
    const later = NOW + 90 * 24 * HOUR;
    expect(await runDailyShadow({ state, warehouse, log }, base, system, later)).toEqual({ ran: false, reason: expect.stringContaining('no Bybit 1m candles in the warehouse') });
    const off = { ...base, ml: { ...base.ml, shadow: { ...base.ml.shadow, enabled: false } } };
    expect(await runDailyShadow({ state, warehouse, log }, off, system, NOW + MIN)).toEqual({ ran: false, reason: 'shadow testing is off (shadow.enabled is false in the ml config)' });
  });

  it('ML filter mode: the champion runs with walk-forward models and its UNFILTERED trades are stored for the retraining', async () => {
    const { log } = captureLog();
    const filter: StrategyConfigs = { ...base, ml: { ...base.ml, mode: 'filter', retrain: { ...base.ml.retrain, minScoreRows: 5, minTrainRows: 10, minNewTrades: 10 }, shadow: { ...base.ml.shadow, variations: [] } } };
    const st = new SqliteStateStore({ file: ':memory:' });
    const wh = new DuckDbWarehouse({ file: ':memory:' });
    try {
      await wh.ensureSchema();
      for (const s of SYMBOLS) {
        const k = kitSeries(s);
        await wh.insert('ohlcv', Array.from({ length: k.length }, (_, i) => candleToRow(candleAt(k, i), NOW)));
      }
      const r = await runDailyShadow({ state: st, warehouse: wh, log }, filter, system, NOW);
      if (!r.ran) throw new Error(r.reason);
      const rows = await wh.rows('shadow_trades');
      const champion = rows.filter((x) => x.variation === 'CHAMPION');
      const unfiltered = rows.filter((x) => x.variation === 'CHAMPION_UNFILTERED');
      expect(unfiltered.length).toBeGreaterThan(0);
      expect(unfiltered.length).toBeGreaterThanOrEqual(champion.length);
      // the retraining reads both, one labelled trade per scan, the unfiltered outcome first
      const { labelledTradesOf } = await import('../../shared/learning/retrain.js');
      const v52 = await labelledTradesOf(wh, 'v52_divergence');
      expect(v52.refused).toEqual([]);
      expect(v52.trades.length).toBe(new Set(rows.filter((x) => x.strategy === 'v52_divergence').map((x) => x.signal_id)).size);
    } finally {
      await wh.close();
      await st.close();
    }
  }, 180_000);
});
