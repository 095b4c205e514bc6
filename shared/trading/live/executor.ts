/**
 * LiveExecutor: carries out the trading core's decisions on the exchange in live mode (SPEC 5) and
 * feeds the exchange's fills back into the core, so the core's positions ARE the exchange's.
 *
 * The core (engine.ts / store.ts) stays the ONE decision path: it accepts or rejects signals, sizes
 * them, and decides exits from candles. In live mode (TradingStore reads `trading/mode`) its new
 * groups are `external`: candles never fill them. The executor turns the core's events into exchange
 * LIMIT orders:
 *
 *   core event                        -> exchange
 *   order_placed   (external group)   -> one PostOnly limit per entry (rounded to the instrument grid)
 *   entry_cancel_decided              -> cancel those entries (entry timeout / owner close)
 *   exit_decided stop_loss / trailing_stop / time_exit / manual
 *                                     -> cancel working entries and take profits, then a GTC reduceOnly
 *                                        limit at the bounded-slippage price for what is left
 *   exit_decided take_profit          -> nothing when resting take profits cover the position (the
 *                                        exchange fills them); else flatten like above
 *   position_closed                   -> cancel any entry still working
 *   take_profit_moved (owner)         -> cancel the working take profits t{k} / g{k}, then a PostOnly
 *                                        reduceOnly limit `t{k}r{n}` at the new level for what each lot
 *                                        still holds (nothing for a lot whose take profit filled)
 *   stop_loss_moved (owner)           -> nothing on the exchange (stops are core decisions on candles:
 *                                        exit_decided stop_loss); the ledger records the new level
 *   anything else                     -> nothing
 *
 * and the exchange's order statuses into core transitions (through TradingStore, idempotent):
 *
 *   entry order fill (partial too)    -> applyExternalFill(leg 'entry', cumulative qty / avg price / fee,
 *                                        orderDone when the order is Filled)
 *   entry order ended otherwise       -> cancelEntry (PostOnly cross, cancelled, rejected, below minimum)
 *   take-profit / exit order fill     -> applyExternalFill(leg 'exit', reason take_profit or the decision's)
 *
 * The core then emits entry_filled / exit_filled / position_closed (rows mode `live`) with the
 * exchange's prices, quantities and fees, runs the trade limiter and the guards on them, and those
 * are the events the caller publishes. Each leg records how much of its fill the core was given
 * (`coreQty` / `coreDone`); the core ignores a fill it already has (cumulative per order), so a crash
 * between the two transactions is healed by the next call.
 *
 * Safety net: an entry fill the core does not know the group of (it should not happen any more: the
 * core only drops a live group once the exchange says every entry ended unfilled) is flattened with
 * a bounded GTC limit and reported as `live_order_issue` orphaned_fill (an alert).
 *
 * Persistence and idempotency: each live group is one document `trading/{accountId}/live/{groupId}`,
 * changed only in transactions (read -> pure transition from ledger.ts -> write). Exchange calls
 * happen between transactions: the intent is written first (`placing`), the order is sent with its
 * deterministic client id, and the answer is written after. A crash in between is healed by the next
 * call: the retried placement hits Bybit's duplicate-orderLinkId check and resolves to the existing
 * order.
 *
 * Live groups are opened only for the core's external groups; they are managed to the end also after
 * a switch back to paper.
 */
import type { Logger } from '../../log.js';
import type { TradingVenue, InstrumentRules, VenueOrder } from '../../ports/trading-venue.js';
import { VenueError } from '../../ports/trading-venue.js';
import type { DocData, StateStore } from '../../ports/state.js';
import type { TradingEvent, TradingState } from '../core.js';
import type { ExternalFill } from '../model.js';
import type { TradeEvent } from '../../model/trading.js';
import type { TradingStore } from '../store.js';
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
  moveTakeProfit,
  requestEntryCancels,
  settleGroup,
  startClosing,
  type LiveEvent,
  type LiveExecutionConfig,
  type LiveGroup,
  type LiveLeg,
} from './ledger.js';
import { liveCollection, liveGroupPath } from '../../state-paths.js';

