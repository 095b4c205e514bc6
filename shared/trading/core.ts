/**
 * The ONE decision path of the trading core, called by the live execution function (through
 * store.ts) and by the backtester (directly, on in-memory state): filters + protections + sizing + the
 * paper book. Pure: state in, state + events out; `now` passed in; nothing mutated.
 *
 * applySignal checks, in this order (the first failing check is the rejection reason):
 *   not_emitting, duplicate, stale_signal (now >= ts + entry timeout), invalid_levels,
 *   owner_paused (Telegram /pause), ml_filter / ml_unavailable (config/ml mode `filter` only: the
 *   signal's model predicts P(WIN) below ml.minConfidence, or the strategy has a model that could not
 *   predict: fail closed; a strategy without a model is not filtered), daily_loss_halt, loss_streak_pause, regime_reference_missing /
 *   regime_reference_stale (no fresh candle of the regime reference symbol: fail closed, see
 *   protection/regime.ts updateReference), regime_panic, strategy_disabled_volatility (swing setups),
 *   symbol_cooldown, macro_bias_filter (scalps), position_exists (one per coin per strategy),
 *   opposite_position_live (external fill source only: Bybit one-way mode nets a LONG and a SHORT on
 *   one coin, so a signal opposing an external group on its symbol is refused; paper allows it),
 *   strategy_position_limit (5), total_position_limit (15), risk_budget_exhausted (scalps) /
 *   allocation_exhausted (swings), notional_cap (after sizing: no room under the 2x / 3x notional
 *   caps, or the cut size is below the minimum; sizing.ts capToRoom).
 * Then the stop is made adaptive (protection/adaptive-stops.ts, base = distance from the first entry),
 * the size computed (sizing.ts: cost-inclusive risk budget, then the notional caps) and the limit
 * entries placed (book.ts).
 *
 * applyCandle: fills/exits of the candle's symbol (book.ts, paper-fills.ts), then the trade limiter (stop counts and
 * resets), the loss streak, regime (held: protection/regime.ts stepRegime) / reference freshness /
 * volatility updates from `market`, cooldown / pause / bias expiry, day rollover and the equity guards
 * (marked equity). While PANIC holds, pending entries are cancelled (book.ts cancelPendingEntries,
 * booked like an entry timeout) before a candle could fill them. Returns the same state object when nothing
 * changed (the hot path allocates only the result). External (live) groups are not filled by candles:
 * they get exit / entry-cancel DECISIONS (external-groups.ts) that the live executor carries out.
 *
 * Live fill source (`setFillSource(state, 'external')`, done by TradingStore from `trading/mode`):
 * applyExternalFill books the exchange's fills (idempotent per exchange order + cumulative qty) and
 * cancelEntry confirms that an entry's exchange order ended; both run the trade limiter, loss streak
 * and equity guards on the trades they close, exactly like a simulated close.
 */
import { INTERVAL_MS, type Candle } from '../model/market.js';
import type { Regime } from '../config/strategy.js';
import { adaptiveStopPct } from '../protection/adaptive-stops.js';
import { checkEquity, guardBlock, recordTradeResult, resumeTrading, tickGuards } from '../protection/guards.js';
import { cooldownUntil, expireCooldowns, recordReset, recordStop } from '../protection/limiter.js';
import { createProtectionState, DAY_MS, protectionEvent, type ProtectionEvent, type ProtectionEventKind, type ProtectionState, type RegimeInputs } from '../protection/model.js';
import { classifyRegime, regimeSizeMultiplier, stepRegime, updateReference } from '../protection/regime.js';
import { isSetupDisabled, updateVolatility } from '../protection/volatility.js';
import { accountEquity, createAccount, fillSourceOf, largestNotional, markedEquity, openNotional, openRisk, withFillSource } from './account.js';
import { cancelPendingEntries, closeManually, expireOrders, hasPendingEntries, moveStopLoss, moveTakeProfit, onCandle, onSuspectCandle, submitSignal, type MoveLevelOutcome } from './book.js';
import { costRates, stoppedLossPerUnit } from './costs.js';
import { applyFill, endEntry, type ExternalFillOutcome } from './external-groups.js';
import { closeNeedsMark, groupMark, noMarkReason, type OwnerLevelConfig } from './owner-levels.js';
import { groupIdOf } from './group-id.js';
import { biasRestriction, createBiasFilterState, expireBiasFilter, hasSwingConflict, updateBiasFilter, type BiasFilterState } from './filters.js';
import type { AccountState, ExternalFill, FillSource, OwnerControl, TradingConfig } from './model.js';
import type { BiasState, Signal, TradeEvent } from '../model/trading.js';
import { capToRoom, qtysForNotional, qtysForRisk, scalpRiskBudget, swingNotionalBudget, swingSetupOf } from './sizing.js';

const PCT = 100;

