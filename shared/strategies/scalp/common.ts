/**
 * What both MICRO-SCALP strategies share: the strategy interface the live engine and the backtester
 * call, the evaluation context, the decision type, exits, the per-series indicator cache and the
 * Wilder RSI state used to evaluate the FORMING candle.
 *
 * Evaluation protocol (the same code in production and in the backtester):
 *   const p = strategy.prepare(series1m, cfg, cache?);  // once per series (batch indicators)
 *   strategy.evaluateAt(p, i, ctx?);                    // any closed index i; reads indices <= i only
 * - On a candle CLOSE: evaluateAt(p, i) with i = that candle's index.
 * - On a 15 s SNAPSHOT: evaluateAt(p, i, { forming }) with i = the last CLOSED candle and `forming` the
 *   snapshot's forming candle (open time > openTime[i]); indicators for the forming candle are
 *   "peeked" from the state at i, so the decision uses only what existed at the snapshot time.
 */
import type { ScalpStrategyConfig, ScalpStrategyId } from '../../config/strategy.js';
import { INTERVAL_MS } from '../../model/market.js';
import type { Direction, ScanDecision } from '../../model/trading.js';
import type { BookSample } from '../exhaustion.js';
import type { LevelSet } from '../levels.js';
import type { CandleSeries } from '../series.js';
import type { StrategyReadinessAt } from '../readiness.js';

/** The forming (not yet closed) 1m candle as a 15 s snapshot saw it. */
export interface FormingCandle {
  /** Open time of the forming candle (after the last closed one). */
  readonly openTime: number;
  /** Snapshot time, epoch ms. */
  readonly ts: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  /** Volume so far (partial). */
  readonly volume: number;
}

export interface EvalContext {
  /** Levels computed elsewhere (production: from the hot 15m/1h store); default: from the 1m series. */
  readonly levels?: LevelSet;
  /** Recent order-book samples in ascending ts (production: the holder's 15 s snapshots). */
  readonly book?: readonly BookSample[];
  /** Present for a 15 s snapshot evaluation. */
  readonly forming?: FormingCandle;
}

interface TradeProposal {
  /** Limit entry price (the signal close / snapshot price). */
  readonly entry: number;
  readonly stopLoss: number;
  readonly takeProfit: number;
  readonly exitMode: 'fixed' | 'atr';
}

/** A scan decision plus, for TAKE, the proposed limit entry and exits (execution builds a Signal). */
export interface ScalpDecision extends ScanDecision {
  readonly proposal: TradeProposal | null;
}

export interface PreparedBase<C extends ScalpStrategyConfig = ScalpStrategyConfig> {
  readonly series: CandleSeries;
  readonly cfg: C;
}

export interface ScalpStrategy<C extends ScalpStrategyConfig, P extends PreparedBase<C>> {
  readonly id: ScalpStrategyId;
  prepare(series: CandleSeries, cfg: C, cache?: IndicatorCache): P;
  evaluateAt(prepared: P, i: number, ctx?: EvalContext): ScalpDecision | null;
  /** Each condition evaluateAt checks at i, its value, threshold and verdict (shared/strategies/readiness.ts). */
  readinessAt(prepared: P, i: number, ctx?: EvalContext): StrategyReadinessAt;
}

/**
 * Per-series memo of derived arrays (indicators, resamples, levels), keyed by a string that names the
 * computation and its parameters. The backtester passes one cache per series to every config of a
 * grid so shared indicators are computed once.
 */
export class IndicatorCache {
  private readonly memo = new Map<string, unknown>();
  constructor(readonly series: CandleSeries) {}

  get<T>(key: string, compute: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const v = compute();
    this.memo.set(key, v);
    return v;
  }

  get size(): number {
    return this.memo.size;
  }
}

/** Default caches, one per series object (series are treated as immutable once built). */
const defaultCaches = new WeakMap<CandleSeries, IndicatorCache>();

/**
 * The cache to use for a prepare: the one passed in, else the default cache of that series object, so
 * every prepare of the same series (e.g. a 72-config grid) shares indicators and levels automatically.
 */
export function cacheFor(series: CandleSeries, cache: IndicatorCache | undefined): IndicatorCache {
  if (cache) {
    if (cache.series !== series) throw new Error('IndicatorCache belongs to a different series');
    return cache;
  }
  let c = defaultCaches.get(series);
  if (!c) {
    c = new IndicatorCache(series);
    defaultCaches.set(series, c);
  }
  return c;
}

const ONE_MINUTE = INTERVAL_MS['1m'];

