/**
 * Notifier domain (SPEC 9): turns trade events and system alerts into outbox entries.
 *
 * - A signal reaches Telegram on ONE road: its outcome on `trade-events`, published by the execution
 *   function once the trading core decided (the notifier does not read the signal topics). Opened =
 *   the group's `order_placed` carrying the signal's plan; rejected = `signal_rejected` with the
 *   core's reason. Each signal gets ONE alert per chat (`alert:{alertKey}:{chatId}`): a chart PNG with
 *   the HTML caption, in the symbol's forum topic when the chat is a forum. What it says depends on
 *   the owner's choice (`config/telegram` alerts.signalOnly): by default what happened to the signal
 *   (opened: the Chart / Move TP / Mute keyboard + 🖥 Dashboard, later edited; NOT TAKEN with the reason: Chart /
 *   Mute), or, signal-only, the plan alone without trade wording (never edited). A log-only
 *   strategy's signal (`not_emitting`) gets no alert. Outcomes of one cycle (engine + candle time)
 *   carry the same `groupTag` and wait `gatherMs`, so three or more go out as one media group
 *   (outbox.ts).
 * - Later stages EDIT a trade alert (opened, cancelled, closed with WIN/LOSS badge and a chart with
 *   the exit marker). The alert record `tg_alerts/{alertKey}` holds the trade's stage; edits carry a
 *   rank so a late, older stage never overwrites a newer one.
 * - System alerts go out once per alert id, and for state-like kinds (data stale/fresh, holder
 *   disconnected/reconnected) once per CHANGE of state per subject.
 * - Muted (chat, symbol) pairs receive nothing for that symbol.
 * Every key is deterministic, so a redelivered event queues nothing new.
 */
import type { DocData } from '../ports/state.js';
import type { InlineKeyboard, PhotoFile } from '../ports/telegram.js';
import type { TradeEvent } from '../model/trading.js';
import { SCALP_STRATEGIES } from '../config/strategy.js';
import { buildTradeChartInput, type ChartLevelParams } from './chart-data.js';
import type { TelegramDeps } from './deps.js';
import { mutedChats } from './deps.js';
import { recordProtectionAlert } from '../dashboard/alert-log.js';
import { alertCaption, isTradeInProgress, RANK, type AlertRecord } from './format.js';
import { alertKeyboard, alertKeyOf, dashboardRow, signalKeyboard } from './keyboards.js';
import { enqueue, type EnqueueItem } from './outbox.js';
import { closedTradeRecord, StateTradeLog } from './trade-log.js';
import { systemAlertText } from './format.js';
import { adjustmentAlertMessage } from './suggestions.js';
import { alertRecordPath, outboxPath, systemStatePath } from '../state-paths.js';
import type { Alert } from '../messages.js';

type OrderPlaced = Extract<TradeEvent, { type: 'order_placed' }>;
type SignalRejected = Extract<TradeEvent, { type: 'signal_rejected' }>;

/** A trade view whose signal was taken (it follows the trade: edits); not signal-only, not rejected. */
function isTradeAlert(a: AlertRecord): boolean {
  return (a.view ?? 'trade') === 'trade' && a.status !== 'rejected';
}

/** Alert kinds that describe a state: only a change of state per subject is sent. */
const STATE_FAMILIES: Record<string, string> = {
  data_stale: 'data',
  data_fresh: 'data',
  holder_disconnected: 'holder',
  holder_reconnected: 'holder',
};

function engineOf(strategy: string): 'SCALP' | 'SWING' {
  return (SCALP_STRATEGIES as readonly string[]).includes(strategy) ? 'SCALP' : 'SWING';
}

/** Ranks within one stage (DCA fills). */
const RANK_STEP = 1000;

/**
 * The rank of a fill's edit: above any level move already shown in the open stage (onLevelMoved), never
 * into a later stage (a late fill after the exit stays below the closed rank, so it is not sent).
 */
function openStageRank(fillRank: number, current: number): number {
  const sameStage = Math.floor(current / RANK_STEP) === Math.floor(fillRank / RANK_STEP);
  return sameStage ? Math.max(fillRank, current + 1) : fillRank;
}

