/**
 * The bot's side of the dashboard (issue 12), against the local Bot API server: `/dashboard` (a
 * single-use login link in a private chat; the way to the private chat in a group), `/start dashboard`
 * (the deep link's landing), the "🖥 Dashboard" web_app button on /status, /positions and trade alerts,
 * and the rule that a web_app button never reaches a group (the Bot API refuses it there: the outbox
 * sends the deep link instead, or drops the button when the bot's username is unknown).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TOPICS } from '../../shared/topics.js';
import { redeemLogin } from '../../shared/dashboard/auth.js';
import { DEFAULT_TELEGRAM_CONFIG, type TelegramConfig } from '../../shared/config/telegram.js';
import { dashboardDeepLink, dashboardRow, keyboardForChat } from '../../shared/telegram/keyboards.js';
import type { InlineKeyboard } from '../../shared/ports/telegram.js';
import { TelegramApiError } from '../../shared/ports/telegram.js';
import { BotApiTelegram } from '../../infra/telegram/bot-api.js';
import { ConsoleTelegram } from '../../infra/telegram/console.js';
import type { Signal } from '../../shared/model/trading.js';
import { openedOutcome } from './outcomes.js';
import { loadCandles, makeHarness, MIN, OWNER, T0, TOKEN, textUpdate, type Harness } from './helpers.js';

const PUBLIC_URL = 'https://dash.example.org/dashboard';
const BOT = 'cst_test_bot';
const GROUP = -100777;
const FRIEND = 3003;
const STRANGER = 2002;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function dashboardConfig(publicUrl: string | null): Partial<TelegramConfig> {
  return { dashboard: { ...DEFAULT_TELEGRAM_CONFIG.dashboard, publicUrl } };
}

async function harness(opts: { publicUrl?: string | null; botUsername?: string | null; candles?: boolean } = {}): Promise<Harness> {
  const botUsername = opts.botUsername === undefined ? BOT : opts.botUsername;
  h = await makeHarness({
    candles: opts.candles ?? false,
    tg: dashboardConfig(opts.publicUrl === undefined ? PUBLIC_URL : opts.publicUrl),
    ...(botUsername ? { env: { CST_TELEGRAM_BOT_USERNAME: botUsername } } : {}),
  });
  await h.rt.deps.access.allowGroup({ id: GROUP, title: 'Traders', isForum: false }, OWNER, h.clock.now());
  return h;
}

function groupUpdate(userId: number, text: string): Record<string, unknown> {
  return textUpdate(userId, text, { id: GROUP, type: 'supergroup', title: 'Traders' });
}

/** The last message the server stored for a chat, with its keyboard as sent. */
function lastMessage(x: Harness, chatId: number): { text: string; keyboard: InlineKeyboard | null } {
  const m = x.server.chatMessages(chatId).at(-1);
  if (!m) throw new Error(`no message in chat ${chatId}`);
  return { text: m.text ?? m.caption ?? '', keyboard: m.replyMarkup ? (JSON.parse(m.replyMarkup) as { inline_keyboard: InlineKeyboard }).inline_keyboard : null };
}

const webApps = (kb: InlineKeyboard | null) => (kb ?? []).flat().filter((b) => 'web_app' in b);
const urls = (kb: InlineKeyboard | null) => (kb ?? []).flat().flatMap((b) => ('url' in b ? [b.url] : []));

async function member(x: Harness, userId: number): Promise<void> {
  const inv = await x.rt.deps.access.createInvite(OWNER, x.clock.now());
  const r = await x.rt.deps.access.verify(userId, `User ${userId}`, inv.code, x.clock.now());
  expect(r.ok).toBe(true);
}

