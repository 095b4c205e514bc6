/**
 * MACRO directional bias (SPEC 3): LONG | SHORT | NEUTRAL with a confidence 0-100, built from four
 * weighted, explainable components (weights and periods from `MacroConfig.bias`):
 *
 * | component     | interval (config) | sub-scores (each in [-1, 1], averaged with equal weight)              |
 * |---------------|-------------------|------------------------------------------------------------------------|
 * | `trend4h`     | 4h                | EMA50 vs EMA200 spread (full at +/-TREND_SPREAD_FULL_SCALE);           |
 * |               |                   | EMA200 slope over `slopeLookback` candles (full at +/-TREND_SLOPE_...) |
 * | `momentum4h`  | 4h                | RSI14 beyond the neutral band [rsiBearBelow, rsiBullAbove], full at    |
 * |               |                   | RSI_BULL_SATURATION / RSI_BEAR_SATURATION; MACD histogram / close      |
 * |               |                   | (full at +/-MACD_HIST_FULL_SCALE)                                      |
 * | `structure5m` | 5m                | close vs EMA20 (full at +/-STRUCTURE_DISTANCE_FULL_SCALE); RSI as above|
 * | `volume`      | 5m                | net up-minus-down volume of the last VOLUME_RECENT_CANDLES candles     |
 * |               |                   | (full at +/-VOLUME_NET_FULL_SCALE), counted only when their mean       |
 * |               |                   | volume >= `confirmRatio` x the average of the `avgPeriod` before them  |
 *
 * Every sub-score is a clamped linear ramp, so a component's `detail` shows the raw inputs and the
 * score they produced. The weighted sum S = sum(weight_i x score_i) lies in [-1, 1]; a component
 * without enough (or fresh enough) data scores 0 and says why.
 *
 * Confidence mapping (documented contract): `confidence = round(100 x |S|)`; 100 means every
 * component fully agrees, 0 means they cancel out. The bias is the sign of S when
 * `confidence >= minDirectionalConfidence` (the neutral band) AND the components with data carry at
 * least MIN_AVAILABLE_WEIGHT of the total weight; otherwise NEUTRAL (with the reason). A NEUTRAL
 * bias keeps its confidence number (how far from the band it is); NEUTRAL for missing data has 0.
 *
 * TTL: `expiresAt = ts + biasTtlMs`; `isBiasActive` treats an expired bias as no bias.
 *
 * Shape for the backtester: `prepareBias` computes indicator series once per series (batch tulind);
 * `evaluateBiasAt(prepared, asOf)` is O(log n) (index look-up) and reads only candles closed by `asOf`.
 */
import type { MacroConfig } from '../../config/strategy.js';
import { ema, macd, rsi, sma } from '../../indicators/tulind.js';
import { INTERVAL_MS } from '../../model/market.js';
import type { Bias, BiasState } from '../../model/trading.js';
import { clamp, closeTimeAt, lastClosedIndex, round, type CandleColumns, type SeriesByInterval } from './columns.js';

// ---- named constants (proposed config fields: macro.bias.scales.*) ----

/** EMA fast/slow spread (fraction of the slow EMA) that scores +/-1. */
const TREND_SPREAD_FULL_SCALE = 0.02;
/** Slow-EMA change over `slopeLookback` candles (fraction) that scores +/-1. */
const TREND_SLOPE_FULL_SCALE = 0.01;
/** RSI at which the bullish / bearish ramp saturates (the ramp starts at the config band edge). */
const RSI_BULL_SATURATION = 70;
const RSI_BEAR_SATURATION = 30;
/** MACD histogram as a fraction of price that scores +/-1. */
const MACD_HIST_FULL_SCALE = 0.005;
/** Close-to-EMA distance (fraction) on the structure interval that scores +/-1. */
const STRUCTURE_DISTANCE_FULL_SCALE = 0.005;
/** Recent candles whose volume is tested for confirmation. */
export const VOLUME_RECENT_CANDLES = 6;
/** Net (up - down) / total volume of the recent candles that scores +/-1. */
const VOLUME_NET_FULL_SCALE = 0.5;
/** A directional bias needs components with data carrying at least this share of the weight. */
export const MIN_AVAILABLE_WEIGHT = 0.75;
/** A series whose last closed candle is older than this many intervals (vs asOf) is stale. */
export const MAX_STALE_INTERVALS = 3;

