/**
 * The learning loop's predictions in production, and the ML filter identical in backtest and
 * production (issue 11, "Show": predictions recorded with model version; the filter identical in
 * backtest and production on the same candles).
 *
 * - ModelCache (shared/learning/model-cache.ts): reads `models/{strategy}` at most once a minute,
 *   picks up a new version, and an unreadable document gives `probability: null` with the reason.
 * - The production path: infra/runtime/month-replay.ts `runReplay` (the real micro-scalp and execution
 *   handlers on the in-process bus, SQLite state, DuckDB warehouse) on 12 h of REAL BTC/ETH/SOL 1m
 *   candles (the parity window of test/backtest/parity.test.ts), config/ml mode `filter`, with a
 *   model for v52_divergence trained by the production trainCandidate on the trades the same
 *   strategies made on the days BEFORE the window, and a CORRUPT model document for
 *   levels_exhaustion. The backtest runs the same candles with the predict hook fed by the same
 *   stored documents.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult } from '../../shared/backtest/run.js';
import { labelledTrades } from '../../shared/backtest/learning.js';
import { trainCandidate } from '../../shared/learning/training.js';
import { ModelCache, MODEL_REFRESH_MS, predictsDecision } from '../../shared/learning/model-cache.js';
import type { StoredModel } from '../../shared/learning/types.js';
import { createLogger } from '../../shared/log.js';
import type { MlPrediction, Signal, ScanDecision } from '../../shared/model/trading.js';
import type { StateStore } from '../../shared/ports/state.js';
import type { Row } from '../../shared/ports/warehouse.js';
import { modelPath } from '../../shared/state-paths.js';
import { TOPICS } from '../../shared/topics.js';
import { runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { HOUR, KIT_SLICE_DIR, kitSeries, MIN, slice, SYMBOLS } from '../backtest/helpers.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 12 * HOUR - MIN;
const WARMUP = 74 * HOUR;
const CORRUPT = { strategy: 'levels_exhaustion', version: 'levels_exhaustion@3', forest: 42 };

/** test/backtest/parity.test.ts's config: both scalps emitting, MACRO off. */
function parityStrategies(): StrategyConfigs {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  s.ml.retrain.minScoreRows = 5; // the kit slice has ~50 trades per strategy: a 25 % scoring slice of ~12 rows (the default minScoreRows 20 is for live volumes)
  return s;
}

const silent = createLogger({}, { sink: () => {} });