describe('keyboardForChat: no web_app button outside private chats', () => {
  const kb: InlineKeyboard = [[{ text: '📈 Chart', callback_data: 'ch:x' }], ...dashboardRow(PUBLIC_URL)];

  it('builds the Mini App row only for an https URL', () => {
    expect(dashboardRow(PUBLIC_URL)).toEqual([[{ text: '🖥 Dashboard', web_app: { url: PUBLIC_URL } }]]);
    expect(dashboardRow('http://127.0.0.1:8080/dashboard')).toEqual([]);
    expect(dashboardRow(undefined)).toEqual([]);
  });

  it('keeps a private chat keyboard as is', () => {
    expect(keyboardForChat(kb, OWNER, BOT)).toBe(kb);
  });

  it('turns the web_app button into the deep link in a group, and drops it without a bot username', () => {
    expect(keyboardForChat(kb, GROUP, BOT)).toEqual([[{ text: '📈 Chart', callback_data: 'ch:x' }], [{ text: '🖥 Dashboard', url: `https://t.me/${BOT}?start=dashboard` }]]);
    expect(keyboardForChat(kb, GROUP, undefined)).toEqual([[{ text: '📈 Chart', callback_data: 'ch:x' }]]);
  });
});

describe('the local Bot API server refuses what Telegram refuses', () => {
  it('a web_app button in a group (BUTTON_TYPE_INVALID) and an http Mini App URL', async () => {
    const x = await harness();
    const api = new BotApiTelegram(TOKEN, { apiRoot: x.server.apiRoot });
    const toGroup = api.sendMessage(GROUP, 'hi', { replyMarkup: dashboardRow(PUBLIC_URL) });
    await expect(toGroup).rejects.toThrow(TelegramApiError);
    await expect(toGroup).rejects.toThrow(/BUTTON_TYPE_INVALID/);
    await expect(api.sendMessage(OWNER, 'hi', { replyMarkup: [[{ text: 'x', web_app: { url: 'http://127.0.0.1:8080/dashboard' } }]] })).rejects.toThrow(/Only HTTPS links are allowed/);
    x.clock.advance(1_000); // the server counted the refused request against the chat's 1/s
    await expect(api.sendMessage(OWNER, 'hi', { replyMarkup: dashboardRow(PUBLIC_URL) })).resolves.toMatchObject({ chatId: OWNER });
  });
});