interface LiveExecutorOptions {
  venue: TradingVenue;
  store: StateStore;
  accountId: string;
  /** The trading core of the same account: exchange fills and ended entries are applied to it. */
  trading: TradingStore;
  config?: LiveExecutionConfig | (() => LiveExecutionConfig);
  log?: Logger;
}

interface CoreEventContext {
  /** The core state AFTER the events (used to read the accepted position of an order_placed). */
  state: TradingState;
  /** Last traded price per symbol (the reference of a safety-net flatten the core did not price). */
  marks?: Record<string, number>;
}

export interface LiveResult {
  /**
   * Core events produced by exchange fills and ended entries (entry_filled, exit_filled,
   * position_closed with rows mode `live`, entry_timeout, protection events): publish them like any
   * core outcome (trade-events, system-alerts, warehouse rows via closedTradeRows).
   */
  events: TradingEvent[];
  /** Exchange-side issues (live_order_issue, live_group_cancelled): alerts. */
  issues: LiveEvent[];
  /** The core state after the last transition applied here (null when none was). */
  state: TradingState | null;
}

type Observation = { cid: string; order: VenueOrder | null } | { cid: string; rejected: string } | { cid: string; neverPlaced: true };

const toDoc = (g: LiveGroup): DocData => g as unknown as DocData;

