/**
 * The external (live) fill source of the trading core (shared/trading/external-groups.ts + core.ts): candles
 * only DECIDE for external groups, the exchange's fills are booked with applyExternalFill /
 * cancelEntry, and the simulated (paper) path is unchanged. Rule tests use candles with exact levels
 * around the order prices; the real-candle runs are the paper scenario (test/fixtures/trading) and the
 * live end-to-end tests in test/live/live-trade.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  applyCandle,
  applyExternalFill,
  applySignal,
  cancelEntry,
  createTradingState,
  ownerClose,
  setFillSource,
  tick,
  type TradingEvent,
  type TradingState,
} from '../../shared/trading/core.js';
import type { ExternalFill, TradingConfig } from '../../shared/trading/model.js';
import type { Signal, PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import { MIN, candle, defaultCfg, realBtc1m, signal } from './helpers.js';

const T = Date.UTC(2025, 5, 11, 12, 0);
const TS = T + MIN;
const types = (evs: readonly TradingEvent[]) => evs.filter((e): e is TradeEvent => e.type !== 'protection').map((e) => e.type);
const closedOf = (evs: readonly TradingEvent[]) => evs.filter((e): e is PositionClosedEvent => e.type === 'position_closed').map((e) => e.trade);

/** No fees, no slippage: the fill mechanics below keep round hand numbers (risk = |price - stop| x qty). */
function costFree(): TradingConfig {
  const c = defaultCfg();
  c.paper.costs.conservative.scalpPctPerSide = 0;
  c.paper.costs.scalpSlippagePct = 0;
  return c;
}

function live(cfg: TradingConfig): TradingState {
  return setFillSource(createTradingState('live', cfg, T), 'external');
}

function place(s: TradingState, sig: Signal, cfg: TradingConfig): TradingState {
  const r = applySignal(s, sig, null, cfg, sig.ts);
  if (!r.decision.accepted) throw new Error(r.decision.reason);
  return r.state;
}

const long100 = (over: Partial<Signal> = {}) => signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102, ...over });
const gid = (sig: Signal) => `tg:${sig.signalId}`;

function entryFill(sig: Signal, k: number, cumQty: number, avgPrice: number, cumFee: number, ts: number, orderDone = false): ExternalFill {
  return { groupId: gid(sig), leg: 'entry', entryIndex: k, orderId: `ex-e${k}`, cumQty, avgPrice, cumFee, ts, ...(orderDone ? { orderDone } : {}) };
}
function exitFill(sig: Signal, orderId: string, cumQty: number, avgPrice: number, cumFee: number, ts: number, reason: ExternalFill['reason']): ExternalFill {
  return { groupId: gid(sig), leg: 'exit', orderId, cumQty, avgPrice, cumFee, ts, reason };
}

