/**
 * MICRO-SCALP champion "V5.2" (SPEC 4): RSI divergence plus a volume spike, on every close and on the
 * 15 s snapshot of the forming candle.
 *
 * Divergence, for the evaluated candle E (closed candle i, or the forming candle after i):
 * - Pivots: swing highs/lows of strength `pivotStrength` (shared/strategies/levels.ts `pivotFlags`),
 *   used only once CONFIRMED by closed candles (pivot j with j + strength <= i).
 * - Bearish (-> SHORT): a confirmed swing high j within the last `lookbackCandles` candles (E - j <=
 *   lookback) with RSI(j) > `overbought`; E makes a higher high (high(E) > high(j), and high(E) >= every
 *   high between j and E) while RSI(E) <= RSI(j) - `minRsiDelta` (a lower RSI high).
 * - Bullish (-> LONG): mirrored with swing lows, a lower low, RSI(j) < `oversold` and
 *   RSI(E) >= RSI(j) + minRsiDelta.
 * The most recent qualifying pivot is used. RSI(E) of a forming candle is peeked from the Wilder state
 * at i (IncrementalRsi.peek semantics).
 * Volume spike: volume(E) >= `minRatio` x EMA(volume) of the candles BEFORE E (for a forming candle
 * its partial volume, which can only grow).
 *
 * Decisions: divergence + spike -> TAKE (limit entry at the evaluated price, exits by config), or SKIP
 * when exits cannot be computed or bullish and bearish divergences coincide (an outside candle);
 * divergence without spike, or a spike at a new extreme beyond a pivot whose RSI does not diverge
 * -> NEAR_MISS; anything else -> null (not logged).
 */
import type { V52DivergenceConfig } from '../../config/strategy.js';
import type { Direction } from '../../model/trading.js';
import { atr, ema, rsi } from '../../indicators/tulind.js';
import { pivotFlags } from '../levels.js';
import type { CandleSeries } from '../series.js';
import {
  cacheFor,
  computeExits,
  evaluationPoint,
  num,
  peekRsi,
  rsiState,
  signalIdFor,
  type EvalContext,
  type IndicatorCache,
  type PreparedBase,
  type RsiState,
  type ScalpDecision,
  type ScalpStrategy,
} from './common.js';
import type { ReadinessCondition, ReadinessSide } from '../../dashboard/api.js';
import { flagCondition, infoCondition, numericCondition, readinessSide, type StrategyReadinessAt } from '../readiness.js';

const STRATEGY = 'v52_divergence' as const;
/** RSI's neutral line: where readiness counts the pivot-RSI check's progress from (overbought / oversold are beyond it). */
const RSI_NEUTRAL = 50;

/** Pivot links: `last[i]` = newest pivot confirmed by candle i (-1 if none), `prev[j]` = pivot before j. */
interface PivotIndex {
  readonly last: Int32Array;
  readonly prev: Int32Array;
}

export function pivotIndex(flags: Uint8Array, strength: number): PivotIndex {
  const n = flags.length;
  const last = new Int32Array(n).fill(-1);
  const prev = new Int32Array(n).fill(-1);
  let newest = -1;
  for (let i = 0; i < n; i++) {
    const j = i - strength; // the pivot candidate that candle i confirms
    if (j >= 0 && flags[j] === 1) {
      prev[j] = newest;
      newest = j;
    }
    last[i] = newest;
  }
  return { last, prev };
}

export interface V52Prepared extends PreparedBase<V52DivergenceConfig> {
  readonly rsi: Float64Array;
  readonly rsiState: RsiState;
  readonly volumeEma: Float64Array;
  readonly atr: Float64Array;
  readonly pivotHighs: PivotIndex;
  readonly pivotLows: PivotIndex;
}

