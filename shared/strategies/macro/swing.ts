/**
 * MACRO swing setups (SPEC 3): DCA, SWING (breakout) and CHANNEL, each a pure evaluation over
 * columnar candles at one index (no lookahead: only indices <= i are read), returning a scan
 * decision (TAKE / SKIP / NEAR_MISS with reasons and features) and, for a TAKE, the actionable
 * signal (entries, stop loss, take profit, trailing, time exit, confidence, tier).
 *
 * Rules (numbers from `MacroConfig.setups`, exits from `MacroConfig.exits[tier]`):
 * - DCA (`dca`, on DCA_INTERVAL candles): recent high = highest high of the candles that opened within
 *   `highWindowMs` before candle i closed (candle i included); drop = (high - close) / high;
 *   TAKE when drop >= `dropFromHighPct`, volume_i > `minVolumeRatio` x SMA(volume, `volumeAvgPeriod`)
 *   of the candles BEFORE i, and the BTC regime is known and not in `blockedRegimes`. Entries: a grid
 *   of `gridOrders` limit buys at close x (1 - k x `gridSpacingPct`/100), k = 0.., equal size
 *   (`entryWeights`). Stop below the LAST grid entry, take profit above the FIRST one (reached, it
 *   profits every filled entry). Time exit `timeExitMs` (72 h).
 * - SWING breakout (`swing_breakout`, on SWING_INTERVAL candles): resistance = highest high of the
 *   `resistanceLookback` candles BEFORE i (a simple recent-high resistance, chosen so the setup needs
 *   no other module; pass your own levels through `SwingContext.resistance` to override it);
 *   TAKE when close > resistance x (1 + `breakoutPct`/100), volume_i >= `minVolumeRatio` x the
 *   average of the candles before i, RSI(`rsiPeriod`) > `rsiMin`, and (if `require4hUptrend`) the last
 *   CLOSED 4h candle has EMA fast > EMA slow (periods/interval of `bias.components.trend4h`).
 *   One limit entry at the close. Time exit `timeExitMs` (48 h).
 * - CHANNEL (`channel`, on `setups.CHANNEL.interval` candles): a linear-regression channel over the
 *   last `lookbackCandles` candles (i included): centre = least-squares line of the closes, upper and
 *   lower boundaries parallel to it at +/- CHANNEL_HALF_WIDTH_RANGES x the mean candle range
 *   (high - low) of the window. Strength = fraction of the window's closes inside or on the
 *   boundaries. Position = (close - lower) / (upper - lower) at i. TAKE when strength >= `minStrength`
 *   and 0 <= position <= `entryZonePct`/100 (a close below the lower line is a breakdown, not the
 *   bottom of the channel). One limit entry at the close. Time exit `timeExitMs`.
 *
 * Decision: every check passes -> TAKE; exactly one check fails and it is numeric and within
 * NEAR_MISS_FRACTION of its threshold -> NEAR_MISS; otherwise SKIP. Reasons list every check.
 * Confidence (0-100) of a TAKE: CONFIDENCE_FLOOR + (100 - CONFIDENCE_FLOOR) x mean of the margins of
 * the numeric checks, each margin = clamp((value - threshold) / full-scale, 0, 1) (full scales below).
 *
 * Signal ids: `${strategy}:${symbol}:${candleOpenTime}` (deterministic; idempotent downstream).
 */
import type { MacroConfig, Regime, SwingSetup } from '../../config/strategy.js';
import { flagCondition, numericCondition, readinessSide, type StrategyReadinessAt } from '../readiness.js';
import { ema, rsi, sma } from '../../indicators/tulind.js';
import { INTERVAL_MS, type Interval, type Tier } from '../../model/market.js';
import type { Decision, Direction, ScanDecision, Signal, StrategyId } from '../../model/trading.js';
import { clamp, closeTimeAt, lastClosedIndex, round, type CandleColumns, type SeriesByInterval } from './columns.js';
import { MAX_STALE_INTERVALS } from './bias.js';

// ---- named constants (proposed config fields noted) ----

