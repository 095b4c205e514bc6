/**
 * Live mode end to end on REAL candles: signal -> trading core (TradingStore, the one decision path;
 * live mode makes its groups `external`) -> LiveExecutor -> bybit-api RestClientV5 -> local Bybit v5
 * server, whose matching engine is driven with the real BTCUSDT 1m prices of 2025-06-11 (test/fixtures/
 * trading, the same candles as the paper scenario in test/trading/scenario.test.ts) and ETH/SOL 1m of
 * 2025-06-28. The executor feeds the exchange's fills back into the core, so the core's positions,
 * P&L and fees are the exchange's.
 *
 * Exchange fees are Bybit's non-VIP derivatives rates the server applies: maker 0.02 %, taker 0.055 %.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BYBIT_MAKER_FEE_RATE, BYBIT_TAKER_FEE_RATE } from '../../infra/replay/bybit-trade-server.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { Candle } from '../../shared/model/market.js';
import { applyCandle, applySignal, createTradingState, type TradingEvent, type TradingState } from '../../shared/trading/core.js';
import { LiveExecutor, type LiveResult } from '../../shared/trading/live/executor.js';
import type { LiveEvent } from '../../shared/trading/live/ledger.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import { clientOrderId } from '../../shared/trading/live/orders.js';
import type { TradingConfig } from '../../shared/trading/model.js';
import type { Signal, PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import { closedTradeRows, TradingStore } from '../../shared/trading/store.js';
import { MIN, defaultCfg, realBtc1m, signal } from '../trading/helpers.js';
import { candlesFrom, FIXTURES, memoryStore, playCandle, startVenue, type Venue } from './helpers.js';
import { alertSchema } from '../../shared/messages.js';
import { liveIssueAlert } from '../../shared/alerts.js';

const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
const candleAt = (hhmm: string) => BTC.find((c) => c.openTime === at(hhmm))!;

let v: Venue;
let store: SqliteStateStore;
let trading: TradingStore;
let exec: LiveExecutor;

function setup(cfg: TradingConfig = defaultCfg()): void {
  trading = new TradingStore(store, { accountId: 'main', config: cfg });
  exec = new LiveExecutor({ venue: v.client, store, accountId: 'main', trading });
}

beforeEach(async () => {
  v = await startVenue();
  store = memoryStore();
  setup();
  await setTradingMode(store, { actor: 'owner', actorId: 'owner', mode: 'live' }, at('00:00'));
});
afterEach(async () => {
  // never a market order, anywhere: every order request the exchange saw was a Limit
  expect(v.server.violations).toHaveLength(0);
  for (const body of v.server.orderCreates()) expect(body.orderType).toBe('Limit');
  await v.stop();
  await store.close();
});

const trade = (evs: readonly TradingEvent[]) => evs.filter((e): e is TradeEvent => e.type !== 'protection');
const closedOf = (evs: readonly TradingEvent[]) => evs.filter((e): e is PositionClosedEvent => e.type === 'position_closed').map((e) => e.trade);

/**
 * The execution function's loop in live mode (see the report's wiring section): every core outcome
 * goes to the executor, and what the executor returns (core events from exchange fills) is published
 * like any core outcome. Per candle: poll the exchange first, then the candle.
 */
async function run(candles: Candle[], signals: Signal[], opts: { reconcileEvery?: (c: Candle) => boolean } = {}) {
  const core: TradingEvent[] = [];
  const issues: LiveEvent[] = [];
  const take = (x: LiveResult) => {
    core.push(...x.events);
    issues.push(...x.issues);
  };
  const pending = [...signals];
  for (const c of candles) {
    while (pending[0] && pending[0].ts <= c.openTime) {
      const sig = pending.shift()!;
      const r = await trading.applySignal(sig, null, sig.ts);
      core.push(...r.events);
      take(await exec.onEvents(r.events, { state: r.state }, sig.ts));
    }
    playCandle(v.server, c);
    const now = c.openTime + MIN;
    const marks = { [c.symbol]: c.close };
    if (opts.reconcileEvery?.(c) ?? true) take(await exec.reconcile(now, marks));
    const r = await trading.applyCandle(c, null, now);
    core.push(...r.events);
    take(await exec.onEvents(r.events, { state: r.state, marks }, now));
  }
  const state = await trading.read(candles.at(-1)!.openTime + MIN);
  return { core, issues, state };
}

