/**
 * The dashboard's owner commands (`trade-commands` with `origin: 'dashboard'`: move TP, move SL, close)
 * through the REAL execution function on the in-process bus, on REAL BTCUSDT 1m candles of 2025-06-11
 * (test/fixtures/trading), paper mode: each is decided by the core within ownerLevelBounds (the rule
 * the dashboard's sliders are drawn with), idempotent by commandId, and confirmed by ONE `owner_command`
 * alert (applied, or refused with its reason) for the owner's chat.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Candle } from '../../shared/model/market.js';
import type { PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import type { Alert, TradeCommand } from '../../shared/messages.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { systemAlertText } from '../../shared/telegram/format.js';
import { groupLevelBounds, groupMark, ownerLevelBounds, ownerLevelConfig, ownerLevelLimits } from '../../shared/trading/owner-levels.js';
import { realBtc1m, signal } from '../trading/helpers.js';
import { executionHarness, type Harness } from './harness.js';

const MIN = 60_000;
const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:05') && c.openTime <= at('13:05'));
const between = (a: string, b: string) => BTC.filter((c) => c.openTime >= at(a) && c.openTime < at(b));
/** The micro signal of the 12:17 candle (decision at its close): LONG 109100 (fills 12:21), SL 108800, TP 109650. */
const LONG = (id: string) => signal({ signalId: `v52_divergence:BTCUSDT:${id}`, ts: at('12:18'), entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
const LEVELS = ownerLevelConfig(DEFAULT_STRATEGY_CONFIGS, DEFAULT_TELEGRAM_CONFIG.dashboard);

let h: Harness;
afterEach(async () => {
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
});

async function run(candles: Candle[]): Promise<void> {
  for (const c of candles) await h.candle(c);
}
const dash = <T extends TradeCommand['type']>(type: T, id: string, extra: Omit<Extract<TradeCommand, { type: T }>, 'type' | 'commandId' | 'actorId' | 'ts' | 'origin'>) =>
  ({ type, commandId: `dash:${id}`, actorId: '42', ts: h.clock.now(), origin: 'dashboard', ...extra }) as unknown as TradeCommand;
const tg = <T extends TradeCommand['type']>(type: T, id: number, extra: Omit<Extract<TradeCommand, { type: T }>, 'type' | 'commandId' | 'actorId' | 'ts' | 'origin'>) =>
  ({ type, commandId: `tg:${id}`, actorId: '42', ts: h.clock.now(), ...extra }) as unknown as TradeCommand;
/** The trade events of a type, one per event id (a redelivered command re-publishes its stored events: downstream de-dups by id). */
const trades = (type: TradeEvent['type']) => [...new Map(h.tradeEvents.filter((e) => e.type === type).map((e) => [e.eventId, e])).values()];
const confirmations = (): Alert[] => h.alerts.filter((a) => a.kind === 'owner_command');
const confirmation = (commandId: string): Alert[] => confirmations().filter((a) => a.alertId === `owner_command:${commandId}`);
const position = async () => (await h.doc())!.state.account.positions[0];

describe('dashboard move TP / move SL', () => {
  it('moves within the owner-level bounds, refuses outside them with the reason, confirms each command once; the candles exit at the moved stop', async () => {
    h = await executionHarness({ start: at('12:05') });
    await run(between('12:05', '12:18'));
    const sig = LONG('dash-levels');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:30')); // fills at 12:21 (low 109002.1 < 109100); 12:29 closes 109232.5

    // TP out of the 12:30 candle's reach (high 109850), inside the 20 % bound
    const moveTp = dash('move_tp', 'p1-tp', { groupId: group, symbol: 'BTCUSDT', takeProfit: 110500 });
    await h.command(moveTp);
    await h.command(moveTp); // the page retried with the same id
    expect(trades('take_profit_moved')).toEqual([expect.objectContaining({ groupId: group, from: 109650, to: 110500, commandId: 'dash:p1-tp' })]);
    expect(confirmation('dash:p1-tp')).toHaveLength(2); // re-published with the same id: the outbox sends it once
    expect(confirmation('dash:p1-tp')[0]).toMatchObject({ severity: 'info', subject: 'BTCUSDT', details: { outcome: 'applied', applied: true, origin: 'dashboard', groupId: group, takeProfit: 110500 } });
    expect(confirmation('dash:p1-tp')[0]!.message).toMatch(/^Move take profit BTCUSDT \(dashboard\): applied: 109650 -> 110500$/);
    // the TP max (config/telegram dashboard.takeProfitMaxPct 20 %) and the entry side
    await h.command(dash('move_tp', 'p1-tp-far', { groupId: group, symbol: 'BTCUSDT', takeProfit: 109100 * 1.21 }));
    await h.command(dash('move_tp', 'p1-tp-side', { groupId: group, symbol: 'BTCUSDT', takeProfit: 109000 }));
    expect(confirmation('dash:p1-tp-far')[0]).toMatchObject({ severity: 'warning', details: { outcome: 'out_of_bounds', applied: false } });
    expect(confirmation('dash:p1-tp-far')[0]!.message).toMatch(/refused \(out_of_bounds\).*20 % \(dashboard.takeProfitMaxPct\)/);
    expect(confirmation('dash:p1-tp-side')[0]).toMatchObject({ details: { outcome: 'invalid_level' } });

    await run(between('12:30', '12:32')); // 12:31 closes 109789.9: the mark
    const open = (await position())!;
    const doc = (await h.doc())!;
    const mark = groupMark(doc.state.account, open, h.clock.now(), LEVELS.maxMarkAgeMs);
    expect(mark).toBe(109789.9);
    const bounds = ownerLevelBounds(open, mark, ownerLevelLimits(LEVELS, open, doc.state.account));
    expect(groupLevelBounds(doc.state.account, group, LEVELS, h.clock.now())).toEqual({ ...bounds, mark });
    expect(groupLevelBounds(doc.state.account, 'tg:none', LEVELS, h.clock.now())).toBeNull();
    expect(bounds.stopLoss!.max).toBeLessThan(109789.9);
    // sized at the whole per-trade risk budget (0.5 % of 10000): the stop cannot widen past 108800
    expect(open.risk).toBeCloseTo(50, 6);
    expect(bounds.stopLoss!.min).toBeCloseTo(108800, 4);

    // SL at or above the mark (it would already be hit): refused; beyond the tier's cap: refused
    await h.command(dash('move_sl', 'p1-sl-mark', { groupId: group, symbol: 'BTCUSDT', stopLoss: 109789.9 }));
    await h.command(dash('move_sl', 'p1-sl-far', { groupId: group, symbol: 'BTCUSDT', stopLoss: 95000 }));
    expect(confirmation('dash:p1-sl-mark')[0]).toMatchObject({ severity: 'warning', details: { outcome: 'invalid_level', stopLoss: 109789.9 } });
    expect(confirmation('dash:p1-sl-far')[0]).toMatchObject({ details: { outcome: 'out_of_bounds' } });
    expect(confirmation('dash:p1-sl-far')[0]!.message).toMatch(/10 % \(the large_cap adaptive-stop cap\)/);
    // within the 10 % cap but wider than the risk budget allows: refused with the risk it would reserve
    await h.command(dash('move_sl', 'p1-sl-wide', { groupId: group, symbol: 'BTCUSDT', stopLoss: 108500 }));
    expect(confirmation('dash:p1-sl-wide')[0]).toMatchObject({ details: { outcome: 'out_of_bounds' } });
    expect(confirmation('dash:p1-sl-wide')[0]!.message).toMatch(/would reserve 87\.16 of risk, cap 50\.00/);
    expect(trades('stop_loss_moved')).toEqual([]);

    // above the entry, below the mark: a locked-in profit; the reserved risk follows the stop
    const riskBefore = open.risk;
    const moveSl = dash('move_sl', 'p1-sl', { groupId: group, symbol: 'BTCUSDT', stopLoss: 109600 });
    await h.command(moveSl);
    await h.command(moveSl);
    expect(trades('stop_loss_moved')).toEqual([expect.objectContaining({ eventId: `${group}:sl:dash:p1-sl`, from: 108800, to: 109600, commandId: 'dash:p1-sl' })]);
    const moved = (await position())!;
    expect(moved.stopLoss).toBe(109600);
    expect(moved.risk).toBeLessThan(riskBefore);
    expect(moved.risk).toBeGreaterThanOrEqual(0);
    expect(confirmation('dash:p1-sl')[0]).toMatchObject({ severity: 'info', details: { outcome: 'applied' } });
    // as the owner's chat shows it (the notifier's generic system-alert rendering)
    expect(systemAlertText(confirmation('dash:p1-sl')[0]!)).toMatch(/OWNER COMMAND<\/b> · BTCUSDT\nMove stop loss BTCUSDT \(dashboard\): applied: 108800 -&gt; 109600/);

    // 12:32-12:34 stay above 109600; 12:35 (low 109559.6) stops out AT the moved stop, in profit
    await run(between('12:32', '12:40'));
    const [closed] = trades('position_closed') as PositionClosedEvent[];
    expect(closed!.trade).toMatchObject({ exitReason: 'stop_loss', exitTime: at('12:36') });
    expect(closed!.trade.exitPrice).toBeLessThanOrEqual(109600);
    expect(closed!.trade.exitPrice).toBeGreaterThan(109500);
    expect(closed!.trade.pnl).toBeGreaterThan(0);

    // one confirmation per dashboard command (ids), none for anything else
    expect(new Set(confirmations().map((a) => a.alertId))).toEqual(
      new Set(['dash:p1-tp', 'dash:p1-tp-far', 'dash:p1-tp-side', 'dash:p1-sl-mark', 'dash:p1-sl-far', 'dash:p1-sl-wide', 'dash:p1-sl'].map((id) => `owner_command:${id}`)),
    );
    // the group is gone: a later move is refused (unknown_group)
    await h.command(dash('move_sl', 'p1-sl-late', { groupId: group, symbol: 'BTCUSDT', stopLoss: 109000 }));
    expect(confirmation('dash:p1-sl-late')[0]).toMatchObject({ details: { outcome: 'unknown_group' } });
  });

  it('Telegram move TP: no confirmation when applied (the bot answered), one when the core refused it', async () => {
    h = await executionHarness({ start: at('12:05') });
    await run(between('12:05', '12:18'));
    const sig = LONG('tg-levels');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:25'));
    await h.command(tg('move_tp', 1, { groupId: group, symbol: 'BTCUSDT', takeProfit: 109900 }));
    expect(trades('take_profit_moved')).toHaveLength(1);
    expect(confirmations()).toEqual([]);
    await h.command(tg('move_tp', 2, { groupId: group, symbol: 'BTCUSDT', takeProfit: 140000 }));
    expect(confirmations()).toEqual([expect.objectContaining({ alertId: 'owner_command:tg:2', severity: 'warning', details: expect.objectContaining({ origin: 'telegram', outcome: 'out_of_bounds' }) })]);
    expect(confirmations()[0]!.message).toMatch(/^Move take profit BTCUSDT \(Telegram\) refused \(out_of_bounds\)/);
  });
});

describe('dashboard close position', () => {
  it('closes at the mark (taker, like any owner close), once per command id; a pending group only has its entry cancelled', async () => {
    h = await executionHarness({ start: at('12:05') });
    await run(between('12:05', '12:18'));
    const sig = LONG('dash-close');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:25')); // filled at 12:21; 12:24 closes 109064.2
    const before = (await h.doc())!.state.account;
    expect(before.marks.BTCUSDT).toBe(109064.2);

    const close = dash('close_position', 'p2-close', { groupId: group, symbol: 'BTCUSDT' });
    await h.command(close);
    await h.command(close);
    const closed = trades('position_closed') as PositionClosedEvent[];
    expect(closed).toHaveLength(1);
    const slip = DEFAULT_STRATEGY_CONFIGS.paper.costs.scalpSlippagePct / 100;
    expect(closed[0]!.trade).toMatchObject({ exitReason: 'manual', exitTime: h.clock.now() });
    expect(closed[0]!.trade.exitPrice).toBeCloseTo(109064.2 * (1 - slip), 6);
    expect(closed[0]!.trade.pnl).toBeLessThan(0);
    const after = (await h.doc())!.state.account;
    expect(after.positions).toEqual([]);
    expect(after.realizedPnl).toBeCloseTo(before.realizedPnl + closed[0]!.trade.pnl, 9);
    expect(confirmation('dash:p2-close')).toHaveLength(2);
    expect(new Set(confirmation('dash:p2-close').map((a) => a.message))).toEqual(new Set(['Close position BTCUSDT (dashboard): applied: closed at 109064.2']));

    // closing it again (another page id) or an unknown group: refused with the reason
    await h.command(dash('close_position', 'p2-again', { groupId: group, symbol: 'BTCUSDT' }));
    expect(confirmation('dash:p2-again')[0]).toMatchObject({ severity: 'warning', details: { outcome: 'unknown_group' } });
    expect(trades('position_closed')).toHaveLength(1);

    // a group whose entry has not filled: its entry is cancelled (no price needed)
    const pending = signal({ signalId: 'levels_exhaustion:BTCUSDT:dash-pending', strategy: 'levels_exhaustion', ts: h.clock.now(), entries: [108000], stopLoss: 107500, takeProfit: 109000, maxHoldMs: 60 * MIN });
    await h.signal(pending);
    await h.command(dash('close_position', 'p2-pending', { groupId: `tg:${pending.signalId}`, symbol: 'BTCUSDT' }));
    expect(trades('entry_timeout')).toEqual([expect.objectContaining({ groupId: `tg:${pending.signalId}`, positionRemains: false })]);
    expect(confirmation('dash:p2-pending')[0]).toMatchObject({ details: { outcome: 'applied', detail: 'unfilled entries cancelled' } });
    expect((await h.doc())!.state.account.positions).toEqual([]);
  });
});
