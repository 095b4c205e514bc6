/**
 * The suggestion / adjustment messages in Telegram, through the real webhook, notifier and outbox
 * against the Telegram test server (which refuses HTML Telegram would not parse): a suggestion reaches
 * the owner with before/after, the evidence and Approve / Reject; an applied adjustment's confirmation
 * carries "↩️ Roll back" and goes to the owner only; the Roll back / Keep buttons are owner-only and
 * publish the `suggestion_rollback` owner command.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ML_CONFIG, DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { shadowResultsSchema } from '../../shared/learning/types.js';
import { suggestFromShadow } from '../../shared/learning/suggestions.js';
import { adjustmentAppliedAlert, adjustmentRefusedAlert, type AdjustmentDoc } from '../../shared/learning/rollback.js';
import { queueSuggestions, researchSuggestionOf } from '../../shared/telegram/suggestions.js';
import { drainAndContinue } from '../../shared/telegram/dispatch.js';
import { publish } from '../../shared/messages.js';
import { alertAttributes } from '../../shared/alerts.js';
import { TOPICS } from '../../shared/topics.js';
import { callbackUpdate, makeHarness, OWNER, textsTo, textUpdate, type Harness } from '../telegram/helpers.js';

const FRIEND = 3003;
let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ candles: false });
});
afterEach(async () => {
  await h.close();
});

async function addMember(): Promise<void> {
  await h.deliver(textUpdate(OWNER, '/invite'));
  const code = /<code>(\d{6})<\/code>/.exec(textsTo(h.server, OWNER).find((t) => t.includes('Invite code')) ?? '')?.[1];
  await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
}

const period = (trades: number, pnl: number, pValue: number | null) => ({ trades, wins: Math.round(trades * 0.57), winRate: Math.round(trades * 0.57) / trades, profitFactor: 1.42, pnl, meanPnlPct: 0.11, pValue });

describe('Telegram', () => {
  it('a suggestion reaches the owner with before/after, the evidence and Approve / Reject', async () => {
    const r = shadowResultsSchema.parse({
      runId: 'shadow_20250611T0900',
      ts: h.clock.now(),
      from: h.clock.now() - 720 * 3_600_000,
      to: h.clock.now(),
      symbols: ['BTCUSDT'],
      periodsHours: [720],
      significanceP: 0.1,
      variations: [
        { name: 'CHAMPION', description: 'config in force', overrides: {}, periods: { '720': period(120, 300, null) } },
        { name: 'WIDE_TP', description: 'wider <targets> & the same DCA drop', overrides: { 'macro.exits.large_cap.takeProfitPct': 3, 'macro.setups.DCA.dropFromHighPct': 2.5 }, periods: { '720': period(112, 348.5, 0.034) } },
      ],
      scans: 43_200,
      wallMs: 9_000,
    });
    const sg = suggestFromShadow(r, DEFAULT_STRATEGY_CONFIGS, DEFAULT_ML_CONFIG, h.clock.now());
    const d = h.rt.deps;
    expect(await queueSuggestions(d, sg)).toBe(1);
    expect(await queueSuggestions(d, sg)).toBe(0); // queued once
    await drainAndContinue(d, h.rt.sender);
    const msg = h.server.chatMessages(OWNER).at(-1)!;
    expect(msg.text).toContain('<b>Threshold suggestion</b> · HIGH confidence');
    expect(msg.text).toContain('<code>macro.exits.large_cap.takeProfitPct</code>: 2 → <b>2.3</b> (best challenger 3)');
    expect(msg.text).toContain('shadow <b>WIDE_TP</b> over 720h — 112 trades, win 57%, PF 1.42, P&amp;L +$348.50');
    expect(msg.text).toContain('Outperformance +16.2% · p=0.034 (significant)');
    expect(msg.text).toContain('WIDE_TP also changes macro.setups.DCA.dropFromHighPct=2.5');
    expect(JSON.parse(msg.replyMarkup!).inline_keyboard[0].map((b: { callback_data: string }) => b.callback_data)).toEqual([`sa:${sg[0]!.id}`, `sr:${sg[0]!.id}`]);
    // the same suggestion in the daily research summary's list
    expect(researchSuggestionOf(sg[0]!)).toEqual({
      id: sg[0]!.id,
      strategy: 'dca/swing_breakout/channel',
      parameter: 'macro.exits.large_cap.takeProfitPct',
      before: 2,
      after: 2.3,
      confidence: 'HIGH',
      evidence: 'WIDE_TP over 720h: 112 trades, +16.2% vs champion, p=0.034',
    });
  });

  it('the applied confirmation carries Roll back, goes to the owner only; the buttons are owner-only and publish suggestion_rollback', async () => {
    await addMember();
    const adj: AdjustmentDoc = {
      suggestionId: 'sg_0123456789abcdef0123',
      appliedAt: h.clock.now(),
      appliedDay: '2025-06-22',
      by: String(OWNER),
      commandId: 'tg:9',
      changes: [{ document: 'config/macro', field: 'setups.DCA.dropFromHighPct', before: 2.5, after: 2.95 }],
      scope: { strategies: ['dca'], symbols: null },
      baseline: null,
      rolledBack: null,
      prompt: null,
    };
    for (const a of [adjustmentAppliedAlert(adj), adjustmentRefusedAlert('sg_x', 'tg:10', 3, 3, h.clock.now())]) {
      await publish(h.bus, TOPICS.alerts, a, { attributes: alertAttributes(a) });
    }
    await h.bus.drain();
    const owner = h.server.chatMessages(OWNER);
    const applied = owner.find((m) => m.text?.includes('Adjustment applied'))!;
    expect(applied.text).toContain('<code>macro.setups.DCA.dropFromHighPct</code>: 2.5 → <b>2.95</b>');
    expect(JSON.parse(applied.replyMarkup!).inline_keyboard).toEqual([[{ text: '↩️ Roll back', callback_data: `rb:${adj.suggestionId}` }]]);
    expect(owner.find((m) => m.text?.includes('Adjustment not applied'))?.text).toContain('3 adjustments applied today (at most 3 a day); approve again after midnight Los Angeles time');
    expect(textsTo(h.server, FRIEND).some((t) => t.includes('Adjustment'))).toBe(false);

    await h.deliver(callbackUpdate(FRIEND, `rb:${adj.suggestionId}`, FRIEND, 1));
    expect(h.server.ok('answerCallbackQuery').at(-1)!.fields.text).toContain('Only the owner');
    expect(h.commands).toHaveLength(0);
    await h.deliver(callbackUpdate(OWNER, `rb:${adj.suggestionId}`, OWNER, applied.messageId));
    await h.deliver(callbackUpdate(OWNER, `rk:${adj.suggestionId}`, OWNER, applied.messageId));
    expect(h.commands).toEqual([
      expect.objectContaining({ type: 'suggestion_rollback', suggestionId: adj.suggestionId, rollBack: true, actorId: String(OWNER) }),
      expect.objectContaining({ type: 'suggestion_rollback', suggestionId: adj.suggestionId, rollBack: false }),
    ]);
  });
});
