/**
 * Persistence shell of the trading core over the StateStore port. The whole trading state of an
 * account (book + protections + bias filter) is ONE document, `trading/{accountId}`, changed only
 * inside `state.runTransaction` (read doc -> pure transition from core.ts -> write), so concurrent
 * signals serialise on it: the risk cap and the position limits hold under concurrency (no
 * read-then-write race; the adapters retry contended transactions).
 *
 * Idempotency (everything arrives at least once):
 * - signals: a marker document `trading/{accountId}/applied/{signalId}` is created in the same
 *   transaction with the decision and the events. A signal seen again changes nothing and returns the
 *   stored decision and events (`duplicate: true`) so the caller may re-publish them (event ids are
 *   deterministic; downstream de-dups).
 * - candles: a watermark per feed (`venue:symbol:interval` -> last open time) in the document; a candle
 *   at or before it changes nothing. The events of the last candle per feed are kept and returned on a
 *   redelivery of that candle.
 * - external fills / ended entries (live): the core itself ignores a fill it already has (cumulative per
 *   exchange order); a marker `trading/{accountId}/external/{key}` keeps the events of each applied fill
 *   or cancel, and the same input again changes nothing and returns them (`applied: false`).
 * Fill source: `applySignal` reads the trading mode (`trading/mode`, live/mode.ts) in its transaction;
 * in live mode the new group is `external` (filled only through applyExternalFill / cancelEntry, and
 * a signal opposing a live group on the same coin is rejected), in paper mode `simulated`.
 * In live mode a `liveGate` (when given) is asked first: a reason means live trading cannot run (no
 * exchange keys), and the signal is rejected `live_unavailable` instead of opening an external group
 * nothing would ever fill.
 * - owner commands (pause / resume / move TP / move SL / close, shared/pipeline/execution/owner-commands.ts): a marker
 *   `trading/{accountId}/commands/{commandId}` keeps the outcome and events; the same command again
 *   changes nothing and returns them (`applied: false`).
 * The caller publishes the returned events (trade-events / system-alerts via `protectionAlert`) and
 * appends `position_closed` rows to the warehouse `paper_trades` table (`closedTradeRows`).
 */
import type { Candle } from '../model/market.js';
import type { DocData, StateStore } from '../ports/state.js';
import {
  applyBias,
  applyCandle,
  applyExternalFill,
  applySignal,
  applySuspectCandle,
  cancelEntry,
  createTradingState,
  ownerClosePosition,
  ownerMoveStopLoss,
  ownerMoveTakeProfit,
  ownerPause,
  ownerResume,
  setFillSource,
  tick,
  type CandleMarket,
  type EngineResult,
  type SignalDecision,
  type SignalMarket,
  type TradingEvent,
  type TradingState,
} from './core.js';
import type { ExternalFillOutcome } from './external-groups.js';
import { fillSourceOfMode, modeOfDoc } from './live/mode.js';
import { commandMarkerPath, externalMarkerPath, signalMarkerPath, TRADING_MODE_DOC, tradingDocPath } from '../state-paths.js';
import { externalFillSchema, type ExternalFill, type TradingConfig } from './model.js';
import { TRADING_SCHEMA_VERSION, upgradeTradingDoc } from './doc-upgrade.js';
import { ownerLevelConfig, type OwnerLevelDashboard } from './owner-levels.js';
import type { BiasState, Signal, PaperTradeRow } from '../model/trading.js';


export interface TradingDoc {
  schemaVersion: number;
  state: TradingState;
  /** feed key -> last applied candle open time. */
  candleWatermarks: Record<string, number>;
  /** feed key -> events of the last applied candle (re-returned on a redelivery of it). */
  lastCandleEvents: Record<string, TradingEvent[]>;
  updatedAt: number;
}

interface SignalMarker {
  signalId: string;
  appliedAt: number;
  decision: SignalDecision;
  events: TradingEvent[];
}

export interface StoreResult {
  /** false when this input had been applied before (nothing changed). */
  applied: boolean;
  state: TradingState;
  events: readonly TradingEvent[];
}

export interface StoreSignalResult extends StoreResult {
  decision: SignalDecision;
}

interface StoreFillResult extends StoreResult {
  outcome: ExternalFillOutcome;
}

interface ExternalMarker {
  key: string;
  appliedAt: number;
  outcome: ExternalFillOutcome;
  events: TradingEvent[];
}

