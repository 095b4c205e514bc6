/**
 * Threshold suggestions through the REAL owner-command path (the execution function on the in-process
 * bus, ConfigService over the embedded SQLite state with real transactions): an approval applies the
 * suggestion and records `threshold_adjustments/{id}`; at most 3 are applied per Los Angeles day, also
 * under two concurrent approvals; the owner's one-tap rollback restores the values once (idempotent)
 * and is refused as stale when the config was edited since.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigService, configChanges } from '../../shared/config/service.js';
import { DEFAULT_ML_CONFIG, DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import type { DocData } from '../../shared/ports/state.js';
import { shadowResultsSchema, type ShadowVariationResult } from '../../shared/learning/types.js';
import { storeSuggestions, suggestFromShadow, type ThresholdSuggestion } from '../../shared/learning/suggestions.js';
import type { AdjustmentDoc } from '../../shared/learning/rollback.js';
import { executeTradeCommand, type CommandOutcome, type SuggestionDecisionDoc } from '../../shared/pipeline/execution/owner-commands.js';
import { adjustmentPath, mlSuggestionPath, suggestionPath } from '../../shared/state-paths.js';
import type { TradeCommand } from '../../shared/messages.js';
import { executionHarness, type Harness } from '../pipeline/harness.js';

const H = 3_600_000;
// 2025-06-11 12:05 UTC = 05:05 in Los Angeles (PDT); that day ends at 2025-06-12 07:00 UTC
const START = Date.parse('2025-06-11T12:05:00Z');
const LA_MIDNIGHT = Date.parse('2025-06-12T07:00:00Z');

const period = (trades: number, pnl: number) => ({ trades, wins: Math.round(trades * 0.56), winRate: Math.round(trades * 0.56) / trades, profitFactor: 1.35, pnl, meanPnlPct: 0.12, pValue: 0.06 });
const v = (name: string, overrides: Record<string, number>, trades: number, pnl: number): ShadowVariationResult => ({
  name,
  description: name,
  overrides,
  periods: { '168': period(Math.round(trades / 4), pnl / 4), '720': period(trades, pnl) },
});

/** One shadow run with five winning challengers on five different tunable keys (HIGH confidence each). */
function shadowSuggestions(): ThresholdSuggestion[] {
  const r = shadowResultsSchema.parse({
    runId: 'shadow_20250611T0900',
    ts: START - 3 * H,
    from: START - 723 * H,
    to: START - 3 * H,
    symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    periodsHours: [168, 720],
    significanceP: 0.1,
    variations: [
      { ...v('CHAMPION', {}, 120, 300), periods: { '168': { ...period(30, 75), pValue: null }, '720': { ...period(120, 300), pValue: null } } },
      v('DCA_DROP_4', { 'macro.setups.DCA.dropFromHighPct': 4 }, 110, 345),
      v('BREAKOUT_2', { 'macro.setups.SWING.breakoutPct': 2 }, 104, 352),
      v('TP_LARGE', { 'macro.exits.large_cap.takeProfitPct': 3 }, 118, 361),
      v('SL_MID', { 'macro.exits.mid_cap.stopLossPct': 3.5 }, 126, 340),
      v('TP_MID', { 'macro.exits.mid_cap.takeProfitPct': 3.5 }, 131, 366),
    ],
    scans: 129_600,
    wallMs: 40_000,
  });
  return suggestFromShadow(r, DEFAULT_STRATEGY_CONFIGS, DEFAULT_ML_CONFIG, START);
}

let h: Harness;
afterEach(async () => {
  expect(h.bus.deadLetters()).toEqual([]);
  await h.close();
});

let n = 100;
const cmd = (c: Omit<Extract<TradeCommand, { type: 'suggestion_decided' }>, 'type' | 'commandId' | 'actorId' | 'ts'> | Omit<Extract<TradeCommand, { type: 'suggestion_rollback' }>, 'type' | 'commandId' | 'actorId' | 'ts'>): TradeCommand =>
  ({ type: 'approved' in c ? 'suggestion_decided' : 'suggestion_rollback', commandId: `tg:${n++}`, actorId: '42', ts: h.clock.now(), ...c }) as TradeCommand;