describe('external groups: candles decide, the exchange fills', () => {
  it('a candle trading through the entry fills nothing; the exchange fill is booked exactly; a stop touch is decided once; the exit fill closes', () => {
    const cfg = costFree();
    const sig = long100();
    let s = place(live(cfg), sig, cfg);
    const qty = s.account.positions[0]!.entries[0]!.qty; // 50 / 1 = 50
    expect(qty).toBeCloseTo(50, 9);
    expect(s.account.positions[0]!.external).not.toBeNull();

    // traded through 100: the simulated book would fill; the external group waits for the exchange
    let r = applyCandle(s, candle(TS, 100.3, 100.3, 99.9, 100.1), null, cfg, TS + MIN);
    expect(types(r.events)).toEqual([]);
    expect(r.state.account.positions[0]).toMatchObject({ status: 'pending', filledQty: 0 });
    s = r.state;

    const f = applyExternalFill(s, entryFill(sig, 0, 49.9, 100, 0.998, TS + MIN, true), cfg, TS + MIN);
    expect(f.outcome).toBe('applied');
    expect(f.events).toEqual([
      expect.objectContaining({ type: 'entry_filled', eventId: `${gid(sig)}:e0:fill:ex-e0:49.9`, orderId: `${gid(sig)}:e0`, price: 100, qty: 49.9, fee: 0.998, avgEntry: 100, filledQty: 49.9 }),
    ]);
    const p = f.state.account.positions[0]!;
    expect(p).toMatchObject({ status: 'open', filledQty: 49.9, avgEntry: 100, openedAt: TS + MIN });
    expect(p.entries[0]).toMatchObject({ status: 'filled', filledQty: 49.9, fillPrice: 100, fee: 0.998 });
    expect(p.risk).toBeCloseTo(1 * 49.9, 9); // the exchange's size, not the core's 50
    s = f.state;

    // stop touched (low == 99): decided at the stop, nothing filled
    r = applyCandle(s, candle(TS + 2 * MIN, 100, 100.2, 99, 99.5), null, cfg, TS + 3 * MIN);
    expect(r.events).toEqual([expect.objectContaining({ type: 'exit_decided', reason: 'stop_loss', price: 99, qty: 49.9 })]);
    expect(r.state.account.positions).toHaveLength(1);
    s = r.state;
    r = applyCandle(s, candle(TS + 3 * MIN, 99.5, 99.6, 98.5, 98.6), null, cfg, TS + 4 * MIN);
    expect(types(r.events)).toEqual([]); // a protective decision is final
    s = r.state;

    // the exchange exit fills in two parts
    const x1 = applyExternalFill(s, exitFill(sig, 'ex-x0', 20, 98.9, 1.08779, TS + 4 * MIN, 'stop_loss'), cfg, TS + 4 * MIN);
    expect(types(x1.events)).toEqual(['exit_filled']);
    expect(x1.state.account.positions[0]!.risk).toBeCloseTo(29.9, 9); // the held 29.9 of 49.9
    const x2 = applyExternalFill(x1.state, exitFill(sig, 'ex-x0', 49.9, 98.85, 2.712, TS + 5 * MIN, 'stop_loss'), cfg, TS + 5 * MIN);
    expect(x2.events.find((e) => e.type === 'exit_filled')).toMatchObject({ reason: 'stop_loss', qty: expect.closeTo(29.9, 9), price: expect.closeTo((98.85 * 49.9 - 98.9 * 20) / 29.9, 9) });
    const [t] = closedOf(x2.events);
    const pnl = (98.85 - 100) * 49.9 - 0.998 - 2.712;
    expect(t).toMatchObject({ exitReason: 'stop_loss', avgEntry: 100, exitPrice: 98.85, qty: 49.9, entryTime: TS + MIN, exitTime: TS + 5 * MIN });
    expect(t!.fees).toBeCloseTo(0.998 + 2.712, 12);
    expect(t!.pnl).toBeCloseTo(pnl, 9);
    expect(t!.rows).toEqual([expect.objectContaining({ trade_id: `${gid(sig)}:e0:live`, mode: 'live', entry_price: 100, exit_price: 98.85, qty: 49.9 })]);
    expect(x2.state.account.positions).toEqual([]);
    expect(x2.state.account.realizedPnl).toBeCloseTo(pnl, 9);
    expect(x2.state.account.counters).toMatchObject({ entriesFilled: 1, tradesClosed: 1, losses: 1 });
    // the live stop counts for the trade limiter and the loss streak like a simulated one
    expect(x2.state.protections.limiter['BTCUSDT']).toEqual({ consecutiveStops: 1, cooldownUntil: null });
    expect(x2.state.protections.guards.consecutiveLosses).toBe(1);
  });

  it('with costs, an external lot reserves its loss if stopped from its FILL price, costs included', () => {
    const cfg = defaultCfg();
    const sig = long100();
    const s = place(live(cfg), sig, cfg);
    const q = s.account.positions[0]!.entries[0]!.qty;
    // placed: 50 = q x (100.02 - 99 x 0.9998 + 0.0006 x (100.02 + 99 x 0.9998))
    expect(q).toBeCloseTo(50 / (100.02 - 98.9802 + 0.0006 * (100.02 + 98.9802)), 9);
    // the exchange filled 10 at 99.95 (better than the book's 100.02): from the fill, the rest at the limit
    const f = applyExternalFill(s, entryFill(sig, 0, 10, 99.95, 0.6, TS + MIN), cfg, TS + MIN);
    const fromFill = 99.95 - 98.9802 + 0.0006 * (99.95 + 98.9802);
    const fromLimit = 100.02 - 98.9802 + 0.0006 * (100.02 + 98.9802);
    expect(f.state.account.positions[0]!.risk).toBeCloseTo(10 * fromFill + (q - 10) * fromLimit, 9);
  });

  it('a DCA grid: partial entry and exit fills, size-weighted P&L from the exchange numbers, risk following the fills', () => {
    const cfg = costFree();
    const sig = signal({ ts: TS, entries: [100, 99], stopLoss: 97, takeProfit: 103 });
    let s = place(live(cfg), sig, cfg);
    const [q0, q1] = s.account.positions[0]!.entries.map((e) => e.qty) as [number, number];
    expect(s.account.positions[0]!.risk).toBeCloseTo(50, 9);

    // e0 fills in two parts at 100, e1 gets 4 at 98.98 (price improvement) and its order is then cancelled
    s = applyExternalFill(s, entryFill(sig, 0, 5, 100, 0.1, TS + MIN), cfg, TS + MIN).state;
    let p = s.account.positions[0]!;
    expect(p.entries[0]).toMatchObject({ status: 'pending', filledQty: 5 });
    expect(p.risk).toBeCloseTo(3 * 5 + 3 * (q0 - 5) + 2 * q1, 9);
    s = applyExternalFill(s, entryFill(sig, 0, 10, 100, 0.2, TS + 2 * MIN, true), cfg, TS + 2 * MIN).state;
    const e1 = applyExternalFill(s, entryFill(sig, 1, 4, 98.98, 0.0792, TS + 3 * MIN), cfg, TS + 3 * MIN);
    expect(e1.events[0]).toMatchObject({ type: 'entry_filled', qty: 4, price: 98.98, filledQty: 14, avgEntry: expect.closeTo((100 * 10 + 98.98 * 4) / 14, 9) });
    s = e1.state;
    p = s.account.positions[0]!;
    expect(p.entries.map((e) => e.status)).toEqual(['filled', 'pending']);
    expect(p.risk).toBeCloseTo(3 * 10 + 1.98 * 4 + 2 * (q1 - 4), 9);

    // two take-profit orders (one per lot) fill; the group stays while e1 still works
    s = applyExternalFill(s, exitFill(sig, 'ex-t0', 10, 103, 0.206, TS + 4 * MIN, 'take_profit'), cfg, TS + 4 * MIN).state;
    const t1 = applyExternalFill(s, exitFill(sig, 'ex-t1', 4, 103.4, 0.08272, TS + 5 * MIN, 'take_profit'), cfg, TS + 5 * MIN);
    expect(types(t1.events)).toEqual(['exit_filled']);
    expect(t1.state.account.positions[0]!.risk).toBeCloseTo(2 * (q1 - 4), 9); // only e1's working remainder
    s = t1.state;

    // the exchange cancelled the rest of e1: the group is flat -> closed
    const c = cancelEntry(s, gid(sig), 1, cfg, TS + 6 * MIN);
    expect(types(c.events)).toEqual(['entry_timeout', 'position_closed']);
    expect(c.events[0]).toMatchObject({ cancelledOrderIds: [`${gid(sig)}:e1`], positionRemains: false });
    const [t] = closedOf(c.events);
    const exitPrice = (103 * 10 + 103.4 * 4) / 14;
    const exitFees = 0.206 + 0.08272;
    const lot0 = (exitPrice - 100) * 10 - 0.2 - (exitFees * 10) / 14;
    const lot1 = (exitPrice - 98.98) * 4 - 0.0792 - (exitFees * 4) / 14;
    expect(t).toMatchObject({ exitReason: 'take_profit', qty: 14, exitPrice: expect.closeTo(exitPrice, 9), avgEntry: expect.closeTo((1000 + 395.92) / 14, 9) });
    expect(t!.rows.map((r) => [r.qty, r.entry_price])).toEqual([
      [10, 100],
      [4, 98.98],
    ]);
    expect(t!.rows[0]!.pnl).toBeCloseTo(lot0, 9);
    expect(t!.rows[1]!.pnl).toBeCloseTo(lot1, 9);
    expect(t!.pnl).toBeCloseTo(lot0 + lot1, 9);
    expect(t!.pnlPct).toBeCloseTo(((lot0 + lot1) / (1000 + 395.92)) * 100, 9); // size-weighted, not a sum of lot %s
    expect(c.state.account.positions).toEqual([]);
    expect(c.state.account.counters).toMatchObject({ entriesFilled: 2, tradesClosed: 1, wins: 1 });
    // the same cancel again changes nothing
    const again = cancelEntry(c.state, gid(sig), 1, cfg, TS + 7 * MIN);
    expect(again.state).toBe(c.state);
    expect(again.events).toEqual([]);
  });

  it('the same fill twice is booked once; an older report changes nothing; a report covering two fills is applied once', () => {
    const cfg = defaultCfg();
    const sig = long100();
    const s0 = place(live(cfg), sig, cfg);
    const a = applyExternalFill(s0, entryFill(sig, 0, 10, 100, 0.2, TS + MIN), cfg, TS + MIN);
    const b = applyExternalFill(a.state, entryFill(sig, 0, 10, 100, 0.2, TS + MIN), cfg, TS + 2 * MIN);
    expect(b).toMatchObject({ outcome: 'duplicate', events: [] });
    expect(b.state).toBe(a.state);
    const older = applyExternalFill(a.state, entryFill(sig, 0, 4, 100, 0.08, TS + MIN), cfg, TS + 2 * MIN);
    expect(older.state).toBe(a.state);
    expect(older.outcome).toBe('duplicate');
    // the next report says 30 filled at an average of 99.9 (a 20 @ 99.85 fill in between)
    const c = applyExternalFill(a.state, entryFill(sig, 0, 30, 99.9, 0.6, TS + 3 * MIN), cfg, TS + 3 * MIN);
    expect(c.events[0]).toMatchObject({ type: 'entry_filled', qty: 20, price: expect.closeTo(99.85, 9), fee: expect.closeTo(0.4, 12), filledQty: 30 });
    expect(c.state.account.positions[0]!.avgEntry).toBeCloseTo(99.9, 9);
    expect(c.state.account.positions[0]!.entries[0]!.fee).toBeCloseTo(0.6, 12);
    expect(c.state.account.counters.entriesFilled).toBe(1); // one entry, however many partial fills
  });

  it('fills for a simulated group or an unknown group change nothing', () => {
    const cfg = defaultCfg();
    const sig = long100();
    const paper = place(createTradingState('paper', cfg, T), sig, cfg);
    const r = applyExternalFill(paper, entryFill(sig, 0, 10, 100, 0.2, TS + MIN), cfg, TS + MIN);
    expect(r).toMatchObject({ outcome: 'not_external', events: [] });
    expect(r.state).toBe(paper);
    const l = place(live(cfg), sig, cfg);
    expect(applyExternalFill(l, { ...entryFill(sig, 0, 10, 100, 0.2, TS), groupId: 'tg:nope' }, cfg, TS).outcome).toBe('unknown_group');
    expect(applyExternalFill(l, entryFill(sig, 3, 10, 100, 0.2, TS), cfg, TS).outcome).toBe('unknown_entry');
    expect(cancelEntry(paper, gid(sig), 0, cfg, TS).state).toBe(paper);
  });

  it('a take-profit decision is not final (the resting TP may not fill): a later stop is decided too', () => {
    const cfg = defaultCfg();
    const sig = long100();
    let s = place(live(cfg), sig, cfg);
    s = applyExternalFill(s, entryFill(sig, 0, 50, 100, 1, TS + MIN, true), cfg, TS + MIN).state;
    // the fill candle (ended at the fill time) gets only the stop / time checks: no TP decision here
    let r = applyCandle(s, candle(TS, 100.1, 102.5, 99.9, 102.2), null, cfg, TS + MIN);
    expect(types(r.events)).toEqual([]);
    r = applyCandle(r.state, candle(TS + MIN, 101, 102.5, 100.9, 102.2), null, cfg, TS + 2 * MIN);
    expect(types(r.events)).toEqual(['exit_decided', 'half_take_profit']);
    expect(r.events[0]).toMatchObject({ reason: 'take_profit', price: 102 });
    r = applyCandle(r.state, candle(TS + 2 * MIN, 102.2, 102.4, 101.5, 101.6), null, cfg, TS + 3 * MIN);
    expect(types(r.events)).toEqual([]); // decided once
    r = applyCandle(r.state, candle(TS + 3 * MIN, 101.6, 101.6, 98.8, 99), null, cfg, TS + 4 * MIN);
    expect(r.events.filter((e) => e.type === 'exit_decided')).toEqual([expect.objectContaining({ reason: 'stop_loss', price: 99 })]);
  });

  it('time exit and trailing stop are decided at their reference prices', () => {
    const cfg = defaultCfg();
    const sig = long100({ trailingFraction: 0.005, maxHoldMs: 10 * MIN, takeProfit: 110 });
    let s = place(live(cfg), sig, cfg);
    s = applyExternalFill(s, entryFill(sig, 0, 50, 100, 1, TS + MIN, true), cfg, TS + MIN).state;
    let r = applyCandle(s, candle(TS + MIN, 100, 101, 99.9, 100.8), null, cfg, TS + 2 * MIN);
    expect(types(r.events)).toEqual(['trailing_activated']);
    expect(r.state.account.positions[0]!.trailStop).toBeCloseTo(101 * 0.995, 12);
    r = applyCandle(r.state, candle(TS + 2 * MIN, 100.8, 100.9, 100.4, 100.5), null, cfg, TS + 3 * MIN);
    expect(r.events).toEqual([expect.objectContaining({ type: 'exit_decided', reason: 'trailing_stop', price: expect.closeTo(100.495, 12) })]);

    const sig2 = long100({ signalId: 'time', maxHoldMs: 3 * MIN });
    let s2 = place(live(cfg), sig2, cfg);
    s2 = applyExternalFill(s2, entryFill(sig2, 0, 50, 100, 1, TS + MIN, true), cfg, TS + MIN).state;
    r = applyCandle(s2, candle(TS + MIN, 100, 100.5, 99.9, 100.2), null, cfg, TS + 2 * MIN);
    r = applyCandle(r.state, candle(TS + 2 * MIN, 100.2, 100.5, 99.9, 100.3), null, cfg, TS + 3 * MIN);
    expect(types(r.events)).toEqual([]);
    r = applyCandle(r.state, candle(TS + 3 * MIN, 100.3, 100.5, 99.9, 100.4), null, cfg, TS + 4 * MIN);
    expect(r.events).toEqual([expect.objectContaining({ type: 'exit_decided', reason: 'time_exit', price: 100.4 })]);
  });

  it('the entry timeout is a decision: entries stay working until the exchange confirms; a late fill still counts', () => {
    const cfg = defaultCfg();
    const sig = long100();
    const s = place(live(cfg), sig, cfg);
    const expires = TS + cfg.paper.entryTimeoutMs.scalp;
    const t = tick(s, cfg, expires);
    expect(t.events).toEqual([expect.objectContaining({ type: 'entry_cancel_decided', reason: 'entry_timeout', orderIds: [`${gid(sig)}:e0`] })]);
    expect(t.state.account.positions[0]!.entries[0]!.status).toBe('pending');
    expect(tick(t.state, cfg, expires + MIN).events).toEqual([]); // decided once
    // the exchange had filled it before the cancel landed
    const late = applyExternalFill(t.state, entryFill(sig, 0, 50, 100, 1, expires + MIN, true), cfg, expires + MIN);
    expect(late.state.account.positions[0]).toMatchObject({ status: 'open', filledQty: 50 });
    // without a fill, the confirmed cancel removes the group
    const gone = cancelEntry(t.state, gid(sig), 0, cfg, expires + MIN);
    expect(gone.events).toEqual([expect.objectContaining({ type: 'entry_timeout', positionRemains: false })]);
    expect(gone.state.account.positions).toEqual([]);
    expect(gone.state.account.counters.entryTimeouts).toBe(1);
  });

  it('an owner close is decided (exit_decided manual), not booked', () => {
    const cfg = defaultCfg();
    const sig = long100();
    let s = place(live(cfg), sig, cfg);
    const pendingClose = ownerClose(s, gid(sig), 100.5, cfg, TS + MIN);
    expect(pendingClose.events).toEqual([expect.objectContaining({ type: 'entry_cancel_decided', reason: 'manual' })]);
    s = applyExternalFill(s, entryFill(sig, 0, 50, 100, 1, TS + MIN, true), cfg, TS + MIN).state;
    const c = ownerClose(s, gid(sig), 100.5, cfg, TS + 2 * MIN);
    expect(c.events).toEqual([expect.objectContaining({ type: 'exit_decided', reason: 'manual', price: 100.5, qty: 50 })]);
    expect(c.state.account.positions).toHaveLength(1);
  });
});

