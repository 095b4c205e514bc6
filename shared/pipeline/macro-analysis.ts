/**
 * The MACRO run (SPEC 3), every 5 minutes (Cloud Scheduler -> functions/macro-analysis). For each
 * enabled symbol with a Kraken pair:
 *
 * 1. read the Kraken hot window (5m, 1h, 4h: what the bias and the setups need, at most
 *    `hotWindowCandles` each); decisions use only candles CLOSED by the slot start;
 * 2. compute the bias as of the slot start (`slotStart = floor(now / MACRO_SLOT_MS) x MACRO_SLOT_MS`);
 * 3. store it at `bias/{symbol}` in a transaction: the FIRST computation of a slot wins (a retried
 *    or duplicated run of the same slot keeps the stored document), a run for an older slot never
 *    overwrites a newer bias;
 * 4. publish it on `macro-bias-updates` unless the stored document says it was published; mark it
 *    published afterwards (a crash in between republishes the same stored content with the same
 *    `dedupeId` attribute: at-least-once, subscribers de-duplicate);
 * 5. evaluate the swing setups (DCA, SWING breakout, CHANNEL) on their last closed candles, attach the
 *    strategy model's win probability to each TAKE / NEAR_MISS (shared/learning/model-cache.ts; the
 *    published signal carries it to the ML filter), resolve conflicts per coin (SPEC 12), log EVERY scan decision to the warehouse `signals` table
 *    (idempotent by signal_id: a signal id is per candle, so a re-run adds no rows);
 * 6. publish each surviving TAKE on `trade-signals-swing` once, as the `Signal` it is (the catalog's
 *    schema, the same as the scalps'; its grid weights stay in the scan row): a marker document
 *    `macro_swing_published/{signalId}` is created after the publish (same at-least-once argument).
 *
 * Missing or insufficient data gives a NEUTRAL bias with the reason and setups that SKIP (or are not
 * evaluated, with a note), never a crash. A failure of one symbol (I/O) is logged, the other symbols
 * still run, and the run then throws so the scheduler retries it (everything above is idempotent).
 */
import type { Ports } from '../ports/ports.js';
import { scanDecisionRow } from '../warehouse-schema.js';
import type { MacroConfig, Regime, StrategyConfigs } from '../config/strategy.js';
import type { SymbolConfig, SystemConfig } from '../config/system.js';
import type { Logger } from '../log.js';
import { recentHotCandles } from '../market/hot-store.js';
import { PermanentError } from '../ports/bus.js';
import { z } from 'zod';
import { INTERVAL_MS, type Interval } from '../model/market.js';
import type { DocData, StateStore } from '../ports/state.js';
import type { Row } from '../ports/warehouse.js';
import { regimeAt } from '../protection/regime.js';
import { TOPICS } from '../topics.js';
import type { ScanDecision } from '../model/trading.js';
import { biasComponentCandles, computeBias, MAX_STALE_INTERVALS, type BiasResult } from '../strategies/macro/bias.js';
import { lastClosedIndex, toColumns, type SeriesByInterval } from '../strategies/macro/columns.js';
import { evaluateSwingAt, isSwingSignal, prepareSwing, resolveSwingConflicts, swingSetupCandles, type SwingScan, type SwingSignal } from '../strategies/macro/swing.js';
import { biasPath, swingPublishedPath } from '../state-paths.js';
import { publish, type MacroBiasMessage } from '../messages.js';
import { ModelCache, withPrediction, type ScanPredict } from '../learning/model-cache.js';
import type { StrategyId } from '../model/trading.js';

/** One bias per symbol per slot; matches the 5-minute schedule (proposed config: `macro.slotMs`). */
export const MACRO_SLOT_MS = 5 * 60_000;
/** Candles read = this x the longest look-back, so EMAs/RSI warm up (capped by `hotWindowCandles`). */
const HOT_READ_WARMUP_FACTOR = 3;
/** The BTC regime (default provider) is computed on this Kraken interval of the reference symbol. */
export const REGIME_INTERVAL: Interval = '15m';
/** Look-back of the regime (its longest window is 48 h). */
export const REGIME_LOOKBACK_MS = 48 * 60 * 60_000;
const VENUE = 'kraken' as const;

