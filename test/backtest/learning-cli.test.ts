/**
 * `npm run backtest -- --ml off|advisory|filter`: usage errors, and the walk-forward report / JSON on
 * the repository's slice of the kit (REAL BTC/ETH/SOL 1m candles).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KIT_SLICE_DIR } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

describe('backtest --ml', () => {
  it('--help documents it; a bad mode or a combination with the grid is a usage error (exit 2)', () => {
    expect(cli(['--help']).stdout).toContain('--ml MODE');
    const bad = cli(['--ml', 'maybe']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--ml must be one of off | advisory | filter (got 'maybe')");
    const grid = cli(['--ml', 'filter', '--grid']);
    expect(grid.status).toBe(2);
    expect(grid.stderr).toContain('--ml advisory|filter (walk-forward learning) runs with a single backtest only');
  });

  it('filter: per strategy the figures with the filter off and on, the refusals (ml_filter) and the model timeline', () => {
    const r = cli(['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--ml', 'filter', '--set', 'scalp.levels_exhaustion.emitSignals=true', '--set', 'ml.retrain.minScoreRows=5', '--json']);
    expect(r.stderr).not.toContain('failed');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      params: { ml?: string };
      run: { signals: { rejected: Record<string, number> } };
      ml: { mode: string; timeline: Array<{ outcome: string; replaced: boolean }>; figures: { off: Array<{ strategy: string; trades: number }>; on: Array<{ strategy: string; trades: number; mlFilter: number }> } };
    };
    expect(doc.params.ml).toBe('filter');
    expect(doc.ml.mode).toBe('filter');
    expect(doc.ml.timeline.some((t) => t.replaced)).toBe(true);
    expect(doc.ml.figures.off.map((f) => f.strategy)).toEqual(['levels_exhaustion', 'v52_divergence']);
    const refused = doc.ml.figures.on.reduce((a, f) => a + f.mlFilter, 0);
    expect(refused).toBeGreaterThan(0);
    expect(doc.run.signals.rejected.ml_filter).toBe(refused);
    const text = cli(['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--ml', 'filter']);
    expect(text.stdout).toMatch(/ML filter \(walk-forward on the backtest clock\): 6 retraining instant/);
    expect(text.stdout).toContain('model timeline');
  });
});
