/**
 * What every trade group shares, simulated (paper-fills.ts) or external (external-groups.ts): the
 * header of its events, the favourable-excursion rule (best price, half-TP mark, trailing activation
 * and ratchet) and the closed-trade record a close books.
 */
import type { Candle } from '../model/market.js';
import { TRAILING_ACTIVATION_MULTIPLE, type Position } from './model.js';
import type { ExitReason, ClosedTrade, PaperTradeRow, TradeEvent } from '../model/trading.js';

const PCT = 100;

/** The fields every event of group `p` carries. */
export function eventBase(accountId: string, p: Position, ts: number, eventId: string) {
  return {
    eventId,
    accountId,
    ts,
    groupId: p.groupId,
    signalId: p.signalId,
    symbol: p.symbol,
    strategy: p.strategy,
    direction: p.direction,
  };
}

/**
 * After a candle's exit checks: the favourable extreme (`bestPrice`), the half-TP mark, the trailing
 * stop's activation and ratchet (see the trailing rule in paper-fills.ts). Mutates `q` (a fresh copy
 * owned by the caller).
 */
export function updateExcursion(q: Position, c: Candle, halfTp: number, accountId: string, now: number, out: TradeEvent[]): void {
  const long = q.direction === 'LONG';
  const prev = q.bestPrice ?? q.avgEntry;
  const best = long ? Math.max(prev, c.high) : Math.min(prev, c.low);
  q.bestPrice = best;
  if (!q.halfTpReached) {
    const target = q.avgEntry + halfTp * (q.takeProfit - q.avgEntry);
    if (long ? best >= target : best <= target) {
      q.halfTpReached = true;
      out.push({ type: 'half_take_profit', ...eventBase(accountId, q, now, `${q.groupId}:halftp`), price: target });
    }
  }
  const f = q.trailingFraction;
  if (f === null) return;
  const level = long ? best * (1 - f) : best * (1 + f);
  if (!q.trailActive) {
    const activation = long ? q.avgEntry * (1 + f * TRAILING_ACTIVATION_MULTIPLE) : q.avgEntry * (1 - f * TRAILING_ACTIVATION_MULTIPLE);
    if (long ? best >= activation : best <= activation) {
      q.trailActive = true;
      q.trailStop = level;
      out.push({ type: 'trailing_activated', ...eventBase(accountId, q, now, `${q.groupId}:trail`), trailStop: level });
    }
  } else if (q.trailStop === null || (long ? level > q.trailStop : level < q.trailStop)) {
    q.trailStop = level;
  }
}

/** One filled lot of a group, as the close books it. */
interface ClosedLot {
  orderId: string;
  fill: number;
  qty: number;
  fee: number;
  /** Slippage cost of the lot's entry fill, USD. */
  slippage: number;
  fillTime: number;
}

/**
 * The closed-trade record of a group: one warehouse row per filled lot (sharing trade_group_id) and
 * the group's size-weighted P&L, fees and slippage cost. Paper and live closes both book through
 * here; they differ only in where the exit price and the exit fee / slippage of a lot come from.
 */
export function bookClose(
  p: Position,
  lots: readonly ClosedLot[],
  exitPrice: number,
  exitCostOf: (qty: number) => { fee: number; slippage: number },
  reason: ExitReason,
  exitTime: number,
  mode: 'paper' | 'live',
): { trade: ClosedTrade; exitFees: number; exitSlippage: number } {
  const long = p.direction === 'LONG';
  const rows: PaperTradeRow[] = [];
  let pnl = 0;
  let fees = 0;
  let slippage = 0;
  let entryNotional = 0;
  let exitFees = 0;
  let exitSlippage = 0;
  const features = JSON.stringify(p.features);
  for (const lot of lots) {
    const exitCost = exitCostOf(lot.qty);
    const exitFee = exitCost.fee;
    const lotSlippage = lot.slippage + exitCost.slippage;
    const gross = long ? (exitPrice - lot.fill) * lot.qty : (lot.fill - exitPrice) * lot.qty;
    const lotFees = lot.fee + exitFee;
    const lotPnl = gross - lotFees;
    const lotNotional = lot.fill * lot.qty;
    pnl += lotPnl;
    fees += lotFees;
    slippage += lotSlippage;
    exitFees += exitFee;
    exitSlippage += exitCost.slippage;
    entryNotional += lotNotional;
    rows.push({
      trade_id: mode === 'live' ? `${lot.orderId}:live` : lot.orderId,
      trade_group_id: p.groupId,
      signal_id: p.signalId,
      strategy: p.strategy,
      symbol: p.symbol,
      direction: p.direction,
      mode,
      entry_time: lot.fillTime,
      exit_time: exitTime,
      entry_price: lot.fill,
      exit_price: exitPrice,
      qty: lot.qty,
      fees: lotFees,
      slippage: lotSlippage,
      pnl: lotPnl,
      pnl_pct: (lotPnl / lotNotional) * PCT,
      exit_reason: reason,
      features,
    });
  }
  const trade: ClosedTrade = {
    groupId: p.groupId,
    signalId: p.signalId,
    strategy: p.strategy,
    engine: p.engine,
    symbol: p.symbol,
    tier: p.tier,
    direction: p.direction,
    entryTime: p.openedAt as number,
    exitTime,
    avgEntry: p.avgEntry,
    exitPrice,
    qty: p.filledQty,
    fees,
    slippage,
    pnl,
    pnlPct: (pnl / entryNotional) * PCT,
    exitReason: reason,
    rows,
  };
  return { trade, exitFees, exitSlippage };
}
