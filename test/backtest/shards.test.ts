/**
 * Sharded optimisation runs (shared/backtest/shards.ts, shard-runner.ts; infra/backtest/local-shards.ts):
 * N local shard tasks (worker processes with CLOUD_RUN_TASK_INDEX / _COUNT set, writing to a DuckDB
 * warehouse) give EXACTLY the trials of the one-process grid: same indices, labels, overrides and
 * metrics to the bit, same ranking; a retried attempt resumes without duplicating a trial; a manifest
 * whose trial list does not hash as it says is refused; collect names the missing indices.
 *
 * Data: 6 hours of the kit slice's BTC/ETH/SOL 1m candles (test/fixtures/kit, 2025-06-12 00:00 ->
 * 05:59 UTC, with 74 h of history), levels + exhaustion, MACRO off; a 2 x 2 x 2 grid (8 trials).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import { defaultGrid, expandGrid, rankRows, runGrid, valueDimension, type GridCombo, type GridDimension } from '../../shared/backtest/grid.js';
import { runShard, type TrialStore } from '../../shared/backtest/shard-runner.js';
import {
  createManifest,
  exactJson,
  formatIndexRanges,
  manifestHash,
  mergeShardResults,
  parseExactJson,
  parseManifest,
  shardTrials,
  taskFromEnv,
  trialFromRow,
  trialRow,
  verifyManifest,
  ShardManifestError,
  type ShardManifest,
  type StoredTrial,
} from '../../shared/backtest/shards.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { runLocalShards } from '../../infra/backtest/local-shards.js';
import { collectRun, saveManifest, warehouseTrialStore } from '../../infra/backtest/shard-store.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 6 * HOUR - MIN;
const HISTORY_FROM = FROM - 74 * HOUR;
const series = SYMBOLS.map((s) => slice(kitSeries(s), HISTORY_FROM, TO));
const strategies = applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'levels_exhaustion'), { 'macro.enabled': false });
const config = { system: DEFAULT_SYSTEM_CONFIG, strategies };
const LE = 'scalp.levels_exhaustion';
const dims: GridDimension[] = [
  valueDimension('rsiPeriod', [`${LE}.exhaustion.rsi.period`], [6, 14]),
  defaultGrid('levels_exhaustion')[3] as GridDimension, // exits: fixed 0.5/0.3 | ATR 1.5/1
  valueDimension('ema', [`${LE}.exhaustion.lowVolume.emaPeriod`], [10, 30]),
];
const data = { symbols: SYMBOLS, venue: 'bybit' as const, interval: '1m' as const, historyFrom: HISTORY_FROM, from: FROM, to: TO, source: 'test/fixtures/kit' };

function manifest(runId = 'sh_test_run', trials: ShardManifest['trials'] = { kind: 'grid', dims }): ShardManifest {
  return createManifest({ runId, createdAt: Date.UTC(2026, 0, 1), objective: 'totalPnl', indicators: 'full', config, data, trials });
}

/** A TrialStore in memory that keeps EVERY write (so a duplicate write would show). */
function memoryStore(failOnWrite?: number): TrialStore & { writes: StoredTrial[] } {
  const writes: StoredTrial[] = [];
  return {
    writes,
    async storedIndices(runId) {
      return new Set(writes.filter((w) => w.runId === runId).map((w) => w.index));
    },
    async write(t) {
      if (failOnWrite !== undefined && writes.length === failOnWrite) throw new Error('simulated crash (task killed)');
      writes.push(t);
    },
  };
}

