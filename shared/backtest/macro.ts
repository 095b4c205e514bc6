/**
 * The MACRO engine in the backtest (SPEC 3, 7): the SAME functions as production
 * (shared/pipeline/macro-analysis.ts `runMacro` -> bias.ts `prepareBias` / `evaluateBiasAt`,
 * swing.ts `prepareSwing` / `evaluateSwingAt` / `resolveSwingConflicts`, the regime with
 * protection/regime.ts `regimeAt`), called with the same inputs and `now` values as the live
 * pipeline driven by scripts/replay-month.ts:
 *
 * - every MACRO_SLOT_MS of market time t (t = close time of the minute; t % 5 min = 0), per symbol
 *   in the run's symbol order (enabled, with a Kraken pair, as `runMacro` filters them):
 *   the hot window the job reads is the last `candlesNeeded(...)[iv]` Kraken-venue candles of each
 *   interval CLOSED by t (the replay writes a candle to the hot store once it closed), so this module
 *   evaluates exactly those windows (`sliceSeries` views of the full series: indices > the last
 *   closed one are never visible: no lookahead), as of slotStart = t;
 * - the bias becomes the execution's BiasState exactly as `executeBias` / `executeSignal` map the
 *   message / stored document (name, weight, score, detail per component), after the JSON round
 *   trip and zod validation of the bus;
 * - the surviving swing TAKEs (one per coin after `resolveSwingConflicts`) are published ONCE per
 *   signal id (the job's `macro_swing_published` marker) and reach the core as the `Signal` the bus
 *   carries: the catalog's `trade-signals-swing` schema after the JSON round trip, as execution gets it.
 *
 * Nothing here depends on the trading state, so the timeline is computed once per (HTF data, macro
 * config, regime config, symbols) and memoised on the data object (grids reuse it).
 */
import { biasStateOf } from '../pipeline/execution.js';
import type { Regime, StrategyConfigs } from '../config/strategy.js';
import type { SystemConfig } from '../config/system.js';
import { INTERVAL_MS, type Candle, type Interval, type Venue } from '../model/market.js';
import { regimeAt } from '../protection/regime.js';
import { evaluateBiasAt, MAX_STALE_INTERVALS, prepareBias, type BiasResult } from '../strategies/macro/bias.js';
import { lastClosedIndex, type SeriesByInterval } from '../strategies/macro/columns.js';
import { candlesNeeded, MACRO_SLOT_MS, REGIME_INTERVAL, regimeReadCandles } from '../pipeline/macro-analysis.js';
import { evaluateSwingAt, isSwingSignal, prepareSwing, resolveSwingConflicts, type SwingScan } from '../strategies/macro/swing.js';
import { allocColumns, candleAt, sliceSeries, type CandleColumns, type CandleSeries } from '../strategies/series.js';
import type { BiasState, Signal } from '../model/trading.js';
import { MESSAGE_SCHEMAS } from '../messages.js';
import { TOPICS } from '../topics.js';

const MINUTE = INTERVAL_MS['1m'];

/** Kraken-venue candle series per symbol and interval (the replay's 5m / 15m files, 1h / 4h resampled). */
export type MacroSeries = Readonly<Record<string, Partial<Record<Interval, CandleSeries>>>>;

/** One symbol's MACRO run at one slot. */
export interface MacroSlot {
  /** Market time of the run (= slotStart: a 5-minute mark). */
  now: number;
  symbol: string;
  /** The bias as the execution applies it (`applyBias`) and reads it for this symbol's signals. */
  bias: BiasState;
  /** The full bias result (components with inputs, reasons), as stored at `bias/{symbol}`. */
  biasResult: BiasResult;
  regime: Regime | null;
  /** Every setup decision of the slot (the job logs them to `signals`). */
  scans: SwingScan[];
  /** Signal ids dropped by conflict resolution, with the reason. */
  dropped: Array<{ signalId: string; reason: string }>;
  /** Swing signals published at this slot (first publication of their id), as the core's Signal. */
  signals: Signal[];
}

export interface MacroTimeline {
  slots: MacroSlot[];
  notes: string[];
}