export interface TradingState {
  account: AccountState;
  protections: ProtectionState;
  biasFilter: BiasFilterState;
  /** Owner controls (/pause); absent = never set (not paused). */
  control?: OwnerControl;
}

/** Protection-event kind of an owner pause (Telegram /pause). */
export const OWNER_PAUSED_KIND: ProtectionEventKind = 'owner_paused';

export type TradingEvent = TradeEvent | ProtectionEvent;

const NO_EVENTS: readonly TradingEvent[] = Object.freeze([]) as readonly TradingEvent[];

export function createTradingState(accountId: string, cfg: TradingConfig, now: number): TradingState {
  const account = createAccount(accountId, cfg.risk.startingEquityUsd);
  return { account, protections: createProtectionState(now, accountEquity(account)), biasFilter: createBiasFilterState() };
}

export type RejectReason =
  | 'not_emitting'
  | 'duplicate'
  | 'owner_paused'
  | 'ml_filter'
  | 'ml_unavailable'
  | 'live_unavailable'
  | 'stale_signal'
  | 'invalid_levels'
  | 'daily_loss_halt'
  | 'loss_streak_pause'
  | 'regime_reference_missing'
  | 'regime_reference_stale'
  | 'regime_panic'
  | 'strategy_disabled_volatility'
  | 'symbol_cooldown'
  | 'macro_bias_filter'
  | 'position_exists'
  | 'opposite_position_live'
  | 'strategy_position_limit'
  | 'total_position_limit'
  | 'risk_budget_exhausted'
  | 'allocation_exhausted'
  | 'notional_cap';

export type SignalDecision =
  | {
      accepted: true;
      groupId: string;
      qtys: number[];
      /** Σ |entry - stop| x qty reserved by the group. */
      risk: number;
      notional: number;
      /** The (adaptive) stop the group uses. */
      stopLoss: number;
      /** regime x conflict multiplier applied. */
      sizeMultiplier: number;
      /** The notional cap that cut the size (sizing.ts capToRoom), or null when the size fit. */
      cappedBy: 'position' | 'existing' | 'total' | null;
    }
  | { accepted: false; reason: RejectReason; detail: string };

export interface SignalMarket {
  /** Current macro bias of the signal's symbol (`bias/{symbol}`), applied to the filter first. */
  bias?: BiasState | null;
  /** 24h volatility of the signal's symbol, % (adaptive stops). */
  volatility24hPct?: number | null;
}

export interface CandleMarket {
  /**
   * Current BTC regime, passed ONLY on the reference symbol's candles (a regime, or the inputs to
   * classify): it is held (stepRegime) and the candle counts as the reference's latest.
   */
  regime?: Regime | null;
  regimeInputs?: RegimeInputs | null;
  /** 24h volatility of the candle's symbol, % (strategy disable with hysteresis). */
  volatility24hPct?: number | null;
}

export interface EngineResult {
  state: TradingState;
  events: readonly TradingEvent[];
}

export interface SignalResult extends EngineResult {
  decision: SignalDecision;
}

function reject(state: TradingState, events: TradingEvent[], reason: RejectReason, detail: string): SignalResult {
  return { state, events: events.length ? events : NO_EVENTS, decision: { accepted: false, reason, detail } };
}

function withParts(s: TradingState, account: AccountState, protections: ProtectionState, biasFilter: BiasFilterState): TradingState {
  if (account === s.account && protections === s.protections && biasFilter === s.biasFilter) return s;
  return s.control === undefined ? { account, protections, biasFilter } : { account, protections, biasFilter, control: s.control };
}

/** Time-driven protection changes (cooldown end, pause end, day rollover, bias expiry). */
function tickProtections(account: AccountState, p: ProtectionState, bf: BiasFilterState, now: number, out: ProtectionEvent[]): [ProtectionState, BiasFilterState] {
  if (p.nextCooldownEnd !== null && now >= p.nextCooldownEnd) p = expireCooldowns(p, now, out);
  if (now >= p.guards.dayStart + DAY_MS || (p.guards.pausedUntil !== null && now >= p.guards.pausedUntil)) {
    p = tickGuards(p, now, () => markedEquity(account), out);
  }
  if (bf.nextExpiry !== null && now >= bf.nextExpiry) bf = expireBiasFilter(bf, now, out);
  return [p, bf];
}

/**
 * A signal through the core: the time-driven protection changes first, then the checks in order
 * (the signal itself, the protections, the position limits), the adaptive stop, the size inside the
 * risk budget / allocation and the notional caps, and the placement of its entries in the book.
 */