export function slotStartOf(now: number): number {
  return Math.floor(now / MACRO_SLOT_MS) * MACRO_SLOT_MS;
}

function biasDedupeId(symbol: string, slotStart: number): string {
  return `macro-bias:${symbol}:${slotStart}`;
}

/** The document at `bias/{symbol}`: the published message plus the publish flag. */
export interface StoredBias extends MacroBiasMessage {
  published: boolean;
  computedAt: number;
}

/** The swing strategies whose models predict the MACRO run's scans. */
const SWING_STRATEGY_IDS: readonly StrategyId[] = ['dca', 'swing_breakout', 'channel'];

/**
 * `models`: the instance's model cache (re-reads `models/{strategy}` at most once a minute); without
 * it each run reads them once (the run is every 5 minutes: the same reads).
 */
export type MacroDeps = Ports & { models?: ModelCache };

/** A fixed regime, or a provider called once per run with the slot start. */
type RegimeInput = Regime | null | ((asOf: number) => Promise<Regime | null>);

interface MacroOptions {
  /** Restrict the run to these symbols (default: every enabled symbol with a Kraken pair). */
  symbols?: string[];
  /**
   * BTC regime for DCA. Default: computed with shared/protection/regime.ts `regimeAt` on the
   * reference symbol's Kraken REGIME_INTERVAL hot candles (null when they are missing or stale).
   */
  regime?: RegimeInput;
}

interface SymbolSummary {
  symbol: string;
  bias: BiasResult['bias'];
  confidence: number;
  biasPublished: boolean;
  scans: number;
  takes: number;
  signalsPublished: number;
  notes: string[];
}

interface MacroRunSummary {
  slotStart: number;
  regime: Regime | null;
  symbols: SymbolSummary[];
  scansLogged: number;
  biasPublished: number;
  signalsPublished: number;
  failed: string[];
  skipped?: string;
}

/** One MACRO component's look-back: closed candles of `interval` it needs to produce a value. */
export interface MacroLookback {
  /** Bias component (trend4h, momentum4h, structure5m, volume), swing setup (DCA, SWING, CHANNEL) or SWING's 4h-uptrend check. */
  component: 'trend4h' | 'momentum4h' | 'structure5m' | 'volume' | 'DCA' | 'SWING' | 'SWING.uptrend4h' | 'CHANNEL';
  interval: Interval;
  /** Closed candles needed before the component produces a value (fewer: no value / insufficient data). */
  candles: number;
  /** Candles the job wants for it before the warm-up factor (DCA: its high window too). */
  read: number;
}

/** Every look-back of this MACRO config (enabled setups only), from the config values. */
export function macroLookbacks(macro: MacroConfig): MacroLookback[] {
  const c = macro.bias.components;
  const b = biasComponentCandles(c);
  const out: MacroLookback[] = [
    { component: 'trend4h', interval: c.trend4h.interval, candles: b.trend4h, read: b.trend4h },
    { component: 'momentum4h', interval: c.momentum4h.interval, candles: b.momentum4h, read: b.momentum4h },
    { component: 'structure5m', interval: c.structure5m.interval, candles: b.structure5m, read: b.structure5m },
    { component: 'volume', interval: c.volume.interval, candles: b.volume, read: b.volume },
  ];
  const s = macro.setups;
  const sw = swingSetupCandles(macro);
  if (s.DCA.enabled) out.push({ component: 'DCA', ...sw.DCA, read: Math.ceil(s.DCA.highWindowMs / INTERVAL_MS[sw.DCA.interval]) + sw.DCA.candles });
  if (s.SWING.enabled) {
    out.push({ component: 'SWING', ...sw.SWING, read: sw.SWING.candles });
    if (s.SWING.require4hUptrend) out.push({ component: 'SWING.uptrend4h', interval: c.trend4h.interval, candles: c.trend4h.emaSlow, read: c.trend4h.emaSlow });
  }
  if (s.CHANNEL.enabled) out.push({ component: 'CHANNEL', ...sw.CHANNEL, read: sw.CHANNEL.candles });
  return out;
}

