/**
 * Warm-up history of a backtest (SPEC 7: "every run loads enough history before its start for every
 * indicator and timeframe in use, and trades only inside its range"), pure.
 *
 * 1. `warmupPlan(strategies, system, { macro })`: every component the run uses and the history it
 *    needs, derived from the CONFIG values (periods, windows), never hard-coded:
 *    - on the 1m scalp series, per symbol: each enabled scalp strategy's indicators (RSI, volume EMA,
 *      ATR with ATR exits, pivots / wick look-backs; live computes them on its last `candleWindow`
 *      candles), the levels of levels_exhaustion (horizontal: `lookbackCandles` closed buckets of
 *      their interval; trend lines: TREND_LINE_HISTORY_CANDLES 1h buckets, as micro-scalp.ts
 *      `levelsAt` reads them), the execution's 24h volatility and, on the regime reference symbol,
 *      its 48h regime inputs;
 *    - with the MACRO engine, on the Kraken-venue series: each bias component and swing setup
 *      (shared/pipeline/macro-analysis.ts `macroLookbacks`, the rule the job and the evaluations
 *      use: e.g. trend4h = emaSlow + slopeLookback closed 4h candles) and the job's BTC regime.
 *    Each component says what it needs to PRODUCE a value (`candles`) and what the live engine reads
 *    (`window`: the hot window / candle window; with that much history the backtest computes exactly
 *    live's values from the first candle). The plan's per-series history (`scalpMs`, `macroMs`) is
 *    what a loader reads before `from`: the largest window per series and interval.
 * 2. `warmupReport(...)`: after a run, when each component first produced a value in the range,
 *    measured from what happened where the run shows it (`basis: 'observed'`: the MACRO bias
 *    components and swing setups of every MACRO run, the 24h volatility and the regime inputs the
 *    core received) and from the loaded history otherwise (`basis: 'history'`: scalp indicators,
 *    levels, the MACRO regime), with one line per late component for the report.
 */
import { SCALP_STRATEGIES, type StrategyConfigs } from '../config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../config/system.js';
import { INTERVAL_MS, type Interval } from '../model/market.js';
import { candlesNeeded, MACRO_SLOT_MS, macroLookbacks, REGIME_INTERVAL, regimeReadCandles, type MacroLookback } from '../pipeline/macro-analysis.js';
import { REGIME_HISTORY_MS, VOLATILITY_WINDOW_MS } from '../pipeline/execution.js';
import { TREND_LINE_HISTORY_CANDLES } from '../pipeline/micro-scalp.js';
import { changePctAt } from '../protection/regime.js';
import { lastClosedIndex } from '../strategies/macro/columns.js';
import type { CandleSeries } from '../strategies/series.js';
import { lowerBound, upperBound } from '../sorted.js';
import type { MacroSeries, MacroSlot } from './macro.js';
import type { BacktestMarket } from './market.js';
import { applyOverrides, type Overrides } from './config.js';

const MINUTE = INTERVAL_MS['1m'];

/** Which data a component reads: the 1m scalp series or the MACRO engine's Kraken-venue series. */
export type WarmupSeries = 'scalp' | 'macro';

export interface WarmupComponent {
  /** Stable id, e.g. `macro.trend4h`, `scalp.v52_divergence.indicators`, `protections.volatility24h`. */
  id: string;
  /** What a trader reads, with the config values, e.g. `macro 4h trend (EMA200 + slope over 10 on 4h)`. */
  label: string;
  series: WarmupSeries;
  interval: Interval;
  /** Closed candles of `interval` needed before it produces a value. */
  candles: number;
  /** candles x interval. */
  ms: number;
  /** Candles the live engine reads for it (>= candles): with this much history the values equal live's. */
  window: number;
  windowMs: number;
  /** Only on the regime reference symbol (the others do not compute it). */
  referenceOnly?: boolean;
  /** It computes on less history too (levels from fewer buckets), only not on its full look-back. */
  computesShort?: boolean;
}

export interface WarmupPlan {
  components: WarmupComponent[];
  /** 1m history to load before `from` (the largest scalp-series window). */
  scalpMs: number;
  /** MACRO history to load before `from`, per Kraken interval (empty without the MACRO engine). */
  macroMs: Partial<Record<Interval, number>>;
}