const LONG = () => signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
const SHORT = () => signal({ ts: at('12:22'), strategy: 'v52_divergence', direction: 'SHORT', entries: [109030], stopLoss: 109330, takeProfit: 108500, maxHoldMs: 60 * MIN });

describe('a full live trade (BTCUSDT LONG, real candles)', () => {
  it('PostOnly entry -> fill from the exchange -> PostOnly take profit -> closed with exchange prices and fees', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close); // the market when the signal arrives
    const { core, issues, state } = await run(BTC.filter((c) => c.openTime >= at('12:18')), [LONG()]);

    const creates = v.server.orderCreates();
    const group = 'tg:' + LONG().signalId;
    expect(creates).toEqual([
      {
        category: 'linear',
        symbol: 'BTCUSDT',
        side: 'Buy',
        orderType: 'Limit',
        qty: '0.105', // core size 50 / 474.320036 = 0.10541 BTC (risk 50 with costs) rounded DOWN to the 0.001 step
        price: '109100.00',
        timeInForce: 'PostOnly',
        orderLinkId: clientOrderId(group, 'e0'),
        reduceOnly: false,
      },
      {
        category: 'linear',
        symbol: 'BTCUSDT',
        side: 'Sell',
        orderType: 'Limit',
        qty: '0.105',
        price: '109650.00',
        timeInForce: 'PostOnly',
        orderLinkId: clientOrderId(group, 't0'),
        reduceOnly: true,
      },
    ]);

    const entryFee = 109100 * 0.105 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109650 * 0.105 * BYBIT_MAKER_FEE_RATE;
    // the core's events ARE the exchange's fills (no simulated fill, no parallel ledger P&L)
    const evs = trade(core);
    expect(evs.map((e) => e.type)).toEqual(['order_placed', 'entry_filled', 'exit_filled', 'position_closed']);
    const [, fill, exit, closed] = evs;
    expect(fill).toMatchObject({ type: 'entry_filled', groupId: group, orderId: `${group}:e0`, price: 109100, qty: 0.105, avgEntry: 109100, filledQty: 0.105, ts: at('12:22') });
    expect((fill as { fee: number }).fee).toBeCloseTo(entryFee, 9);
    expect(exit).toMatchObject({ type: 'exit_filled', reason: 'take_profit', price: 109650, qty: 0.105, ts: at('12:31') });
    expect((exit as { fee: number }).fee).toBeCloseTo(exitFee, 9);
    if (closed?.type !== 'position_closed') throw new Error('no close');
    const t = closed.trade;
    expect(t).toMatchObject({ exitReason: 'take_profit', avgEntry: 109100, exitPrice: 109650, qty: 0.105, entryTime: at('12:22'), exitTime: at('12:31') });
    expect(t.fees).toBeCloseTo(entryFee + exitFee, 9);
    expect(t.pnl).toBeCloseTo((109650 - 109100) * 0.105 - entryFee - exitFee, 9);
    expect(t.pnl).toBeCloseTo(53.15625, 9); // 57.75 - 0.105 x 0.0002 x (109100 + 109650)
    expect(t.pnlPct).toBeCloseTo((t.pnl / (109100 * 0.105)) * 100, 9);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]).toMatchObject({ mode: 'live', trade_group_id: group, entry_price: 109100, exit_price: 109650, exit_reason: 'take_profit', qty: 0.105 });
    expect(closedTradeRows(core)).toEqual(t.rows);

    // the core's account booked exactly the exchange's numbers
    expect(state.account.positions).toHaveLength(0);
    expect(state.account.realizedPnl).toBeCloseTo(53.15625, 9);
    expect(state.account.feesPaid).toBeCloseTo(entryFee + exitFee, 9);
    expect(state.account.counters).toMatchObject({ ordersPlaced: 1, entriesFilled: 1, tradesClosed: 1, wins: 1 });
    expect(v.server.position('BTCUSDT')).toBe(0);
    expect(issues).toEqual([]);
    expect((await exec.group(group))?.status).toBe('closed');
    expect((await exec.group(group))?.coreActive).toBe(false);
    // polling again reports nothing new
    expect(await exec.reconcile(at('12:40'))).toEqual({ events: [], issues: [], state: null });
  });

  it('stop loss: cancels the take profit and exits with a GTC limit at the bounded price (never a market order)', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:21').close);
    const { core, state } = await run(BTC.filter((c) => c.openTime >= at('12:22')), [SHORT()]);
    const group = 'tg:' + SHORT().signalId;
    const creates = v.server.orderCreates();
    expect(creates.map((b) => [b.side, b.timeInForce, b.reduceOnly, b.price, b.qty])).toEqual([
      ['Sell', 'PostOnly', false, '109030.00', '0.105'], // entry
      ['Buy', 'PostOnly', true, '108500.00', '0.105'], // take profit
      ['Buy', 'GTC', true, '109876.60', '0.105'], // stop exit: 109330 x (1 + 0.5 %) = 109876.65, BUY rounds down
    ]);
    const cancels = v.server.requests.filter((r) => r.path === '/v5/order/cancel');
    expect(cancels.map((r) => [r.body?.orderLinkId, r.retCode])).toEqual([[clientOrderId(group, 't0'), 0]]);

    // the core DECIDED the stop from the 12:30 candle (high 109850 >= 109330); the exchange filled it
    expect(trade(core).map((e) => e.type)).toEqual(['order_placed', 'entry_filled', 'exit_decided', 'exit_filled', 'position_closed']);
    expect(core.find((e) => e.type === 'exit_decided')).toMatchObject({ reason: 'stop_loss', price: 109330, qty: 0.105 });
    const [closed] = closedOf(core);
    // the marketable limit filled at once at the market (12:30 close 109739.9), inside the bound, as taker
    const entryFee = 109030 * 0.105 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109739.9 * 0.105 * BYBIT_TAKER_FEE_RATE;
    expect(closed).toMatchObject({ exitReason: 'stop_loss', direction: 'SHORT', avgEntry: 109030, exitPrice: 109739.9, qty: 0.105 });
    // the exchange reports fees to 1e-8 (its rounding, not ours)
    expect(closed!.pnl).toBeCloseTo((109030 - 109739.9) * 0.105 - entryFee - exitFee, 7);
    expect(closed!.fees).toBeCloseTo(entryFee + exitFee, 7);
    expect(core.filter((e) => e.type === 'exit_filled').map((e) => (e as { reason: string }).reason)).toEqual(['stop_loss']);
    expect(v.server.position('BTCUSDT')).toBe(0);
    // the stop counts for the trade limiter like a simulated one
    expect(state.protections.limiter['BTCUSDT']).toEqual({ consecutiveStops: 1, cooldownUntil: null });
    expect(state.account.realizedPnl).toBeCloseTo(closed!.pnl, 9);
  });
});

