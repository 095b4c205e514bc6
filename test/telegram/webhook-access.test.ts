/**
 * The webhook against the local Bot API server: secret token, update de-duplication, the allow-list,
 * invite + verify (single use, expiry, brute-force lock-out), owner-only actions refused to members.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getTradingMode } from '../../shared/trading/live/mode.js';
import { TG_UPDATES_COLLECTION } from '../../shared/state-paths.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { callbackUpdate, makeHarness, OWNER, textsTo, textUpdate, type Harness } from './helpers.js';

const STRANGER = 2002;
const FRIEND = 3003;

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ candles: false });
});
afterEach(async () => {
  await h.close();
});

async function inviteCode(): Promise<string> {
  const before = textsTo(h.server, OWNER).length;
  await h.deliver(textUpdate(OWNER, '/invite'));
  const msg = textsTo(h.server, OWNER).slice(before).find((t) => t.includes('Invite code'));
  const code = /<code>(\d{6})<\/code>/.exec(msg ?? '')?.[1];
  if (!code) throw new Error(`no invite code in ${msg}`);
  return code;
}

describe('webhook security and de-duplication', () => {
  it('answers 401 to a missing or wrong secret token and processes nothing', async () => {
    const u = textUpdate(OWNER, '/status');
    expect((await h.deliver(u, 'wrong-secret')).status).toBe(401);
    expect((await h.deliver(u, '')).status).toBe(401);
    expect(await h.state.query(TG_UPDATES_COLLECTION)).toHaveLength(0);
    expect(h.server.requests).toHaveLength(0);
  });

  it('processes a duplicated update once (Telegram retried it)', async () => {
    const u = textUpdate(OWNER, '/help');
    const first = await h.deliver(u);
    const second = await h.deliver(u);
    expect(first.status).toBe(200);
    expect(second).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    const replies = textsTo(h.server, OWNER);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain('/invite');
  });
});

describe('access control', () => {
  it('refuses an unknown user with "Request access" and answers nothing else', async () => {
    const r = await h.deliver(textUpdate(STRANGER, '/stats 24h'));
    expect(r.status).toBe(200);
    const calls = h.server.ok().filter((c) => c.chatId === STRANGER);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.fields.text).toContain('Access required');
    expect(JSON.parse(calls[0]!.fields.reply_markup!).inline_keyboard[0][0]).toEqual({ text: '🔑 Request access', callback_data: 'ra' });
    // The button notifies the owner, who can create an invite from there.
    const m = h.server.chatMessages(STRANGER)[0]!;
    await h.deliver(callbackUpdate(STRANGER, 'ra', STRANGER, m.messageId));
    const toOwner = textsTo(h.server, OWNER);
    expect(toOwner.at(-1)).toContain('Access request from User&lt;2002&gt;');
  });

  it('invite, verify, then allowed', async () => {
    const code = await inviteCode();
    await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
    expect(textsTo(h.server, FRIEND).at(-1)).toContain('Welcome');
    expect(textsTo(h.server, OWNER).at(-1)).toContain(`joined with invite ${code}`);
    await h.deliver(textUpdate(FRIEND, '/status'));
    expect(textsTo(h.server, FRIEND).at(-1)).toContain('Status');
    expect(await h.rt.deps.access.roleOf(FRIEND, { id: FRIEND, type: 'private' })).toBe('member');
  });

  it('refuses a reused code', async () => {
    const code = await inviteCode();
    await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
    await h.deliver(textUpdate(STRANGER, `/verify ${code}`));
    expect(textsTo(h.server, STRANGER).at(-1)).toContain('was already used');
    await h.deliver(textUpdate(STRANGER, '/positions'));
    expect(textsTo(h.server, STRANGER).at(-1)).toContain('Access required');
  });

  it('refuses an expired code', async () => {
    const code = await inviteCode();
    h.clock.advance(DEFAULT_TELEGRAM_CONFIG.access.inviteTtlMs);
    await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
    expect(textsTo(h.server, FRIEND).at(-1)).toContain('has expired');
    expect(await h.rt.deps.access.roleOf(FRIEND, { id: FRIEND, type: 'private' })).toBe('none');
  });

  it('locks out a brute-forced code: after 5 wrong codes even the right one is refused', async () => {
    const code = await inviteCode();
    const wrong = (Number(code) + 1) % 1_000_000;
    for (let i = 0; i < DEFAULT_TELEGRAM_CONFIG.access.maxVerifyAttempts; i++) {
      await h.deliver(textUpdate(STRANGER, `/verify ${String((wrong + i) % 1_000_000).padStart(6, '0')}`));
    }
    const replies = textsTo(h.server, STRANGER);
    expect(replies[0]).toContain('4 attempt(s) left');
    expect(replies.at(-1)).toContain('locked until');
    await h.deliver(textUpdate(STRANGER, `/verify ${code}`));
    expect(textsTo(h.server, STRANGER).at(-1)).toContain('Too many wrong codes');
    expect(await h.rt.deps.access.roleOf(STRANGER, { id: STRANGER, type: 'private' })).toBe('none');
    // The untouched code still works for someone else.
    await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
    expect(textsTo(h.server, FRIEND).at(-1)).toContain('Welcome');
  });

  it('refuses owner-only actions to members; the owner can do them', async () => {
    const code = await inviteCode();
    await h.deliver(textUpdate(FRIEND, `/verify ${code}`));
    for (const cmd of ['/invite', '/pause', '/resume', '/mode live', '/suggestions']) {
      await h.deliver(textUpdate(FRIEND, cmd));
      expect(textsTo(h.server, FRIEND).at(-1)).toContain('Only the owner');
    }
    await h.deliver(textUpdate(FRIEND, '/config'));
    const cfgMsg = h.server.chatMessages(FRIEND).at(-1)!;
    expect(cfgMsg.text).toContain('SOLUSDT');
    expect(cfgMsg.replyMarkup).not.toContain('md:live');
    await h.deliver(callbackUpdate(FRIEND, 'md:live', FRIEND, cfgMsg.messageId));
    const ack = h.server.ok('answerCallbackQuery').at(-1)!;
    expect(ack.fields.text).toContain('Only the owner');
    expect(ack.fields.show_alert).toBe('true');
    expect(await getTradingMode(h.state)).toBe('paper');
    // the learning loop's owner buttons: approve a model's feature change, roll back / keep an adjustment
    for (const data of ['ma:v52_divergence@2', 'rb:sg_0123456789abcdef0123', 'rk:sg_0123456789abcdef0123', 'sa:sg_0123456789abcdef0123']) {
      await h.deliver(callbackUpdate(FRIEND, data, FRIEND, cfgMsg.messageId));
      expect(h.server.ok('answerCallbackQuery').at(-1)!.fields.text, data).toContain('Only the owner');
    }
    expect(h.commands).toHaveLength(0);

    // The owner: /pause publishes the command, the config list carries the owner buttons, the switch works.
    await h.deliver(textUpdate(OWNER, '/pause'));
    expect(h.commands).toEqual([expect.objectContaining({ type: 'pause', actorId: String(OWNER) })]);
    await h.deliver(textUpdate(OWNER, '/config'));
    const ownerCfg = h.server.chatMessages(OWNER).at(-1)!;
    expect(ownerCfg.replyMarkup).toContain('md:live');
    await h.deliver(callbackUpdate(OWNER, 'md:live', OWNER, ownerCfg.messageId));
    expect(await getTradingMode(h.state)).toBe('live');
  });

  it('/allowgroup (owner) lets a whole group in; before that the group is refused', async () => {
    const group = { id: -100777, type: 'supergroup' as const, title: 'Traders & <friends>' };
    await h.deliver(textUpdate(STRANGER, '/stats', group));
    expect(textsTo(h.server, group.id)).toEqual([expect.stringContaining('Access required')]);
    await h.deliver(textUpdate(STRANGER, 'just chatting', group));
    expect(textsTo(h.server, group.id)).toHaveLength(1);
    await h.deliver(textUpdate(OWNER, '/allowgroup', group));
    expect(textsTo(h.server, group.id).at(-1)).toContain('Traders &amp; &lt;friends&gt;');
    await h.deliver(textUpdate(STRANGER, '/positions', group));
    expect(textsTo(h.server, group.id).at(-1)).toContain('Positions');
  });
});
