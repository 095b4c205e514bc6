/**
 * Sharded optimisation runs (pure): a deterministic trial list (grid combinations, or any list of
 * GridCombo such as a seeded hyperopt sample) is split over N tasks (Cloud Run Jobs tasks, or local
 * worker processes), every task runs its share with the grid's own `runCombo` and writes each trial
 * as one `backtest_trials` row; `mergeShardResults` puts the rows back together and ranks them
 * exactly as `runGrid` does (`rankRows`).
 *
 * The manifest is what every task reads: run id, base config, data spec, the trial-list spec and the
 * SHA-256 of the canonical trial list. A task recomputes the list from the spec and refuses to run
 * when the count or the hash differ (a task on other code, a truncated or edited manifest), so every
 * task works on the SAME list and `trial_index` means the same trial everywhere.
 *
 * Assignment is STRIDED (task k of N runs indices k, k+N, k+2N, ...), not contiguous:
 * - balance: the grid's first dimension varies slowest, so contiguous blocks group trials that share
 *   a value (e.g. every ATR-exit trial, or every RSI period 6 trial) and those differ in cost (trade
 *   count, exit mode); strided puts every value of every dimension on every task, so tasks finish
 *   together (a job lasts as long as its slowest task);
 * - locality buys nothing here: every trial of a run reads the SAME candles (one market per task,
 *   built once and shared by all its trials), so which trials sit together does not change what a
 *   task loads.
 * A hyperopt list sampled at random has no order structure; strided is as good as contiguous there.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CandleSeries } from '../strategies/series.js';
import type { Row } from '../ports/warehouse.js';
import { applyOverrides, validateStrategyConfigs, type Overrides } from './config.js';
import { expandGrid, rankRows, type GridCombo, type GridDimension, type GridRow } from './grid.js';
import { INDICATOR_MODES, type BacktestConfig, type IndicatorMode } from './run.js';
import { DEFAULT_MIN_TRADES, OBJECTIVES, objectiveScore, type BacktestMetrics, type Objective } from './metrics.js';

export const SHARD_MANIFEST_VERSION = 1;
/** Cloud Run Jobs: at most 10,000 tasks per execution. */
export const MAX_TASKS = 10_000;

/** The candles a sharded run trades: every task loads exactly these. */
export interface ShardDataSpec {
  symbols: string[];
  venue: 'bybit' | 'kraken';
  interval: '1m';
  /** First candle open time loaded (history before `from`: levels, indicators), epoch ms. */
  historyFrom: number;
  /** Traded range (candle open times, inclusive), epoch ms. */
  from: number;
  to: number;
  /** Where the launcher read the candles (provenance only: `csv:PATHS`, `duckdb:FILE`, `bigquery:DATASET`). */
  source: string;
}

/** How a task rebuilds the trial list: a grid's dimensions, or the full list (hyperopt samples). */
export type TrialSpec = { kind: 'grid'; dims: GridDimension[] } | { kind: 'list'; trials: GridCombo[]; sampler?: string };

export interface ShardManifest {
  version: typeof SHARD_MANIFEST_VERSION;
  runId: string;
  createdAt: number;
  objective: Objective;
  /** Runs with fewer closed trades rank below every run that has them (as runGrid's minTrades; default DEFAULT_MIN_TRADES). */
  minTrades?: number;
  indicators: IndicatorMode;
  config: BacktestConfig;
  data: ShardDataSpec;
  trials: TrialSpec;
  trialCount: number;
  trialsHash: string;
}

/** One finished trial (what `runCombo` returns for a combination). */
export interface TrialResult extends GridCombo {
  metrics: BacktestMetrics;
  wallMs: number;
}

/** A trial as stored in `backtest_trials`. */
export interface StoredTrial extends TrialResult {
  runId: string;
  shardIndex: number | null;
  attempt: number | null;
  createdAt: number;
}

/** A task's place in its execution (CLOUD_RUN_TASK_INDEX / _COUNT / _ATTEMPT). */
export interface ShardTask {
  index: number;
  count: number;
  attempt: number;
}

export class ShardManifestError extends Error {
  override name = 'ShardManifestError';
}

// ---------- canonical JSON, hashes, exact numbers ----------

/** JSON with object keys sorted at every level (arrays keep their order): equal values, equal text. */
export function canonicalJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return v;
  });
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** SHA-256 of the canonical trial list (index, labels, overrides of every trial, in order). */
export function trialsHash(trials: readonly GridCombo[]): string {
  return sha256(canonicalJson(trials.map((t) => ({ index: t.index, labels: t.labels, overrides: t.overrides }))));
}