export function applySignal(state: TradingState, signal: Signal, market: SignalMarket | null, cfg: TradingConfig, now: number): SignalResult {
  const out: TradingEvent[] = [];
  const pev = out as ProtectionEvent[];
  let { protections: prot, biasFilter: bf } = state;
  const account = state.account;
  [prot, bf] = tickProtections(account, prot, bf, now, pev);
  if (!cfg.allowMissingReference) prot = updateReference(prot, null, now, cfg.protections.regime, pev);
  if (market?.bias && market.bias.symbol === signal.symbol) bf = updateBiasFilter(bf, market.bias, now, cfg.filters.macroBias, pev);
  const s0 = withParts(state, account, prot, bf);

  const levelsOk = levelCheck(signal);
  const refused = signalRefusal(state, signal, levelsOk, cfg, now) ?? mlRefusal(signal, cfg) ?? protectionRefusal(prot, bf, signal, cfg, now) ?? positionRefusal(account, signal, cfg);
  if (refused) return reject(s0, out, refused.reason, refused.detail);

  const regime = prot.regime.current;
  const stopLoss = adaptiveStop(signal, market?.volatility24hPct ?? null, regime, cfg);
  if (!levelsOk(stopLoss)) return reject(s0, out, 'invalid_levels', `adaptive stop ${stopLoss} falls inside the entry grid`);
  const sized = sizeSignal(account, signal, stopLoss, regime, cfg);
  if (!sized.ok) return reject(s0, out, sized.reason, sized.detail);

  const placed = submitSignal(account, signal, { qtys: sized.qtys, stopLoss, takeProfit: signal.takeProfit }, cfg, now);
  out.push(...placed.events);
  const p = placed.account.positions[placed.account.positions.length - 1];
  return {
    state: withParts(state, placed.account, prot, bf),
    events: out,
    decision: {
      accepted: true,
      groupId: groupIdOf(signal.signalId),
      qtys: sized.qtys,
      risk: p?.risk ?? 0,
      notional: p?.notional ?? 0,
      stopLoss,
      sizeMultiplier: sized.multiplier,
      cappedBy: sized.cappedBy,
    },
  };
}

/** Why a signal is not placed (a RejectReason and its detail), or null from a check it passes. */
interface Refusal {
  reason: RejectReason;
  detail: string;
}

function refusal(reason: RejectReason, detail: string): Refusal {
  return { reason, detail };
}

/** Whether a stop leaves the signal's levels on the right sides: stop beyond every entry, take profit beyond the other side. */
function levelCheck(signal: Signal): (stop: number) => boolean {
  const long = signal.direction === 'LONG';
  let lo = Infinity;
  let hi = -Infinity;
  for (const e of signal.entries) {
    if (e < lo) lo = e;
    if (e > hi) hi = e;
  }
  return (stop) => (long ? stop < lo && signal.takeProfit > hi : stop > hi && signal.takeProfit < lo);
}

/** Checks of the signal itself: emitting, not already placed, fresh, levels on the right sides, owner not paused. */
function signalRefusal(state: TradingState, signal: Signal, levelsOk: (stop: number) => boolean, cfg: TradingConfig, now: number): Refusal | null {
  if (!signal.emit) return refusal('not_emitting', `${signal.strategy} is log-only (emitSignals=false)`);
  const groupId = groupIdOf(signal.signalId);
  if (state.account.positions.some((p) => p.groupId === groupId)) return refusal('duplicate', `signal ${signal.signalId} already placed`);
  const timeout = signal.engine === 'SCALP' ? cfg.paper.entryTimeoutMs.scalp : cfg.paper.entryTimeoutMs.swing;
  if (now >= signal.ts + timeout) return refusal('stale_signal', `signal from ${signal.ts} is older than the entry timeout (${timeout} ms)`);
  if (!levelsOk(signal.stopLoss)) return refusal('invalid_levels', `${signal.direction}: stop ${signal.stopLoss} / take profit ${signal.takeProfit} on the wrong side of the entries`);
  if (state.control?.paused) return refusal('owner_paused', `the owner paused new trades at ${state.control.pausedAt ?? 'an unknown time'} (/resume to allow them)`);
  return null;
}

/**
 * The ML filter (SPEC 8), only when the owner switched config/ml `mode` to `filter`: a signal whose
 * strategy has a model must carry a probability >= ml.minConfidence. Advisory mode never refuses.
 */
function mlRefusal(signal: Signal, cfg: TradingConfig): Refusal | null {
  if (cfg.ml.mode !== 'filter' || signal.ml === undefined) return null;
  const { probability, modelVersion, error } = signal.ml;
  if (probability === null) return refusal('ml_unavailable', `model ${modelVersion} could not predict (${error ?? 'no reason given'}): the ML filter fails closed`);
  if (!(probability >= cfg.ml.minConfidence)) {
    return refusal('ml_filter', `model ${modelVersion} gives P(win) ${probability.toFixed(3)} < ${cfg.ml.minConfidence} (config/ml minConfidence)`);
  }
  return null;
}

