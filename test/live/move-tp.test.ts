/**
 * Owner "move TP" on a LIVE group, end to end: the trading core (TradingStore.moveTakeProfit, one
 * take_profit_moved event) -> LiveExecutor -> bybit-api client -> local Bybit v5 trade server driven
 * with the real BTCUSDT 1m candles of 2025-06-11 (test/fixtures/trading) and ETHUSDT 1m of 2025-06-28
 * (test/fixtures/replay). The resting take profit is cancelled and re-placed as a PostOnly reduce-only
 * limit at the new (rounded) level under a new client id; never a market order.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BYBIT_MAKER_FEE_RATE } from '../../infra/replay/bybit-trade-server.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { Candle } from '../../shared/model/market.js';
import type { TradingEvent } from '../../shared/trading/core.js';
import { LiveExecutor, type LiveResult } from '../../shared/trading/live/executor.js';
import type { LiveEvent } from '../../shared/trading/live/ledger.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import { clientOrderId } from '../../shared/trading/live/orders.js';
import type { Signal, PositionClosedEvent } from '../../shared/model/trading.js';
import { TradingStore } from '../../shared/trading/store.js';
import { MIN, defaultCfg, realBtc1m, signal } from '../trading/helpers.js';
import { candlesFrom, FIXTURES, memoryStore, playCandle, startVenue, type Venue } from './helpers.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';

const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
const candleAt = (hhmm: string) => BTC.find((c) => c.openTime === at(hhmm))!;
const between = (from: string, to: string) => BTC.filter((c) => c.openTime >= at(from) && c.openTime <= at(to));

let v: Venue;
let store: SqliteStateStore;
let trading: TradingStore;
let exec: LiveExecutor;
let core: TradingEvent[];
let issues: LiveEvent[];

const take = (x: LiveResult) => {
  core.push(...x.events);
  issues.push(...x.issues);
};

beforeEach(async () => {
  v = await startVenue();
  store = memoryStore();
  trading = new TradingStore(store, { accountId: 'main', config: defaultCfg() });
  exec = new LiveExecutor({ venue: v.client, store, accountId: 'main', trading });
  core = [];
  issues = [];
  await setTradingMode(store, { actor: 'owner', actorId: 'owner', mode: 'live' }, at('00:00'));
});
afterEach(async () => {
  expect(v.server.violations).toHaveLength(0);
  for (const body of v.server.orderCreates()) expect(body.orderType).toBe('Limit');
  await v.stop();
  await store.close();
});

/** The execution loop in live mode: per candle the exchange is polled, then the candle goes to the core. */
async function run(candles: Candle[], signals: Signal[] = [], opts: { reconcile?: boolean } = {}): Promise<void> {
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
    if (opts.reconcile ?? true) take(await exec.reconcile(now, marks));
    const r = await trading.applyCandle(c, null, now);
    core.push(...r.events);
    take(await exec.onEvents(r.events, { state: r.state, marks }, now));
  }
}

/** The owner's Telegram command as the execution function applies it (core, then the live executor). */
async function moveTp(groupId: string, symbol: string, takeProfit: number, commandId: string, now: number) {
  const r = await trading.moveTakeProfit({ commandId, actorId: 'owner', ts: now, groupId, symbol, takeProfit, dashboard: { ...DEFAULT_TELEGRAM_CONFIG.dashboard, takeProfitMaxPct: 20 } }, now);
  core.push(...r.events);
  take(await exec.onEvents(r.events, { state: r.state }, now));
  return r;
}

const closedOf = (evs: readonly TradingEvent[]) => evs.filter((e): e is PositionClosedEvent => e.type === 'position_closed').map((e) => e.trade);
const cancels = () => v.server.requests.filter((r) => r.path === '/v5/order/cancel').map((r) => [r.body?.orderLinkId, r.retCode]);

const LONG = () => signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });

