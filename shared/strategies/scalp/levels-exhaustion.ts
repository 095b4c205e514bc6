/**
 * MICRO-SCALP "levels + exhaustion" (SPEC 4).
 *
 * At a level: price (close, or the snapshot price) within `levels.proximityPct` % of a valid horizontal
 * level or trend line (the nearest one counts). The level's kind gives the direction: resistance ->
 * SHORT, support -> LONG. The four exhaustion checks (shared/strategies/exhaustion.ts) are evaluated FOR
 * that direction ("overbought exhaustion" at resistance: RSI > overbought, low volume, upper-wick
 * double top, bid->ask book flip; "oversold" at support: the mirrors).
 *
 * Decisions (what is logged to the scan history):
 * - not at a level, or at a level with 0 checks hit -> null (no setup considered; not logged);
 * - checks hit >= minChecks -> TAKE with a limit entry at the evaluated price and exits, or SKIP when
 *   the exits cannot be computed (ATR exits during ATR warm-up);
 * - checks hit == minChecks - 1 -> NEAR_MISS; fewer (only when minChecks > 2) -> SKIP.
 * The order-book flip is `unavailable` without book data (backtests): it then simply cannot hit and
 * the features say so.
 *
 * Levels: by default from the 1m series itself (resampled to 15m / 1h WITHOUT lookahead: at index i
 * only HTF candles closed by the close of candle i); production may pass `ctx.levels` computed from
 * the hot 15m/1h store (see `levelSetFor`).
 */
import type { LevelsExhaustionConfig } from '../../config/strategy.js';
import { INTERVAL_MS } from '../../model/market.js';
import type { Direction } from '../../model/trading.js';
import { atr, ema, rsi } from '../../indicators/index.js';
import { doubleWickCheck, lowVolumeCheck, orderBookFlipCheck, rsiCheck, UNAVAILABLE } from '../exhaustion.js';
import {
  BOUNDARY_EPSILON,
  EMPTY_LEVEL_SET,
  horizontalLevels,
  nearestLevel,
  pivotFlags,
  trendLines,
  trendLineValueAt,
  type HorizontalLevel,
  type LevelKind,
  type LevelSet,
  type TrendLine,
} from '../levels.js';
import { resample, type ResampledSeries } from '../resample.js';
import type { CandleSeries } from '../series.js';
import {
  cacheFor,
  computeExits,
  evaluationPoint,
  num,
  peekRsi,
  projectedVolume,
  rsiState,
  signalIdFor,
  type EvalContext,
  type IndicatorCache,
  type PreparedBase,
  type RsiState,
  type ScalpDecision,
  type ScalpStrategy,
} from './common.js';

const STRATEGY = 'levels_exhaustion' as const;
/** Number of exhaustion checks (RSI, low volume, double wick, order-book flip). */
export const EXHAUSTION_CHECK_COUNT = 4;

/** Levels of the 1m series at any index, computed once per closed 15m / 1h candle and memoised. */
export class LevelTracker {
  readonly htfHorizontal: ResampledSeries;
  readonly htfTrend: ResampledSeries;
  private readonly pivots: { highs: Uint8Array; lows: Uint8Array };
  private readonly hMemo: (HorizontalLevel[] | undefined)[];
  private readonly tMemo: (TrendLine[] | undefined)[];
  private lastKey = -1;
  private lastSet: LevelSet = EMPTY_LEVEL_SET;

  constructor(
    series1m: CandleSeries,
    private readonly cfg: LevelsExhaustionConfig['levels'],
  ) {
    this.htfHorizontal = resample(series1m, cfg.horizontal.interval);
    this.htfTrend = resample(series1m, cfg.trendLines.interval);
    const t = this.htfTrend.series;
    this.pivots = pivotFlags(t.high, t.low, cfg.trendLines.swingStrength);
    this.hMemo = new Array(this.htfHorizontal.series.length + 1);
    this.tMemo = new Array(t.length + 1);
  }

  /** The level set as it was at the close of 1m candle i. */
  at(i: number): LevelSet {
    const ch = this.htfHorizontal.visibleCount[i] as number;
    const ct = this.htfTrend.visibleCount[i] as number;
    const key = ch * (this.tMemo.length + 1) + ct;
    if (key === this.lastKey) return this.lastSet;
    let h = this.hMemo[ch];
    if (!h) {
      h = horizontalLevels(this.htfHorizontal.series, ch, this.cfg.horizontal);
      this.hMemo[ch] = h;
    }
    let t = this.tMemo[ct];
    if (!t) {
      t = trendLines(this.htfTrend.series, ct, this.cfg.trendLines, undefined, this.pivots);
      this.tMemo[ct] = t;
    }
    this.lastKey = key;
    this.lastSet = { horizontal: h, trendLines: t };
    return this.lastSet;
  }
}