export interface MacroTimelineInput {
  /** Symbols of the run, in the order the replay runs the job. */
  symbols: readonly string[];
  /** Market minutes evaluated: the job runs at every t in (from, to + 1m] with t % MACRO_SLOT_MS = 0. */
  from: number;
  to: number;
  series: MacroSeries;
  strategies: Pick<StrategyConfigs, 'macro' | 'protections'>;
  system: Pick<SystemConfig, 'symbols' | 'hotWindowCandles'>;
}

const memo = new WeakMap<object, Map<string, MacroTimeline>>();

/**
 * The bias of every (slot, symbol) of a timeline, in slot order, per data object and what the bias
 * reads: the bias config and TTL, the hot-window lengths (`candlesNeeded`, which other macro keys can
 * change: a longer window seeds the EMAs differently) and the run's symbols and range. Configs that
 * differ only in swing setups or exits (shadow challengers, grid options) share it: the bias is ~60 %
 * of a timeline's cost (measured on the kit month: 3.9 s of 6.4 s per 6,000 symbol-slots).
 */
const biasMemo = new WeakMap<object, Map<string, Array<{ bias: BiasState; biasResult: BiasResult }>>>();

/** The hot-store read of `runMacro`: the last `n` candles of `s` closed by `t` (a view). */
export function hotWindow(s: CandleSeries | undefined, iv: Interval, t: number, n: number): CandleColumns {
  if (!s || s.length === 0) return allocColumns(iv, 0);
  const j = lastClosedIndex(s, t);
  return sliceSeries(s, Math.max(0, j + 1 - n), j + 1);
}

export { biasStateOf };

/** The regime the job computes (shared/pipeline/macro-analysis.ts `resolveRegime`, default provider) as of slot t. */
export function regimeAsOf(series: MacroSeries, strategies: Pick<StrategyConfigs, 'protections'>, system: Pick<SystemConfig, 'symbols' | 'hotWindowCandles'>, t: number): Regime | null {
  const cfg = strategies.protections.regime;
  const ref = system.symbols.find((s) => s.symbol === cfg.referenceSymbol && s.krakenPair !== null);
  if (!ref) return null;
  const n = regimeReadCandles(system.hotWindowCandles);
  const cols = hotWindow(series[ref.symbol]?.[REGIME_INTERVAL], REGIME_INTERVAL, t, n);
  const i = lastClosedIndex(cols, t);
  if (i < 0 || t - ((cols.openTime[i] as number) + INTERVAL_MS[REGIME_INTERVAL]) > MAX_STALE_INTERVALS * INTERVAL_MS[REGIME_INTERVAL]) return null;
  return regimeAt(cols.openTime, cols.close, i, cfg);
}

/** Validates the HTF input: each series is its key's symbol and interval. */
export function checkMacroSeries(series: MacroSeries): void {
  for (const [symbol, byIv] of Object.entries(series)) {
    for (const [iv, s] of Object.entries(byIv) as Array<[Interval, CandleSeries | undefined]>) {
      if (!s) continue;
      if (s.symbol !== symbol || s.interval !== iv) throw new Error(`backtest: macroSeries.${symbol}.${iv} holds ${s.symbol} ${s.interval} candles`);
      for (let i = 1; i < s.length; i++) {
        if (!((s.openTime[i] as number) > (s.openTime[i - 1] as number))) throw new Error(`backtest: macroSeries.${symbol}.${iv}: open times must strictly increase (index ${i})`);
      }
    }
  }
}

