/**
 * Trade-history port: closed trades for /stats, /last and the reports (SPEC 9). Implementations:
 * - `StateTradeLog` (shared/telegram/trade-log.ts): a read model in state, written by the notifier
 *   from `position_closed` events (works on every backend, no warehouse query needed);
 * - `DuckDbTradeHistory` (infra/warehouse/trade-history-duckdb.ts): reads the warehouse
 *   `paper_trades` table (embedded default; size-weighted per trade group).
 */
import type { ClosedTrade } from '../model/trading.js';

/**
 * One closed trade group (its lots merged, P&L % size-weighted): the part of the one closed-trade
 * type (shared/trading/model.ts `ClosedTrade`) a history keeps. The warehouse rows do not carry the
 * engine, tier or lot rows, so neither source returns them.
 */
export type ClosedTradeRecord = Pick<
  ClosedTrade,
  'groupId' | 'strategy' | 'symbol' | 'direction' | 'entryTime' | 'exitTime' | 'avgEntry' | 'exitPrice' | 'qty' | 'fees' | 'pnl' | 'pnlPct' | 'exitReason'
>;

export interface TradeHistory {
  /** Trades with fromMs <= exitTime < toMs, ascending by exit time. */
  closedBetween(fromMs: number, toMs: number): Promise<ClosedTradeRecord[]>;
  /** The newest `n` closed trades, newest first. */
  latest(n: number): Promise<ClosedTradeRecord[]>;
}