export interface WarmupConfig {
  strategies: StrategyConfigs;
  system: Partial<Pick<SystemConfig, 'hotWindowCandles'>>;
}

function component(id: string, label: string, series: WarmupSeries, interval: Interval, candles: number, window: number, referenceOnly = false, computesShort = false): WarmupComponent {
  const ms = INTERVAL_MS[interval];
  const w = Math.max(window, candles);
  return { id, label, series, interval, candles, ms: candles * ms, window: w, windowMs: w * ms, ...(referenceOnly ? { referenceOnly } : {}), ...(computesShort ? { computesShort } : {}) };
}

function macroLabel(l: MacroLookback, s: StrategyConfigs['macro']): string {
  const c = s.bias.components;
  const st = s.setups;
  switch (l.component) {
    case 'trend4h':
      return `macro ${l.interval} trend (EMA${c.trend4h.emaFast}/EMA${c.trend4h.emaSlow} + slope over ${c.trend4h.slopeLookback} on ${l.interval})`;
    case 'momentum4h':
      return `macro ${l.interval} momentum (RSI${c.momentum4h.rsiPeriod}, MACD ${c.momentum4h.macdFast}/${c.momentum4h.macdSlow}/${c.momentum4h.macdSignal} on ${l.interval})`;
    case 'structure5m':
      return `macro ${l.interval} structure (EMA${c.structure5m.emaPeriod}, RSI${c.structure5m.rsiPeriod} on ${l.interval})`;
    case 'volume':
      return `macro volume (${c.volume.avgPeriod}-candle average on ${l.interval})`;
    case 'DCA':
      return `swing DCA setup (${st.DCA.volumeAvgPeriod}-candle volume average on ${l.interval})`;
    case 'SWING':
      return `swing breakout setup (${st.SWING.resistanceLookback}-candle resistance, RSI${st.SWING.rsiPeriod} on ${l.interval})`;
    case 'SWING.uptrend4h':
      return `swing breakout 4h-uptrend check (EMA${c.trend4h.emaSlow} on ${l.interval})`;
    case 'CHANNEL':
      return `swing channel setup (${st.CHANNEL.lookbackCandles}-candle channel on ${l.interval})`;
  }
}

/** Every component in use and the history it needs (see the module comment). */
export function warmupPlan(config: WarmupConfig, opts: { macro: boolean }): WarmupPlan {
  const { strategies } = config;
  const hot = config.system.hotWindowCandles ?? DEFAULT_SYSTEM_CONFIG.hotWindowCandles;
  const out: WarmupComponent[] = [];
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (!cfg.enabled || !cfg.evaluateOn.closes) continue;
    const atr = cfg.exits.mode === 'atr' ? cfg.exits.atr.period + 1 : 0;
    if (cfg.strategy === 'v52_divergence') {
      const d = cfg.divergence;
      const n = Math.max(d.rsiPeriod + 1, cfg.volumeSpike.emaPeriod, atr, d.lookbackCandles + d.pivotStrength + 1);
      out.push(component(`scalp.${id}.indicators`, `${id} indicators (RSI${d.rsiPeriod}, volume EMA${cfg.volumeSpike.emaPeriod}, ${d.lookbackCandles}-candle pivots${atr ? `, ATR${cfg.exits.atr.period}` : ''} on 1m)`, 'scalp', '1m', n, cfg.candleWindow));
    } else {
      const ex = cfg.exhaustion;
      const n = Math.max(ex.rsi.period + 1, ex.lowVolume.emaPeriod, ex.doubleWick.lookbackCandles, atr);
      out.push(component(`scalp.${id}.indicators`, `${id} indicators (RSI${ex.rsi.period}, volume EMA${ex.lowVolume.emaPeriod}${atr ? `, ATR${cfg.exits.atr.period}` : ''} on 1m)`, 'scalp', '1m', n, cfg.candleWindow));
      const h = cfg.levels.horizontal;
      const t = cfg.levels.trendLines;
      // levelsAt: the last `lookbackCandles` closed buckets before the current one (+1: the current, partly covered).
      out.push(component(`scalp.${id}.levels.horizontal`, `${id} horizontal levels (${h.lookbackCandles} closed ${h.interval} buckets)`, 'scalp', h.interval, h.lookbackCandles + 1, h.lookbackCandles + 1, false, true));
      out.push(component(`scalp.${id}.levels.trendLines`, `${id} trend lines (${TREND_LINE_HISTORY_CANDLES} closed ${t.interval} buckets)`, 'scalp', t.interval, TREND_LINE_HISTORY_CANDLES + 1, TREND_LINE_HISTORY_CANDLES + 1, false, true));
    }
  }
  const vol = VOLATILITY_WINDOW_MS / MINUTE;
  out.push(component('protections.volatility24h', '24h volatility (protections, adaptive stops)', 'scalp', '1m', vol, vol));
  const reg = REGIME_HISTORY_MS / MINUTE + 1;
  out.push(component('protections.regime', `market regime inputs (1h..48h changes of ${strategies.protections.regime.referenceSymbol} on 1m)`, 'scalp', '1m', reg, reg, true));

  const macroMs: Partial<Record<Interval, number>> = {};
  if (opts.macro && strategies.macro.enabled) {
    const read = candlesNeeded(strategies.macro, hot);
    for (const l of macroLookbacks(strategies.macro)) {
      out.push(component(`macro.${l.component}`, macroLabel(l, strategies.macro), 'macro', l.interval, l.candles, read[l.interval] ?? l.candles));
    }
    const r = regimeReadCandles(hot);
    out.push(component('macro.regime', `MACRO regime for DCA (${strategies.protections.regime.referenceSymbol} 48h on ${REGIME_INTERVAL})`, 'macro', REGIME_INTERVAL, r, r, true));
  }
  let scalpMs = 0;
  for (const c of out) {
    if (c.series === 'scalp') scalpMs = Math.max(scalpMs, c.windowMs);
    else macroMs[c.interval] = Math.max(macroMs[c.interval] ?? 0, c.windowMs);
  }
  return { components: out, scalpMs, macroMs };
}