interface TradingStoreOptions {
  accountId: string;
  /** Current config (re-read on every call, so live config edits apply). */
  config: TradingConfig | (() => TradingConfig);
  /**
   * Asked by applySignal only when the stored mode is live: null when live trading can run, else the
   * reason it cannot (e.g. no exchange keys). A reason rejects the signal (`live_unavailable`).
   */
  liveGate?: () => Promise<string | null>;
}

/** An owner command as the store applies it (shared/telegram/trade-commands.ts). */
interface OwnerCommandRef {
  commandId: string;
  actorId: string;
  /** The command's own time (Telegram update time): orders pause / resume. */
  ts: number;
}

export interface StoreCommandResult extends StoreResult {
  /** What the command did: applied, unchanged, stale (older than the last pause/resume), or a refusal. */
  outcome: string;
  detail: string;
}

interface CommandMarker {
  commandId: string;
  appliedAt: number;
  outcome: string;
  detail: string;
  events: TradingEvent[];
}

export function feedKey(c: Pick<Candle, 'venue' | 'symbol' | 'interval'>): string {
  return `${c.venue}:${c.symbol}:${c.interval}`;
}

/** Warehouse rows of the `position_closed` events (one row per filled entry lot). */
export function closedTradeRows(events: readonly TradingEvent[]): PaperTradeRow[] {
  const rows: PaperTradeRow[] = [];
  for (const e of events) if (e.type === 'position_closed') rows.push(...e.trade.rows);
  return rows;
}

const toDoc = (x: unknown): DocData => x as DocData;

export class TradingStore {
  constructor(
    private readonly store: StateStore,
    private readonly opts: TradingStoreOptions,
  ) {}

  private cfg(): TradingConfig {
    const c = this.opts.config;
    return typeof c === 'function' ? c() : c;
  }

  get docPath(): string {
    return tradingDocPath(this.opts.accountId);
  }

  /** The current state (a fresh one, not persisted, when the account does not exist yet). */
  async read(now: number): Promise<TradingState> {
    const doc = upgradeTradingDoc(await this.store.get<TradingDoc>(this.docPath));
    return doc ? doc.state : createTradingState(this.opts.accountId, this.cfg(), now);
  }

  async applySignal(signal: Signal, market: SignalMarket | null, now: number): Promise<StoreSignalResult> {
    const cfg = this.cfg();
    const markerPath = signalMarkerPath(this.opts.accountId, signal.signalId);
    return this.store.runTransaction(async (tx) => {
      const doc = upgradeTradingDoc(await tx.get<TradingDoc>(this.docPath));
      const marker = await tx.get<SignalMarker>(markerPath);
      const mode = modeOfDoc(await tx.get(TRADING_MODE_DOC));
      const stored = doc?.state ?? createTradingState(this.opts.accountId, cfg, now);
      if (marker) return { applied: false, state: stored, events: marker.events, decision: marker.decision };
      if (mode === 'live' && this.opts.liveGate) {
        const why = await this.opts.liveGate();
        if (why !== null) {
          const decision: SignalDecision = { accepted: false, reason: 'live_unavailable', detail: why };
          tx.set(markerPath, toDoc({ signalId: signal.signalId, appliedAt: now, decision, events: [] } satisfies SignalMarker));
          return { applied: true, state: stored, events: [], decision };
        }
      }
      const state = setFillSource(stored, fillSourceOfMode(mode));
      const r = applySignal(state, signal, market, cfg, now);
      const events = [...r.events];
      tx.set(this.docPath, toDoc(this.nextDoc(doc, r.state, now)));
      tx.set(markerPath, toDoc({ signalId: signal.signalId, appliedAt: now, decision: r.decision, events } satisfies SignalMarker));
      return { applied: true, state: r.state, events, decision: r.decision };
    });
  }

  async applyCandle(candle: Candle, market: CandleMarket | null, now: number): Promise<StoreResult> {
    const cfg = this.cfg();
    const key = feedKey(candle);
    return this.store.runTransaction(async (tx) => {
      const doc = upgradeTradingDoc(await tx.get<TradingDoc>(this.docPath));
      const state = doc?.state ?? createTradingState(this.opts.accountId, cfg, now);
      const mark = doc?.candleWatermarks[key];
      if (mark !== undefined && candle.openTime <= mark) {
        const events = candle.openTime === mark ? (doc?.lastCandleEvents[key] ?? []) : [];
        return { applied: false, state, events };
      }
      const r = applyCandle(state, candle, market, cfg, now);
      const events = [...r.events];
      const next = this.nextDoc(doc, r.state, now);
      next.candleWatermarks = { ...next.candleWatermarks, [key]: candle.openTime };
      next.lastCandleEvents = { ...next.lastCandleEvents, [key]: events };
      tx.set(this.docPath, toDoc(next));
      return { applied: true, state: r.state, events };
    });
  }