function prepare(series: CandleSeries, cfg: V52DivergenceConfig, cache?: IndicatorCache): V52Prepared {
  if (series.interval !== '1m') throw new Error(`v52_divergence evaluates 1m candles, got ${series.interval}`);
  const c = cacheFor(series, cache);
  const d = cfg.divergence;
  const flags = c.get(`pivots:${d.pivotStrength}`, () => pivotFlags(series.high, series.low, d.pivotStrength));
  return {
    series,
    cfg,
    rsi: c.get(`rsi:${d.rsiPeriod}`, () => rsi(series.close, d.rsiPeriod)),
    rsiState: c.get(`rsiState:${d.rsiPeriod}`, () => rsiState(series.close, d.rsiPeriod)),
    volumeEma: c.get(`ema:volume:${cfg.volumeSpike.emaPeriod}`, () => ema(series.volume, cfg.volumeSpike.emaPeriod)),
    atr: c.get(`atr:${cfg.exits.atr.period}`, () => atr(series.high, series.low, series.close, cfg.exits.atr.period)),
    pivotHighs: c.get(`pivotIndex:high:${d.pivotStrength}`, () => pivotIndex(flags.highs, d.pivotStrength)),
    pivotLows: c.get(`pivotIndex:low:${d.pivotStrength}`, () => pivotIndex(flags.lows, d.pivotStrength)),
  };
}

/** Result of a divergence search, reused (no per-candle allocation). */
export interface DivergenceHit {
  pivot: number;
  /** A pivot that price exceeded (new extreme) with the RSI condition on the pivot met, but no RSI divergence. */
  priceOnlyPivot: number;
}
const bear: DivergenceHit = { pivot: -1, priceOnlyPivot: -1 };
const bull: DivergenceHit = { pivot: -1, priceOnlyPivot: -1 };

/**
 * Searches pivots newest-first. `e` = evaluated index (i, or i + 1 for a forming candle), `ext` = its
 * high (bearish) or low (bullish), `rsiE` its RSI. Candles strictly between a pivot and e are read from
 * the closed arrays (all <= i). Stops as soon as a candle after the pivot reached is strictly beyond
 * `ext`: no older pivot can then see a new extreme (the result is that of the full walk).
 */
export function searchDivergence(
  out: DivergenceHit,
  bearish: boolean,
  p: V52Prepared,
  i: number,
  e: number,
  ext: number,
  rsiE: number,
): void {
  out.pivot = -1;
  out.priceOnlyPivot = -1;
  const d = p.cfg.divergence;
  const prices = bearish ? p.series.high : p.series.low;
  const idx = bearish ? p.pivotHighs : p.pivotLows;
  let j = idx.last[i] as number;
  let k = e - 1; // next candle to fold into `between`
  let between = bearish ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  while (j >= 0 && e - j <= d.lookbackCandles) {
    for (; k > j; k--) {
      const v = prices[k] as number;
      if (bearish ? v > between : v < between) {
        between = v;
        // E is no new extreme beyond a candle after this pivot, so none older can qualify either
        // (`between` only grows more extreme): nothing more to find.
        if (bearish ? ext < between : ext > between) return;
      }
    }
    const pj = prices[j] as number;
    const rj = p.rsi[j] as number;
    const newExtreme = bearish ? ext > pj && ext >= between : ext < pj && ext <= between;
    if (newExtreme && (bearish ? rj > d.overbought : rj < d.oversold)) {
      const diverges = bearish ? rsiE <= rj - d.minRsiDelta : rsiE >= rj + d.minRsiDelta;
      if (diverges) {
        out.pivot = j;
        return;
      }
      if (out.priceOnlyPivot < 0) out.priceOnlyPivot = j;
    }
    // An older pivot needs E above/below this one too: fold the pivot into `between`.
    if (bearish ? pj > between : pj < between) {
      between = pj;
      if (bearish ? ext < between : ext > between) return;
    }
    k = j - 1;
    j = idx.prev[j] as number;
  }
}

