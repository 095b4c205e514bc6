/**
 * Paper book rules (shared/trading/book.ts, paper-fills.ts), hand-checked. Candles here are built with exact levels
 * around the order prices (the rules are about ties and ordering); the real-data scenario is in
 * scenario.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../shared/warehouse-schema.js';
import { createAccount, markedEquity, openRisk } from '../../shared/trading/account.js';
import { closeManually, expireOrders, onCandle, submitSignal } from '../../shared/trading/book.js';
import type { AccountState, TradingConfig } from '../../shared/trading/model.js';
import type { Signal, PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import { HOUR, MIN, candle, cfg1m, defaultCfg, signal } from './helpers.js';

const T = Date.UTC(2025, 5, 11, 12, 0); // decision candle open
const TS = T + MIN; // decision time = its close

function place(cfg: TradingConfig, sig: Signal, qtys: number[], acc: AccountState = createAccount('acc', 10_000)): AccountState {
  return submitSignal(acc, sig, { qtys, stopLoss: sig.stopLoss, takeProfit: sig.takeProfit }, cfg, sig.ts).account;
}

/** Feeds candles in order; returns the account and all events. */
function run(cfg: TradingConfig, acc: AccountState, cs: ReturnType<typeof candle>[]): { acc: AccountState; events: TradeEvent[] } {
  const events: TradeEvent[] = [];
  for (const c of cs) {
    const r = onCandle(acc, c, cfg, c.openTime + MIN);
    acc = r.account;
    events.push(...r.events);
  }
  return { acc, events };
}

const closed = (events: TradeEvent[]) => events.filter((e): e is PositionClosedEvent => e.type === 'position_closed');

const long100 = () => signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102 });

describe('limit entry fills', () => {
  it('never fills on the decision candle, not on a touch, only when a later candle trades through', () => {
    const cfg = defaultCfg();
    let acc = place(cfg, long100(), [10]);
    // the decision candle itself traded through 100 but is before the decision: ignored
    let r = run(cfg, acc, [candle(T, 100.5, 100.6, 99.5, 100.2)]);
    expect(r.events).toEqual([]);
    expect(r.acc).toBe(acc);
    // touch (low == limit) does not fill
    r = run(cfg, acc, [candle(T + MIN, 100.2, 100.4, 100, 100.3)]);
    expect(r.events).toEqual([]);
    acc = r.acc;
    // traded through: fills at the limit + 0.02 % slippage, fee 0.06 % of the fill notional
    r = run(cfg, acc, [candle(T + 2 * MIN, 100.3, 100.3, 99.9, 100.1)]);
    const fill = r.events.find((e) => e.type === 'entry_filled');
    expect(fill).toMatchObject({ type: 'entry_filled', qty: 10, filledQty: 10 });
    expect(fill && fill.type === 'entry_filled' && fill.price).toBeCloseTo(100.02, 10); // 100 x 1.0002
    expect(fill && fill.type === 'entry_filled' && fill.fee).toBeCloseTo(0.60012, 10); // 100.02 x 10 x 0.0006
    const p = r.acc.positions[0];
    expect(p?.status).toBe('open');
    expect(p?.openedAt).toBe(T + 3 * MIN); // end of the fill candle
  });

  it('a SELL limit mirrors: fills only when high > limit', () => {
    const cfg = defaultCfg();
    const acc = place(cfg, signal({ ts: TS, direction: 'SHORT', entries: [100], stopLoss: 101, takeProfit: 98 }), [10]);
    let r = run(cfg, acc, [candle(T + MIN, 99.8, 100, 99.7, 99.9)]);
    expect(r.events).toEqual([]);
    r = run(cfg, r.acc, [candle(T + 2 * MIN, 99.9, 100.1, 99.8, 100)]);
    const fill = r.events.find((e) => e.type === 'entry_filled');
    expect(fill && fill.type === 'entry_filled' && fill.price).toBeCloseTo(99.98, 10); // 100 x (1 - 0.0002)
  });

  it('times out after paper.entryTimeoutMs.scalp (5 candles of 1m) and frees the reserved risk', () => {
    const cfg = defaultCfg();
    const acc = place(cfg, long100(), [10]);
    // the loss if stopped, costs included (scalp: 0.02 % slippage, 0.06 % fee per side): fill 100.02, exit
    // 99 x 0.9998 = 98.9802; (1.0398 + 0.0006 x (100.02 + 98.9802)) x 10 = 11.5920012
    expect(openRisk(acc)).toBeCloseTo(11.5920012, 10);
    const quiet = (k: number) => candle(T + k * MIN, 100.5, 100.6, 100.4, 100.5);
    let r = run(cfg, acc, [quiet(1), quiet(2), quiet(3), quiet(4)]);
    expect(r.events).toEqual([]);
    expect(r.acc.positions).toHaveLength(1);
    r = run(cfg, r.acc, [quiet(5)]); // ends at TS + 5 min = expiresAt
    expect(r.events).toMatchObject([{ type: 'entry_timeout', positionRemains: false, cancelledOrderIds: ['tg:' + long100().signalId + ':e0'] }]);
    expect(r.acc.positions).toEqual([]);
    expect(r.acc.counters.entryTimeouts).toBe(1);
    expect(openRisk(r.acc)).toBe(0);
  });

  it('expireOrders sweeps a timed-out order without a candle', () => {
    const cfg = defaultCfg();
    const acc = place(cfg, long100(), [10]);
    expect(expireOrders(acc, TS + 5 * MIN - 1).account).toBe(acc);
    const r = expireOrders(acc, TS + 5 * MIN);
    expect(r.events.map((e) => e.type)).toEqual(['entry_timeout']);
    expect(r.account.positions).toEqual([]);
  });
});