describe('shard assignment and manifest (pure)', () => {
  it('strided assignment: every index in exactly one shard, shards differ in size by at most one, empty shards when N > trials', () => {
    const trials = Array.from({ length: 10 }, (_, k) => k);
    expect(shardTrials(trials, 0, 3)).toEqual([0, 3, 6, 9]);
    expect(shardTrials(trials, 2, 3)).toEqual([2, 5, 8]);
    for (const n of [1, 2, 3, 7, 10, 13]) {
      const parts = Array.from({ length: n }, (_, k) => shardTrials(trials, k, n));
      expect(parts.flat().sort((a, b) => a - b)).toEqual(trials);
      const sizes = parts.map((p) => p.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(shardTrials(trials, 12, 13)).toEqual([]);
    expect(() => shardTrials(trials, 3, 3)).toThrow('shard index must be an integer in 0..2');
    expect(() => shardTrials(trials, 0, 10_001)).toThrow('1..10000');
  });

  it('reads the task from the Cloud Run Jobs environment', () => {
    expect(taskFromEnv({ CLOUD_RUN_TASK_INDEX: '4', CLOUD_RUN_TASK_COUNT: '10', CLOUD_RUN_TASK_ATTEMPT: '2' })).toEqual({ index: 4, count: 10, attempt: 2 });
    expect(taskFromEnv({ CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: '1' })).toEqual({ index: 0, count: 1, attempt: 0 });
    expect(() => taskFromEnv({ CLOUD_RUN_TASK_COUNT: '2' })).toThrow('CLOUD_RUN_TASK_INDEX is not set');
    expect(() => taskFromEnv({ CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '2' })).toThrow('0..1');
    expect(() => taskFromEnv({ CLOUD_RUN_TASK_INDEX: 'x', CLOUD_RUN_TASK_COUNT: '2' })).toThrow("must be a whole number (got 'x')");
  });

  it('every number survives the trial row to the bit (-0, NaN, Infinity included)', () => {
    const odd = { a: -0, b: Number.NaN, c: Number.POSITIVE_INFINITY, d: Number.NEGATIVE_INFINITY, e: 0.1 + 0.2, f: [1e-320, -5e-324], g: null, h: 'x' };
    const back = parseExactJson(exactJson(odd)) as typeof odd;
    expect(Object.is(back.a, -0)).toBe(true);
    expect(back.b).toBeNaN();
    expect([back.c, back.d, back.e, back.f, back.g, back.h]).toEqual([Infinity, -Infinity, 0.1 + 0.2, [1e-320, -5e-324], null, 'x']);
  });

  it('a manifest round-trips through JSON with the same hash; a task refuses a trial list that does not hash as the manifest says', () => {
    const m = manifest();
    expect(m.trialCount).toBe(8);
    const parsed = parseManifest(JSON.stringify(m));
    expect(manifestHash(parsed)).toBe(manifestHash(m));
    expect(verifyManifest(parsed, manifestHash(m)).map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // An edited option (what a task on other code, or a tampered manifest, would compute):
    const edited: ShardManifest = { ...m, trials: { kind: 'grid', dims: [valueDimension('rsiPeriod', [`${LE}.exhaustion.rsi.period`], [6, 10]), ...dims.slice(1)] } };
    expect(() => verifyManifest(edited)).toThrow(ShardManifestError);
    expect(() => verifyManifest(edited)).toThrow(/hashes to .* the manifest says .* refusing to run/);
    // A different trial count:
    expect(() => verifyManifest({ ...m, trialCount: 9 })).toThrow('the trial spec gives 8 trials here, the manifest says 9: refusing to run');
    // A stored manifest that is not the launched one:
    expect(() => verifyManifest(m, 'f'.repeat(64))).toThrow(/is not the launched ffffffffffff.*refusing to run/);
    // A list spec must be indexed in order; unknown keys are refused at parse time.
    expect(() => manifest('x', { kind: 'list', trials: [{ index: 1, labels: {}, overrides: {} }] })).toThrow('has index 1');
    expect(() => parseManifest({ ...m, extra: 1 })).toThrow(/invalid shard manifest/);
  });

  it('merge: completeness, duplicates from retried attempts dropped by (runId, index), missing indices named', () => {
    const m = manifest();
    const trials = expandGrid(dims);
    const metrics = (k: number) => ({ trades: k, totalPnl: k - 4 }) as unknown as StoredTrial['metrics'];
    const row = (c: GridCombo, attempt: number): StoredTrial => ({ ...c, metrics: metrics(c.index), wallMs: 1, runId: m.runId, shardIndex: c.index % 3, attempt, createdAt: 1000 + attempt });
    const rows = [...trials.map((c) => row(c, 0)), row(trials[2] as GridCombo, 1), row(trials[5] as GridCombo, 1)];
    const all = mergeShardResults({ runId: m.runId, trialCount: 8, objective: 'totalPnl', trials }, rows);
    expect(all).toMatchObject({ complete: true, missing: [], duplicates: 2, conflicts: [] });
    expect(all.rows.map((r) => r.index)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    const some = mergeShardResults({ runId: m.runId, trialCount: 8, objective: 'totalPnl', trials }, rows.filter((r) => ![1, 2, 3, 6].includes(r.index)));
    expect(some).toMatchObject({ complete: false, missing: [1, 2, 3, 6] });
    expect(formatIndexRanges(some.missing)).toBe('1-3, 6');
    expect(() => mergeShardResults({ runId: 'other', trialCount: 8, objective: 'totalPnl' }, rows)).toThrow('belongs to run sh_test_run, not other');
    expect(() => mergeShardResults({ runId: m.runId, trialCount: 4, objective: 'totalPnl' }, rows)).toThrow('outside 0..3');
    const swapped = rows.map((r) => (r.index === 0 ? { ...r, labels: (trials[1] as GridCombo).labels } : r));
    expect(() => mergeShardResults({ runId: m.runId, trialCount: 8, objective: 'totalPnl', trials }, swapped)).toThrow("the manifest's trial 0 is");
  });

  it("merge ranks with the manifest's --min-trades exactly as runGrid's rankRows does (a thin run never ranks first)", () => {
    const m = createManifest({ runId: 'sh_min', createdAt: Date.UTC(2026, 0, 1), objective: 'totalPnl', minTrades: 10, indicators: 'full', config, data, trials: { kind: 'grid', dims } });
    const back = parseManifest(JSON.parse(JSON.stringify(m)));
    expect(back.minTrades).toBe(10);
    expect(manifestHash(back)).not.toBe(manifestHash({ ...back, minTrades: 0 }));
    const trials = expandGrid(dims);
    // trial k: 3k trades and P&L -k: the fewer trades, the better the P&L
    const rows = trials.map((c): StoredTrial => ({ ...c, metrics: { trades: 3 * c.index, totalPnl: -c.index } as unknown as StoredTrial['metrics'], wallMs: 1, runId: m.runId, shardIndex: 0, attempt: 0, createdAt: 1 }));
    const none = mergeShardResults({ runId: m.runId, trialCount: 8, objective: 'totalPnl', minTrades: 0, trials }, rows);
    expect(none.rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const ten = mergeShardResults({ runId: m.runId, trialCount: 8, objective: 'totalPnl', minTrades: back.minTrades as number, trials }, rows);
    expect(ten.rows.slice(0, 4).map((r) => r.index)).toEqual([4, 5, 6, 7]); // 12..21 trades, best P&L first
    expect(ten.rows.map((r) => r.index)).toEqual(rankRows(rows, 'totalPnl', 10).map((r) => r.index));
  });
});

describe('shard tasks on real data', () => {
  it('N local shards (N = 1, 2, 3 and N > trials) give exactly the trials of the one-process grid run', async () => {
    const one = await runGrid({ series, from: FROM, to: TO, config, dims, objective: 'totalPnl', workers: 0 });
    expect(one.rows).toHaveLength(8);
    expect(one.rows.some((r) => r.metrics.trades > 0)).toBe(true);
    expect(new Set(one.rows.map((r) => r.metrics.totalPnl)).size).toBeGreaterThan(1);
    const reference = [...one.rows].sort((a, b) => a.index - b.index);
    for (const n of [1, 2, 3, 10]) {
      const m = manifest(`sh_test_n${n}`);
      const wh = new DuckDbWarehouse({ file: IN_MEMORY });
      try {
        await saveManifest(wh, m);
        const local = await runLocalShards({ manifest: m, series, tasks: n, store: warehouseTrialStore(wh, m.objective), parallelism: 2 });
        expect(local.failed).toEqual([]);
        expect(local.tasks.map((t) => t.summary?.assigned)).toEqual(Array.from({ length: n }, (_, k) => shardTrials(reference, k, n).length));
        const { merged } = await collectRun(wh, m.runId);
        expect(merged).toMatchObject({ complete: true, missing: [], duplicates: 0, trialCount: 8 });
        // Same ranking, same trials, metrics to the bit.
        expect(merged.rows.map((r) => [r.rank, r.index, r.score])).toEqual(one.rows.map((r) => [r.rank, r.index, r.score]));
        const got = [...merged.rows].sort((a, b) => a.index - b.index);
        for (const [k, r] of got.entries()) {
          const want = reference[k]!;
          expect([r.index, r.labels, r.overrides]).toEqual([want.index, want.labels, want.overrides]);
          expect(exactJson(r.metrics)).toBe(exactJson(want.metrics));
          expect(r.metrics).toEqual(want.metrics);
        }
        // Which task ran what: strided, each trial once.
        const rows = await wh.runRows('backtest_trials', m.runId);
        expect(rows.map((r) => [r.trial_index, r.shard_index, r.attempt])).toEqual(reference.map((t) => [t.index, t.index % n, 0]));
      } finally {
        await wh.close();
      }
    }
  }, 120_000);

  it('a retried attempt resumes: it runs only what the failed attempt did not store, and no trial is stored twice', async () => {
    // In process: attempt 0 dies on its 3rd write; attempt 1 of the same task finishes.
    const m = manifest('sh_test_retry');
    const store = memoryStore(2);
    const task = { index: 0, count: 1, attempt: 0 };
    const candles = { load: async () => series };
    await expect(runShard({ manifest: m, task, candles, store })).rejects.toThrow('simulated crash');
    expect(store.writes.map((w) => w.index)).toEqual([0, 1]);
    const healed = { ...store, write: async (t: StoredTrial) => void store.writes.push(t) };
    const second = await runShard({ manifest: m, task: { ...task, attempt: 1 }, candles, store: healed });
    expect(second).toMatchObject({ assigned: 8, skipped: 2, ran: 6 });
    expect(store.writes.map((w) => [w.index, w.attempt])).toEqual([[0, 0], [1, 0], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1]]);
    const third = await runShard({ manifest: m, task: { ...task, attempt: 2 }, candles, store: healed });
    expect(third).toMatchObject({ skipped: 8, ran: 0 });
    expect(store.writes).toHaveLength(8);

    // Real processes + DuckDB: every task's attempt 0 exits with code 1 after storing 1 trial; the
    // launcher retries it (attempt 1), which stores the rest; a repeated write of a stored row is a no-op.
    const m2 = manifest('sh_test_retry_local');
    const wh = new DuckDbWarehouse({ file: IN_MEMORY });
    try {
      await saveManifest(wh, m2);
      const local = await runLocalShards({ manifest: m2, series, tasks: 2, store: warehouseTrialStore(wh, m2.objective), parallelism: 2, env: { BACKTEST_SHARD_CRASH_AFTER: '1' } });
      expect(local.failed).toEqual([]);
      expect(local.tasks.map((t) => [t.attempts, t.summary?.skipped, t.summary?.ran])).toEqual([[2, 1, 3], [2, 1, 3]]);
      const rows = await wh.runRows('backtest_trials', m2.runId);
      expect(rows.map((r) => [r.trial_index, r.attempt])).toEqual([[0, 0], [1, 0], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1]]);
      await wh.insert('backtest_trials', [rows[3]!, rows[3]!]);
      expect(await wh.count('backtest_trials')).toBe(8);
      const { merged } = await collectRun(wh, m2.runId);
      expect(merged).toMatchObject({ complete: true, duplicates: 0 });
      expect(trialFromRow(trialRow(trialFromRow(rows[0]!), 'totalPnl'))).toEqual(trialFromRow(rows[0]!));
    } finally {
      await wh.close();
    }
  }, 120_000);

  it('a task refuses a manifest that is not the launched one, before any trial; collect names the missing indices', async () => {
    const m = manifest('sh_test_refuse');
    const store = memoryStore();
    await expect(runShard({ manifest: m, expectedManifestHash: '0'.repeat(64), task: { index: 0, count: 2, attempt: 0 }, candles: { load: async () => series }, store })).rejects.toThrow(ShardManifestError);
    expect(store.writes).toEqual([]);
    // Only task 1 of 2 ran: collect says 0, 2, 4, 6 are missing.
    const wh = new DuckDbWarehouse({ file: IN_MEMORY });
    try {
      await saveManifest(wh, m);
      await runShard({ manifest: m, task: { index: 1, count: 2, attempt: 0 }, candles: { load: async () => series }, store: warehouseTrialStore(wh, m.objective) });
      const { merged } = await collectRun(wh, m.runId);
      expect(merged).toMatchObject({ complete: false, missing: [0, 2, 4, 6], duplicates: 0 });
      expect(merged.rows.map((r) => r.index).sort()).toEqual([1, 3, 5, 7]);
      // A second manifest under the same run id is refused.
      await expect(saveManifest(wh, manifest('sh_test_refuse', { kind: 'grid', dims: dims.slice(0, 2) }))).rejects.toThrow('already has another manifest');
      // Launched again with the same options (only the launch time differs): the run RESUMES with the
      // stored manifest; task 0 then completes it without touching what task 1 stored.
      const again = await saveManifest(wh, { ...m, createdAt: m.createdAt + 60_000 });
      expect(again).toMatchObject({ resumed: true, hash: manifestHash(m) });
      expect(again.manifest.createdAt).toBe(m.createdAt);
      await runShard({ manifest: again.manifest, expectedManifestHash: again.hash, task: { index: 0, count: 2, attempt: 0 }, candles: { load: async () => series }, store: warehouseTrialStore(wh, m.objective) });
      expect((await collectRun(wh, m.runId)).merged).toMatchObject({ complete: true, missing: [], duplicates: 0 });
    } finally {
      await wh.close();
    }
  }, 60_000);
});