describe('/dashboard', () => {
  it('gives the owner a single-use login link and the Mini App button in a private chat', async () => {
    const x = await harness();
    await x.deliver(textUpdate(OWNER, '/dashboard'));
    const m = lastMessage(x, OWNER);
    const link = urls(m.keyboard)[0]!;
    expect(link.startsWith(`${PUBLIC_URL}#login=`)).toBe(true);
    expect(m.text).toContain(`<a href="${link}">your login link</a>`);
    expect(m.text).toContain('single use, valid 10m');
    expect(webApps(m.keyboard)).toEqual([{ text: '🖥 Dashboard', web_app: { url: PUBLIC_URL } }]);

    const token = new URL(link).hash.slice('#login='.length);
    const keys = x.rt.deps.dashboard!.keys;
    // minted on the dashboard's wall clock (the server redeems on it), whatever the root's clock says
    const now = x.rt.deps.dashboard!.clock.now();
    expect(Math.abs(now - x.clock.now())).toBeGreaterThan(DEFAULT_TELEGRAM_CONFIG.dashboard.loginLinkTtlMs);
    expect(await redeemLogin(keys, x.state, token, now)).toEqual({ ok: true, user: { id: OWNER, name: `User<${OWNER}>` }, local: false });
    expect(await redeemLogin(keys, x.state, token, now)).toEqual({ ok: false, reason: 'used' });

    // A second link is its own: it expires after loginLinkTtlMs.
    await x.deliver(textUpdate(OWNER, '/dashboard'));
    const second = new URL(urls(lastMessage(x, OWNER).keyboard)[0]!).hash.slice('#login='.length);
    expect(second).not.toBe(token);
    expect(await redeemLogin(keys, x.state, second, x.rt.deps.dashboard!.clock.now() + DEFAULT_TELEGRAM_CONFIG.dashboard.loginLinkTtlMs)).toEqual({ ok: false, reason: 'expired' });
  });

  it('gives a member a link for themselves; an unknown user gets none', async () => {
    const x = await harness();
    await member(x, FRIEND);
    await x.deliver(textUpdate(FRIEND, '/dashboard'));
    const token = new URL(urls(lastMessage(x, FRIEND).keyboard)[0]!).hash.slice('#login='.length);
    const r = await redeemLogin(x.rt.deps.dashboard!.keys, x.state, token, x.clock.now());
    expect(r.ok && r.user.id).toBe(FRIEND);

    await x.deliver(textUpdate(STRANGER, '/dashboard'));
    const refused = lastMessage(x, STRANGER);
    expect(refused.text).toContain('Access required');
    expect(refused.text).not.toContain('login');
    expect(urls(refused.keyboard)).toEqual([]);
  });

  it('in a group: no login link, the way to the private chat (deep link), accepted by Telegram', async () => {
    const x = await harness();
    await x.deliver(groupUpdate(OWNER, '/dashboard'));
    const m = lastMessage(x, GROUP);
    expect(m.text).toContain('private chat');
    expect(m.text).not.toContain('#login=');
    expect(m.keyboard).toEqual([[{ text: '🖥 Dashboard (private chat)', url: dashboardDeepLink(BOT) }]]);
    expect(x.server.calls().filter((r) => r.status !== 200)).toEqual([]);
  });

  it('/start dashboard (the deep link) answers with the Mini App button in the private chat', async () => {
    const x = await harness();
    await x.deliver(textUpdate(OWNER, '/start dashboard'));
    const m = lastMessage(x, OWNER);
    expect(webApps(m.keyboard)).toEqual([{ text: '🖥 Dashboard', web_app: { url: PUBLIC_URL } }]);
    expect(m.text).toContain('#login=');
    // A plain /start still answers with the help.
    await x.deliver(textUpdate(OWNER, '/start'));
    expect(lastMessage(x, OWNER).text).toContain('/dashboard');
  });

  it('with a local http URL: the link in the text, no Mini App button (Telegram opens https only)', async () => {
    const x = await harness({ publicUrl: 'http://127.0.0.1:8080/dashboard' });
    await x.deliver(textUpdate(OWNER, '/dashboard'));
    const m = lastMessage(x, OWNER);
    expect(m.text).toContain('<a href="http://127.0.0.1:8080/dashboard#login=');
    expect(m.keyboard).toBeNull();
    await x.deliver(textUpdate(OWNER, '/status'));
    expect(lastMessage(x, OWNER).keyboard).toBeNull();
  });

  it('says how to set it up when no URL is configured', async () => {
    const x = await harness({ publicUrl: null });
    await x.deliver(textUpdate(OWNER, '/dashboard'));
    expect(lastMessage(x, OWNER).text).toContain('dashboard.publicUrl');
  });
});

