/**
 * Trade-history port: closed trades for /stats, /last and the reports (SPEC 9). Implementations:
 * - `StateTradeLog` (shared/telegram/trade-log.ts): a read model in state, written by the notifier
 *   from `position_closed` events (works on every backend, no warehouse query needed);
 * - `DuckDbTradeHistory` (infra/warehouse/trade-history-duckdb.ts): reads the warehouse
 *   `paper_trades` table (embedded default; size-weighted per trade group).
 */

/** One closed trade group (its lots merged, P&L % size-weighted). */
export interface ClosedTradeRecord {
  groupId: string;
  strategy: string;
  symbol: string;
  direction: 'LONG' | 'SHORT';
  entryTime: number;
  exitTime: number;
  avgEntry: number;
  exitPrice: number;
  qty: number;
  fees: number;
  pnl: number;
  pnlPct: number;
  exitReason: string;
}

export interface TradeHistory {
  /** Trades with fromMs <= exitTime < toMs, ascending by exit time. */
  closedBetween(fromMs: number, toMs: number): Promise<ClosedTradeRecord[]>;
  /** The newest `n` closed trades, newest first. */
  latest(n: number): Promise<ClosedTradeRecord[]>;
}