export type BiasComponentName = 'trend4h' | 'momentum4h' | 'structure5m' | 'volume';

/**
 * Closed candles (of the component's configured interval) each component needs before it produces
 * a value: the one rule the evaluation below, the MACRO job's hot-window read (`candlesNeeded`) and
 * the backtester's warm-up (shared/backtest/warmup.ts) use.
 */
export function biasComponentCandles(c: MacroConfig['bias']['components']): Record<BiasComponentName, number> {
  return {
    trend4h: c.trend4h.emaSlow + c.trend4h.slopeLookback,
    momentum4h: Math.max(c.momentum4h.rsiPeriod + 1, c.momentum4h.macdSlow + c.momentum4h.macdSignal),
    structure5m: Math.max(c.structure5m.emaPeriod, c.structure5m.rsiPeriod + 1),
    volume: c.volume.avgPeriod + VOLUME_RECENT_CANDLES,
  };
}

/** One explainable component (a superset of `BiasState['components'][number]`). */
interface BiasComponent {
  name: BiasComponentName;
  weight: number;
  /** Signed score in [-1, 1]; 0 when the component has no data. */
  score: number;
  /** Human-readable explanation with the raw inputs. */
  detail: string;
  available: boolean;
  /** Raw inputs (JSON-safe: null when unknown). */
  inputs: Record<string, number | null>;
}

/** The bias as the engine stores and publishes it: `BiasState` plus the weighted sum and reasons. */
export interface BiasResult extends BiasState {
  components: BiasComponent[];
  /** Weighted sum S in [-1, 1]. */
  score: number;
  /** Share of the total weight carried by components that had data. */
  availableWeight: number;
  /** Why the bias is what it is (NEUTRAL reasons included). */
  reasons: string[];
}

interface PreparedBias {
  cfg: MacroConfig['bias'];
  ttlMs: number;
  trend?: { cols: CandleColumns; fast: Float64Array; slow: Float64Array };
  momentum?: { cols: CandleColumns; rsi: Float64Array; hist: Float64Array };
  structure?: { cols: CandleColumns; ema: Float64Array; rsi: Float64Array };
  volume?: { cols: CandleColumns; avg: Float64Array };
}

/** Computes every indicator series once (batch). Missing intervals leave their components unavailable. */
export function prepareBias(macro: MacroConfig, series: SeriesByInterval): PreparedBias {
  const cfg = macro.bias;
  const c = cfg.components;
  const p: PreparedBias = { cfg, ttlMs: macro.biasTtlMs };
  const t = series[c.trend4h.interval];
  if (t && t.length > 0) p.trend = { cols: t, fast: ema(t.close, c.trend4h.emaFast), slow: ema(t.close, c.trend4h.emaSlow) };
  const m = series[c.momentum4h.interval];
  if (m && m.length > 0) {
    p.momentum = {
      cols: m,
      rsi: rsi(m.close, c.momentum4h.rsiPeriod),
      hist: macd(m.close, c.momentum4h.macdFast, c.momentum4h.macdSlow, c.momentum4h.macdSignal).histogram,
    };
  }
  const s = series[c.structure5m.interval];
  if (s && s.length > 0) p.structure = { cols: s, ema: ema(s.close, c.structure5m.emaPeriod), rsi: rsi(s.close, c.structure5m.rsiPeriod) };
  const v = series[c.volume.interval];
  if (v && v.length > 0) p.volume = { cols: v, avg: sma(v.volume, c.volume.avgPeriod) };
  return p;
}