describe('opposite positions on one coin', () => {
  it('live: a signal opposing a live group on its symbol is rejected (Bybit one-way mode nets them); paper accepts it', () => {
    const cfg = defaultCfg();
    const longSig = signal({ ts: TS, strategy: 'levels_exhaustion', entries: [100], stopLoss: 99, takeProfit: 102 });
    const shortSig = signal({ ts: TS + MIN, strategy: 'v52_divergence', direction: 'SHORT', entries: [100.5], stopLoss: 101.5, takeProfit: 98.5 });
    const sameDir = signal({ ts: TS + MIN, strategy: 'v52_divergence', entries: [99.8], stopLoss: 99, takeProfit: 102 });

    const l = place(live(cfg), longSig, cfg); // pending counts too
    const rej = applySignal(l, shortSig, null, cfg, TS + MIN);
    expect(rej.decision).toMatchObject({ accepted: false, reason: 'opposite_position_live' });
    expect(rej.state.account).toBe(l.account);
    expect(applySignal(l, sameDir, null, cfg, TS + MIN).decision.accepted).toBe(true);
    // another coin is fine
    expect(applySignal(l, { ...shortSig, symbol: 'ETHUSDT', signalId: 'eth' }, null, cfg, TS + MIN).decision.accepted).toBe(true);

    const p = place(createTradingState('paper', cfg, T), longSig, cfg);
    expect(applySignal(p, shortSig, null, cfg, TS + MIN).decision.accepted).toBe(true);
    // a paper group (placed before the switch to live) is not on the exchange: it does not block
    expect(applySignal(setFillSource(p, 'external'), shortSig, null, cfg, TS + MIN).decision.accepted).toBe(true);
  });
});

