/**
 * `StateTradeLog`: the closed-trade read model the bot and the reports query (TradeHistory port), kept
 * in state at `tg_trades/{groupId}` by the notifier from `position_closed` events. Writing the same
 * trade twice leaves the same document (idempotent under redelivery).
 */
import type { DocData, StateStore } from '../ports/state.js';
import type { ClosedTradeRecord, TradeHistory } from '../ports/trade-history.js';
import type { ClosedTrade } from '../model/trading.js';
import { TG_TRADES_COLLECTION, tradeRecordPath } from '../state-paths.js';

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

export class StateTradeLog implements TradeHistory {
  constructor(private readonly state: StateStore) {}

  async record(t: ClosedTradeRecord): Promise<void> {
    await this.state.set(tradeRecordPath(t.groupId), t as unknown as DocData);
  }

  async closedBetween(fromMs: number, toMs: number): Promise<ClosedTradeRecord[]> {
    const docs = await this.state.query<ClosedTradeRecord>(TG_TRADES_COLLECTION, {
      where: [
        { field: 'exitTime', op: '>=', value: fromMs },
        { field: 'exitTime', op: '<', value: toMs },
      ],
      orderBy: { field: 'exitTime', direction: 'asc' },
    });
    return docs.map((d) => d.data);
  }

  async latest(n: number): Promise<ClosedTradeRecord[]> {
    const docs = await this.state.query<ClosedTradeRecord>(TG_TRADES_COLLECTION, { orderBy: { field: 'exitTime', direction: 'desc' }, limit: n });
    return docs.map((d) => d.data);
  }
}