describe('rounding on the real instruments (request bodies)', () => {
  it('ETHUSDT and SOLUSDT entries go out PostOnly, price on the tick (buy down / sell up), qty down to the step', async () => {
    const eth = candlesFrom(join(FIXTURES, 'replay', 'ETHUSDT_1m.csv'), 'ETHUSDT');
    const sol = candlesFrom(join(FIXTURES, 'replay', 'SOLUSDT_1m.csv'), 'SOLUSDT');
    const e0 = eth[0]!;
    const s0 = sol[0]!;
    const ts = e0.openTime + MIN;
    v.server.setPrice('ETHUSDT', e0.close); // 2422.81
    v.server.setPrice('SOLUSDT', s0.close); // 142.04
    const ethSig = signal({ ts, symbol: 'ETHUSDT', strategy: 'levels_exhaustion', entries: [2421.237], stopLoss: 2409.1, takeProfit: 2440, signalId: 'eth-1' });
    const solSig = signal({ ts, symbol: 'SOLUSDT', strategy: 'v52_divergence', direction: 'SHORT', entries: [142.0847], stopLoss: 142.9, takeProfit: 140.5, signalId: 'sol-1' });
    const qtys: number[] = [];
    for (const sig of [ethSig, solSig]) {
      const r = await trading.applySignal(sig, null, ts);
      expect(r.decision.accepted).toBe(true);
      if (r.decision.accepted) qtys.push(r.decision.qtys[0]!);
      await exec.onEvents(r.events, { state: r.state }, ts);
    }
    const [ethBody, solBody] = v.server.orderCreates();
    expect(ethBody).toMatchObject({ symbol: 'ETHUSDT', side: 'Buy', orderType: 'Limit', timeInForce: 'PostOnly', price: '2421.23', qty: (Math.floor(qtys[0]! * 100) / 100).toFixed(2) });
    expect(solBody).toMatchObject({ symbol: 'SOLUSDT', side: 'Sell', orderType: 'Limit', timeInForce: 'PostOnly', price: '142.090', qty: (Math.floor(qtys[1]! * 10) / 10).toFixed(1) });
    expect(v.server.allOrders().map((o) => o.status)).toEqual(['New', 'New']);
  });
});

