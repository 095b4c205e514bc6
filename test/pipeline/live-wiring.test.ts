/**
 * Live execution wired behind the owner's switch, end to end through the REAL execution function on
 * the in-process bus: micro signal and closed Bybit 1m candles in, trading core (TradingStore) ->
 * LiveExecutor -> bybit-api RestClientV5 (infra/bybit/live-venue.ts, keys from the root's SecretSource) ->
 * the local Bybit v5 private REST server (signature checks, limit-only matching engine driven with the
 * REAL BTCUSDT 1m prices of 2025-06-11, test/fixtures/trading; instruments: the real recorded
 * instruments-info of test/live/fixtures).
 *
 * - paper (the default), keys configured: the same signal and candles trade on paper and the exchange
 *   sees no request at all;
 * - owner switches to live: a PostOnly Limit entry, the exchange fill booked by the next candle's
 *   reconcile, the PostOnly take profit filled, the closed trade row in `paper_trades` has mode `live`;
 * - live without keys: signals rejected `live_unavailable`, ONE critical alert, no request.
 * The server refuses and records any non-limit order: `violations` stays empty throughout.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BybitTradeServer, BYBIT_MAKER_FEE_RATE } from '../../infra/replay/bybit-trade-server.js';
import { envSecrets } from '../../infra/secrets.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import type { Candle } from '../../shared/model/market.js';
import { clientOrderId } from '../../shared/trading/live/orders.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import type { PositionClosedEvent, SignalRejectedEvent } from '../../shared/model/trading.js';
import { signalMarkerPath } from '../../shared/state-paths.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { realBtc1m, signal } from '../trading/helpers.js';
import { executionHarness, type Harness } from './harness.js';

const API_KEY = 'wiring-test-key-4Fz8';
const API_SECRET = 'wiring-test-secret-Qm27vLp0';
const INSTRUMENTS = join(import.meta.dirname, '..', 'live', 'fixtures', 'instruments_info_linear.json');
const MIN = 60_000;
const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:05') && c.openTime <= at('12:35'));
const before = (hhmm: string) => BTC.filter((c) => c.openTime < at(hhmm));
const from = (hhmm: string) => BTC.filter((c) => c.openTime >= at(hhmm));
/** The micro signal of the 12:17 candle (decision at its close, 12:18): LONG 109100, TP 109650. */
const LONG = (id = 'v52_divergence:BTCUSDT:live-1') => signal({ signalId: id, ts: at('12:18'), entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });

let server: BybitTradeServer;
let h: Harness;
/** The keys the root's SecretSource reads (Secret Manager in the cloud; a test swaps them). */
let keys: SecretSource;

/** The market trades through the candle (open, the extreme against its direction, the other, close). */
function play(c: Candle): void {
  const path = c.close >= c.open ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
  for (const p of path) server.trade(c.symbol, p);
}

async function run(candles: Candle[]): Promise<void> {
  for (const c of candles) {
    play(c);
    await h.candle(c);
  }
}

const orderRequests = () => server.requests.filter((r) => r.path.startsWith('/v5/order'));

beforeEach(async () => {
  server = new BybitTradeServer({ apiKey: API_KEY, apiSecret: API_SECRET, instrumentsFile: INSTRUMENTS });
  const url = await server.start();
  keys = envSecrets({ CST_BYBIT_API_KEY: API_KEY, CST_BYBIT_API_SECRET: API_SECRET });
  h = await executionHarness({ start: at('12:05'), bybitRest: url, secrets: { get: (name) => keys.get(name) } });
});

afterEach(async () => {
  // never a market order: the server refused and recorded none, every create was a Limit
  expect(server.violations).toEqual([]);
  for (const body of server.orderCreates()) expect(body.orderType).toBe('Limit');
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
  await server.stop();
});