/** Bias of `symbol` as of `asOf` (uses only candles closed by `asOf`). Pure and deterministic. */
export function evaluateBiasAt(p: PreparedBias, symbol: string, asOf: number): BiasResult {
  const components = [trendComponent(p, asOf), momentumComponent(p, asOf), structureComponent(p, asOf), volumeComponent(p, asOf)];
  const totalWeight = components.reduce((s, x) => s + x.weight, 0);
  const score = clamp(components.reduce((s, x) => s + x.weight * x.score, 0));
  const availableWeight = totalWeight > 0 ? components.reduce((s, x) => s + (x.available ? x.weight : 0), 0) / totalWeight : 0;
  const reasons: string[] = [];
  let bias: Bias = 'NEUTRAL';
  let confidence = Math.round(100 * Math.abs(score));
  const missing = components.filter((x) => !x.available);
  if (availableWeight + 1e-9 < MIN_AVAILABLE_WEIGHT) {
    reasons.push(
      `insufficient data: components with data carry ${round(availableWeight * 100, 1)} % of the weight (< ${MIN_AVAILABLE_WEIGHT * 100} %); missing ${missing.map((x) => `${x.name} (${x.detail})`).join('; ')}`,
    );
    confidence = 0;
  } else if (confidence < p.cfg.minDirectionalConfidence) {
    reasons.push(`weighted score ${round(score, 3)} -> confidence ${confidence} is inside the neutral band (< ${p.cfg.minDirectionalConfidence})`);
  } else {
    bias = score > 0 ? 'LONG' : 'SHORT';
    reasons.push(`weighted score ${round(score, 3)} -> ${bias} with confidence ${confidence}`);
    if (missing.length > 0) reasons.push(`without ${missing.map((x) => x.name).join(', ')} (no data)`);
  }
  return {
    symbol,
    bias,
    confidence,
    components,
    ts: asOf,
    expiresAt: asOf + p.ttlMs,
    score: round(score, 6),
    availableWeight: round(availableWeight, 6),
    reasons,
  };
}

/** Convenience: prepare + evaluate at `asOf` (production: the hot window, evaluated once). */
export function computeBias(macro: MacroConfig, symbol: string, series: SeriesByInterval, asOf: number): BiasResult {
  return evaluateBiasAt(prepareBias(macro, series), symbol, asOf);
}

/** An expired (or missing) bias means "no bias". */
export function isBiasActive(bias: Pick<BiasState, 'expiresAt'> | null | undefined, now: number): boolean {
  return !!bias && now < bias.expiresAt;
}

/** The bias that is in force at `now`: the bias itself, or NEUTRAL when missing or expired. */
export function effectiveBias(bias: Pick<BiasState, 'bias' | 'expiresAt'> | null | undefined, now: number): Bias {
  return bias && isBiasActive(bias, now) ? bias.bias : 'NEUTRAL';
}

// ---------------------------------------------------------------------------------------------

/** Bullish/bearish RSI ramp: 0 inside [bearBelow, bullAbove], +/-1 at the saturation levels. */
function rsiScore(value: number, bullAbove: number, bearBelow: number): number {
  if (value > bullAbove) return clamp((value - bullAbove) / Math.max(RSI_BULL_SATURATION - bullAbove, 1e-9), 0, 1);
  if (value < bearBelow) return -clamp((bearBelow - value) / Math.max(bearBelow - RSI_BEAR_SATURATION, 1e-9), 0, 1);
  return 0;
}

function unavailable(name: BiasComponentName, weight: number, detail: string): BiasComponent {
  return { name, weight, score: 0, detail, available: false, inputs: {} };
}

/** Index of the last closed candle, or a reason why the series cannot be used at `asOf`. */
function usableIndex(cols: CandleColumns | undefined, asOf: number, need: number): { i: number } | { why: string } {
  if (!cols) return { why: 'no candles' };
  const i = lastClosedIndex(cols, asOf);
  if (i < 0) return { why: `no ${cols.interval} candle closed by ${new Date(asOf).toISOString()}` };
  if (i + 1 < need) return { why: `insufficient data: ${i + 1} closed ${cols.interval} candles, need ${need}` };
  const age = asOf - closeTimeAt(cols, i);
  if (age > MAX_STALE_INTERVALS * INTERVAL_MS[cols.interval]) {
    return { why: `stale data: last ${cols.interval} candle closed ${Math.round(age / 60_000)} min before as-of` };
  }
  return { i };
}

