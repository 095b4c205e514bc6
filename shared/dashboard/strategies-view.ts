/**
 * The dashboard's Strategies page (api.ts StrategiesView): per coin and strategy, how close it is to
 * triggering now (each condition, its value, its threshold), the bias with its components, cooldowns
 * and what is disabled. Nothing here decides: the conditions are the strategy modules' own
 * `readinessAt` (shared/strategies/readiness.ts), fed exactly as the engines feed `evaluateAt`:
 *
 * - MICRO-SCALP (v52_divergence, levels_exhaustion): the Bybit 1m hot window read through a
 *   CandleCache as micro-scalp does (one cold read of `historyCandles` candles per symbol and
 *   instance, then only the new candles), the strategy series = the last `candleWindow` closed candles,
 *   levels from `levelsAt` (the engine's resampled 15m / 1h levels), evaluated on the last closed
 *   candle. No order book: the engine holds its 15 s book samples in memory, so the order-book flip
 *   shows `unavailable` here (it can only add a check in the engine).
 * - MACRO swing (dca, swing_breakout, channel): the Kraken hot windows macro-analysis reads
 *   (`candlesNeeded`), at the current 5-minute slot start (the time the MACRO run evaluates), with the
 *   regime it gives DCA (`macroRegimeAt`).
 * - Biases: the stored `bias/{symbol}` documents, validated (a document that fails is left out and
 *   logged); cooldowns and volatility-disabled setups: the trading document's protections; disabled
 *   strategies and symbols: the config.
 *
 * Cost: per request one newest-candle query per symbol (Bybit 1m), the bias documents and the trading
 * document. The readiness itself is memoised per instance and state store: scalps per (symbol, newest
 * 1m candle, config), swings per (symbol, slot, config), so a poll between two candles computes
 * nothing (the seed's pre-calculator cached every 5 minutes; here a changed candle is seen at once).
 */
import { z } from 'zod';
import type { BiasView, ReadinessSide, StrategiesView, StrategyReadiness } from './api.js';
import type { TelegramDeps } from '../telegram/deps.js';
import { SCALP_STRATEGIES, type Regime, type ScalpStrategyConfig, type StrategyConfigs, type SwingSetup } from '../config/strategy.js';
import type { SymbolConfig, SystemConfig } from '../config/system.js';
import type { Logger } from '../log.js';
import { latestHotCandle, recentHotCandles } from '../market/hot-store.js';
import type { Interval } from '../model/market.js';
import type { StrategyId } from '../model/trading.js';
import type { StateStore } from '../ports/state.js';
import { macroBiasMessageSchema } from '../messages.js';
import { candlesNeeded, macroRegimeAt, slotStartOf } from '../pipeline/macro-analysis.js';
import { createMicroCache, historyCandles, levelsAt, type MicroCache } from '../pipeline/micro-scalp.js';
import { cooldownUntil } from '../protection/limiter.js';
import type { ProtectionState } from '../protection/model.js';
import { isBiasActive } from '../strategies/macro/bias.js';
import { toColumns, type SeriesByInterval } from '../strategies/macro/columns.js';
import { prepareSwing, swingReadinessAt } from '../strategies/macro/swing.js';
import type { StrategyReadinessAt } from '../strategies/readiness.js';
import type { EvalContext } from '../strategies/scalp/common.js';
import { scalpStrategy } from '../strategies/scalp/registry.js';
import type { CandleSeries } from '../strategies/series.js';
import { biasPath, tradingDocPath } from '../state-paths.js';
import type { TradingDoc } from '../trading/store.js';
import { upgradeTradingDoc } from '../trading/doc-upgrade.js';

const SWING_SETUP_OF: Record<'dca' | 'swing_breakout' | 'channel', SwingSetup> = { dca: 'DCA', swing_breakout: 'SWING', channel: 'CHANNEL' };
const STRATEGY_OF_SETUP: Record<SwingSetup, StrategyId> = { DCA: 'dca', SWING: 'swing_breakout', CHANNEL: 'channel' };

/** The stored bias document (macro-analysis StoredBias), validated on read. */
const storedBiasSchema = macroBiasMessageSchema.extend({ published: z.boolean(), computedAt: z.number() });

/** What readiness computes, before the protections (cooldowns) of the moment are added. */
type Computed = Omit<StrategyReadiness, 'cooldownUntil'>;

/** Per-instance memory of one state store: the engine's candle cache and levels memo, and the readiness memo. */
interface ViewCache {
  micro: MicroCache;
  scalp: Map<string, { key: string; rows: Computed[] }>;
  swing: Map<string, { key: string; rows: Computed[] }>;
  /** The regime given to DCA, per slot. */
  regime: { key: string; value: Regime | null } | null;
}

const caches = new WeakMap<StateStore, ViewCache>();

function cacheOf(state: StateStore): ViewCache {
  let c = caches.get(state);
  if (!c) {
    c = { micro: createMicroCache(), scalp: new Map(), swing: new Map(), regime: null };
    caches.set(state, c);
  }
  return c;
}