/** DCA is evaluated on 5m candles (proposed: `setups.DCA.interval`). */
export const DCA_INTERVAL: Interval = '5m';
/** Breakouts are evaluated on 1h candles (proposed: `setups.SWING.interval`). */
export const SWING_INTERVAL: Interval = '1h';
/** Channel half-width in mean candle ranges (proposed: `setups.CHANNEL.halfWidthRanges`). */
const CHANNEL_HALF_WIDTH_RANGES = 2;
/** A failing numeric check within this fraction of its threshold makes a NEAR_MISS. */
const NEAR_MISS_FRACTION = 0.2;
/** Confidence of a TAKE exactly at every threshold. */
const CONFIDENCE_FLOOR = 50;
/** Margins that count as "fully beyond the threshold" for the confidence. */
const DCA_DROP_FULL_MARGIN_PCT = 2.5;
const VOLUME_FULL_MARGIN_RATIO = 1.0;
const BREAKOUT_FULL_MARGIN_PCT = 1.0;
const RSI_FULL_MARGIN_POINTS = 20;

type SwingStrategyId = Extract<StrategyId, 'dca' | 'swing_breakout' | 'channel'>;

/**
 * Closed candles each setup needs on its interval before it is evaluated (fewer: SKIP "insufficient
 * data"): the one rule the evaluations below, the MACRO job's hot-window read (`candlesNeeded`) and
 * the backtester's warm-up (shared/backtest/warmup.ts) use. SWING's 4h-uptrend check (when required)
 * also needs `trend4h.emaSlow` closed candles of the trend interval.
 */
export function swingSetupCandles(cfg: MacroConfig): Record<SwingSetup, { interval: Interval; candles: number }> {
  const s = cfg.setups;
  return {
    DCA: { interval: DCA_INTERVAL, candles: s.DCA.volumeAvgPeriod + 1 },
    SWING: { interval: SWING_INTERVAL, candles: Math.max(s.SWING.resistanceLookback, s.SWING.volumeAvgPeriod, s.SWING.rsiPeriod) + 1 },
    CHANNEL: { interval: s.CHANNEL.interval, candles: s.CHANNEL.lookbackCandles },
  };
}

/** A TAKE as an actionable swing signal. */
export interface SwingSignal extends Signal {
  strategy: SwingStrategyId;
  engine: 'SWING';
  /** Share of the position per entry (equal size: 1 / entries.length each). */
  entryWeights: number[];
}

export type SwingScan = ScanDecision | SwingSignal;

export function isSwingSignal(d: SwingScan): d is SwingSignal {
  return d.decision === 'TAKE';
}

/** A resistance level supplied from outside (e.g. shared/strategies/levels.ts): just its price. */
interface ResistanceLevel {
  price: number;
}

export interface SwingContext {
  symbol: string;
  tier: Tier;
  /** BTC regime from the regime detector; null = unknown (DCA then does not open: fail safe). */
  regime: Regime | null;
  /**
   * Optional externally detected resistance levels. When given, the breakout resistance is the
   * highest level strictly below the current close (the level just broken), instead of the recent high.
   */
  resistance?: readonly ResistanceLevel[];
}

interface PreparedSwing {
  cfg: MacroConfig;
  dca?: { cols: CandleColumns; volAvg: Float64Array };
  breakout?: { cols: CandleColumns; volAvg: Float64Array; rsi: Float64Array };
  trend?: { cols: CandleColumns; fast: Float64Array; slow: Float64Array };
  channel?: { cols: CandleColumns };
}

/** Batch indicator series for every setup (computed once per series). */
export function prepareSwing(cfg: MacroConfig, series: SeriesByInterval): PreparedSwing {
  const s = cfg.setups;
  const p: PreparedSwing = { cfg };
  const d = series[DCA_INTERVAL];
  if (d && d.length > 0) p.dca = { cols: d, volAvg: sma(d.volume, s.DCA.volumeAvgPeriod) };
  const b = series[SWING_INTERVAL];
  if (b && b.length > 0) p.breakout = { cols: b, volAvg: sma(b.volume, s.SWING.volumeAvgPeriod), rsi: rsi(b.close, s.SWING.rsiPeriod) };
  const t4 = cfg.bias.components.trend4h;
  const t = series[t4.interval];
  if (t && t.length > 0) p.trend = { cols: t, fast: ema(t.close, t4.emaFast), slow: ema(t.close, t4.emaSlow) };
  const c = series[s.CHANNEL.interval];
  if (c && c.length > 0) p.channel = { cols: c };
  return p;
}