/** What is evaluated at index i: the closed candle i, or the forming candle after it (index e = i + 1). */
interface EvalPoint {
  /** Evaluated index (i, or i + 1 for a forming candle). */
  e: number;
  high: number;
  low: number;
  price: number;
  volumeRatio: number;
  spike: boolean;
  rsiE: number;
}

/** The pivot a decision refers to, its direction (null: none or both), and the reasons so far. */
interface Setup {
  direction: Direction | null;
  pivot: number;
  pivotIsHigh: boolean;
  reasons: string[];
}

/**
 * Everything both `evaluateAt` and `readinessAt` decide on at index i: the evaluated point and the
 * divergence search's results (the one search, run once). `warm` is false while RSI(E) is not
 * computable (no search then).
 */
interface V52Analysis {
  ts: number;
  candleTime: number;
  pt: EvalPoint;
  warm: boolean;
  bearPivot: number;
  bullPivot: number;
  bearPriceOnly: number;
  bullPriceOnly: number;
  atrNow: number;
}

function analyse(p: V52Prepared, i: number, ctx?: EvalContext): V52Analysis {
  const { ts, candleTime } = evaluationPoint(p.series, i, ctx?.forming);
  const pt = evalPoint(p, i, ctx);
  const atrNow = p.atr[i] as number;
  if (Number.isNaN(pt.rsiE)) return { ts, candleTime, pt, warm: false, bearPivot: -1, bullPivot: -1, bearPriceOnly: -1, bullPriceOnly: -1, atrNow };
  searchDivergence(bear, true, p, i, pt.e, pt.high, pt.rsiE);
  searchDivergence(bull, false, p, i, pt.e, pt.low, pt.rsiE);
  return {
    ts,
    candleTime,
    pt,
    warm: true,
    bearPivot: bear.pivot,
    bullPivot: bull.pivot,
    bearPriceOnly: bear.priceOnlyPivot,
    bullPriceOnly: bull.priceOnlyPivot,
    atrNow,
  };
}

function evaluateAt(p: V52Prepared, i: number, ctx?: EvalContext): ScalpDecision | null {
  return decisionOf(p, analyse(p, i, ctx), ctx);
}

/** The decision of an analysis (null: warm-up, or no divergence and no spike at a price-only extreme). */
function decisionOf(p: V52Prepared, a: V52Analysis, ctx?: EvalContext): ScalpDecision | null {
  if (!a.warm) return null;
  const s = p.series;
  const cfg = p.cfg;
  const forming = ctx?.forming;
  const { ts, candleTime, pt, atrNow } = a;
  const hasBear = a.bearPivot >= 0;
  const hasBull = a.bullPivot >= 0;
  const priceOnly = !hasBear && !hasBull && (a.bearPriceOnly >= 0 || a.bullPriceOnly >= 0);
  if (!hasBear && !hasBull && !(pt.spike && priceOnly)) return null;

  const setup = divergenceSetup(p, a, priceOnly);
  const { direction, pivot, reasons } = setup;
  const { decision, proposal } = decideOnDivergence(hasBear, hasBull, pt, direction, cfg, atrNow, reasons);
  return {
    signalId: signalIdFor(STRATEGY, s.symbol, candleTime, forming),
    strategy: STRATEGY,
    engine: 'SCALP',
    symbol: s.symbol,
    ts,
    candleTime,
    decision,
    direction: decision === 'TAKE' ? direction : null,
    price: pt.price,
    reasons,
    features: {
      snapshot: forming !== undefined,
      divergence: hasBear && hasBull ? 'both' : hasBear ? 'bearish' : hasBull ? 'bullish' : 'none',
      rsi: num(pt.rsiE),
      pivotRsi: pivot >= 0 ? num(p.rsi[pivot] as number) : null,
      pivotPrice: pivot >= 0 ? ((setup.pivotIsHigh ? s.high[pivot] : s.low[pivot]) as number) : null,
      pivotTime: pivot >= 0 ? (s.openTime[pivot] as number) : null,
      pivotAgeCandles: pivot >= 0 ? pt.e - pivot : null,
      volumeRatio: num(pt.volumeRatio),
      volumeSpike: pt.spike,
      atr: num(atrNow),
      exitMode: cfg.exits.mode,
      entry: proposal ? proposal.entry : null,
      stopLoss: proposal ? proposal.stopLoss : null,
      takeProfit: proposal ? proposal.takeProfit : null,
    },
    proposal,
  };
}