const originalKey = (ak: string, chatId: number) => `alert:${ak}:${chatId}`;

export class Notifier {
  constructor(private readonly d: TelegramDeps) {}

  /** Chart / Move TP / Mute and, with a dashboard, "🖥 Dashboard" (a deep link outside private chats: the outbox). */
  private tradeKeyboard(a: AlertRecord): InlineKeyboard {
    return [...alertKeyboard(a.alertKey, a.symbol), ...dashboardRow(this.d.dashboard?.url)];
  }

  private async levelParams(): Promise<ChartLevelParams> {
    const l = (await this.d.config.strategies()).scalp.levels_exhaustion.levels;
    return { horizontal: l.horizontal, trendLines: l.trendLines };
  }

  /** The PNG of a trade chart (null when the hot store has no candles for it). */
  async tradeChart(a: AlertRecord, size: 'alert' | 'large'): Promise<PhotoFile | null> {
    const closed = a.status === 'closed' && a.exit;
    const input = await buildTradeChartInput(
      this.d.state,
      {
        symbol: a.symbol,
        engine: a.engine,
        strategy: a.strategy,
        direction: a.direction,
        entry: a.fill?.price ?? a.entry,
        takeProfit: a.takeProfit,
        stopLoss: a.stopLoss,
        time: a.fill?.time ?? a.ts,
        ...(closed ? { exit: { time: a.exit!.time, price: a.exit!.price }, badge: a.exit!.pnl > 0 ? ('WIN' as const) : ('LOSS' as const) } : {}),
        size,
        candles: this.d.tg.alerts.chartCandles,
        resampleBaseCandles: this.d.tg.alerts.resampleBaseCandles,
      },
      await this.levelParams(),
    );
    if (!input) return null;
    const r = await this.d.charts.renderTradeChart(input);
    return { source: r.png, filename: `${a.symbol}-${a.alertKey}.png`, contentType: 'image/png' };
  }

  /**
   * The ONE alert of a signal, from its outcome: order_placed (opened) or signal_rejected. An
   * order_placed without the plan (published before outcomes carried it) shows the order's levels and
   * is not gathered with its cycle. A record already there (a redelivery, a fill seen first) stays.
   */
  private async onSignalOutcome(e: OrderPlaced | SignalRejected): Promise<number> {
    if (e.type === 'signal_rejected' && e.reason === 'not_emitting') return 0;
    const plan = e.signal ?? null;
    const entries = plan?.entries ?? (e as OrderPlaced).entries.map((x) => x.price);
    const signalOnly = this.d.tg.alerts.signalOnly;
    const rec: AlertRecord = {
      alertKey: alertKeyOf(e.groupId),
      groupId: e.groupId,
      signalId: e.signalId,
      symbol: e.symbol,
      strategy: e.strategy,
      engine: plan?.engine ?? engineOf(e.strategy),
      direction: e.direction,
      entry: entries[0] as number,
      stopLoss: plan?.stopLoss ?? (e as OrderPlaced).stopLoss,
      takeProfit: plan?.takeProfit ?? (e as OrderPlaced).takeProfit,
      confidence: plan?.confidence ?? null,
      ts: plan?.ts ?? e.ts,
      candleTime: plan?.candleTime ?? e.ts,
      reasons: plan?.reasons ?? [],
      status: e.type === 'signal_rejected' && !signalOnly ? 'rejected' : 'signal',
      fill: null,
      exit: null,
      view: signalOnly ? 'signal_only' : 'trade',
      entries,
      rejection: e.type === 'signal_rejected' ? { reason: e.reason, detail: e.detail } : null,
      ...(plan?.ml ? { ml: plan.ml } : {}),
    };
    await this.d.state.create(alertRecordPath(rec.alertKey), rec as unknown as DocData);
    const current = (await this.alertRecord(rec.alertKey)) ?? rec;
    return this.sendOriginal(current, plan ? `cycle:${plan.engine}:${plan.candleTime}` : null);
  }

  async alertRecord(ak: string): Promise<AlertRecord | undefined> {
    return this.d.state.get<AlertRecord>(alertRecordPath(ak));
  }

