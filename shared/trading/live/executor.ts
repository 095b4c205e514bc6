/**
 * LiveExecutor: mirrors the paper core's decisions on the exchange in live mode (SPEC 5).
 *
 * The paper core (engine.ts / store.ts) stays the ONE decision path: it accepts or rejects signals,
 * sizes them, and decides exits from candles. The executor turns its TradeEvents into exchange LIMIT
 * orders and reports what the exchange really filled:
 *
 *   core event                        -> exchange
 *   order_placed   (mode live only)   -> one PostOnly limit per entry (rounded to the instrument grid)
 *   entry_timeout                     -> cancel those entries; if the core dropped the group while the
 *                                        exchange had filled some of it (an "orphaned fill"), flatten it
 *   exit_filled stop_loss / trailing_stop / time_exit / manual
 *                                     -> cancel working entries and take profits, then a GTC reduceOnly
 *                                        limit at the bounded-slippage price for what is left
 *   exit_filled take_profit           -> nothing when resting take profits cover the position (the
 *                                        exchange fills them); else flatten like above
 *   entry_filled / position_closed / trailing / half TP (simulated)
 *                                     -> ignored: in live mode fills come from the exchange
 *
 * `reconcile(now)` polls every working order of every open live group (order status by client id)
 * and returns the live fill events (entry_filled / exit_filled per increment, partial fills included,
 * position_closed with the exchange's prices and fees) plus issues and group cancellations, after
 * placing the follow-up orders (take profits once an entry lot is done, GTC fallbacks, exits).
 *
 * Persistence and idempotency: each live group is one document `trading/{accountId}/live/{groupId}`,
 * changed only in transactions (read -> pure transition from ledger.ts -> write). Exchange calls
 * happen between transactions: the intent is written first (`placing`), the order is sent with its
 * deterministic client id, and the answer is written after. A crash in between is healed by the next
 * call: the retried placement hits Bybit's duplicate-orderLinkId check and resolves to the existing
 * order. Fill events carry deterministic ids and are returned only by the transaction that recorded
 * the fill, so a repeated reconcile returns nothing new.
 *
 * New groups are opened only while the stored mode (`trading/mode`) is `live`; groups already live
 * are always managed to the end, also after a switch back to paper.
 */
import type { Logger } from '../../log.js';
import type { ExecutionVenue, InstrumentRules, VenueOrder } from '../../ports/execution.js';
import { VenueError } from '../../ports/execution.js';
import type { DocData, StateStore } from '../../ports/state.js';
import { safeId } from '../../ports/state.js';
import type { TradingEvent, TradingState } from '../engine.js';
import type { TradeEvent } from '../model.js';
import {
  DEFAULT_LIVE_EXECUTION_CONFIG,
  OPEN_GROUP_STATUSES,
  entryFilled,
  exitFilled,
  isTerminal,
  observeLeg,
  openLiveGroup,
  pendingActions,
  rejectLeg,
  requestEntryCancels,
  settleGroup,
  startClosing,
  type LiveEvent,
  type LiveExecutionConfig,
  type LiveGroup,
  type LiveLeg,
} from './ledger.js';
import { getTradingMode } from './mode.js';

export function liveCollection(accountId: string): string {
  return `trading/${safeId(accountId)}/live`;
}
export function liveGroupPath(accountId: string, groupId: string): string {
  return `${liveCollection(accountId)}/${safeId(groupId)}`;
}

export interface LiveExecutorOptions {
  venue: ExecutionVenue;
  store: StateStore;
  accountId: string;
  config?: LiveExecutionConfig | (() => LiveExecutionConfig);
  log?: Logger;
}

export interface CoreEventContext {
  /** The core state AFTER the events (used to read the accepted position of an order_placed). */
  state: TradingState;
  /** Last traded price per symbol (the reference of exits the core did not price, e.g. an orphaned fill). */
  marks?: Record<string, number>;
}

type Observation = { cid: string; order: VenueOrder | null } | { cid: string; rejected: string } | { cid: string; neverPlaced: true };

const toDoc = (g: LiveGroup): DocData => g as unknown as DocData;

export class LiveExecutor {
  private readonly rules = new Map<string, InstrumentRules>();

  constructor(private readonly o: LiveExecutorOptions) {}

  private cfg(): LiveExecutionConfig {
    const c = this.o.config ?? DEFAULT_LIVE_EXECUTION_CONFIG;
    return typeof c === 'function' ? c() : c;
  }

