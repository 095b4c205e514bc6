/**
 * MICRO-SCALP evaluation benchmark on REAL data: one month of Bybit BTCUSDT 1m candles
 * (../shared/data/bybit_linear/BTCUSDT_1m.csv, ~44.6k candles). For each strategy with its default
 * config: `prepare` once (batch indicators, resampling, levels), then `evaluateAt` on every index, as
 * the backtester does. Reports the per-candle evaluate cost (median of timed passes, memoised levels
 * warmed by a first pass, which is what a grid run sees after its first config) and the cold
 * prepare + evaluate time of one full month.
 * Prints one JSON line per strategy plus a combined line {"bench":"scalp_eval",...};
 * `runScalpBench()` returns the same objects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_LEVELS_EXHAUSTION_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG } from '../shared/config/strategy.js';
import { seriesFromCsv, type CandleSeries } from '../shared/strategies/series.js';
import type { ScalpDecision } from '../shared/strategies/scalp/common.js';
import { levelsExhaustion } from '../shared/strategies/scalp/levels-exhaustion.js';
import { v52Divergence } from '../shared/strategies/scalp/v52-divergence.js';

export const DATA_FILE = join(import.meta.dirname, '..', '..', 'shared', 'data', 'bybit_linear', 'BTCUSDT_1m.csv');
const TIMED_PASSES = 5;

export interface ScalpBenchResult {
  bench: 'scalp_eval';
  strategy: 'levels_exhaustion' | 'v52_divergence' | 'both';
  candles: number;
  /** Median per-candle evaluateAt cost, microseconds. */
  us_per_candle: number;
  /** Cold prepare (ms) and cold prepare + one full evaluate pass (ms). */
  prepare_ms: number;
  month_total_ms: number;
  decisions: { TAKE: number; SKIP: number; NEAR_MISS: number };
}

function loadSeries(): CandleSeries {
  return seriesFromCsv(readFileSync(DATA_FILE, 'utf8'), { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit' });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function benchOne(series: CandleSeries, run: 'levels_exhaustion' | 'v52_divergence'): ScalpBenchResult {
  const t0 = performance.now();
  const evalAll = (() => {
    if (run === 'levels_exhaustion') {
      const p = levelsExhaustion.prepare(series, DEFAULT_LEVELS_EXHAUSTION_CONFIG);
      return { prepared: performance.now(), pass: (): (ScalpDecision | null)[] => passOf((i) => levelsExhaustion.evaluateAt(p, i)) };
    }
    const p = v52Divergence.prepare(series, DEFAULT_V52_DIVERGENCE_CONFIG);
    return { prepared: performance.now(), pass: (): (ScalpDecision | null)[] => passOf((i) => v52Divergence.evaluateAt(p, i)) };
  })();
  function passOf(f: (i: number) => ScalpDecision | null): (ScalpDecision | null)[] {
    const out: (ScalpDecision | null)[] = new Array(series.length);
    for (let i = 0; i < series.length; i++) out[i] = f(i);
    return out;
  }
  const first = evalAll.pass();
  const t1 = performance.now();
  const times: number[] = [];
  for (let r = 0; r < TIMED_PASSES; r++) {
    const a = performance.now();
    evalAll.pass();
    times.push(performance.now() - a);
  }
  const decisions = { TAKE: 0, SKIP: 0, NEAR_MISS: 0 };
  for (const d of first) if (d) decisions[d.decision]++;
  return {
    bench: 'scalp_eval',
    strategy: run,
    candles: series.length,
    us_per_candle: round((median(times) * 1000) / series.length),
    prepare_ms: round(evalAll.prepared - t0),
    month_total_ms: round(t1 - t0),
    decisions,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function runScalpBench(opts: { print?: boolean } = {}): ScalpBenchResult[] {
  // A fresh series per strategy: no indicator is shared through the per-series default cache.
  const results = [benchOne(loadSeries(), 'levels_exhaustion'), benchOne(loadSeries(), 'v52_divergence')];
  const [a, b] = results as [ScalpBenchResult, ScalpBenchResult];
  const both: ScalpBenchResult = {
    bench: 'scalp_eval',
    strategy: 'both',
    candles: a.candles,
    us_per_candle: round(a.us_per_candle + b.us_per_candle),
    prepare_ms: round(a.prepare_ms + b.prepare_ms),
    month_total_ms: round(a.month_total_ms + b.month_total_ms),
    decisions: {
      TAKE: a.decisions.TAKE + b.decisions.TAKE,
      SKIP: a.decisions.SKIP + b.decisions.SKIP,
      NEAR_MISS: a.decisions.NEAR_MISS + b.decisions.NEAR_MISS,
    },
  };
  results.push(both);
  if (opts.print) for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    runScalpBench({ print: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  }
}