  /**
   * A candle the candle gate held back as suspect: protective exits only (core.ts
   * applySuspectCandle); the watermark does not move. Idempotent by candle key (marker
   * `trading/{id}/external/suspect:{key}`: the same candle again returns the stored events); a candle
   * at or before the feed's watermark changes nothing.
   */
  async applySuspectCandle(candle: Candle, now: number): Promise<StoreResult> {
    const cfg = this.cfg();
    const doc = upgradeTradingDoc(await this.store.get<TradingDoc>(this.docPath));
    const mark = doc?.candleWatermarks[feedKey(candle)];
    if (mark !== undefined && candle.openTime <= mark) return { applied: false, state: doc?.state ?? createTradingState(this.opts.accountId, cfg, now), events: [] };
    const key = `suspect:${candle.venue}:${candle.symbol}:${candle.interval}:${candle.openTime}`;
    return this.external(key, now, (s) => ({ ...applySuspectCandle(s, candle, cfg, now), outcome: 'applied' as const }));
  }

  /**
   * One exchange fill of a live (external) group, as the live executor reads it from the exchange
   * (validated; see model.ts ExternalFill). Idempotent: the same fill again returns its stored events
   * with `applied: false`; an older one returns none.
   */
  async applyExternalFill(fill: ExternalFill, now: number): Promise<StoreFillResult> {
    const f = externalFillSchema.parse(fill);
    const cfg = this.cfg();
    const key = `fill:${f.groupId}:${f.orderId}:${f.cumQty}${f.orderDone ? ':done' : ''}`;
    return this.external(key, now, (s) => applyExternalFill(s, f, cfg, now));
  }

  /** The exchange order of an entry of a live group ended without (further) fills. Idempotent. */
  cancelEntry(groupId: string, entryIndex: number, now: number): Promise<StoreResult> {
    const cfg = this.cfg();
    return this.external(`cancel:${groupId}:e${entryIndex}`, now, (s) => ({ ...cancelEntry(s, groupId, entryIndex, cfg, now), outcome: 'applied' as const }));
  }

  private external(key: string, now: number, fn: (s: TradingState) => EngineResult & { outcome: ExternalFillOutcome }): Promise<StoreFillResult> {
    const cfg = this.cfg();
    const markerPath = externalMarkerPath(this.opts.accountId, key);
    return this.store.runTransaction(async (tx) => {
      const doc = upgradeTradingDoc(await tx.get<TradingDoc>(this.docPath));
      const marker = await tx.get<ExternalMarker>(markerPath);
      const state = doc?.state ?? createTradingState(this.opts.accountId, cfg, now);
      if (marker) return { applied: false, state, events: marker.events, outcome: marker.outcome };
      const r = fn(state);
      if (r.state === state) return { applied: false, state, events: [], outcome: r.outcome === 'applied' ? 'duplicate' : r.outcome };
      const events = [...r.events];
      tx.set(this.docPath, toDoc(this.nextDoc(doc, r.state, now)));
      tx.set(markerPath, toDoc({ key, appliedAt: now, outcome: r.outcome, events } satisfies ExternalMarker));
      return { applied: true, state: r.state, events, outcome: r.outcome };
    });
  }

  /** A macro-bias update (`macro-bias-updates`): naturally idempotent (same bias, same state). */
  applyBias(bias: BiasState, now: number): Promise<StoreResult> {
    return this.transition(now, (s, cfg) => applyBias(s, bias, cfg, now));
  }

  /** Periodic sweep: entry timeouts and time-driven protection changes. */
  tick(now: number): Promise<StoreResult> {
    return this.transition(now, (s, cfg) => tick(s, cfg, now));
  }

  /** Owner `/resume`. */
  resume(now: number): Promise<StoreResult> {
    return this.transition(now, (s) => ownerResume(s, now));
  }

  /** Owner /pause (idempotent by command id; see core.ts ownerPause). */
  pause(cmd: OwnerCommandRef, now: number): Promise<StoreCommandResult> {
    return this.command(cmd.commandId, now, (s) => ({ ...ownerPause(s, { actorId: cmd.actorId, commandTs: cmd.ts }, now), detail: '' }));
  }