  private async instrument(symbol: string): Promise<InstrumentRules> {
    let r = this.rules.get(symbol);
    if (!r) {
      r = await this.o.venue.instrument(symbol);
      this.rules.set(symbol, r);
    }
    return r;
  }

  async group(groupId: string): Promise<LiveGroup | undefined> {
    return this.o.store.get<LiveGroup>(liveGroupPath(this.o.accountId, groupId));
  }

  async openGroups(): Promise<LiveGroup[]> {
    const snaps = await this.o.store.query<LiveGroup>(liveCollection(this.o.accountId), {
      where: [{ field: 'status', op: 'in', value: [...OPEN_GROUP_STATUSES] }],
    });
    return snaps.map((s) => s.data);
  }

  /** Mirrors the core's events on the exchange; returns the live events this produced. */
  async onEvents(events: readonly TradingEvent[], ctx: CoreEventContext, now: number): Promise<LiveEvent[]> {
    const out: LiveEvent[] = [];
    const byGroup = new Map<string, TradeEvent[]>();
    for (const e of events) {
      if (e.type === 'protection') continue;
      const list = byGroup.get(e.groupId) ?? [];
      list.push(e);
      byGroup.set(e.groupId, list);
    }
    if (byGroup.size === 0) return out;
    const mode = await getTradingMode(this.o.store);
    for (const [groupId, evs] of byGroup) {
      const path = liveGroupPath(this.o.accountId, groupId);
      const opening = evs.some((e) => e.type === 'order_placed');
      const position = ctx.state.account.positions.find((p) => p.groupId === groupId);
      const symbol = position?.symbol ?? evs[0]?.symbol;
      if (!symbol) continue;
      const rules = await this.instrument(symbol);
      const cfg = this.cfg();
      const changed = await this.o.store.runTransaction(async (tx) => {
        let g = await tx.get<LiveGroup>(path);
        const produced: LiveEvent[] = [];
        if (!g) {
          if (!opening || mode !== 'live' || !position) return { g: undefined, produced };
          const r = openLiveGroup(this.o.accountId, position, rules, now);
          g = r.group;
          produced.push(...r.events);
        }
        for (const e of evs) g = applyCoreEvent(g, e, ctx.marks?.[symbol], now, produced);
        g = settleGroup(g, rules, cfg, now, produced);
        tx.set(path, toDoc(g));
        return { g, produced };
      });
      out.push(...changed.produced);
      if (changed.g) out.push(...(await this.drive(groupId, now)));
    }
    return out;
  }

  /** Polls the exchange for every open live group; returns fills (partial included), issues and closes. */
  async reconcile(now: number): Promise<LiveEvent[]> {
    const out: LiveEvent[] = [];
    for (const g of await this.openGroups()) {
      const obs: Observation[] = [];
      for (const l of g.legs) {
        if (isTerminal(l.status) || l.status === 'placing') continue;
        try {
          obs.push({ cid: l.clientOrderId, order: await this.o.venue.getOrder(g.symbol, l.clientOrderId) });
        } catch (err) {
          this.o.log?.warn('live reconcile: order status unavailable', { groupId: g.groupId, leg: l.leg, error: err });
        }
      }
      out.push(...(await this.record(g.groupId, g.symbol, obs, now)));
      out.push(...(await this.drive(g.groupId, now)));
    }
    return out;
  }

  /** Applies observations in one transaction (then the follow-ups); returns the events it produced. */
  private async record(groupId: string, symbol: string, obs: Observation[], now: number): Promise<LiveEvent[]> {
    const rules = await this.instrument(symbol);
    const cfg = this.cfg();
    const path = liveGroupPath(this.o.accountId, groupId);
    return this.o.store.runTransaction(async (tx) => {
      let g = await tx.get<LiveGroup>(path);
      if (!g) return [];
      const produced: LiveEvent[] = [];
      for (const ob of obs) {
        if ('rejected' in ob) g = rejectLeg(g, ob.cid, ob.rejected, now);
        else if ('neverPlaced' in ob) g = { ...g, legs: g.legs.map((l) => (l.clientOrderId === ob.cid && l.status === 'placing' ? { ...l, status: 'Cancelled', rejectReason: 'cancelled before it reached the exchange', updatedAt: now } : l)) };
        else {
          const r = observeLeg(g, ob.cid, ob.order, now);
          g = r.group;
          produced.push(...r.events);
        }
      }
      g = settleGroup(g, rules, cfg, now, produced);
      tx.set(path, toDoc(g));
      return produced;
    });
  }

