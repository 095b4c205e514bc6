/**
 * Learning-loop benchmark (SPEC 8) on the kit's month of REAL Bybit 1m candles (BTC, ETH, SOL;
 * ../shared/data/bybit_linear): one backtest (both scalp strategies emitting, MACRO off) gives the
 * month's real closed trades, each joined to its scan (shared/learning/labels.ts). Then:
 * - learning_train_strategy: trainCandidate (config/ml defaults: 60 trees, depth 6) on the strategy
 *   with the most trades, against a single-tree fit of the same rows in the same run;
 * - learning_train_3000: the same strategy's rows cycled to 3,000 (the month has fewer), same baseline;
 * - learning_train_all: every strategy's candidate in turn (the daily run's work), rows stated
 *   honestly (the month's trades of all strategies; fewer than 2,000 if that is what the month has);
 * - learning_predict: Predictor.predict per scan (warm forest cache) over the month's TAKE decisions,
 *   against the feature vector alone (the floor of any prediction).
 * One JSON line each. Run: `npm run bench -- learning`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_ML_CONFIG, DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createMarket } from '../shared/backtest/market.js';
import { runBacktest } from '../shared/backtest/run.js';
import { seriesFromCsv } from '../shared/strategies/series.js';
import { featureVector } from '../shared/learning/features.js';
import { labelledFromClosedTrade, type LabelledTrade } from '../shared/learning/labels.js';
import { trainCandidate } from '../shared/learning/training.js';
import { Predictor } from '../shared/learning/predict.js';
import type { StrategyId } from '../shared/model/trading.js';

const DATA_DIR = join(import.meta.dirname, '..', '..', 'shared', 'data');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

export async function runLearningBench(opts: { print?: boolean } = {}): Promise<unknown[]> {
  const out: unknown[] = [];
  const emit = (x: Record<string, unknown>) => {
    out.push(x);
    if (opts.print) console.log(JSON.stringify(x));
  };
  const series = SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
  const from = Math.max(...series.map((s) => s.openTime[0] as number)) + 74 * 3_600_000;
  const to = Math.min(...series.map((s) => s.openTime[s.length - 1] as number)) - 60_000;
  const cfg = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  cfg.macro.enabled = false;
  cfg.scalp.levels_exhaustion.emitSignals = true;
  cfg.scalp.v52_divergence.emitSignals = true;
  const run = runBacktest(createMarket({ series, from, to }), { system: DEFAULT_SYSTEM_CONFIG, strategies: cfg });
  const bySignal = new Map(run.decisions.map((d) => [d.signalId, d]));
  const rows: LabelledTrade[] = [];
  for (const t of run.trades) {
    const d = bySignal.get(t.signalId);
    if (d) rows.push(labelledFromClosedTrade(t, d, 'paper'));
  }
  const by = new Map<StrategyId, LabelledTrade[]>();
  for (const r of rows) by.set(r.strategy, [...(by.get(r.strategy) ?? []), r]);
  const ml = DEFAULT_ML_CONFIG;
  const timeTrain = (xs: LabelledTrade[], trees: number) => {
    const t0 = performance.now();
    const r = trainCandidate(xs, { ...ml, model: { ...ml.model, trees } }, 1, to);
    return { ms: performance.now() - t0, r };
  };
  const [top, topRows] = [...by.entries()].sort((a, b) => b[1].length - a[1].length)[0] as [StrategyId, LabelledTrade[]];
  const one = timeTrain(topRows, 1);
  const full = timeTrain(topRows, ml.model.trees);
  emit({
    bench: 'learning_train_strategy',
    strategy: top,
    rows: topRows.length,
    trees: ml.model.trees,
    max_depth: ml.model.maxDepth,
    train_ms: round(full.ms, 1),
    baseline_single_tree_ms: round(one.ms, 1),
    ratio_vs_single_tree: round(full.ms / one.ms, 2),
    trained: full.r.ok,
    score: full.r.ok ? round(full.r.model.metrics.score, 4) : null,
    forest_bytes: full.r.ok ? new TextEncoder().encode(full.r.model.forest ?? '').length : null,
  });
  // A few thousand rows: the month has fewer, so the top strategy's real rows are cycled to 3,000 with a
  // shifted decision time per cycle (the feature vectors repeat; the forest sees 3,000 rows to split).
  const cycle = topRows[topRows.length - 1]!.decisionTs - topRows[0]!.decisionTs + 3_600_000;
  const big = Array.from({ length: 3000 }, (_, k) => {
    const r = topRows[k % topRows.length]!;
    const shift = Math.floor(k / topRows.length) * cycle;
    return { ...r, signalId: `${r.signalId}#${k}`, decisionTs: r.decisionTs + shift, entryTime: r.entryTime + shift, exitTime: r.exitTime + shift };
  });
  const bigOne = timeTrain(big, 1);
  const bigFull = timeTrain(big, ml.model.trees);
  emit({
    bench: 'learning_train_3000',
    strategy: top,
    rows: big.length,
    note: `the month's ${topRows.length} real ${top} trades cycled to 3,000 rows`,
    train_ms: round(bigFull.ms, 1),
    baseline_single_tree_ms: round(bigOne.ms, 1),
    ratio_vs_single_tree: round(bigFull.ms / bigOne.ms, 2),
    trained: bigFull.r.ok,
  });
  let allMs = 0;
  let allOne = 0;
  const per: Record<string, number> = {};
  for (const [s, xs] of by) {
    per[s] = xs.length;
    allMs += s === top ? full.ms : timeTrain(xs, ml.model.trees).ms;
    allOne += s === top ? one.ms : timeTrain(xs, 1).ms;
  }
  emit({
    bench: 'learning_train_all',
    rows: rows.length,
    rows_by_strategy: per,
    note: rows.length < 2000 ? `the month has ${rows.length} closed trades (scalp strategies, MACRO off): fewer than 2,000` : undefined,
    train_ms: round(allMs, 1),
    baseline_single_tree_ms: round(allOne, 1),
    ratio_vs_single_tree: round(allMs / allOne, 2),
  });
  const model = full.r.ok ? full.r.model : null;
  const takes = run.decisions.filter((d) => d.decision === 'TAKE' && d.strategy === top);
  if (!model || takes.length === 0) {
    emit({ bench: 'learning_predict', skipped: `no trained ${top} model or no TAKE decisions` });
    return out;
  }
  const p = new Predictor();
  p.predict(model, takes[0]!);
  let sink = 0;
  const REPEAT = 20;
  let t0 = performance.now();
  for (let k = 0; k < REPEAT; k++) for (const d of takes) sink += p.predict(model, d).probability ?? 0;
  const predictUs = ((performance.now() - t0) * 1000) / (REPEAT * takes.length);
  t0 = performance.now();
  for (let k = 0; k < REPEAT; k++) for (const d of takes) sink += featureVector(d).ok ? 1 : 0;
  const vecUs = ((performance.now() - t0) * 1000) / (REPEAT * takes.length);
  emit({
    bench: 'learning_predict',
    strategy: top,
    scans: takes.length,
    per_scan_us: round(predictUs, 2),
    baseline_feature_vector_us: round(vecUs, 2),
    ratio_vs_feature_vector: round(predictUs / vecUs, 1),
    sink: Number.isFinite(sink),
  });
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runLearningBench({ print: true });