/** SHA-256 of the canonical manifest (what the launcher passes to every task to check). */
export function manifestHash(m: ShardManifest): string {
  return sha256(canonicalJson(m));
}

const NUM_TAG = '$num';

/**
 * JSON text of a value in which every number survives to the bit: -0, NaN and +-Infinity (which
 * JSON.stringify would turn into 0 / null) are written as {"$num": "-0"}; every other number is
 * written by JSON.stringify, whose shortest round-trip form parses back to the same double.
 */
export function exactJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => {
    if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
    return { [NUM_TAG]: Object.is(v, -0) ? '-0' : String(v) };
  });
}

export function parseExactJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === NUM_TAG && typeof o[NUM_TAG] === 'string') {
        const s = o[NUM_TAG] as string;
        if (s === '-0') return -0;
        if (s === 'NaN' || s === 'Infinity' || s === '-Infinity') return Number(s);
      }
    }
    return v;
  });
}

// ---------- the manifest ----------

/** The trial list a spec stands for; a list must be indexed 0..n-1 in order. */
export function trialsOf(spec: TrialSpec): GridCombo[] {
  if (spec.kind === 'grid') return expandGrid(spec.dims);
  spec.trials.forEach((t, k) => {
    if (t.index !== k) throw new ShardManifestError(`trial list: the trial at position ${k} has index ${t.index} (a list must be indexed 0..n-1 in order)`);
  });
  return spec.trials;
}

export interface ManifestInput {
  runId: string;
  createdAt: number;
  objective: Objective;
  minTrades?: number;
  indicators: IndicatorMode;
  config: BacktestConfig;
  data: ShardDataSpec;
  trials: TrialSpec;
}

/** A sharded run id: `sh_<UTC time>_<10 hex of the manifest input>` (as `backtestId` names runs). */
export function shardRunId(createdAt: number, input: Omit<ManifestInput, 'runId' | 'createdAt'>): string {
  return `sh_${new Date(createdAt).toISOString().replace(/[-:]/g, '').slice(0, 15)}_${sha256(canonicalJson(input)).slice(0, 10)}`;
}

/** Builds the manifest; every trial's overrides are validated on the base config first (a bad key fails here, not in a task). */
export function createManifest(input: ManifestInput): ShardManifest {
  const trials = trialsOf(input.trials);
  if (trials.length === 0) throw new ShardManifestError('the trial list is empty');
  for (const t of trials) applyOverrides(input.config.strategies, t.overrides);
  return { version: SHARD_MANIFEST_VERSION, ...input, trialCount: trials.length, trialsHash: trialsHash(trials) };
}

const configValue: z.ZodType<unknown> = z.lazy(() => z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(configValue), z.record(z.string(), configValue)]));
const overridesSchema = z.record(z.string(), configValue);
const comboSchema = z.strictObject({ index: z.number().int().min(0), labels: z.record(z.string(), z.string()), overrides: overridesSchema });
const dimSchema = z.strictObject({ name: z.string().min(1), options: z.array(z.strictObject({ label: z.string(), set: overridesSchema })).min(1) });
const manifestSchema = z.strictObject({
  version: z.literal(SHARD_MANIFEST_VERSION),
  runId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'letters, digits, _ . - (at most 128)'),
  createdAt: z.number().int(),
  objective: z.enum(OBJECTIVES),
  minTrades: z.number().int().min(0).optional(),
  indicators: z.enum(INDICATOR_MODES),
  config: z.strictObject({
    system: z.record(z.string(), z.unknown()),
    strategies: z.record(z.string(), z.unknown()),
    allowMissingReference: z.boolean().optional(),
  }),
  data: z.strictObject({
    symbols: z.array(z.string().min(1)).min(1),
    venue: z.enum(['bybit', 'kraken']),
    interval: z.literal('1m'),
    historyFrom: z.number().int(),
    from: z.number().int(),
    to: z.number().int(),
    source: z.string(),
  }),
  trials: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('grid'), dims: z.array(dimSchema).min(1) }),
    z.strictObject({ kind: z.literal('list'), trials: z.array(comboSchema).min(1), sampler: z.string().optional() }),
  ]),
  trialCount: z.number().int().min(1),
  trialsHash: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Parses a stored manifest (JSON text or value): its shape, its config (the production schemas). */
export function parseManifest(raw: unknown): ShardManifest {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  const r = manifestSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ShardManifestError(`invalid shard manifest at ${i?.path.map(String).join('.') || '(root)'}: ${i?.message ?? 'invalid'}`);
  }
  const m = r.data as unknown as ShardManifest;
  validateStrategyConfigs(m.config.strategies);
  if (m.data.to < m.data.from || m.data.from < m.data.historyFrom) throw new ShardManifestError('invalid shard manifest: data needs historyFrom <= from <= to');
  return m;
}

