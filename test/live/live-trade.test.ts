/**
 * Live mode end to end on REAL candles: signal -> paper core (TradingStore, the one decision path)
 * -> LiveExecutor -> bybit-api RestClientV5 -> local Bybit v5 server, whose matching engine is driven
 * with the real BTCUSDT 1m prices of 2025-06-11 12:17-12:30 UTC (test/fixtures/trading, the same
 * candles as the paper scenario in test/trading/scenario.test.ts) and ETH/SOL 1m of 2025-06-28.
 *
 * Exchange fees are Bybit's non-VIP derivatives rates the server applies: maker 0.02 %, taker 0.055 %.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BYBIT_MAKER_FEE_RATE, BYBIT_TAKER_FEE_RATE } from '../../infra/replay/bybit-trade-server.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { Candle } from '../../shared/market/types.js';
import type { TradingEvent, TradingState } from '../../shared/trading/engine.js';
import { LiveExecutor } from '../../shared/trading/live/executor.js';
import type { LiveEvent } from '../../shared/trading/live/ledger.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import { clientOrderId } from '../../shared/trading/live/orders.js';
import { TradingStore } from '../../shared/trading/store.js';
import type { Signal } from '../../shared/trading/types.js';
import { MIN, defaultCfg, realBtc1m, signal } from '../trading/helpers.js';
import { candlesFrom, FIXTURES, memoryStore, playCandle, startVenue, type Venue } from './helpers.js';

const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
const candleAt = (hhmm: string) => BTC.find((c) => c.openTime === at(hhmm))!;

let v: Venue;
let store: SqliteStateStore;
let trading: TradingStore;
let exec: LiveExecutor;

beforeEach(async () => {
  v = await startVenue();
  store = memoryStore();
  trading = new TradingStore(store, { accountId: 'main', config: defaultCfg() });
  exec = new LiveExecutor({ venue: v.client, store, accountId: 'main' });
  await setTradingMode(store, { actor: 'owner', actorId: 'owner', mode: 'live' }, at('12:00'));
});
afterEach(async () => {
  // never a market order, anywhere: every order request the exchange saw was a Limit
  expect(v.server.violations).toHaveLength(0);
  for (const body of v.server.orderCreates()) expect(body.orderType).toBe('Limit');
  await v.stop();
  await store.close();
});

/** The execution function's loop over candles (see the report's wiring section). */
async function run(candles: Candle[], signals: Signal[], opts: { reconcileEvery?: (c: Candle) => boolean } = {}) {
  const live: LiveEvent[] = [];
  const core: TradingEvent[] = [];
  let state: TradingState | null = null;
  const pending = [...signals];
  for (const c of candles) {
    while (pending[0] && pending[0].ts <= c.openTime) {
      const sig = pending.shift()!;
      const r = await trading.applySignal(sig, null, sig.ts);
      core.push(...r.events);
      live.push(...(await exec.onEvents(r.events, { state: r.state }, sig.ts)));
    }
    playCandle(v.server, c);
    const now = c.openTime + MIN;
    if (opts.reconcileEvery?.(c) ?? true) live.push(...(await exec.reconcile(now)));
    const r = await trading.applyCandle(c, null, now);
    state = r.state;
    core.push(...r.events);
    live.push(...(await exec.onEvents(r.events, { state: r.state, marks: { [c.symbol]: c.close } }, now)));
  }
  return { live, core, state: state! };
}

const LONG = () => signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
const SHORT = () => signal({ ts: at('12:22'), strategy: 'v52_divergence', direction: 'SHORT', entries: [109030], stopLoss: 109330, takeProfit: 108500, maxHoldMs: 60 * MIN });