export async function strategiesView(d: Pick<TelegramDeps, 'state' | 'config' | 'tg' | 'log'>, now: number): Promise<StrategiesView> {
  const [system, strategies, rawDoc] = await Promise.all([d.config.system(), d.config.strategies(), d.state.get<TradingDoc>(tradingDocPath(d.tg.accountId))]);
  const prot = upgradeTradingDoc(rawDoc)?.state.protections ?? null;
  const cache = cacheOf(d.state);
  const symbols = system.symbols.filter((s) => s.enabled);
  const log = d.log.child({ component: 'dashboard.strategies' });

  const slotStart = slotStartOf(now);
  const macroOn = strategies.macro.enabled && symbols.some((s) => s.krakenPair !== null);
  const regime = macroOn ? await swingRegime(cache, d.state, slotStart, strategies, system, log) : null;

  const perSymbol = await Promise.all(
    symbols.map(async (sym) => {
      const [scalp, swing, bias] = await Promise.all([
        scalpRows(cache, d.state, strategies, sym),
        sym.krakenPair !== null ? swingRows(cache, d.state, strategies, system, sym, slotStart, regime) : Promise.resolve([] as Computed[]),
        biasOf(d.state, sym.symbol, now, log),
      ]);
      return { sym, rows: [...scalp, ...swing], bias };
    }),
  );

  const readiness: StrategyReadiness[] = [];
  const biases: BiasView[] = [];
  for (const { sym, rows, bias } of perSymbol) {
    const cd = prot ? cooldownUntil(prot, sym.symbol, now) : null;
    for (const r of rows) readiness.push({ ...r, enabled: r.enabled && !volDisabled(prot, r.strategy, sym.symbol), cooldownUntil: cd });
    if (bias) biases.push(bias);
  }
  return { asOf: now, readiness, biases, disabled: disabledList(system, strategies, prot) };
}

// ---------- MICRO-SCALP ----------

/** A config key: the readiness memo is dropped when the strategies' config changes. */
function configKey(x: unknown): string {
  return JSON.stringify(x);
}

/** Every scalp strategy enabled, so the window also holds what a disabled one would need (its readiness is still shown). */
function allScalpsOn(strategies: StrategyConfigs): StrategyConfigs {
  const scalp = { ...strategies.scalp };
  for (const id of SCALP_STRATEGIES) scalp[id] = { ...scalp[id], enabled: true } as never;
  return { ...strategies, scalp };
}

async function scalpRows(cache: ViewCache, state: StateStore, strategies: StrategyConfigs, sym: SymbolConfig): Promise<Computed[]> {
  const symbol = sym.symbol;
  const base = (cfg: ScalpStrategyConfig): Omit<Computed, 'decision' | 'asOf' | 'sides'> => ({
    strategy: cfg.strategy,
    engine: 'SCALP',
    symbol,
    enabled: cfg.enabled,
    emitting: cfg.emitSignals,
  });
  const latest = await latestHotCandle(state, 'bybit', symbol, '1m');
  if (!latest) {
    return SCALP_STRATEGIES.map((id) => ({ ...base(strategies.scalp[id]), decision: null, asOf: null, sides: [], note: 'no Bybit 1m candles in the hot store yet' }));
  }
  const key = `${latest.openTime}|${configKey(strategies.scalp)}`;
  const memo = cache.scalp.get(symbol);
  if (memo && memo.key === key) return memo.rows;

  const w = await cache.micro.candles.fillThrough(state, symbol, latest.openTime, historyCandles(allScalpsOn(strategies)));
  const i = w.length - 1;
  const rows: Computed[] = [];
  const seriesByLength = new Map<number, CandleSeries>();
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (i < 0) {
      rows.push({ ...base(cfg), decision: null, asOf: null, sides: [], note: 'no tradable Bybit 1m candle in the hot window' });
      continue;
    }
    // as micro-scalp's decideAt: the last candleWindow closed candles, one series per length
    const len = Math.min(cfg.candleWindow, i + 1);
    let series = seriesByLength.get(len);
    if (!series) {
      series = w.series(i + 1 - len, i + 1);
      seriesByLength.set(len, series);
    }
    const r = scalpReadiness(cache.micro, w, i, cfg, series);
    rows.push({ ...base(cfg), ...readinessFields(r) });
  }
  cache.scalp.set(symbol, { key, rows });
  return rows;
}

function scalpReadiness(micro: MicroCache, w: Parameters<typeof levelsAt>[1], i: number, cfg: ScalpStrategyConfig, series: CandleSeries): StrategyReadinessAt {
  const last = series.length - 1;
  if (cfg.strategy === 'levels_exhaustion') {
    const ctx: EvalContext = { levels: levelsAt(micro, w, i, cfg.levels) };
    const impl = scalpStrategy('levels_exhaustion');
    return impl.readinessAt(impl.prepare(series, cfg), last, ctx);
  }
  const impl = scalpStrategy('v52_divergence');
  return impl.readinessAt(impl.prepare(series, cfg), last);
}