// ---------------------------------------------------------------------------------------------
// checks -> decision

interface Check {
  name: string;
  pass: boolean;
  /** What was compared (readiness shows it): the value, its threshold and the comparison. */
  value: number | boolean;
  threshold: number | boolean;
  comparator: '>=' | '>' | '<=' | '==';
  /** Numeric checks can be near misses; boolean ones (regime, trend) cannot. */
  near: boolean;
  reason: string;
  /** Margin beyond the threshold in [0, 1] (numeric checks only), for the confidence. */
  margin?: number;
}

/** value >= threshold (or > when strict). Near: value >= threshold x (1 - NEAR_MISS_FRACTION). */
function atLeast(name: string, value: number, threshold: number, strict: boolean, fullMargin: number, text: (ok: boolean) => string): Check {
  const pass = strict ? value > threshold : value >= threshold;
  const near = !pass && Number.isFinite(value) && value >= threshold * (1 - NEAR_MISS_FRACTION);
  return { name, pass, value, threshold, comparator: strict ? '>' : '>=', near, reason: text(pass), margin: clamp((value - threshold) / fullMargin, 0, 1) };
}

/** value <= threshold. Near: value <= threshold x (1 + NEAR_MISS_FRACTION). */
function atMost(name: string, value: number, threshold: number, fullMargin: number, text: (ok: boolean) => string): Check {
  const pass = value <= threshold;
  const near = !pass && Number.isFinite(value) && value <= threshold * (1 + NEAR_MISS_FRACTION);
  return { name, pass, value, threshold, comparator: '<=', near, reason: text(pass), margin: clamp((threshold - value) / fullMargin, 0, 1) };
}

function flag(name: string, pass: boolean, reason: string): Check {
  return { name, pass, value: pass, threshold: true, comparator: '==', near: false, reason };
}

function decide(checks: Check[]): Decision {
  const failed = checks.filter((c) => !c.pass);
  if (failed.length === 0) return 'TAKE';
  if (failed.length === 1 && failed[0]!.near) return 'NEAR_MISS';
  return 'SKIP';
}

function confidenceOf(checks: Check[]): number {
  const margins = checks.filter((c) => c.margin !== undefined).map((c) => c.margin as number);
  const mean = margins.length > 0 ? margins.reduce((s, x) => s + x, 0) / margins.length : 0;
  return Math.round(CONFIDENCE_FLOOR + (100 - CONFIDENCE_FLOOR) * mean);
}

function mark(c: Check): string {
  return `${c.pass ? 'ok' : 'FAIL'}: ${c.reason}`;
}

interface Base {
  strategy: SwingStrategyId;
  symbol: string;
  cols: CandleColumns;
  i: number;
}

function scan(b: Base, decision: Decision, direction: Direction | null, reasons: string[], features: ScanDecision['features']): ScanDecision {
  const candleTime = b.cols.openTime[b.i] as number;
  return {
    signalId: signalIdOf(b.strategy, b.symbol, candleTime),
    strategy: b.strategy,
    engine: 'SWING',
    symbol: b.symbol,
    ts: closeTimeAt(b.cols, b.i),
    candleTime,
    decision,
    direction,
    price: b.cols.close[b.i] as number,
    reasons,
    features,
  };
}

function signalIdOf(strategy: SwingStrategyId, symbol: string, candleOpenTime: number): string {
  return `${strategy}:${symbol}:${candleOpenTime}`;
}