/** Checks of the protections: account guards, regime reference and PANIC, volatility disable, cooldown, macro bias filter. */
function protectionRefusal(prot: ProtectionState, bf: BiasFilterState, signal: Signal, cfg: TradingConfig, now: number): Refusal | null {
  const block = guardBlock(prot, now);
  if (block) return refusal(block, block === 'daily_loss_halt' ? 'daily loss limit reached: no new trades today' : `paused after consecutive losses until ${prot.guards.pausedUntil}`);
  const ref = prot.reference;
  if (!cfg.allowMissingReference && ref && ref.status !== 'ok') {
    const sym = cfg.protections.regime.referenceSymbol;
    return ref.status === 'missing'
      ? refusal('regime_reference_missing', `no ${sym} candle received: the market regime is unknown, new entries stop`)
      : refusal('regime_reference_stale', `the last ${sym} candle closed at ${ref.lastAt} (> ${cfg.protections.regime.referenceMaxAgeMs} ms before ${now}): the market regime is unknown, new entries stop`);
  }
  if (prot.regime.current === 'PANIC') return refusal('regime_panic', 'BTC regime PANIC halts new trades');
  const setup = swingSetupOf(signal.strategy);
  if (setup !== null && isSetupDisabled(prot, setup, signal.symbol)) {
    return refusal('strategy_disabled_volatility', `${setup} disabled on ${signal.symbol} by 24h volatility`);
  }
  const cd = cooldownUntil(prot, signal.symbol, now);
  if (cd !== null) return refusal('symbol_cooldown', `${signal.symbol} cooling down until ${cd}`);
  if (signal.engine === 'SCALP') {
    const only = biasRestriction(bf, signal.symbol, now, cfg.filters.macroBias);
    if (only !== null && only !== signal.direction) return refusal('macro_bias_filter', `macro bias filter allows only ${only} scalps on ${signal.symbol}`);
  }
  return null;
}

/** Checks of the open positions: per coin and strategy, an opposite live group (one-way mode), per strategy, in total. */
function positionRefusal(account: AccountState, signal: Signal, cfg: TradingConfig): Refusal | null {
  const pos = cfg.risk.positions;
  let sameCoin = 0;
  let sameStrategy = 0;
  for (const p of account.positions) {
    if (p.strategy !== signal.strategy) continue;
    sameStrategy++;
    if (p.symbol === signal.symbol) sameCoin++;
  }
  if (sameCoin >= pos.maxPerCoinPerStrategy) return refusal('position_exists', `${signal.strategy} already has a position on ${signal.symbol}`);
  if (fillSourceOf(account) === 'external') {
    const opposite = account.positions.find((p) => p.external !== null && p.symbol === signal.symbol && p.direction !== signal.direction);
    if (opposite) {
      return refusal('opposite_position_live', `${opposite.strategy} has a live ${opposite.direction} ${opposite.status} group on ${signal.symbol}; Bybit one-way mode would net a ${signal.direction} against it`);
    }
  }
  if (sameStrategy >= pos.maxPerStrategy) return refusal('strategy_position_limit', `${signal.strategy} has ${sameStrategy} positions (max ${pos.maxPerStrategy})`);
  if (account.positions.length >= pos.maxTotal) return refusal('total_position_limit', `${account.positions.length} positions open (max ${pos.maxTotal})`);
  return null;
}

/** The stop the group uses: the signal's, widened or tightened from the first entry by the adaptive stops. */
function adaptiveStop(signal: Signal, volatility24hPct: number | null, regime: Regime, cfg: TradingConfig): number {
  const first = signal.entries[0] as number;
  const basePct = (Math.abs(first - signal.stopLoss) / first) * PCT;
  const stopPct = adaptiveStopPct(basePct, volatility24hPct, regime, signal.tier, cfg.protections.adaptiveStops);
  if (stopPct === basePct) return signal.stopLoss;
  return signal.direction === 'LONG' ? first * (1 - stopPct / PCT) : first * (1 + stopPct / PCT);
}

type SignalSize = { ok: true; qtys: number[]; multiplier: number; cappedBy: 'position' | 'existing' | 'total' | null } | ({ ok: false } & Refusal);

/**
 * The quantities of a signal: scalps from the scalp risk budget (cost-inclusive loss at `stopLoss`),
 * swings from their setup's allocation, both x the regime (and swing-conflict) multiplier, then cut
 * to the notional caps' room.
 */