describe('a full live trade (BTCUSDT LONG, real candles)', () => {
  it('PostOnly entry -> fill from the exchange -> PostOnly take profit -> closed with exchange prices and fees', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close); // the market when the signal arrives
    const { live, core, state } = await run(BTC.filter((c) => c.openTime >= at('12:18')), [LONG()]);

    const creates = v.server.orderCreates();
    const group = 'tg:' + LONG().signalId;
    expect(creates).toEqual([
      {
        category: 'linear',
        symbol: 'BTCUSDT',
        side: 'Buy',
        orderType: 'Limit',
        qty: '0.166', // core size 1/6 BTC rounded DOWN to the 0.001 step
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
        qty: '0.166',
        price: '109650.00',
        timeInForce: 'PostOnly',
        orderLinkId: clientOrderId(group, 't0'),
        reduceOnly: true,
      },
    ]);

    const entryFee = 109100 * 0.166 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109650 * 0.166 * BYBIT_MAKER_FEE_RATE;
    const types = live.map((e) => e.type);
    expect(types).toEqual(['entry_filled', 'exit_filled', 'position_closed']);
    const [fill, exit, closed] = live;
    expect(fill).toMatchObject({ type: 'entry_filled', groupId: group, orderId: `${group}:e0`, price: 109100, qty: 0.166, avgEntry: 109100, filledQty: 0.166, ts: at('12:22') });
    expect((fill as { fee: number }).fee).toBeCloseTo(entryFee, 9);
    expect(exit).toMatchObject({ type: 'exit_filled', reason: 'take_profit', price: 109650, qty: 0.166, ts: at('12:31') });
    expect((exit as { fee: number }).fee).toBeCloseTo(exitFee, 9);
    if (closed?.type !== 'position_closed') throw new Error('no close');
    const t = closed.trade;
    expect(t).toMatchObject({ exitReason: 'take_profit', avgEntry: 109100, exitPrice: 109650, qty: 0.166, entryTime: at('12:22'), exitTime: at('12:31') });
    expect(t.fees).toBeCloseTo(entryFee + exitFee, 9);
    expect(t.pnl).toBeCloseTo((109650 - 109100) * 0.166 - entryFee - exitFee, 9); // 84.0375
    expect(t.pnl).toBeCloseTo(84.0375, 9);
    expect(t.pnlPct).toBeCloseTo((t.pnl / (109100 * 0.166)) * 100, 9);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]).toMatchObject({ mode: 'live', trade_group_id: group, entry_price: 109100, exit_price: 109650, exit_reason: 'take_profit' });

    // the paper core made the same decisions on the same candles (its own simulated fills differ in costs)
    expect(core.filter((e) => e.type !== 'protection').map((e) => e.type)).toEqual(['order_placed', 'entry_filled', 'exit_filled', 'position_closed']);
    expect(state.account.positions).toHaveLength(0);
    expect(v.server.position('BTCUSDT')).toBe(0);
    expect((await exec.group(group))?.status).toBe('closed');
    // polling again reports nothing new
    expect(await exec.reconcile(at('12:40'))).toEqual([]);
  });

  it('stop loss: cancels the take profit and exits with a GTC limit at the bounded price (never a market order)', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:21').close);
    const { live } = await run(BTC.filter((c) => c.openTime >= at('12:22')), [SHORT()]);
    const group = 'tg:' + SHORT().signalId;
    const creates = v.server.orderCreates();
    expect(creates.map((b) => [b.side, b.timeInForce, b.reduceOnly, b.price, b.qty])).toEqual([
      ['Sell', 'PostOnly', false, '109030.00', '0.166'], // entry
      ['Buy', 'PostOnly', true, '108500.00', '0.166'], // take profit
      ['Buy', 'GTC', true, '109876.60', '0.166'], // stop exit: 109330 x (1 + 0.5 %) = 109876.65, BUY rounds down
    ]);
    const cancels = v.server.requests.filter((r) => r.path === '/v5/order/cancel');
    expect(cancels.map((r) => [r.body?.orderLinkId, r.retCode])).toEqual([[clientOrderId(group, 't0'), 0]]);

    const closed = live.find((e) => e.type === 'position_closed');
    if (closed?.type !== 'position_closed') throw new Error('no close');
    // the marketable limit filled at once at the market (12:30 close 109739.9), inside the bound, as taker
    const entryFee = 109030 * 0.166 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109739.9 * 0.166 * BYBIT_TAKER_FEE_RATE;
    expect(closed.trade).toMatchObject({ exitReason: 'stop_loss', direction: 'SHORT', avgEntry: 109030, exitPrice: 109739.9, qty: 0.166 });
    expect(closed.trade.pnl).toBeCloseTo((109030 - 109739.9) * 0.166 - entryFee - exitFee, 9);
    expect(live.filter((e) => e.type === 'exit_filled').map((e) => (e as { reason: string }).reason)).toEqual(['stop_loss']);
    expect(v.server.position('BTCUSDT')).toBe(0);
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

describe('partial fills', () => {
  it('each increase is one entry_filled; the take profit waits until the entry is done; polling is idempotent', async () => {
    const eth = candlesFrom(join(FIXTURES, 'replay', 'ETHUSDT_1m.csv'), 'ETHUSDT');
    const c0 = eth[0]!;
    const ts = c0.openTime + MIN;
    v.server.setPrice('ETHUSDT', c0.close);
    const sig = signal({ ts, symbol: 'ETHUSDT', strategy: 'levels_exhaustion', entries: [2421.2], stopLoss: 2409.1, takeProfit: 2440, signalId: 'eth-partial' });
    const r = await trading.applySignal(sig, null, ts);
    await exec.onEvents(r.events, { state: r.state }, ts);
    const qty = Number(v.server.orderCreates()[0]!.qty); // 4.13 ETH
    expect(qty).toBeGreaterThan(1);

    v.server.trade('ETHUSDT', 2421.2, 1); // 1 ETH trades at the limit
    const first = await exec.reconcile(ts + MIN);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ type: 'entry_filled', price: 2421.2, qty: 1, filledQty: 1 });
    expect(await exec.reconcile(ts + MIN)).toEqual([]);
    expect(v.server.orderCreates()).toHaveLength(1); // no take profit for a working entry

    v.server.trade('ETHUSDT', 2420.5); // the rest fills at the limit price
    const second = await exec.reconcile(ts + 2 * MIN);
    expect(second[0]).toMatchObject({ type: 'entry_filled', price: 2421.2, filledQty: qty, avgEntry: 2421.2 });
    expect((second[0] as { qty: number }).qty).toBeCloseTo(qty - 1, 9);
    expect(second[0]!.eventId).not.toBe(first[0]!.eventId);
    expect(v.server.orderCreates()[1]).toMatchObject({ side: 'Sell', timeInForce: 'PostOnly', reduceOnly: true, price: '2440.00', qty: qty.toFixed(2) });
  });
});