/** A state whose `get` answers the given documents first (the stored models), counting their reads. */
function withDocs(inner: Pick<StateStore, 'get'>, docs: Record<string, unknown>, reads: string[] = []): StateStore {
  return new Proxy(inner as StateStore, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return async (path: string) => {
          if (path in docs) {
            reads.push(path);
            return structuredClone(docs[path]);
          }
          return (target as StateStore).get(path);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const empty: Pick<StateStore, 'get'> = { get: async () => undefined };

describe('ModelCache', () => {
  const model = (): StoredModel => ({ ...(trained as StoredModel) });
  let trained: StoredModel | null = null;
  beforeAll(() => {
    trained = trainOnDaysBefore().model;
  }, 60_000);

  it('reads a model at most once a minute per strategy, and picks up a new version after that', async () => {
    const reads: string[] = [];
    const docs: Record<string, unknown> = { [modelPath('v52_divergence')]: model() };
    const cache = new ModelCache();
    const state = withDocs(empty, docs, reads);
    const d = scan();
    let p = await cache.predictorFor(state, ['v52_divergence'], 1_000, silent);
    expect(p(d)?.modelVersion).toBe('v52_divergence@1');
    p = await cache.predictorFor(state, ['v52_divergence'], 1_000 + MODEL_REFRESH_MS - 1, silent);
    expect(reads).toHaveLength(1);
    docs[modelPath('v52_divergence')] = { ...model(), version: 'v52_divergence@2', n: 2 };
    expect(p(d)?.modelVersion).toBe('v52_divergence@1');
    p = await cache.predictorFor(state, ['v52_divergence'], 1_000 + MODEL_REFRESH_MS, silent);
    expect(reads).toHaveLength(2);
    expect(p(d)?.modelVersion).toBe('v52_divergence@2');
    expect(p(d)?.probability).toBeGreaterThanOrEqual(0);
    // a strategy without a model: nothing attached
    expect(p({ ...d, strategy: 'levels_exhaustion' })).toBeUndefined();
  });

  it('an unreadable model (a document the schema refuses, or a failed read) predicts null with the reason, logged, until a read succeeds', async () => {
    const warnings: string[] = [];
    const log = createLogger({}, { sink: (line) => warnings.push(line) });
    const docs: Record<string, unknown> = { [modelPath('v52_divergence')]: model() };
    const cache = new ModelCache();
    let p = await cache.predictorFor(withDocs(empty, docs), ['v52_divergence'], 0, log);
    expect(p(scan())?.probability).not.toBeNull();
    docs[modelPath('v52_divergence')] = { ...model(), metrics: 'bad' };
    p = await cache.predictorFor(withDocs(empty, docs), ['v52_divergence'], MODEL_REFRESH_MS, log);
    const bad = p(scan()) as MlPrediction;
    expect(bad.probability).toBeNull();
    expect(bad.modelVersion).toBe('v52_divergence@1');
    expect(bad.error).toMatch(/models\/v52_divergence.*metrics/);
    expect(warnings.join('\n')).toMatch(/ML model unreadable/);
    const failing: Pick<StateStore, 'get'> = { get: async () => Promise.reject(new Error('deadline exceeded')) };
    p = await cache.predictorFor(withDocs(failing, {}), ['v52_divergence'], 2 * MODEL_REFRESH_MS, log);
    expect(p(scan())).toMatchObject({ probability: null, error: expect.stringMatching(/deadline exceeded/) });
    docs[modelPath('v52_divergence')] = model();
    p = await cache.predictorFor(withDocs(empty, docs), ['v52_divergence'], 3 * MODEL_REFRESH_MS, log);
    expect(p(scan())?.probability).not.toBeNull();
  });

  it('only TAKE and NEAR_MISS decisions are predicted', () => {
    expect(predictsDecision({ decision: 'TAKE' })).toBe(true);
    expect(predictsDecision({ decision: 'NEAR_MISS' })).toBe(true);
    expect(predictsDecision({ decision: 'SKIP' })).toBe(false);
  });
});

/** Pass-1 style: both strategies' trades on the fixture's days before FROM, v52's trained with the production trainer. */
let pre: { model: StoredModel; decisions: ScanDecision[] } | null = null;
function trainOnDaysBefore(): { model: StoredModel; decisions: ScanDecision[] } {
  if (pre) return pre;
  const start = Date.UTC(2025, 5, 7, 0, 0);
  const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s), start - 2 * HOUR, FROM - MIN)), from: start, to: FROM - MIN });
  const strategies = parityStrategies();
  const r = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, {});
  const rows = (labelledTrades(r).byStrategy.get('v52_divergence') ?? []).filter((t) => t.exitTime < FROM);
  const c = trainCandidate(rows, strategies.ml, 1, FROM - MIN);
  if (!c.ok) throw new Error(`the fixture's v52 trades did not train a model: ${c.reason}`);
  pre = { model: c.model, decisions: r.decisions };
  return pre;
}

function scan(): ScanDecision {
  const d = trainOnDaysBefore().decisions.find((x) => x.strategy === 'v52_divergence' && x.decision === 'TAKE');
  if (!d) throw new Error('no v52 TAKE before the window');
  return d;
}