  private async recipients(symbol: string): Promise<Array<{ chatId: number; isForum: boolean }>> {
    const now = this.d.clock.now();
    const [chats, muted] = await Promise.all([this.d.access.broadcastChats(), mutedChats(this.d.state, symbol, now)]);
    return chats.filter((c) => !muted.has(c.chatId));
  }

  /** Missing outbox keys among `keys` (a replayed event finds none and renders nothing). */
  private async missing(keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const k of keys) if (!(await this.d.state.get(outboxPath(k)))) out.add(k);
    return out;
  }

  private async sendOriginal(a: AlertRecord, groupTag: string | null): Promise<number> {
    const chats = await this.recipients(a.symbol);
    const todo = await this.missing(chats.map((c) => originalKey(a.alertKey, c.chatId)));
    if (todo.size === 0) return 0;
    const photo = await this.tradeChart(a, 'alert');
    const caption = alertCaption(a);
    const keyboard = isTradeInProgress(a) ? this.tradeKeyboard(a) : signalKeyboard(a.alertKey, a.symbol);
    const now = this.d.clock.now();
    const items: EnqueueItem[] = [];
    for (const c of chats) {
      const key = originalKey(a.alertKey, c.chatId);
      if (!todo.has(key)) continue;
      const tag = groupTag && c.isForum ? `${groupTag}:${a.symbol}` : groupTag;
      items.push({
        key,
        chatId: c.chatId,
        op: photo ? { type: 'photo', fileId: '', caption, keyboard } : { type: 'text', text: caption, keyboard },
        ...(photo ? { photo } : {}),
        groupTag: photo ? tag : null,
        topicSymbol: a.symbol,
        forum: c.isForum,
        notBefore: groupTag ? now + this.d.tg.alerts.gatherMs : now,
        alertKey: a.alertKey,
      });
    }
    return (await enqueue(this.d.state, items, now)).length;
  }

  /**
   * The group's trade alert for a trade event: created when its outcome was not seen (the trade must
   * still be shown), except in the signal-only view; null when the group's alert shows no trade.
   */
  private async tradeRecord(e: { groupId: string; signalId: string; symbol: string; strategy: string; direction: 'LONG' | 'SHORT'; ts: number }, entry: number, sl: number, tp: number): Promise<AlertRecord | null> {
    const existing = await this.alertRecord(alertKeyOf(e.groupId));
    if (existing) return isTradeAlert(existing) ? existing : null;
    if (this.d.tg.alerts.signalOnly) return null;
    return (await this.ensureRecord(e, entry, sl, tp)).rec;
  }

  /** Record from a trade event when no outcome was seen (the trade must still be shown). */
  private async ensureRecord(e: { groupId: string; signalId: string; symbol: string; strategy: string; direction: 'LONG' | 'SHORT'; ts: number }, entry: number, sl: number, tp: number): Promise<{ rec: AlertRecord; created: boolean }> {
    const ak = alertKeyOf(e.groupId);
    const existing = await this.alertRecord(ak);
    if (existing) return { rec: existing, created: false };
    const rec: AlertRecord = {
      alertKey: ak,
      groupId: e.groupId,
      signalId: e.signalId,
      symbol: e.symbol,
      strategy: e.strategy,
      engine: engineOf(e.strategy),
      direction: e.direction,
      entry,
      stopLoss: sl,
      takeProfit: tp,
      confidence: null,
      ts: e.ts,
      candleTime: e.ts,
      reasons: [],
      status: 'signal',
      fill: null,
      exit: null,
    };
    const created = await this.d.state.create(alertRecordPath(ak), rec as unknown as DocData);
    return { rec: created ? rec : ((await this.alertRecord(ak)) ?? rec), created };
  }

  /**
   * Moves the record to a later stage (never back) in a transaction; `next` sees the current record
   * and returns the new rank and fields. Returns the record after the change, or null when the record
   * is missing or already at that rank or beyond.
   */
  private async advance(ak: string, next: (cur: AlertRecord) => { rank: number; patch: Partial<AlertRecord> }): Promise<{ rec: AlertRecord; rank: number } | null> {
    return this.d.state.runTransaction(async (tx) => {
      const cur = await tx.get<AlertRecord & { rank?: number }>(alertRecordPath(ak));
      if (!cur || !isTradeAlert(cur)) return null;
      const { rank, patch } = next(cur);
      if ((cur.rank ?? 0) >= rank) return null;
      tx.merge(alertRecordPath(ak), { ...(patch as unknown as DocData), rank });
      return { rec: { ...cur, ...patch }, rank };
    });
  }

  /** Queues the edit of every chat's alert (keys per stage: a redelivery, or a retry after a crash, queues only what is missing). */
  private async sendEdits(a: AlertRecord, stage: string, rank: number, photoOf: (() => Promise<PhotoFile | null>) | null): Promise<number> {
    const all = await this.recipients(a.symbol);
    const todo = await this.missing(all.map((c) => `edit:${a.alertKey}:${stage}:${c.chatId}`));
    const chats = all.filter((c) => todo.has(`edit:${a.alertKey}:${stage}:${c.chatId}`));
    if (chats.length === 0) return 0;
    const photo = photoOf ? await photoOf() : null;
    const now = this.d.clock.now();
    const caption = alertCaption(a);
    const keyboard = a.status === 'closed' || a.status === 'cancelled' ? [] : this.tradeKeyboard(a);
    const items: EnqueueItem[] = chats.map((c) => ({
      key: `edit:${a.alertKey}:${stage}:${c.chatId}`,
      chatId: c.chatId,
      op: { type: 'edit', originalKey: originalKey(a.alertKey, c.chatId), rank, text: caption, fileId: null, keyboard },
      ...(photo ? { photo } : {}),
      topicSymbol: a.symbol,
      forum: c.isForum,
      alertKey: a.alertKey,
    }));
    return (await enqueue(this.d.state, items, now)).length;
  }

  async onTradeEvent(e: TradeEvent): Promise<number> {
    switch (e.type) {
      case 'order_placed':
        return this.onSignalOutcome(e as OrderPlaced);
      case 'signal_rejected':
        return this.onSignalOutcome(e as SignalRejected);
      case 'entry_filled': {
        const ev = e as Extract<TradeEvent, { type: 'entry_filled' }>;
        const rec = await this.tradeRecord(ev, ev.price, ev.price, ev.price);
        if (!rec) return 0;
        let n = rec.status === 'signal' ? await this.sendOriginal(rec, null) : 0;
        // A DCA grid fills several entries: each later fill is a higher rank within the "open" stage.
        const next = await this.advance(rec.alertKey, (cur) => {
          const fills = Math.min(RANK_STEP - 1, ((cur as AlertRecord & { fills?: number }).fills ?? 0) + 1);
          return {
            rank: openStageRank(RANK.open * RANK_STEP + fills, (cur as AlertRecord & { rank?: number }).rank ?? 0),
            patch: { status: 'open', fill: { price: ev.avgEntry, qty: ev.filledQty, time: cur.fill?.time ?? ev.ts }, fills } as Partial<AlertRecord>,
          };
        });
        if (next) n += await this.sendEdits(next.rec, `open:${ev.eventId}`, next.rank, null);
        else {
          const cur = await this.alertRecord(rec.alertKey);
          if (cur?.status === 'open') n += await this.sendEdits(cur, `open:${ev.eventId}`, (cur as AlertRecord & { rank: number }).rank, null);
        }
        return n;
      }
      case 'entry_timeout': {
        const ev = e as Extract<TradeEvent, { type: 'entry_timeout' }>;
        if (ev.positionRemains) return 0;
        const ak = alertKeyOf(ev.groupId);
        const next = await this.advance(ak, () => ({ rank: RANK.cancelled * RANK_STEP, patch: { status: 'cancelled' } }));
        if (next) return this.sendEdits(next.rec, 'cancelled', next.rank, null);
        const cur = await this.alertRecord(ak);
        return cur?.status === 'cancelled' ? this.sendEdits(cur, 'cancelled', RANK.cancelled * RANK_STEP, null) : 0;
      }
      case 'take_profit_moved':
      case 'stop_loss_moved':
        return this.onLevelMoved(e as Extract<TradeEvent, { type: 'take_profit_moved' | 'stop_loss_moved' }>);
      case 'position_closed': {
        const ev = e as Extract<TradeEvent, { type: 'position_closed' }>;
        const t = ev.trade;
        await new StateTradeLog(this.d.state).record(closedTradeRecord(t));
        const rec = await this.tradeRecord(ev, t.avgEntry, t.avgEntry, t.exitPrice);
        if (!rec) return 0;
        const next = await this.advance(rec.alertKey, (cur) => ({
          rank: RANK.closed * RANK_STEP,
          patch: {
            status: 'closed',
            fill: cur.fill ?? { price: t.avgEntry, qty: t.qty, time: t.entryTime },
            exit: { price: t.exitPrice, time: t.exitTime, reason: t.exitReason, pnl: t.pnl, pnlPct: t.pnlPct },
          },
        }));
        const closed = next?.rec ?? (await this.alertRecord(rec.alertKey));
        if (!closed || closed.status !== 'closed') return 0;
        return this.sendEdits(closed, 'closed', RANK.closed * RANK_STEP, () => this.tradeChart(closed, 'alert'));
      }
      default:
        return 0;
    }
  }

  /**
   * The owner moved a level (Telegram's Move TP, the dashboard's sliders): the trade's alert shows the
   * new TP / SL. The record moves one rank up within its stage (an edit of a lower or equal rank is
   * never sent: the outbox's edit ranks), never into the next stage, and only while the trade is in
   * progress; a redelivered event queues nothing again (its edit keys carry the event id), and a move
   * older than the last one shown for that level (by its time) changes nothing.
   */
  private async onLevelMoved(ev: Extract<TradeEvent, { type: 'take_profit_moved' | 'stop_loss_moved' }>): Promise<number> {
    const field = ev.type === 'take_profit_moved' ? 'takeProfit' : 'stopLoss';
    const ak = alertKeyOf(ev.groupId);
    const next = await this.advance(ak, (cur) => {
      const rec = cur as AlertRecord & { rank?: number; levelMovedAt?: Record<string, number> };
      const rank = (rec.rank ?? 0) + 1;
      const inStage = rank % RANK_STEP !== 0;
      // an older move delivered late (or again) never puts its level back over a newer one
      const last = rec.levelMovedAt?.[field];
      const newer = last === undefined || ev.ts > last;
      const patch = { [field]: ev.to, levelMovedAt: { ...(rec.levelMovedAt ?? {}), [field]: ev.ts } } as Partial<AlertRecord>;
      return { rank: isTradeInProgress(cur) && inStage && newer ? rank : 0, patch };
    });
    return next ? this.sendEdits(next.rec, `level:${ev.eventId}`, next.rank, null) : 0;
  }

  async onSystemAlert(a: Alert): Promise<number> {
    // the dashboard's Market page lists recent protection alerts (idempotent by alertId)
    await recordProtectionAlert(this.d.state, a);
    const family = STATE_FAMILIES[a.kind];
    if (family) {
      const path = systemStatePath(family, a.subject ?? 'system');
      const changed = await this.d.state.runTransaction(async (tx) => {
        const cur = await tx.get<{ kind: string; alertId: string }>(path);
        if (cur && cur.kind === a.kind && cur.alertId !== a.alertId) return false;
        tx.set(path, { kind: a.kind, alertId: a.alertId, ts: a.ts });
        return true;
      });
      if (!changed) return 0;
    }
    const owner = this.d.access.ownerChat;
    const adj = adjustmentAlertMessage(a); // threshold adjustments: owner only, with their buttons (suggestions.ts)
    const chats = this.d.tg.alerts.ownerOnlyKinds.includes(a.kind) || adj
      ? owner !== undefined
        ? [{ chatId: owner, isForum: false }]
        : []
      : await this.d.access.broadcastChats();
    const text = adj?.text ?? systemAlertText(a);
    const now = this.d.clock.now();
    return (await enqueue(this.d.state, chats.map((c) => ({ key: `sys:${a.alertId}:${c.chatId}`, chatId: c.chatId, op: { type: 'text' as const, text, ...(adj?.keyboard ? { keyboard: adj.keyboard } : {}) } })), now)).length;
  }
}