/**
 * What a task does before any work: rebuilds the trial list from the spec and checks it against the
 * manifest (count and hash), and the manifest against the hash the launcher passed. Any mismatch is a
 * refusal (ShardManifestError): the task must not write trials another task would number differently.
 */
export function verifyManifest(m: ShardManifest, expectedManifestHash?: string): GridCombo[] {
  if (expectedManifestHash !== undefined && manifestHash(m) !== expectedManifestHash) {
    throw new ShardManifestError(`manifest of run ${m.runId}: hash ${manifestHash(m).slice(0, 12)}... is not the launched ${expectedManifestHash.slice(0, 12)}... (the stored manifest is not the one this execution was launched with): refusing to run`);
  }
  const trials = trialsOf(m.trials);
  if (trials.length !== m.trialCount) throw new ShardManifestError(`manifest of run ${m.runId}: the trial spec gives ${trials.length} trials here, the manifest says ${m.trialCount}: refusing to run`);
  const h = trialsHash(trials);
  if (h !== m.trialsHash) throw new ShardManifestError(`manifest of run ${m.runId}: the trial list computed here hashes to ${h.slice(0, 12)}..., the manifest says ${m.trialsHash.slice(0, 12)}... (different code or an edited manifest): refusing to run`);
  return trials;
}

// ---------- assignment ----------

function checkTask(index: number, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_TASKS) throw new Error(`shard count must be an integer in 1..${MAX_TASKS} (got ${count})`);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`shard index must be an integer in 0..${count - 1} (got ${index})`);
}

/** The trials of task `index` of `count` (strided: index, index + count, ...; see the header). Empty when count > trials. */
export function shardTrials<T>(trials: readonly T[], index: number, count: number): T[] {
  checkTask(index, count);
  const out: T[] = [];
  for (let i = index; i < trials.length; i += count) out.push(trials[i] as T);
  return out;
}