describe('production predictions and the ML filter, production vs backtest (12 h of real BTC/ETH/SOL 1m data, ml.mode filter)', () => {
  let live: ReplayResult;
  let bt: BacktestResult;
  let model: StoredModel;
  const published: Signal[] = [];

  beforeAll(async () => {
    model = trainOnDaysBefore().model;
    const docs = { [modelPath('v52_divergence')]: model, [modelPath('levels_exhaustion')]: CORRUPT };
    const strategies = parityStrategies();
    strategies.ml = { ...strategies.ml, mode: 'filter', minConfidence: 0.5 };
    live = await runReplay({
      dataDir: KIT_SLICE_DIR, symbols: SYMBOLS, from: FROM, to: TO, warmupMs: WARMUP, strategies,
      wrapState: (state) => withDocs(state, docs),
      taps: { [TOPICS.microSignals]: (payload) => published.push(payload as Signal) },
    });
    // the backtest: the same candles, the predict hook over the same stored documents
    const predict = await new ModelCache().predictorFor(withDocs(empty, docs), ['v52_divergence', 'levels_exhaustion'], FROM, silent);
    const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s), FROM - WARMUP, TO)), from: FROM, to: TO });
    bt = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { indicators: 'live-window', predict });
  }, 180_000);

  const byId = (rows: readonly Row[]) => new Map(rows.map((r) => [String(r.signal_id), r]));

  it('each TAKE of v52 has the model\'s probability and version in its signals row, and its published signal carries the same', () => {
    const rows = live.signalRows.filter((r) => r.strategy === 'v52_divergence');
    const predicted = rows.filter((r) => r.decision === 'TAKE');
    expect(predicted.length).toBeGreaterThan(5);
    for (const r of predicted) expect(r.model_version).toBe(model.version);
    // a TAKE has every feature the model reads
    for (const r of predicted) expect(typeof r.ml_probability).toBe('number');
    // a NEAR_MISS logs no order levels, so it cannot be predicted: it records no prediction (not a null)
    const nearMisses = rows.filter((x) => x.decision === 'NEAR_MISS');
    expect(nearMisses.length).toBeGreaterThan(0);
    for (const r of nearMisses) expect([r.ml_probability ?? null, r.model_version ?? null]).toEqual([null, null]);
    for (const r of rows.filter((x) => x.decision === 'SKIP')) expect(r.ml_probability ?? null).toBeNull();
    const v52Published = published.filter((s) => s.strategy === 'v52_divergence');
    expect(v52Published.length).toBeGreaterThan(3);
    const rowsById = byId(rows);
    for (const s of v52Published) {
      const row = rowsById.get(s.signalId) as Row;
      expect(s.ml).toEqual({ probability: row.ml_probability, modelVersion: model.version, featureVersion: model.featureVersion });
    }
  });

  it('a corrupt model document: probability null with the reason, and execution refuses the signal (ml_unavailable)', () => {
    const lePublished = published.filter((s) => s.strategy === 'levels_exhaustion');
    expect(lePublished.length).toBeGreaterThan(0);
    for (const s of lePublished) {
      expect(s.ml?.probability).toBeNull();
      expect(s.ml?.error).toMatch(/models\/levels_exhaustion is not a valid stored document/);
    }
    // a TAKE records the null (the filter needs it); a NEAR_MISS records nothing
    const takes = live.signalRows.filter((x) => x.strategy === 'levels_exhaustion' && x.decision === 'TAKE');
    expect(takes.length).toBeGreaterThan(0);
    for (const r of takes) expect([r.ml_probability, r.model_version]).toEqual([null, 'unknown']);
    for (const r of live.signalRows.filter((x) => x.strategy === 'levels_exhaustion' && x.decision === 'NEAR_MISS')) expect(r.model_version ?? null).toBeNull();
    const refused = live.rejectedRows.filter((r) => r.strategy === 'levels_exhaustion').map((r) => JSON.parse(String(r.reasons))[0]);
    expect(refused.length).toBe(lePublished.length);
    expect(new Set(refused)).toEqual(new Set(['ml_unavailable']));
  });

  it('the backtest with the predict hook: the same predictions, the same signals refused (ml_filter / ml_unavailable), the same trades', () => {
    const liveRows = byId(live.signalRows);
    const btPredicted = bt.decisions.filter((d) => d.ml !== undefined);
    expect(btPredicted.length).toBe(live.signalRows.filter((r) => r.model_version !== null && r.model_version !== undefined).length);
    for (const d of btPredicted) {
      const r = liveRows.get(d.signalId) as Row;
      expect([r.ml_probability, r.model_version]).toEqual([d.ml?.probability, d.ml?.modelVersion]);
    }
    const liveRefused = live.rejectedRows.map((r) => `${String(r.signal_id).replace(/:rejected$/, '')}|${JSON.parse(String(r.reasons))[0]}`).sort();
    const btRefused = bt.signals.filter((s) => !s.accepted).map((s) => `${s.signalId}|${s.reason}`).sort();
    expect(btRefused).toEqual(liveRefused);
    const mlFilter = btRefused.filter((x) => x.endsWith('|ml_filter'));
    expect(mlFilter.length).toBeGreaterThan(0);
    expect(bt.signals.filter((s) => s.accepted && s.strategy === 'v52_divergence').length).toBeGreaterThan(0);
    const key = (r: Row) => JSON.stringify(['trade_group_id', 'signal_id', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'qty', 'pnl', 'exit_reason'].map((f) => r[f]));
    expect(bt.trades.flatMap((t) => t.rows).map(key).sort()).toEqual(live.paperTrades.map(key).sort());
  });
});
