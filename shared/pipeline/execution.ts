/**
 * The execution / paper engine glue (SPEC 5, 6), domain only. Every input reads top to bottom as a
 * short list of STEPS; a step decides in the ONE trading core (shared/trading/core.ts) through
 * TradingStore (one transaction on `trading/{accountId}`, idempotent by signal id / candle watermark /
 * command id), then its outcome is published by `publishOutcome`, the one place anything leaves this
 * module: trade events on `trade-events` (attribute `dedupeId` = the deterministic event id, ordering
 * key = trade group), protection changes as alerts on `system-alerts` (`protectionAlert`, one per
 * change), closed trades appended to the warehouse `paper_trades` (`closedTradeRows`, idempotent by
 * trade id), live notices and issues as `live_order_issue` alerts. A step is published before the next
 * one commits; a redelivered input returns the stored events, which are published again with the same
 * ids (downstream de-duplicates), so a crash between commit and publish loses nothing.
 *
 * A signal's outcome is ONE event on `trade-events`, the only road by which a signal reaches Telegram
 * (the notifier does not read the signal topics): opened = its group's `order_placed`, published with
 * the signal's plan (`signal`), or `signal_rejected` (the core's reason code and detail, the plan;
 * eventId `${groupId}:rejected`), for every decision but `duplicate` (the same signal id was decided
 * before, and its outcome published then).
 *
 * Inputs:
 * - scalp signals (`trade-signals-micro`, `Signal`) and swing signals (`trade-signals-swing`);
 *   market context: the stored macro bias `bias/{symbol}` and the symbol's 24h volatility;
 * - closed candles: Bybit 1m (`candles-bybit-1m`: scalp fills/exits, 24h volatility of every symbol,
 *   the BTC regime inputs on the reference symbol) and Kraken (`ohlc-data-kraken`: swing fills on
 *   the SWING feed, DEFAULT_FEEDS); candles of no configured feed change nothing and are skipped;
 *   every candle passes the candle gate first (shared/market/candle-gate.ts): a refused one is never
 *   traded, never cached, never moves a watermark; a SUSPECT one (out of the sanity band, or flagged
 *   by its producer) still gets the open positions' protective exits evaluated (TradingStore
 *   applySuspectCandle: a stop is never skipped) and nothing else; then the message is dead-lettered
 *   with the reasons (PermanentError);
 * - macro bias updates (`macro-bias-updates`): the scalp bias filter.
 *
 * Ordering rule (the backtester's order: candle i is processed before the decision taken at i): a
 * SCALP signal is applied only once the execution has applied every candle of its feed closed by the
 * decision time; before that the delivery fails and is retried by the bus (until the last allowed
 * attempt, or until the signal is stale, when it is applied anyway and the core decides).
 *
 * Market inputs come from an in-memory per-instance window of Bybit 1m candles per symbol
 * (shared/market/candle-cache.ts): 24h for volatility, 48h on the regime's reference symbol (the
 * regime's longest window). One hot-store query per symbol on a cold start, nothing when warm.
 *
 * Live trading (SPEC 5), behind the owner's switch (`trading/mode`, shared/trading/live/mode.ts):
 * paper is the default and then nothing here talks to an exchange. `liveVenue` (given by the function
 * entry point) yields the exchange when the Bybit keys exist. The live side, a LiveExecutor over the
 * same account's TradingStore, is built only when needed: the stored mode is live, or the account
 * still holds live (external) groups after a switch back to paper. Then:
 * - after EVERY committed core result (signal, candle, bias, tick, owner command, redeliveries too)
 *   the core's events go to `executor.onEvents` (it places / cancels the exchange's limit orders);
 * - once per Bybit 1m candle message, BEFORE its candles are applied, `executor.reconcile` polls the
 *   exchange and books its fills in the core (after them instead while the mode is paper); an instance
 *   polls at most every RECONCILE_MIN_INTERVAL_MS (the symbols' candles of a minute arrive together);
 * - in live mode every candle message ends with the core's `tick` (entry-timeout decisions when a
 *   symbol's candles stop);
 * - what the executor returns is published like a core result (trade events, protection alerts,
 *   `paper_trades` rows, here with mode `live`) and its issues as `live_order_issue` alerts; it is
 *   never fed back to the executor (it has applied it already). So a step is: decide, publish the
 *   decision, carry it out live, publish what that produced (`settle`).
 * A rejected signal (any reason but `duplicate`) is logged ("signal rejected", reason, detail),
 * published as `signal_rejected` and written to the warehouse `signals` as its own REJECTED row
 * (`rejectionRow`).
 * Live mode without keys: every signal is rejected `live_unavailable` by the store's gate, no order
 * is sent, and ONE critical alert per switch to live says why (marker `trading/{id}/notices/...`).
 */
