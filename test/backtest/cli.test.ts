/**
 * The CLI end to end (`npm run backtest`): help, a grid on 6 hours of the kit's real BTC/ETH/SOL data
 * with JSON + HTML + PNG output, the result stored in a SQLite state file and the best parameters
 * proposed (pending) without touching the config; and the Kraken OHLCVT input path.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { createMarket } from '../../shared/backtest/market.js';
import { seriesFromSource } from '../../shared/backtest/data.js';
import { configChanges } from '../../shared/backtest/store.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { KIT_DIR, KIT_SLICE_DIR, MACRO_KIT_FILES } from './helpers.js';
import { kitFile, withKit } from '../kit.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-backtest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

describe('backtest CLI', () => {
  it('--help explains the options; a bad option is a clear error with exit code 2', () => {
    const h = cli(['--help']);
    expect(h.status).toBe(0);
    for (const flag of ['--data', '--warehouse', '--grid', '--walk-forward', '--stress', '--objective', '--out', '--store', '--propose', '--indicators', '--costs']) expect(h.stdout).toContain(flag);
    const bad = cli(['--objective', 'luck']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--objective must be one of totalPnl');
    const costs = cli(['--costs', 'flat']);
    expect(costs.status).toBe(2);
    expect(costs.stderr).toContain("--costs must be maker_taker or conservative (got 'flat')");
  });

  it('grid + outputs + store + propose on 6 h of real data', () => {
    const out = join(dir, 'out');
    const state = join(dir, 'state.sqlite');
    const r = cli([
      '--data', join(KIT_SLICE_DIR, 'bybit_linear'),
      '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T05:59Z',
      '--strategy', 'v52_divergence', '--set', 'macro.enabled=false',
      '--dim', 'scalp.v52_divergence.volumeSpike.minRatio=1.5,2.5',
      '--workers', '0', '--out', out, '--store', '--state', state, '--propose',
    ]);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Grid: 2 runs/);
    expect(r.stdout).toMatch(/trades +win %/);
    const doc = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { id: string; grid: { rows: Array<{ rank: number; overrides: Record<string, number> }> }; run: { metrics: { trades: number }; trades: unknown[] } };
    expect(doc.grid.rows).toHaveLength(2);
    expect(doc.run.trades).toHaveLength(doc.run.metrics.trades);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect((html.match(/class="trade (win|loss)"/g) ?? []).length).toBe(doc.run.metrics.trades);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(readFileSync(join(out, 'equity.png')).subarray(1, 4).toString()).toBe('PNG');
    return (async () => {
      const s = new SqliteStateStore({ file: state });
      try {
        const stored = await s.get<{ id: string; run: { metrics: { trades: number } } }>(`backtests/${doc.id}`);
        expect(stored?.run.metrics.trades).toBe(doc.run.metrics.trades);
        // Both grid values differ from the default 2.0, so the best one is always a change.
        const best = doc.grid.rows[0]!.overrides;
        const changes = configChanges(DEFAULT_STRATEGY_CONFIGS, best);
        expect(changes).toEqual([{ key: 'scalp.v52_divergence.volumeSpike.minRatio', document: 'config/scalp_v52_divergence', field: 'volumeSpike.minRatio', before: 2, after: best['scalp.v52_divergence.volumeSpike.minRatio'] }]);
        const sugg = await s.get<{ status: string; changes: unknown[]; appliedAutomatically: boolean }>(`suggestions/${doc.id}-proposal`);
        expect(sugg).toMatchObject({ status: 'pending', appliedAutomatically: false, changes });
        const items = await s.query<{ parameter: string; current: number; suggested: number; status: string }>('ml_suggestions');
        expect(items.map((d) => d.data)).toMatchObject([{ parameter: 'scalp.v52_divergence.volumeSpike.minRatio', current: 2, suggested: best['scalp.v52_divergence.volumeSpike.minRatio'], status: 'pending' }]);
        // Never applied: no config document was written.
        expect(await s.query('config')).toEqual([]);
        // The run is in the warehouse beside the state file too.
        const wh = new DuckDbWarehouse({ file: join(state, '..', 'warehouse.duckdb') });
        try {
          const [row] = await wh.rows('backtest_runs');
          expect(row).toMatchObject({ run_id: doc.id, trades: doc.run.metrics.trades });
        } finally {
          await wh.close();
        }
      } finally {
        await s.close();
      }
    })();
  }, 60_000);
});

describe('Kraken OHLCVT input', () => {
  const sparse = withKit('backtests the sparse Kraken XBTUSDC 1m file as BTCUSDT without inventing candles', 'kraken_ohlcvt/XBTUSDC_1.csv');
  it.skipIf(sparse.skip)(sparse.title, () => {
    const file = kitFile('kraken_ohlcvt/XBTUSDC_1.csv');
    const series = seriesFromSource({ name: file, text: readFileSync(file, 'utf8') }, DEFAULT_SYSTEM_CONFIG, { symbol: 'BTCUSDT' });
    expect(series).toMatchObject({ symbol: 'BTCUSDT', interval: '1m', venue: 'kraken' });
    expect(series.length).toBe(56_717);
    const m = createMarket({ series: [series], from: Date.UTC(2023, 0, 2), to: Date.UTC(2023, 0, 9) });
    const r = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS });
    // one step per candle PRESENT (Kraken omits minutes without trades)
    const present = Array.from(series.openTime).filter((t) => t >= Date.UTC(2023, 0, 2) && t <= Date.UTC(2023, 0, 9)).length;
    expect(r.steps).toBe(present);
    expect(present).toBeLessThan(7 * 1440);
    expect(r.decisions.length).toBeGreaterThan(0);
  });

  it('reads Kraken\'s headerless original format and refuses a non-1m series with a clear message', () => {
    const file = join(KIT_SLICE_DIR, 'kraken_ohlcvt', 'original', 'XBTUSD_5.csv');
    const s = seriesFromSource({ name: file, text: readFileSync(file, 'utf8') }, DEFAULT_SYSTEM_CONFIG);
    expect(s).toMatchObject({ symbol: 'BTCUSDT', interval: '5m', venue: 'kraken' });
    expect(s.openTime[0]).toBe(1_672_531_200_000);
    expect(() => createMarket({ series: [s] })).toThrow(/BTCUSDT is 5m; the scalp strategies evaluate 1m candles/);
  });
});

describe('warehouse input', () => {
  it('a backtest on candles read back from the DuckDB warehouse equals the CSV backtest', async () => {
    const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
    const { candleToRow } = await import('../../shared/warehouse-schema.js');
    const { candleAt } = await import('../../shared/strategies/series.js');
    const { seriesFromWarehouse } = await import('../../shared/backtest/data.js');
    const { kitSeries, slice } = await import('./helpers.js');
    const from = Date.UTC(2025, 5, 12, 0, 0);
    const to = Date.UTC(2025, 5, 12, 5, 59);
    const csv = slice(kitSeries('SOLUSDT'), from - 74 * 3_600_000, to);
    const wh = new DuckDbWarehouse({ file: join(dir, 'wh.duckdb') });
    await wh.ensureSchema();
    const rows = Array.from({ length: csv.length }, (_, i) => candleToRow(candleAt(csv, i), from));
    await wh.insert('ohlcv', rows);
    const back = await wh.candles({ symbol: 'SOLUSDT', interval: '1m', venue: 'bybit', fromMs: from - 74 * 3_600_000, toMs: to });
    await wh.close();
    const strategies = { ...DEFAULT_STRATEGY_CONFIGS, macro: { ...DEFAULT_STRATEGY_CONFIGS.macro, enabled: false } };
    const a = runBacktest(createMarket({ series: [csv], from, to }), { system: DEFAULT_SYSTEM_CONFIG, strategies });
    const b = runBacktest(createMarket({ series: [seriesFromWarehouse(back)], from, to }), { system: DEFAULT_SYSTEM_CONFIG, strategies });
    expect(back).toHaveLength(csv.length);
    expect(b.decisions).toEqual(a.decisions);
    expect(b.metrics).toEqual(a.metrics);
    expect(a.decisions.length).toBeGreaterThan(0);
  }, 30_000);
});

describe('--htf-data: the MACRO engine in a CLI run', () => {
  const kit = withKit('runs bias + swing setups on the kit\'s 5m / 15m files and equals the library run; refuses it with a grid', ...MACRO_KIT_FILES);
  it.skipIf(kit.skip)(kit.title, async () => {
    const { kitMacroSeries, kitSeries, SYMBOLS } = await import('./helpers.js');
    const r = cli(['--data', join(KIT_DIR, 'bybit_linear'), '--htf-data', join(KIT_DIR, 'bybit_linear'), '--from', '2025-06-22T06:00Z', '--to', '2025-06-22T17:59Z', '--json']);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { params: { macro: boolean }; run: { macro: { runs: number; swingSignals: number }; metrics: { totalPnl: number; trades: number }; trades: Array<{ strategy: string }> } };
    expect(doc.params.macro).toBe(true);
    expect(doc.run.macro.runs).toBe(3 * 12 * 12);
    expect(doc.run.macro.swingSignals).toBeGreaterThan(0);
    expect(doc.run.trades.some((t) => t.strategy === 'dca')).toBe(true);
    const m = createMarket({ series: SYMBOLS.map((s) => kitSeries(s, KIT_DIR)), from: Date.UTC(2025, 5, 22, 6), to: Date.UTC(2025, 5, 22, 17, 59) });
    const lib = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS }, { macroSeries: kitMacroSeries(), record: { decisions: false } });
    expect(doc.run.metrics.trades).toBe(lib.metrics.trades);
    expect(doc.run.metrics.totalPnl).toBe(lib.metrics.totalPnl);
    const bad = cli(['--htf-data', join(KIT_DIR, 'bybit_linear'), '--grid']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--htf-data (the MACRO engine) runs with a single backtest only');
  }, 90_000);
});