/** Decision time and candle of an evaluation; validates the forming candle against index i. */
export function evaluationPoint(series: CandleSeries, i: number, forming: FormingCandle | undefined): { ts: number; candleTime: number } {
  if (!Number.isInteger(i) || i < 0 || i >= series.length) throw new RangeError(`evaluateAt: index ${i} outside [0, ${series.length})`);
  const ot = series.openTime[i] as number;
  if (!forming) return { ts: ot + INTERVAL_MS[series.interval], candleTime: ot };
  if (!(forming.openTime > ot)) {
    throw new Error(`evaluateAt: forming candle ${forming.openTime} must open after the last closed candle ${ot}`);
  }
  if (forming.ts < forming.openTime) throw new Error(`evaluateAt: snapshot ts ${forming.ts} precedes the forming candle's open ${forming.openTime}`);
  return { ts: forming.ts, candleTime: forming.openTime };
}

export function signalIdFor(strategy: ScalpStrategyId, symbol: string, candleTime: number, forming: FormingCandle | undefined): string {
  return forming ? `${strategy}:${symbol}:${candleTime}:snap:${forming.ts}` : `${strategy}:${symbol}:${candleTime}`;
}

/**
 * A forming candle has only part of its volume. Checks that need a full-candle volume (low volume) use
 * the pace-projected volume: volume x interval / elapsed, with elapsed at least this fraction of the
 * interval (proposed config field `snapshotMinElapsedFraction`). Spike checks use the raw partial
 * volume (it can only grow, so a partial spike is already a spike).
 */
const SNAPSHOT_MIN_ELAPSED_FRACTION = 0.25;

export function projectedVolume(forming: FormingCandle, intervalMs: number = ONE_MINUTE): number {
  const fraction = Math.min(1, Math.max(SNAPSHOT_MIN_ELAPSED_FRACTION, (forming.ts - forming.openTime) / intervalMs));
  return forming.volume / fraction;
}

/** Stop loss / take profit for an entry: fixed percentages or ATR multiples (config `exits.mode`). */
export function computeExits(
  direction: Direction,
  entry: number,
  exits: ScalpStrategyConfig['exits'],
  atrValue: number,
): { stopLoss: number; takeProfit: number } | null {
  const sign = direction === 'LONG' ? 1 : -1;
  if (exits.mode === 'fixed') {
    return {
      takeProfit: entry * (1 + (sign * exits.fixed.takeProfitPct) / 100),
      stopLoss: entry * (1 - (sign * exits.fixed.stopLossPct) / 100),
    };
  }
  if (!(atrValue > 0)) return null;
  return {
    takeProfit: entry + sign * exits.atr.takeProfitMultiple * atrValue,
    stopLoss: entry - sign * exits.atr.stopLossMultiple * atrValue,
  };
}

/**
 * Wilder RSI state per index (average gain / loss after candle i), mirroring IncrementalRsi (and
 * tulind's seeding: the first `period` changes seed simple averages). Lets any index "peek" the RSI of
 * a forming candle in O(1), exactly as IncrementalRsi.peek would after updating with closes 0..i.
 */
export interface RsiState {
  readonly period: number;
  readonly avgGain: Float64Array;
  readonly avgLoss: Float64Array;
}

export function rsiState(close: Float64Array, period: number): RsiState {
  const n = close.length;
  const avgGain = new Float64Array(n).fill(Number.NaN);
  const avgLoss = new Float64Array(n).fill(Number.NaN);
  let g = 0;
  let l = 0;
  for (let i = 1; i < n; i++) {
    const change = (close[i] as number) - (close[i - 1] as number);
    const gain = Math.max(change, 0);
    const loss = Math.max(-change, 0);
    if (i <= period) {
      g += gain;
      l += loss;
      if (i === period) {
        g /= period;
        l /= period;
        avgGain[i] = g;
        avgLoss[i] = l;
      }
    } else {
      g = (g * (period - 1) + gain) / period;
      l = (l * (period - 1) + loss) / period;
      avgGain[i] = g;
      avgLoss[i] = l;
    }
  }
  return { period, avgGain, avgLoss };
}

/** RSI of a forming candle closing at `x`, given closed candles 0..i (NaN during warm-up). */
export function peekRsi(state: RsiState, close: Float64Array, i: number, x: number): number {
  const p = state.period;
  const ag = state.avgGain[i] as number;
  const al = state.avgLoss[i] as number;
  const change = x - (close[i] as number);
  const gain = Math.max(change, 0);
  const loss = Math.max(-change, 0);
  if (Number.isNaN(ag)) {
    // The forming candle may be the one that completes the seed (i + 1 === period).
    if (i + 1 !== p) return Number.NaN;
    let g = 0;
    let l = 0;
    for (let k = 1; k <= i; k++) {
      const c = (close[k] as number) - (close[k - 1] as number);
      g += Math.max(c, 0);
      l += Math.max(-c, 0);
    }
    g += gain;
    l += loss;
    g /= p;
    l /= p;
    return (100 * g) / (g + l);
  }
  const g = (ag * (p - 1) + gain) / p;
  const l = (al * (p - 1) + loss) / p;
  return (100 * g) / (g + l);
}

/** Finite number or null, for decision features (JSON has no NaN). */
export function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