import type { Ports } from '../ports/ports.js';
import { PAPER_ACCOUNT_ID } from '../model/trading.js';
import type { StrategyConfigs } from '../config/strategy.js';
import { gateCandles, gateRefusal, type GateVerdict } from '../market/candle-gate.js';
import { PermanentError } from '../ports/bus.js';
import { routeByTopic, type BusMessage, publish, type Alert, type MacroBiasMessage } from '../messages.js';
import { INTERVAL_MS, type Candle } from '../model/market.js';
import type { Row } from '../ports/warehouse.js';
import { scanDecisionRow } from '../warehouse-schema.js';
import type { ProtectionEvent, RegimeInputs } from '../protection/model.js';
import { REGIME_WINDOWS_MS, regimeInputsAt } from '../protection/regime.js';
import { volatilityPctAt } from '../protection/volatility.js';
import type { StoredBias } from './macro-analysis.js';
import { biasPath, liveGroupPath, liveNoticePath, TRADING_MODE_DOC, tradingDocPath } from '../state-paths.js';
import { TOPICS } from '../topics.js';
import { groupIdOf } from '../trading/group-id.js';
import type { CandleMarket, SignalDecision, SignalMarket, TradingEvent, TradingState } from '../trading/core.js';
import { tradingConfigFrom, type TradingConfig } from '../trading/model.js';
import type { BiasState, Signal, SignalPlan, SignalRejectedEvent, TradeEvent } from '../model/trading.js';
import { closedTradeRows, feedKey, TradingStore, type StoreResult, type StoreSignalResult, type TradingDoc } from '../trading/store.js';
import type { TradingVenue } from '../ports/trading-venue.js';
import { LiveExecutor } from '../trading/live/executor.js';
import type { LiveEvent } from '../trading/live/ledger.js';
import { parseModeDoc, type TradingMode } from '../trading/live/mode.js';
import { CandleCache, type CandleWindow } from '../market/candle-cache.js';
import { alertAttributes, liveIssueAlert, protectionAlert } from '../alerts.js';
import { LOG_EVENTS } from '../log.js';

/** Window of the "24h volatility" (SPEC 6) fed to adaptive stops and the strategy disable. */
export const VOLATILITY_WINDOW_MS = 24 * 60 * 60_000;
/** Longest regime window (48h bleed). */
export const REGIME_HISTORY_MS = Math.max(...Object.values(REGIME_WINDOWS_MS));
const MINUTE = INTERVAL_MS['1m'];

/** What the entry point's live source yields: the exchange, or why there is none (e.g. no keys). */
export type LiveVenueAccess = { venue: TradingVenue } | { unavailable: string };

export interface ExecutionCache {
  /** Bybit 1m windows per symbol (volatility, regime inputs). */
  candles: CandleCache;
  /** Clock time of this instance's last exchange reconcile (one per minute's candles, not one per symbol). */
  lastReconcileAt?: number;
}

/**
 * An instance reconciles at most this often: the candles of all symbols close together each minute
 * and one poll covers every live group. Proposed config field: `live.reconcileMinIntervalMs`.
 */
export const RECONCILE_MIN_INTERVAL_MS = 15_000;

/** A cold cache for one instance (the composition root builds one per root, with the function's deps). */
export function createExecutionCache(): ExecutionCache {
  return { candles: new CandleCache('bybit', '1m') };
}

export interface ExecutionDeps extends Ports {
  cache: ExecutionCache;
  /** Default PAPER_ACCOUNT_ID. */
  accountId?: string;
  /**
   * The exchange for live mode (the composition root builds it from the Bybit keys: infra/bybit/live-venue.ts); asked only when
   * the live side is needed (see the header). Absent = paper only, the mode is not even read.
   */
  liveVenue?: () => Promise<LiveVenueAccess>;
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

// ---------- live side ----------

/**
 * The live side of one invocation: reads the mode once, asks the venue source at most once, builds
 * the executor over the invocation's TradingStore. Everything is lazy: paper mode with no live group
 * reads the mode document and nothing else. It publishes nothing: its notices are part of the step's
 * outcome (publishOutcome).
 */
export class LiveLink {
  private modeP: Promise<{ mode: TradingMode; seq: number }> | undefined;
  private accessP: Promise<LiveVenueAccess> | undefined;
  private exec: LiveExecutor | null | undefined;
  private readonly accountId: string;

