/**
 * The live MICRO-SCALP engine (SPEC 4), domain only (ports in, no SDK): evaluates every enabled
 * scalp strategy for ONE symbol on a CLOSED 1m candle or on a 15 s snapshot (forming candle + book),
 * logs EVERY decision (TAKE / NEAR_MISS / SKIP) to the warehouse `signals` table and publishes the
 * TAKEs of strategies that may emit (`emitSignals`) on `trade-signals-micro` as `Signal`s
 * (shared/strategies/scalp/signal.ts, the conversion the backtester uses too).
 *
 * Data, and what it costs in hot-store reads (see shared/market/candle-cache.ts):
 * - 1m history per symbol lives in this instance's memory (`MicroCache`), filled by ONE query on the
 *   first message of a symbol, then appended from every message; a gap is filled by one range query.
 *   Depth = `historyCandles(strategies)`: the longest of each strategy's `candleWindow`, the
 *   horizontal-level look-back (120 x 15m) and TREND_LINE_HISTORY_CANDLES 1h candles (trend lines).
 * - Strategy series = the last `candleWindow` closed candles up to the evaluated one (production
 *   protocol of shared/strategies/scalp/common.ts: prepare once, evaluate the last index).
 * - Levels (levels_exhaustion): 15m / 1h candles RESAMPLED from that 1m history (the hot store holds
 *   Bybit 1m only; Kraken 15m/1h are another venue's prices), only buckets CLOSED by the evaluated
 *   candle's close, passed as `ctx.levels` (levelSetFor). The level set depends only on the closed
 *   15m / 1h buckets (the 1h history starts at an aligned bucket), so it is memoised per
 *   (symbol, config, last closed 15m, last closed 1h) and recomputed at most every 15 minutes.
 * - Book: the snapshots' book features of the last BOOK_HISTORY_MS (>= the flip window), in memory.
 *
 * Idempotency: a decision id is `${strategy}:${symbol}:${candleOpenTime}` (+ `:snap:${ts}`), the
 * `signals` insert is idempotent by it, and a TAKE is published with attribute `dedupeId` = that id,
 * which the execution de-duplicates (TradingStore marker). A redelivered candle is evaluated at ITS
 * index of the window (nothing later is read), so it yields the same decisions: one id, one row.
 * Candles flagged bad data are never evaluated; candles from the bus pass the candle gate first
 * (shared/market/candle-gate.ts, `evaluateMicroCandles`): refused and suspect ones are dead-lettered.
 */
import type { Ports } from '../ports/ports.js';
import { scanDecisionRow } from '../warehouse-schema.js';
import type { SystemConfig } from '../config/system.js';
import { SCALP_STRATEGIES, type LevelsExhaustionConfig, type ScalpStrategyConfig, type StrategyConfigs } from '../config/strategy.js';
import { accepted, gateCandles, gateRefusal } from '../market/candle-gate.js';
import { priceIntegrityReason, sanityBandReason } from '../market/quality.js';
import { INTERVAL_MS, isTradable, type Candle, type Snapshot } from '../model/market.js';
import type { Row } from '../ports/warehouse.js';
import type { BookSample } from '../strategies/exhaustion.js';
import type { LevelSet } from '../strategies/levels.js';
import { resample, visibleCountAt, type ResampledSeries } from '../strategies/resample.js';
import type { EvalContext, FormingCandle, ScalpDecision } from '../strategies/scalp/common.js';
import { levelSetFor } from '../strategies/scalp/levels-exhaustion.js';
import { scalpStrategy } from '../strategies/scalp/registry.js';
import { sliceSeries, type CandleSeries } from '../strategies/series.js';
import { TOPICS } from '../topics.js';
import { routeByTopic, type BusMessage } from '../messages.js';
import type { Signal } from '../model/trading.js';
import { publish } from '../messages.js';
import { CandleCache, type CandleWindow } from '../market/candle-cache.js';
import { scalpSignal } from '../strategies/scalp/signal.js';
import { lowerBound } from '../sorted.js';
import { ModelCache, withPrediction, type ScanPredict } from '../learning/model-cache.js';