/** ETH LONG stopped at 2409.1 (scalp costs: 0.02 % slippage on the stop exit, 0.06 % fee per side), per ETH filled at `fill`. */
function ethLossFromFill(fill: number): number {
  const exit = 2409.1 * 0.9998;
  return fill - exit + 0.0006 * (fill + exit);
}

describe('partial fills', () => {
  it('two reconciles: each increase is one core entry_filled at the exchange numbers; the TP waits for the whole entry; polling is idempotent', async () => {
    const eth = candlesFrom(join(FIXTURES, 'replay', 'ETHUSDT_1m.csv'), 'ETHUSDT');
    const c0 = eth[0]!;
    const ts = c0.openTime + MIN;
    v.server.setPrice('ETHUSDT', c0.close);
    const sig = signal({ ts, symbol: 'ETHUSDT', strategy: 'levels_exhaustion', entries: [2421.2], stopLoss: 2409.1, takeProfit: 2440, signalId: 'eth-partial' });
    const r = await trading.applySignal(sig, null, ts);
    if (!r.decision.accepted) throw new Error(r.decision.reason);
    const coreQty = r.decision.qtys[0]!; // 50 / 15.9642415 = 3.1320 ETH (risk 50 with costs)
    await exec.onEvents(r.events, { state: r.state }, ts);
    const qty = Number(v.server.orderCreates()[0]!.qty); // 3.13 ETH on the 0.01 step
    expect(qty).toBe(Math.floor(coreQty * 100) / 100);
    const group = `tg:${sig.signalId}`;

    v.server.trade('ETHUSDT', 2421.2, 1); // 1 ETH trades at the limit
    const first = await exec.reconcile(ts + MIN);
    expect(first.events.map((e) => e.type)).toEqual(['entry_filled']);
    expect(first.events[0]).toMatchObject({ type: 'entry_filled', orderId: `${group}:e0`, price: 2421.2, qty: 1, filledQty: 1, avgEntry: 2421.2, ts: ts + MIN });
    expect((first.events[0] as { fee: number }).fee).toBeCloseTo(2421.2 * BYBIT_MAKER_FEE_RATE, 12);
    let p = first.state!.account.positions[0]!;
    expect(p).toMatchObject({ status: 'open', filledQty: 1, avgEntry: 2421.2 });
    expect(p.entries[0]).toMatchObject({ status: 'pending', filledQty: 1, fillPrice: 2421.2 });
    // risk (loss if stopped, costs included): the filled ETH from its fill, the working remainder from its limit
    expect(p.risk).toBeCloseTo(1 * ethLossFromFill(2421.2) + (coreQty - 1) * ethLossFromFill(2421.2 * 1.0002), 9);
    expect(await exec.reconcile(ts + MIN)).toEqual({ events: [], issues: [], state: null });
    expect(v.server.orderCreates()).toHaveLength(1); // no take profit for a working entry

    v.server.trade('ETHUSDT', 2420.5); // the rest fills at the limit price
    const second = await exec.reconcile(ts + 2 * MIN);
    expect(second.events.map((e) => e.type)).toEqual(['entry_filled']);
    expect(second.events[0]).toMatchObject({ type: 'entry_filled', price: 2421.2, filledQty: qty, avgEntry: 2421.2 });
    expect((second.events[0] as { qty: number }).qty).toBeCloseTo(qty - 1, 9);
    expect((second.events[0] as { fee: number }).fee).toBeCloseTo(2421.2 * (qty - 1) * BYBIT_MAKER_FEE_RATE, 9);
    expect(second.events[0]!.eventId).not.toBe(first.events[0]!.eventId);
    p = second.state!.account.positions[0]!;
    // the exchange order is Filled: the core's entry is done with the exchange's 3.13 (not the core's 3.1320)
    expect(p.entries[0]).toMatchObject({ status: 'filled', filledQty: qty });
    expect(p.filledQty).toBe(qty);
    expect(p.risk).toBeCloseTo(qty * ethLossFromFill(2421.2), 9);
    expect(p.entries[0]!.fee).toBeCloseTo(2421.2 * qty * BYBIT_MAKER_FEE_RATE, 9);
    expect(v.server.orderCreates()[1]).toMatchObject({ side: 'Sell', timeInForce: 'PostOnly', reduceOnly: true, price: '2440.00', qty: qty.toFixed(2) });
    expect(await exec.reconcile(ts + 3 * MIN)).toEqual({ events: [], issues: [], state: null });
    expect((await trading.read(ts + 3 * MIN)).account.counters.entriesFilled).toBe(1);
  });
});

