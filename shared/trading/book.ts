/**
 * Paper execution engine core (SPEC 5): a JSON-serialisable account of trade groups and pure
 * transitions over it. Nothing here reads a clock or does I/O; the caller passes `now`.
 *
 * Fill model (documented rules, all pessimistic where a 1m candle cannot tell the order of events):
 * - Limit orders only. A group's entries are eligible on candles that OPEN at or after the decision
 *   time (`signal.ts`, the close of the decision candle or the snapshot time), so the decision candle
 *   (or the forming candle of a snapshot decision) never fills. They stay eligible while the candle
 *   opens before `expiresAt` (decision + paper.entryTimeoutMs); once a processed candle ends at or
 *   after `expiresAt`, unfilled entries are cancelled (`entry_timeout`).
 * - Tie rule: a BUY limit fills only when the candle trades THROUGH it (low < limit); touching
 *   (low == limit) does not fill. SELL limits mirror (high > limit). The take profit is a resting limit,
 *   so it follows the same rule. Fills happen at the limit price (a resting order), then slippage.
 * - Stops trigger on touch (long: low <= stop; short: high >= stop) and fill at the stop, or at the open
 *   when the candle gapped through it. The trailing stop is the same with its ratcheted level.
 * - Slippage moves every fill against us (buy x (1 + s), sell x (1 - s)): scalps paper.scalpSlippagePct,
 *   swings macro.costs.slippagePct[tier]. Fees per side on the fill notional: scalps
 *   paper.fees.scalpPctPerSide (Bybit), swings paper.fees.swingPctPerSide (Kraken).
 * - Exit priority (SPEC 5) on one candle: stop loss > take profit > trailing stop > time exit. When the
 *   stop and the take profit are both inside one candle, the STOP wins.
 * - On a candle in which an entry filled, only the stop (and the time exit) is checked: the candle may
 *   have reached the stop after the fill, but whether it reached the take profit after the fill cannot
 *   be known. Pending entries traded through on a stop candle fill first (price passed them on the way).
 * - Trailing: levels used for the exit checks of a candle are those known at its open. After the checks
 *   the favourable extreme (`bestPrice`) is updated with the candle; the trail activates once it is
 *   TRAILING_ACTIVATION_MULTIPLE x trailing distance beyond the average entry, at best x (1 -/+ f), and
 *   then only ratchets in the favourable direction. The fill candle does not move `bestPrice`.
 * - Time exit: at the close of the first candle ending at or after first fill + maxHoldMs.
 * - P&L per filled entry lot: (exit - entry) x qty (short: reversed) - entry fee - its share of the exit
 *   fee. Group pnlPct = Σ pnl / Σ entry notional x 100, i.e. size-weighted, never a sum of percentages.
 */
import { INTERVAL_MS, type Candle } from '../market/types.js';
import type { EngineKind, ExitReason, Signal } from './types.js';
import {
  TRAILING_ACTIVATION_MULTIPLE,
  type AccountState,
  type ClosedTrade,
  type EntryOrder,
  type PaperTradeRow,
  type Position,
  type TradeEvent,
  type TradingConfig,
} from './model.js';

const PCT = 100;

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