const MINUTE = INTERVAL_MS['1m'];

/**
 * 1h candles of history kept for the trend lines (swings of strength 2: about a dozen per side).
 * Proposed config field: `scalp_levels_exhaustion.levels.trendLines.historyCandles`.
 */
export const TREND_LINE_HISTORY_CANDLES = 72;
/** Book samples kept per symbol: at least this long (and at least the flip window of the config). */
export const BOOK_HISTORY_MS = 60_000;

/** Per-instance memory of the micro engine (one per function instance: the root builds it with the deps). */
export interface MicroCache {
  candles: CandleCache;
  /** symbol -> book samples, ascending ts. */
  books: Map<string, BookSample[]>;
  /** symbol -> memoised level set. */
  levels: Map<string, { key: string; set: LevelSet }>;
  /** The strategies' models (`models/{strategy}`, re-read at most once a minute): the prediction beside each TAKE / NEAR_MISS. */
  models: ModelCache;
}

export function createMicroCache(): MicroCache {
  return { candles: new CandleCache('bybit', '1m'), books: new Map(), levels: new Map(), models: new ModelCache() };
}

export interface MicroDeps extends Ports {
  cache: MicroCache;
}

export type MicroInput = { kind: 'close'; candle: Candle } | { kind: 'snapshot'; snapshot: Snapshot };

export interface MicroResult {
  symbol: string;
  kind: MicroInput['kind'];
  /** Why nothing was evaluated (unknown symbol, bad data, warm-up...), when that is the case. */
  note: string | null;
  /** Every non-null decision, as logged to `signals`. */
  decisions: ScalpDecision[];
  /** TAKE signals of emitting strategies, as published. */
  published: Signal[];
}

function enabledStrategies(strategies: StrategyConfigs, kind: MicroInput['kind']): ScalpStrategyConfig[] {
  const out: ScalpStrategyConfig[] = [];
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (cfg.enabled && (kind === 'close' ? cfg.evaluateOn.closes : cfg.evaluateOn.snapshots)) out.push(cfg);
  }
  return out;
}

/** 1m candles of look-back the engine keeps per symbol for these configs. */
export function historyCandles(strategies: StrategyConfigs): number {
  let n = 1;
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (!cfg.enabled) continue;
    n = Math.max(n, cfg.candleWindow);
    if (cfg.strategy === 'levels_exhaustion') {
      const h = cfg.levels.horizontal;
      const t = cfg.levels.trendLines;
      n = Math.max(n, (h.lookbackCandles + 1) * (INTERVAL_MS[h.interval] / MINUTE), (TREND_LINE_HISTORY_CANDLES + 1) * (INTERVAL_MS[t.interval] / MINUTE));
    }
  }
  return n;
}

/** Closed HTF buckets of `r` at base index i, without an incomplete leading bucket. */
function closedBuckets(r: ResampledSeries, i: number): CandleSeries {
  const n = visibleCountAt(r, i);
  const full = INTERVAL_MS[r.interval] / MINUTE;
  const start = n > 0 && (r.minutes[0] as number) < full ? 1 : 0;
  return sliceSeries(r.series, start, n);
}

/**
 * Levels as of the close of window candle i: horizontal from the last `lookbackCandles` closed
 * horizontal-interval buckets, trend lines from the closed trend-interval buckets of the last
 * TREND_LINE_HISTORY_CANDLES (aligned), both resampled from the 1m window. Memoised per bucket pair.
 */