function entryIndexOf(coreOrderId: string): number {
  return Number(coreOrderId.slice(coreOrderId.lastIndexOf(':e') + 2));
}

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

  /** Live groups with working orders, or whose fills the core has not fully taken yet. */
  async openGroups(): Promise<LiveGroup[]> {
    const col = liveCollection(this.o.accountId);
    const [open, core] = await Promise.all([
      this.o.store.query<LiveGroup>(col, { where: [{ field: 'status', op: 'in', value: [...OPEN_GROUP_STATUSES] }] }),
      this.o.store.query<LiveGroup>(col, { where: [{ field: 'coreActive', op: '==', value: true }] }),
    ]);
    const byId = new Map<string, LiveGroup>();
    for (const s of [...open, ...core]) byId.set(s.data.groupId, s.data);
    return [...byId.values()];
  }

  /** Carries out the core's events on the exchange; returns what that produced (core events, issues). */
  async onEvents(events: readonly TradingEvent[], ctx: CoreEventContext, now: number): Promise<LiveResult> {
    const res: LiveResult = { events: [], issues: [], state: null };
    const byGroup = new Map<string, TradeEvent[]>();
    for (const e of events) {
      if (e.type === 'protection') continue;
      const list = byGroup.get(e.groupId) ?? [];
      list.push(e);
      byGroup.set(e.groupId, list);
    }
    for (const [groupId, evs] of byGroup) {
      const path = liveGroupPath(this.o.accountId, groupId);
      const opening = evs.some((e) => e.type === 'order_placed');
      const position = ctx.state.account.positions.find((p) => p.groupId === groupId);
      const symbol = position?.symbol ?? evs[0]?.symbol;
      if (!symbol) continue;
      const mark = ctx.marks?.[symbol];
      const known = await this.group(groupId);
      if (!known && !(opening && position?.external)) {
        // never live (placed while paper, or before the executor saw it): nothing is on the exchange,
        // so a decided cancel is confirmed to the core at once
        if (position?.external) await this.confirmCancels(groupId, evs, now, res);
        continue;
      }
      const rules = await this.instrument(symbol);
      const cfg = this.cfg();
      const produced = await this.o.store.runTransaction(async (tx) => {
        let g = await tx.get<LiveGroup>(path);
        const out: LiveEvent[] = [];
        if (!g) {
          if (!opening || !position?.external) return out;
          const r = openLiveGroup(this.o.accountId, position, rules, now);
          g = r.group;
          out.push(...r.events);
        }
        for (const e of evs) g = applyCoreEvent(g, e, mark, now, out);
        g = settleGroup(g, rules, cfg, now, out);
        tx.set(path, toDoc(g));
        return out;
      });
      res.issues.push(...produced);
      await this.follow(groupId, symbol, mark, now, res);
    }
    return res;
  }

  /**
   * Polls the exchange for every live group, places the follow-ups (take profits, fallbacks, exits)
   * and feeds every new fill / ended entry to the core. `marks`: last prices (safety-net reference).
   */
  async reconcile(now: number, marks?: Record<string, number>): Promise<LiveResult> {
    const res: LiveResult = { events: [], issues: [], state: null };
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
      if (obs.length > 0) res.issues.push(...(await this.record(g.groupId, g.symbol, obs, now)));
      await this.follow(g.groupId, g.symbol, marks?.[g.symbol], now, res);
    }
    return res;
  }

  /** Exchange actions and core feeding until nothing is left to do (bounded by maxDriveRounds). */
  private async follow(groupId: string, symbol: string, mark: number | undefined, now: number, res: LiveResult): Promise<void> {
    const rounds = this.cfg().maxDriveRounds;
    for (let round = 0; round < rounds; round++) {
      const d = await this.drive(groupId, now);
      res.issues.push(...d.issues);
      const more = await this.sync(groupId, symbol, mark, now, res);
      if (!more || d.stalled) break;
    }
  }

  /**
   * Feeds the core what the exchange filled / ended since the last time, acknowledges it in the ledger
   * and applies the core's resulting events back to the ledger. Returns true when the ledger has new
   * exchange actions to carry out.
   */
  private async sync(groupId: string, symbol: string, mark: number | undefined, now: number, res: LiveResult): Promise<boolean> {
    const g0 = await this.group(groupId);
    if (!g0) return false;
    const core: TradingEvent[] = [];
    const acks = new Map<string, { coreQty: number; coreDone: boolean }>();
    let orphan = false;
    // entries first: an exit never precedes the entry fill it reduces
    const legs = [...g0.legs.filter((l) => l.kind === 'entry'), ...g0.legs.filter((l) => l.kind !== 'entry')];
    for (const l of legs) {
      const entry = l.kind === 'entry';
      const terminal = isTerminal(l.status);
      const filledDone = entry && l.status === 'Filled';
      const newQty = l.filledQty > (l.coreQty ?? 0);
      const mustEnd = entry && terminal && !l.coreDone;
      if (!newQty && !mustEnd) continue;
      let coreDone = l.coreDone ?? false;
      if (l.filledQty > 0 && (newQty || filledDone)) {
        const fill: ExternalFill = {
          groupId,
          leg: entry ? 'entry' : 'exit',
          orderId: l.clientOrderId,
          cumQty: l.filledQty,
          avgPrice: l.avgPrice,
          cumFee: l.fee,
          ts: now,
        };
        if (entry) {
          fill.entryIndex = l.entryIndex ?? 0;
          if (filledDone) fill.orderDone = true;
        } else {
          fill.reason = l.kind === 'exit' ? (g0.exitReason ?? 'manual') : 'take_profit';
        }
        const r = await this.o.trading.applyExternalFill(fill, now);
        core.push(...r.events);
        res.state = r.state;
        if (r.outcome === 'unknown_group' && entry) orphan = true;
        if (filledDone) coreDone = true;
      }
      if (mustEnd && !coreDone) {
        const r = await this.o.trading.cancelEntry(groupId, l.entryIndex ?? 0, now);
        core.push(...r.events);
        res.state = r.state;
        coreDone = true;
      }
      acks.set(l.clientOrderId, { coreQty: l.filledQty, coreDone });
    }
    res.events.push(...core);
    const finished = (g: LiveGroup) => (g.status === 'closed' || g.status === 'cancelled') && g.legs.every((l) => isTerminal(l.status) && l.filledQty <= (acks.get(l.clientOrderId)?.coreQty ?? l.coreQty ?? 0));
    if (acks.size === 0 && !(g0.coreActive && finished(g0))) return pendingActions(g0).length > 0;

    const rules = await this.instrument(symbol);
    const cfg = this.cfg();
    const path = liveGroupPath(this.o.accountId, groupId);
    const { issues, more } = await this.o.store.runTransaction(async (tx) => {
      let g = await tx.get<LiveGroup>(path);
      const out: LiveEvent[] = [];
      if (!g) return { issues: out, more: false };
      g = {
        ...g,
        legs: g.legs.map((l) => {
          const a = acks.get(l.clientOrderId);
          return a ? { ...l, coreQty: Math.max(l.coreQty ?? 0, a.coreQty), coreDone: (l.coreDone ?? false) || a.coreDone } : l;
        }),
      };
      for (const e of core) if (e.type !== 'protection' && e.groupId === groupId) g = applyCoreEvent(g, e, mark, now, out);
      if (orphan) g = flattenOrphan(g, mark, 'the core does not know this group', now, out);
      g = settleGroup(g, rules, cfg, now, out);
      // everything the exchange did is in the core: nothing more to poll for this group
      if (g.coreActive && finished(g)) g = { ...g, coreActive: false };
      tx.set(path, toDoc(g));
      return { issues: out, more: pendingActions(g).length > 0 };
    });
    res.issues.push(...issues);
    return more;
  }

  /** Entry cancels the core decided for a group that never went live: confirmed at once. */
  private async confirmCancels(groupId: string, evs: readonly TradeEvent[], now: number, res: LiveResult): Promise<void> {
    for (const e of evs) {
      if (e.type !== 'entry_cancel_decided') continue;
      for (const id of e.orderIds) {
        const r = await this.o.trading.cancelEntry(groupId, entryIndexOf(id), now);
        res.events.push(...r.events);
        res.state = r.state;
      }
    }
  }

  /** Applies observations in one transaction (then the follow-ups); returns the issues it produced. */
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

  /** Executes pending places/cancels and records the answers (one round; `follow` repeats). */
  private async drive(groupId: string, now: number): Promise<{ issues: LiveEvent[]; stalled: boolean }> {
    const g = await this.group(groupId);
    if (!g) return { issues: [], stalled: false };
    const actions = pendingActions(g);
    if (actions.length === 0) return { issues: [], stalled: false };
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
    return { issues: obs.length > 0 ? await this.record(groupId, g.symbol, obs, now) : [], stalled };
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

/** A live position the core does not track: flattened with a bounded GTC limit, reported (alert). */
function flattenOrphan(g: LiveGroup, mark: number | undefined, why: string, now: number, out: LiveEvent[]): LiveGroup {
  const held = entryFilled(g).qty - exitFilled(g).qty;
  if (!(held > Number(g.qtyStep) / 2) || g.status !== 'working') return { ...g, coreActive: false };
  const ref = mark ?? entryFilled(g).avg;
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
    detail: `${why} but the exchange holds ${held} ${g.symbol}: flattening at ${ref} (bounded)`,
  });
  return { ...startClosing(g, 'manual', ref, now), coreActive: false };
}

