/**
 * The owner decisions the bot and the dashboard share (one implementation each).
 *
 * `setPaused` (shared/telegram/control.ts): the control document /status reads and ONE pause / resume
 * trade command per command id, from either origin.
 *
 * `decideSuggestion` (shared/telegram/suggestions.ts): the ONE owner decision on a pending threshold
 * suggestion, behind the bot's Approve / Reject buttons and the dashboard's. It marks the
 * `ml_suggestions/{id}` item and publishes ONE `suggestion_decided` trade command per command id; a
 * retry of the same command publishes the same command again (the execution de-duplicates on its id)
 * and never decides twice; another command finds it decided; a missing, superseded or unreadable item
 * changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mlSuggestionPath } from '../../shared/state-paths.js';
import { decideSuggestion, suggestionDecisionText } from '../../shared/telegram/suggestions.js';
import { setPaused } from '../../shared/telegram/control.js';
import type { DocData } from '../../shared/ports/state.js';
import { callbackUpdate, makeHarness, OWNER, textsTo, textUpdate, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ candles: false });
});
afterEach(async () => {
  await h.close();
});

/** An item as shared/learning/suggestions.ts stores it for the bot. */
async function seed(id: string, extra: Record<string, unknown> = {}): Promise<void> {
  await h.state.set(mlSuggestionPath(id), {
    id,
    strategy: 'strategies',
    parameter: 'scalp.v52_divergence.exits.fixed.takeProfitPct',
    current: 0.5,
    suggested: 0.6,
    status: 'pending',
    createdAt: h.clock.now() - 3_600_000,
    summary: 'tp_wide over 72h',
    ...extra,
  } as DocData);
}

const decided = () => h.commands.filter((c) => (c as { type?: string }).type === 'suggestion_decided') as Array<Record<string, unknown>>;

describe('decideSuggestion', () => {
  it('from the dashboard: decides once, publishes one command with origin dashboard; a retry re-publishes the same command', async () => {
    await seed('sg_a');
    const now = h.clock.now();
    const req = { id: 'sg_a', approve: true, actorId: OWNER, origin: 'dashboard' as const, now, commandId: 'dash:p1' };
    expect(await decideSuggestion(h.rt.deps, req)).toEqual({ outcome: 'decided', status: 'approved', commandId: 'dash:p1' });
    await h.bus.drain();
    expect(decided()).toEqual([{ type: 'suggestion_decided', suggestionId: 'sg_a', approved: true, commandId: 'dash:p1', actorId: String(OWNER), ts: now, origin: 'dashboard' }]);
    expect(await h.state.get(mlSuggestionPath('sg_a'))).toMatchObject({ status: 'approved', decidedBy: OWNER, decidedAt: now, commandId: 'dash:p1' });

    // The page retries the same intent later: same command, same id; the item is not decided again.
    expect(await decideSuggestion(h.rt.deps, { ...req, now: now + 5_000 })).toEqual({ outcome: 'decided', status: 'approved', commandId: 'dash:p1' });
    await h.bus.drain();
    expect(decided().map((c) => c.commandId)).toEqual(['dash:p1', 'dash:p1']);
    expect(await h.state.get(mlSuggestionPath('sg_a'))).toMatchObject({ decidedAt: now });

    // Another command (a second tap, the bot's button) finds it decided and publishes nothing.
    const other = await decideSuggestion(h.rt.deps, { ...req, approve: false, commandId: 'dash:p2' });
    expect(other).toEqual({ outcome: 'already_decided', status: 'approved' });
    expect(suggestionDecisionText(other)).toBe('Already approved.');
    await h.bus.drain();
    expect(decided()).toHaveLength(2);
  });

  it('the bot\'s Reject button goes through it (origin telegram, the update\'s command id)', async () => {
    await seed('sg_b');
    const u = callbackUpdate(OWNER, 'sr:sg_b', OWNER, 1);
    await h.deliver(u);
    expect(decided()).toEqual([expect.objectContaining({ suggestionId: 'sg_b', approved: false, origin: 'telegram', commandId: `tg:${u.update_id as number}` })]);
    expect(await h.state.get(mlSuggestionPath('sg_b'))).toMatchObject({ status: 'rejected', decidedBy: OWNER });
    const acks = h.server.ok('answerCallbackQuery').map((r) => r.fields.text);
    expect(acks.at(-1)).toBe('🚫 Suggestion rejected');
  });

  it('changes nothing for a missing, superseded or unreadable item', async () => {
    const base = { approve: true, actorId: OWNER, origin: 'dashboard' as const, now: h.clock.now() };
    expect(await decideSuggestion(h.rt.deps, { ...base, id: 'sg_none', commandId: 'dash:m' })).toEqual({ outcome: 'missing' });

    await seed('sg_old', { status: 'superseded', supersededBy: 'sg_new' });
    expect(await decideSuggestion(h.rt.deps, { ...base, id: 'sg_old', commandId: 'dash:s' })).toEqual({ outcome: 'already_decided', status: 'superseded' });

    await seed('sg_bad', { current: 'half a percent' });
    expect(await decideSuggestion(h.rt.deps, { ...base, id: 'sg_bad', commandId: 'dash:b' })).toEqual({ outcome: 'invalid' });
    expect(await h.state.get(mlSuggestionPath('sg_bad'))).toMatchObject({ status: 'pending' });
    await h.bus.drain();
    expect(decided()).toEqual([]);
  });
});

describe('setPaused', () => {
  it('pauses from the dashboard (origin dashboard, its command id) and /status shows it; the bot resumes', async () => {
    const now = h.clock.now();
    await setPaused(h.rt.deps, { paused: true, actorId: OWNER, origin: 'dashboard', now, commandId: 'dash:pz' });
    await h.bus.drain();
    expect(h.commands).toEqual([{ type: 'pause', commandId: 'dash:pz', actorId: String(OWNER), ts: now, origin: 'dashboard' }]);
    await h.deliver(textUpdate(OWNER, '/status'));
    expect(textsTo(h.server, OWNER).at(-1)).toContain('PAUSED by owner');

    const u = textUpdate(OWNER, '/resume');
    await h.deliver(u);
    expect(h.commands.at(-1)).toEqual(expect.objectContaining({ type: 'resume', origin: 'telegram', commandId: `tg:${u.update_id as number}` }));
    await h.deliver(textUpdate(OWNER, '/status'));
    expect(textsTo(h.server, OWNER).at(-1)).toContain('running');
  });
});