/** Unrealized P&L of one position at `mark` (entry fees already paid included, exit costs not). */
export function positionUnrealized(p: Position, mark: number): number {
  if (p.filledQty === 0) return 0;
  let fees = 0;
  for (const e of p.entries) fees += e.fee;
  const gross = p.direction === 'LONG' ? (mark - p.avgEntry) * p.filledQty : (p.avgEntry - mark) * p.filledQty;
  return gross - fees;
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

/** Σ reserved risk (|limit - stop| x qty, pending and filled entries) over groups of `engine` (null: all). */
export function openRisk(a: AccountState, engine: EngineKind | null = 'SCALP'): number {
  let r = 0;
  for (const p of a.positions) if (engine === null || p.engine === engine) r += p.risk;
  return r;
}

export function findPosition(a: AccountState, strategy: string, symbol: string): Position | undefined {
  return a.positions.find((p) => p.strategy === strategy && p.symbol === symbol);
}

/** Fee and slippage rates (fractions) of a group, by venue/engine and tier. */
export function costRates(engine: EngineKind, tier: Position['tier'], cfg: TradingConfig): { feeRate: number; slippageRate: number } {
  if (engine === 'SCALP') {
    return { feeRate: cfg.paper.fees.scalpPctPerSide / PCT, slippageRate: cfg.paper.scalpSlippagePct / PCT };
  }
  return { feeRate: cfg.paper.fees.swingPctPerSide / PCT, slippageRate: cfg.swingSlippagePct[tier] / PCT };
}

export function groupIdOf(signalId: string): string {
  return `tg:${signalId}`;
}

// ---------- transitions ----------

export interface OrderPlan {
  /** One quantity per `signal.entries` price. */
  qtys: number[];
  stopLoss: number;
  takeProfit: number;
}

/** Places the limit entries of an accepted signal (no checks: the engine decides; see engine.ts). */
export function submitSignal(a: AccountState, signal: Signal, plan: OrderPlan, cfg: TradingConfig, now: number): BookResult {
  if (plan.qtys.length !== signal.entries.length) throw new Error('order plan: one qty per entry price');
  const groupId = groupIdOf(signal.signalId);
  const { feeRate, slippageRate } = costRates(signal.engine, signal.tier, cfg);
  const feed = cfg.feeds[signal.engine];
  const entries: EntryOrder[] = signal.entries.map((price, k) => ({
    orderId: `${groupId}:e${k}`,
    price,
    qty: plan.qtys[k] as number,
    status: 'pending',
    fillPrice: null,
    fillTime: null,
    fee: 0,
  }));
  let risk = 0;
  let notional = 0;
  for (const e of entries) {
    risk += Math.abs(e.price - plan.stopLoss) * e.qty;
    notional += e.price * e.qty;
  }
  const timeout = signal.engine === 'SCALP' ? cfg.paper.entryTimeoutMs.scalp : cfg.paper.entryTimeoutMs.swing;
  const p: Position = {
    groupId,
    signalId: signal.signalId,
    strategy: signal.strategy,
    engine: signal.engine,
    symbol: signal.symbol,
    tier: signal.tier,
    direction: signal.direction,
    status: 'pending',
    placedAt: signal.ts,
    expiresAt: signal.ts + timeout,
    entries,
    stopLoss: plan.stopLoss,
    takeProfit: plan.takeProfit,
    trailingFraction: signal.trailingFraction,
    maxHoldMs: signal.maxHoldMs,
    openedAt: null,
    filledQty: 0,
    avgEntry: 0,
    risk,
    notional,
    bestPrice: null,
    trailActive: false,
    trailStop: null,
    halfTpReached: false,
    feeRate,
    slippageRate,
    feedVenue: feed.venue,
    feedInterval: feed.interval,
    lastCandleOpen: -1,
    confidence: signal.confidence,
    features: signal.features,
  };
  const event: TradeEvent = {
    type: 'order_placed',
    ...base(a.accountId, p, now, `${groupId}:placed`),
    entries: entries.map((e) => ({ orderId: e.orderId, price: e.price, qty: e.qty })),
    stopLoss: p.stopLoss,
    takeProfit: p.takeProfit,
    risk,
    notional,
  };
  return {
    account: {
      ...a,
      positions: [...a.positions, p],
      counters: { ...a.counters, ordersPlaced: a.counters.ordersPlaced + 1 },
    },
    events: [event],
  };
}

/**
 * Applies one closed candle to the groups of its symbol whose feed (venue + interval) it matches.
 * Returns the same account object when nothing changed.
 */
export function onCandle(a: AccountState, c: Candle, cfg: TradingConfig, now: number): BookResult {
  const ps = a.positions;
  if (ps.length === 0) return { account: a, events: NO_TRADE_EVENTS };
  let next: Position[] | null = null;
  let out: TradeEvent[] | null = null;
  const end = c.openTime + INTERVAL_MS[c.interval];
  const halfTp = cfg.protections.tradeLimiter.resetOn.takeProfitReachedPct / PCT;
  for (let k = 0; k < ps.length; k++) {
    const p = ps[k] as Position;
    if (p.symbol !== c.symbol || p.feedVenue !== c.venue || p.feedInterval !== c.interval) continue;
    if (c.openTime <= p.lastCandleOpen || c.openTime < p.placedAt) continue;
    next ??= ps.slice();
    out ??= [];
    next[k] = stepPosition(p, c, end, halfTp, a.accountId, now, out) as Position;
  }
  if (next === null || out === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, c.symbol, c.close), events: out };
}

