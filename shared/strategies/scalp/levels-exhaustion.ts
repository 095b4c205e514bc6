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
import { atr, ema, rsi } from '../../indicators/tulind.js';
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
import type { ReadinessCondition, ReadinessSide } from '../../dashboard/api.js';
import { flagCondition, numericCondition, readinessSide, type StrategyReadinessAt } from '../readiness.js';

const STRATEGY = 'levels_exhaustion' as const;
/** RSI's neutral line: where readiness counts the RSI check's progress from. */
const RSI_NEUTRAL = 50;
/** Number of exhaustion checks (RSI, low volume, double wick, order-book flip). */
const EXHAUSTION_CHECK_COUNT = 4;

/** Levels of the 1m series at any index, computed once per closed 15m / 1h candle and memoised. */
class LevelTracker {
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

/** The level price is at: the nearest horizontal level or trend line within the proximity. */
interface LevelHit {
  price: number;
  kind: LevelKind;
  source: string;
  touches: number | null;
  r2: number | null;
}

/** The four exhaustion checks for a direction, with the inputs they were judged on. */
interface ExhaustionChecks {
  rsiNow: number;
  cRsi: ReturnType<typeof rsiCheck>;
  cVol: ReturnType<typeof lowVolumeCheck>;
  cWick: ReturnType<typeof doubleWickCheck>;
  cFlip: ReturnType<typeof orderBookFlipCheck>;
  hits: number;
}

/** What both `evaluateAt` and `readinessAt` decide on: the evaluated point and the level price is at. */
interface LevelsAnalysis {
  ts: number;
  candleTime: number;
  price: number;
  set: LevelSet;
  level: LevelHit | null;
}

function analyse(p: LevelsExhaustionPrepared, i: number, ctx?: EvalContext): LevelsAnalysis {
  const forming = ctx?.forming;
  const { ts, candleTime } = evaluationPoint(p.series, i, forming);
  const price = forming ? forming.close : (p.series.close[i] as number);
  const set = ctx?.levels ?? p.levels.at(i);
  return { ts, candleTime, price, set, level: levelAt(set, price, ts, p.cfg.levels.proximityPct) };
}

function evaluateAt(p: LevelsExhaustionPrepared, i: number, ctx?: EvalContext): ScalpDecision | null {
  // 1. At a level? The level's kind gives the direction.
  const a = analyse(p, i, ctx);
  if (!a.level) return null;
  // 2. Exhaustion checks for that direction.
  return decisionOf(p, i, ctx, a, a.level, exhaustionChecks(p, i, a.level.kind === 'resistance' ? 'SHORT' : 'LONG', a.ts, ctx));
}

function decisionOf(p: LevelsExhaustionPrepared, i: number, ctx: EvalContext | undefined, a: LevelsAnalysis, level: LevelHit, checks: ExhaustionChecks): ScalpDecision | null {
  if (checks.hits === 0) return null;
  const s = p.series;
  const cfg = p.cfg;
  const forming = ctx?.forming;
  const { ts, candleTime, price } = a;
  const direction: Direction = level.kind === 'resistance' ? 'SHORT' : 'LONG';
  const levelDistancePct = ((price - level.price) / level.price) * 100;
  const atrNow = p.atr[i] as number;
  const reasons = [
    `price ${price} at ${level.kind} ${level.source} ${round(level.price)} (${round(levelDistancePct, 4)} %, within ${cfg.levels.proximityPct} %)`,
    ...checkReasons(checks, direction, cfg.exhaustion),
  ];
  const { decision, proposal } = decideOnChecks(checks.hits, direction, price, cfg, atrNow, reasons);
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
    features: decisionFeatures(forming !== undefined, direction, level, levelDistancePct, checks, atrNow, cfg, proposal),
    proposal,
  };
}