describe('simulated (paper) results are unchanged', () => {
  const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
  /** The hand-computed scenario of scenario.test.ts (real BTCUSDT 1m, 2025-06-11 12:15-12:31 UTC). */
  function scenario(s0: TradingState, switchToLiveAfterSignals: boolean) {
    const cfg = defaultCfg();
    const candles = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
    const pending = [
      signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN }),
      signal({ ts: at('12:22'), strategy: 'v52_divergence', direction: 'SHORT', entries: [109030], stopLoss: 109330, takeProfit: 108500, maxHoldMs: 60 * MIN }),
    ];
    let s = s0;
    const events: TradingEvent[] = [];
    for (const c of candles) {
      while (pending[0] && pending[0].ts <= c.openTime) {
        const sig = pending.shift()!;
        const r = applySignal(s, sig, null, cfg, sig.ts);
        s = r.state;
        events.push(...r.events);
        if (switchToLiveAfterSignals && pending.length === 0) s = setFillSource(s, 'external');
      }
      const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
      s = r.state;
      events.push(...r.events);
    }
    return { s, events };
  }

  it('explicitly simulated, and after a switch to live (groups keep the source they were placed with): the hand-computed numbers', () => {
    const cfg = defaultCfg();
    const base = scenario(createTradingState('paper', cfg, at('12:15')), false);
    const explicit = scenario(setFillSource(createTradingState('paper', cfg, at('12:15')), 'simulated'), false);
    const switched = scenario(createTradingState('paper', cfg, at('12:15')), true);
    for (const run of [base, explicit, switched]) {
      const [tl, ts] = closedOf(run.events);
      expect(tl).toMatchObject({ exitReason: 'take_profit', avgEntry: expect.closeTo(109121.82, 6), exitPrice: expect.closeTo(109628.07, 6), pnl: expect.closeTo(39.530279, 6), pnlPct: expect.closeTo(0.343653, 6) });
      expect(ts).toMatchObject({ exitReason: 'stop_loss', exitPrice: expect.closeTo(109351.866, 6), pnl: expect.closeTo(-50, 6), pnlPct: expect.closeTo(-0.43546, 5) });
      expect(tl!.rows[0]!.mode).toBe('paper');
      expect(run.s.account.realizedPnl).toBeCloseTo(-10.469721, 6); // as in scenario.test.ts (risk 50 with costs)
      expect(run.s.account.counters).toMatchObject({ ordersPlaced: 2, entriesFilled: 2, tradesClosed: 2, wins: 1, losses: 1 });
    }
    expect(explicit.events).toEqual(base.events);
    expect(switched.events).toEqual(base.events);
    expect(switched.s.account.fillSource).toBe('external');
  });
});