async function setup(): Promise<ThresholdSuggestion[]> {
  h = await executionHarness({ start: START, config: ({ state, bus, clock, log }) => new ConfigService({ state, bus, clock, log }) });
  await h.root.config.strategies(); // seeds the config documents
  const sg = shadowSuggestions();
  await storeSuggestions(h.state, sg);
  return sg;
}
/** The bot's tap on ✅: the item marked approved, then the owner command (as shared/telegram/bot.ts does). */
async function tapApprove(id: string): Promise<TradeCommand> {
  await h.state.merge(mlSuggestionPath(id), { status: 'approved', decidedBy: 42, decidedAt: h.clock.now() });
  return cmd({ suggestionId: id, approved: true });
}
const macro = async () => (await h.root.config.strategies()).macro;
const adjustment = (id: string) => h.state.get<AdjustmentDoc>(adjustmentPath(id));
const alertsOf = (kind: string) => h.alerts.filter((a) => a.kind === kind);

describe('approving a threshold suggestion', () => {
  it('applies it through ConfigService and records threshold_adjustments/{id} (before/after, when, by, baseline, rolledBack null) and a Roll back confirmation', async () => {
    const sg = await setup();
    expect(sg.map((s) => [s.key, s.before, s.after])).toEqual([
      ['macro.exits.large_cap.takeProfitPct', 2, 2.3],
      ['macro.exits.mid_cap.stopLossPct', 2.5, 2.8],
      ['macro.exits.mid_cap.takeProfitPct', 2.5, 2.8],
      ['macro.setups.DCA.dropFromHighPct', 2.5, 2.95],
      ['macro.setups.SWING.breakoutPct', 1, 1.3],
    ]);
    const dca = sg.find((s) => s.key.includes('DCA')) as ThresholdSuggestion;
    await h.command(await tapApprove(dca.id));
    expect((await macro()).setups.DCA.dropFromHighPct).toBe(2.95);
    expect((await configChanges(h.state, 'macro')).map((c) => c.outcome)).toEqual(['applied', 'initial']);
    expect(await h.state.get<SuggestionDecisionDoc>(suggestionPath(dca.id))).toMatchObject({ status: 'approved', kind: 'learning_threshold', appliedAt: START });
    expect(await adjustment(dca.id)).toEqual({
      suggestionId: dca.id,
      appliedAt: START,
      appliedDay: '2025-06-11',
      by: '42',
      commandId: expect.stringMatching(/^tg:/),
      changes: [{ document: 'config/macro', field: 'setups.DCA.dropFromHighPct', before: 2.5, after: 2.95 }],
      scope: { strategies: ['dca'], symbols: null },
      baseline: { from: START - 24 * H, to: START, trades: 0, wins: 0, winRate: null, pnl: 0 },
      rolledBack: null,
      prompt: null,
    });
    expect(alertsOf('adjustment_applied')).toEqual([expect.objectContaining({ subject: dca.id, details: expect.objectContaining({ suggestionId: dca.id }) })]);
    // the per-tier exit's scope: the macro strategies on that tier's symbols
    const tp = sg.find((s) => s.key === 'macro.exits.large_cap.takeProfitPct') as ThresholdSuggestion;
    await h.command(await tapApprove(tp.id));
    expect((await adjustment(tp.id))?.scope).toEqual({ strategies: ['channel', 'dca', 'swing_breakout'], symbols: ['BTCUSDT', 'ETHUSDT'] });
  });

  it('at most 3 applied per Los Angeles day: the 4th is refused with a clear message and stays pending; after midnight LA it applies', async () => {
    const sg = await setup();
    for (const s of sg.slice(0, 3)) await h.command(await tapApprove(s.id));
    const fourth = sg[3] as ThresholdSuggestion;
    const before = (await macro()).setups.DCA.dropFromHighPct;
    await h.command(await tapApprove(fourth.id));
    expect((await macro()).setups.DCA.dropFromHighPct).toBe(before);
    expect(await adjustment(fourth.id)).toBeUndefined();
    expect(alertsOf('adjustment_refused').map((a) => a.message)).toEqual(['3 adjustments applied today (at most 3 a day); approve again after midnight Los Angeles time']);
    expect(await h.state.get(mlSuggestionPath(fourth.id))).toMatchObject({ status: 'pending', decidedBy: null });
    expect(await h.state.get(suggestionPath(fourth.id))).toMatchObject({ status: 'pending', lastRefusal: { reason: 'daily_limit', appliedToday: 3 } });

    // 23:59 in Los Angeles: still today
    await h.clock.advance(LA_MIDNIGHT - 60_000 - h.clock.now());
    await h.command(await tapApprove(fourth.id));
    expect(await adjustment(fourth.id)).toBeUndefined();
    // midnight in Los Angeles: a new day
    await h.clock.advance(60_000);
    await h.command(await tapApprove(fourth.id));
    expect((await macro()).setups.DCA.dropFromHighPct).toBe(2.95);
    expect(await adjustment(fourth.id)).toMatchObject({ appliedDay: '2025-06-12', appliedAt: LA_MIDNIGHT });
  });

  it('two concurrent approvals with 2 applied today: exactly one passes (counted in the same transaction)', async () => {
    const sg = await setup();
    for (const s of sg.slice(0, 2)) await h.command(await tapApprove(s.id));
    const deps = await h.root.deps('execution');
    const [a, b] = [sg[3] as ThresholdSuggestion, sg[4] as ThresholdSuggestion];
    const out: CommandOutcome[] = await Promise.all([executeTradeCommand(deps, await tapApprove(a.id)), executeTradeCommand(deps, await tapApprove(b.id))]);
    expect(out.map((o) => o.outcome).sort()).toEqual(['limit_reached', 'recorded']);
    const applied = (await h.state.query<AdjustmentDoc>('threshold_adjustments')).map((d) => d.data);
    expect(applied).toHaveLength(3);
    const m = await macro();
    // one of the two values changed, the other did not
    expect([m.setups.DCA.dropFromHighPct === 2.95, m.setups.SWING.breakoutPct === 1.3].filter(Boolean)).toHaveLength(1);
  });
});

