/**
 * The dashboard's move SL and close on a LIVE group, through the REAL execution function on the
 * in-process bus, the LiveExecutor and the local Bybit v5 private REST server (limit-only matching
 * engine driven with the REAL BTCUSDT 1m prices of 2025-06-11, test/fixtures/trading; instruments: the
 * recorded instruments-info of test/live/fixtures):
 * - a moved stop needs no exchange action (no order rests at the stop: the core decides stops on
 *   candles); the next candle touching it decides the stop exit, which the executor carries out;
 * - a close decides a manual exit at the mark, carried out with a bounded GTC limit; the exchange's
 *   fill closes the group (row mode live). (A live group whose exit is decided but not filled yet
 *   refuses both commands: test/trading/owner-levels-commands.test.ts.)
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BybitTradeServer } from '../../infra/replay/bybit-trade-server.js';
import { envSecrets } from '../../infra/secrets.js';
import type { Candle } from '../../shared/model/market.js';
import type { PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import type { TradeCommand } from '../../shared/messages.js';
import { clientOrderId } from '../../shared/trading/live/orders.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import { liveGroupPath } from '../../shared/state-paths.js';
import type { LiveGroup } from '../../shared/trading/live/ledger.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { realBtc1m, signal } from '../trading/helpers.js';
import { executionHarness, type Harness } from './harness.js';

const API_KEY = 'dash-live-test-key-7Kd2';
const API_SECRET = 'dash-live-test-secret-Wq93xZr1';
const INSTRUMENTS = join(import.meta.dirname, '..', 'live', 'fixtures', 'instruments_info_linear.json');
const MIN = 60_000;
const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:05') && c.openTime <= at('12:50'));
const between = (a: string, b: string) => BTC.filter((c) => c.openTime >= at(a) && c.openTime < at(b));
const LONG = (id: string) => signal({ signalId: `v52_divergence:BTCUSDT:${id}`, ts: at('12:18'), entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });

let server: BybitTradeServer;
let h: Harness;

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
const dash = <T extends TradeCommand['type']>(type: T, id: string, extra: Omit<Extract<TradeCommand, { type: T }>, 'type' | 'commandId' | 'actorId' | 'ts' | 'origin'>) =>
  ({ type, commandId: `dash:${id}`, actorId: '42', ts: h.clock.now(), origin: 'dashboard', ...extra }) as unknown as TradeCommand;
const eventTypes = () => [...new Map(h.tradeEvents.map((e) => [e.eventId, e.type])).values()];
const trade = <T extends TradeEvent['type']>(type: T) => h.tradeEvents.find((e) => e.type === type) as Extract<TradeEvent, { type: T }> | undefined;
const confirmation = (id: string) => h.alerts.find((a) => a.alertId === `owner_command:dash:${id}`);
/** Order creates and cancels (what changes the exchange), not the status polls. */
const orderWrites = () => server.requests.filter((r) => r.path === '/v5/order/create' || r.path === '/v5/order/cancel').length;

beforeEach(async () => {
  server = new BybitTradeServer({ apiKey: API_KEY, apiSecret: API_SECRET, instrumentsFile: INSTRUMENTS });
  const url = await server.start();
  const keys = envSecrets({ CST_BYBIT_API_KEY: API_KEY, CST_BYBIT_API_SECRET: API_SECRET });
  h = await executionHarness({ start: at('12:05'), bybitRest: url, secrets: { get: (name) => keys.get(name) } });
  await run(between('12:05', '12:18'));
  await setTradingMode(h.state, { actor: 'owner', actorId: '42', mode: 'live', reason: 'test' }, h.clock.now());
  server.setPrice('BTCUSDT', BTC.find((c) => c.openTime === at('12:17'))!.close);
});

afterEach(async () => {
  expect(server.violations).toEqual([]);
  for (const body of server.orderCreates()) expect(body.orderType).toBe('Limit');
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
  await server.stop();
});