/** Candles to read per interval for this config. */
export function candlesNeeded(macro: MacroConfig, hotWindowCandles: number): Partial<Record<Interval, number>> {
  const need: Partial<Record<Interval, number>> = {};
  for (const l of macroLookbacks(macro)) need[l.interval] = Math.max(need[l.interval] ?? 0, l.read);
  for (const iv of Object.keys(need) as Interval[]) need[iv] = Math.min(hotWindowCandles, (need[iv] as number) * HOT_READ_WARMUP_FACTOR);
  return need;
}

/** REGIME_INTERVAL candles of the reference symbol read for the regime. */
export function regimeReadCandles(hotWindowCandles: number): number {
  return Math.min(hotWindowCandles, Math.ceil(REGIME_LOOKBACK_MS / INTERVAL_MS[REGIME_INTERVAL]) + 1);
}

export async function runMacro(deps: MacroDeps, opts: MacroOptions = {}): Promise<MacroRunSummary> {
  const [system, strategies] = await Promise.all([deps.config.system(), deps.config.strategies()]);
  const macro = strategies.macro;
  const slotStart = slotStartOf(deps.clock.now());
  const log = deps.log.child({ component: 'macro', slotStart });
  const summary: MacroRunSummary = { slotStart, regime: null, symbols: [], scansLogged: 0, biasPublished: 0, signalsPublished: 0, failed: [] };
  if (!macro.enabled) {
    summary.skipped = 'macro disabled in config';
    log.info('macro disabled; nothing to do');
    return summary;
  }
  const wanted = opts.symbols ? new Set(opts.symbols) : undefined;
  const symbols = system.symbols.filter((s) => s.enabled && s.krakenPair !== null && (!wanted || wanted.has(s.symbol)));
  summary.regime = await resolveRegime(deps, opts.regime, slotStart, strategies, system, log);
  const needed = candlesNeeded(macro, system.hotWindowCandles);
  const predict = await (deps.models ?? new ModelCache()).predictorFor(deps.state, SWING_STRATEGY_IDS, deps.clock.now(), log);

  for (const sym of symbols) {
    try {
      summary.symbols.push(await runSymbol(deps, macro, sym, needed, slotStart, summary.regime, predict, log.child({ symbol: sym.symbol })));
    } catch (e) {
      summary.failed.push(sym.symbol);
      log.error('macro run failed for symbol', { symbol: sym.symbol, error: e as Error });
    }
  }
  for (const s of summary.symbols) {
    summary.scansLogged += s.scans;
    summary.biasPublished += s.biasPublished ? 1 : 0;
    summary.signalsPublished += s.signalsPublished;
  }
  if (summary.failed.length > 0) throw new Error(`macro run failed for ${summary.failed.join(', ')} (the others completed; a retry is idempotent)`);
  return summary;
}