describe('approvals that change nothing, and the limit after a rollback', () => {
  it('an approval whose value the owner edited since changes nothing and says so (no silent "confirmation follows")', async () => {
    const sg = await setup();
    const s = sg.find((x) => x.key === 'macro.setups.DCA.dropFromHighPct') as ThresholdSuggestion;
    const doc = (await h.state.get<DocData>('config/macro')) as { setups: { DCA: { dropFromHighPct: number } } };
    doc.setups.DCA.dropFromHighPct = 3.5;
    await h.state.set('config/macro', doc as unknown as DocData);
    await (h.root.config as ConfigService).check(['macro']);
    await h.command(await tapApprove(s.id));
    await h.bus.drain();
    expect((await macro()).setups.DCA.dropFromHighPct).toBe(3.5);
    expect(await adjustment(s.id)).toBeUndefined();
    expect(alertsOf('adjustment_applied')).toEqual([]);
    expect(alertsOf('adjustment_refused').map((a) => a.message)).toEqual([expect.stringMatching(/^the approved suggestion changed nothing: config\/macro setups\.DCA\.dropFromHighPct: stale/)]);
  });

  it('a rolled-back adjustment still counts for its day: roll one back, the 4th approval is still refused', async () => {
    const sg = await setup();
    for (const x of sg.slice(0, 3)) await h.command(await tapApprove(x.id));
    await h.command(cmd({ suggestionId: (sg[0] as ThresholdSuggestion).id, rollBack: true }));
    expect((await adjustment((sg[0] as ThresholdSuggestion).id))?.rolledBack).not.toBeNull();
    await h.command(await tapApprove((sg[3] as ThresholdSuggestion).id));
    expect(await adjustment((sg[3] as ThresholdSuggestion).id)).toBeUndefined();
    expect(alertsOf('adjustment_refused').map((a) => a.message)).toEqual(['3 adjustments applied today (at most 3 a day); approve again after midnight Los Angeles time']);
  });
});