/**
 * Readiness at index i (the dashboard's Strategies page), from the same analysis and checks as
 * `evaluateAt`: per side (SHORT at a resistance, LONG at a support) the distance to the nearest level
 * of that kind (met when it is THE level price is at: the nearest one within the proximity), the four
 * exhaustion checks for that direction (each shown, counted by `exhaustion_checks`: hits >= minChecks)
 * and (ATR exits) an ATR. A side has every required condition met exactly when evaluateAt is a TAKE in
 * that direction. Without book samples the order-book flip is `unavailable` (never hits), as in
 * evaluateAt.
 */
export function readinessAt(p: LevelsExhaustionPrepared, i: number, ctx?: EvalContext): StrategyReadinessAt {
  const a = analyse(p, i, ctx);
  const short = exhaustionChecks(p, i, 'SHORT', a.ts, ctx);
  const long = exhaustionChecks(p, i, 'LONG', a.ts, ctx);
  const d = a.level ? decisionOf(p, i, ctx, a, a.level, a.level.kind === 'resistance' ? short : long) : null;
  return {
    decision: d ? d.decision : null,
    direction: d ? d.direction : null,
    asOf: a.ts,
    sides: [levelSide(p, i, a, 'SHORT', short), levelSide(p, i, a, 'LONG', long)],
  };
}

/** Distance in % from price to the nearest level of `kind` (horizontal or trend line at ts), any distance; NaN when none. */
function nearestOfKind(set: LevelSet, price: number, ts: number, kind: LevelKind): { distancePct: number; source: string; price: number } | null {
  let best: { distancePct: number; source: string; price: number } | null = null;
  const consider = (lp: number, source: string) => {
    if (!(lp > 0)) return;
    const dist = (Math.abs(price - lp) / lp) * 100;
    if (!best || dist < best.distancePct) best = { distancePct: dist, source, price: lp };
  };
  for (const l of set.horizontal) if (l.kind === kind) consider(l.price, 'horizontal');
  for (const line of set.trendLines) if (line.kind === kind) consider(trendLineValueAt(line, ts), `trendline_${line.side}`);
  return best;
}

function levelSide(p: LevelsExhaustionPrepared, i: number, a: LevelsAnalysis, direction: Direction, c: ExhaustionChecks): ReadinessSide {
  const cfg = p.cfg;
  const ex = cfg.exhaustion;
  const kind: LevelKind = direction === 'SHORT' ? 'resistance' : 'support';
  const near = nearestOfKind(a.set, a.price, a.ts, kind);
  const atIt = a.level !== null && a.level.kind === kind;
  const other = a.level !== null && !atIt ? ` (a nearer ${a.level.kind} is the level price is at)` : '';
  const group = 'exhaustion_checks';
  const flip = c.cFlip;
  const conditions: ReadinessCondition[] = [
    numericCondition({
      id: 'at_level',
      label: near ? `distance to the nearest ${kind} (${near.source} ${round(near.price)}), %${other}` : `no ${kind} level`,
      value: near ? near.distancePct : null,
      threshold: cfg.levels.proximityPct,
      comparator: '<=',
      met: atIt,
    }),
    numericCondition({
      id: 'rsi',
      label: `RSI(${ex.rsi.period}) ${direction === 'SHORT' ? 'above overbought' : 'below oversold'}`,
      value: c.rsiNow,
      threshold: c.cRsi.threshold,
      comparator: direction === 'SHORT' ? '>' : '<',
      met: c.cRsi.hit,
      partOf: group,
      from: RSI_NEUTRAL,
    }),
    numericCondition({
      id: 'low_volume',
      label: `volume x EMA${ex.lowVolume.emaPeriod} of the candles before`,
      value: c.cVol.value,
      threshold: c.cVol.threshold,
      comparator: '<',
      met: c.cVol.hit,
      partOf: group,
    }),
    numericCondition({
      id: 'double_wick',
      label: `${direction === 'SHORT' ? 'highs' : 'lows'} of two wicks within the last ${ex.doubleWick.lookbackCandles} candles, % apart`,
      value: c.cWick.value,
      threshold: c.cWick.threshold,
      comparator: '<=',
      met: c.cWick.hit,
      partOf: group,
    }),
    flip === UNAVAILABLE
      ? flagCondition('book_flip', 'order-book flip (no book samples: unavailable)', false, UNAVAILABLE, group)
      : numericCondition({
          id: 'book_flip',
          label: `order-book imbalance flip over ${Math.round(ex.orderBookFlip.windowMs / 1000)} s`,
          value: flip.value,
          threshold: flip.threshold,
          comparator: '>=',
          met: flip.hit,
          partOf: group,
        }),
    numericCondition({
      id: group,
      label: `exhaustion checks hit (of ${EXHAUSTION_CHECK_COUNT})`,
      value: c.hits,
      threshold: ex.minChecks,
      comparator: '>=',
      met: c.hits >= ex.minChecks,
    }),
  ];
  if (cfg.exits.mode === 'atr') conditions.push(flagCondition('atr_exits', `ATR(${cfg.exits.atr.period}) available for the exits`, (p.atr[i] as number) > 0));
  return readinessSide(direction, conditions);
}