async function runSymbol(
  deps: MacroDeps,
  macro: MacroConfig,
  sym: SymbolConfig,
  needed: Partial<Record<Interval, number>>,
  slotStart: number,
  regime: Regime | null,
  predict: ScanPredict,
  log: Logger,
): Promise<SymbolSummary> {
  const symbol = sym.symbol;
  const series: SeriesByInterval = {};
  await Promise.all(
    (Object.entries(needed) as Array<[Interval, number]>).map(async ([iv, n]) => {
      series[iv] = toColumns(await recentHotCandles(deps.state, VENUE, symbol, iv, n), iv);
    }),
  );

  // Bias: first computation of the slot wins; publish until marked published.
  const bias = computeBias(macro, symbol, series, slotStart);
  const stored = await storeBias(deps.state, { ...bias, slotStart, dedupeId: biasDedupeId(symbol, slotStart), published: false, computedAt: deps.clock.now() });
  let biasPublished = false;
  if (stored && !stored.published) {
    const { published: _p, computedAt: _c, ...message } = stored;
    await publish(deps.bus, TOPICS.macroBias, message, {
      attributes: { symbol, bias: message.bias, dedupeId: message.dedupeId, slotStart: String(message.slotStart) },
      orderingKey: `macro-bias:${symbol}`,
    });
    await markBiasPublished(deps.state, symbol, slotStart);
    biasPublished = true;
  }

  // Swing setups.
  const evaluated = evaluateSwingAt(prepareSwing(macro, series), slotStart, { symbol, tier: sym.tier, regime });
  // the prediction beside each TAKE / NEAR_MISS, before the rows are written and the signals published
  const evaluation = { ...evaluated, decisions: evaluated.decisions.map((d) => withPrediction(d, predict)) };
  const takes = evaluation.decisions.filter(isSwingSignal);
  const resolution = resolveSwingConflicts(takes);
  const droppedIds = new Map(resolution.dropped.map((d) => [d.signal.signalId, d.reason]));
  const logged: ScanDecision[] = evaluation.decisions.map((d) => {
    const reason = droppedIds.get(d.signalId);
    return reason === undefined ? d : conflictSkip(d as SwingSignal, reason);
  });
  if (logged.length > 0) await deps.warehouse.insert('signals', logged.map(scanToRow));

  let signalsPublished = 0;
  for (const signal of resolution.kept) {
    if (await publishSignalOnce(deps, signal)) signalsPublished++;
  }
  const out: SymbolSummary = {
    symbol,
    bias: (stored ?? bias).bias,
    confidence: (stored ?? bias).confidence,
    biasPublished,
    scans: logged.length,
    takes: resolution.kept.length,
    signalsPublished,
    notes: [...(stored ? [] : ['a newer slot already stored a bias; this run did not overwrite it']), ...evaluation.notes],
  };
  log.info('macro evaluated', {
    bias: out.bias,
    confidence: out.confidence,
    reasons: (stored ?? bias).reasons,
    decisions: logged.map((d) => `${d.strategy}:${d.decision}`),
    notes: evaluation.notes,
  });
  return out;
}

/** Stores the bias unless this slot (or a newer one) is already stored. Returns the slot's document, or null when a newer slot is stored. */
async function storeBias(state: StateStore, doc: StoredBias): Promise<StoredBias | null> {
  const path = biasPath(doc.symbol);
  return state.runTransaction(async (tx) => {
    const cur = await tx.get<StoredBias>(path);
    if (cur && cur.slotStart === doc.slotStart) return cur;
    if (cur && cur.slotStart > doc.slotStart) return null;
    tx.set(path, doc as unknown as DocData);
    return doc;
  });
}

async function markBiasPublished(state: StateStore, symbol: string, slotStart: number): Promise<void> {
  const path = biasPath(symbol);
  await state.runTransaction(async (tx) => {
    const cur = await tx.get<StoredBias>(path);
    if (cur && cur.slotStart === slotStart && !cur.published) tx.merge(path, { published: true });
  });
}

async function publishSignalOnce(deps: MacroDeps, signal: SwingSignal): Promise<boolean> {
  const marker = swingPublishedPath(signal.signalId);
  if (await deps.state.get(marker)) return false;
  const messageId = await publish(deps.bus, TOPICS.swingSignals, signal, {
    attributes: { dedupeId: signal.signalId, symbol: signal.symbol, strategy: signal.strategy },
    orderingKey: `swing:${signal.symbol}`,
  });
  await deps.state.create(marker, { signalId: signal.signalId, symbol: signal.symbol, publishedAt: deps.clock.now(), messageId });
  return true;
}