function sizeSignal(account: AccountState, signal: Signal, stopLoss: number, regime: Regime, cfg: TradingConfig): SignalSize {
  const equity = accountEquity(account);
  let multiplier = regimeSizeMultiplier(regime, cfg.protections.regime);
  let qtys: number[];
  if (signal.engine === 'SCALP') {
    if (hasSwingConflict(account, signal.symbol)) multiplier *= cfg.filters.swingConflictSizeFactor;
    const b = scalpRiskBudget(equity, openRisk(account, 'SCALP'), multiplier, cfg.risk);
    if (!(b.budget > 0)) return { ok: false, ...refusal('risk_budget_exhausted', `open scalp risk ${b.used.toFixed(2)} of cap ${b.cap.toFixed(2)}: nothing remains`) };
    qtys = qtysForRisk(signal.direction, signal.entries, stopLoss, b.budget, costRates(signal.engine, signal.tier, cfg));
  } else {
    const sw = swingSetupOf(signal.strategy) ?? 'SWING';
    let used = 0;
    for (const p of account.positions) if (p.engine === 'SWING' && (swingSetupOf(p.strategy) ?? 'SWING') === sw) used += p.notional;
    const b = swingNotionalBudget(equity, sw, used, multiplier, cfg.risk);
    if (!(b.budget > 0)) return { ok: false, ...refusal('allocation_exhausted', `${sw} allocation ${b.allocation.toFixed(2)} fully used`) };
    qtys = qtysForNotional(signal.entries, b.budget);
  }
  const rates = costRates(signal.engine, signal.tier, cfg);
  let wantRisk = 0;
  let wantNotional = 0;
  for (let i = 0; i < qtys.length; i++) {
    const e = signal.entries[i] as number;
    wantRisk += stoppedLossPerUnit(signal.direction, e, stopLoss, rates) * (qtys[i] as number);
    wantNotional += e * (qtys[i] as number);
  }
  const exposure = { risk: openRisk(account, null), scalpRisk: openRisk(account, 'SCALP'), notional: openNotional(account), largest: largestNotional(account) };
  const sized = capToRoom(signal.entries, qtys, wantRisk / wantNotional, signal.engine === 'SCALP', equity, exposure, cfg.risk);
  if (!sized.ok) return { ok: false, ...refusal('notional_cap', sized.detail) };
  return { ok: true, qtys: sized.qtys, multiplier, cappedBy: sized.cappedBy };
}

/** Scratch event list of applyCandle (synchronous, never re-entered); copied out when non-empty. */
const SCRATCH: TradingEvent[] = [];

export function applyCandle(state: TradingState, candle: Candle, market: CandleMarket | null, cfg: TradingConfig, now: number): EngineResult {
  let account = state.account;
  let prot = state.protections;
  let bf = state.biasFilter;
  const out = SCRATCH;
  out.length = 0;

  // PANIC already held (e.g. stored so): nothing pending may fill on this candle
  if (prot.regime.current === 'PANIC' && hasPendingEntries(account)) {
    const r = cancelPendingEntries(account, 'regime_panic', now);
    for (const e of r.events) out.push(e);
    account = r.account;
  }
  if (account.positions.length > 0) {
    const r = onCandle(account, candle, cfg, now);
    if (r.events.length > 0) {
      for (const e of r.events) out.push(e);
      prot = protectionsFromTrades(prot, r.events, cfg, now, out as ProtectionEvent[]);
    }
    account = r.account;
  }
  let refClose: number | null = null;
  if (market) {
    const regime = market.regime ?? (market.regimeInputs ? classifyRegime(market.regimeInputs, cfg.protections.regime) : null);
    if (regime !== null) {
      refClose = candle.openTime + INTERVAL_MS[candle.interval];
      prot = stepRegime(prot, regime, now, cfg.protections.regime, out as ProtectionEvent[], market.regimeInputs ?? undefined);
    }
    if (market.volatility24hPct !== undefined && market.volatility24hPct !== null) {
      prot = updateVolatility(prot, candle.symbol, market.volatility24hPct, cfg.protections.volatilityDisable, now, out as ProtectionEvent[]);
    }
  }
  if (!cfg.allowMissingReference) prot = updateReference(prot, refClose, now, cfg.protections.regime, out as ProtectionEvent[]);
  if (prot.regime.current === 'PANIC' && hasPendingEntries(account)) {
    const r = cancelPendingEntries(account, 'regime_panic', now);
    for (const e of r.events) out.push(e);
    account = r.account;
  }
  const g = prot.guards;
  if (
    (prot.nextCooldownEnd !== null && now >= prot.nextCooldownEnd) ||
    now >= g.dayStart + DAY_MS ||
    (g.pausedUntil !== null && now >= g.pausedUntil) ||
    (bf.nextExpiry !== null && now >= bf.nextExpiry)
  ) {
    [prot, bf] = tickProtections(account, prot, bf, now, out as ProtectionEvent[]);
  }
  if (account !== state.account) {
    prot = checkEquity(prot, markedEquity(account), now, cfg.protections.accountGuards, out as ProtectionEvent[]);
  }
  const next = withParts(state, account, prot, bf);
  const events = out.length > 0 ? out.slice() : NO_EVENTS;
  out.length = 0;
  return { state: next, events };
}

/**
 * A candle held back as suspect by the candle gate: only the protective exits of its symbol's groups
 * (book.ts onSuspectCandle), then the limiter, loss streak and equity guards on what they closed. No
 * regime, volatility or indicator input, no entry, no watermark (the store does not move it).
 */
