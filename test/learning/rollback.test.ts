/**
 * The automatic rollback TRIGGER (shared/learning/rollback.ts): fires when the adjusted strategy's P&L
 * over the 24 h after an adjustment dropped by >= 15 % against the 24 h before (at 15 %, not at 14 %),
 * asks the owner once (a `rollback_proposed` message with Roll back / Keep), never rolls back by
 * itself; the owner's tap rolls back through the owner-command path.
 *
 * Trades: REAL ones, from a backtest of the repository's kit slice (BTC/ETH/SOL 1m, 2025-06-10 ->
 * 2025-06-12 00:00 UTC, the scalp strategies with the default config): v52_divergence closed 28 trades
 * for +171.47 USD on 2025-06-10 and 16 trades for +90.38 USD on 2025-06-11 (a 47.3 % drop).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ML_CONFIG, DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { ConfigService } from '../../shared/config/service.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest } from '../../shared/backtest/run.js';
import type { ClosedTradeRecord } from '../../shared/ports/trade-history.js';
import { askRollbacks, checkRollbacks, dropPct, windowPerformance, type AdjustmentDoc } from '../../shared/learning/rollback.js';
import { closedTradeRecord, StateTradeLog } from '../../shared/telegram/trade-log.js';
import { adjustmentAlertMessage } from '../../shared/telegram/suggestions.js';
import { decodeCallback } from '../../shared/telegram/keyboards.js';
import { executeTradeCommand } from '../../shared/pipeline/execution/owner-commands.js';
import { adjustmentPath } from '../../shared/state-paths.js';
import type { TradeCommand } from '../../shared/messages.js';
import { handle as reports } from '../../shared/pipeline/reports.js';
import { HOUR, MIN, kitSeries, slice, SYMBOLS } from '../backtest/helpers.js';
import { executionHarness, type Harness } from '../pipeline/harness.js';

const DAY = 24 * HOUR;
const APPLIED = Date.UTC(2025, 5, 11); // the adjustment: 2025-06-11 00:00 UTC
const EQUITY = DEFAULT_STRATEGY_CONFIGS.risk.startingEquityUsd;
const cfg = DEFAULT_ML_CONFIG;
const V52 = { strategies: ['v52_divergence'], symbols: null };

let trades: ClosedTradeRecord[];
beforeAll(() => {
  const from = APPLIED - DAY;
  const to = APPLIED + DAY - MIN;
  const strategies = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  strategies.macro.enabled = false;
  strategies.scalp.levels_exhaustion.emitSignals = true;
  const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s), from - 74 * HOUR, to)), from, to });
  trades = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { indicators: 'full' }).trades.map(closedTradeRecord);
}, 60_000);

function adjustment(over: Partial<AdjustmentDoc> = {}): AdjustmentDoc {
  return {
    suggestionId: 'sg_v52_tp',
    appliedAt: APPLIED,
    appliedDay: '2025-06-10',
    by: '42',
    commandId: 'tg:7',
    changes: [{ document: 'config/scalp_v52_divergence', field: 'exits.fixed.takeProfitPct', before: 0.5, after: 0.6 }],
    scope: V52,
    baseline: null,
    rolledBack: null,
    prompt: null,
    ...over,
  };
}
const at = APPLIED + DAY + 5 * MIN;

describe('checkRollbacks on real trades', () => {
  it('the real day after: v52 P&L +171.47 -> +90.38 (47.3 % drop) fires; only once the window is complete and not too late', () => {
    const before = windowPerformance(trades, V52, APPLIED - DAY, APPLIED);
    const after = windowPerformance(trades, V52, APPLIED, APPLIED + DAY);
    expect([before.trades, before.pnl, after.trades, after.pnl]).toEqual([28, 171.47, 16, 90.38]);
    const [c, ...rest] = checkRollbacks([adjustment()], trades, cfg, EQUITY, at);
    expect(rest).toEqual([]);
    expect(c).toMatchObject({ suggestionId: 'sg_v52_tp', dropPct: 47.29, before: { trades: 28, pnl: 171.47 }, after: { trades: 16, pnl: 90.38 } });
    expect(checkRollbacks([adjustment()], trades, cfg, EQUITY, APPLIED + DAY - MIN)).toEqual([]); // window not complete
    expect(checkRollbacks([adjustment()], trades, cfg, EQUITY, APPLIED + 3 * DAY + MIN)).toEqual([]); // too old to ask
    expect(checkRollbacks([adjustment({ rolledBack: { at: APPLIED + HOUR, by: '42', commandId: 'tg:8' } })], trades, cfg, EQUITY, at)).toEqual([]);
    // a scope without a trade after the adjustment: no evidence, no question
    expect(checkRollbacks([adjustment({ scope: { strategies: ['dca'], symbols: null } })], trades, cfg, EQUITY, at)).toEqual([]);
  });

  it('fires at a 15 % drop and not at 14 % (baseline recorded at approval, the real day after)', () => {
    const after = windowPerformance(trades, V52, APPLIED, APPLIED + DAY).pnl; // 90.38
    const base = (drop: number) => ({ from: APPLIED - DAY, to: APPLIED, trades: 25, wins: 14, winRate: 0.56, pnl: after / (1 - drop / 100) });
    expect(base(15).pnl).toBeGreaterThan(0.01 * EQUITY); // above the 1 %-of-equity floor: the drop is relative to the baseline
    expect(dropPct(base(15).pnl, after, EQUITY)).toBeCloseTo(15, 9);
    expect(checkRollbacks([adjustment({ baseline: base(15) })], trades, cfg, EQUITY, at).map((c) => c.dropPct)).toEqual([15]);
    expect(checkRollbacks([adjustment({ baseline: base(14) })], trades, cfg, EQUITY, at)).toEqual([]);
    expect(checkRollbacks([adjustment({ baseline: base(14.99) })], trades, cfg, EQUITY, at)).toEqual([]);
    // a near-zero baseline: the floor (100 USD) measures the drop, so +5 -> -5 USD is 10 %, not 200 %
    expect(dropPct(5, -5, EQUITY)).toBeCloseTo(10, 9);
  });
});

describe('asking the owner', () => {
  let h: Harness;
  afterEach(async () => {
    expect(h.bus.deadLetters()).toEqual([]);
    await h.close();
  });

  it('an approved change, the real day after, one question (Roll back / Keep) asked once; nothing rolled back until the tap', async () => {
    h = await executionHarness({ start: APPLIED, config: ({ state, bus, clock, log }) => new ConfigService({ state, bus, clock, log }) });
    await h.root.config.strategies();
    const log = new StateTradeLog(h.state);
    for (const t of trades) await log.record(t);
    // the owner approves a scalp TP suggestion at 2025-06-11 00:00 UTC (the bot's item, as the backtester writes it)
    await h.state.create('ml_suggestions/bt_v52-1', { id: 'bt_v52-1', strategy: 'scalp_v52_divergence', parameter: 'scalp.v52_divergence.exits.fixed.takeProfitPct', current: 0.5, suggested: 0.6, status: 'approved', createdAt: APPLIED - HOUR, summary: 'backtest' });
    const deps = await h.root.deps('execution');
    const cmd = (extra: object, id: number): TradeCommand => ({ commandId: `tg:${id}`, actorId: '42', ts: h.clock.now(), ...extra }) as TradeCommand;
    await executeTradeCommand(deps, cmd({ type: 'suggestion_decided', suggestionId: 'bt_v52-1', approved: true }, 1));
    const applied = await h.state.get<AdjustmentDoc>(adjustmentPath('bt_v52-1'));
    expect(applied?.baseline).toMatchObject({ trades: 28, pnl: 171.47 }); // the real 24 h before, recorded at approval
    expect(applied?.scope).toEqual(V52);

    const runAt = async (t: number) => {
      await h.clock.advance(t - h.clock.now());
      const asked = await askRollbacks({ state: h.state, bus: h.bus, log: deps.log }, log, cfg, EQUITY, t);
      await h.bus.drain();
      return asked;
    };
    expect(await runAt(APPLIED + 12 * HOUR)).toEqual([]); // window not complete
    expect(await runAt(at)).toEqual(['bt_v52-1']);
    expect(await runAt(at + HOUR)).toEqual([]); // asked once
    const asks = h.alerts.filter((a) => a.kind === 'rollback_proposed');
    expect(asks).toHaveLength(1);
    expect((await h.state.get<AdjustmentDoc>(adjustmentPath('bt_v52-1')))?.prompt).toMatchObject({ dropPct: 47.29, answer: null, askedAt: at });
    expect((await h.root.config.strategies()).scalp.v52_divergence.exits.fixed.takeProfitPct).toBe(0.6); // not rolled back by itself

    // the owner's message: before/after, the evidence, Roll back / Keep (owner callbacks)
    const msg = adjustmentAlertMessage(asks[0]!);
    expect(msg?.text).toContain('Performance dropped 47.3%');
    expect(msg?.text).toContain('<code>scalp_v52_divergence.exits.fixed.takeProfitPct</code>: 0.5 → <b>0.6</b>');
    expect(msg?.text).toContain('Before: 28 trades');
    expect(msg?.keyboard?.[0]?.map((b) => decodeCallback('callback_data' in b ? b.callback_data : undefined))).toEqual([
      { kind: 'rollback', id: 'bt_v52-1', rollBack: true },
      { kind: 'rollback', id: 'bt_v52-1', rollBack: false },
    ]);

    // the tap: rolled back, the answer recorded on the question
    await executeTradeCommand(deps, cmd({ type: 'suggestion_rollback', suggestionId: 'bt_v52-1', rollBack: true }, 2));
    expect((await h.root.config.strategies()).scalp.v52_divergence.exits.fixed.takeProfitPct).toBe(0.5);
    expect((await h.state.get<AdjustmentDoc>(adjustmentPath('bt_v52-1')))?.prompt).toMatchObject({ answer: 'rolled_back', answeredAt: at + HOUR });
  }, 60_000);

  it('the scheduled reports run (07:00 / 19:00 Los Angeles) runs the trigger', async () => {
    h = await executionHarness({ start: APPLIED, config: ({ state, bus, clock, log }) => new ConfigService({ state, bus, clock, log }) });
    await h.root.config.strategies();
    for (const t of trades) await new StateTradeLog(h.state).record(t);
    await h.state.create('ml_suggestions/bt_v52-2', { id: 'bt_v52-2', strategy: 'scalp_v52_divergence', parameter: 'scalp.v52_divergence.exits.fixed.takeProfitPct', current: 0.5, suggested: 0.6, status: 'approved', createdAt: APPLIED - HOUR, summary: 'backtest' });
    await executeTradeCommand(await h.root.deps('execution'), { type: 'suggestion_decided', commandId: 'tg:1', actorId: '42', ts: APPLIED, suggestionId: 'bt_v52-2', approved: true });
    await h.clock.advance(Date.parse('2025-06-12T02:00:00Z') - APPLIED); // 19:00 in Los Angeles
    expect(await reports(await h.root.deps('reports'), { period: 'daily' })).toMatchObject({ rollbackAsked: 1 });
    await h.bus.drain();
    expect(h.alerts.filter((a) => a.kind === 'rollback_proposed').map((a) => a.subject)).toEqual(['bt_v52-2']);
    expect(await reports(await h.root.deps('reports'), { period: 'daily' })).toMatchObject({ rollbackAsked: 0 });
  }, 60_000);
});