  /** Executes pending places/cancels, records the answers, repeats for the follow-ups they cause. */
  private async drive(groupId: string, now: number): Promise<LiveEvent[]> {
    const out: LiveEvent[] = [];
    const rounds = this.cfg().maxDriveRounds;
    for (let round = 0; round < rounds; round++) {
      const g = await this.group(groupId);
      if (!g) break;
      const actions = pendingActions(g);
      if (actions.length === 0) break;
      const obs: Observation[] = [];
      let stalled = false;
      for (const a of actions) {
        try {
          obs.push(a.kind === 'place' ? await this.place(g.symbol, a.leg) : await this.cancel(g.symbol, a.leg));
        } catch (err) {
          if (err instanceof VenueError && !err.retryable) {
            obs.push({ cid: a.leg.clientOrderId, rejected: `${err.code}: ${err.venueMessage}` });
          } else {
            stalled = true;
            this.o.log?.warn('live order action failed; retried by the next reconcile', { groupId, leg: a.leg.leg, action: a.kind, error: err });
          }
        }
      }
      out.push(...(await this.record(groupId, g.symbol, obs, now)));
      if (stalled) break;
    }
    return out;
  }

  private async place(symbol: string, l: LiveLeg): Promise<Observation> {
    const placed = await this.o.venue.placeLimitOrder({
      symbol,
      side: l.side,
      price: l.price,
      qty: l.qty,
      postOnly: l.postOnly,
      reduceOnly: l.reduceOnly,
      clientOrderId: l.clientOrderId,
    });
    if (placed.alreadyPlaced) this.o.log?.info('live order already placed (duplicate client id): using its status', { clientOrderId: l.clientOrderId });
    // the status right after placement shows a PostOnly cancel or an immediate fill at once
    const order = await this.o.venue.getOrder(symbol, l.clientOrderId);
    return { cid: l.clientOrderId, order };
  }

  private async cancel(symbol: string, l: LiveLeg): Promise<Observation> {
    const order = await this.o.venue.cancelOrder(symbol, l.clientOrderId);
    if (order === null) return l.status === 'placing' ? { cid: l.clientOrderId, neverPlaced: true } : { cid: l.clientOrderId, order: null };
    return { cid: l.clientOrderId, order };
  }
}

/** One core event applied to a live group (pure). */
export function applyCoreEvent(g: LiveGroup, e: TradeEvent, mark: number | undefined, now: number, out: LiveEvent[]): LiveGroup {
  switch (e.type) {
    case 'entry_timeout': {
      const idx = e.cancelledOrderIds.map((id) => Number(id.slice(id.lastIndexOf(':e') + 2))).filter((k) => Number.isInteger(k));
      let next = requestEntryCancels(g, idx, now);
      if (!e.positionRemains) {
        next = { ...next, coreActive: false };
        const held = entryFilled(next).qty - exitFilled(next).qty;
        if (held > Number(next.qtyStep) / 2 && next.status === 'working') {
          const inQ = entryFilled(next);
          const ref = mark ?? inQ.avg;
          next = startClosing(next, 'entry_timeout', ref, now);
          out.push({
            type: 'live_order_issue',
            eventId: `${g.groupId}:orphaned`,
            accountId: g.accountId,
            ts: now,
            groupId: g.groupId,
            signalId: g.signalId,
            symbol: g.symbol,
            strategy: g.strategy,
            direction: g.direction,
            leg: '',
            clientOrderId: '',
            issue: 'orphaned_fill',
            action: 'flattening',
            detail: `the paper core timed the group out unfilled but the exchange filled ${held}: flattening at ${ref} (bounded)`,
          });
        }
      }
      return next;
    }
    case 'exit_filled': {
      if (e.reason === 'take_profit') {
        const held = entryFilled(g).qty - exitFilled(g).qty;
        let covered = 0;
        for (const l of g.legs) if ((l.kind === 'take_profit' || l.kind === 'take_profit_gtc') && !isTerminal(l.status)) covered += Number(l.qty) - l.filledQty;
        if (held - covered > Number(g.qtyStep) / 2) return startClosing(g, 'take_profit', g.takeProfit, now);
        return g;
      }
      return startClosing(g, e.reason, e.reason === 'stop_loss' ? g.stopLoss : e.price, now);
    }
    case 'position_closed': {
      // the core is done with the group: no live entry may add size any more
      const all = g.legs.filter((l) => l.kind === 'entry' && l.entryIndex !== null).map((l) => l.entryIndex as number);
      return { ...requestEntryCancels(g, all, now), coreActive: false };
    }
    default:
      return g;
  }
}