export function levelsAt(cache: MicroCache, w: CandleWindow, i: number, cfg: LevelsExhaustionConfig['levels']): LevelSet {
  const c = w.at(i) as Candle;
  const closeTime = c.openTime + MINUTE;
  const hMs = INTERVAL_MS[cfg.horizontal.interval];
  const tMs = INTERVAL_MS[cfg.trendLines.interval];
  const hBucket = Math.floor(closeTime / hMs);
  const tBucket = Math.floor(closeTime / tMs);
  const key = `${JSON.stringify(cfg)}|${hBucket}|${tBucket}`;
  const memo = cache.levels.get(w.symbol);
  if (memo && memo.key === key) return memo.set;
  const hStart = (hBucket - cfg.horizontal.lookbackCandles) * hMs;
  const tStart = (tBucket - TREND_LINE_HISTORY_CANDLES) * tMs;
  const hist = w.series(w.lowerBound(Math.min(hStart, tStart)), i + 1);
  const hSeries = closedSince(hist, hStart, cfg.horizontal.interval);
  const tSeries = closedSince(hist, tStart, cfg.trendLines.interval);
  const set = levelSetFor(hSeries, tSeries, cfg);
  cache.levels.set(w.symbol, { key, set });
  return set;
}

/** Closed `interval` buckets resampled from the candles of `hist` opening at or after `start`. */
function closedSince(hist: CandleSeries, start: number, interval: LevelsExhaustionConfig['levels']['horizontal']['interval']): CandleSeries {
  const view = sliceSeries(hist, lowerBound(hist.openTime, start, 0, hist.length));
  return closedBuckets(resample(view, interval), view.length - 1);
}

/** Records a snapshot's book features (ascending ts, one per ts) and drops samples older than the history. */
function recordBook(cache: MicroCache, snap: Snapshot, keepMs: number): BookSample[] {
  let samples = cache.books.get(snap.symbol);
  if (!samples) {
    samples = [];
    cache.books.set(snap.symbol, samples);
  }
  if (snap.book) {
    let k = samples.length;
    while (k > 0 && (samples[k - 1] as BookSample).ts > snap.ts) k--;
    const prev = samples[k - 1];
    if (prev && prev.ts === snap.ts) samples[k - 1] = { ts: snap.ts, book: snap.book };
    else samples.splice(k, 0, { ts: snap.ts, book: snap.book });
  }
  const newest = samples[samples.length - 1];
  if (newest) {
    let drop = 0;
    while (drop < samples.length && (samples[drop] as BookSample).ts < newest.ts - keepMs) drop++;
    if (drop > 0) samples.splice(0, drop);
  }
  return samples;
}

function bookHistoryMs(strategies: StrategyConfigs): number {
  return Math.max(BOOK_HISTORY_MS, strategies.scalp.levels_exhaustion.exhaustion.orderBookFlip.windowMs);
}

/** The warehouse `signals` row of a scalp decision (TAKE rows carry the signal's order levels). */
export function decisionRow(d: ScalpDecision, signal: Signal | null): Row {
  return scanDecisionRow(
    d,
    signal
      ? {
          entries: signal.entries,
          stopLoss: signal.stopLoss,
          takeProfit: signal.takeProfit,
          maxHoldMs: signal.maxHoldMs,
          confidence: signal.confidence,
          tier: signal.tier,
          emit: signal.emit,
        }
      : {},
  );
}

function result(symbol: string, kind: MicroInput['kind'], note: string | null): MicroResult {
  return { symbol, kind, note, decisions: [], published: [] };
}

/** Where an input is evaluated: the 1m window, the index of its last closed candle, the forming candle, the book. */
interface EvalPoint {
  w: CandleWindow;
  i: number;
  forming?: FormingCandle;
  book?: BookSample[];
}

/** A closed candle's evaluation point, or why it is not evaluated. */
async function closePoint(deps: MicroDeps, c: Candle, capacity: number): Promise<EvalPoint | string> {
  if (c.venue !== 'bybit' || c.interval !== '1m') return `not a Bybit 1m candle (${c.venue} ${c.interval})`;
  const book = deps.cache.books.get(c.symbol);
  const w = await deps.cache.candles.ingest(deps.state, c.symbol, [c], capacity);
  if (!isTradable(c)) return `candle ${c.openTime} is flagged ${String(c.flags)}: never traded`;
  return { w, i: w.indexOf(c.openTime), ...(book ? { book } : {}) };
}