/**
 * Readiness at index i (the dashboard's Strategies page), from the same analysis as `evaluateAt`:
 * per side (SHORT = bearish, LONG = bullish) the swing pivot's RSI beyond overbought / oversold, the
 * new extreme beyond it, the RSI divergence, the volume spike, no divergence the other way at once,
 * and (ATR exits) an ATR. The pivot shown is the one the search found, else the candidate pivot
 * within the look-back meeting most of the three pivot conditions (the newest on a tie). A side has
 * every required condition met exactly when evaluateAt is a TAKE in that direction.
 */
export function readinessAt(p: V52Prepared, i: number, ctx?: EvalContext): StrategyReadinessAt {
  const a = analyse(p, i, ctx);
  const d = decisionOf(p, a, ctx);
  const sides = [divergenceSide(p, i, a, true), divergenceSide(p, i, a, false)];
  const out: StrategyReadinessAt = { decision: d ? d.decision : null, direction: d ? d.direction : null, asOf: a.ts, sides };
  if (!a.warm) out.note = `RSI(${p.cfg.divergence.rsiPeriod}) not computable yet (warm-up)`;
  return out;
}

/** The candidate pivot of a side (see readinessAt) and its three pivot checks. */
interface PivotCandidate {
  pivot: number;
  rsiBeyond: boolean;
  newExtreme: boolean;
  diverges: boolean;
  /** The extreme E must reach: the pivot's and every candle's after it. */
  extremeToBeat: number;
}