function conflictSkip(s: SwingSignal, reason: string): ScanDecision {
  return {
    signalId: s.signalId,
    strategy: s.strategy,
    engine: s.engine,
    symbol: s.symbol,
    ts: s.ts,
    candleTime: s.candleTime,
    decision: 'SKIP',
    direction: s.direction,
    price: s.price,
    reasons: [...s.reasons, reason],
    features: { ...s.features, conflictLoser: true, confidence: s.confidence },
    ...(s.ml ? { ml: s.ml } : {}),
  };
}

/** A scan decision as a warehouse `signals` row (reasons and features as JSON text). */
function scanToRow(d: ScanDecision | SwingSignal): Row {
  if (!isSwingSignal(d as SwingScan)) return scanDecisionRow(d);
  const s = d as SwingSignal;
  return scanDecisionRow(d, {
    entries: s.entries,
    entryWeights: s.entryWeights,
    stopLoss: s.stopLoss,
    takeProfit: s.takeProfit,
    trailingFraction: s.trailingFraction,
    maxHoldMs: s.maxHoldMs,
    confidence: s.confidence,
    tier: s.tier,
  });
}

async function resolveRegime(
  deps: MacroDeps,
  input: RegimeInput | undefined,
  slotStart: number,
  strategies: StrategyConfigs,
  system: SystemConfig,
  log: Logger,
): Promise<Regime | null> {
  if (input === null) return null;
  if (typeof input === 'string') return input;
  if (typeof input === 'function') return input(slotStart);
  return macroRegimeAt(deps.state, slotStart, strategies, system, log);
}

/**
 * The BTC regime the MACRO run gives DCA by default at `slotStart`: shared/protection/regime.ts
 * `regimeAt` on the reference symbol's Kraken REGIME_INTERVAL hot candles (null when they are missing
 * or stale). The dashboard's readiness reads the same.
 */
export async function macroRegimeAt(state: StateStore, slotStart: number, strategies: StrategyConfigs, system: SystemConfig, log: Logger): Promise<Regime | null> {
  const cfg = strategies.protections.regime;
  const ref = system.symbols.find((s) => s.symbol === cfg.referenceSymbol && s.krakenPair !== null);
  if (!ref) {
    log.warn('regime reference symbol has no Kraken pair; regime unknown', { referenceSymbol: cfg.referenceSymbol });
    return null;
  }
  const n = regimeReadCandles(system.hotWindowCandles);
  const cols = toColumns(await recentHotCandles(state, VENUE, ref.symbol, REGIME_INTERVAL, n), REGIME_INTERVAL);
  const i = lastClosedIndex(cols, slotStart);
  if (i < 0 || slotStart - ((cols.openTime[i] as number) + INTERVAL_MS[REGIME_INTERVAL]) > MAX_STALE_INTERVALS * INTERVAL_MS[REGIME_INTERVAL]) {
    log.warn('no fresh candles for the regime; regime unknown', { symbol: ref.symbol, interval: REGIME_INTERVAL });
    return null;
  }
  return regimeAt(cols.openTime, cols.close, i, cfg);
}

// ---------- the function's handle (functions/macro-analysis binds it) ----------

export const FUNCTION_NAME = 'macro-analysis';

/** What the macro-analysis function gets from the composition root (infra/runtime/deps.ts). */
export type Deps = MacroDeps;

/** The scheduled body: `{ "symbols": ["BTCUSDT", ...] }` restricts the run to those symbols. */
const bodySchema = z.object({ symbols: z.array(z.string().min(1)).min(1).optional() }).passthrough();

/** One run (Cloud Scheduler every 5 minutes; the local scheduler on the same cadence). A bad body is permanent. */
export async function handle(deps: Deps, body: unknown): Promise<Record<string, unknown>> {
  const parsed = bodySchema.safeParse(body ?? {});
  if (!parsed.success) throw new PermanentError(`macro-analysis: bad body: ${parsed.error.message}`);
  const result = await runMacro(deps, parsed.data.symbols ? { symbols: parsed.data.symbols } : {});
  return { ...result };
}