describe('move TP of a live group', () => {
  it('cancels the resting take profit, re-places it PostOnly reduce-only at the new rounded level; the trade closes there; a redelivered command places nothing more', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    const sig = LONG();
    const group = `tg:${sig.signalId}`;
    await run(between('12:18', '12:25'), [sig]);
    expect(v.server.orderCreates().map((b) => [b.orderLinkId, b.timeInForce, b.price])).toEqual([
      [clientOrderId(group, 'e0'), 'PostOnly', '109100.00'],
      [clientOrderId(group, 't0'), 'PostOnly', '109650.00'],
    ]);

    // the owner raises the take profit before the 12:30 spike; a SELL rounds UP to the 0.10 tick
    const now = at('12:26');
    const r = await moveTp(group, 'BTCUSDT', 109800.05, 'tg:77', now);
    expect(r).toMatchObject({ applied: true, outcome: 'applied' });
    expect(r.events).toEqual([expect.objectContaining({ type: 'take_profit_moved', from: 109650, to: 109800.05, eventId: `${group}:tp:tg:77` })]);
    expect(cancels()).toEqual([[clientOrderId(group, 't0'), 0]]);
    expect(v.server.orderCreates()[2]).toEqual({
      category: 'linear',
      symbol: 'BTCUSDT',
      side: 'Sell',
      orderType: 'Limit',
      qty: '0.105',
      price: '109800.10',
      timeInForce: 'PostOnly',
      orderLinkId: clientOrderId(group, 't0r1'),
      reduceOnly: true,
    });
    expect(v.server.allOrders().map((o) => [o.orderLinkId, o.status])).toEqual([
      [clientOrderId(group, 'e0'), 'Filled'],
      [clientOrderId(group, 't0'), 'Cancelled'],
      [clientOrderId(group, 't0r1'), 'New'],
    ]);

    // the same command delivered again: the core replays its stored event, the ledger ignores it
    const again = await moveTp(group, 'BTCUSDT', 109800.05, 'tg:77', now);
    expect(again.applied).toBe(false);
    expect(again.events).toEqual(r.events);
    expect(v.server.orderCreates()).toHaveLength(3);
    expect(cancels()).toHaveLength(1);
    expect((await exec.group(group))?.legs.map((l) => [l.leg, l.status])).toEqual([
      ['e0', 'Filled'],
      ['t0', 'Cancelled'],
      ['t0r1', 'New'],
    ]);

    // the 12:30 spike (high 109850) passes through 109800.10: the NEW take profit fills as maker
    await run(between('12:26', '12:31'));
    expect(v.server.orderCreates()).toHaveLength(3);
    const [closed] = closedOf(core);
    const entryFee = 109100 * 0.105 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109800.1 * 0.105 * BYBIT_MAKER_FEE_RATE;
    expect(closed).toMatchObject({ exitReason: 'take_profit', avgEntry: 109100, exitPrice: 109800.1, qty: 0.105 });
    expect(closed!.fees).toBeCloseTo(entryFee + exitFee, 9);
    expect(closed!.pnl).toBeCloseTo((109800.1 - 109100) * 0.105 - entryFee - exitFee, 9);
    expect(core.filter((e) => e.type === 'exit_filled')).toEqual([expect.objectContaining({ eventId: `${group}:exit:${clientOrderId(group, 't0r1')}:0.105`, price: 109800.1, qty: 0.105, reason: 'take_profit' })]);
    expect(v.server.position('BTCUSDT')).toBe(0);
    expect(issues).toEqual([]);
    expect((await exec.group(group))?.status).toBe('closed');
    expect((await trading.read(at('12:32'))).account.positions).toHaveLength(0);
  });

  it('a cancel that races the take-profit fill keeps the fill and places nothing', async () => {
    v.server.setPrice('BTCUSDT', candleAt('12:17').close);
    const sig = LONG();
    const group = `tg:${sig.signalId}`;
    await run(between('12:18', '12:29'), [sig]);
    // the 12:30 spike fills t0 (109650) on the exchange; the executor has not polled since
    playCandle(v.server, candleAt('12:30'));
    expect(v.server.allOrders().find((o) => o.orderLinkId === clientOrderId(group, 't0'))?.status).toBe('Filled');

    await moveTp(group, 'BTCUSDT', 109900, 'tg:78', at('12:30') + 30_000);
    // Bybit answers 110001 (order already finished): its Filled status is booked, no replacement
    expect(cancels()).toEqual([[clientOrderId(group, 't0'), 110001]]);
    expect(v.server.orderCreates().map((b) => b.orderLinkId)).toEqual([clientOrderId(group, 'e0'), clientOrderId(group, 't0')]);
    const [closed] = closedOf(core);
    expect(closed).toMatchObject({ exitReason: 'take_profit', exitPrice: 109650, qty: 0.105 });
    expect(v.server.position('BTCUSDT')).toBe(0);
    expect((await exec.group(group))?.status).toBe('closed');
    expect(issues).toEqual([]);
  });

  it('a partly filled take profit: the replacement covers only what the lot still holds', async () => {
    const eth = candlesFrom(join(FIXTURES, 'replay', 'ETHUSDT_1m.csv'), 'ETHUSDT');
    const c0 = eth[0]!;
    const ts = c0.openTime + MIN;
    v.server.setPrice('ETHUSDT', c0.close); // 2422.81
    const sig = signal({ ts, symbol: 'ETHUSDT', strategy: 'levels_exhaustion', entries: [2421.2], stopLoss: 2409.1, takeProfit: 2440, signalId: 'eth-move' });
    const group = `tg:${sig.signalId}`;
    const r = await trading.applySignal(sig, null, ts);
    take(await exec.onEvents(r.events, { state: r.state }, ts));
    v.server.trade('ETHUSDT', 2420.5); // the entry fills at its limit
    take(await exec.reconcile(ts + MIN));
    const qty = Number(v.server.orderCreates()[0]!.qty); // 3.13
    v.server.trade('ETHUSDT', 2440, 1); // 1 ETH of the take profit fills
    take(await exec.reconcile(ts + 2 * MIN));
    expect(core.filter((e) => e.type === 'exit_filled')).toEqual([expect.objectContaining({ qty: 1, price: 2440 })]);

    await moveTp(group, 'ETHUSDT', 2450.004, 'tg:79', ts + 3 * MIN);
    expect(cancels()).toEqual([[clientOrderId(group, 't0'), 0]]);
    const repl = v.server.orderCreates()[2];
    expect(repl).toMatchObject({ side: 'Sell', orderType: 'Limit', timeInForce: 'PostOnly', reduceOnly: true, price: '2450.01', qty: (qty - 1).toFixed(2), orderLinkId: clientOrderId(group, 't0r1') });

    v.server.trade('ETHUSDT', 2450.01);
    take(await exec.reconcile(ts + 4 * MIN));
    const [closed] = closedOf(core);
    expect(closed).toMatchObject({ exitReason: 'take_profit', qty });
    expect(closed!.exitPrice).toBeCloseTo((2440 * 1 + 2450.01 * (qty - 1)) / qty, 9);
    expect(v.server.position('ETHUSDT')).toBeCloseTo(0, 12);
    expect(v.server.orderCreates()).toHaveLength(3);
  });
});