  constructor(private readonly deps: ExecutionDeps) {
    this.accountId = deps.accountId ?? PAPER_ACCOUNT_ID;
  }

  /** The stored mode (paper when no live source is wired: the mode is then not read). */
  mode(): Promise<{ mode: TradingMode; seq: number }> {
    if (!this.deps.liveVenue) return Promise.resolve({ mode: 'paper', seq: 0 });
    this.modeP ??= this.deps.state.get(TRADING_MODE_DOC).then((raw) => {
      const d = parseModeDoc(raw);
      return { mode: d?.mode ?? 'paper', seq: d?.seq ?? 0 };
    });
    return this.modeP;
  }

  private access(): Promise<LiveVenueAccess> {
    const src = this.deps.liveVenue;
    if (!src) return Promise.resolve({ unavailable: 'no live venue wired' });
    this.accessP ??= src().catch((e: unknown) => ({ unavailable: `the live venue could not be built: ${(e as Error).message}` }));
    return this.accessP;
  }

  /**
   * The store's gate (TradingStore liveGate, called inside its transaction: no writes here): null
   * when live orders can go out, else why not. `prepare` resolves it before the transaction.
   */
  readonly gate = async (): Promise<string | null> => {
    const a = await this.access();
    return 'venue' in a ? null : a.unavailable;
  };

  /** Resolves the venue source ahead of a transaction when the mode is live. */
  async prepare(): Promise<void> {
    if ((await this.mode()).mode === 'live') await this.access();
  }

  /**
   * The critical alert that live trading cannot run, once per switch to live (the mode's change
   * sequence, marker `trading/{id}/notices/...`): [alert] the first time, [] after.
   */
  async unavailableNotice(reason: string): Promise<Alert[]> {
    const { seq } = await this.mode();
    const key = `live-unavailable-${seq}`;
    const now = this.deps.clock.now();
    if (!(await this.deps.state.create(liveNoticePath(this.accountId, key), { key, reason, at: now }))) return [];
    this.deps.log.error('live mode without a usable exchange: signals rejected, no orders', { reason, modeSeq: seq });
    return [
      {
        alertId: `${key}:${this.accountId}`,
        kind: 'live_order_issue',
        severity: 'critical',
        subject: TRADING_MODE_DOC,
        message: `Trading mode is LIVE but live trading cannot run: ${reason}. No order is sent; new signals are rejected until this is fixed or the mode is set back to paper.`,
        ts: now,
        details: { reason, accountId: this.accountId, modeSeq: seq },
      },
    ];
  }