function pivotCandidate(p: V52Prepared, i: number, a: V52Analysis, bearish: boolean): PivotCandidate | null {
  const d = p.cfg.divergence;
  const { e, rsiE } = a.pt;
  const ext = bearish ? a.pt.high : a.pt.low;
  const prices = bearish ? p.series.high : p.series.low;
  const idx = bearish ? p.pivotHighs : p.pivotLows;
  const found = bearish ? a.bearPivot : a.bullPivot;
  let best: PivotCandidate | null = null;
  let bestScore = -1;
  let between = bearish ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  let k = e - 1;
  for (let j = idx.last[i] as number; j >= 0 && e - j <= d.lookbackCandles; j = idx.prev[j] as number) {
    for (; k > j; k--) between = bearish ? Math.max(between, prices[k] as number) : Math.min(between, prices[k] as number);
    const pj = prices[j] as number;
    const rj = p.rsi[j] as number;
    const c: PivotCandidate = {
      pivot: j,
      rsiBeyond: bearish ? rj > d.overbought : rj < d.oversold,
      newExtreme: bearish ? ext > pj && ext >= between : ext < pj && ext <= between,
      diverges: a.warm && (bearish ? rsiE <= rj - d.minRsiDelta : rsiE >= rj + d.minRsiDelta),
      extremeToBeat: bearish ? Math.max(pj, between) : Math.min(pj, between),
    };
    if (j === found) return c;
    const score = (c.rsiBeyond ? 1 : 0) + (c.newExtreme ? 1 : 0) + (c.diverges ? 1 : 0);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function divergenceSide(p: V52Prepared, i: number, a: V52Analysis, bearish: boolean): ReadinessSide {
  const cfg = p.cfg;
  const d = cfg.divergence;
  const c = pivotCandidate(p, i, a, bearish);
  const rj = c ? (p.rsi[c.pivot] as number) : null;
  const swing = bearish ? 'swing high' : 'swing low';
  const other = bearish ? a.bullPivot >= 0 : a.bearPivot >= 0;
  const conditions: ReadinessCondition[] = [
    numericCondition({
      id: 'pivot_rsi',
      label: c
        ? `RSI(${d.rsiPeriod}) at the ${swing} ${a.pt.e - c.pivot} candles ago ${bearish ? 'above overbought' : 'below oversold'}`
        : `no confirmed ${swing} in the last ${d.lookbackCandles} candles`,
      value: rj,
      threshold: bearish ? d.overbought : d.oversold,
      comparator: bearish ? '>' : '<',
      met: c !== null && c.rsiBeyond,
      from: RSI_NEUTRAL,
    }),
    numericCondition({
      id: 'new_extreme',
      label: bearish ? 'high beyond the swing high and every high since' : 'low beyond the swing low and every low since',
      value: c ? (bearish ? a.pt.high : a.pt.low) : null,
      threshold: c ? c.extremeToBeat : Number.NaN,
      comparator: bearish ? '>' : '<',
      met: c !== null && c.newExtreme,
      ...(c && a.atrNow > 0 ? { from: bearish ? c.extremeToBeat - a.atrNow : c.extremeToBeat + a.atrNow } : {}),
    }),
    numericCondition({
      id: 'rsi_divergence',
      label: `RSI(${d.rsiPeriod}) now ${bearish ? 'below' : 'above'} the pivot's RSI ${bearish ? '-' : '+'} ${d.minRsiDelta}`,
      value: c && a.warm ? a.pt.rsiE : null,
      threshold: rj === null ? Number.NaN : bearish ? rj - d.minRsiDelta : rj + d.minRsiDelta,
      comparator: bearish ? '<=' : '>=',
      met: c !== null && c.diverges,
      // counted from the pivot's own RSI (0: no divergence at all; 1: the full delta), which is what
      // the check compares RSI now with (50 lies on the met side of this threshold)
      ...(rj === null ? {} : { from: rj }),
    }),
    numericCondition({
      id: 'volume_spike',
      label: `volume x EMA${cfg.volumeSpike.emaPeriod} of the candles before`,
      value: a.pt.volumeRatio,
      threshold: cfg.volumeSpike.minRatio,
      comparator: '>=',
      met: a.pt.spike,
    }),
    flagCondition('one_direction', `no ${bearish ? 'bullish' : 'bearish'} divergence at the same time`, a.warm && !other, other ? `${bearish ? 'bullish' : 'bearish'} divergence too` : !other),
  ];
  if (cfg.exits.mode === 'atr') conditions.push(flagCondition('atr_exits', `ATR(${cfg.exits.atr.period}) available for the exits`, a.atrNow > 0));
  conditions.push(infoCondition('pivot_age', `candles since the ${swing} (look-back ${d.lookbackCandles})`, c ? a.pt.e - c.pivot : null));
  return readinessSide(bearish ? 'SHORT' : 'LONG', conditions);
}

/** Prices, volume ratio (spike?) and RSI of the closed candle i or of the forming candle. */
function evalPoint(p: V52Prepared, i: number, ctx?: EvalContext): EvalPoint {
  const s = p.series;
  const forming = ctx?.forming;
  const vol = forming ? forming.volume : (s.volume[i] as number);
  const volAvg = forming ? (p.volumeEma[i] as number) : i > 0 ? (p.volumeEma[i - 1] as number) : Number.NaN;
  const volumeRatio = volAvg > 0 ? vol / volAvg : Number.NaN;
  return {
    e: forming ? i + 1 : i,
    high: forming ? forming.high : (s.high[i] as number),
    low: forming ? forming.low : (s.low[i] as number),
    price: forming ? forming.close : (s.close[i] as number),
    volumeRatio,
    spike: volumeRatio >= p.cfg.volumeSpike.minRatio,
    rsiE: forming ? peekRsi(p.rsiState, s.close, i, forming.close) : (p.rsi[i] as number),
  };
}

/** The divergence found (bearish, bullish, both, or a price-only new extreme) and its reasons, then the volume's. */
function divergenceSetup(p: V52Prepared, a: V52Analysis, priceOnly: boolean): Setup {
  const pt = a.pt;
  const hasBear = a.bearPivot >= 0;
  const hasBull = a.bullPivot >= 0;
  const s = p.series;
  const { e, rsiE } = pt;
  const cfg = p.cfg;
  const d = cfg.divergence;
  const reasons: string[] = [];
  let direction: Direction | null = null;
  let pivot = -1;
  let pivotIsHigh = true;
  if (hasBear) {
    pivot = a.bearPivot;
    direction = 'SHORT';
    reasons.push(
      `bearish RSI divergence: high ${pt.high} > pivot high ${s.high[pivot]} (${candleLag(e, pivot)} candles ago) while RSI(${d.rsiPeriod}) ${round(rsiE)} <= ${round(p.rsi[pivot] as number)} - ${d.minRsiDelta}`,
    );
  }
  if (hasBull) {
    if (!hasBear) {
      pivot = a.bullPivot;
      pivotIsHigh = false;
    }
    direction = hasBear ? null : 'LONG';
    reasons.push(
      `bullish RSI divergence: low ${pt.low} < pivot low ${s.low[a.bullPivot]} (${candleLag(e, a.bullPivot)} candles ago) while RSI(${d.rsiPeriod}) ${round(rsiE)} >= ${round(p.rsi[a.bullPivot] as number)} + ${d.minRsiDelta}`,
    );
  }
  if (priceOnly) {
    const bearish = a.bearPriceOnly >= 0;
    pivot = bearish ? a.bearPriceOnly : a.bullPriceOnly;
    pivotIsHigh = bearish;
    reasons.push(
      `${bearish ? 'higher high' : 'lower low'} beyond the pivot ${candleLag(e, pivot)} candles ago, but RSI(${d.rsiPeriod}) ${round(rsiE)} does not diverge from ${round(p.rsi[pivot] as number)} by ${d.minRsiDelta}`,
    );
  }
  reasons.push(
    pt.spike
      ? `volume spike: ${round(pt.volumeRatio)} x EMA${cfg.volumeSpike.emaPeriod} >= ${cfg.volumeSpike.minRatio}`
      : `no volume spike: ${round(pt.volumeRatio)} x EMA${cfg.volumeSpike.emaPeriod} < ${cfg.volumeSpike.minRatio}`,
  );
  return { direction, pivot, pivotIsHigh, reasons };
}

/**
 * SKIP on divergence both ways; TAKE on one divergence with a volume spike (SKIP when the exits cannot
 * be computed); NEAR_MISS otherwise. Adds the reason to `reasons` where there is one.
 */
function decideOnDivergence(
  hasBear: boolean,
  hasBull: boolean,
  pt: EvalPoint,
  direction: Direction | null,
  cfg: V52DivergenceConfig,
  atrNow: number,
  reasons: string[],
): { decision: ScalpDecision['decision']; proposal: ScalpDecision['proposal'] } {
  if (hasBear && hasBull) {
    reasons.push('bullish and bearish divergence at once (outside candle): no direction');
    return { decision: 'SKIP', proposal: null };
  }
  if (!((hasBear || hasBull) && pt.spike && direction)) return { decision: 'NEAR_MISS', proposal: null };
  const exits = computeExits(direction, pt.price, cfg.exits, atrNow);
  if (!exits) {
    reasons.push(`ATR(${cfg.exits.atr.period}) not available for ATR exits`);
    return { decision: 'SKIP', proposal: null };
  }
  return { decision: 'TAKE', proposal: { entry: pt.price, stopLoss: exits.stopLoss, takeProfit: exits.takeProfit, exitMode: cfg.exits.mode } };
}

function candleLag(e: number, j: number): number {
  return e - j;
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export const v52Divergence: ScalpStrategy<V52DivergenceConfig, V52Prepared> = {
  id: STRATEGY,
  prepare,
  evaluateAt,
  readinessAt,
};