/** A snapshot's evaluation point (its book recorded first), or why it is not evaluated. */
async function snapshotPoint(deps: MicroDeps, system: SystemConfig, strategies: StrategyConfigs, snap: Snapshot, capacity: number): Promise<EvalPoint | string> {
  const symbol = snap.symbol;
  const book = recordBook(deps.cache, snap, bookHistoryMs(strategies));
  const f = snap.forming;
  if (!f) return 'snapshot without a forming candle (book recorded)';
  if (f.openTime > snap.ts) return `forming candle ${f.openTime} opens after the snapshot time ${snap.ts} (late holder tick): not evaluated`;
  const prevOpen = f.openTime - MINUTE;
  // The close before the forming candle may not have reached this instance yet: at most one range read.
  const w = await deps.cache.candles.fillThrough(deps.state, symbol, prevOpen, capacity);
  const i = w.indexOf(prevOpen);
  if (i < 0) return `closed candle ${prevOpen} before the forming one is not known yet`;
  // the candle gate's rules on the forming candle: impossible numbers, or out of the band of the last good close
  const refused = priceIntegrityReason(f) ?? sanityBandReason(f, (w.at(i) as Candle).close, system.dataQuality);
  if (refused) {
    deps.log.warn('snapshot forming candle refused by the candle gate: not evaluated', { symbol, ts: snap.ts, reason: refused });
    return `forming candle refused by the candle gate: ${refused}`;
  }
  return { w, i, book, forming: { openTime: f.openTime, ts: snap.ts, open: f.open, high: f.high, low: f.low, close: f.close, volume: f.volume } };
}

/**
 * Every strategy's decision at the point (with the model's prediction on a TAKE / NEAR_MISS, before
 * its row is written: shared/learning/model-cache.ts), its `signals` row, and the TAKE signals to
 * publish (emitting strategies; the Signal carries the same prediction).
 */
function decideAt(cache: MicroCache, system: SystemConfig, configs: readonly ScalpStrategyConfig[], p: EvalPoint, predict: ScanPredict): { decisions: ScalpDecision[]; rows: Row[]; toPublish: Signal[] } {
  const { w, i } = p;
  // One series (and one indicator cache) per distinct candleWindow.
  const seriesByLength = new Map<number, CandleSeries>();
  const decisions: ScalpDecision[] = [];
  const rows: Row[] = [];
  const toPublish: Signal[] = [];
  for (const cfg of configs) {
    const len = Math.min(cfg.candleWindow, i + 1);
    let series = seriesByLength.get(len);
    if (!series) {
      series = w.series(i + 1 - len, i + 1);
      seriesByLength.set(len, series);
    }
    const ctx: { levels?: LevelSet; book?: readonly BookSample[]; forming?: FormingCandle } = {};
    if (cfg.strategy === 'levels_exhaustion') ctx.levels = levelsAt(cache, w, i, cfg.levels);
    if (p.book && p.book.length > 0) ctx.book = p.book;
    if (p.forming) ctx.forming = p.forming;
    const raw = evaluate(cfg, series, ctx);
    if (!raw) continue;
    const d = withPrediction(raw, predict);
    const signal = scalpSignal(d, system, cfg);
    decisions.push(d);
    rows.push(decisionRow(d, signal));
    if (signal && signal.emit) toPublish.push(signal);
  }
  return { decisions, rows, toPublish };
}

