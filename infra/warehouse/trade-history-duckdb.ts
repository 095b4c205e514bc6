/**
 * TradeHistory from the embedded warehouse's `paper_trades` table (one row per filled entry lot):
 * lots are merged per `trade_group_id` with size-weighted prices and P&L % (never summed percentages).
 * For the embedded default and local tools; the functions use the state read model by default
 * (shared/telegram/trade-log.ts), which works on every backend.
 */
import type { DuckDbWarehouse } from './duckdb.js';
import type { ClosedTradeRecord, TradeHistory } from '../../shared/ports/trade-history.js';
import type { Row } from '../../shared/ports/warehouse.js';
import type { ExitReason, StrategyId } from '../../shared/model/trading.js';

/** Merges lot rows into one record per trade group. */
function groupLots(rows: readonly Row[]): ClosedTradeRecord[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const g = String(r.trade_group_id);
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  const out: ClosedTradeRecord[] = [];
  for (const [groupId, lots] of groups) {
    const num = (r: Row, k: string) => Number(r[k]);
    const qty = lots.reduce((s, r) => s + num(r, 'qty'), 0);
    const notional = lots.reduce((s, r) => s + num(r, 'qty') * num(r, 'entry_price'), 0);
    const pnl = lots.reduce((s, r) => s + num(r, 'pnl'), 0);
    const first = lots[0] as Row;
    out.push({
      groupId,
      // The rows were written from a ClosedTrade (shared/trading/store.ts closedTradeRows): its vocabulary.
      strategy: String(first.strategy) as StrategyId,
      symbol: String(first.symbol),
      direction: first.direction === 'SHORT' ? 'SHORT' : 'LONG',
      entryTime: Math.min(...lots.map((r) => num(r, 'entry_time'))),
      exitTime: Math.max(...lots.map((r) => num(r, 'exit_time'))),
      avgEntry: qty > 0 ? notional / qty : num(first, 'entry_price'),
      exitPrice: qty > 0 ? lots.reduce((s, r) => s + num(r, 'qty') * num(r, 'exit_price'), 0) / qty : num(first, 'exit_price'),
      qty,
      fees: lots.reduce((s, r) => s + num(r, 'fees'), 0),
      pnl,
      pnlPct: notional > 0 ? (pnl / notional) * 100 : 0,
      exitReason: String(first.exit_reason) as ExitReason,
    });
  }
  return out.sort((a, b) => a.exitTime - b.exitTime);
}

export class DuckDbTradeHistory implements TradeHistory {
  constructor(private readonly warehouse: DuckDbWarehouse) {}

  private async all(): Promise<ClosedTradeRecord[]> {
    return groupLots(await this.warehouse.rows('paper_trades'));
  }

  async closedBetween(fromMs: number, toMs: number): Promise<ClosedTradeRecord[]> {
    return (await this.all()).filter((t) => t.exitTime >= fromMs && t.exitTime < toMs);
  }

  async latest(n: number): Promise<ClosedTradeRecord[]> {
    return (await this.all()).reverse().slice(0, n);
  }
}
