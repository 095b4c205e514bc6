/**
 * `npm run backtest -- show | compare | lookahead` end to end, through the CLI: two runs on 12 h of
 * the repository's real BTC/ETH/SOL data stored with --store in a temporary state file, listed,
 * shown and compared; an unknown id; an older stored document without breakdowns (recomputed from its
 * trades) and one without trades (metrics only); the lookahead command's verdict.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { DocData } from '../../shared/ports/state.js';
import { KIT_SLICE_DIR } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-bt-analysis-'));
const state = join(dir, 'state.sqlite');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 });
}

const DATA = ['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--from', '2025-06-11T00:00Z', '--to', '2025-06-11T11:59Z', '--set', 'macro.enabled=false'];

interface Doc {
  id: string;
  run: { metrics: { trades: number; totalPnl: number }; trades: unknown[] };
  analysis: { groups: Array<{ name: string; rows: Array<{ key: string; trades: number; pnl: number }> }>; features: unknown[] };
}
const ids: string[] = [];
const docs: Doc[] = [];

beforeAll(() => {
  for (const extra of [[], ['--strategy', 'v52_divergence', '--set', 'scalp.v52_divergence.exits.mode=atr']]) {
    const r = cli([...DATA, ...extra, '--store', '--state', state, '--json']);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout) as Doc;
    ids.push(d.id);
    docs.push(d);
  }
}, 120_000);

describe('backtest show / compare over stored runs', () => {
  it('--store saves the trades and the breakdowns', () => {
    for (const d of docs) {
      expect(d.run.trades).toHaveLength(d.run.metrics.trades);
      expect(d.analysis.groups.map((g) => g.name)).toEqual(['pair', 'strategy', 'exitReason', 'direction', 'hour', 'weekday', 'day', 'week', 'month']);
      expect(d.analysis.features.length).toBeGreaterThan(0);
    }
    expect(docs[0]!.run.metrics.trades).toBeGreaterThan(5);
  });

  it('show without an id lists the stored runs, newest first', () => {
    const r = cli(['show', '--state', state]);
    expect(r.status).toBe(0);
    expect(r.stdout.indexOf(ids[1]!)).toBeGreaterThan(0);
    expect(r.stdout.indexOf(ids[1]!)).toBeLessThan(r.stdout.indexOf(ids[0]!));
    expect(r.stdout).toContain('BTCUSDT,ETHUSDT,SOLUSDT');
  });

  it('show ID prints the summary and the per-pair / strategy / exit-reason tables; --analysis all of them', () => {
    const d = docs[0]!;
    const r = cli(['show', d.id, '--state', state]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Stored run ${d.id}`);
    expect(r.stdout).toMatch(new RegExp(`result +${d.run.metrics.trades} `));
    const pair = d.analysis.groups.find((g) => g.name === 'pair')!;
    for (const row of pair.rows) expect(r.stdout).toMatch(new RegExp(`${row.key} +${row.trades} .* ${row.pnl.toFixed(2)} `));
    expect(r.stdout).toContain('per exit reason');
    expect(r.stdout).not.toContain('by hour');
    const full = cli(['show', d.id, '--state', state, '--analysis']);
    expect(full.stdout).toContain('by hour of entry (UTC)');
    expect(full.stdout).toContain('monthly');
    expect(full.stdout).toContain('RSI at entry');
  });

  it('compare A B: metrics side by side with B - A, and per-pair deltas', () => {
    const [a, b] = docs as [Doc, Doc];
    const r = cli(['compare', a.id, b.id, '--state', state]);
    expect(r.status).toBe(0);
    const d = b.run.metrics.totalPnl - a.run.metrics.totalPnl;
    expect(r.stdout).toMatch(new RegExp(`P&L USD +${a.run.metrics.totalPnl.toFixed(2)} +${b.run.metrics.totalPnl.toFixed(2)} +${d > 0 ? '\\+' : ''}${d.toFixed(2)}`));
    expect(r.stdout).toMatch(new RegExp(`trades +${a.run.metrics.trades} +${b.run.metrics.trades} `));
    const pa = a.analysis.groups.find((g) => g.name === 'pair')!.rows.find((x) => x.key === 'SOLUSDT')!;
    const pb = b.analysis.groups.find((g) => g.name === 'pair')!.rows.find((x) => x.key === 'SOLUSDT')!;
    const dp = pb.pnl - pa.pnl;
    expect(r.stdout).toMatch(new RegExp(`SOLUSDT +${pa.trades} +${pb.trades} .* ${pa.pnl.toFixed(2)} +${pb.pnl.toFixed(2)} +${dp > 0 ? '\\+' : ''}${dp.toFixed(2)}\\n`));
    const json = JSON.parse(cli(['compare', a.id, b.id, '--state', state, '--json']).stdout) as { metrics: Array<{ metric: string; delta: number }> };
    expect(json.metrics.find((m) => m.metric === 'P&L USD')!.delta).toBeCloseTo(d, 9);
  });

  it('an unknown id is a clear error listing the recent ids; bad arguments too', () => {
    const r = cli(['show', 'bt_nope', '--state', state]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no stored backtest run 'bt_nope'; recent runs: ");
    expect(r.stderr).toContain(ids[0]);
    expect(r.stderr).not.toContain('    at ');
    const c = cli(['compare', ids[0]!, 'bt_nope', '--state', state]);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain("no stored backtest run 'bt_nope'");
    expect(cli(['compare', ids[0]!, '--state', state]).stderr).toContain('compare needs two stored run ids');
    const missing = cli(['show', '--state', join(dir, 'none.sqlite')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no state file');
    for (const sub of ['show', 'compare', 'lookahead']) {
      const h = cli([sub, '--help']);
      expect(h.status).toBe(0);
      expect(h.stdout).toContain(`npm run backtest -- ${sub}`);
    }
  });

  it('an older stored run: breakdowns recomputed from its trades; without trades, its metrics only', async () => {
    const s = new SqliteStateStore({ file: state });
    try {
      const full = (await s.get<DocData>(`backtests/${ids[0]}`))!;
      const { analysis: _a, ...old } = full;
      await s.set('backtests/bt_old_with_trades', { ...old, id: 'bt_old_with_trades', createdAt: 1 });
      const run = old.run as DocData;
      const { trades: _t, ...bare } = run;
      await s.set('backtests/bt_old_bare', { ...old, id: 'bt_old_bare', createdAt: 0, run: bare });
    } finally {
      await s.close();
    }
    const a = cli(['show', 'bt_old_with_trades', '--state', state]);
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('breakdowns recomputed from the stored trades');
    const pair = docs[0]!.analysis.groups.find((g) => g.name === 'pair')!;
    for (const row of pair.rows) expect(a.stdout).toMatch(new RegExp(`${row.key} +${row.trades} .* ${row.pnl.toFixed(2)} `));
    const b = cli(['show', 'bt_old_bare', '--state', state]);
    expect(b.status).toBe(0);
    expect(b.stdout).toContain('metrics only');
    expect(b.stdout).toMatch(new RegExp(`result +${docs[0]!.run.metrics.trades} `));
    const c = cli(['compare', 'bt_old_bare', ids[1]!, '--state', state]);
    expect(c.status).toBe(0);
    expect(c.stdout).toContain('per pair');
  }, 60_000);
});

describe('backtest lookahead', () => {
  it('the production strategies: a verdict per strategy, no lookahead, exit code 0', () => {
    const r = cli(['lookahead', ...DATA, '--cuts', '2']);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/levels_exhaustion: no lookahead \(\d+ decisions/);
    expect(r.stdout).toMatch(/v52_divergence: no lookahead \(\d+ decisions and \d+ trades compared\)/);
    expect(r.stdout).toContain('future replaced by another real segment');
    expect(r.stdout).toContain('future dropped');
    expect(r.stdout).toContain('verdict: no lookahead found');
    const bad = cli(['lookahead', '--alter', 'shuffle']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--alter: 'shuffle' is not one of drop, replace, distort");
  }, 60_000);
});