  /**
   * The executor when the live side is needed (mode live, or `state` still has live groups), else
   * null. Null too when the venue is unavailable, with the one notice saying so.
   */
  async executor(store: TradingStore, state: TradingState | null): Promise<{ exec: LiveExecutor | null; notices: Alert[] }> {
    if (this.exec !== undefined) return { exec: this.exec, notices: [] };
    if (!this.deps.liveVenue) return { exec: (this.exec = null), notices: [] };
    const live = (await this.mode()).mode === 'live';
    if (!live && !(state?.account.positions.some((p) => p.external !== null) ?? false)) return { exec: null, notices: [] };
    const a = await this.access();
    if (!('venue' in a)) {
      this.exec = null;
      return { exec: null, notices: await this.unavailableNotice(a.unavailable) };
    }
    this.exec = new LiveExecutor({ venue: a.venue, store: this.deps.state, accountId: this.accountId, trading: store, log: this.deps.log.child({ component: 'live' }) });
    return { exec: this.exec, notices: [] };
  }
}

function storeFor(deps: ExecutionDeps, cfg: TradingConfig, link?: LiveLink): TradingStore {
  return new TradingStore(deps.state, { accountId: deps.accountId ?? PAPER_ACCOUNT_ID, config: cfg, ...(link && deps.liveVenue ? { liveGate: link.gate } : {}) });
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

// ---------- the outcome of a step, published in one place ----------

/** The signal a step decided on, and the core's decision (the signal's outcome on trade-events). */
export interface SignalVerdict {
  signal: Signal;
  decision: SignalDecision;
}

/** What one step committed, in the order it is published (see publishOutcome). */
interface Outcome {
  /** Alerts of the live side that are no core event (the live-unavailable notice). */
  notices?: readonly Alert[];
  /** Committed core events: trade events, protection changes, closed trades. */
  events: readonly TradingEvent[];
  /** The signal this step decided on: published as its ONE outcome (opened or rejected). */
  verdict?: SignalVerdict;
  /** Exchange-side issues of the live executor. */
  issues?: readonly LiveEvent[];
  /** The stored events of an input applied before (a redelivery): published again, not logged again. */
  repeated?: boolean;
}

const NOTHING: Outcome = { events: [] };

/** A signal as its alert presents it (the plan before sizing and adaptive stops). */
export function signalPlanOf(s: Signal): SignalPlan {
  return {
    engine: s.engine,
    ts: s.ts,
    candleTime: s.candleTime,
    price: s.price,
    entries: [...s.entries],
    stopLoss: s.stopLoss,
    takeProfit: s.takeProfit,
    confidence: s.confidence,
    reasons: [...s.reasons],
    ...(s.ml ? { ml: { ...s.ml } } : {}),
  };
}

/**
 * The `signal_rejected` event of a refused signal (its outcome on trade-events), or null when the
 * signal was accepted or is a `duplicate` (the same signal id decided before: its outcome went out
 * then; a second one would be a second alert).
 */
export function rejectionEvent(accountId: string, v: SignalVerdict): SignalRejectedEvent | null {
  const d = v.decision;
  if (d.accepted || d.reason === 'duplicate') return null;
  const s = v.signal;
  const groupId = groupIdOf(s.signalId);
  return {
    type: 'signal_rejected',
    eventId: `${groupId}:rejected`,
    accountId,
    ts: s.ts,
    groupId,
    signalId: s.signalId,
    symbol: s.symbol,
    strategy: s.strategy,
    direction: s.direction,
    reason: d.reason,
    detail: d.detail,
    signal: signalPlanOf(s),
  };
}

/** The trade event as published: the signal's own order_placed (its "opened" outcome) carries its plan. */
function asPublished(e: TradeEvent, v: SignalVerdict | undefined): TradeEvent {
  return e.type === 'order_placed' && v && e.signalId === v.signal.signalId ? { ...e, signal: signalPlanOf(v.signal) } : e;
}

async function publishAlert(deps: ExecutionDeps, alert: Alert): Promise<void> {
  await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
}

async function publishTradeEvent(deps: ExecutionDeps, t: TradeEvent, log = true): Promise<void> {
  await publish(deps.bus, TOPICS.tradeEvents, t, {
    attributes: { dedupeId: t.eventId, type: t.type, symbol: t.symbol, strategy: t.strategy },
    orderingKey: t.groupId,
  });
  if (log) logTradeEvent(deps, t);
}

/** The opened / closed trade as a log line (the log-based metrics count them; see shared/log.ts LOG_EVENTS). */
function logTradeEvent(deps: ExecutionDeps, t: TradeEvent): void {
  const base = { groupId: t.groupId, symbol: t.symbol, strategy: t.strategy, direction: t.direction };
  if (t.type === 'order_placed') deps.log.info('trade opened', { event: LOG_EVENTS.tradeOpened, ...base, risk: t.risk, notional: t.notional });
  else if (t.type === 'position_closed') {
    const pnl = t.trade.pnl;
    deps.log.info('trade closed', { event: LOG_EVENTS.tradeClosed, ...base, outcome: pnl > 0 ? 'win' : pnl < 0 ? 'loss' : 'breakeven', pnl, pnlPct: t.trade.pnlPct, exitReason: t.trade.exitReason });
  }
}

/**
 * THE place a step's outcome is published, in this order: notices (`system-alerts`); the core's
 * events (trade events on `trade-events`, dedupeId = event id, ordering key = trade group;
 * protection changes as `system-alerts`); the signal's outcome when the step decided one (its
 * order_placed above carries the signal's plan; a rejection is one `signal_rejected` event and its
 * REJECTED `signals` row); the closed trades' `paper_trades` rows; the live issues as
 * `live_order_issue` alerts. Every id is deterministic, so publishing an outcome again (a redelivery)
 * queues nothing new downstream.
 */
async function publishOutcome(deps: ExecutionDeps, o: Outcome): Promise<void> {
  for (const a of o.notices ?? []) await publishAlert(deps, a);
  for (const e of o.events) {
    if (e.type === 'protection') await publishAlert(deps, protectionAlert(e as ProtectionEvent));
    else await publishTradeEvent(deps, asPublished(e as TradeEvent, o.verdict), !o.repeated);
  }
  const rejected = o.verdict ? rejectionEvent(deps.accountId ?? PAPER_ACCOUNT_ID, o.verdict) : null;
  if (rejected && o.verdict) {
    await publishTradeEvent(deps, rejected);
    // the rejection in the scan history (idempotent by key: a redelivery writes nothing new)
    await deps.warehouse.insert('signals', [rejectionRow(o.verdict.signal, rejected.reason, rejected.detail)]);
  }
  const rows = closedTradeRows(o.events);
  if (rows.length > 0) await deps.warehouse.insert('paper_trades', rows);
  for (const i of o.issues ?? []) await publishAlert(deps, liveIssueAlert(i));
}

// ---------- steps: decide in the core, then publish ----------

/**
 * What the live side does with a committed core result (nothing when it is not needed): the
 * executor carries the events out on the exchange (its fills come back as core events), or, when
 * the venue is unavailable, the entry cancels the core decided for live groups that never reached
 * the exchange are confirmed to the core.
 */
async function carryOutLive(deps: ExecutionDeps, link: LiveLink, store: TradingStore, r: StoreResult, now: number, marks?: Record<string, number>): Promise<Outcome> {
  if (!deps.liveVenue || !r.events.some((e) => e.type !== 'protection')) return NOTHING;
  const { exec, notices } = await link.executor(store, r.state);
  if (exec) {
    const x = await exec.onEvents(r.events, { state: r.state, marks: { ...r.state.account.marks, ...marks } }, now);
    return { events: x.events, issues: x.issues };
  }
  return { notices, events: await confirmUnplacedCancels(deps, store, r, now) };
}

async function confirmUnplacedCancels(deps: ExecutionDeps, store: TradingStore, r: StoreResult, now: number): Promise<TradingEvent[]> {
  const accountId = deps.accountId ?? PAPER_ACCOUNT_ID;
  const events: TradingEvent[] = [];
  for (const e of r.events) {
    if (e.type !== 'entry_cancel_decided') continue;
    const p = r.state.account.positions.find((g) => g.groupId === e.groupId);
    if (!p?.external || (await deps.state.get(liveGroupPath(accountId, e.groupId))) !== undefined) continue;
    for (const orderId of e.orderIds) {
      // idempotent per entry (marker): a redelivery returns the same events again
      const c = await store.cancelEntry(e.groupId, Number(orderId.slice(orderId.lastIndexOf(':e') + 2)), now);
      events.push(...c.events);
    }
  }
  return events;
}

/**
 * The tail of every step: the committed core result's outcome is published (with the signal's
 * verdict when the step decided one), THEN carried out live, and what that produced is published.
 * A step is published before the next one commits: a crash in between is healed by the redelivery
 * (the store returns the stored events, published again with the same ids).
 */
export async function settle(deps: ExecutionDeps, link: LiveLink, store: TradingStore, r: StoreResult, now: number, extra: { marks?: Record<string, number>; verdict?: SignalVerdict; notices?: readonly Alert[] } = {}): Promise<void> {
  await publishOutcome(deps, { events: r.events, repeated: !r.applied, ...(extra.notices ? { notices: extra.notices } : {}), ...(extra.verdict ? { verdict: extra.verdict } : {}) });
  await publishOutcome(deps, await carryOutLive(deps, link, store, r, now, extra.marks));
}

/** Polls the exchange for the live groups (when the live side is needed): what it booked, as an outcome. */
async function reconcileLive(deps: ExecutionDeps, link: LiveLink, store: TradingStore, state: TradingState | null, now: number, marks?: Record<string, number>): Promise<Outcome> {
  const { exec, notices } = await link.executor(store, state);
  if (!exec) return { notices, events: [] };
  const x = await exec.reconcile(now, { ...state?.account.marks, ...marks });
  return { events: x.events, issues: x.issues };
}

/** An instance reconciles at most every RECONCILE_MIN_INTERVAL_MS (true: now is the time; recorded). */
function reconcileDue(cache: ExecutionCache, now: number): boolean {
  if (cache.lastReconcileAt !== undefined && now - cache.lastReconcileAt < RECONCILE_MIN_INTERVAL_MS) return false;
  cache.lastReconcileAt = now;
  return true;
}

export interface DeliveryInfo {
  /** 1-based delivery attempt of the message. */
  attempt: number;
  /** Attempts before the bus dead-letters (SystemConfig delivery.maxAttempts). */
  maxAttempts: number;
}

/** The core's BiasState from a `macro-bias-updates` message (also used by the backtester). */
export function biasStateOf(b: Pick<MacroBiasMessage, 'symbol' | 'bias' | 'confidence' | 'components' | 'ts' | 'expiresAt'>): BiasState {
  return {
    symbol: b.symbol,
    bias: b.bias,
    confidence: b.confidence,
    components: b.components.map((c) => ({ name: c.name, weight: c.weight, score: c.score, detail: c.detail })),
    ts: b.ts,
    expiresAt: b.expiresAt,
  };
}

// ---------- signals ----------

/** The ordering rule (see the header): throws DecisionCandlePendingError while the decision candle is not applied. */
async function requireDecisionCandle(deps: ExecutionDeps, cfg: TradingConfig, signal: Signal, now: number, delivery?: DeliveryInfo): Promise<void> {
  const timeout = signal.engine === 'SCALP' ? cfg.paper.entryTimeoutMs.scalp : cfg.paper.entryTimeoutMs.swing;
  const stale = now >= signal.ts + timeout;
  if (signal.engine !== 'SCALP' || stale || (delivery && delivery.attempt >= delivery.maxAttempts)) return;
  const feed = cfg.feeds.SCALP;
  const feedMs = INTERVAL_MS[feed.interval];
  const required = Math.floor(signal.ts / feedMs) * feedMs - feedMs;
  const doc = await deps.state.get<TradingDoc>(tradingDocPath(deps.accountId ?? PAPER_ACCOUNT_ID));
  const mark = doc?.candleWatermarks[feedKey({ venue: feed.venue, symbol: signal.symbol, interval: feed.interval })];
  if (mark === undefined || mark < required) {
    throw new DecisionCandlePendingError(`${signal.signalId}: candle ${required} of ${signal.symbol} not applied yet (watermark ${mark ?? 'none'}); retry`);
  }
}

/** The signal's market context: the stored macro bias and its symbol's 24h volatility before the decision. */
async function signalMarket(deps: ExecutionDeps, strategies: StrategyConfigs, signal: Signal): Promise<SignalMarket> {
  const stored = await deps.state.get<StoredBias>(biasPath(signal.symbol));
  const w = await deps.cache.candles.ingest(deps.state, signal.symbol, [], capacityFor(signal.symbol, strategies));
  const lastIdx = w.lowerBound(signal.ts) - 1;
  return { bias: stored ? biasStateOf(stored) : null, volatility24hPct: lastIdx >= 0 ? volatilityAt(w, lastIdx) : null };
}

function logSignalDecision(deps: ExecutionDeps, signal: Signal, r: StoreSignalResult): void {
  const d = r.decision;
  deps.log.info(d.accepted ? 'signal accepted' : 'signal rejected', {
    event: LOG_EVENTS.signalDecided,
    outcome: d.accepted ? 'accepted' : 'rejected',
    signalId: signal.signalId,
    strategy: signal.strategy,
    symbol: signal.symbol,
    direction: signal.direction,
    redelivery: !r.applied,
    ...(d.accepted ? { risk: d.risk, notional: d.notional, stopLoss: d.stopLoss, sizeMultiplier: d.sizeMultiplier, cappedBy: d.cappedBy } : { reason: d.reason, detail: d.detail }),
  });
}

/**
 * Applies one signal (scalp or swing) through the core; see the ordering rule above. Its outcome is
 * ONE event on trade-events: the order_placed of its group (opened) or `signal_rejected`.
 */
export async function executeSignal(deps: ExecutionDeps, signal: Signal, delivery?: DeliveryInfo): Promise<ExecutionOutcome> {
  const strategies = await deps.config.strategies();
  const cfg = tradingConfigFrom(strategies);
  const now = deps.clock.now();
  await requireDecisionCandle(deps, cfg, signal, now, delivery);
  const market = await signalMarket(deps, strategies, signal);
  const link = new LiveLink(deps);
  const store = storeFor(deps, cfg, link);
  await link.prepare();
  const r = await store.applySignal(signal, market, now);
  const d = r.decision;
  logSignalDecision(deps, signal, r);
  const notices = !d.accepted && d.reason === 'live_unavailable' ? await link.unavailableNotice(d.detail) : [];
  await settle(deps, link, store, r, now, { verdict: { signal, decision: d }, notices });
  return { applied: r.applied, events: r.events, decision: d };
}

/** `signals` decision of a TAKE the trading core refused (its own row, next to the TAKE row). */
export const REJECTED_DECISION = 'REJECTED';

/**
 * The `signals` row of a signal the trading core rejected (e.g. `notional_cap`): signal_id
 * `${signalId}:rejected`, decision REJECTED, reasons [reason, detail], features the signal's plus
 * `execution`, `rejectReason`, `rejectDetail`, `takeSignalId` (the TAKE row it belongs to).
 */
export function rejectionRow(signal: Signal, reason: string, detail: string): Row {
  const row = scanDecisionRow(
    { ...signal, signalId: `${signal.signalId}:rejected`, reasons: [reason, detail] },
    { execution: 'rejected', rejectReason: reason, rejectDetail: detail, takeSignalId: signal.signalId, entries: signal.entries, stopLoss: signal.stopLoss, takeProfit: signal.takeProfit },
  );
  return { ...row, decision: REJECTED_DECISION };
}

// ---------- candles ----------

/** The candles of a message in the order they are applied: per symbol, in open-time order. */
function inApplyOrder(candles: readonly Candle[]): Candle[] {
  return [...candles].sort((a, b) => (a.symbol === b.symbol ? a.openTime - b.openTime : a.symbol < b.symbol ? -1 : 1));
}

/** A Bybit 1m candle's market inputs (volatility; the regime inputs on the reference symbol); null for other feeds. */
async function candleMarket(deps: ExecutionDeps, strategies: StrategyConfigs, c: Candle): Promise<CandleMarket | null> {
  if (c.venue !== 'bybit' || c.interval !== '1m') return null;
  const w = await deps.cache.candles.ingest(deps.state, c.symbol, [c], capacityFor(c.symbol, strategies));
  const i = w.indexOf(c.openTime);
  const market: CandleMarket = { volatility24hPct: volatilityAt(w, i) };
  if (c.symbol === strategies.protections.regime.referenceSymbol) market.regimeInputs = regimeInputsOf(w, i);
  return market;
}

/**
 * Applies closed candles (one message of `candles-bybit-1m` or `ohlc-data-kraken`) in open-time order
 * per symbol, one step each: (live) the exchange reconciled first, the candle decided in the core,
 * its outcome published and carried out; (paper with leftover live groups) reconciled after; then
 * (live) the tick.
 */
export async function executeCandles(deps: ExecutionDeps, candles: readonly Candle[]): Promise<ExecutionOutcome[]> {
  const strategies = await deps.config.strategies();
  const cfg = tradingConfigFrom(strategies);
  const feeds = Object.values(cfg.feeds);
  const onFeed = (c: Candle) => feeds.some((f) => f.venue === c.venue && f.interval === c.interval);
  const link = new LiveLink(deps);
  const store = storeFor(deps, cfg, link);
  const live = (await link.mode()).mode === 'live';
  let reconciled = false;
  let last: TradingState | null = null;
  const verdicts = await gateCandles(deps, await deps.config.system(), candles, 'execution');
  const verdictOf = new Map<Candle, GateVerdict>(verdicts.map((v) => [v.candle, v]));
  const out: ExecutionOutcome[] = [];
  for (const c of inApplyOrder(candles)) {
    const status = verdictOf.get(c)?.status;
    if (status === 'rejected') continue;
    if (status === 'suspect') {
      // held back: no market input, no entry, no watermark; the protective exits only
      if (onFeed(c)) out.push(await suspectCandleStep(deps, link, store, c));
      continue;
    }
    const market = await candleMarket(deps, strategies, c);
    if (!market && !onFeed(c)) continue;
    const now = deps.clock.now();
    const marks = { [c.symbol]: c.close };
    const bybit1m = c.venue === 'bybit' && c.interval === '1m';
    // live: the exchange's fills are booked before the candle decides anything on those groups
    if (live && bybit1m && !reconciled) {
      reconciled = true;
      if (reconcileDue(deps.cache, now)) await publishOutcome(deps, await reconcileLive(deps, link, store, null, now, marks));
    }
    const r = await store.applyCandle(c, market, now);
    await settle(deps, link, store, r, now, { marks });
    out.push({ applied: r.applied, events: r.events });
    last = r.state;
    // paper with live groups left over from live mode: they are still polled, after the candle
    if (!live && bybit1m && !reconciled && r.state.account.positions.some((p) => p.external !== null)) {
      reconciled = true;
      await publishOutcome(deps, await reconcileLive(deps, link, store, r.state, now, marks));
    }
  }
  if (live && last !== null) await tickStep(deps, link, store, deps.clock.now());
  const refusal = gateRefusal(verdicts);
  if (refusal) throw refusal;
  return out;
}

/** A suspect candle: the protective exits of its symbol's groups only (TradingStore applySuspectCandle). */
async function suspectCandleStep(deps: ExecutionDeps, link: LiveLink, store: TradingStore, c: Candle): Promise<ExecutionOutcome> {
  const now = deps.clock.now();
  const r = await store.applySuspectCandle(c, now);
  await settle(deps, link, store, r, now);
  if (r.events.length > 0) deps.log.warn('suspect candle: protective exits evaluated', { symbol: c.symbol, openTime: c.openTime, events: r.events.map((e) => e.type) });
  return { applied: r.applied, events: r.events };
}

/** The core's periodic sweep (entry timeouts, time-driven protection changes), published and carried out live. */
async function tickStep(deps: ExecutionDeps, link: LiveLink, store: TradingStore, now: number): Promise<ExecutionOutcome> {
  const r = await store.tick(now);
  await settle(deps, link, store, r, now);
  return { applied: r.applied, events: r.events };
}

// ---------- macro bias ----------

/** Applies a macro-bias update to the scalp bias filter. */
export async function executeBias(deps: ExecutionDeps, bias: MacroBiasMessage): Promise<ExecutionOutcome> {
  const cfg = tradingConfigFrom(await deps.config.strategies());
  const now = deps.clock.now();
  const link = new LiveLink(deps);
  const store = storeFor(deps, cfg, link);
  const r = await store.applyBias(biasStateOf(bias), now);
  await settle(deps, link, store, r, now);
  return { applied: r.applied, events: r.events };
}

// ---------- the function's handle (functions/execution binds it) ----------

export const FUNCTION_NAME = 'execution';

/** What the execution function gets from the composition root (infra/runtime/deps.ts), once per instance. */
export type Deps = ExecutionDeps;

async function deliveryOf(deps: Deps, attempt: number): Promise<DeliveryInfo> {
  return { attempt, maxAttempts: (await deps.config.system()).delivery.maxAttempts };
}

/**
 * The execution function: scalp and swing signals, closed Bybit 1m and Kraken candles, macro-bias
 * updates and the owner's trade commands, routed by topic. Owner commands load on the first command:
 * their module builds on this one (a static import back would be an import cycle).
 */
export const handle = routeByTopic(FUNCTION_NAME, {
  [TOPICS.microSignals]: async (deps: Deps, msg: BusMessage<typeof TOPICS.microSignals>) => {
    if (msg.payload.engine !== 'SCALP') throw new PermanentError(`a ${msg.payload.engine} signal on ${TOPICS.microSignals}`);
    await executeSignal(deps, msg.payload, await deliveryOf(deps, msg.deliveryAttempt));
  },
  [TOPICS.swingSignals]: async (deps: Deps, msg: BusMessage<typeof TOPICS.swingSignals>) => {
    if (msg.payload.engine !== 'SWING') throw new PermanentError(`a ${msg.payload.engine} signal on ${TOPICS.swingSignals}`);
    await executeSignal(deps, msg.payload, await deliveryOf(deps, msg.deliveryAttempt));
  },
  [TOPICS.bybitCandles]: async (deps: Deps, msg: BusMessage<typeof TOPICS.bybitCandles>) => {
    await executeCandles(deps, msg.payload.candles);
  },
  [TOPICS.krakenOhlc]: async (deps: Deps, msg: BusMessage<typeof TOPICS.krakenOhlc>) => {
    await executeCandles(deps, msg.payload.candles);
  },
  [TOPICS.macroBias]: async (deps: Deps, msg: BusMessage<typeof TOPICS.macroBias>) => {
    await executeBias(deps, msg.payload);
  },
  [TOPICS.tradeCommands]: async (deps: Deps, msg: BusMessage<typeof TOPICS.tradeCommands>) => {
    const { executeTradeCommand } = await import('./execution/owner-commands.js');
    await executeTradeCommand(deps, msg.payload);
  },
});
