/**
 * Storing a shadow run (real candles: 12 h of the kit slice, champion + two challengers, one of them
 * invalid) in the SQLite state store and the DuckDB warehouse: the results validate, the rows carry
 * each trade's scan and outcome label, and storing the same run twice changes nothing (same
 * documents, same rows). An older window never replaces a newer `shadow/latest`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, DEFAULT_SHADOW_VARIATIONS, type MlConfig } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { createMarket } from '../../shared/backtest/market.js';
import { shadowResultsSchema } from '../../shared/learning/types.js';
import { runShadow, type ShadowRun } from '../../shared/shadow/runner.js';
import { shadowResultRows, shadowTradeRows, storeShadow } from '../../shared/shadow/store.js';
import { outcomeOf } from '../../shared/learning/labels.js';
import { labelledTradesOf } from '../../shared/learning/retrain.js';
import { SHADOW_LATEST_PATH, shadowRunPath } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from '../backtest/helpers.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 12 * HOUR - MIN;
const base = applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.enabled': false });
const ml: MlConfig = {
  ...base.ml,
  shadow: { ...base.ml.shadow, periodsHours: [6, 12], variations: [DEFAULT_SHADOW_VARIATIONS[0]!, { name: 'BAD', description: 'bad key', enabled: true, overrides: { 'risk.nope.x': 1 } }] },
};

let run: ShadowRun;
let older: ShadowRun;
const open: Array<{ close(): Promise<void> }> = [];

async function stores() {
  const state = new SqliteStateStore({ file: ':memory:' });
  const wh = new DuckDbWarehouse({ file: IN_MEMORY });
  await wh.ensureSchema();
  open.push(state, wh);
  return { state, wh };
}

describe('shadow store', () => {
  beforeAll(() => {
    const series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
    run = runShadow({ market: createMarket({ series, from: FROM, to: TO }), system: DEFAULT_SYSTEM_CONFIG, base, ml }, { ts: 1_760_000_000_000 });
    older = runShadow({ market: createMarket({ series, from: FROM, to: TO - 6 * HOUR }), system: DEFAULT_SYSTEM_CONFIG, base, ml }, { ts: 1_760_000_100_000 });
  }, 60_000);
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('outcome labels: TIMEOUT for a time exit, WIN with P&L after costs > 0, else LOSS', () => {
    expect(outcomeOf({ exitReason: 'time_exit', pnl: 5 })).toBe('TIMEOUT');
    expect(outcomeOf({ exitReason: 'take_profit', pnl: 0.01 })).toBe('WIN');
    expect(outcomeOf({ exitReason: 'trailing_stop', pnl: 0 })).toBe('LOSS');
    expect(outcomeOf({ exitReason: 'stop_loss', pnl: -3 })).toBe('LOSS');
  });

  it('writes shadow_runs/{runId}, shadow/latest and the warehouse rows; the same run stored twice changes nothing', async () => {
    const { state, wh } = await stores();
    const trades = Object.values(run.trades).reduce((n, l) => n + l.length, 0);
    expect(trades).toBeGreaterThan(0);
    const first = await storeShadow(state, wh, run);
    expect(first).toEqual({ runPath: shadowRunPath(run.results.runId), created: true, latest: true, tradeRows: trades, resultRows: 2 * 2 });
    const doc = await state.get(first.runPath);
    expect(shadowResultsSchema.parse(doc)).toEqual(run.results);
    expect(await state.get(SHADOW_LATEST_PATH)).toEqual(doc);
    const rowsOf = async () => [...(await wh.strategyRows('shadow_trades', 'v52_divergence')), ...(await wh.strategyRows('shadow_trades', 'levels_exhaustion'))];
    const before = await rowsOf();
    expect(before).toHaveLength(trades);
    expect(await wh.count('shadow_results')).toBe(4);
    // Each row: its scan, its label, its features.
    const t = run.trades.CHAMPION![0]!.trade;
    const row = before.find((r) => r.variation === 'CHAMPION' && r.trade_group_id === t.groupId)!;
    expect(row).toMatchObject({ run_id: run.results.runId, signal_id: t.signalId, pnl: t.pnl, pnl_pct: t.pnlPct, exit_reason: t.exitReason, outcome: outcomeOf(t), entry_time: t.entryTime, exit_time: t.exitTime });
    expect(JSON.parse(String(row.features))).toEqual(run.trades.CHAMPION![0]!.features);

    // Again (a retry, or the same window re-run later with another ts / wall time): nothing changes.
    const again = await storeShadow(state, wh, { ...run, results: { ...run.results, ts: run.results.ts + 1, wallMs: 1 } });
    expect(again).toMatchObject({ created: false, latest: true });
    expect(await state.get(first.runPath)).toEqual(doc);
    expect(await state.get(SHADOW_LATEST_PATH)).toEqual(doc);
    expect(await rowsOf()).toEqual(before);
    expect(await wh.count('shadow_results')).toBe(4);

    // The retraining reads the CHAMPION's rows back as labelled trades (shared/learning/retrain.ts): every one, none refused.
    const champ = run.trades.CHAMPION!.map((x) => x.trade).filter((x) => x.strategy === 'v52_divergence');
    expect(champ.length).toBeGreaterThan(0);
    const labelled = await labelledTradesOf(wh, 'v52_divergence');
    expect(labelled.refused).toEqual([]);
    // (pnlPct is re-derived from the lot rows there: equal to the last digits.)
    expect(labelled.trades.map((x) => [x.signalId, x.pnl, x.outcome]).sort()).toEqual(champ.map((x) => [x.signalId, x.pnl, outcomeOf(x)]).sort());
    const pct = new Map(champ.map((x) => [x.signalId, x.pnlPct]));
    for (const x of labelled.trades) expect(x.pnlPct).toBeCloseTo(pct.get(x.signalId)!, 12);
  });

  it('an older window never replaces a newer shadow/latest; the results rows skip an errored variation', async () => {
    const { state, wh } = await stores();
    expect(older.results.runId).not.toBe(run.results.runId);
    await storeShadow(state, wh, run);
    const r = await storeShadow(state, wh, older);
    expect(r).toMatchObject({ created: true, latest: false });
    expect((await state.get<{ runId: string }>(SHADOW_LATEST_PATH))!.runId).toBe(run.results.runId);
    expect(shadowResultRows(run.results).map((x) => [x.variation, x.period_hours])).toEqual([['CHAMPION', 6], ['CHAMPION', 12], ['AGGRESSIVE', 6], ['AGGRESSIVE', 12]]);
    expect(shadowTradeRows('x', { A: [] })).toEqual([]);
  });
});