function longSignal(
  d: ScanDecision,
  cfg: MacroConfig,
  ctx: SwingContext,
  entries: number[],
  checks: Check[],
  maxHoldMs: number,
): SwingSignal {
  const exits = cfg.exits[ctx.tier];
  const first = entries[0] as number;
  const lastEntry = entries[entries.length - 1] as number;
  return {
    ...d,
    strategy: d.strategy as SwingStrategyId,
    engine: 'SWING',
    decision: 'TAKE',
    direction: 'LONG',
    tier: ctx.tier,
    entries,
    entryWeights: entries.map(() => 1 / entries.length),
    stopLoss: lastEntry * (1 - exits.stopLossPct / 100),
    takeProfit: first * (1 + exits.takeProfitPct / 100),
    trailingFraction: exits.trailingPct / 100,
    maxHoldMs,
    confidence: confidenceOf(checks),
    emit: true,
  };
}

function finish(b: Base, cfg: MacroConfig, ctx: SwingContext, checks: Check[], features: ScanDecision['features'], entries: () => number[], maxHoldMs: number): SwingScan {
  const decision = decide(checks);
  const d = scan(b, decision, 'LONG', checks.map(mark), features);
  return decision === 'TAKE' ? longSignal(d, cfg, ctx, entries(), checks, maxHoldMs) : d;
}

function insufficient(b: Base, why: string): ScanDecision {
  return scan(b, 'SKIP', null, [`insufficient data: ${why}`], { insufficientData: true });
}

// ---------------------------------------------------------------------------------------------
// DCA

/** A setup's checks at one index (what its evaluateAt decides on and its readinessAt shows), or why there are none. */
type SetupChecks =
  | { b: Base; checks: Check[]; features: ScanDecision['features']; entries: () => number[]; maxHoldMs: number }
  | { insufficient: ScanDecision };

function decisionOfChecks(e: SetupChecks, cfg: MacroConfig, ctx: SwingContext): SwingScan {
  return 'insufficient' in e ? e.insufficient : finish(e.b, cfg, ctx, e.checks, e.features, e.entries, e.maxHoldMs);
}

/**
 * Readiness of a setup's checks (one LONG side: every check is required; the side is all met exactly
 * when the decision is TAKE). Insufficient data: a SKIP with no side and the reason as the note.
 */
function readinessOfChecks(e: SetupChecks): StrategyReadinessAt {
  if ('insufficient' in e) {
    const d = e.insufficient;
    return { decision: d.decision, direction: null, asOf: d.ts, sides: [], note: d.reasons.join('; ') };
  }
  const decision = decide(e.checks);
  const conditions = e.checks.map((c) =>
    c.comparator === '=='
      ? flagCondition(c.name, c.reason, c.pass)
      : numericCondition({ id: c.name, label: c.reason, value: c.value as number, threshold: c.threshold as number, comparator: c.comparator, met: c.pass }),
  );
  // the direction as the scan reports it (swing setups are LONG-only: every evaluated scan says LONG)
  return { decision, direction: 'LONG', asOf: closeTimeAt(e.b.cols, e.b.i), sides: [readinessSide('LONG', conditions)] };
}

export function evaluateDcaAt(p: PreparedSwing, i: number, ctx: SwingContext): SwingScan {
  return decisionOfChecks(dcaChecks(p, i, ctx), p.cfg, ctx);
}

/** DCA readiness at i: the same checks as evaluateDcaAt (drop from the high, volume, regime). */
export function dcaReadinessAt(p: PreparedSwing, i: number, ctx: SwingContext): StrategyReadinessAt {
  return readinessOfChecks(dcaChecks(p, i, ctx));
}

