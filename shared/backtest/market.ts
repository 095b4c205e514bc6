/**
 * The data side of a backtest, prepared ONCE per data set and shared by every run over it (a grid
 * worker builds one and runs all its configs on it): the 1m series per symbol, the processing order
 * (candles merged by open time across symbols, ties in the given symbol order, exactly as
 * scripts/replay-month.ts publishes them), per-candle Candle objects for the trading core, the 24h
 * volatility, and the live level timelines.
 *
 * Everything here is computed with the production functions:
 * - volatility: shared/protection/volatility.ts `volatilitySeries` (the same max/min over the same
 *   24h window as the execution's `volatilityPctAt`, null while the data does not cover 24h yet,
 *   as shared/pipeline/execution.ts decides);
 * - regime inputs: shared/protection/regime.ts `regimeInputsAt` on the reference symbol;
 * - levels: shared/pipeline/micro-scalp.ts `levelsAt` (15m / 1h buckets resampled from the 1m history,
 *   closed buckets only, horizontal from the last 120 15m, trend lines from the last 72 1h) on a
 *   CandleWindow holding the whole series; `levelsAt` reads only candles at or before i and the
 *   live cache always holds at least the candles it reads (its capacity is `historyCandles`), so
 *   the level set at i is exactly the one the live engine computes.
 */
import type { LevelsExhaustionConfig } from '../config/strategy.js';
import { CandleWindow } from '../market/candle-cache.js';
import { VOLATILITY_WINDOW_MS } from '../pipeline/execution.js';
import { createMicroCache, levelsAt } from '../pipeline/micro-scalp.js';
import { INTERVAL_MS, type Candle, type Venue } from '../model/market.js';
import type { RegimeInputs } from '../protection/model.js';
import { regimeInputsAt } from '../protection/regime.js';
import { volatilitySeries } from '../protection/volatility.js';
import type { LevelSet } from '../strategies/levels.js';
import { candleAt, type CandleSeries } from '../strategies/series.js';
import { lowerBound, upperBound } from '../sorted.js';

const MINUTE = INTERVAL_MS['1m'];

export interface MarketInput {
  /** 1m series, one per symbol (warm-up included: candles before `from` are history, never traded). */
  series: readonly CandleSeries[];
  /** First / last candle open time that is traded and evaluated (inclusive). Default: all candles. */
  from?: number;
  to?: number;
}

export interface BacktestMarket {
  readonly symbols: readonly string[];
  readonly series: readonly CandleSeries[];
  readonly venue: Venue;
  readonly from: number;
  readonly to: number;
  /** Processing order: symbol index and candle index per step (time ascending, symbols in order). */
  readonly orderSymbol: Uint8Array;
  readonly orderIndex: Int32Array;
  /** Candle objects per symbol (index-aligned with the series; built for the traded range only). */
  readonly candles: readonly (readonly (Candle | undefined)[])[];
  /** 24h volatility % per symbol and index; NaN where the execution passes null. */
  readonly volatility: readonly Float64Array[];
  /** Memo of level timelines (see `levelTimeline`). */
  readonly levelMemo: Map<string, readonly LevelSet[]>;
}