describe('dashboard commands on a live group', () => {
  it('move SL: no exchange request; the candle touching the moved stop decides the exit, carried out on the exchange', async () => {
    const sig = LONG('dash-live-sl');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:22')); // the exchange fills e0 during 12:21
    expect((await h.doc())!.state.account.positions[0]).toMatchObject({ status: 'open', avgEntry: 109100 });
    // first out of the 12:30 spike's reach: the resting take profit is re-placed (t0 -> t0r1)
    await h.command(dash('move_tp', 'l1-tp', { groupId: group, symbol: 'BTCUSDT', takeProfit: 110500 }));
    expect(server.orderCreates().at(-1)).toMatchObject({ price: '110500.00', orderLinkId: clientOrderId(group, 't0r1') });
    await run(between('12:22', '12:32')); // 12:31 closes 109789.9: the mark

    const writes = orderWrites();
    const moveSl = dash('move_sl', 'l1-sl', { groupId: group, symbol: 'BTCUSDT', stopLoss: 109700 });
    await h.command(moveSl);
    await h.command(moveSl);
    expect(orderWrites()).toBe(writes); // nothing placed or cancelled for a stop
    expect(trade('stop_loss_moved')).toMatchObject({ groupId: group, from: 108800, to: 109700 });
    expect((await h.doc())!.state.account.positions[0]!.stopLoss).toBe(109700);
    // the live ledger records the level (it places no order for it)
    expect((await h.state.get<LiveGroup>(liveGroupPath(PAPER_ACCOUNT_ID, group)))?.stopLoss).toBe(109700);
    expect(confirmation('l1-sl')).toMatchObject({ severity: 'info', details: { outcome: 'applied' } });

    // 12:32 (low 109700) touches it: exit decided, the take profit cancelled, a bounded GTC exit placed and filled
    await run(between('12:32', '12:40'));
    expect(trade('exit_decided')).toMatchObject({ reason: 'stop_loss', price: 109700 });
    const closed = trade('position_closed') as PositionClosedEvent;
    expect(closed.trade.exitReason).toBe('stop_loss');
    expect((await h.warehouse.rows('paper_trades')).map((r) => [r.mode, r.exit_reason])).toEqual([['live', 'stop_loss']]);
    expect(closed.trade.pnl).toBeGreaterThan(0);
    expect(server.position('BTCUSDT')).toBe(0);
    expect((await h.doc())!.state.account.positions).toEqual([]);
  });

  it('close: a manual exit decided at the mark, carried out with a bounded limit; the exchange fill closes the group; later commands are refused', async () => {
    const sig = LONG('dash-live-close');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:25')); // filled during 12:21; 12:24 closes 109064.2
    const writes = orderWrites();
    await h.command(dash('close_position', 'l2-close', { groupId: group, symbol: 'BTCUSDT' }));
    expect(trade('exit_decided')).toMatchObject({ reason: 'manual', price: 109064.2 });
    expect(confirmation('l2-close')).toMatchObject({ severity: 'info', details: { outcome: 'applied', detail: 'close decided at 109064.2' } });
    expect(orderWrites()).toBeGreaterThan(writes);
    const exit = server.orderCreates().find((o) => o.orderLinkId === clientOrderId(group, 'x0'));
    expect(exit).toMatchObject({ side: 'Sell', orderType: 'Limit', reduceOnly: true });
    expect(Number(exit!.price)).toBeLessThan(109064.2);

    // the bounded limit crossed the market: the exchange filled it at once, and the command's own reconcile booked it
    expect(eventTypes()).toEqual(['order_placed', 'entry_filled', 'exit_decided', 'exit_filled', 'position_closed']);
    expect((trade('position_closed') as PositionClosedEvent).trade.exitReason).toBe('manual');
    expect((await h.warehouse.rows('paper_trades')).map((r) => [r.mode, r.exit_reason])).toEqual([['live', 'manual']]);
    expect(server.position('BTCUSDT')).toBe(0);
    expect((await h.doc())!.state.account.positions).toEqual([]);

    // closed: another close or a stop move is refused with the reason, nothing more is sent
    const afterClose = server.orderCreates().length;
    await h.command(dash('close_position', 'l2-again', { groupId: group, symbol: 'BTCUSDT' }));
    expect(confirmation('l2-again')).toMatchObject({ severity: 'warning', details: { outcome: 'unknown_group' } });
    await h.command(dash('move_sl', 'l2-sl', { groupId: group, symbol: 'BTCUSDT', stopLoss: 108900 }));
    expect(confirmation('l2-sl')).toMatchObject({ details: { outcome: 'unknown_group' } });
    await run(between('12:25', '12:28'));
    expect(server.orderCreates()).toHaveLength(afterClose);
  });
});
