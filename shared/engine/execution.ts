/**
 * The execution / paper engine glue (SPEC 5, 6), domain only: every input goes through the ONE
 * trading core (shared/trading/engine.ts) via TradingStore (one transaction per input on
 * `trading/{accountId}`, idempotent by signal id / candle watermark), then the outcome is published:
 * trade events on `trade-events` (attribute `dedupeId` = the deterministic event id, ordering key =
 * trade group), protection changes as alerts on `system-alerts` (`protectionAlert`, one per change),
 * and closed trades appended to the warehouse `paper_trades` (`closedTradeRows`, idempotent by
 * trade id). A redelivered input returns the stored events, which are published again with the same
 * ids (downstream de-duplicates), so a crash between commit and publish loses nothing.
 *
 * Inputs:
 * - scalp signals (`trade-signals-micro`, `Signal`) and swing signals (`trade-signals-swing`);
 *   market context: the stored macro bias `bias/{symbol}` and the symbol's 24h volatility;
 * - closed candles: Bybit 1m (`candles-bybit-1m`: scalp fills/exits, 24h volatility of every symbol,
 *   the BTC regime inputs on the reference symbol) and Kraken (`ohlc-data-kraken`: swing fills on
 *   the SWING feed, DEFAULT_FEEDS); candles of no configured feed change nothing and are skipped;
 *   candles flagged bad data are never traded;
 * - macro bias updates (`macro-bias-updates`): the scalp bias filter.
 *
 * Ordering rule (the backtester's order: candle i is processed before the decision taken at i): a
 * SCALP signal is applied only once the execution has applied every candle of its feed closed by the
 * decision time; before that the delivery fails and is retried by the bus (until the last allowed
 * attempt, or until the signal is stale, when it is applied anyway and the core decides).
 *
 * Market inputs come from an in-memory per-instance window of Bybit 1m candles per symbol
 * (shared/engine/candle-cache.ts): 24h for volatility, 48h on the regime's reference symbol (the
 * regime's longest window). One hot-store query per symbol on a cold start, nothing when warm.
 *
 * Paper mode only. `venue` is the seam for live trading (shared/ports/execution.ts; another module):
 * when given, it receives every committed outcome after it was published. Nothing here wires it.
 */