describe('the Dashboard button on /status, /positions and trade alerts', () => {
  it('is a web_app button in private chats and the deep link in a group', async () => {
    const x = await harness();
    await x.deliver(textUpdate(OWNER, '/status'));
    expect(lastMessage(x, OWNER).keyboard).toEqual(dashboardRow(PUBLIC_URL));
    await x.deliver(textUpdate(OWNER, '/positions'));
    const pos = lastMessage(x, OWNER).keyboard!;
    expect(pos[0]!.map((b) => b.text)).toEqual(['🔄 1/1']);
    expect(pos.slice(1)).toEqual(dashboardRow(PUBLIC_URL));

    await x.deliver(groupUpdate(OWNER, '/status'));
    expect(lastMessage(x, GROUP).keyboard).toEqual([[{ text: '🖥 Dashboard', url: dashboardDeepLink(BOT) }]]);
    await x.deliver(groupUpdate(OWNER, '/positions'));
    expect(lastMessage(x, GROUP).keyboard!.slice(1)).toEqual([[{ text: '🖥 Dashboard', url: dashboardDeepLink(BOT) }]]);
    expect(x.server.calls().filter((r) => r.status !== 200)).toEqual([]);
  });

  it('is dropped in a group when the bot username is unknown (never a refused message)', async () => {
    const x = await harness({ botUsername: null });
    await x.deliver(groupUpdate(OWNER, '/status'));
    expect(lastMessage(x, GROUP).keyboard).toBeNull();
    await x.deliver(textUpdate(OWNER, '/status'));
    expect(lastMessage(x, OWNER).keyboard).toEqual(dashboardRow(PUBLIC_URL));
    expect(x.server.calls().filter((r) => r.status !== 200)).toEqual([]);
  });

  it('sits under a trade alert (and its edits) in the owner chat, as the deep link in the group', async () => {
    const x = await harness({ candles: true });
    // A SHORT on SOL at 12:00 on the fixture's real close (test/fixtures/telegram).
    const close = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m').find((c) => c.openTime === T0)!.close;
    const s: Signal = {
      signalId: `v52_divergence:SOLUSDT:${T0}`, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'SOLUSDT', ts: T0 + MIN, candleTime: T0, decision: 'TAKE',
      direction: 'SHORT', price: close, reasons: ['RSI divergence'], features: {}, tier: 'mid_cap', entries: [close], stopLoss: close * 1.003, takeProfit: close * 0.995,
      trailingFraction: null, maxHoldMs: 3_600_000, confidence: 71, emit: true,
    };
    const opened = openedOutcome(s);
    await x.bus.publish(TOPICS.tradeEvents, opened);
    await x.bus.drain();
    const owner = lastMessage(x, OWNER);
    expect(owner.keyboard![0]!.map((b) => b.text)).toEqual(['📈 Chart', '🎯 Move TP', '🔕 Mute SOL']);
    expect(owner.keyboard!.slice(1)).toEqual(dashboardRow(PUBLIC_URL));
    const group = lastMessage(x, GROUP);
    expect(group.keyboard!.slice(1)).toEqual([[{ text: '🖥 Dashboard', url: dashboardDeepLink(BOT) }]]);

    // The fill edits the alert: the button stays, and the group's edit is accepted too.
    const base = { accountId: 'paper', groupId: opened.groupId, signalId: s.signalId, symbol: 'SOLUSDT', strategy: 'v52_divergence', direction: 'SHORT' };
    await x.bus.publish(TOPICS.tradeEvents, { ...base, type: 'entry_filled', eventId: `fill:${opened.groupId}`, ts: T0 + 2 * MIN, orderId: `${opened.groupId}:e0`, price: close, qty: 12.5, fee: 0.9, avgEntry: close, filledQty: 12.5 });
    await x.bus.drain();
    const edits = x.server.ok('editMessageCaption');
    expect(edits.map((r) => r.chatId).sort()).toEqual([GROUP, OWNER].sort());
    expect(lastMessage(x, OWNER).keyboard!.slice(1)).toEqual(dashboardRow(PUBLIC_URL));
    expect(lastMessage(x, GROUP).keyboard!.slice(1)).toEqual([[{ text: '🖥 Dashboard', url: dashboardDeepLink(BOT) }]]);
    expect(x.server.calls().filter((r) => r.status !== 200)).toEqual([]);
  });
});

describe('the console (no bot token) prints where url and web_app buttons lead', () => {
  it('shows each button with its URL', async () => {
    const printed: string[] = [];
    const c = new ConsoleTelegram({ dir: '/nonexistent-never-written', print: (l) => printed.push(l) });
    await c.sendMessage(1, 'Dashboard', { replyMarkup: [...dashboardRow(PUBLIC_URL), [{ text: '🌐 Open in a browser', url: `${PUBLIC_URL}#login=t.s` }], [{ text: '📈 Chart', callback_data: 'ch:x' }]] });
    expect(printed[0]).toContain(`[🖥 Dashboard ${PUBLIC_URL} | 🌐 Open in a browser ${PUBLIC_URL}#login=t.s | 📈 Chart]`);
  });
});