describe('the execution function with live wiring', () => {
  it('paper (default, keys configured): the signal trades on paper and the exchange sees no request at all', async () => {
    await run(before('12:18'));
    await h.signal(LONG());
    await run(from('12:18'));
    const types = h.tradeEvents.map((e) => e.type);
    expect(types[0]).toBe('order_placed');
    expect(types).toContain('position_closed');
    const rows = await h.warehouse.rows('paper_trades');
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.mode).toBe('paper');
    expect(server.requests).toEqual([]);
    expect((await h.doc())?.state.account.positions).toEqual([]);
  });

  it('owner switches to live: PostOnly limit entry, exchange fill booked on the next candle, take profit fill closes it; the row has mode live', async () => {
    await run(before('12:18'));
    const sw = await setTradingMode(h.state, { actor: 'owner', actorId: '42', mode: 'live', reason: 'test' }, h.clock.now());
    expect(sw).toMatchObject({ ok: true, changed: true, mode: 'live' });
    const sig = LONG();
    const group = `tg:${sig.signalId}`;
    server.setPrice('BTCUSDT', BTC.find((c) => c.openTime === at('12:17'))!.close); // the market when the signal arrives
    await h.signal(sig);

    // the accepted signal went out at once as ONE PostOnly limit entry: core qty 50 / 403.408032 (risk 50 with
    // maker/taker costs: (109100 - 108800 x 0.9998) + 0.0002 x 109100 + 0.00055 x 108778.24 = 403.408032 per BTC,
    // costs.test.ts) = 0.12394 BTC, on the 0.001 step
    expect(server.orderCreates()).toEqual([
      { category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Limit', qty: '0.123', price: '109100.00', timeInForce: 'PostOnly', orderLinkId: clientOrderId(group, 'e0'), reduceOnly: false },
    ]);
    // every private (order) request was signed with the configured key
    expect(orderRequests().length).toBeGreaterThan(0);
    expect(orderRequests().every((r) => r.authenticated && r.auth?.apiKey === API_KEY)).toBe(true);
    const placed = (await h.doc())!.state.account.positions[0]!;
    expect(placed.external).not.toBeNull();
    expect(placed.status).toBe('pending');

    // the driven market trades down to 109100 during 12:21; the 12:21 candle's message reconciles first
    const fillCandle = from('12:18').findIndex((c) => c.openTime === at('12:21'));
    await run(from('12:18').slice(0, fillCandle));
    expect((await h.doc())!.state.account.positions[0]!.status).toBe('pending');
    expect(h.tradeEvents.map((e) => e.type)).toEqual(['order_placed']);
    await run([from('12:18')[fillCandle]!]);
    // the fill happened while the 12:21 candle traded; its own message polled it before the candle
    const afterFill = (await h.doc())!.state.account.positions[0]!;
    expect(afterFill).toMatchObject({ status: 'open', filledQty: 0.123, avgEntry: 109100 });
    expect(h.tradeEvents.map((e) => e.type)).toEqual(['order_placed', 'entry_filled']);
    expect(h.tradeEvents[1]).toMatchObject({ orderId: `${group}:e0`, price: 109100, qty: 0.123, ts: at('12:22') });
    // ...and the take profit went out PostOnly reduce-only
    expect(server.orderCreates()[1]).toMatchObject({ side: 'Sell', orderType: 'Limit', timeInForce: 'PostOnly', reduceOnly: true, price: '109650.00', qty: '0.123', orderLinkId: clientOrderId(group, 't0') });

    // the owner's "move TP" on a LIVE group: the resting t0 is cancelled and re-placed at the new level
    // under a new client id; the redelivered command places nothing more
    const moveTp = { type: 'move_tp' as const, commandId: 'tg:900', actorId: '42', ts: h.clock.now(), groupId: group, symbol: 'BTCUSDT', takeProfit: 109800 };
    await h.command(moveTp);
    await h.command(moveTp);
    const issues = () => [...new Map(h.alerts.filter((a) => a.kind === 'live_order_issue').map((a) => [a.alertId, a])).values()];
    expect(issues()).toEqual([]);
    expect((await h.doc())!.state.account.positions[0]!.takeProfit).toBe(109800);
    expect(server.requests.filter((r) => r.path === '/v5/order/cancel').map((r) => [r.body?.orderLinkId, r.retCode])).toEqual([[clientOrderId(group, 't0'), 0]]);
    expect(server.orderCreates()).toHaveLength(3);
    expect(server.orderCreates()[2]).toMatchObject({ side: 'Sell', orderType: 'Limit', timeInForce: 'PostOnly', reduceOnly: true, price: '109800.00', qty: '0.123', orderLinkId: clientOrderId(group, 't0r1') });

    await run(from('12:22'));
    // the redelivered command re-published its stored event (same eventId: downstream de-duplicates)
    const types = [...new Map(h.tradeEvents.map((e) => [e.eventId, e.type])).values()];
    expect(types).toEqual(['order_placed', 'entry_filled', 'take_profit_moved', 'exit_filled', 'position_closed']);
    const closed = h.tradeEvents.at(-1) as PositionClosedEvent;
    const entryFee = 109100 * 0.123 * BYBIT_MAKER_FEE_RATE;
    const exitFee = 109800 * 0.123 * BYBIT_MAKER_FEE_RATE;
    const pnl = (109800 - 109100) * 0.123 - entryFee - exitFee;
    // the 12:30 spike (high 109850) filled the MOVED take profit as maker
    expect(closed.trade).toMatchObject({ exitReason: 'take_profit', avgEntry: 109100, exitPrice: 109800, qty: 0.123, exitTime: at('12:31') });
    expect(closed.trade.pnl).toBeCloseTo(pnl, 9);

    // the warehouse row of the closed trade: mode live, the exchange's prices and fees
    const rows = await h.warehouse.rows('paper_trades');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ mode: 'live', trade_group_id: group, entry_price: 109100, exit_price: 109800, qty: 0.123, exit_reason: 'take_profit' });
    expect(Number(rows[0]!.pnl)).toBeCloseTo(pnl, 9);
    const doc = (await h.doc())!;
    expect(doc.state.account.positions).toEqual([]);
    expect(doc.state.account.realizedPnl).toBeCloseTo(pnl, 9);
    expect(server.position('BTCUSDT')).toBe(0);
    expect(server.orderCreates()).toHaveLength(3);
    expect(issues()).toEqual([]);

    // a redelivered signal is safe: the stored events go to the executor again, no second order
    await h.signal(sig);
    expect(server.orderCreates()).toHaveLength(3);
  });

  it('live without keys: signals are rejected live_unavailable, one critical alert, no request', async () => {
    keys = envSecrets({});
    await run(before('12:18'));
    await setTradingMode(h.state, { actor: 'owner', actorId: '42', mode: 'live' }, h.clock.now());
    await h.signal(LONG('v52_divergence:BTCUSDT:nokeys-1'));
    await h.clock.advance(MIN);
    await h.signal({ ...LONG('v52_divergence:BTCUSDT:nokeys-2'), ts: at('12:18') + 30_000 });
    await run(from('12:18').slice(0, 3));
    for (const id of ['v52_divergence:BTCUSDT:nokeys-1', 'v52_divergence:BTCUSDT:nokeys-2']) {
      const m = await h.state.get<{ decision: { accepted: boolean; reason: string; detail: string } }>(signalMarkerPath(PAPER_ACCOUNT_ID, id));
      expect(m?.decision).toMatchObject({ accepted: false, reason: 'live_unavailable' });
      expect(m?.decision.detail).toMatch(/bybit-api-key and bybit-api-secret are not configured/);
    }
    const live = h.alerts.filter((a) => a.kind === 'live_order_issue');
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ severity: 'critical', subject: 'trading/mode' });
    expect(live[0]!.message).toMatch(/No order is sent/);
    // no trade: each signal's one outcome on trade-events is its rejection
    expect(h.tradeEvents.map((e) => [e.type, e.signalId, (e as SignalRejectedEvent).reason])).toEqual([
      ['signal_rejected', 'v52_divergence:BTCUSDT:nokeys-1', 'live_unavailable'],
      ['signal_rejected', 'v52_divergence:BTCUSDT:nokeys-2', 'live_unavailable'],
    ]);
    expect(server.requests).toEqual([]);
    expect(orderRequests()).toEqual([]);
  });
});