/** The task from the Cloud Run Jobs environment (CLOUD_RUN_TASK_INDEX / _COUNT required, _ATTEMPT default 0). */
export function taskFromEnv(env: Record<string, string | undefined>): ShardTask {
  const int = (name: string, fallback?: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (fallback !== undefined) return fallback;
      throw new Error(`${name} is not set (Cloud Run Jobs sets it on every task)`);
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (got '${raw}')`);
    return n;
  };
  const task = { index: int('CLOUD_RUN_TASK_INDEX'), count: int('CLOUD_RUN_TASK_COUNT'), attempt: int('CLOUD_RUN_TASK_ATTEMPT', 0) };
  checkTask(task.index, task.count);
  return task;
}

/** The data spec's candles are what the task got: the symbols in order, venue, 1m, covering the range. */
export function checkSeries(data: ShardDataSpec, series: readonly CandleSeries[]): void {
  const got = series.map((s) => s.symbol).join(',');
  if (got !== data.symbols.join(',')) throw new Error(`candles: got symbols ${got}, the manifest wants ${data.symbols.join(',')}`);
  for (const s of series) {
    if (s.venue !== data.venue || s.interval !== data.interval) throw new Error(`candles of ${s.symbol}: ${s.venue} ${s.interval}, the manifest wants ${data.venue} ${data.interval}`);
    if (s.length === 0) throw new Error(`candles of ${s.symbol}: none in ${new Date(data.historyFrom).toISOString()} .. ${new Date(data.to).toISOString()}`);
  }
}

// ---------- rows ----------

const finiteOrNull = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A trial as a `backtest_trials` row (metrics as exact JSON; the key metrics as columns). */
export function trialRow(t: StoredTrial, objective: Objective): Row {
  return {
    run_id: t.runId,
    trial_index: t.index,
    labels: JSON.stringify(t.labels),
    overrides: exactJson(t.overrides),
    metrics: exactJson(t.metrics),
    trades: t.metrics.trades,
    total_pnl: finiteOrNull(t.metrics.totalPnl),
    profit_factor: finiteOrNull(t.metrics.profitFactor),
    max_drawdown_pct: finiteOrNull(t.metrics.maxDrawdownPct),
    sharpe: finiteOrNull(t.metrics.sharpe),
    score: finiteOrNull(objectiveScore(t.metrics, objective)),
    objective,
    wall_ms: finiteOrNull(t.wallMs),
    shard_index: t.shardIndex,
    attempt: t.attempt,
    created_at: t.createdAt,
  };
}

const jsonCell = (v: unknown): unknown => (typeof v === 'string' ? parseExactJson(v) : v);

/** A stored `backtest_trials` row back as a trial (JSON columns as text or as parsed values). */
export function trialFromRow(r: Row | Record<string, unknown>): StoredTrial {
  const num = (v: unknown, name: string): number => {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw new Error(`backtest_trials row: ${name} is not a number (${String(v)})`);
    return n;
  };
  const optNum = (v: unknown, name: string): number | null => (v === null || v === undefined ? null : num(v, name));
  return {
    runId: String(r.run_id),
    index: num(r.trial_index, 'trial_index'),
    labels: jsonCell(r.labels) as Record<string, string>,
    overrides: jsonCell(r.overrides) as Overrides,
    metrics: jsonCell(r.metrics) as BacktestMetrics,
    wallMs: optNum(r.wall_ms, 'wall_ms') ?? 0,
    shardIndex: optNum(r.shard_index, 'shard_index'),
    attempt: optNum(r.attempt, 'attempt'),
    createdAt: num(r.created_at, 'created_at'),
  };
}

// ---------- merge ----------

export interface MergeResult {
  runId: string;
  /** Ranked exactly as runGrid ranks (rankRows: objective, then more trades, then lower index). */
  rows: GridRow[];
  trialCount: number;
  /** Indices with no row. */
  missing: number[];
  /** Extra rows of an index already seen (retried attempts), dropped. */
  duplicates: number;
  /** Indices whose duplicate rows disagree on metrics (should never happen: the runs are deterministic). */
  conflicts: number[];
  complete: boolean;
}

/**
 * Puts a run's stored trials back together: every row must be of this run, with an index in
 * 0..trialCount-1 and (when the manifest's trial list is given) the labels and overrides of that
 * index; a second row of an index (a retried attempt that wrote it again, a BigQuery redelivery) is
 * dropped, keeping the earliest (attempt, then created time): idempotent by (runId, index).
 */
export function mergeShardResults(run: { runId: string; trialCount: number; objective: Objective; minTrades?: number; trials?: readonly GridCombo[] }, rows: readonly StoredTrial[]): MergeResult {
  const byIndex = new Map<number, StoredTrial>();
  let duplicates = 0;
  const conflicts = new Set<number>();
  const order = [...rows].sort((a, b) => a.index - b.index || (a.attempt ?? 0) - (b.attempt ?? 0) || a.createdAt - b.createdAt);
  for (const r of order) {
    if (r.runId !== run.runId) throw new Error(`trial ${r.index} belongs to run ${r.runId}, not ${run.runId}`);
    if (!Number.isInteger(r.index) || r.index < 0 || r.index >= run.trialCount) throw new Error(`run ${run.runId}: trial index ${r.index} is outside 0..${run.trialCount - 1}`);
    const want = run.trials?.[r.index];
    if (want && canonicalJson({ l: want.labels, o: want.overrides }) !== canonicalJson({ l: r.labels, o: r.overrides })) {
      throw new Error(`run ${run.runId}: stored trial ${r.index} is ${JSON.stringify(r.labels)}, the manifest's trial ${r.index} is ${JSON.stringify(want.labels)}`);
    }
    const prev = byIndex.get(r.index);
    if (prev) {
      duplicates++;
      if (exactJson(prev.metrics) !== exactJson(r.metrics)) conflicts.add(r.index);
      continue;
    }
    byIndex.set(r.index, r);
  }
  const missing: number[] = [];
  for (let i = 0; i < run.trialCount; i++) if (!byIndex.has(i)) missing.push(i);
  const ranked = rankRows(
    [...byIndex.values()].map((r) => ({ index: r.index, labels: r.labels, overrides: r.overrides, metrics: r.metrics, wallMs: r.wallMs })),
    run.objective,
    run.minTrades ?? DEFAULT_MIN_TRADES,
  );
  return { runId: run.runId, rows: ranked, trialCount: run.trialCount, missing, duplicates, conflicts: [...conflicts].sort((a, b) => a - b), complete: missing.length === 0 };
}

/** `0-3, 7, 9-10`: a sorted index list in ranges (for the "missing" line). */
export function formatIndexRanges(indices: readonly number[]): string {
  const out: string[] = [];
  for (let k = 0; k < indices.length; ) {
    let j = k;
    while (j + 1 < indices.length && (indices[j + 1] as number) === (indices[j] as number) + 1) j++;
    out.push(j === k ? String(indices[k]) : `${indices[k]}-${indices[j]}`);
    k = j + 1;
  }
  return out.join(', ');
}
