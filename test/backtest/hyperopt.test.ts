/**
 * Hyperopt on real data (6 hours of the kit's BTC/ETH/SOL 1m candles, test/fixtures/kit, V5.2
 * emitting, MACRO off): trials run on worker processes give the same results as in this process;
 * a run is reproducible from its seed; trials the config refuses are recorded and ranked last;
 * every trial's metrics equal a plain backtest of its configuration. And the CLI end to end: the
 * subcommand, every trial in the JSON / state / warehouse, the proposal pending, usage errors
 * without a stack trace (a bad --space or --dim key names the nearest keys), and the walk-forward's
 * detailed run is the configuration it chose (it showed the defaults).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { createMarket } from '../../shared/backtest/market.js';
import { parseParam } from '../../shared/backtest/hyperopt/space.js';
import { runHyperopt } from '../../shared/backtest/hyperopt/search.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { HOUR, KIT_SLICE_DIR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-hyperopt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 6 * HOUR - MIN;
const base = applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'v52_divergence'), { 'macro.enabled': false });
const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: base };
const series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
const space = [
  parseParam('scalp.v52_divergence.volumeSpike.minRatio', 'float:1.2:4'),
  parseParam('scalp.v52_divergence.exits.mode', 'choice:fixed,atr'),
  // oversold drawn above overbought is refused by the schema: some trials are invalid
  parseParam('scalp.v52_divergence.divergence.oversold', 'int:20:80:10'),
];

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

describe('hyperopt search', () => {
  it('TPE is reproducible from the seed on 2 worker processes or none; refused trials ranked last; metrics = a plain backtest', async () => {
    const run = (workers: number) => runHyperopt({ series, from: FROM, to: TO, config, space, trials: 14, sampler: 'tpe', seed: 5, objective: 'totalPnl', minTrades: 2, workers, nStartup: 6 });
    const a = await run(2);
    const b = await run(2);
    expect(a.workers).toBe(2);
    const key = (r: typeof a) => r.trials.map((t) => [t.rank, t.index, t.overrides, t.metrics, t.invalid ?? null]);
    expect(key(b)).toEqual(key(a));
    // the same seed on a machine with other cores: TPE's rounds are `batch` trials, not one per worker
    const inline = await run(0);
    expect(inline.batch).toBe(a.batch);
    expect(key(inline)).toEqual(key(a));
    expect(a.trials).toHaveLength(14);
    expect(new Set(a.trials.map((t) => t.index)).size).toBe(14);
    const refused = a.trials.filter((t) => t.invalid !== undefined);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.invalid).toMatch(/oversold must be < overbought/);
    expect(a.trials.slice(-refused.length).every((t) => t.invalid !== undefined)).toBe(true);
    const best = a.trials[0]!;
    const again = runBacktest(createMarket({ series, from: FROM, to: TO }), { ...config, strategies: applyOverrides(base, best.overrides) }, { record: { decisions: false } });
    expect(again.metrics).toEqual(best.metrics);
    // The random sampler gives the same trials whatever the worker count (its list is fixed up front).
    const r0 = await runHyperopt({ series, from: FROM, to: TO, config, space, trials: 6, sampler: 'random', seed: 9, objective: 'sharpe', workers: 0 });
    const r2 = await runHyperopt({ series, from: FROM, to: TO, config, space, trials: 6, sampler: 'random', seed: 9, objective: 'sharpe', workers: 2 });
    expect(r2.trials.map((t) => [t.index, t.metrics])).toEqual(r0.trials.map((t) => [t.index, t.metrics]));
  }, 120_000);
});

describe('hyperopt CLI', () => {
  it('--help; a bad --space key or --dim key is a usage error naming the nearest keys, no stack trace', () => {
    const h = cli(['hyperopt', '--help']);
    expect(h.status).toBe(0);
    for (const f of ['--space', '--space-file', '--trials', '--sampler', '--seed', '--objective', '--min-trades', '--walk-forward', '--monte-carlo', '--store', '--propose', '--out']) expect(h.stdout).toContain(f);
    const bad = cli(['hyperopt', '--space', 'scalp.v52_divergence.divergence.rsiPerod=int:6:20']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("'scalp.v52_divergence.divergence.rsiPerod' does not exist; did you mean: scalp.v52_divergence.divergence.rsiPeriod");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const spec = cli(['hyperopt', '--space', 'scalp.v52_divergence.divergence.rsiPeriod=int:20:6']);
    expect(spec.status).toBe(2);
    expect(spec.stderr).toContain('HIGH must be greater than LOW');
    const dim = cli(['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--dim', 'scalp.v52_divergence.volumeSpike.minRatoi=1.5,2.5']);
    expect(dim.status).toBe(2);
    expect(dim.stderr).toContain("--dim key 'scalp.v52_divergence.volumeSpike.minRatoi' does not exist; did you mean: scalp.v52_divergence.volumeSpike.minRatio");
    expect(dim.stderr).not.toMatch(/\n\s+at /);
    const value = cli(['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--dim', 'scalp.v52_divergence.volumeSpike.minRatio=0.5,2']);
    expect(value.status).toBe(2);
    expect(value.stderr).toMatch(/minRatio/);
    expect(value.stderr).not.toMatch(/\n\s+at /);
    // a space in which the config refuses the trials run (oversold above overbought): a usage error, not a crash
    const refused = cli(['hyperopt', '--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T05:59Z', '--strategy', 'v52_divergence', '--trials', '1', '--seed', '1', '--workers', '0',
      '--space', 'scalp.v52_divergence.divergence.oversold=int:30:59', '--space', 'scalp.v52_divergence.divergence.overbought=int:41:70']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('the config refused every trial of the space');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  }, 90_000);

  it('runs, writes every trial to the JSON, the state and the warehouse, and proposes the best (pending)', async () => {
    const out = join(dir, 'out');
    const state = join(dir, 'state.sqlite');
    const r = cli([
      'hyperopt', '--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T05:59Z',
      '--strategy', 'v52_divergence', '--set', 'macro.enabled=false',
      '--space', 'scalp.v52_divergence.volumeSpike.minRatio=float:2.2:4', '--space', 'scalp.v52_divergence.exits.mode=choice:fixed,atr',
      '--trials', '8', '--sampler', 'tpe', '--seed', '3', '--min-trades', '1', '--workers', '0', '--monte-carlo', '100',
      '--out', out, '--store', '--state', state, '--propose',
    ]);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Hyperopt: 8 trials \(tpe, seed 3\)/);
    expect(r.stdout).toMatch(/Monte Carlo: 100 simulations/);
    expect(r.stdout).toMatch(/Detailed run: the best trial/);
    const doc = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      id: string;
      hyperopt: { trials: Array<{ index: number; rank: number; overrides: Record<string, unknown>; metrics: { totalPnl: number } }> };
      run: { overrides: Record<string, unknown>; metrics: { totalPnl: number } };
      monteCarlo: { shuffle: { returnPct: { p50: number } } };
    };
    expect(doc.hyperopt.trials.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const best = doc.hyperopt.trials.find((t) => t.rank === 1)!;
    expect(doc.run.overrides).toEqual(best.overrides);
    expect(doc.run.metrics.totalPnl).toBe(best.metrics.totalPnl);
    const s = new SqliteStateStore({ file: state });
    try {
      const trials = await s.query<{ index: number }>(`backtests/${doc.id}/trials`);
      expect(trials.map((d) => d.data.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const sugg = await s.get<{ status: string; appliedAutomatically: boolean; changes: Array<{ key: string }> }>(`suggestions/${doc.id}-proposal`);
      expect(sugg).toMatchObject({ status: 'pending', appliedAutomatically: false });
      expect(sugg!.changes.map((c) => c.key)).toContain('scalp.v52_divergence.volumeSpike.minRatio');
      expect(await s.query('config')).toEqual([]);
    } finally {
      await s.close();
    }
    const wh = new DuckDbWarehouse({ file: join(dir, 'warehouse.duckdb') });
    try {
      const rows = await wh.rows('backtest_trials');
      expect(rows.map((x) => Number(x.trial_index)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(rows.every((x) => x.run_id === doc.id)).toBe(true);
    } finally {
      await wh.close();
    }
  }, 120_000);

  it('walk-forward: the detailed run is the configuration chosen on the last train window, not the defaults', () => {
    // Both values differ from the default minRatio 2.0, so the chosen configuration is never the default.
    const r = cli([
      '--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T05:59Z',
      '--strategy', 'v52_divergence', '--set', 'macro.enabled=false', '--dim', 'scalp.v52_divergence.volumeSpike.minRatio=1.5,3',
      '--walk-forward', '3h,3h', '--workers', '0', '--json',
    ]);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { walkForward: { latest: { overrides: Record<string, number> } }; run: { overrides: Record<string, number>; chosenBy: string; metrics: unknown } };
    expect(doc.run.overrides).toEqual(doc.walkForward.latest.overrides);
    expect([1.5, 3]).toContain(doc.run.overrides['scalp.v52_divergence.volumeSpike.minRatio']);
    expect(doc.run.chosenBy).toMatch(/walk-forward's choice on its last train window/);
    const m = createMarket({ series, from: FROM, to: TO });
    const chosen = runBacktest(m, { ...config, strategies: applyOverrides(base, doc.run.overrides) }, { record: { decisions: false } });
    expect(JSON.parse(JSON.stringify(chosen.metrics))).toEqual(doc.run.metrics);
  }, 120_000);
});