export function applySuspectCandle(state: TradingState, candle: Candle, cfg: TradingConfig, now: number): EngineResult {
  const r = onSuspectCandle(state.account, candle, now);
  if (r.events.length === 0) return { state, events: NO_EVENTS };
  const out: TradingEvent[] = [...r.events];
  let prot = protectionsFromTrades(state.protections, r.events, cfg, now, out as ProtectionEvent[]);
  prot = checkEquity(prot, markedEquity(r.account), now, cfg.protections.accountGuards, out as ProtectionEvent[]);
  return { state: withParts(state, r.account, prot, state.biasFilter), events: out };
}

/** Trade limiter and loss streak from the book's events. */
function protectionsFromTrades(p: ProtectionState, events: readonly TradeEvent[], cfg: TradingConfig, now: number, out: ProtectionEvent[]): ProtectionState {
  const lim = cfg.protections.tradeLimiter;
  for (const e of events) {
    if (e.type === 'position_closed') {
      const t = e.trade;
      if (t.exitReason === 'stop_loss') p = recordStop(p, t.symbol, t.tier, now, lim, out);
      else if (t.exitReason === 'time_exit' && t.pnl > 0) p = recordReset(p, t.symbol, 'profitable_timeout', now, lim, out);
      p = recordTradeResult(p, t.pnl, now, cfg.protections.accountGuards, out);
    } else if (e.type === 'half_take_profit') {
      p = recordReset(p, e.symbol, 'half_take_profit', now, lim, out);
    } else if (e.type === 'trailing_activated') {
      p = recordReset(p, e.symbol, 'trailing_activation', now, lim, out);
    }
  }
  return p;
}

/** Applies a macro-bias update (`macro-bias-updates`) to the filter. */
export function applyBias(state: TradingState, bias: BiasState, cfg: TradingConfig, now: number): EngineResult {
  const out: ProtectionEvent[] = [];
  const bf = updateBiasFilter(state.biasFilter, bias, now, cfg.filters.macroBias, out);
  return { state: withParts(state, state.account, state.protections, bf), events: out.length ? out : NO_EVENTS };
}

/**
 * Periodic sweep (no candle needed): entry timeouts, pending entries while PANIC holds, reference
 * freshness, cooldown/pause/bias expiry, day rollover.
 */
export function tick(state: TradingState, cfg: TradingConfig, now: number): EngineResult {
  const r = expireOrders(state.account, now);
  const out: TradingEvent[] = [...r.events];
  let account = r.account;
  if (state.protections.regime.current === 'PANIC' && hasPendingEntries(account)) {
    const c = cancelPendingEntries(account, 'regime_panic', now);
    out.push(...c.events);
    account = c.account;
  }
  let [prot, bf] = tickProtections(account, state.protections, state.biasFilter, now, out as ProtectionEvent[]);
  if (!cfg.allowMissingReference) prot = updateReference(prot, null, now, cfg.protections.regime, out as ProtectionEvent[]);
  if (account !== state.account) prot = checkEquity(prot, markedEquity(account), now, cfg.protections.accountGuards, out as ProtectionEvent[]);
  return { state: withParts(state, account, prot, bf), events: out.length ? out : NO_EVENTS };
}

/** Who sent an owner pause / resume and when (the command's own `ts`, for out-of-order delivery). */
interface OwnerCommandInfo {
  actorId: string;
  commandTs: number;
}

type OwnerControlOutcome = 'applied' | 'unchanged' | 'stale';

interface OwnerControlResult extends EngineResult {
  outcome: OwnerControlOutcome;
}

function staleCommand(state: TradingState, cmd: OwnerCommandInfo | undefined): boolean {
  return cmd !== undefined && state.control !== undefined && cmd.commandTs < state.control.commandTs;
}

/**
 * Owner command (/pause): no new entries until /resume; exits, entry timeouts and live order
 * management go on. One `owner_paused` protection event per change; pausing a paused account
 * changes nothing. A command older than the last applied pause / resume is `stale` (ignored).
 */
export function ownerPause(state: TradingState, cmd: OwnerCommandInfo, now: number): OwnerControlResult {
  if (staleCommand(state, cmd)) return { state, events: NO_EVENTS, outcome: 'stale' };
  if (state.control?.paused) {
    if (cmd.commandTs === state.control.commandTs) return { state, events: NO_EVENTS, outcome: 'unchanged' };
    return { state: { ...state, control: { ...state.control, commandTs: cmd.commandTs } }, events: NO_EVENTS, outcome: 'unchanged' };
  }
  const control: OwnerControl = { paused: true, pausedAt: now, by: cmd.actorId, commandTs: cmd.commandTs };
  const event = protectionEvent(OWNER_PAUSED_KIND, 'account', now, 'warning', 'Owner paused new trades: open positions are still managed (exits, timeouts)', {
    reason: 'owner',
    actorId: cmd.actorId,
  });
  return { state: { ...state, control }, events: [event], outcome: 'applied' };
}