/** The nearest level within `prox` % of price: a horizontal level, or a trend line closer than it. */
function levelAt(set: LevelSet, price: number, ts: number, prox: number): LevelHit | null {
  let hit: LevelHit | null = null;
  let bestAbs = Number.POSITIVE_INFINITY;
  const nh = nearestLevel(price, set.horizontal, prox);
  if (nh) {
    const l = set.horizontal[nh.index] as HorizontalLevel;
    hit = { price: l.price, kind: l.kind, source: 'horizontal', touches: l.touches, r2: null };
    bestAbs = Math.abs(price - l.price);
  }
  for (const line of set.trendLines) {
    const v = trendLineValueAt(line, ts);
    const d = Math.abs(price - v);
    if (d < bestAbs && d <= v * (prox / 100) * (1 + BOUNDARY_EPSILON)) {
      hit = { price: v, kind: line.kind, source: `trendline_${line.side}`, touches: line.swings, r2: line.r2 };
      bestAbs = d;
    }
  }
  return hit;
}

/** RSI, low volume, double wick and order-book flip, on the closed candle i or the forming one. */
function exhaustionChecks(p: LevelsExhaustionPrepared, i: number, direction: Direction, ts: number, ctx?: EvalContext): ExhaustionChecks {
  const s = p.series;
  const forming = ctx?.forming;
  const ex = p.cfg.exhaustion;
  const rsiNow = forming ? peekRsi(p.rsiState, s.close, i, forming.close) : (p.rsi[i] as number);
  const volAvg = forming ? (p.volumeEma[i] as number) : i > 0 ? (p.volumeEma[i - 1] as number) : Number.NaN;
  const vol = forming ? projectedVolume(forming, INTERVAL_MS[s.interval]) : (s.volume[i] as number);
  const cRsi = rsiCheck(rsiNow, direction, ex.rsi);
  const cVol = lowVolumeCheck(vol, volAvg, ex.lowVolume.maxRatio);
  const cWick = forming ? doubleWickCheck(s, i, direction, ex.doubleWick, forming) : doubleWickCheck(s, i, direction, ex.doubleWick);
  const cFlip = orderBookFlipCheck(ctx?.book, ts, direction, ex.orderBookFlip);
  const flipHit = cFlip !== UNAVAILABLE && cFlip.hit;
  const hits = (cRsi.hit ? 1 : 0) + (cVol.hit ? 1 : 0) + (cWick.hit ? 1 : 0) + (flipHit ? 1 : 0);
  return { rsiNow, cRsi, cVol, cWick, cFlip, hits };
}