describe('idempotent placement', () => {
  it('the same core events twice, and an order sent before a crash, never make a second order', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    const sig = LONG();
    const group = 'tg:' + sig.signalId;
    // the previous attempt reached the exchange, then the process died before recording it
    await v.client.placeLimitOrder({ symbol: 'BTCUSDT', side: 'Buy', price: '109100.00', qty: '0.166', postOnly: true, reduceOnly: false, clientOrderId: clientOrderId(group, 'e0') });
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
  it('an entry is CANCELLED (not re-priced) and reported; the caller cancels the group in the core', async () => {
    // the market (12:21 close 109026.8) is already below the LONG limit 109100: a buy there would take liquidity
    v.server.setPrice('BTCUSDT', candleAt('12:21').close);
    const sig = signal({ ts: at('12:22'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
    const r = await trading.applySignal(sig, null, sig.ts);
    const live = await exec.onEvents(r.events, { state: r.state }, sig.ts);
    expect(live.map((e) => e.type)).toEqual(['live_order_issue', 'live_group_cancelled']);
    expect(live[0]).toMatchObject({ issue: 'post_only_would_cross', action: 'entry_cancelled', leg: 'e0' });
    expect(v.server.allOrders()).toEqual([expect.objectContaining({ status: 'Cancelled', rejectReason: 'EC_PostOnlyWillTakeLiquidity' })]);
    expect(v.server.orderCreates()).toHaveLength(1);

    // wiring: live_group_cancelled -> TradingStore.closeGroup (no fill: the core cancels the entries)
    const c = await trading.closeGroup(live[1]!.groupId, candleAt('12:21').close, sig.ts);
    expect(c.events.map((e) => e.type)).toEqual(['entry_timeout']);
    expect(c.state.account.positions).toHaveLength(0);
  });

  it('a take profit the market already passed is re-sent as GTC at the same price and fills at once', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    // the executor is polled late: the entry filled at 12:21, the next poll is after the 12:30 spike
    const { live } = await run(
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
    expect(live.find((e) => e.type === 'live_order_issue')).toMatchObject({ issue: 'post_only_would_cross', action: 'replaced_gtc', leg: 't0' });
    const closed = live.find((e) => e.type === 'position_closed');
    if (closed?.type !== 'position_closed') throw new Error('no close');
    // filled at the market (12:30 close 109739.9, better than the 109650 limit) as taker
    expect(closed.trade).toMatchObject({ exitReason: 'take_profit', exitPrice: 109739.9, qty: 0.166 });
    expect(closed.trade.fees).toBeCloseTo(109100 * 0.166 * BYBIT_MAKER_FEE_RATE + 109739.9 * 0.166 * BYBIT_TAKER_FEE_RATE, 9);
  });
});

describe('paper is the default', () => {
  it('with no mode stored, core events place nothing on the exchange', async () => {
    const paperStore = memoryStore();
    try {
      const t = new TradingStore(paperStore, { accountId: 'main', config: defaultCfg() });
      const e = new LiveExecutor({ venue: v.client, store: paperStore, accountId: 'main' });
      const r = await t.applySignal(LONG(), null, LONG().ts);
      expect(r.decision.accepted).toBe(true);
      expect(await e.onEvents(r.events, { state: r.state }, LONG().ts)).toEqual([]);
      expect(await e.openGroups()).toEqual([]);
      expect(v.server.requests.filter((x) => x.path.startsWith('/v5/order'))).toHaveLength(0);
    } finally {
      await paperStore.close();
    }
  });
});

describe('orphaned fill (the exchange filled on a touch, the paper core did not)', () => {
  it('when the core times the group out, the live lot is flattened with a bounded GTC limit, not left unprotected', async () => {
    // 2025-06-11 00:12 UTC: the low is exactly 109930.4 and the next 4 minutes stay above it. Bybit fills
    // a resting buy on the touch; the paper core fills only when price trades THROUGH (book.ts).
    const d = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
    const candles = realBtc1m().filter((c) => c.openTime >= d('00:12') && c.openTime <= d('00:17'));
    v.server.setPrice('BTCUSDT', realBtc1m().find((c) => c.openTime === d('00:11'))!.close);
    const sig = signal({ ts: d('00:12'), strategy: 'levels_exhaustion', entries: [109930.4], stopLoss: 109600, takeProfit: 110400, maxHoldMs: 60 * MIN });
    const { live, core } = await run(candles, [sig]);
    expect(core.filter((e) => e.type !== 'protection').map((e) => e.type)).toEqual(['order_placed', 'entry_timeout']);
    expect(live.map((e) => (e.type === 'live_order_issue' ? `${e.type}:${e.issue}` : e.type))).toEqual([
      'entry_filled',
      'live_order_issue:orphaned_fill',
      'exit_filled',
      'position_closed',
    ]);
    const flatClose = candles.find((c) => c.openTime === d('00:16'))!.close;
    const exit = v.server.orderCreates().at(-1)!;
    expect(exit).toMatchObject({ side: 'Sell', timeInForce: 'GTC', reduceOnly: true, orderType: 'Limit' });
    expect(Number(exit.price)).toBeCloseTo(Math.ceil((flatClose * 0.995) / 0.1 - 1e-9) * 0.1, 6);
    const closed = live.at(-1);
    if (closed?.type !== 'position_closed') throw new Error('no close');
    expect(closed.trade).toMatchObject({ exitReason: 'entry_timeout', avgEntry: 109930.4 });
    expect(v.server.position('BTCUSDT')).toBe(0);
  });
});