describe('one-tap rollback', () => {
  it('restores the values, records it on the adjustment, and is idempotent (redelivery, second tap)', async () => {
    const sg = await setup();
    const s = sg.find((x) => x.key === 'macro.setups.SWING.breakoutPct') as ThresholdSuggestion;
    await h.command(await tapApprove(s.id));
    expect((await macro()).setups.SWING.breakoutPct).toBe(1.3);
    await h.clock.advance(2 * H);
    const rollback = cmd({ suggestionId: s.id, rollBack: true });
    await h.command(rollback);
    expect((await macro()).setups.SWING.breakoutPct).toBe(1);
    expect((await adjustment(s.id))?.rolledBack).toEqual({ at: START + 2 * H, by: '42', commandId: rollback.commandId });
    expect(alertsOf('adjustment_rolled_back')).toHaveLength(1);
    const logged = (await configChanges(h.state, 'macro')).length;

    await h.command(rollback); // redelivered
    const deps = await h.root.deps('execution');
    expect(await executeTradeCommand(deps, rollback)).toMatchObject({ outcome: 'rolled_back', changes: [] });
    expect(await executeTradeCommand(deps, cmd({ suggestionId: s.id, rollBack: true }))).toMatchObject({ outcome: 'already_rolled_back' });
    expect((await configChanges(h.state, 'macro')).length).toBe(logged);
    expect((await macro()).setups.SWING.breakoutPct).toBe(1);
    expect(alertsOf('adjustment_rolled_back')).toHaveLength(1);
    expect(await executeTradeCommand(deps, cmd({ suggestionId: 'sg_none', rollBack: true }))).toMatchObject({ outcome: 'unknown' });
  });

  it('an edited adjustment document is refused with its reason: nothing written back, the trigger skips it', async () => {
    const sg = await setup();
    const s = sg.find((x) => x.key === 'macro.setups.SWING.breakoutPct') as ThresholdSuggestion;
    await h.command(await tapApprove(s.id));
    const doc = (await h.state.get<DocData>(adjustmentPath(s.id))) as Record<string, unknown>;
    await h.state.set(adjustmentPath(s.id), { ...doc, changes: [{ document: 'config/macro', field: 'setups.SWING.breakoutPct', before: 1 }] } as unknown as DocData);
    const deps = await h.root.deps('execution');
    const r = await executeTradeCommand(deps, cmd({ suggestionId: s.id, rollBack: true }));
    expect(r).toMatchObject({ type: 'suggestion_rollback', outcome: 'stale' });
    expect(r.type === 'suggestion_rollback' && r.detail).toContain('is not a valid adjustment document (changes.0.after');
    expect((await macro()).setups.SWING.breakoutPct).toBe(1.3);
    const { recentAdjustments } = await import('../../shared/learning/rollback.js');
    expect(await recentAdjustments(h.state, 0)).toEqual([]);
  });

  it('refused as stale when the config no longer holds the applied value (owner edited it): nothing written, the reason recorded', async () => {
    const sg = await setup();
    const s = sg.find((x) => x.key === 'macro.setups.DCA.dropFromHighPct') as ThresholdSuggestion;
    await h.command(await tapApprove(s.id));
    // the owner edits the same field in the console afterwards
    const doc = (await h.state.get<DocData>('config/macro')) as { setups: { DCA: { dropFromHighPct: number } } };
    doc.setups.DCA.dropFromHighPct = 3.5;
    await h.state.set('config/macro', doc as unknown as DocData);
    await (h.root.config as ConfigService).check(['macro']);
    const deps = await h.root.deps('execution');
    const r = await executeTradeCommand(deps, cmd({ suggestionId: s.id, rollBack: true }));
    expect(r).toMatchObject({ type: 'suggestion_rollback', outcome: 'stale' });
    expect(r.type === 'suggestion_rollback' && r.detail).toContain("is 3.5, not the suggestion's 2.95");
    expect((await macro()).setups.DCA.dropFromHighPct).toBe(3.5);
    const adj = await adjustment(s.id);
    expect(adj?.rolledBack).toBeNull();
    expect(adj?.rollbackRefusals).toEqual([expect.objectContaining({ detail: expect.stringContaining('edited since') })]);
    await h.bus.drain();
    expect(alertsOf('adjustment_refused').map((a) => a.message)).toEqual([expect.stringMatching(/^Not rolled back: config\/macro setups.DCA.dropFromHighPct is 3.5/)]);
  });
});
