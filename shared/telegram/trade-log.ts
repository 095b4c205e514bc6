/**
 * `StateTradeLog`: the closed-trade read model the bot and the reports query (TradeHistory port), kept
 * in state at `tg_trades/{groupId}` by the notifier from `position_closed` events. Writing the same
 * trade twice leaves the same document (idempotent under redelivery).
 *
 * Reads are polled (the dashboard asks every few seconds): every new or changed record bumps
 * `tg_trades_meta/version` in the same transaction, and an instance keeps the rows it read from a start
 * time on, with the version they were read at. While the version stays, a read from that start on
 * costs one document read instead of one per trade.
 */
import type { DocData, StateStore } from '../ports/state.js';
import type { ClosedTradeRecord, TradeHistory } from '../ports/trade-history.js';
import type { ClosedTrade } from '../model/trading.js';
import { TG_TRADES_COLLECTION, TG_TRADES_VERSION_DOC, tradeRecordPath } from '../state-paths.js';

export function closedTradeRecord(t: ClosedTrade): ClosedTradeRecord {
  return {
    groupId: t.groupId,
    strategy: t.strategy,
    symbol: t.symbol,
    direction: t.direction,
    entryTime: t.entryTime,
    exitTime: t.exitTime,
    avgEntry: t.avgEntry,
    exitPrice: t.exitPrice,
    qty: t.qty,
    fees: t.fees,
    pnl: t.pnl,
    pnlPct: t.pnlPct,
    exitReason: t.exitReason,
  };
}

interface VersionDoc {
  version: number;
}

/** Field by field (a stored document's keys need not keep the written order). */
const canonical = (r: ClosedTradeRecord): string => JSON.stringify(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
const sameRecord = (a: ClosedTradeRecord, b: ClosedTradeRecord): boolean => canonical(a) === canonical(b);

export class StateTradeLog implements TradeHistory {
  /** Every trade exiting at or after `fromMs`, as read at `version`. */
  private kept: { version: number; fromMs: number; rows: ClosedTradeRecord[] } | null = null;

  constructor(private readonly state: StateStore) {}

  async record(t: ClosedTradeRecord): Promise<void> {
    const path = tradeRecordPath(t.groupId);
    await this.state.runTransaction(async (tx) => {
      const [cur, v] = await Promise.all([tx.get<ClosedTradeRecord>(path), tx.get<VersionDoc>(TG_TRADES_VERSION_DOC)]);
      if (cur && sameRecord(cur, t)) return;
      tx.set(path, t as unknown as DocData);
      tx.set(TG_TRADES_VERSION_DOC, { version: (v?.version ?? 0) + 1 } satisfies VersionDoc as unknown as DocData);
    });
  }

  async closedBetween(fromMs: number, toMs: number): Promise<ClosedTradeRecord[]> {
    // the version first: a trade recorded after it only makes the next read refresh
    const version = (await this.state.get<VersionDoc>(TG_TRADES_VERSION_DOC))?.version ?? 0;
    const k = this.kept;
    if (!k || k.version !== version || fromMs < k.fromMs) {
      const docs = await this.state.query<ClosedTradeRecord>(TG_TRADES_COLLECTION, {
        where: [{ field: 'exitTime', op: '>=', value: fromMs }],
        orderBy: { field: 'exitTime', direction: 'asc' },
      });
      this.kept = { version, fromMs, rows: docs.map((d) => d.data) };
    }
    return (this.kept as { rows: ClosedTradeRecord[] }).rows.filter((r) => r.exitTime >= fromMs && r.exitTime < toMs);
  }

  async latest(n: number): Promise<ClosedTradeRecord[]> {
    const docs = await this.state.query<ClosedTradeRecord>(TG_TRADES_COLLECTION, { orderBy: { field: 'exitTime', direction: 'desc' }, limit: n });
    return docs.map((d) => d.data);
  }
}