describe('exits', () => {
  function opened(cfg: TradingConfig, sig: Signal = long100(), qty = 10) {
    const acc = place(cfg, sig, [qty]);
    return run(cfg, acc, [candle(T + MIN, 100.3, 100.3, 99.9, 100.1)]).acc; // fills at 100.02
  }

  it('take profit: exact fees, slippage and P&L (hand-computed)', () => {
    const cfg = defaultCfg();
    const acc = opened(cfg);
    // high == TP: a resting sell limit is only touched, no fill
    let r = run(cfg, acc, [candle(T + 2 * MIN, 100.1, 102, 100.05, 101)]);
    expect(closed(r.events)).toEqual([]);
    r = run(cfg, r.acc, [candle(T + 3 * MIN, 101, 102.01, 100.9, 101.8)]);
    const t = closed(r.events)[0]?.trade;
    // entry 100 x 1.0002 = 100.02, fee 100.02 x 10 x 0.0006 = 0.60012
    // exit 102 x 0.9998 = 101.9796, fee 101.9796 x 10 x 0.0006 = 0.6118776
    // gross (101.9796 - 100.02) x 10 = 19.596; pnl = 19.596 - 0.60012 - 0.6118776 = 18.3840024
    // pnl% = 18.3840024 / 1000.2 x 100 = 1.838032633...
    // slippage cost: entry (100.02 - 100) x 10 = 0.2, exit (102 - 101.9796) x 10 = 0.204; 0.404
    expect(t?.exitReason).toBe('take_profit');
    expect(t?.slippage).toBeCloseTo(0.404, 10);
    expect(t?.exitPrice).toBeCloseTo(101.9796, 10);
    expect(t?.fees).toBeCloseTo(1.2119976, 10);
    expect(t?.pnl).toBeCloseTo(18.3840024, 9);
    expect(t?.pnlPct).toBeCloseTo((18.3840024 / 1000.2) * 100, 9);
    expect(r.acc.realizedPnl).toBeCloseTo(18.3840024, 9);
    expect(r.acc.positions).toEqual([]);
    expect(r.acc.counters).toMatchObject({ tradesClosed: 1, wins: 1, losses: 0 });
    expect(t?.rows).toEqual([
      {
        trade_id: `tg:${long100().signalId}:e0`,
        trade_group_id: `tg:${long100().signalId}`,
        signal_id: long100().signalId,
        strategy: 'v52_divergence',
        symbol: 'BTCUSDT',
        direction: 'LONG',
        mode: 'paper',
        entry_time: T + 2 * MIN,
        exit_time: T + 4 * MIN,
        entry_price: expect.closeTo(100.02, 10),
        exit_price: expect.closeTo(101.9796, 10),
        qty: 10,
        fees: expect.closeTo(1.2119976, 10),
        slippage: expect.closeTo(0.404, 10),
        pnl: expect.closeTo(18.3840024, 9),
        pnl_pct: expect.closeTo(1.838032633, 8),
        exit_reason: 'take_profit',
        features: '{"rsi":25}',
      },
    ]);
  });

  it('swing costs: Kraken fee 0.3 % per side and tier slippage (mid_cap 0.25 %)', () => {
    const cfg = cfg1m();
    const sig = signal({ ts: TS, strategy: 'swing_breakout', engine: 'SWING', tier: 'mid_cap', entries: [50], stopLoss: 48, takeProfit: 52 });
    let acc = place(cfg, sig, [2]);
    const r = run(cfg, acc, [candle(T + MIN, 50.2, 50.3, 49.9, 50.1)]);
    const fill = r.events.find((e) => e.type === 'entry_filled');
    expect(fill && fill.type === 'entry_filled' && fill.price).toBeCloseTo(50.125, 10); // 50 x 1.0025
    expect(fill && fill.type === 'entry_filled' && fill.fee).toBeCloseTo(0.30075, 10); // 50.125 x 2 x 0.003
    acc = r.acc;
    // the default swing feed is Kraken 5m: a Bybit 1m candle would not touch it
    const kcfg = defaultCfg();
    const kacc = place(kcfg, sig, [2]);
    expect(run(kcfg, kacc, [candle(T + MIN, 50.2, 50.3, 49.9, 50.1)]).events).toEqual([]);
    expect(acc.positions[0]?.filledQty).toBe(2);
  });

  it('stop and take profit inside one candle: the STOP wins', () => {
    const cfg = defaultCfg();
    const r = run(cfg, opened(cfg), [candle(T + 2 * MIN, 100, 102.5, 98.9, 101)]);
    const t = closed(r.events)[0]?.trade;
    expect(t?.exitReason).toBe('stop_loss');
    expect(t?.exitPrice).toBeCloseTo(99 * 0.9998, 10);
    // gross (98.9802 - 100.02) x 10 = -10.398; fees 0.60012 + 98.9802 x 10 x 0.0006 (0.5938812)
    expect(t?.pnl).toBeCloseTo(-10.398 - 0.60012 - 0.5938812, 9);
    expect(r.acc.counters.losses).toBe(1);
  });

  it('a stop triggers on touch and fills at the open when the candle gaps through it', () => {
    const cfg = defaultCfg();
    let r = run(cfg, opened(cfg), [candle(T + 2 * MIN, 99.5, 99.6, 99, 99.2)]);
    expect(closed(r.events)[0]?.trade.exitPrice).toBeCloseTo(99 * 0.9998, 10);
    r = run(cfg, opened(cfg), [candle(T + 2 * MIN, 98.5, 98.7, 98.2, 98.4)]);
    expect(closed(r.events)[0]?.trade.exitPrice).toBeCloseTo(98.5 * 0.9998, 10);
  });

  it('on the fill candle only the stop is checked (the take profit is not)', () => {
    const cfg = defaultCfg();
    let acc = place(cfg, long100(), [10]);
    let r = run(cfg, acc, [candle(T + MIN, 100.5, 102.5, 99.9, 102)]);
    expect(r.events.map((e) => e.type)).toEqual(['entry_filled']);
    acc = place(cfg, long100(), [10]);
    r = run(cfg, acc, [candle(T + MIN, 100.5, 100.6, 98.8, 99.5)]);
    expect(r.events.map((e) => e.type)).toEqual(['entry_filled', 'exit_filled', 'position_closed']);
    expect(closed(r.events)[0]?.trade.exitReason).toBe('stop_loss');
  });

  it('trailing stop: activation, ratchet only upward, levels as of the candle open', () => {
    const cfg = defaultCfg();
    cfg.paper.costs.scalpSlippagePct = 0;
    const sig = signal({ ts: TS, entries: [100], stopLoss: 95, takeProfit: 110, trailingFraction: 0.01 });
    let acc = place(cfg, sig, [1]);
    acc = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.9, 100.1)]).acc; // avg 100
    let r = run(cfg, acc, [candle(T + 2 * MIN, 100.1, 100.9, 100, 100.8)]);
    expect(r.events).toEqual([]); // 100.9 < activation 100 x 1.01
    r = run(cfg, r.acc, [candle(T + 3 * MIN, 100.8, 101.5, 100.7, 101.4)]);
    expect(r.events).toMatchObject([{ type: 'trailing_activated', trailStop: expect.closeTo(100.485, 10) }]); // 101.5 x 0.99
    r = run(cfg, r.acc, [candle(T + 4 * MIN, 101.4, 103, 102, 102.8)]);
    expect(r.acc.positions[0]?.trailStop).toBeCloseTo(101.97, 10); // 103 x 0.99
    r = run(cfg, r.acc, [candle(T + 5 * MIN, 102.8, 102.5, 102.1, 102.2)]);
    expect(r.acc.positions[0]?.trailStop).toBeCloseTo(101.97, 10); // never moves down
    // high 104 would ratchet to 102.96, but the exit check uses the level at the open: 101.97
    r = run(cfg, r.acc, [candle(T + 6 * MIN, 102.2, 104, 101.9, 103.5)]);
    const t = closed(r.events)[0]?.trade;
    expect(t?.exitReason).toBe('trailing_stop');
    expect(t?.exitPrice).toBeCloseTo(101.97, 10);
  });

  it('exit priority take profit > trailing when both trigger on one candle', () => {
    const cfg = defaultCfg();
    cfg.paper.costs.scalpSlippagePct = 0;
    const sig = signal({ ts: TS, entries: [100], stopLoss: 95, takeProfit: 103, trailingFraction: 0.01 });
    let acc = place(cfg, sig, [1]);
    acc = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.9, 100.1), candle(T + 2 * MIN, 100.1, 102, 101, 101.9)]).acc;
    expect(acc.positions[0]?.trailStop).toBeCloseTo(100.98, 10);
    const r = run(cfg, acc, [candle(T + 3 * MIN, 101.9, 103.2, 100.5, 101)]);
    expect(closed(r.events)[0]?.trade.exitReason).toBe('take_profit');
  });

  it('time exit at the close of the first candle ending >= first fill + maxHoldMs', () => {
    const cfg = defaultCfg();
    const sig = signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102, maxHoldMs: 3 * MIN });
    let acc = place(cfg, sig, [10]);
    acc = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.9, 100.1)]).acc; // opened at T + 2 min
    let r = run(cfg, acc, [candle(T + 2 * MIN, 100.1, 100.5, 100, 100.4), candle(T + 3 * MIN, 100.4, 100.6, 100.2, 100.5)]);
    expect(closed(r.events)).toEqual([]);
    r = run(cfg, r.acc, [candle(T + 4 * MIN, 100.5, 100.8, 100.3, 100.7)]); // ends T + 5 min = opened + 3 min
    const t = closed(r.events)[0]?.trade;
    expect(t?.exitReason).toBe('time_exit');
    expect(t?.exitPrice).toBeCloseTo(100.7 * 0.9998, 10);
    expect(t?.exitTime).toBe(T + 5 * MIN);
  });

  it('mark-to-market: unrealized P&L counts entry fees, realized changes only on close', () => {
    const cfg = defaultCfg();
    const acc = opened(cfg);
    expect(acc.marks['BTCUSDT']).toBe(100.1);
    // (100.1 - 100.02) x 10 - 0.60012 = 0.19988
    expect(markedEquity(acc) - 10_000).toBeCloseTo(0.19988, 9);
    expect(acc.realizedPnl).toBe(0);
  });

  it('manual close books the exit at the given price', () => {
    const cfg = defaultCfg();
    const acc = opened(cfg);
    const r = closeManually(acc, `tg:${long100().signalId}`, 101, T + 10 * MIN);
    expect(closed([...r.events])[0]?.trade).toMatchObject({ exitReason: 'manual', exitPrice: expect.closeTo(101 * 0.9998, 10) });
    expect(r.account.positions).toEqual([]);
  });
});

