/**
 * `npm run retrain` on an embedded data dir holding real trades (the kit slice's paper_trades rows):
 * the table says what each strategy decided; --dry-run stores nothing; --job runs the daily job
 * (retrain, suggestions, rollback trigger, research summary) on the same state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../scripts/retrain.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { configPath, modelPath } from '../../shared/state-paths.js';
import { sliceRun } from './helpers.js';
import { kitSeries, SYMBOLS } from '../backtest/helpers.js';
import { candleAt } from '../../shared/strategies/series.js';
import { candleToRow } from '../../shared/warehouse-schema.js';
import { SHADOW_LATEST_PATH } from '../../shared/state-paths.js';

let dir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cst-retrain-'));
  const w = new DuckDbWarehouse({ file: join(dir, 'live', 'warehouse.duckdb') });
  await w.ensureSchema();
  await w.insert('paper_trades', sliceRun().run.trades.flatMap((t) => t.rows));
  // the candles the daily job's shadow test reads (the kit slice's real 1m candles)
  for (const sym of SYMBOLS) {
    const k = kitSeries(sym);
    await w.insert('ohlcv', Array.from({ length: k.length }, (_, i) => candleToRow(candleAt(k, i), 0)));
  }
  await w.close();
  // the owner's config/ml edit: the kit slice's ~50 trades per strategy give ~12 scoring rows
  const s = new SqliteStateStore({ file: join(dir, 'live', 'state.sqlite') });
  await s.set(configPath('ml'), { retrain: { minScoreRows: 5 }, shadow: { periodsHours: [12, 36], variations: [{ name: 'WIDE_SWING_TP', description: 'large-cap swing TP 3 %', enabled: true, overrides: { 'macro.exits.large_cap.takeProfitPct': 3 } }] } });
  await s.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function capture(): string[] {
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return out;
}

async function storedModel(): Promise<unknown> {
  const s = new SqliteStateStore({ file: join(dir, 'live', 'state.sqlite') });
  try {
    return await s.get(modelPath('v52_divergence'));
  } finally {
    await s.close();
  }
}

describe('npm run retrain', () => {
  it('--dry-run trains and decides but stores nothing; then a real run stores the first models', async () => {
    let out = capture();
    await main(['--data-dir', dir, '--strategy', 'v52_divergence', '--dry-run']);
    expect(out.join('')).toMatch(/v52_divergence\s+first_model\s+v52_divergence@1/);
    expect(out.join('')).toContain('dry run: nothing stored');
    expect(await storedModel()).toBeUndefined();
    vi.restoreAllMocks();
    out = capture();
    await main(['--data-dir', dir, '--json']);
    const r = JSON.parse(out.join('')) as { runs: Array<{ strategy: string; outcome: string; stored: boolean }>; failed: unknown[] };
    expect(r.failed).toEqual([]);
    expect(r.runs.map((x) => [x.strategy, x.outcome])).toEqual([
      ['v52_divergence', 'first_model'],
      ['levels_exhaustion', 'first_model'],
      ['dca', 'not_enough_trades'],
      ['swing_breakout', 'not_enough_trades'],
      ['channel', 'not_enough_trades'],
    ]);
    expect(await storedModel()).toMatchObject({ version: 'v52_divergence@1' });
  }, 60_000);

  it('--job runs the daily job on the same state: nothing new to train, without a bot or owner the summary says where it could not go', async () => {
    const out = capture();
    await main(['--data-dir', dir, '--job']);
    const r = JSON.parse(out.join('')) as { models: Array<{ outcome: string }>; summary: { queued: number; reason?: string }; suggestions: { created: number } };
    expect(r.models.every((m) => m.outcome === 'not_enough_trades')).toBe(true);
    expect(r.suggestions.created).toBe(0);
    expect(r.summary).toMatchObject({ queued: 0, reason: expect.stringContaining('no owner chat') });
  }, 60_000);

  it('--job --at a time inside the data: the shadow test runs on the warehouse candles and is stored before the suggestions', async () => {
    const out = capture();
    await main(['--data-dir', dir, '--job', '--at', '2025-06-12T12:00:30Z']);
    const r = JSON.parse(out.join('')) as { shadow: { runId?: string; created?: boolean; symbols?: string[] }; suggestions: { fromShadowRun: string | null } };
    expect(r.shadow).toMatchObject({ created: true, symbols: SYMBOLS });
    expect(r.suggestions.fromShadowRun).toBe(r.shadow.runId);
    const st = new SqliteStateStore({ file: join(dir, 'live', 'state.sqlite') });
    try {
      expect(await st.get(SHADOW_LATEST_PATH)).toMatchObject({ runId: r.shadow.runId, periodsHours: [12, 36] });
    } finally {
      await st.close();
    }
  }, 120_000);

  it('--job --no-shadow with an unreadable shadow/latest: the error is reported, the rollback trigger and the summary still run', async () => {
    const st = new SqliteStateStore({ file: join(dir, 'live', 'state.sqlite') });
    await st.set(SHADOW_LATEST_PATH, { runId: 'broken' });
    await st.close();
    const out = capture();
    await main(['--data-dir', dir, '--job', '--no-shadow']);
    const r = JSON.parse(out.join('')) as { shadow: { skipped?: string }; suggestions: { created: number; error?: string }; rollbackAsked: number; summary: { reason?: string } };
    expect(r.shadow.skipped).toContain('skipped');
    expect(r.suggestions).toMatchObject({ created: 0, error: expect.stringContaining('shadow/latest') });
    expect(r.rollbackAsked).toBe(0);
    expect(r.summary.reason).toContain('no owner chat');
  }, 60_000);
});