/** Cancels unfilled entries whose timeout passed (a sweep for when candles stop arriving). */
export function expireOrders(a: AccountState, now: number): BookResult {
  let next: Position[] | null = null;
  const out: TradeEvent[] = [];
  for (let k = 0; k < a.positions.length; k++) {
    const p = a.positions[k] as Position;
    if (now < p.expiresAt || !p.entries.some((e) => e.status === 'pending')) continue;
    next ??= a.positions.slice();
    next[k] = cancelPending(p, a.accountId, now, out) as Position;
  }
  if (next === null) return { account: a, events: NO_TRADE_EVENTS };
  return { account: settle(a, next, out, null, 0), events: out };
}

/** Closes a group at `price` (owner command / live reconciliation), cancelling unfilled entries. */
export function closeManually(a: AccountState, groupId: string, price: number, now: number): BookResult {
  const k = a.positions.findIndex((p) => p.groupId === groupId);
  if (k < 0) return { account: a, events: NO_TRADE_EVENTS };
  const p = a.positions[k] as Position;
  const out: TradeEvent[] = [];
  const next = a.positions.slice();
  if (p.filledQty === 0) {
    next[k] = cancelPending(p, a.accountId, now, out) as Position;
  } else {
    closeGroup(p, 'manual', price, now, a.accountId, now, out);
    next[k] = null as unknown as Position;
  }
  return { account: settle(a, next, out, null, 0), events: out };
}

// ---------- internals ----------