// ---------------------------------------------------------------------------------------------
// after the run: what could not compute, and for how long

export interface WarmupStatus {
  id: string;
  label: string;
  symbol: string;
  interval: Interval;
  candles: number;
  /** Market time from which it produced a value (null: never in the range). */
  readyAt: number | null;
  /** How long into the range it had no value (ms; the whole range when never). */
  lateMs: number;
  basis: 'observed' | 'history';
  /** It had a value before `readyAt`, computed on less history than it needs (levels). */
  computesShort?: boolean;
}

export interface WarmupReport {
  /** History the config needs before `from`: 1m (scalp series) and per MACRO interval, in hours. */
  neededHours: { scalp: number; macro: Partial<Record<Interval, number>> };
  /** History the data had before `from`, per symbol (hours; the MACRO series per interval). */
  loadedHours: Record<string, { scalp: number; macro?: Partial<Record<Interval, number>> }>;
  /** Components that had no value at the start of the range. */
  short: WarmupStatus[];
  /** MACRO intervals whose history covers every component but is shorter than the live hot window. */
  partial: Array<{ symbol: string; interval: Interval; candles: number; window: number }>;
  /** The report's lines (also in the result's notes). */
  lines: string[];
}

export interface WarmupInput {
  market: BacktestMarket;
  config: WarmupConfig;
  macroSeries?: MacroSeries;
  /** The run's MACRO runs (the bias components and setups observed per slot). */
  slots?: readonly MacroSlot[];
}

const H = INTERVAL_MS['1h'];
const round1 = (x: number) => Math.round(x * 10) / 10;

/** First index >= a (and < b) where `ok(i)`, or -1. */
function firstIndex(a: number, b: number, ok: (i: number) => boolean): number {
  for (let i = a; i < b; i++) if (ok(i)) return i;
  return -1;
}

/** Open time of the first candle of the range at which a 1m component reading whole `interval` buckets had its history. */
function bucketReadyAt(first: number, interval: Interval, buckets: number): number {
  const ms = INTERVAL_MS[interval];
  return (Math.ceil(first / ms) + buckets) * ms - MINUTE;
}