function readinessFields(r: StrategyReadinessAt): Pick<Computed, 'decision' | 'asOf' | 'sides' | 'note'> {
  const out: Pick<Computed, 'decision' | 'asOf' | 'sides' | 'note'> = { decision: r.decision, asOf: r.asOf, sides: r.sides as ReadinessSide[] };
  if (r.note) out.note = r.note;
  return out;
}

// ---------- MACRO swing ----------

async function swingRegime(cache: ViewCache, state: StateStore, slotStart: number, strategies: StrategyConfigs, system: SystemConfig, log: Logger): Promise<Regime | null> {
  const key = `${slotStart}|${configKey(strategies.protections.regime)}`;
  if (cache.regime && cache.regime.key === key) return cache.regime.value;
  const value = await macroRegimeAt(state, slotStart, strategies, system, log);
  cache.regime = { key, value };
  return value;
}

async function swingRows(
  cache: ViewCache,
  state: StateStore,
  strategies: StrategyConfigs,
  system: SystemConfig,
  sym: SymbolConfig,
  slotStart: number,
  regime: Regime | null,
): Promise<Computed[]> {
  const macro = strategies.macro;
  const symbol = sym.symbol;
  const key = `${slotStart}|${String(regime)}|${sym.tier}|${configKey(macro)}`;
  const memo = cache.swing.get(symbol);
  if (memo && memo.key === key) return memo.rows;
  const series: SeriesByInterval = {};
  await Promise.all(
    (Object.entries(candlesNeeded(macro, system.hotWindowCandles)) as Array<[Interval, number]>).map(async ([iv, n]) => {
      series[iv] = toColumns(await recentHotCandles(state, 'kraken', symbol, iv, n), iv);
    }),
  );
  const rows: Computed[] = swingReadinessAt(prepareSwing(macro, series), slotStart, { symbol, tier: sym.tier, regime }).map((s) => {
    const row: Computed = {
      strategy: s.strategy,
      engine: 'MACRO',
      symbol,
      enabled: macro.enabled && s.enabled,
      emitting: true,
      decision: null,
      asOf: null,
      sides: [],
    };
    if (s.readiness) Object.assign(row, readinessFields(s.readiness));
    else if (s.note) row.note = s.note;
    return row;
  });
  cache.swing.set(symbol, { key, rows });
  return rows;
}

function volDisabled(prot: ProtectionState | null, strategy: StrategyId, symbol: string): boolean {
  if (!prot || !(strategy in SWING_SETUP_OF)) return false;
  const setup = SWING_SETUP_OF[strategy as keyof typeof SWING_SETUP_OF];
  return prot.volDisabled[setup]?.[symbol] !== undefined;
}

// ---------- bias, disabled ----------

async function biasOf(state: StateStore, symbol: string, now: number, log: Logger): Promise<BiasView | null> {
  const raw = await state.get(biasPath(symbol));
  if (!raw) return null;
  const parsed = storedBiasSchema.safeParse(raw);
  if (!parsed.success) {
    log.warn('stored bias failed validation: not shown', { symbol, reason: parsed.error.issues[0]?.message ?? 'invalid' });
    return null;
  }
  const b = parsed.data;
  const components: BiasView['components'] = [
    { name: 'score', value: b.score },
    { name: 'available weight', value: b.availableWeight },
  ];
  for (const c of b.components) {
    components.push({ name: `${c.name} (weight ${c.weight})`, value: c.available ? c.score : null });
    components.push({ name: `${c.name} detail`, value: c.detail });
  }
  return { symbol, bias: b.bias, confidence: b.confidence, active: isBiasActive(b, now), expiresAt: b.expiresAt, components };
}

function disabledList(system: SystemConfig, strategies: StrategyConfigs, prot: ProtectionState | null): StrategiesView['disabled'] {
  const out: StrategiesView['disabled'] = [];
  for (const s of system.symbols) if (!s.enabled) out.push({ strategy: 'all', symbol: s.symbol, reason: 'symbol disabled in config/system' });
  for (const id of SCALP_STRATEGIES) {
    const cfg = strategies.scalp[id];
    if (!cfg.enabled) out.push({ strategy: id, symbol: null, reason: `disabled in config/strategies (scalp_${id}.enabled)` });
    else if (!cfg.emitSignals) out.push({ strategy: id, symbol: null, reason: 'log-only: decides and logs, never trades (emitSignals off)' });
  }
  const macro = strategies.macro;
  for (const setup of ['DCA', 'SWING', 'CHANNEL'] as const) {
    const strategy = STRATEGY_OF_SETUP[setup];
    if (!macro.enabled) out.push({ strategy, symbol: null, reason: 'MACRO engine disabled in config/strategies (macro.enabled)' });
    else if (!macro.setups[setup].enabled) out.push({ strategy, symbol: null, reason: `disabled in config/strategies (macro.setups.${setup}.enabled)` });
    for (const [symbol, since] of Object.entries(prot?.volDisabled[setup] ?? {})) {
      out.push({ strategy, symbol, reason: `24h volatility protection since ${new Date(since).toISOString()}` });
    }
  }
  return out;
}