/** One core event applied to a live group (pure). */
function applyCoreEvent(g: LiveGroup, e: TradeEvent, mark: number | undefined, now: number, out: LiveEvent[]): LiveGroup {
  switch (e.type) {
    case 'entry_cancel_decided':
      return requestEntryCancels(g, e.orderIds.map(entryIndexOf).filter((k) => Number.isInteger(k)), now);
    case 'exit_decided': {
      if (e.reason === 'take_profit') {
        const held = entryFilled(g).qty - exitFilled(g).qty;
        let covered = 0;
        for (const l of g.legs) if ((l.kind === 'take_profit' || l.kind === 'take_profit_gtc') && !isTerminal(l.status)) covered += Number(l.qty) - l.filledQty;
        if (held - covered > Number(g.qtyStep) / 2) return startClosing(g, 'take_profit', g.takeProfit, now);
        return g;
      }
      return startClosing(g, e.reason, e.price, now);
    }
    case 'take_profit_moved':
      // owner "move TP": cancel the resting take profits, re-place each lot's remainder at the new level
      return moveTakeProfit(g, e.to, e.eventId, now);
    case 'stop_loss_moved':
      // owner "move SL": no exchange order rests at the stop (the core decides stops on candles): record the level only
      return g.stopLoss === e.to ? g : { ...g, stopLoss: e.to, updatedAt: now };
    case 'entry_timeout':
      // the core ended entries; when the group left the core, nothing may stay open live (safety net)
      return e.positionRemains ? g : flattenOrphan(g, mark, 'the core dropped the group', now, out);
    case 'position_closed': {
      // the core is done with the group: no live entry may add size any more
      const all = g.legs.filter((l) => l.kind === 'entry' && l.entryIndex !== null).map((l) => l.entryIndex as number);
      return { ...requestEntryCancels(g, all, now), coreActive: false };
    }
    default:
      return g;
  }
}