/** One reason per check that hit (and the flip's unavailability). */
function checkReasons(c: ExhaustionChecks, direction: Direction, ex: LevelsExhaustionConfig['exhaustion']): string[] {
  const reasons: string[] = [];
  if (c.cRsi.hit) reasons.push(`RSI(${ex.rsi.period}) ${round(c.rsiNow, 2)} ${direction === 'SHORT' ? '>' : '<'} ${c.cRsi.threshold}`);
  if (c.cVol.hit) reasons.push(`low volume: ${round(c.cVol.value, 3)} x EMA${ex.lowVolume.emaPeriod} < ${ex.lowVolume.maxRatio}`);
  if (c.cWick.hit) reasons.push(`double wick: ${direction === 'SHORT' ? 'highs' : 'lows'} ${round(c.cWick.value, 4)} % apart (<= ${ex.doubleWick.maxApartPct} %)`);
  if (c.cFlip === UNAVAILABLE) reasons.push('order-book flip unavailable (no book data)');
  else if (c.cFlip.hit) reasons.push(`order-book flip: |imbalance| ${round(c.cFlip.value, 3)} >= ${c.cFlip.threshold} on both sides`);
  return reasons;
}

/**
 * TAKE (limit entry at price, with exits) when enough checks hit, SKIP when the exits cannot be
 * computed; NEAR_MISS one check short, else SKIP. Adds the reason to `reasons`.
 */
function decideOnChecks(
  hits: number,
  direction: Direction,
  price: number,
  cfg: LevelsExhaustionConfig,
  atrNow: number,
  reasons: string[],
): { decision: ScalpDecision['decision']; proposal: ScalpDecision['proposal'] } {
  const ex = cfg.exhaustion;
  const side = direction === 'SHORT' ? 'overbought' : 'oversold';
  if (hits < ex.minChecks) {
    reasons.push(`${hits}/${EXHAUSTION_CHECK_COUNT} ${side} exhaustion checks < ${ex.minChecks}`);
    return { decision: hits === ex.minChecks - 1 ? 'NEAR_MISS' : 'SKIP', proposal: null };
  }
  const exits = computeExits(direction, price, cfg.exits, atrNow);
  if (!exits) {
    reasons.push(`ATR(${cfg.exits.atr.period}) not available for ATR exits`);
    return { decision: 'SKIP', proposal: null };
  }
  reasons.push(`${hits}/${EXHAUSTION_CHECK_COUNT} ${side} exhaustion checks >= ${ex.minChecks}: ${direction}`);
  return { decision: 'TAKE', proposal: { entry: price, stopLoss: exits.stopLoss, takeProfit: exits.takeProfit, exitMode: cfg.exits.mode } };
}

/** The features logged with the decision (scan history). */
function decisionFeatures(
  snapshot: boolean,
  direction: Direction,
  level: LevelHit,
  levelDistancePct: number,
  c: ExhaustionChecks,
  atrNow: number,
  cfg: LevelsExhaustionConfig,
  proposal: ScalpDecision['proposal'],
): ScalpDecision['features'] {
  return {
    snapshot,
    setupDirection: direction,
    levelSource: level.source,
    levelKind: level.kind,
    levelPrice: num(level.price),
    levelDistancePct: num(levelDistancePct),
    levelTouches: level.touches,
    levelR2: level.r2,
    checksHit: c.hits,
    checkRsi: c.cRsi.hit,
    rsi: num(c.rsiNow),
    checkLowVolume: c.cVol.hit,
    volumeRatio: num(c.cVol.value),
    checkDoubleWick: c.cWick.hit,
    doubleWickApartPct: num(c.cWick.value),
    checkBookFlip: c.cFlip === UNAVAILABLE ? UNAVAILABLE : c.cFlip.hit,
    bookFlipImbalance: c.cFlip === UNAVAILABLE ? null : num(c.cFlip.value),
    atr: num(atrNow),
    exitMode: cfg.exits.mode,
    entry: proposal ? proposal.entry : null,
    stopLoss: proposal ? proposal.stopLoss : null,
    takeProfit: proposal ? proposal.takeProfit : null,
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
  readinessAt,
};