function dcaChecks(p: PreparedSwing, i: number, ctx: SwingContext): SetupChecks {
  const s = p.cfg.setups.DCA;
  if (!p.dca) throw new Error(`evaluateDcaAt: no ${DCA_INTERVAL} series prepared`);
  const { cols, volAvg } = p.dca;
  const b: Base = { strategy: 'dca', symbol: ctx.symbol, cols, i };
  const needDca = swingSetupCandles(p.cfg).DCA.candles;
  if (i + 1 < needDca) return { insufficient: insufficient(b, `${i + 1} ${cols.interval} candles, need ${needDca}`) };
  const close = cols.close[i] as number;
  const windowStart = closeTimeAt(cols, i) - s.highWindowMs;
  let high = -Infinity;
  let highTime = Number.NaN;
  for (let k = i; k >= 0 && (cols.openTime[k] as number) >= windowStart; k--) {
    if ((cols.high[k] as number) > high) {
      high = cols.high[k] as number;
      highTime = cols.openTime[k] as number;
    }
  }
  const dropPct = ((high - close) / high) * 100;
  const avg = volAvg[i - 1] as number;
  const ratio = avg > 0 ? (cols.volume[i] as number) / avg : Number.NaN;
  const hours = s.highWindowMs / INTERVAL_MS['1h'];
  const checks: Check[] = [
    atLeast('drop', dropPct, s.dropFromHighPct, false, DCA_DROP_FULL_MARGIN_PCT, (ok) =>
      `close ${close} is ${dropPct.toFixed(3)} % below the ${hours}h high ${high} (${ok ? '>=' : '<'} ${s.dropFromHighPct} %)`,
    ),
    atLeast('volume', ratio, s.minVolumeRatio, true, VOLUME_FULL_MARGIN_RATIO, (ok) =>
      `volume ${fmtRatio(ratio)} the ${s.volumeAvgPeriod}-candle average (${ok ? '>' : '<='} ${s.minVolumeRatio}x)`,
    ),
    flag(
      'regime',
      ctx.regime !== null && !s.blockedRegimes.includes(ctx.regime),
      ctx.regime === null ? 'BTC regime unknown (DCA needs a known regime)' : `BTC regime ${ctx.regime}${s.blockedRegimes.includes(ctx.regime) ? ' is blocked' : ' allowed'}`,
    ),
  ];
  const features = {
    interval: cols.interval,
    close,
    recentHigh: high,
    recentHighTime: highTime,
    dropPct: round(dropPct, 6),
    volumeRatio: Number.isFinite(ratio) ? round(ratio, 6) : null,
    regime: ctx.regime,
  };
  const entries = () => Array.from({ length: s.gridOrders }, (_, k) => close * (1 - (k * s.gridSpacingPct) / 100));
  return { b, checks, features, entries, maxHoldMs: s.timeExitMs };
}

// ---------------------------------------------------------------------------------------------
// SWING breakout

/** Whether the last 4h candle closed by `asOf` is in an uptrend (EMA fast > EMA slow); null = unknown. */
function uptrend4hAt(p: PreparedSwing, asOf: number): { up: boolean; fast: number; slow: number } | null {
  if (!p.trend) return null;
  const t4 = p.cfg.bias.components.trend4h;
  const j = lastClosedIndex(p.trend.cols, asOf);
  if (j + 1 < t4.emaSlow) return null;
  const fast = p.trend.fast[j] as number;
  const slow = p.trend.slow[j] as number;
  if (!Number.isFinite(fast) || !Number.isFinite(slow)) return null;
  return { up: fast > slow, fast, slow };
}

export function evaluateBreakoutAt(p: PreparedSwing, i: number, ctx: SwingContext): SwingScan {
  return decisionOfChecks(breakoutChecks(p, i, ctx), p.cfg, ctx);
}

/** SWING breakout readiness at i: the same checks as evaluateBreakoutAt (breakout, volume, RSI, 4h uptrend). */
export function breakoutReadinessAt(p: PreparedSwing, i: number, ctx: SwingContext): StrategyReadinessAt {
  return readinessOfChecks(breakoutChecks(p, i, ctx));
}

