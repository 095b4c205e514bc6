/**
 * Account math of the trading book: the empty account, its read-only views (realized and marked
 * equity, unrealized P&L, reserved risk and notional: what sizing and the caps read) and `settleAccount`,
 * which books the totals (realized P&L, fees, counters, marks) of the events one transition emitted.
 * Pure: nothing here reads a clock or does I/O.
 */
import type { EngineKind } from './types.js';
import type { AccountState, FillSource, Position, TradeEvent } from './model.js';

export interface BookResult {
  account: AccountState;
  events: readonly TradeEvent[];
}

/** Shared empty event list (never mutated) so the no-op path allocates nothing. */
export const NO_TRADE_EVENTS: readonly TradeEvent[] = Object.freeze([]) as readonly TradeEvent[];

export function createAccount(accountId: string, startingEquity: number): AccountState {
  return {
    accountId,
    mode: 'paper',
    fillSource: 'simulated',
    startingEquity,
    realizedPnl: 0,
    feesPaid: 0,
    positions: [],
    marks: {},
    counters: { ordersPlaced: 0, entriesFilled: 0, entryTimeouts: 0, tradesClosed: 0, wins: 0, losses: 0 },
  };
}

// ---------- read-only views ----------

/** Realized equity: starting equity + realized P&L. The sizing basis. */
export function accountEquity(a: AccountState): number {
  return a.startingEquity + a.realizedPnl;
}

/**
 * Unrealized P&L of one position at `mark` (entry fees already paid included, exit costs not). For an
 * external group with partial exits: the held part at `mark` plus the exited part at its exit fills.
 */
export function positionUnrealized(p: Position, mark: number): number {
  if (p.filledQty === 0) return 0;
  let fees = 0;
  for (const e of p.entries) fees += e.fee;
  const x = p.external;
  if (x && x.exitedQty > 0) {
    const dir = p.direction === 'LONG' ? 1 : -1;
    const held = p.filledQty - x.exitedQty;
    const gross = dir * (mark - p.avgEntry) * held + dir * (x.exitValue / x.exitedQty - p.avgEntry) * x.exitedQty;
    return gross - fees - x.exitFees;
  }
  const gross = p.direction === 'LONG' ? (mark - p.avgEntry) * p.filledQty : (p.avgEntry - mark) * p.filledQty;
  return gross - fees;
}

/** Fill source of an account's new groups (accounts stored before the field existed are simulated). */
export function fillSourceOf(a: AccountState): FillSource {
  return a.fillSource === 'external' ? 'external' : 'simulated';
}

/** The account with `fillSource` for its new groups (same object when unchanged). */
export function withFillSource(a: AccountState, source: FillSource): AccountState {
  return a.fillSource === source ? a : { ...a, fillSource: source };
}

/** Σ unrealized P&L over open positions, marked at `marks` (default: the account's last closes). */
export function unrealizedPnl(a: AccountState, marks: Record<string, number> = a.marks): number {
  let u = 0;
  for (const p of a.positions) {
    if (p.filledQty === 0) continue;
    const m = marks[p.symbol];
    u += positionUnrealized(p, m ?? p.avgEntry);
  }
  return u;
}

/** Mark-to-market equity: realized equity + unrealized P&L. */
export function markedEquity(a: AccountState, marks: Record<string, number> = a.marks): number {
  return accountEquity(a) + unrealizedPnl(a, marks);
}

/** Σ reserved risk (loss if stopped, costs included: Position.risk) over groups of `engine` (null: all). */
export function openRisk(a: AccountState, engine: EngineKind | null = 'SCALP'): number {
  let r = 0;
  for (const p of a.positions) if (engine === null || p.engine === engine) r += p.risk;
  return r;
}

/** Σ notional (limit x qty, pending and filled entries) over every open group: the notional caps' usage. */
export function openNotional(a: AccountState): number {
  let n = 0;
  for (const p of a.positions) n += p.notional;
  return n;
}

/** The largest one group's notional (0 when none). */
export function largestNotional(a: AccountState): number {
  let n = 0;
  for (const p of a.positions) if (p.notional > n) n = p.notional;
  return n;
}

/** Removes closed (null) slots, books realized P&L and counters, updates the mark. */
export function settleAccount(a: AccountState, next: Array<Position | null>, out: TradeEvent[], symbol: string | null, mark: number, entryFills?: number): AccountState {
  let realized = 0;
  let fees = 0;
  let fills = 0;
  let timeouts = 0;
  let closed = 0;
  let wins = 0;
  let losses = 0;
  for (const e of out) {
    if (e.type === 'entry_filled') fills++;
    else if (e.type === 'entry_timeout') timeouts++;
    else if (e.type === 'position_closed') {
      closed++;
      realized += e.trade.pnl;
      fees += e.trade.fees;
      if (e.trade.pnl > 0) wins++;
      else if (e.trade.pnl < 0) losses++;
    }
  }
  if (entryFills !== undefined) fills = entryFills;
  const positions = next.filter((p): p is Position => p !== null);
  const c = a.counters;
  const counters =
    fills + timeouts + closed === 0
      ? c
      : {
          ordersPlaced: c.ordersPlaced,
          entriesFilled: c.entriesFilled + fills,
          entryTimeouts: c.entryTimeouts + timeouts,
          tradesClosed: c.tradesClosed + closed,
          wins: c.wins + wins,
          losses: c.losses + losses,
        };
  let marks = a.marks;
  if (symbol !== null && marks[symbol] !== mark) {
    if (positions.some((p) => p.symbol === symbol)) marks = { ...marks, [symbol]: mark };
    else if (symbol in marks) {
      marks = { ...marks };
      delete marks[symbol];
    }
  }
  return {
    ...a,
    realizedPnl: closed > 0 ? a.realizedPnl + realized : a.realizedPnl,
    feesPaid: closed > 0 ? a.feesPaid + fees : a.feesPaid,
    positions,
    marks,
    counters,
  };
}