/**
 * Production helper: levels from separately stored closed HTF candles (e.g. the hot 15m and 1h
 * windows), to pass as `ctx.levels`.
 */
export function levelSetFor(htfHorizontal: CandleSeries, htfTrend: CandleSeries, cfg: LevelsExhaustionConfig['levels']): LevelSet {
  return {
    horizontal: horizontalLevels(htfHorizontal, htfHorizontal.length, cfg.horizontal),
    trendLines: trendLines(htfTrend, htfTrend.length, cfg.trendLines),
  };
}

export interface LevelsExhaustionPrepared extends PreparedBase<LevelsExhaustionConfig> {
  readonly rsi: Float64Array;
  readonly rsiState: RsiState;
  readonly volumeEma: Float64Array;
  readonly atr: Float64Array;
  readonly levels: LevelTracker;
}

function prepare(series: CandleSeries, cfg: LevelsExhaustionConfig, cache?: IndicatorCache): LevelsExhaustionPrepared {
  if (series.interval !== '1m') throw new Error(`levels_exhaustion evaluates 1m candles, got ${series.interval}`);
  const c = cacheFor(series, cache);
  const ex = cfg.exhaustion;
  return {
    series,
    cfg,
    rsi: c.get(`rsi:${ex.rsi.period}`, () => rsi(series.close, ex.rsi.period)),
    rsiState: c.get(`rsiState:${ex.rsi.period}`, () => rsiState(series.close, ex.rsi.period)),
    volumeEma: c.get(`ema:volume:${ex.lowVolume.emaPeriod}`, () => ema(series.volume, ex.lowVolume.emaPeriod)),
    atr: c.get(`atr:${cfg.exits.atr.period}`, () => atr(series.high, series.low, series.close, cfg.exits.atr.period)),
    levels: c.get(`levels:${JSON.stringify(cfg.levels)}`, () => new LevelTracker(series, cfg.levels)),
  };
}