function breakoutChecks(p: PreparedSwing, i: number, ctx: SwingContext): SetupChecks {
  const s = p.cfg.setups.SWING;
  if (!p.breakout) throw new Error(`evaluateBreakoutAt: no ${SWING_INTERVAL} series prepared`);
  const { cols, volAvg, rsi: rsiSeries } = p.breakout;
  const b: Base = { strategy: 'swing_breakout', symbol: ctx.symbol, cols, i };
  const need = swingSetupCandles(p.cfg).SWING.candles;
  if (i + 1 < need) return { insufficient: insufficient(b, `${i + 1} ${cols.interval} candles, need ${need}`) };
  const close = cols.close[i] as number;
  let resistance = -Infinity;
  let source = `${s.resistanceLookback}-candle high`;
  if (ctx.resistance && ctx.resistance.length > 0) {
    source = 'supplied level';
    for (const l of ctx.resistance) if (l.price < close && l.price > resistance) resistance = l.price;
  } else {
    for (let k = i - s.resistanceLookback; k < i; k++) resistance = Math.max(resistance, cols.high[k] as number);
  }
  const breakoutPct = Number.isFinite(resistance) ? (close / resistance - 1) * 100 : Number.NaN;
  const avg = volAvg[i - 1] as number;
  const ratio = avg > 0 ? (cols.volume[i] as number) / avg : Number.NaN;
  const r = rsiSeries[i] as number;
  const trend = uptrend4hAt(p, closeTimeAt(cols, i));
  const checks: Check[] = [
    atLeast('breakout', breakoutPct, s.breakoutPct, true, BREAKOUT_FULL_MARGIN_PCT, (ok) =>
      Number.isFinite(resistance)
        ? `close ${close} is ${breakoutPct.toFixed(3)} % above resistance ${resistance} (${source}; ${ok ? '>' : '<='} ${s.breakoutPct} %)`
        : 'no supplied resistance level below the close',
    ),
    atLeast('volume', ratio, s.minVolumeRatio, false, VOLUME_FULL_MARGIN_RATIO, (ok) =>
      `volume ${fmtRatio(ratio)} the ${s.volumeAvgPeriod}-candle average (${ok ? '>=' : '<'} ${s.minVolumeRatio}x)`,
    ),
    atLeast('rsi', r, s.rsiMin, true, RSI_FULL_MARGIN_POINTS, (ok) => `RSI${s.rsiPeriod} ${Number.isFinite(r) ? r.toFixed(2) : 'n/a'} (${ok ? '>' : '<='} ${s.rsiMin})`),
  ];
  if (s.require4hUptrend) {
    const t4 = p.cfg.bias.components.trend4h;
    checks.push(
      flag(
        'uptrend4h',
        trend?.up === true,
        trend === null
          ? `4h trend unknown (fewer than ${t4.emaSlow} closed ${t4.interval} candles)`
          : `${t4.interval} EMA${t4.emaFast} ${round(trend.fast, 2)} ${trend.up ? '>' : '<='} EMA${t4.emaSlow} ${round(trend.slow, 2)}`,
      ),
    );
  }
  const features = {
    interval: cols.interval,
    close,
    resistance: Number.isFinite(resistance) ? resistance : null,
    resistanceSource: source,
    breakoutPct: Number.isFinite(breakoutPct) ? round(breakoutPct, 6) : null,
    volumeRatio: Number.isFinite(ratio) ? round(ratio, 6) : null,
    rsi: Number.isFinite(r) ? round(r, 4) : null,
    uptrend4h: trend === null ? null : trend.up,
  };
  return { b, checks, features, entries: () => [close], maxHoldMs: s.timeExitMs };
}

// ---------------------------------------------------------------------------------------------
// CHANNEL

interface Channel {
  /** Slope of the parallel lines per candle. */
  slope: number;
  /** Boundaries at the evaluated candle. */
  upper: number;
  lower: number;
  /** Fraction of the window's closes inside or on the boundaries. */
  strength: number;
  /** (close - lower) / (upper - lower) at the evaluated candle. */
  position: number;
}

/** Linear-regression channel over the `lookback` candles ending at i (see the module comment). */
export function detectChannel(cols: CandleColumns, i: number, lookback: number): Channel | null {
  const n = lookback;
  const start = i - n + 1;
  if (start < 0 || n < 2) return null;
  const xm = (n - 1) / 2;
  let mc = 0;
  let range = 0;
  for (let k = 0; k < n; k++) {
    mc += cols.close[start + k] as number;
    range += (cols.high[start + k] as number) - (cols.low[start + k] as number);
  }
  mc /= n;
  range /= n;
  let sxx = 0;
  let sxy = 0;
  for (let k = 0; k < n; k++) {
    const dx = k - xm;
    sxx += dx * dx;
    sxy += dx * ((cols.close[start + k] as number) - mc);
  }
  const slope = sxy / sxx;
  const half = CHANNEL_HALF_WIDTH_RANGES * range;
  if (!(half > 0)) return null;
  let inside = 0;
  for (let k = 0; k < n; k++) {
    const centre = mc + slope * (k - xm);
    const c = cols.close[start + k] as number;
    if (c >= centre - half && c <= centre + half) inside++;
  }
  const centreNow = mc + slope * (n - 1 - xm);
  const lower = centreNow - half;
  const upper = centreNow + half;
  return { slope, upper, lower, strength: inside / n, position: ((cols.close[i] as number) - lower) / (upper - lower) };
}