describe('DCA grid', () => {
  it('fills grid levels one by one, size-weighted average entry, size-weighted P&L %, one group id', () => {
    const cfg = cfg1m();
    cfg.swingSlippagePct = { large_cap: 0, mid_cap: 0, small_cap: 0, memecoin: 0 };
    const sig = signal({ ts: TS, strategy: 'dca', engine: 'SWING', entries: [100, 99, 98], stopLoss: 95, takeProfit: 103, maxHoldMs: 72 * HOUR });
    let acc = place(cfg, sig, [1, 2, 3]);
    let r = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.5, 99.8)]);
    expect(r.acc.positions[0]).toMatchObject({ filledQty: 1, avgEntry: 100 });
    r = run(cfg, r.acc, [candle(T + 2 * MIN, 99.8, 99.9, 98.9, 99.2)]);
    expect(r.acc.positions[0]?.filledQty).toBe(3);
    expect(r.acc.positions[0]?.avgEntry).toBeCloseTo(298 / 3, 12); // (100 x 1 + 99 x 2) / 3
    acc = r.acc;
    r = run(cfg, acc, [candle(T + 3 * MIN, 99.2, 103.5, 99.1, 103.1)]);
    const t = closed(r.events)[0]?.trade;
    // lot e0: (103 - 100) x 1 - (0.3 + 0.309) = 2.391            -> 2.391 %
    // lot e1: (103 - 99) x 2 - (0.594 + 0.618) = 6.788           -> 6.788 / 198 = 3.4283 %
    // group: 9.179 / 298 = 3.0802 %  (size-weighted; the sum of the lot % would be 5.819)
    expect(t?.rows.map((x) => x.trade_id)).toEqual([`tg:${sig.signalId}:e0`, `tg:${sig.signalId}:e1`]);
    expect(new Set(t?.rows.map((x) => x.trade_group_id))).toEqual(new Set([`tg:${sig.signalId}`]));
    expect(t?.rows[0]?.pnl).toBeCloseTo(2.391, 10);
    expect(t?.rows[1]?.pnl).toBeCloseTo(6.788, 10);
    expect(t?.rows[1]?.pnl_pct).toBeCloseTo((6.788 / 198) * 100, 10);
    expect(t?.pnl).toBeCloseTo(9.179, 10);
    expect(t?.pnlPct).toBeCloseTo((9.179 / 298) * 100, 10);
    expect(t?.qty).toBe(3);
    expect(r.acc.positions).toEqual([]); // the unfilled e2 went with the group
  });

  it('a stop candle fills the grid levels price passed on the way down, then stops all', () => {
    const cfg = cfg1m();
    cfg.swingSlippagePct = { large_cap: 0, mid_cap: 0, small_cap: 0, memecoin: 0 };
    const sig = signal({ ts: TS, strategy: 'dca', engine: 'SWING', entries: [100, 99, 98], stopLoss: 97, takeProfit: 103 });
    const acc = place(cfg, sig, [1, 1, 1]);
    const r = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 96.5, 97.2)]);
    expect(r.events.map((e) => e.type)).toEqual(['entry_filled', 'entry_filled', 'entry_filled', 'exit_filled', 'position_closed']);
    expect(closed(r.events)[0]?.trade).toMatchObject({ exitReason: 'stop_loss', qty: 3, exitPrice: 97 });
  });

  it('grid entry timeout keeps the filled part open', () => {
    const cfg = cfg1m();
    const sig = signal({ ts: TS, strategy: 'dca', engine: 'SWING', entries: [100, 99], stopLoss: 95, takeProfit: 103, maxHoldMs: 72 * HOUR });
    let acc = place(cfg, sig, [1, 1]);
    acc = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.5, 99.8)]).acc;
    const r = onCandle(acc, candle(T + 24 * HOUR, 100, 100.1, 99.6, 100), cfg, T + 24 * HOUR + MIN);
    expect(r.events).toMatchObject([{ type: 'entry_timeout', positionRemains: true }]);
    // only e0, stopped with its round-trip costs (large cap: 0.15 % slippage, 0.3 % fee per side):
    // fill 100 x 1.0015 = 100.15, stop exit 95 x 0.9985 = 94.8575; 5.2925 + 0.003 x (100.15 + 94.8575) = 5.8775225
    expect(r.account.positions[0]?.risk).toBeCloseTo(5.8775225, 10);
  });
});

describe('state', () => {
  it('closed-trade rows carry exactly the warehouse paper_trades columns (required ones non-null)', () => {
    const cfg = defaultCfg();
    let acc = place(cfg, long100(), [10]);
    const r = run(cfg, acc, [candle(T + MIN, 100.3, 100.3, 99.9, 100.1), candle(T + 2 * MIN, 100.1, 100.2, 98, 98.5)]);
    acc = r.acc;
    const row: Record<string, unknown> = closed(r.events)[0]?.trade.rows[0] ?? {};
    expect(Object.keys(row).sort()).toEqual(TABLES.paper_trades.columns.map((c) => c.name).sort());
    for (const c of TABLES.paper_trades.columns) if ('required' in c && c.required) expect(row[c.name], c.name).not.toBeNull();
    expect(acc.positions).toEqual([]);
  });

  it('is plain JSON (round-trips unchanged)', () => {
    const cfg = defaultCfg();
    const acc = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 100.3, 100.3, 99.9, 100.1)]).acc;
    expect(JSON.parse(JSON.stringify(acc))).toEqual(acc);
  });
});