/** When each component first produced a value in the range, and the lines saying which did not at the start. */
export function warmupReport(input: WarmupInput): WarmupReport {
  const { market: m, config } = input;
  const plan = warmupPlan(config, { macro: input.macroSeries !== undefined });
  const ref = config.strategies.protections.regime.referenceSymbol;
  const statuses: WarmupStatus[] = [];
  const loadedHours: WarmupReport['loadedHours'] = {};
  const end = m.to + MINUTE;
  const status = (c: WarmupComponent, symbol: string, readyAt: number | null, basis: WarmupStatus['basis']) => {
    statuses.push({ id: c.id, label: c.label, symbol, interval: c.interval, candles: c.candles, readyAt, lateMs: readyAt === null ? end - m.from : Math.max(0, readyAt - m.from), basis, ...(c.computesShort ? { computesShort: true } : {}) });
  };

  for (let k = 0; k < m.series.length; k++) {
    const s = m.series[k] as CandleSeries;
    const sym = s.symbol;
    const first = s.openTime[0] as number;
    loadedHours[sym] = { scalp: round1(Math.max(0, m.from - first) / H) };
    const a = lowerBound(s.openTime, m.from);
    const b = upperBound(s.openTime, m.to);
    if (a >= b) continue;
    for (const c of plan.components) {
      if (c.series !== 'scalp' || (c.referenceOnly && sym !== ref)) continue;
      let readyAt: number | null;
      let basis: WarmupStatus['basis'] = 'history';
      if (c.id === 'protections.volatility24h') {
        const v = m.volatility[k] as Float64Array;
        const i = firstIndex(a, b, (j) => Number.isFinite(v[j] as number));
        readyAt = i < 0 ? null : (s.openTime[i] as number);
        basis = 'observed';
      } else if (c.id === 'protections.regime') {
        const i = firstIndex(a, b, (j) => Number.isFinite(changePctAt(s.openTime, s.close, j, REGIME_HISTORY_MS)));
        readyAt = i < 0 ? null : (s.openTime[i] as number);
        basis = 'observed';
      } else if (c.interval === '1m') {
        readyAt = c.candles <= s.length ? (s.openTime[c.candles - 1] as number) : null;
      } else {
        readyAt = bucketReadyAt(first, c.interval, c.candles - 1);
      }
      if (readyAt !== null && readyAt > m.to) readyAt = null;
      status(c, sym, readyAt, basis);
    }
  }

  const partial: WarmupReport['partial'] = [];
  // The first MACRO run of the range (macro.ts macroTimeline): the first 5-minute mark >= from + 1m.
  const firstSlot = Math.ceil((m.from + MINUTE) / MACRO_SLOT_MS) * MACRO_SLOT_MS;
  if (input.macroSeries) {
    for (const sym of m.symbols) {
      const byIv = input.macroSeries[sym] ?? {};
      const hours: Partial<Record<Interval, number>> = {};
      for (const [iv, s] of Object.entries(byIv) as Array<[Interval, CandleSeries | undefined]>) {
        if (s && s.length > 0) hours[iv] = round1(Math.max(0, m.from - (s.openTime[0] as number)) / H);
      }
      (loadedHours[sym] ??= { scalp: 0 }).macro = hours;
      const slots = (input.slots ?? []).filter((x) => x.symbol === sym);
      if (slots.length === 0) continue;
      const applies = (c: WarmupComponent) => c.series === 'macro' && (!c.referenceOnly || sym === ref);
      for (const c of plan.components) {
        if (!applies(c)) continue;
        if (c.id === 'macro.regime') {
          // Always computed (NaN changes classify as calm); its 48h change needs the history.
          const s = byIv[c.interval];
          const closed = s ? lastClosedIndex(s, firstSlot) + 1 : 0;
          const at = s && s.length >= c.candles ? (s.openTime[c.candles - 1] as number) + INTERVAL_MS[c.interval] : null;
          status(c, sym, closed >= c.candles ? firstSlot : at !== null && at <= end ? at : null, 'history');
          continue;
        }
        const hit = slots.find((x) => producedValue(c.id, x));
        status(c, sym, hit ? hit.now : null, 'observed');
      }
      for (const iv of Object.keys(plan.macroMs) as Interval[]) {
        const comps = plan.components.filter((c) => applies(c) && c.interval === iv);
        if (comps.length === 0) continue;
        const window = Math.max(...comps.map((c) => c.window));
        const min = Math.max(...comps.map((c) => c.candles));
        const s = byIv[iv];
        const have = s ? lastClosedIndex(s, firstSlot) + 1 : 0;
        if (have < window && have >= min) partial.push({ symbol: sym, interval: iv, candles: have, window });
      }
    }
  }
  // Late: the first value comes after the first candle (MACRO components: after the first MACRO run).
  const short = statuses.filter((x) => x.readyAt === null || x.readyAt > (x.id.startsWith('macro.') ? firstSlot : m.from));
  return {
    neededHours: { scalp: round1(plan.scalpMs / H), macro: Object.fromEntries(Object.entries(plan.macroMs).map(([iv, ms]) => [iv, round1(ms / H)])) },
    loadedHours,
    short,
    partial,
    lines: warmupLines(short, partial, m.from, m.to),
  };
}