export function evaluateChannelAt(p: PreparedSwing, i: number, ctx: SwingContext): SwingScan {
  return decisionOfChecks(channelChecks(p, i, ctx), p.cfg, ctx);
}

/** CHANNEL readiness at i: the same checks as evaluateChannelAt (strength, inside, bottom zone). */
export function channelReadinessAt(p: PreparedSwing, i: number, ctx: SwingContext): StrategyReadinessAt {
  return readinessOfChecks(channelChecks(p, i, ctx));
}

function channelChecks(p: PreparedSwing, i: number, ctx: SwingContext): SetupChecks {
  const s = p.cfg.setups.CHANNEL;
  if (!p.channel) throw new Error(`evaluateChannelAt: no ${s.interval} series prepared`);
  const { cols } = p.channel;
  const b: Base = { strategy: 'channel', symbol: ctx.symbol, cols, i };
  const ch = detectChannel(cols, i, s.lookbackCandles);
  if (!ch) return { insufficient: insufficient(b, `${i + 1} ${cols.interval} candles, need ${s.lookbackCandles} with a non-zero range`) };
  const zone = s.entryZonePct / 100;
  const checks: Check[] = [
    atLeast('strength', ch.strength, s.minStrength, false, 1 - s.minStrength || 1, (ok) =>
      `channel strength ${ch.strength.toFixed(2)} (${Math.round(ch.strength * s.lookbackCandles)}/${s.lookbackCandles} closes inside; ${ok ? '>=' : '<'} ${s.minStrength})`,
    ),
    flag('inChannel', ch.position >= 0, ch.position >= 0 ? 'close is inside the channel' : `close is below the lower line ${round(ch.lower, 6)} (breakdown)`),
    atMost('bottomZone', ch.position, zone, zone, (ok) =>
      `close at ${(ch.position * 100).toFixed(2)} % of the channel [${round(ch.lower, 6)}, ${round(ch.upper, 6)}] (${ok ? '<=' : '>'} ${s.entryZonePct} %)`,
    ),
  ];
  const features = {
    interval: cols.interval,
    close: cols.close[i] as number,
    channelLower: round(ch.lower, 8),
    channelUpper: round(ch.upper, 8),
    channelSlope: round(ch.slope, 8),
    channelStrength: round(ch.strength, 6),
    channelPosition: round(ch.position, 6),
  };
  return { b, checks, features, entries: () => [cols.close[i] as number], maxHoldMs: s.timeExitMs };
}

// ---------------------------------------------------------------------------------------------
// all setups at one time

interface SwingEvaluation {
  decisions: SwingScan[];
  /** Setups not evaluated and why (disabled, no or stale candles). */
  notes: string[];
}

/** The index a setup is evaluated at (its last candle closed by `asOf`), or why it is not evaluated. */
function setupIndex(name: string, enabled: boolean, cols: CandleColumns | undefined, asOf: number): number | string {
  if (!enabled) return `${name}: disabled`;
  if (!cols) return `${name}: no candles`;
  const i = lastClosedIndex(cols, asOf);
  if (i < 0) return `${name}: no ${cols.interval} candle closed by as-of`;
  const age = asOf - closeTimeAt(cols, i);
  if (age > MAX_STALE_INTERVALS * INTERVAL_MS[cols.interval]) {
    return `${name}: stale data (last ${cols.interval} candle closed ${Math.round(age / 60_000)} min before as-of)`;
  }
  return i;
}