  /** Owner /resume as a command (idempotent by command id; see core.ts ownerResume). */
  resumeCommand(cmd: OwnerCommandRef, now: number): Promise<StoreCommandResult> {
    return this.command(cmd.commandId, now, (s) => ({ ...ownerResume(s, now, { actorId: cmd.actorId, commandTs: cmd.ts }), detail: '' }));
  }

  /**
   * Owner "move TP" of a group (idempotent by command id; see core.ts ownerMoveTakeProfit), within
   * ownerLevelBounds: `dashboard` is config/telegram's (takeProfitMaxPct, maxMarkAgeMs); the risk cap
   * comes from the trading config's risk rules.
   */
  moveTakeProfit(cmd: OwnerCommandRef & { groupId: string; symbol: string; takeProfit: number; dashboard: OwnerLevelDashboard }, now: number): Promise<StoreCommandResult> {
    return this.command(cmd.commandId, now, (s, cfg) => ownerMoveTakeProfit(s, cmd.groupId, cmd.symbol, cmd.takeProfit, cmd.commandId, now, ownerLevelConfig(cfg, cmd.dashboard)));
  }

  /** Owner "move SL" of a group (idempotent by command id; see core.ts ownerMoveStopLoss), within ownerLevelBounds at the group's mark. */
  moveStopLoss(cmd: OwnerCommandRef & { groupId: string; symbol: string; stopLoss: number; dashboard: OwnerLevelDashboard }, now: number): Promise<StoreCommandResult> {
    return this.command(cmd.commandId, now, (s, cfg) => ownerMoveStopLoss(s, cmd.groupId, cmd.symbol, cmd.stopLoss, cmd.commandId, now, ownerLevelConfig(cfg, cmd.dashboard)));
  }

  /** Owner close of a group at its fresh mark (idempotent by command id; see core.ts ownerClosePosition). */
  closePosition(cmd: OwnerCommandRef & { groupId: string; symbol: string; dashboard: OwnerLevelDashboard }, now: number): Promise<StoreCommandResult> {
    return this.command(cmd.commandId, now, (s, cfg) => ownerClosePosition(s, cmd.groupId, cmd.symbol, cfg, now, ownerLevelConfig(cfg, cmd.dashboard)));
  }

  private command(commandId: string, now: number, fn: (s: TradingState, cfg: TradingConfig) => EngineResult & { outcome: string; detail: string }): Promise<StoreCommandResult> {
    const cfg = this.cfg();
    const markerPath = commandMarkerPath(this.opts.accountId, commandId);
    return this.store.runTransaction(async (tx) => {
      const doc = upgradeTradingDoc(await tx.get<TradingDoc>(this.docPath));
      const marker = await tx.get<CommandMarker>(markerPath);
      const state = doc?.state ?? createTradingState(this.opts.accountId, cfg, now);
      if (marker) return { applied: false, state, events: marker.events, outcome: marker.outcome, detail: marker.detail };
      const r = fn(state, cfg);
      const events = [...r.events];
      if (!doc || r.state !== state) tx.set(this.docPath, toDoc(this.nextDoc(doc, r.state, now)));
      tx.set(markerPath, toDoc({ commandId, appliedAt: now, outcome: r.outcome, detail: r.detail, events } satisfies CommandMarker));
      return { applied: true, state: r.state, events, outcome: r.outcome, detail: r.detail };
    });
  }

  private transition(now: number, fn: (s: TradingState, cfg: TradingConfig) => EngineResult): Promise<StoreResult> {
    const cfg = this.cfg();
    return this.store.runTransaction(async (tx) => {
      const doc = upgradeTradingDoc(await tx.get<TradingDoc>(this.docPath));
      const state = doc?.state ?? createTradingState(this.opts.accountId, cfg, now);
      const r = fn(state, cfg);
      if (doc && r.state === state) return { applied: false, state, events: [] };
      tx.set(this.docPath, toDoc(this.nextDoc(doc, r.state, now)));
      return { applied: true, state: r.state, events: [...r.events] };
    });
  }

  private nextDoc(doc: TradingDoc | undefined, state: TradingState, now: number): TradingDoc {
    return {
      schemaVersion: TRADING_SCHEMA_VERSION,
      state,
      candleWatermarks: doc?.candleWatermarks ?? {},
      lastCandleEvents: doc?.lastCandleEvents ?? {},
      updatedAt: now,
    };
  }
}