/**
 * Owner command (/resume): clears the owner pause, the loss-streak pause and today's loss halt, with
 * ONE `trading_resumed` event naming what was cleared (none when nothing was). Without `cmd` (older
 * callers) it clears the same; with it, a command older than the last pause / resume is `stale`.
 */
export function ownerResume(state: TradingState, now: number, cmd?: OwnerCommandInfo): OwnerControlResult {
  if (staleCommand(state, cmd)) return { state, events: NO_EVENTS, outcome: 'stale' };
  const g = state.protections.guards;
  const lossStreakPause = g.pausedUntil !== null;
  const dailyHalt = g.dailyHalted;
  const ownerPaused = state.control?.paused === true;
  const prot = resumeTrading(state.protections, now, []);
  let next = withParts(state, state.account, prot, state.biasFilter);
  if (cmd !== undefined || ownerPaused) {
    const control: OwnerControl = { paused: false, pausedAt: null, by: cmd?.actorId ?? state.control?.by ?? null, commandTs: cmd?.commandTs ?? state.control?.commandTs ?? 0 };
    const same = state.control !== undefined && !state.control.paused && state.control.commandTs === control.commandTs;
    if (!same) next = { ...next, control };
  }
  if (!ownerPaused && !lossStreakPause && !dailyHalt) return { state: next, events: NO_EVENTS, outcome: next === state ? 'unchanged' : 'applied' };
  const cleared = [ownerPaused ? 'owner pause' : '', lossStreakPause ? 'loss-streak pause' : '', dailyHalt ? 'daily loss halt' : ''].filter(Boolean).join(', ');
  const event = protectionEvent('trading_resumed', 'account', now, 'info', `Owner resumed trading: new entries allowed (cleared: ${cleared})`, {
    reason: 'owner',
    ownerPause: ownerPaused,
    lossStreakPause,
    dailyHalt,
    actorId: cmd?.actorId ?? null,
  });
  return { state: next, events: [event], outcome: 'applied' };
}

interface MoveLevelEngineResult extends EngineResult {
  outcome: MoveLevelOutcome;
  detail: string;
}

/**
 * Owner command (Telegram "move TP", the dashboard's TP slider): a group's take profit moves (book.ts
 * moveTakeProfit, one take_profit_moved event), within ownerLevelBounds (owner-levels.ts: beyond every
 * entry and the average fill, at most `levels.takeProfitMaxPct` from the average entry). For a simulated
 * group candles exit at the new level from the next candle on; for a live (external) group the
 * LiveExecutor cancels its resting take-profit orders and re-places them at the new level on that
 * event (shared/trading/live/ledger.ts moveTakeProfit).
 */
export function ownerMoveTakeProfit(state: TradingState, groupId: string, symbol: string, takeProfit: number, commandId: string, now: number, levels: OwnerLevelConfig): MoveLevelEngineResult {
  const r = moveTakeProfit(state.account, groupId, symbol, takeProfit, commandId, now, levels);
  return { state: withParts(state, r.account, state.protections, state.biasFilter), events: r.events.length ? [...r.events] : NO_EVENTS, outcome: r.outcome, detail: r.detail };
}

/**
 * Owner command (the dashboard's SL slider, `move_sl`): a group's stop loss moves (book.ts
 * moveStopLoss, one stop_loss_moved event) within ownerLevelBounds at the group's mark (loss side of
 * the mark and of the working entries, at most the tier's adaptive-stop cap from the average entry).
 * Candles check the new stop from the next candle on; live groups need no exchange action (the core
 * decides their stops on candles too).
 */
export function ownerMoveStopLoss(state: TradingState, groupId: string, symbol: string, stopLoss: number, commandId: string, now: number, levels: OwnerLevelConfig): MoveLevelEngineResult {
  const r = moveStopLoss(state.account, groupId, symbol, stopLoss, commandId, now, levels);
  return { state: withParts(state, r.account, state.protections, state.biasFilter), events: r.events.length ? [...r.events] : NO_EVENTS, outcome: r.outcome, detail: r.detail };
}

/** Owner command: close a group at `price` (counts for the limiter and the guards like any exit). */
export function ownerClose(state: TradingState, groupId: string, price: number, cfg: TradingConfig, now: number): EngineResult {
  const r = closeManually(state.account, groupId, price, now);
  if (r.events.length === 0) return { state, events: NO_EVENTS };
  const out: TradingEvent[] = [...r.events];
  let prot = protectionsFromTrades(state.protections, r.events, cfg, now, out as ProtectionEvent[]);
  prot = checkEquity(prot, markedEquity(r.account), now, cfg.protections.accountGuards, out as ProtectionEvent[]);
  return { state: withParts(state, r.account, prot, state.biasFilter), events: out };
}