function fin(x: number | undefined): x is number {
  return x !== undefined && Number.isFinite(x);
}

function trendComponent(p: PreparedBias, asOf: number): BiasComponent {
  const c = p.cfg.components.trend4h;
  const name: BiasComponentName = 'trend4h';
  const u = usableIndex(p.trend?.cols, asOf, biasComponentCandles(p.cfg.components).trend4h);
  if (!p.trend || 'why' in u) return unavailable(name, c.weight, 'why' in u ? u.why : 'no candles');
  const i = u.i;
  const fast = p.trend.fast[i];
  const slow = p.trend.slow[i];
  const slowBefore = p.trend.slow[i - c.slopeLookback];
  if (!fin(fast) || !fin(slow) || !fin(slowBefore) || slow <= 0 || slowBefore <= 0) return unavailable(name, c.weight, 'EMA not computable');
  const spread = (fast - slow) / slow;
  const slope = (slow - slowBefore) / slowBefore;
  const spreadScore = clamp(spread / TREND_SPREAD_FULL_SCALE);
  const slopeScore = clamp(slope / TREND_SLOPE_FULL_SCALE);
  const score = (spreadScore + slopeScore) / 2;
  return {
    name,
    weight: c.weight,
    score: round(score, 6),
    available: true,
    detail:
      `${c.interval} EMA${c.emaFast} ${fmt(fast)} is ${signedPct(spread)} vs EMA${c.emaSlow} ${fmt(slow)} (${signedScore(spreadScore)}); ` +
      `EMA${c.emaSlow} slope ${signedPct(slope)} over ${c.slopeLookback} candles (${signedScore(slopeScore)})`,
    inputs: { emaFast: round(fast, 6), emaSlow: round(slow, 6), spread: round(spread, 6), slope: round(slope, 6), candleOpenTime: p.trend.cols.openTime[i] ?? null },
  };
}

function momentumComponent(p: PreparedBias, asOf: number): BiasComponent {
  const c = p.cfg.components.momentum4h;
  const name: BiasComponentName = 'momentum4h';
  const u = usableIndex(p.momentum?.cols, asOf, biasComponentCandles(p.cfg.components).momentum4h);
  if (!p.momentum || 'why' in u) return unavailable(name, c.weight, 'why' in u ? u.why : 'no candles');
  const i = u.i;
  const r = p.momentum.rsi[i];
  const h = p.momentum.hist[i];
  const close = p.momentum.cols.close[i];
  if (!fin(r) || !fin(h) || !fin(close) || close <= 0) return unavailable(name, c.weight, 'RSI/MACD not computable (flat prices)');
  const rScore = rsiScore(r, c.rsiBullAbove, c.rsiBearBelow);
  const histFraction = h / close;
  const hScore = clamp(histFraction / MACD_HIST_FULL_SCALE);
  const score = (rScore + hScore) / 2;
  return {
    name,
    weight: c.weight,
    score: round(score, 6),
    available: true,
    detail:
      `${c.interval} RSI${c.rsiPeriod} ${r.toFixed(1)} (band ${c.rsiBearBelow}-${c.rsiBullAbove}: ${signedScore(rScore)}); ` +
      `MACD(${c.macdFast},${c.macdSlow},${c.macdSignal}) histogram ${fmt(h)} = ${signedPct(histFraction)} of price (${signedScore(hScore)})`,
    inputs: { rsi: round(r, 4), macdHistogram: round(h, 6), macdHistogramFraction: round(histFraction, 8), candleOpenTime: p.momentum.cols.openTime[i] ?? null },
  };
}