/** Builds the shared data side; throws on anything that is not 1m candles of distinct symbols. */
export function createMarket(input: MarketInput): BacktestMarket {
  const series = input.series;
  if (series.length === 0) throw new Error('backtest: no series');
  if (series.length > 255) throw new Error('backtest: at most 255 symbols per run');
  const symbols = series.map((s) => s.symbol);
  if (new Set(symbols).size !== symbols.length) throw new Error(`backtest: a symbol appears twice (${symbols.join(', ')})`);
  const venue = (series[0] as CandleSeries).venue;
  for (const s of series) {
    if (s.interval !== '1m') throw new Error(`backtest: ${s.symbol} is ${s.interval}; the scalp strategies evaluate 1m candles (give 1m data)`);
    if (s.venue !== venue) throw new Error(`backtest: mixed venues (${venue}, ${s.venue}); run one venue at a time`);
    if (s.length === 0) throw new Error(`backtest: ${s.symbol} has no candles`);
  }
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    first = Math.min(first, s.openTime[0] as number);
    last = Math.max(last, s.openTime[s.length - 1] as number);
  }
  const from = Math.max(input.from ?? first, first);
  const to = Math.min(input.to ?? last, last);
  if (!(to >= from)) throw new Error(`backtest: empty range ${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`);

  // k-way merge by open time (ties: symbol order), range [from, to].
  const cursors = series.map((s) => lowerBound(s.openTime, from));
  let total = 0;
  for (let k = 0; k < series.length; k++) total += upperBound((series[k] as CandleSeries).openTime, to) - (cursors[k] as number);
  const orderSymbol = new Uint8Array(total);
  const orderIndex = new Int32Array(total);
  const candles: (Candle | undefined)[][] = series.map((s) => new Array<Candle | undefined>(s.length));
  for (let n = 0; n < total; n++) {
    let best = -1;
    let bestT = Number.POSITIVE_INFINITY;
    for (let k = 0; k < series.length; k++) {
      const s = series[k] as CandleSeries;
      const i = cursors[k] as number;
      if (i >= s.length) continue;
      const t = s.openTime[i] as number;
      if (t > to) continue;
      if (t < bestT) {
        bestT = t;
        best = k;
      }
    }
    const i = cursors[best] as number;
    orderSymbol[n] = best;
    orderIndex[n] = i;
    (candles[best] as (Candle | undefined)[])[i] = candleAt(series[best] as CandleSeries, i);
    cursors[best] = i + 1;
  }

  const volatility = series.map((s) => {
    const v = volatilitySeries(s.openTime, s.high, s.low, VOLATILITY_WINDOW_MS);
    // The execution passes null until its window covers 24h (first candle <= t - 24h + 1m).
    const start = s.openTime[0] as number;
    for (let i = 0; i < s.length; i++) {
      if (start > (s.openTime[i] as number) - VOLATILITY_WINDOW_MS + MINUTE || !Number.isFinite(v[i] as number)) v[i] = Number.NaN;
      else break;
    }
    return v;
  });
  return { symbols, series, venue, from, to, orderSymbol, orderIndex, candles, volatility, levelMemo: new Map() };
}

/** The live level set of symbol k at every traded index (memoised per symbol and level config). */
export function levelTimeline(m: BacktestMarket, k: number, cfg: LevelsExhaustionConfig['levels']): readonly LevelSet[] {
  const key = `${k}|${JSON.stringify(cfg)}`;
  const memo = m.levelMemo.get(key);
  if (memo) return memo;
  const s = m.series[k] as CandleSeries;
  const w = new CandleWindow(s.symbol, MINUTE, s.length);
  const all: Candle[] = new Array(s.length);
  for (let i = 0; i < s.length; i++) all[i] = candleAt(s, i);
  w.merge(all);
  const cache = createMicroCache();
  const out: LevelSet[] = new Array(s.length);
  const a = lowerBound(s.openTime, m.from);
  const b = upperBound(s.openTime, m.to);
  for (let i = a; i < b; i++) out[i] = levelsAt(cache, w, i, cfg);
  m.levelMemo.set(key, out);
  return out;
}

/** regimeInputsOf per series object and index: a grid / hyperopt worker computes each once, not per run (read-only objects). */
const regimeMemo = new WeakMap<CandleSeries, Array<Readonly<RegimeInputs> | undefined>>();

/** The execution's regime inputs on the reference symbol at index i. */
export function regimeInputsOf(s: CandleSeries, i: number): RegimeInputs {
  let memo = regimeMemo.get(s);
  if (!memo) regimeMemo.set(s, (memo = new Array(s.length)));
  return (memo[i] ??= Object.freeze(regimeInputsAt(s.openTime, s.close, i)));
}