/** Evaluates one symbol on one closed candle or one snapshot (see the module comment). */
export async function evaluateMicro(deps: MicroDeps, input: MicroInput): Promise<MicroResult> {
  const [system, strategies] = await Promise.all([deps.config.system(), deps.config.strategies()]);
  const symbol = input.kind === 'close' ? input.candle.symbol : input.snapshot.symbol;
  const sym = system.symbols.find((s) => s.symbol === symbol);
  if (!sym || !sym.enabled) return result(symbol, input.kind, `${symbol} is not an enabled symbol`);
  const configs = enabledStrategies(strategies, input.kind);
  const capacity = historyCandles(strategies);
  const point = input.kind === 'close' ? await closePoint(deps, input.candle, capacity) : await snapshotPoint(deps, system, strategies, input.snapshot, capacity);
  if (typeof point === 'string') return result(symbol, input.kind, point);
  if (point.i < 0 || configs.length === 0) return result(symbol, input.kind, configs.length === 0 ? 'no strategy evaluates this input' : 'candle not in the window');

  const predict = await deps.cache.models.predictorFor(deps.state, configs.map((c) => c.strategy), deps.clock.now(), deps.log);
  const { decisions, rows, toPublish } = decideAt(deps.cache, system, configs, point, predict);
  if (rows.length > 0) await deps.warehouse.insert('signals', rows);
  for (const s of toPublish) {
    await publish(deps.bus, TOPICS.microSignals, s, {
      attributes: { dedupeId: s.signalId, symbol: s.symbol, strategy: s.strategy, direction: s.direction },
    });
  }
  if (decisions.length > 0) {
    deps.log.info('micro-scalp decisions', {
      symbol,
      kind: input.kind,
      candleTime: decisions[0]?.candleTime,
      decisions: decisions.map((d) => `${d.strategy}:${d.decision}${d.direction ? `:${d.direction}` : ''}`),
      published: toPublish.map((s) => s.signalId),
    });
  }
  return { symbol, kind: input.kind, note: null, decisions, published: toPublish };
}

function evaluate(cfg: ScalpStrategyConfig, series: CandleSeries, ctx: EvalContext): ScalpDecision | null {
  const last = series.length - 1;
  if (last < 0) return null;
  if (cfg.strategy === 'levels_exhaustion') {
    const impl = scalpStrategy('levels_exhaustion');
    return impl.evaluateAt(impl.prepare(series, cfg), last, ctx);
  }
  const impl = scalpStrategy('v52_divergence');
  return impl.evaluateAt(impl.prepare(series, cfg), last, ctx);
}

/**
 * A candle batch (`candles-bybit-1m`, one or more closed candles, normally of one symbol): merges
 * each symbol's candles into the cache at once, then evaluates every candle in open-time order.
 */
export async function evaluateMicroCandles(deps: MicroDeps, candles: readonly Candle[]): Promise<MicroResult[]> {
  const [system, strategies] = await Promise.all([deps.config.system(), deps.config.strategies()]);
  // the candle gate: a refused or suspect candle never enters the window (indicators) nor is evaluated
  const verdicts = await gateCandles(deps, system, candles, 'micro-scalp');
  const bySymbol = new Map<string, Candle[]>();
  for (const c of accepted(verdicts)) {
    const list = bySymbol.get(c.symbol) ?? [];
    list.push(c);
    bySymbol.set(c.symbol, list);
  }
  const out: MicroResult[] = [];
  for (const [symbol, list] of bySymbol) {
    list.sort((a, b) => a.openTime - b.openTime);
    const bybit1m = list.filter((c) => c.venue === 'bybit' && c.interval === '1m');
    if (bybit1m.length > 1) await deps.cache.candles.ingest(deps.state, symbol, bybit1m, historyCandles(strategies));
    for (const c of list) out.push(await evaluateMicro(deps, { kind: 'close', candle: c }));
  }
  const refusal = gateRefusal(verdicts);
  if (refusal) throw refusal;
  return out;
}

// ---------- the function's handle (functions/micro-scalp binds it) ----------

export const FUNCTION_NAME = 'micro-scalp';

/** What the micro-scalp function gets from the composition root (infra/runtime/deps.ts), once per instance. */
export type Deps = MicroDeps;

/** Every closed 1m candle, and the 15 s snapshots (the forming candle with the book), routed by topic. */
export const handle = routeByTopic(FUNCTION_NAME, {
  [TOPICS.bybitCandles]: async (deps: Deps, msg: BusMessage<typeof TOPICS.bybitCandles>) => {
    await evaluateMicroCandles(deps, msg.payload.candles);
  },
  [TOPICS.snapshots]: async (deps: Deps, msg: BusMessage<typeof TOPICS.snapshots>) => {
    await evaluateMicro(deps, { kind: 'snapshot', snapshot: msg.payload });
  },
});