function evaluateAt(p: LevelsExhaustionPrepared, i: number, ctx?: EvalContext): ScalpDecision | null {
  const s = p.series;
  const cfg = p.cfg;
  const forming = ctx?.forming;
  const { ts, candleTime } = evaluationPoint(s, i, forming);
  const price = forming ? forming.close : (s.close[i] as number);

  // 1. At a level?
  const set = ctx?.levels ?? p.levels.at(i);
  const prox = cfg.levels.proximityPct;
  let levelPrice = Number.NaN;
  let kind: LevelKind = 'support';
  let source = '';
  let touches: number | null = null;
  let r2: number | null = null;
  let bestAbs = Number.POSITIVE_INFINITY;
  const nh = nearestLevel(price, set.horizontal, prox);
  if (nh) {
    const l = set.horizontal[nh.index] as HorizontalLevel;
    levelPrice = l.price;
    kind = l.kind;
    source = 'horizontal';
    touches = l.touches;
    bestAbs = Math.abs(price - l.price);
  }
  for (const line of set.trendLines) {
    const v = trendLineValueAt(line, ts);
    const d = Math.abs(price - v);
    if (d < bestAbs && d <= v * (prox / 100) * (1 + BOUNDARY_EPSILON)) {
      levelPrice = v;
      kind = line.kind;
      source = `trendline_${line.side}`;
      touches = line.swings;
      r2 = line.r2;
      bestAbs = d;
    }
  }
  if (source === '') return null;
  const direction: Direction = kind === 'resistance' ? 'SHORT' : 'LONG';

  // 2. Exhaustion checks for that direction.
  const ex = cfg.exhaustion;
  const rsiNow = forming ? peekRsi(p.rsiState, s.close, i, forming.close) : (p.rsi[i] as number);
  const volAvg = forming ? (p.volumeEma[i] as number) : i > 0 ? (p.volumeEma[i - 1] as number) : Number.NaN;
  const vol = forming ? projectedVolume(forming, INTERVAL_MS[s.interval]) : (s.volume[i] as number);
  const cRsi = rsiCheck(rsiNow, direction, ex.rsi);
  const cVol = lowVolumeCheck(vol, volAvg, ex.lowVolume.maxRatio);
  const cWick = forming ? doubleWickCheck(s, i, direction, ex.doubleWick, forming) : doubleWickCheck(s, i, direction, ex.doubleWick);
  const cFlip = orderBookFlipCheck(ctx?.book, ts, direction, ex.orderBookFlip);
  const flipHit = cFlip !== UNAVAILABLE && cFlip.hit;
  const hits = (cRsi.hit ? 1 : 0) + (cVol.hit ? 1 : 0) + (cWick.hit ? 1 : 0) + (flipHit ? 1 : 0);
  if (hits === 0) return null;

  const levelDistancePct = ((price - levelPrice) / levelPrice) * 100;
  const atrNow = p.atr[i] as number;
  const reasons: string[] = [
    `price ${price} at ${kind} ${source} ${round(levelPrice)} (${round(levelDistancePct, 4)} %, within ${prox} %)`,
  ];
  const side = direction === 'SHORT' ? 'overbought' : 'oversold';
  if (cRsi.hit) reasons.push(`RSI(${ex.rsi.period}) ${round(rsiNow, 2)} ${direction === 'SHORT' ? '>' : '<'} ${cRsi.threshold}`);
  if (cVol.hit) reasons.push(`low volume: ${round(cVol.value, 3)} x EMA${ex.lowVolume.emaPeriod} < ${ex.lowVolume.maxRatio}`);
  if (cWick.hit) reasons.push(`double wick: ${direction === 'SHORT' ? 'highs' : 'lows'} ${round(cWick.value, 4)} % apart (<= ${ex.doubleWick.maxApartPct} %)`);
  if (cFlip === UNAVAILABLE) reasons.push('order-book flip unavailable (no book data)');
  else if (cFlip.hit) reasons.push(`order-book flip: |imbalance| ${round(cFlip.value, 3)} >= ${cFlip.threshold} on both sides`);

  let decision: ScalpDecision['decision'];
  let proposal: ScalpDecision['proposal'] = null;
  if (hits >= ex.minChecks) {
    const exits = computeExits(direction, price, cfg.exits, atrNow);
    if (exits) {
      decision = 'TAKE';
      proposal = { entry: price, stopLoss: exits.stopLoss, takeProfit: exits.takeProfit, exitMode: cfg.exits.mode };
      reasons.push(`${hits}/${EXHAUSTION_CHECK_COUNT} ${side} exhaustion checks >= ${ex.minChecks}: ${direction}`);
    } else {
      decision = 'SKIP';
      reasons.push(`ATR(${cfg.exits.atr.period}) not available for ATR exits`);
    }
  } else {
    decision = hits === ex.minChecks - 1 ? 'NEAR_MISS' : 'SKIP';
    reasons.push(`${hits}/${EXHAUSTION_CHECK_COUNT} ${side} exhaustion checks < ${ex.minChecks}`);
  }

  return {
    signalId: signalIdFor(STRATEGY, s.symbol, candleTime, forming),
    strategy: STRATEGY,
    engine: 'SCALP',
    symbol: s.symbol,
    ts,
    candleTime,
    decision,
    direction: decision === 'TAKE' ? direction : null,
    price,
    reasons,
    features: {
      snapshot: forming !== undefined,
      setupDirection: direction,
      levelSource: source,
      levelKind: kind,
      levelPrice: num(levelPrice),
      levelDistancePct: num(levelDistancePct),
      levelTouches: touches,
      levelR2: r2,
      checksHit: hits,
      checkRsi: cRsi.hit,
      rsi: num(rsiNow),
      checkLowVolume: cVol.hit,
      volumeRatio: num(cVol.value),
      checkDoubleWick: cWick.hit,
      doubleWickApartPct: num(cWick.value),
      checkBookFlip: cFlip === UNAVAILABLE ? UNAVAILABLE : cFlip.hit,
      bookFlipImbalance: cFlip === UNAVAILABLE ? null : num(cFlip.value),
      atr: num(atrNow),
      exitMode: cfg.exits.mode,
      entry: proposal ? proposal.entry : null,
      stopLoss: proposal ? proposal.stopLoss : null,
      takeProfit: proposal ? proposal.takeProfit : null,
    },
    proposal,
  };
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const levelsExhaustion: ScalpStrategy<LevelsExhaustionConfig, LevelsExhaustionPrepared> = {
  id: STRATEGY,
  prepare,
  evaluateAt,
};