/** Each setup with its strategy id, enabled flag, candles and per-index checks (evaluateSwingAt and swingReadinessAt walk it alike). */
function setupTable(p: PreparedSwing): Array<{ name: SwingSetup; strategy: SwingStrategyId; enabled: boolean; cols: CandleColumns | undefined; checks: (i: number, ctx: SwingContext) => SetupChecks }> {
  const setups = p.cfg.setups;
  return [
    { name: 'DCA', strategy: 'dca', enabled: setups.DCA.enabled, cols: p.dca?.cols, checks: (i, ctx) => dcaChecks(p, i, ctx) },
    { name: 'SWING', strategy: 'swing_breakout', enabled: setups.SWING.enabled, cols: p.breakout?.cols, checks: (i, ctx) => breakoutChecks(p, i, ctx) },
    { name: 'CHANNEL', strategy: 'channel', enabled: setups.CHANNEL.enabled, cols: p.channel?.cols, checks: (i, ctx) => channelChecks(p, i, ctx) },
  ];
}

/** Every enabled setup on its last candle closed by `asOf` (production and the backtester). */
export function evaluateSwingAt(p: PreparedSwing, asOf: number, ctx: SwingContext): SwingEvaluation {
  const out: SwingEvaluation = { decisions: [], notes: [] };
  for (const t of setupTable(p)) {
    const i = setupIndex(t.name, t.enabled, t.cols, asOf);
    if (typeof i === 'string') out.notes.push(i);
    else out.decisions.push(decisionOfChecks(t.checks(i, ctx), p.cfg, ctx));
  }
  return out;
}

/**
 * Readiness of every setup as evaluateSwingAt would evaluate it at `asOf` (the same index, the same
 * checks); `readiness` null with the note when the setup is not evaluated (disabled in config, no or
 * stale candles). Disabled setups are still computed when they have candles (`enabled` false), so the
 * page can show how close they would be.
 */
export function swingReadinessAt(p: PreparedSwing, asOf: number, ctx: SwingContext): Array<{ strategy: SwingStrategyId; enabled: boolean; readiness: StrategyReadinessAt | null; note?: string }> {
  return setupTable(p).map((t) => {
    const i = setupIndex(t.name, true, t.cols, asOf);
    if (typeof i === 'string') return { strategy: t.strategy, enabled: t.enabled, readiness: null, note: i };
    return { strategy: t.strategy, enabled: t.enabled, readiness: readinessOfChecks(t.checks(i, ctx)) };
  });
}

// ---------------------------------------------------------------------------------------------
// conflicts (SPEC 12)

interface ConflictResolution {
  /** Signals that survive: at most one per symbol. */
  kept: SwingSignal[];
  /** Signals dropped, with the reason. */
  dropped: Array<{ signal: SwingSignal; reason: string }>;
}

/**
 * Swing conflicts on one coin: opposing directions cancel every signal of that coin; otherwise the
 * highest confidence wins (ties: the earlier candle, then the signal id, so the result is
 * deterministic). Input order does not matter; `kept` is ordered by symbol.
 */
export function resolveSwingConflicts(signals: readonly SwingSignal[]): ConflictResolution {
  const bySymbol = new Map<string, SwingSignal[]>();
  for (const s of signals) bySymbol.set(s.symbol, [...(bySymbol.get(s.symbol) ?? []), s]);
  const out: ConflictResolution = { kept: [], dropped: [] };
  for (const symbol of [...bySymbol.keys()].sort()) {
    const group = bySymbol.get(symbol)!;
    const dirs = new Set(group.map((s) => s.direction));
    if (dirs.size > 1) {
      const ids = group.map((s) => s.signalId).join(', ');
      for (const s of group) out.dropped.push({ signal: s, reason: `conflict: opposing swing signals on ${symbol} cancel each other (${ids})` });
      continue;
    }
    const sorted = [...group].sort((a, b) => b.confidence - a.confidence || a.candleTime - b.candleTime || (a.signalId < b.signalId ? -1 : 1));
    const winner = sorted[0]!;
    out.kept.push(winner);
    for (const s of sorted.slice(1)) {
      out.dropped.push({ signal: s, reason: `conflict: ${winner.signalId} has higher confidence (${winner.confidence} vs ${s.confidence})` });
    }
  }
  return out;
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(3)}x` : 'n/a x';
}