describe('idempotent placement', () => {
  it('the same core events twice, and an order sent before a crash, never make a second order', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    const sig = LONG();
    const group = 'tg:' + sig.signalId;
    // the previous attempt reached the exchange, then the process died before recording it
    await v.client.placeLimitOrder({ symbol: 'BTCUSDT', side: 'Buy', price: '109100.00', qty: '0.105', postOnly: true, reduceOnly: false, clientOrderId: clientOrderId(group, 'e0') });
    const r = await trading.applySignal(sig, null, sig.ts);
    await exec.onEvents(r.events, { state: r.state }, sig.ts);
    // redelivery of the same signal: the core returns the stored events again
    const again = await trading.applySignal(sig, null, sig.ts);
    expect(again.applied).toBe(false);
    await exec.onEvents(again.events, { state: again.state }, sig.ts);

    expect(v.server.allOrders()).toHaveLength(1);
    expect(v.server.requests.filter((x) => x.path === '/v5/order/create').map((x) => x.retCode)).toEqual([0, 110072]);
    const g = await exec.group(group);
    expect(g?.legs.map((l) => [l.leg, l.status, l.orderId])).toEqual([['e0', 'New', v.server.allOrders()[0]!.orderId]]);
  });
});

describe('PostOnly that would cross', () => {
  it('an entry is CANCELLED (not re-priced) and reported; the core ends the group from the exchange status', async () => {
    // the market (12:21 close 109026.8) is already below the LONG limit 109100: a buy there would take liquidity
    v.server.setPrice('BTCUSDT', candleAt('12:21').close);
    const sig = signal({ ts: at('12:22'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
    const r = await trading.applySignal(sig, null, sig.ts);
    const live = await exec.onEvents(r.events, { state: r.state }, sig.ts);
    expect(live.issues.map((e) => e.type)).toEqual(['live_order_issue', 'live_group_cancelled']);
    expect(live.issues[0]).toMatchObject({ issue: 'post_only_would_cross', action: 'entry_cancelled', leg: 'e0' });
    expect(v.server.allOrders()).toEqual([expect.objectContaining({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity' })]);
    expect(v.server.orderCreates()).toHaveLength(1);
    // the executor told the core (cancelEntry): the group is gone there too, nothing else to wire
    expect(live.events.map((e) => e.type)).toEqual(['entry_timeout']);
    expect(live.events[0]).toMatchObject({ cancelledOrderIds: [`tg:${sig.signalId}:e0`], positionRemains: false });
    expect((await trading.read(sig.ts)).account.positions).toHaveLength(0);
    expect((await exec.group(`tg:${sig.signalId}`))?.coreActive).toBe(false);
  });

  it('a take profit the market already passed is re-sent as GTC at the same price and fills at once', async () => {
    const cfg = defaultCfg();
    cfg.paper.entryTimeoutMs.scalp = 15 * MIN; // the group is still working when the late poll comes
    setup(cfg);
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    // the executor is polled late: the entry filled at 12:21, the next poll is after the 12:30 spike
    const { core, issues } = await run(
      BTC.filter((c) => c.openTime >= at('12:18')),
      [LONG()],
      { reconcileEvery: (c) => c.openTime === at('12:30') },
    );
    const creates = v.server.orderCreates();
    expect(creates.map((b) => [b.side, b.timeInForce, b.reduceOnly, b.price])).toEqual([
      ['Buy', 'PostOnly', false, '109100.00'],
      ['Sell', 'PostOnly', true, '109650.00'],
      ['Sell', 'GTC', true, '109650.00'],
    ]);
    expect(issues.find((e) => e.type === 'live_order_issue')).toMatchObject({ issue: 'post_only_would_cross', action: 'replaced_gtc', leg: 't0' });
    const [closed] = closedOf(core);
    // filled at the market (12:30 close 109739.9, better than the 109650 limit) as taker
    expect(closed).toMatchObject({ exitReason: 'take_profit', exitPrice: 109739.9, qty: 0.105 });
    expect(closed!.fees).toBeCloseTo(109100 * 0.105 * BYBIT_MAKER_FEE_RATE + 109739.9 * 0.105 * BYBIT_TAKER_FEE_RATE, 7); // exchange fees to 1e-8
  });
});

describe('paper is the default', () => {
  it('with no mode stored, core groups are simulated and place nothing on the exchange', async () => {
    const paperStore = memoryStore();
    try {
      const t = new TradingStore(paperStore, { accountId: 'main', config: defaultCfg() });
      const e = new LiveExecutor({ venue: v.client, store: paperStore, accountId: 'main', trading: t });
      const r = await t.applySignal(LONG(), null, LONG().ts);
      expect(r.decision.accepted).toBe(true);
      expect(r.state.account.positions[0]?.external).toBeNull();
      expect(await e.onEvents(r.events, { state: r.state }, LONG().ts)).toEqual({ events: [], issues: [], state: null });
      expect(await e.openGroups()).toEqual([]);
      expect(v.server.requests.filter((x) => x.path.startsWith('/v5/order'))).toHaveLength(0);
    } finally {
      await paperStore.close();
    }
  });
});

describe('Bybit fills on a touch; the simulated core would not', () => {
  // 2025-06-11 00:12 UTC: the low is exactly 109930.4 and the next minutes stay above it; 00:15 reaches
  // exactly 110100.0 (its high) and no later minute goes beyond it before 00:36. Bybit fills a resting
  // limit on the touch; the simulated book fills only when price trades THROUGH (book.ts).
  const d = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
  const candles = realBtc1m().filter((c) => c.openTime >= d('00:12') && c.openTime <= d('00:17'));
  const sig = () => signal({ ts: d('00:12'), strategy: 'levels_exhaustion', entries: [109930.4], stopLoss: 109600, takeProfit: 110100, maxHoldMs: 60 * MIN });

  it('the simulated (paper) core fills neither the entry nor the take profit on these candles', () => {
    const cfg = defaultCfg();
    let s: TradingState = createTradingState('paper', cfg, d('00:12'));
    const r0 = applySignal(s, sig(), null, cfg, d('00:12'));
    s = r0.state;
    const evs: TradingEvent[] = [];
    for (const c of candles) {
      const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
      s = r.state;
      evs.push(...r.events);
    }
    expect(trade(evs).map((e) => e.type)).toEqual(['entry_timeout']);
    expect(candles[0]!.low).toBe(109930.4);
    expect(Math.max(...candles.map((c) => c.high))).toBe(110100);
  });

  it('live: the core takes the exchange fill (price, qty, fee), closes on the exchange TP fill, P&L = the exchange numbers', async () => {
    v.server.setPrice('BTCUSDT', realBtc1m().find((c) => c.openTime === d('00:11'))!.close);
    const group = `tg:${sig().signalId}`;
    const seen: TradingState[] = [];
    const core: TradingEvent[] = [];
    const r0 = await trading.applySignal(sig(), null, d('00:12'));
    if (!r0.decision.accepted) throw new Error(r0.decision.reason);
    expect(r0.decision.qtys[0]).toBeCloseTo(50 / 506.024359648, 9); // risk 50 with costs: 109930.4 x 1.0002 - 109600 x 0.9998 + 0.0006 x (both)
    core.push(...r0.events, ...(await exec.onEvents(r0.events, { state: r0.state }, d('00:12'))).events);
    for (const c of candles) {
      playCandle(v.server, c);
      const now = c.openTime + MIN;
      const x = await exec.reconcile(now, { BTCUSDT: c.close });
      core.push(...x.events);
      const r = await trading.applyCandle(c, null, now);
      core.push(...r.events, ...(await exec.onEvents(r.events, { state: r.state }, now)).events);
      seen.push(r.state);
    }
    const qty = 0.098; // 0.098809 rounded down to the 0.001 step
    const entryFee = 109930.4 * qty * BYBIT_MAKER_FEE_RATE;
    const exitFee = 110100 * qty * BYBIT_MAKER_FEE_RATE;
    // 00:13 (high 110017.5) covered half the way to the take profit: candles still move the half-TP mark
    expect(trade(core).map((e) => e.type)).toEqual(['order_placed', 'entry_filled', 'half_take_profit', 'exit_filled', 'position_closed']);

    // after the 00:12 candle the core's position is exactly the exchange's
    const open = seen[0]!.account.positions.find((p) => p.groupId === group)!;
    expect(open).toMatchObject({ status: 'open', filledQty: qty, avgEntry: 109930.4, openedAt: d('00:13') });
    expect(open.entries[0]).toMatchObject({ status: 'filled', fillPrice: 109930.4, filledQty: qty });
    expect(open.entries[0]!.fee).toBeCloseTo(entryFee, 12);
    // the loss if stopped from the exchange's fill, costs included (0.02 % slippage on the stop exit, 0.06 % fee per side)
    const stopExit = 109600 * 0.9998;
    expect(open.risk).toBeCloseTo((109930.4 - stopExit + 0.0006 * (109930.4 + stopExit)) * qty, 9);
    const ex = v.server.allOrders().find((o) => o.orderLinkId === clientOrderId(group, 'e0'))!;
    expect([ex.status, ex.cumQty, ex.cumValue / ex.cumQty]).toEqual(['Filled', qty, expect.closeTo(109930.4, 6)]);
    expect(open.entries[0]!.fee).toBeCloseTo(ex.cumFee, 9);

    const [closed] = closedOf(core);
    expect(closed).toMatchObject({ exitReason: 'take_profit', avgEntry: 109930.4, exitPrice: 110100, qty, entryTime: d('00:13'), exitTime: d('00:16') });
    expect(closed!.fees).toBeCloseTo(entryFee + exitFee, 9);
    expect(closed!.pnl).toBeCloseTo((110100 - 109930.4) * qty - entryFee - exitFee, 9);
    expect(closed!.rows).toEqual([expect.objectContaining({ mode: 'live', entry_price: 109930.4, exit_price: 110100, qty, exit_reason: 'take_profit' })]);
    const final = await trading.read(d('00:18'));
    expect(final.account.positions).toEqual([]);
    expect(final.account.realizedPnl).toBeCloseTo(closed!.pnl, 9);
    expect(v.server.position('BTCUSDT')).toBe(0);
  });
});

describe('safety net: an exchange fill for a group the core does not have', () => {
  it('is flattened with a bounded GTC limit and reported as orphaned_fill (alert)', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    const r = await trading.applySignal(LONG(), null, LONG().ts);
    await exec.onEvents(r.events, { state: r.state }, LONG().ts);
    // an executor wired to a core account that never had the group (a broken deployment)
    const other = new LiveExecutor({ venue: v.client, store, accountId: 'main', trading: new TradingStore(store, { accountId: 'other', config: defaultCfg() }) });
    for (const c of BTC.filter((c) => c.openTime >= at('12:18') && c.openTime <= at('12:21'))) playCandle(v.server, c);
    const x = await other.reconcile(at('12:22'), { BTCUSDT: candleAt('12:21').close });
    expect(x.issues.map((e) => (e.type === 'live_order_issue' ? `${e.issue}:${e.action}` : e.type))).toEqual(['orphaned_fill:flattening']);
    const exit = v.server.orderCreates().at(-1)!;
    expect(exit).toMatchObject({ side: 'Sell', timeInForce: 'GTC', reduceOnly: true, orderType: 'Limit' });
    expect(Number(exit.price)).toBeCloseTo(Math.ceil((candleAt('12:21').close * 0.995) / 0.1 - 1e-9) * 0.1, 6);
    expect(v.server.position('BTCUSDT')).toBe(0);
    expect((await exec.group(`tg:${LONG().signalId}`))?.status).toBe('closed');
    const alert = alertSchema.parse(liveIssueAlert(x.issues[0]!));
    expect(alert).toMatchObject({ kind: 'live_order_issue', severity: 'critical', subject: 'BTCUSDT', alertId: `tg:${LONG().signalId}:orphaned` });
  });
});

describe('one-way mode: no opposite positions on one coin while live', () => {
  it('a SHORT signal against the open live LONG (filled on Bybit) is rejected and sends nothing; paper accepts it', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    await run(BTC.filter((c) => c.openTime >= at('12:18') && c.openTime <= at('12:21')), [LONG()]);
    expect(v.server.position('BTCUSDT')).toBeCloseTo(0.105, 9);
    const creates = v.server.orderCreates().length;
    const r = await trading.applySignal(SHORT(), null, SHORT().ts);
    expect(r.decision).toMatchObject({ accepted: false, reason: 'opposite_position_live' });
    expect(await exec.onEvents(r.events, { state: r.state }, SHORT().ts)).toEqual({ events: [], issues: [], state: null });
    expect(v.server.orderCreates()).toHaveLength(creates);

    const paperStore = memoryStore();
    try {
      const paper = new TradingStore(paperStore, { accountId: 'main', config: defaultCfg() });
      await paper.applySignal(LONG(), null, LONG().ts);
      for (const c of BTC.filter((c) => c.openTime >= at('12:18') && c.openTime <= at('12:21'))) await paper.applyCandle(c, null, c.openTime + MIN);
      expect((await paper.read(SHORT().ts)).account.positions[0]).toMatchObject({ status: 'open', direction: 'LONG' });
      expect((await paper.applySignal(SHORT(), null, SHORT().ts)).decision.accepted).toBe(true);
    } finally {
      await paperStore.close();
    }
  });
});
