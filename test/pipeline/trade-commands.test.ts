/**
 * The owner's Telegram commands (`trade-commands`, published by the bot) through the REAL execution
 * function on the in-process bus, on REAL BTCUSDT 1m candles of 2025-06-11 (test/fixtures/trading),
 * paper mode: pause / resume (no new entries while paused, exits still run, one alert per change,
 * idempotent by commandId, a late older command ignored), move TP (the candles exit at the new level),
 * and decided suggestions (recorded at `suggestions/{id}`; an approved config change written to the
 * config document and validated / logged by ConfigService; stale or invalid ones never written).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigService, configChanges } from '../../shared/config/service.js';
import type { Candle } from '../../shared/model/market.js';
import type { DocData } from '../../shared/ports/state.js';
import type { PositionClosedEvent, TradeEvent } from '../../shared/model/trading.js';
import { signalMarkerPath, suggestionPath } from '../../shared/state-paths.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import type { SuggestionDecisionDoc } from '../../shared/pipeline/execution/owner-commands.js';
import { realBtc1m, signal } from '../trading/helpers.js';
import { executionHarness, type Harness } from './harness.js';
import type { TradeCommand } from '../../shared/messages.js';

const MIN = 60_000;
const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const BTC = realBtc1m().filter((c) => c.openTime >= at('12:05') && c.openTime <= at('12:45'));
const between = (a: string, b: string) => BTC.filter((c) => c.openTime >= at(a) && c.openTime < at(b));
const LONG = (id: string, ts = at('12:18'), strategy: 'v52_divergence' | 'levels_exhaustion' = 'v52_divergence') =>
  signal({ signalId: `${strategy}:BTCUSDT:${id}`, strategy, ts, entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });

let h: Harness;
afterEach(async () => {
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
});

async function run(candles: Candle[]): Promise<void> {
  for (const c of candles) await h.candle(c);
}
const cmd = <T extends TradeCommand['type']>(type: T, id: number, extra: Omit<Extract<TradeCommand, { type: T }>, 'type' | 'commandId' | 'actorId' | 'ts'>, ts = h.clock.now()) =>
  ({ type, commandId: `tg:${id}`, actorId: '42', ts, ...extra }) as unknown as TradeCommand;
const decision = async (signalId: string) =>
  (await h.state.get<{ decision: { accepted: boolean; reason?: string } }>(signalMarkerPath(PAPER_ACCOUNT_ID, signalId)))?.decision;
const changesOf = (kind: string) => h.alerts.filter((a) => a.kind === 'protection_changed' && a.details?.change === kind);
const trades = (type: TradeEvent['type']) => h.tradeEvents.filter((e) => e.type === type);

describe('pause / resume', () => {
  it('paused: no new entry while exits still run; one alert per change; idempotent; a late older pause is ignored', async () => {
    h = await executionHarness({ start: at('12:05') });
    await run(between('12:05', '12:18'));
    await h.signal(LONG('before-pause'));
    expect((await decision('v52_divergence:BTCUSDT:before-pause'))?.accepted).toBe(true);

    const pause = cmd('pause', 1, {});
    await h.command(pause);
    expect(changesOf('owner_paused')).toHaveLength(1);
    expect(changesOf('owner_paused')[0]).toMatchObject({ severity: 'warning', subject: 'account' });
    expect((await h.doc())?.state.control).toMatchObject({ paused: true, by: '42', pausedAt: h.clock.now() });
    // the same command redelivered and a second pause: no new change, no new alert id
    await h.command(pause);
    await h.command(cmd('pause', 2, {}));
    expect(new Set(changesOf('owner_paused').map((a) => a.alertId)).size).toBe(1);

    // a new entry is refused...
    await h.signal(LONG('while-paused', at('12:18'), 'levels_exhaustion'));
    expect(await decision('levels_exhaustion:BTCUSDT:while-paused')).toMatchObject({ accepted: false, reason: 'owner_paused' });
    // ...while the open group still fills (12:21) and takes profit (12:30 trades through 109650)
    await run(between('12:18', '12:36'));
    expect(trades('entry_filled')).toHaveLength(1);
    const closed = trades('position_closed') as PositionClosedEvent[];
    expect(closed.map((e) => [e.signalId, e.trade.exitReason])).toEqual([['v52_divergence:BTCUSDT:before-pause', 'take_profit']]);
    expect(trades('order_placed')).toHaveLength(1);

    // resume: one trading_resumed naming the owner pause
    const resumeTs = h.clock.now();
    await h.command(cmd('resume', 3, {}, resumeTs));
    expect(changesOf('trading_resumed')).toEqual([expect.objectContaining({ severity: 'info', details: expect.objectContaining({ reason: 'owner', ownerPause: true, lossStreakPause: false, dailyHalt: false }) })]);
    // a pause sent BEFORE the resume but delivered after it changes nothing
    await h.command(cmd('pause', 4, {}, resumeTs - 1));
    expect((await h.doc())?.state.control).toMatchObject({ paused: false, commandTs: resumeTs });
    expect(new Set(changesOf('owner_paused').map((a) => a.alertId)).size).toBe(1);

    // new entries are accepted again
    const ts = h.clock.now();
    await h.signal(LONG('after-resume', ts));
    expect((await decision('v52_divergence:BTCUSDT:after-resume'))?.accepted).toBe(true);
  });
});

describe('move TP', () => {
  it('a paper group exits at the moved take profit; an invalid level or an unknown group changes nothing', async () => {
    h = await executionHarness({ start: at('12:05') });
    await run(between('12:05', '12:18'));
    const sig = LONG('move');
    const group = `tg:${sig.signalId}`;
    await h.signal(sig);
    await run(between('12:18', '12:25')); // the entry fills at 12:21 (low 109002.1 < 109100)
    const open = (await h.doc())!.state.account.positions[0]!;
    expect(open).toMatchObject({ status: 'open', takeProfit: 109650 });

    // below the average fill: refused, nothing changes
    await h.command(cmd('move_tp', 10, { groupId: group, symbol: 'BTCUSDT', takeProfit: 109000 }));
    await h.command(cmd('move_tp', 11, { groupId: 'tg:nope', symbol: 'BTCUSDT', takeProfit: 110000 }));
    expect(trades('take_profit_moved')).toEqual([]);
    expect((await h.doc())!.state.account.positions[0]!.takeProfit).toBe(109650);

    // up to 109900: the 12:30 candle (high 109850) no longer takes profit; 12:32 (high 109942.3) does
    const move = cmd('move_tp', 12, { groupId: group, symbol: 'BTCUSDT', takeProfit: 109900 });
    await h.command(move);
    await h.command(move);
    expect(new Set(trades('take_profit_moved').map((e) => e.eventId)).size).toBe(1);
    expect(trades('take_profit_moved')[0]).toMatchObject({ groupId: group, from: 109650, to: 109900, commandId: 'tg:12', eventId: `${group}:tp:tg:12` });
    await run(between('12:25', '12:40'));
    const [closed] = trades('position_closed') as PositionClosedEvent[];
    expect(closed?.trade).toMatchObject({ exitReason: 'take_profit', exitTime: at('12:33') });
    // a take profit is a resting limit: a maker fill AT its price, no slippage (maker_taker, the default)
    expect(closed!.trade.exitPrice).toBe(109900);
    expect(closed!.trade.slippage).toBe(0);
  });
});

describe('suggestion decided', () => {
  async function withConfigService(): Promise<void> {
    h = await executionHarness({ start: at('12:05'), config: ({ state, bus, clock, log }) => new ConfigService({ state, bus, clock, log }) });
    await h.root.config.strategies(); // seeds the config documents, as the first read of any function does
  }
  const item = (id: string, current: number, suggested: number, parameter = 'risk.scalp.totalRiskPct', strategy = 'risk') =>
    h.state.create(`ml_suggestions/${id}`, { id, strategy, parameter, current, suggested, status: 'approved', createdAt: at('12:00'), summary: 'backtest' });
  const decided = (id: string) => h.state.get<SuggestionDecisionDoc>(suggestionPath(id));
  const risk = async () => ((await h.state.get<DocData>('config/risk')) as { scalp: { totalRiskPct: number } }).scalp.totalRiskPct;

  it('approved: recorded, written to config/risk through ConfigService (validated, change logged, alerted); idempotent', async () => {
    await withConfigService();
    await item('bt_1-1', 2, 1.5);
    const ts = h.clock.now() - 5_000;
    const approve = cmd('suggestion_decided', 20, { suggestionId: 'bt_1-1', approved: true }, ts);
    await h.command(approve);
    const d = await decided('bt_1-1');
    expect(d).toMatchObject({ status: 'approved', decidedAt: ts, decidedBy: '42', commandId: 'tg:20', appliedAt: h.clock.now() });
    expect(d?.applied).toEqual([expect.objectContaining({ document: 'config/risk', field: 'scalp.totalRiskPct', before: 2, after: 1.5, outcome: 'applied' })]);
    expect(await risk()).toBe(1.5);
    expect((await h.root.config.strategies()).risk.scalp.totalRiskPct).toBe(1.5);
    const log = await configChanges(h.state, 'risk');
    expect(log.map((c) => c.outcome)).toEqual(['applied', 'initial']);
    expect(h.alerts.filter((a) => a.kind === 'config_applied')).toEqual([expect.objectContaining({ subject: 'risk' })]);

    // redelivered, then decided again by another command: nothing more is written
    await h.command(approve);
    await h.command(cmd('suggestion_decided', 21, { suggestionId: 'bt_1-1', approved: false }));
    expect((await decided('bt_1-1'))?.status).toBe('approved');
    expect((await configChanges(h.state, 'risk')).length).toBe(2);
    expect(await risk()).toBe(1.5);
  });

  it('rejected, stale and invalid suggestions never change the config; a backtest proposal applies its changes', async () => {
    await withConfigService();
    await item('bt_2-1', 2, 1.5);
    await h.command(cmd('suggestion_decided', 30, { suggestionId: 'bt_2-1', approved: false }));
    expect(await decided('bt_2-1')).toMatchObject({ status: 'rejected', applied: null });

    await item('bt_3-1', 3, 1.5); // the config says 2, not 3: edited since the suggestion
    await h.command(cmd('suggestion_decided', 31, { suggestionId: 'bt_3-1', approved: true }));
    expect((await decided('bt_3-1'))?.applied).toEqual([expect.objectContaining({ outcome: 'stale' })]);

    await item('bt_4-1', 2, 0.4); // below perTradeRiskPct 0.5: the risk schema refuses it
    await h.command(cmd('suggestion_decided', 32, { suggestionId: 'bt_4-1', approved: true }));
    const invalid = (await decided('bt_4-1'))?.applied?.[0];
    expect(invalid?.outcome).toBe('invalid');
    expect(invalid?.detail).toMatch(/perTradeRiskPct must be <= totalRiskPct/);
    expect(await risk()).toBe(2);
    expect((await configChanges(h.state, 'risk')).map((c) => c.outcome)).toEqual(['initial']);

    // the backtester's proposal document (several changes in several documents)
    await h.state.set(suggestionPath('bt_5'), {
      id: 'bt_5',
      kind: 'backtest_config_change',
      status: 'pending',
      changes: [
        { key: 'scalp.v52_divergence.exits.fixed.takeProfitPct', document: 'config/scalp_v52_divergence', field: 'exits.fixed.takeProfitPct', before: 0.5, after: 0.6 },
        { key: 'risk.scalp.perTradeRiskPct', document: 'config/risk', field: 'scalp.perTradeRiskPct', before: 0.5, after: 0.4 },
      ],
    });
    await h.command(cmd('suggestion_decided', 33, { suggestionId: 'bt_5', approved: true }));
    expect((await decided('bt_5'))?.applied?.map((c) => c.outcome)).toEqual(['applied', 'applied']);
    const st = await h.root.config.strategies();
    expect(st.scalp.v52_divergence.exits.fixed.takeProfitPct).toBe(0.6);
    expect(st.risk.scalp.perTradeRiskPct).toBe(0.4);
    expect(st.risk.scalp.totalRiskPct).toBe(2);
  });
  it('applies over an OLD-shaped config/paper (fees / scalpSlippagePct, before the maker/taker keys): read as the service reads it, the owner\'s values kept', async () => {
    await withConfigService();
    // an owner-tuned document written before the costs block existed
    await h.state.set('config/paper', { fees: { scalpPctPerSide: 0.08, swingPctPerSide: 0.3 }, scalpSlippagePct: 0.03 });
    await (h.root.config as ConfigService).check(['paper']);
    expect((await h.root.config.strategies()).paper.costs.conservative.scalpPctPerSide).toBe(0.08);
    await h.state.set(suggestionPath('bt_9'), {
      id: 'bt_9',
      kind: 'backtest_config_change',
      status: 'pending',
      changes: [{ key: 'paper.costs.scalpSlippagePct', document: 'config/paper', field: 'costs.scalpSlippagePct', before: 0.03, after: 0.025 }],
    });
    await h.command(cmd('suggestion_decided', 50, { suggestionId: 'bt_9', approved: true }));
    expect((await decided('bt_9'))?.applied).toEqual([expect.objectContaining({ outcome: 'applied', before: 0.03, after: 0.025 })]);
    const paper = (await h.root.config.strategies()).paper;
    expect(paper.costs.scalpSlippagePct).toBe(0.025);
    expect(paper.costs.conservative.scalpPctPerSide).toBe(0.08); // the owner's tuned fee survives the write
    const stored = (await h.state.get<DocData>('config/paper')) as Record<string, unknown>;
    expect(stored).not.toHaveProperty('fees'); // written back in the current shape, no old key beside its new name
    expect(stored).not.toHaveProperty('scalpSlippagePct');
  });

  it('applies over a partial stored document (merged over the last valid) and refuses a value out of bounds', async () => {
    await withConfigService();
    // The owner stored only the fields to change.
    await h.state.set('config/risk', { scalp: { perTradeRiskPct: 0.4 } });
    await (h.root.config as ConfigService).check(['risk']);
    await item('bt_6-1', 2, 1.5);
    await h.command(cmd('suggestion_decided', 40, { suggestionId: 'bt_6-1', approved: true }));
    expect((await decided('bt_6-1'))?.applied).toEqual([expect.objectContaining({ outcome: 'applied', before: 2, after: 1.5 })]);
    const risk = (await h.root.config.strategies()).risk;
    expect(risk.scalp).toEqual({ perTradeRiskPct: 0.4, totalRiskPct: 1.5 });
    expect(risk.positions.maxTotal).toBe(15);

    await item('bt_7-1', 1.5, 60); // a total risk cap of 60 % of equity: out of bounds
    await h.command(cmd('suggestion_decided', 41, { suggestionId: 'bt_7-1', approved: true }));
    const invalid = (await decided('bt_7-1'))?.applied?.[0];
    expect(invalid?.outcome).toBe('invalid');
    expect(invalid?.detail).toContain('scalp.totalRiskPct: Too big: expected number to be <=20');
    expect((await h.root.config.strategies()).risk.scalp.totalRiskPct).toBe(1.5);
  });
});