/** Every MACRO run of the range (memoised per data object and configs). */
export function macroTimeline(input: MacroTimelineInput): MacroTimeline {
  const { series, strategies, system } = input;
  const macro = strategies.macro;
  const key = JSON.stringify([input.symbols, input.from, input.to, macro, strategies.protections.regime, system.hotWindowCandles, system.symbols]);
  let byKey = memo.get(series);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const out: MacroTimeline = { slots: [], notes: [] };
  if (macro.enabled) {
    const needed = candlesNeeded(macro, system.hotWindowCandles);
    const runnable = input.symbols.map((s) => system.symbols.find((x) => x.symbol === s && x.enabled && x.krakenPair !== null) ?? null);
    for (let k = 0; k < input.symbols.length; k++) {
      const sym = input.symbols[k] as string;
      if (!runnable[k]) out.notes.push(`MACRO: ${sym} is not enabled with a Kraken pair in SystemConfig.symbols: no bias, no swing setups`);
      else if (!series[sym]) out.notes.push(`MACRO: no HTF candles for ${sym}: its bias is NEUTRAL (insufficient data), as live with an empty hot store`);
    }
    const biasKey = JSON.stringify([input.symbols, input.from, input.to, macro.bias, macro.biasTtlMs, needed, system.symbols]);
    let biasBySeries = biasMemo.get(series);
    if (!biasBySeries) biasMemo.set(series, (biasBySeries = new Map()));
    const knownBias = biasBySeries.get(biasKey);
    const published = new Set<string>();
    const first = Math.floor((input.from + MINUTE) / MACRO_SLOT_MS) * MACRO_SLOT_MS;
    for (let t = first; t <= input.to + MINUTE; t += MACRO_SLOT_MS) {
      if (t < input.from + MINUTE) continue;
      let regime: Regime | null | undefined;
      for (let k = 0; k < input.symbols.length; k++) {
        const sym = runnable[k];
        if (!sym) continue;
        regime ??= regimeAsOf(series, strategies, system, t);
        const win: SeriesByInterval = {};
        for (const [iv, n] of Object.entries(needed) as Array<[Interval, number]>) win[iv] = hotWindow(series[sym.symbol]?.[iv], iv, t, n);
        let b = knownBias?.[out.slots.length];
        if (!b) {
          const biasResult = evaluateBiasAt(prepareBias(macro, win), sym.symbol, t);
          // The bus: JSON, validated by the execution's schema.
          const message = MESSAGE_SCHEMAS[TOPICS.macroBias].parse(JSON.parse(JSON.stringify({ ...biasResult, slotStart: t, dedupeId: `macro-bias:${sym.symbol}:${t}` })));
          b = { bias: biasStateOf(message), biasResult };
        }
        const evaluation = evaluateSwingAt(prepareSwing(macro, win), t, { symbol: sym.symbol, tier: sym.tier, regime });
        const resolution = resolveSwingConflicts(evaluation.decisions.filter(isSwingSignal));
        const signals: Signal[] = [];
        for (const s of resolution.kept) {
          if (published.has(s.signalId)) continue;
          published.add(s.signalId);
          signals.push(MESSAGE_SCHEMAS[TOPICS.swingSignals].parse(JSON.parse(JSON.stringify(s))));
        }
        out.slots.push({
          now: t,
          symbol: sym.symbol,
          bias: b.bias,
          biasResult: b.biasResult,
          regime,
          scans: evaluation.decisions,
          dropped: resolution.dropped.map((d) => ({ signalId: d.signal.signalId, reason: d.reason })),
          signals,
        });
      }
    }
    if (!knownBias) biasBySeries.set(biasKey, out.slots.map((x) => ({ bias: x.bias, biasResult: x.biasResult })));
  }
  if (!byKey) {
    byKey = new Map();
    memo.set(series, byKey);
  }
  byKey.set(key, out);
  return out;
}

/**
 * The Kraken-venue candles the execution applies to the core (`ohlc-data-kraken` -> executeCandles):
 * those of a configured feed on `venue`, closed in (from, to + 1m] (the replay publishes a candle at
 * the first minute mark >= its close; earlier ones are only the hot store's warm start), ordered by
 * close time, then symbol order, then feed order. Each is applied at now = its close time.
 */
export function feedCandles(series: MacroSeries, symbols: readonly string[], feeds: ReadonlyArray<{ venue: Venue; interval: Interval }>, from: number, to: number): Candle[] {
  const out: Array<{ c: Candle; close: number; k: number; f: number }> = [];
  feeds.forEach((feed, f) => {
    symbols.forEach((sym, k) => {
      const s = series[sym]?.[feed.interval];
      if (!s) return;
      const ms = INTERVAL_MS[feed.interval];
      for (let i = 0; i < s.length; i++) {
        const close = (s.openTime[i] as number) + ms;
        if (close <= from || close > to + MINUTE) continue;
        out.push({ c: { ...candleAt(s, i), venue: feed.venue, interval: feed.interval }, close, k, f });
      }
    });
  });
  out.sort((a, b) => a.close - b.close || a.k - b.k || a.f - b.f || a.c.openTime - b.c.openTime);
  return out.map((x) => x.c);
}