function base(accountId: string, p: Position, ts: number, eventId: string) {
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

/** Removes closed (null) slots, books realized P&L and counters, updates the mark. */
function settle(a: AccountState, next: Array<Position | null>, out: TradeEvent[], symbol: string | null, mark: number): AccountState {
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

/** One candle for one group. Returns the updated group, or null when it closed or timed out empty. */
function stepPosition(p: Position, c: Candle, end: number, halfTp: number, accountId: string, now: number, out: TradeEvent[]): Position | null {
  const long = p.direction === 'LONG';
  const q: Position = { ...p, lastCandleOpen: c.openTime };

  // 1. entry fills (traded through, strictly)
  let filledNow = false;
  if (c.openTime < p.expiresAt && p.filledQty < totalQty(p)) {
    let entries: EntryOrder[] | null = null;
    for (let i = 0; i < p.entries.length; i++) {
      const e = p.entries[i] as EntryOrder;
      if (e.status !== 'pending') continue;
      if (long ? !(c.low < e.price) : !(c.high > e.price)) continue;
      const fillPrice = long ? e.price * (1 + p.slippageRate) : e.price * (1 - p.slippageRate);
      const fee = fillPrice * e.qty * p.feeRate;
      entries ??= p.entries.slice();
      entries[i] = { ...e, status: 'filled', fillPrice, fillTime: end, fee };
      filledNow = true;
    }
    if (entries !== null) {
      q.entries = entries;
      let qty = 0;
      let cost = 0;
      for (const e of entries) {
        if (e.status !== 'filled') continue;
        qty += e.qty;
        cost += (e.fillPrice as number) * e.qty;
      }
      q.filledQty = qty;
      q.avgEntry = cost / qty;
      q.status = 'open';
      q.openedAt ??= end;
      q.bestPrice ??= q.avgEntry;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as EntryOrder;
        if (e.status !== 'filled' || p.entries[i] === e) continue;
        out.push({
          type: 'entry_filled',
          ...base(accountId, q, now, `${e.orderId}:filled`),
          orderId: e.orderId,
          price: e.fillPrice as number,
          qty: e.qty,
          fee: e.fee,
          avgEntry: q.avgEntry,
          filledQty: q.filledQty,
        });
      }
    }
  }

  // 2. exits, in priority order
  if (q.status === 'open') {
    let reason: ExitReason | null = null;
    let price = 0;
    if (long ? c.low <= q.stopLoss : c.high >= q.stopLoss) {
      reason = 'stop_loss';
      price = long ? Math.min(q.stopLoss, c.open) : Math.max(q.stopLoss, c.open);
    } else if (!filledNow) {
      if (long ? c.high > q.takeProfit : c.low < q.takeProfit) {
        reason = 'take_profit';
        price = q.takeProfit;
      } else if (q.trailActive && q.trailStop !== null && (long ? c.low <= q.trailStop : c.high >= q.trailStop)) {
        reason = 'trailing_stop';
        price = long ? Math.min(q.trailStop, c.open) : Math.max(q.trailStop, c.open);
      }
    }
    if (reason === null && end >= (q.openedAt as number) + q.maxHoldMs) {
      reason = 'time_exit';
      price = c.close;
    }
    if (reason !== null) {
      closeGroup(q, reason, price, end, accountId, now, out);
      return null;
    }
  }

  // 3. entry timeout: no later candle can fill
  let r: Position | null = q;
  if (end >= q.expiresAt && q.entries.some((e) => e.status === 'pending')) {
    r = cancelPending(q, accountId, now, out);
    if (r === null) return null;
  }

  // 4. favourable extreme, half-TP mark, trailing activation / ratchet (not on a fill candle)
  if (!filledNow && r.status === 'open') updateExcursion(r, c, halfTp, accountId, now, out);
  return r;
}

function totalQty(p: Position): number {
  let q = 0;
  for (const e of p.entries) if (e.status !== 'cancelled') q += e.qty;
  return q;
}

/** Mutates `q` (a fresh copy owned by the caller). */
function updateExcursion(q: Position, c: Candle, halfTp: number, accountId: string, now: number, out: TradeEvent[]): void {
  const long = q.direction === 'LONG';
  const prev = q.bestPrice ?? q.avgEntry;
  const best = long ? Math.max(prev, c.high) : Math.min(prev, c.low);
  q.bestPrice = best;
  if (!q.halfTpReached) {
    const target = q.avgEntry + halfTp * (q.takeProfit - q.avgEntry);
    if (long ? best >= target : best <= target) {
      q.halfTpReached = true;
      out.push({ type: 'half_take_profit', ...base(accountId, q, now, `${q.groupId}:halftp`), price: target });
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
      out.push({ type: 'trailing_activated', ...base(accountId, q, now, `${q.groupId}:trail`), trailStop: level });
    }
  } else if (q.trailStop === null || (long ? level > q.trailStop : level < q.trailStop)) {
    q.trailStop = level;
  }
}

/** Cancels pending entries; returns the group (with its filled entries) or null when none filled. */
function cancelPending(p: Position, accountId: string, now: number, out: TradeEvent[]): Position | null {
  const cancelled: string[] = [];
  const entries = p.entries.map((e) => {
    if (e.status !== 'pending') return e;
    cancelled.push(e.orderId);
    return { ...e, status: 'cancelled' as const };
  });
  let risk = 0;
  let notional = 0;
  for (const e of entries) {
    if (e.status === 'cancelled') continue;
    risk += Math.abs(e.price - p.stopLoss) * e.qty;
    notional += e.price * e.qty;
  }
  const remains = p.filledQty > 0;
  out.push({ type: 'entry_timeout', ...base(accountId, p, now, `${p.groupId}:timeout`), cancelledOrderIds: cancelled, positionRemains: remains });
  return remains ? { ...p, entries, risk, notional } : null;
}

/** Books the exit of every filled lot; pushes exit_filled and position_closed. */
function closeGroup(p: Position, reason: ExitReason, rawPrice: number, exitTime: number, accountId: string, now: number, out: TradeEvent[]): void {
  const long = p.direction === 'LONG';
  const exitPrice = long ? rawPrice * (1 - p.slippageRate) : rawPrice * (1 + p.slippageRate);
  const rows: PaperTradeRow[] = [];
  let pnl = 0;
  let fees = 0;
  let entryNotional = 0;
  let exitFees = 0;
  const features = JSON.stringify(p.features);
  for (const e of p.entries) {
    if (e.status !== 'filled') continue;
    const fill = e.fillPrice as number;
    const exitFee = exitPrice * e.qty * p.feeRate;
    const gross = long ? (exitPrice - fill) * e.qty : (fill - exitPrice) * e.qty;
    const lotFees = e.fee + exitFee;
    const lotPnl = gross - lotFees;
    const lotNotional = fill * e.qty;
    pnl += lotPnl;
    fees += lotFees;
    exitFees += exitFee;
    entryNotional += lotNotional;
    rows.push({
      trade_id: e.orderId,
      trade_group_id: p.groupId,
      signal_id: p.signalId,
      strategy: p.strategy,
      symbol: p.symbol,
      direction: p.direction,
      mode: 'paper',
      entry_time: e.fillTime as number,
      exit_time: exitTime,
      entry_price: fill,
      exit_price: exitPrice,
      qty: e.qty,
      fees: lotFees,
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
    pnl,
    pnlPct: (pnl / entryNotional) * PCT,
    exitReason: reason,
    rows,
  };
  out.push({ type: 'exit_filled', ...base(accountId, p, now, `${p.groupId}:exit`), reason, price: exitPrice, qty: p.filledQty, fee: exitFees });
  out.push({ type: 'position_closed', ...base(accountId, p, now, `${p.groupId}:closed`), trade });
}