/** Whether the MACRO run of one slot produced a value for component `id`. */
function producedValue(id: string, slot: MacroSlot): boolean {
  const name = id.slice('macro.'.length);
  const comp = slot.biasResult.components.find((c) => c.name === name);
  if (comp) return comp.available;
  const strategy = name === 'DCA' ? 'dca' : name === 'CHANNEL' ? 'channel' : 'swing_breakout';
  const scan = slot.scans.find((d) => d.strategy === strategy);
  if (!scan || scan.features.insufficientData === true) return false;
  if (name === 'SWING.uptrend4h') return scan.features.uptrend4h !== null && scan.features.uptrend4h !== undefined;
  return true;
}

function iso(t: number): string {
  return `${new Date(t).toISOString().slice(0, 16)}Z`;
}

function span(ms: number): string {
  return ms >= 2 * 86_400_000 ? `${round1(ms / 86_400_000)} days` : ms >= 2 * H ? `${round1(ms / H)} h` : `${Math.round(ms / MINUTE)} min`;
}

/** One line per late component (symbols with the same outcome together), then the partial MACRO windows. */
function warmupLines(short: readonly WarmupStatus[], partial: WarmupReport['partial'], from: number, to: number): string[] {
  const groups = new Map<string, { s: WarmupStatus; symbols: string[] }>();
  for (const s of short) {
    const key = `${s.id}|${s.readyAt}`;
    const g = groups.get(key);
    if (g) g.symbols.push(s.symbol);
    else groups.set(key, { s, symbols: [s.symbol] });
  }
  const lines: string[] = [];
  for (const { s, symbols } of groups.values()) {
    const what = s.computesShort ? 'computed on less history than it needs' : 'no value';
    const when = s.readyAt === null ? `${what} in the whole range (${span(to + MINUTE - from)})` : `${what} until ${iso(s.readyAt)} (${span(s.readyAt - from)} into the range)`;
    lines.push(`warm-up: ${s.label}, needs ${s.candles} ${s.interval} candles, on ${symbols.join(', ')}: ${when}: the history before --from is short`);
  }
  const byIv = new Map<string, string[]>();
  for (const p of partial) {
    const key = `${p.interval}|${p.candles}|${p.window}`;
    byIv.set(key, [...(byIv.get(key) ?? []), p.symbol]);
  }
  for (const [key, symbols] of byIv) {
    const [iv, have, window] = key.split('|');
    lines.push(`warm-up: MACRO ${iv} history of ${symbols.join(', ')}: ${have} candles before the range, live reads ${window}; every component computes from the start, EMA-based values differ slightly from live's until the window is full`);
  }
  return lines;
}

/**
 * The warm-up a set of runs needs: the longest of the base config's and of each override set's
 * (grid combos, hyperopt corners, shadow challengers). An override set the schemas refuse is skipped
 * here: its run fails on its own, with its message.
 */
export function neededWarmup(base: StrategyConfigs, overrides: readonly Overrides[], macro: boolean): Pick<WarmupPlan, 'scalpMs' | 'macroMs'> {
  const out: Pick<WarmupPlan, 'scalpMs' | 'macroMs'> = { scalpMs: 0, macroMs: {} };
  for (const o of [{}, ...overrides]) {
    let strategies: StrategyConfigs;
    try {
      strategies = applyOverrides(base, o);
    } catch {
      continue; // an invalid option fails in the grid itself, with its message
    }
    const p = warmupPlan({ strategies, system: DEFAULT_SYSTEM_CONFIG }, { macro });
    out.scalpMs = Math.max(out.scalpMs, p.scalpMs);
    for (const [iv, ms] of Object.entries(p.macroMs) as Array<[Interval, number]>) out.macroMs[iv] = Math.max(out.macroMs[iv] ?? 0, ms);
  }
  return out;
}