export type ClosePositionOutcome =
  /** Closed at the mark (paper), its unfilled entries cancelled, or the close decided (live). */
  | 'applied'
  | 'unknown_group'
  | 'symbol_mismatch'
  /** Something is held but the group has no mark yet (no candle of its feed since it was placed): nothing to price the close at. */
  | 'no_mark'
  /** A live group whose exit (or entry cancel) is already decided: the exchange is closing it. */
  | 'already_closing';

interface ClosePositionResult extends EngineResult {
  outcome: ClosePositionOutcome;
  detail: string;
}

/**
 * Owner command `close_position` (the dashboard's Close): the group is closed at the market through
 * ownerClose at the account's mark for it (owner-levels.ts groupMark: the last close of its feed), a
 * taker exit like any protective close; a simulated group with nothing filled only has its entries
 * cancelled (no price needed). A live (external) group gets the DECISION (exit_decided 'manual' at the
 * mark, or entry_cancel_decided when nothing is held) that the LiveExecutor carries out with a
 * bounded-slippage limit. Refused without a fresh mark when something is held (groupMark: the close of
 * the group's own feed, at most its interval + `levels.maxMarkAgeMs` old).
 */
export function ownerClosePosition(state: TradingState, groupId: string, symbol: string, cfg: TradingConfig, now: number, levels: Pick<OwnerLevelConfig, 'maxMarkAgeMs'>): ClosePositionResult {
  const p = state.account.positions.find((x) => x.groupId === groupId);
  const none = (outcome: ClosePositionOutcome, detail: string): ClosePositionResult => ({ state, events: NO_EVENTS, outcome, detail });
  if (!p) return none('unknown_group', `no open trade group ${groupId}`);
  if (p.symbol !== symbol) return none('symbol_mismatch', `${groupId} trades ${p.symbol}, not ${symbol}`);
  const mark = groupMark(state.account, p, now, levels.maxMarkAgeMs);
  const holds = closeNeedsMark(p);
  if (holds && mark === null) return none('no_mark', `${groupId}: ${noMarkReason(p, now, levels.maxMarkAgeMs)}: nothing to price the close at`);
  const r = ownerClose(state, groupId, mark ?? p.avgEntry, cfg, now);
  if (r.events.length === 0) return none('already_closing', `${groupId} is already being closed (${p.external?.decision?.reason ?? 'entries cancelling'})`);
  const what = p.external ? (holds ? `close decided at ${mark}` : 'entry cancel decided') : holds ? `closed at ${mark}` : 'unfilled entries cancelled';
  return { ...r, outcome: 'applied', detail: what };
}

// ---------- external (live) fills ----------

/** The state whose NEW groups take fills from `source` (same object when unchanged). */
export function setFillSource(state: TradingState, source: FillSource): TradingState {
  const account = withFillSource(state.account, source);
  return account === state.account ? state : { ...state, account };
}

interface ExternalFillResult extends EngineResult {
  outcome: ExternalFillOutcome;
}

/** Limiter, loss streak and equity guards after book events (closes count like simulated ones). */
function afterBook(state: TradingState, account: AccountState, events: readonly TradeEvent[], cfg: TradingConfig, now: number): EngineResult {
  if (account === state.account) return { state, events: NO_EVENTS };
  const out: TradingEvent[] = [...events];
  let prot = protectionsFromTrades(state.protections, events, cfg, now, out as ProtectionEvent[]);
  prot = checkEquity(prot, markedEquity(account), now, cfg.protections.accountGuards, out as ProtectionEvent[]);
  return { state: withParts(state, account, prot, state.biasFilter), events: out.length ? out : NO_EVENTS };
}

/**
 * Books one exchange fill of an external group (model.ts ExternalFill: cumulative per exchange
 * order). The same fill twice, or an older one, returns the same state and no events (`duplicate`).
 * A fill for a group the book does not have returns `unknown_group` and changes nothing: the caller
 * decides (the executor flattens such a fill as a safety net and alerts).
 */
export function applyExternalFill(state: TradingState, fill: ExternalFill, cfg: TradingConfig, now: number): ExternalFillResult {
  const r = applyFill(state.account, fill, now);
  return { ...afterBook(state, r.account, r.events, cfg, now), outcome: r.outcome };
}

/**
 * The exchange order of entry `entryIndex` of an external group ended (cancelled / rejected) without
 * further fills: the entry ends with what it got (external-groups.ts endEntry). Idempotent.
 */
export function cancelEntry(state: TradingState, groupId: string, entryIndex: number, cfg: TradingConfig, now: number): EngineResult {
  const r = endEntry(state.account, groupId, entryIndex, now);
  return afterBook(state, r.account, r.events, cfg, now);
}