function structureComponent(p: PreparedBias, asOf: number): BiasComponent {
  const c = p.cfg.components.structure5m;
  const name: BiasComponentName = 'structure5m';
  const u = usableIndex(p.structure?.cols, asOf, biasComponentCandles(p.cfg.components).structure5m);
  if (!p.structure || 'why' in u) return unavailable(name, c.weight, 'why' in u ? u.why : 'no candles');
  const i = u.i;
  const e = p.structure.ema[i];
  const r = p.structure.rsi[i];
  const close = p.structure.cols.close[i];
  if (!fin(e) || !fin(r) || !fin(close) || e <= 0) return unavailable(name, c.weight, 'EMA/RSI not computable (flat prices)');
  const dist = (close - e) / e;
  const dScore = clamp(dist / STRUCTURE_DISTANCE_FULL_SCALE);
  const rScore = rsiScore(r, c.rsiBullAbove, c.rsiBearBelow);
  const score = (dScore + rScore) / 2;
  return {
    name,
    weight: c.weight,
    score: round(score, 6),
    available: true,
    detail:
      `${c.interval} close ${fmt(close)} is ${signedPct(dist)} vs EMA${c.emaPeriod} ${fmt(e)} (${signedScore(dScore)}); ` +
      `RSI${c.rsiPeriod} ${r.toFixed(1)} (band ${c.rsiBearBelow}-${c.rsiBullAbove}: ${signedScore(rScore)})`,
    inputs: { close, ema: round(e, 6), distance: round(dist, 8), rsi: round(r, 4), candleOpenTime: p.structure.cols.openTime[i] ?? null },
  };
}

function volumeComponent(p: PreparedBias, asOf: number): BiasComponent {
  const c = p.cfg.components.volume;
  const name: BiasComponentName = 'volume';
  const u = usableIndex(p.volume?.cols, asOf, biasComponentCandles(p.cfg.components).volume);
  if (!p.volume || 'why' in u) return unavailable(name, c.weight, 'why' in u ? u.why : 'no candles');
  const i = u.i;
  const cols = p.volume.cols;
  const avg = p.volume.avg[i - VOLUME_RECENT_CANDLES];
  let up = 0;
  let down = 0;
  let total = 0;
  for (let k = i - VOLUME_RECENT_CANDLES + 1; k <= i; k++) {
    const v = cols.volume[k] as number;
    const delta = (cols.close[k] as number) - (cols.open[k] as number);
    total += v;
    if (delta > 0) up += v;
    else if (delta < 0) down += v;
  }
  if (!fin(avg) || avg <= 0) return unavailable(name, c.weight, 'no volume in the averaging window');
  const recentMean = total / VOLUME_RECENT_CANDLES;
  const ratio = recentMean / avg;
  const net = total > 0 ? (up - down) / total : 0;
  const confirmed = ratio >= c.confirmRatio;
  const score = confirmed ? clamp(net / VOLUME_NET_FULL_SCALE) : 0;
  const head = `last ${VOLUME_RECENT_CANDLES} ${c.interval} candles: volume ${ratio.toFixed(2)}x the ${c.avgPeriod}-candle average`;
  return {
    name,
    weight: c.weight,
    score: round(score, 6),
    available: true,
    detail: confirmed
      ? `${head} (>= ${c.confirmRatio}x), net ${signedPct(net)} of it on ${net >= 0 ? 'up' : 'down'} candles (${signedScore(score)})`
      : `${head} (< ${c.confirmRatio}x): no confirmation (+0.00)`,
    inputs: { volumeRatio: round(ratio, 6), netVolume: round(net, 6), candleOpenTime: cols.openTime[i] ?? null },
  };
}

function fmt(x: number): string {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(3) : x.toPrecision(4);
}

function signedPct(f: number): string {
  return `${f >= 0 ? '+' : ''}${(f * 100).toFixed(2)} %`;
}

function signedScore(s: number): string {
  return `${s >= 0 ? '+' : ''}${s.toFixed(2)}`;
}
