/**
 * `npm run backtest -- shadow` end to end on 12 h of the kit slice's REAL BTC/ETH/SOL 1m candles
 * (MACRO off): help, usage errors, the per-period tables with the champion and the 8 default
 * challengers (the ML-filter ones with walk-forward models, or none with --ml off), --json and
 * --store (state + warehouse; a second identical run stores nothing new).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shadowResultsSchema } from '../../shared/learning/types.js';
import { SHADOW_LATEST_PATH } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { KIT_SLICE_DIR } from '../backtest/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-shadow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), 'shadow', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

describe('backtest shadow CLI', () => {
  it('--help explains the options; a bad --periods is a usage error (exit 2)', () => {
    const h = cli(['--help']);
    expect(h.status).toBe(0);
    for (const flag of ['--data', '--symbols', '--from', '--htf-data', '--periods', '--store', '--json', '--set']) expect(h.stdout).toContain(flag);
    const bad = cli(['--periods', '24,0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--periods must be whole hours > 0, comma-separated (got '24,0')");
    const ml = cli(['--ml', 'maybe']);
    expect(ml.status).toBe(2);
    expect(ml.stderr).toContain("--ml must be on or off (got 'maybe')");
  });

  it('tables per period, --json and --store (idempotent) on 12 h of real data', async () => {
    const state = join(dir, 'state.sqlite');
    const json = join(dir, 'shadow.json');
    const args = ['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T11:59Z', '--set', 'macro.enabled=false', '--periods', '6,12', '--store', '--state', state, '--json', json];
    const r = cli(args);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/last 6h\nvariation +trades +win % +PF +P&L USD +vs champ +avg P&L % +p +sig/);
    expect(r.stdout).toContain('last 12h');
    for (const name of ['CHAMPION', 'AGGRESSIVE', 'CONSERVATIVE', 'ML_TRUST', 'QUICK_EXITS', 'DCA_DROP_4', 'CONFIDENCE_55', 'VOLATILITY_SIZED', 'BREAKOUT_2']) expect(r.stdout).toContain(name);
    expect(r.stdout).toMatch(/ML_TRUST: walk-forward models/);
    expect(r.stdout).toMatch(/^suggestions this run supports/m);
    expect(r.stdout).toMatch(/^stored: shadow_runs\/shadow_20250612T1200_[0-9a-f]{10} \(shadow\/latest\)/m);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { results: unknown; trades: Record<string, unknown[]> };
    const results = shadowResultsSchema.parse(doc.results);
    expect(results.variations).toHaveLength(9);
    expect(results.periodsHours).toEqual([6, 12]);
    expect(doc.trades.CHAMPION!.length).toBe(results.variations[0]!.periods['12']!.trades);

    const again = cli(args);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^already stored: shadow_runs\/shadow_20250612T1200_/m);
    // Without models: another run (its own id), the ML-filter challengers say so.
    const off = cli([...args.filter((a) => a !== '--store'), '--ml', 'off']);
    expect(off.status).toBe(0);
    expect(off.stdout).toMatch(/ML_TRUST: no model/);
    const s = new SqliteStateStore({ file: state });
    const wh = new DuckDbWarehouse({ file: join(dir, 'warehouse.duckdb') });
    try {
      expect(shadowResultsSchema.parse(await s.get(SHADOW_LATEST_PATH)).runId).toBe(results.runId);
      expect(await wh.count('shadow_results')).toBe(9 * 2);
      const trades = Object.values(doc.trades).reduce((n, l) => n + l.length, 0);
      expect(await wh.count('shadow_trades')).toBe(trades);
    } finally {
      await s.close();
      await wh.close();
    }
  }, 240_000);
});