import type { ConfigSource } from '../config/source.js';
import type { StrategyConfigs } from '../config/strategy.js';
import type { Logger } from '../log.js';
import { INTERVAL_MS, isTradable, type Candle } from '../market/types.js';
import type { Bus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { StateStore } from '../ports/state.js';
import type { Warehouse } from '../ports/warehouse.js';
import { protectionAlert } from '../protection/alerts.js';
import type { ProtectionEvent, RegimeInputs } from '../protection/model.js';
import { REGIME_WINDOWS_MS, regimeInputsAt } from '../protection/regime.js';
import { volatilityPctAt } from '../protection/volatility.js';
import { biasPath, type StoredBias } from '../strategies/macro/engine.js';
import type { MacroBiasMessage, SwingSignalMessage } from '../strategies/macro/messages.js';
import { TOPICS } from '../topics.js';
import type { CandleMarket, SignalDecision, TradingEvent, TradingState } from '../trading/engine.js';
import { tradingConfigFrom, type TradeEvent, type TradingConfig } from '../trading/model.js';
import { closedTradeRows, feedKey, tradingDocPath, TradingStore, type TradingDoc } from '../trading/store.js';
import type { BiasState, Signal } from '../trading/types.js';
import { CandleCache, type CandleWindow } from './candle-cache.js';

/** The paper account every signal trades on. Proposed config field: `paper.accountId`. */
export const PAPER_ACCOUNT_ID = 'paper';
/** Window of the "24h volatility" (SPEC 6) fed to adaptive stops and the strategy disable. */
export const VOLATILITY_WINDOW_MS = 24 * 60 * 60_000;
/** Longest regime window (48h bleed). */
export const REGIME_HISTORY_MS = Math.max(...Object.values(REGIME_WINDOWS_MS));
const MINUTE = INTERVAL_MS['1m'];

/** The live-trading seam: receives every committed outcome (not wired in paper mode). */
export interface ExecutionVenue {
  readonly name: string;
  onOutcome(outcome: { accountId: string; state: TradingState; events: readonly TradingEvent[]; now: number }): Promise<void>;
}

export interface ExecutionCache {
  /** Bybit 1m windows per symbol (volatility, regime inputs). */
  candles: CandleCache;
}

const caches = new WeakMap<StateStore, ExecutionCache>();

/** The instance's cache for this state store (a new store starts cold). */
export function executionCacheFor(state: StateStore): ExecutionCache {
  let c = caches.get(state);
  if (!c) {
    c = { candles: new CandleCache('bybit', '1m') };
    caches.set(state, c);
  }
  return c;
}

export interface ExecutionDeps {
  state: StateStore;
  bus: Bus;
  warehouse: Warehouse;
  clock: Clock;
  log: Logger;
  config: ConfigSource;
  cache: ExecutionCache;
  /** Default PAPER_ACCOUNT_ID. */
  accountId?: string;
  /** Live-trading seam (see ExecutionVenue); absent = paper only. */
  venue?: ExecutionVenue;
}

export interface ExecutionOutcome {
  /** false when the input had been applied before (its stored events were re-published). */
  applied: boolean;
  events: readonly TradingEvent[];
  decision?: SignalDecision;
}

/** Thrown (and retried by the bus) while a scalp signal's decision candle is not applied yet. */
export class DecisionCandlePendingError extends Error {
  override readonly name = 'DecisionCandlePendingError';
}

function storeFor(deps: ExecutionDeps, cfg: TradingConfig): TradingStore {
  return new TradingStore(deps.state, { accountId: deps.accountId ?? PAPER_ACCOUNT_ID, config: cfg });
}

/** 1m candles kept per symbol for the market inputs. */
function capacityFor(symbol: string, strategies: StrategyConfigs): number {
  const ms = symbol === strategies.protections.regime.referenceSymbol ? Math.max(REGIME_HISTORY_MS, VOLATILITY_WINDOW_MS) : VOLATILITY_WINDOW_MS;
  return ms / MINUTE + 1;
}

/** 24h volatility at window index i, or null when the window does not cover 24h yet. */
function volatilityAt(w: CandleWindow, i: number): number | null {
  const c = w.at(i);
  const first = w.at(0);
  if (!c || !first || first.openTime > c.openTime - VOLATILITY_WINDOW_MS + MINUTE) return null;
  const v = volatilityPctAt(w.cols.openTime, w.cols.high, w.cols.low, i, VOLATILITY_WINDOW_MS);
  return Number.isFinite(v) ? v : null;
}

function regimeInputsOf(w: CandleWindow, i: number): RegimeInputs {
  return regimeInputsAt(w.cols.openTime, w.cols.close, i);
}

/** Publishes an outcome: trade events, protection alerts, closed-trade rows; then the venue seam. */
export async function publishOutcome(deps: ExecutionDeps, state: TradingState, events: readonly TradingEvent[], now: number): Promise<void> {
  for (const e of events) {
    if (e.type === 'protection') {
      const alert = protectionAlert(e as ProtectionEvent);
      await deps.bus.publish(TOPICS.alerts, alert, { attributes: { kind: alert.kind, dedupeId: alert.alertId } });
    } else {
      const t = e as TradeEvent;
      await deps.bus.publish(TOPICS.tradeEvents, t, {
        attributes: { dedupeId: t.eventId, type: t.type, symbol: t.symbol, strategy: t.strategy },
        orderingKey: t.groupId,
      });
    }
  }
  const rows = closedTradeRows(events);
  if (rows.length > 0) await deps.warehouse.insert('paper_trades', rows);
  if (deps.venue && events.length > 0) await deps.venue.onOutcome({ accountId: deps.accountId ?? PAPER_ACCOUNT_ID, state, events, now });
}

export interface DeliveryInfo {
  /** 1-based delivery attempt of the message. */
  attempt: number;
  /** Attempts before the bus dead-letters (SystemConfig delivery.maxAttempts). */
  maxAttempts: number;
}

/** A swing signal message as the core's Signal (the grid weights are equal: the core sizes equal notional). */
export function signalFromSwingMessage(m: SwingSignalMessage): Signal {
  const { entryWeights: _weights, ...signal } = m;
  return signal;
}

function biasStateOf(b: Pick<MacroBiasMessage, 'symbol' | 'bias' | 'confidence' | 'components' | 'ts' | 'expiresAt'>): BiasState {
  return {
    symbol: b.symbol,
    bias: b.bias,
    confidence: b.confidence,
    components: b.components.map((c) => ({ name: c.name, weight: c.weight, score: c.score, detail: c.detail })),
    ts: b.ts,
    expiresAt: b.expiresAt,
  };
}

/** Applies one signal (scalp or swing) through the core; see the ordering rule above. */
export async function executeSignal(deps: ExecutionDeps, signal: Signal, delivery?: DeliveryInfo): Promise<ExecutionOutcome> {
  const strategies = await deps.config.strategies();
  const cfg = tradingConfigFrom(strategies);
  const now = deps.clock.now();
  const accountId = deps.accountId ?? PAPER_ACCOUNT_ID;
  const timeout = signal.engine === 'SCALP' ? cfg.paper.entryTimeoutMs.scalp : cfg.paper.entryTimeoutMs.swing;
  const stale = now >= signal.ts + timeout;
  if (signal.engine === 'SCALP' && !stale && (!delivery || delivery.attempt < delivery.maxAttempts)) {
    const feed = cfg.feeds.SCALP;
    const feedMs = INTERVAL_MS[feed.interval];
    const required = Math.floor(signal.ts / feedMs) * feedMs - feedMs;
    const doc = await deps.state.get<TradingDoc>(tradingDocPath(accountId));
    const mark = doc?.candleWatermarks[feedKey({ venue: feed.venue, symbol: signal.symbol, interval: feed.interval })];
    if (mark === undefined || mark < required) {
      throw new DecisionCandlePendingError(`${signal.signalId}: candle ${required} of ${signal.symbol} not applied yet (watermark ${mark ?? 'none'}); retry`);
    }
  }
  const stored = await deps.state.get<StoredBias>(biasPath(signal.symbol));
  const w = await deps.cache.candles.ingest(deps.state, signal.symbol, [], capacityFor(signal.symbol, strategies));
  const lastIdx = w.lowerBound(signal.ts) - 1;
  const market = { bias: stored ? biasStateOf(stored) : null, volatility24hPct: lastIdx >= 0 ? volatilityAt(w, lastIdx) : null };
  const r = await storeFor(deps, cfg).applySignal(signal, market, now);
  const d = r.decision;
  deps.log.info(d.accepted ? 'signal accepted' : 'signal rejected', {
    signalId: signal.signalId,
    strategy: signal.strategy,
    symbol: signal.symbol,
    direction: signal.direction,
    redelivery: !r.applied,
    ...(d.accepted ? { risk: d.risk, notional: d.notional, stopLoss: d.stopLoss, sizeMultiplier: d.sizeMultiplier } : { reason: d.reason, detail: d.detail }),
  });
  await publishOutcome(deps, r.state, r.events, now);
  return { applied: r.applied, events: r.events, decision: d };
}

/**
 * Applies closed candles (one message of `candles-bybit-1m` or `ohlc-data-kraken`) in open-time order
 * per symbol, one transaction each.
 */
export async function executeCandles(deps: ExecutionDeps, candles: readonly Candle[]): Promise<ExecutionOutcome[]> {
  const strategies = await deps.config.strategies();
  const cfg = tradingConfigFrom(strategies);
  const feeds = Object.values(cfg.feeds);
  const store = storeFor(deps, cfg);
  const sorted = [...candles].sort((a, b) => (a.symbol === b.symbol ? a.openTime - b.openTime : a.symbol < b.symbol ? -1 : 1));
  const out: ExecutionOutcome[] = [];
  for (const c of sorted) {
    if (!isTradable(c)) {
      deps.log.warn('candle flagged bad data: not traded', { symbol: c.symbol, interval: c.interval, openTime: c.openTime, flags: c.flags });
      continue;
    }
    let market: CandleMarket | null = null;
    if (c.venue === 'bybit' && c.interval === '1m') {
      const w = await deps.cache.candles.ingest(deps.state, c.symbol, [c], capacityFor(c.symbol, strategies));
      const i = w.indexOf(c.openTime);
      market = { volatility24hPct: volatilityAt(w, i) };
      if (c.symbol === strategies.protections.regime.referenceSymbol) market.regimeInputs = regimeInputsOf(w, i);
    }
    if (!market && !feeds.some((f) => f.venue === c.venue && f.interval === c.interval)) continue;
    const now = deps.clock.now();
    const r = await store.applyCandle(c, market, now);
    await publishOutcome(deps, r.state, r.events, now);
    out.push({ applied: r.applied, events: r.events });
  }
  return out;
}

/** Applies a macro-bias update to the scalp bias filter. */
export async function executeBias(deps: ExecutionDeps, bias: MacroBiasMessage): Promise<ExecutionOutcome> {
  const cfg = tradingConfigFrom(await deps.config.strategies());
  const now = deps.clock.now();
  const r = await storeFor(deps, cfg).applyBias(biasStateOf(bias), now);
  await publishOutcome(deps, r.state, r.events, now);
  return { applied: r.applied, events: r.events };
}
