/**
 * The dashboard in a real headless browser (issue 12 "Show"): Debian's Chromium driven by
 * playwright-core over the real dashboard function, on the state of a REAL replayed day
 * (test/dashboard/browser-helpers.ts: 2025-06-11 of the kit slice through the whole pipeline, stopped
 * with a position open).
 *
 * - each page (Paper trading, Strategies, Market, Research) renders the replayed day's data, and the
 *   position's candlestick chart and the equity curve are drawn (canvas pixels that are not background);
 * - the owner moves a take profit with the slider: the paper book (the trading doc) and the owner's
 *   chat (the local Telegram Bot API server) both show it, and the page shows it without a reload;
 * - a member (login link) sees no action control and is refused an action (403);
 * - forged or stale initData, a spent login link and no credential at all get 401 and the "open it
 *   from Telegram" screen;
 * - at 360 x 740 no page scrolls sideways;
 * - screenshots of every page go to test-artifacts/dashboard/*.png (gitignored).
 *
 * No browser installed is a FAILURE saying how to install one (chromiumExecutable), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { PaperView } from '../../shared/dashboard/api.js';
import type { DocData } from '../../shared/ports/state.js';
import { DARK_THEME } from '../../shared/charts/theme.js';
import { userPath } from '../../shared/state-paths.js';
import { fmtPrice } from '../../shared/telegram/html.js';
import {
  chartPixels,
  chromiumExecutable,
  horizontalOverflow,
  INSTALL_HINT,
  launchChromium,
  MEMBER,
  miniAppUrl,
  newPage,
  OWNER,
  PHONE,
  screenshotPath,
  signInitData,
  startWorld,
  waitReady,
  type DashboardWorld,
} from './browser-helpers.js';

const PAGES = ['paper', 'strategies', 'market', 'research'] as const;

/** The page-side `document` in evaluate callbacks (run in the browser; no DOM lib here). */
declare const document: {
  querySelectorAll(sel: string): ArrayLike<{ getAttribute(n: string): string | null; textContent: string | null }>;
  querySelector(sel: string): { textContent: string | null } | null;
};

let world: DashboardWorld;
let browser: Browser;

describe('Chromium', () => {
  it('is found, or the failure says how to install it', () => {
    expect(() => chromiumExecutable({ PATH: '/nonexistent' })).toThrow(/apt-get install -y chromium/);
    expect(() => chromiumExecutable({ CST_CHROMIUM: '/nonexistent/chromium' })).toThrow(INSTALL_HINT);
    expect(chromiumExecutable()).toMatch(/chrom/i);
  });
});

describe('the dashboard in Chromium over a replayed day', () => {
  beforeAll(async () => {
    browser = await launchChromium();
    world = await startWorld();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
  }, 60_000);

  /** Opens the page as Telegram opens a Mini App for `user`. */
  async function openAs(user: Record<string, unknown>, viewport?: { width: number; height: number }) {
    const p = await newPage(browser, viewport);
    await p.page.goto(miniAppUrl(world.url, world.initData(user)));
    await waitReady(p.page, 'paper');
    return p;
  }

  async function goTo(page: Page, name: string) {
    await page.evaluate((n) => (globalThis as unknown as { location: { hash: string } }).location.hash = `#/${n}`, name);
    await waitReady(page, name);
  }

  it('renders every page with the replayed day\'s data for the owner, with drawn charts', async () => {
    const { context, page, problems } = await openAs(OWNER);
    const doc = await world.trading();
    const open = doc.state.account.positions;
    // Paper trading: the open positions of the trading doc, the closed trades of the day
    const groups = await page.$$eval('article.position', (els) => els.map((e) => e.getAttribute('data-group')));
    expect(groups.sort()).toEqual(open.map((p) => p.groupId).sort());
    // the closed trades of the day through the filters (period `all`, then one strategy)
    const closed = (strategy: string) => world.replay.trades.find((t) => t.strategy === strategy)?.trades ?? 0;
    expect(closed('all')).toBeGreaterThan(10);
    await page.selectOption('select[data-filter="period"]', 'all');
    await expect.poll(() => page.textContent('#trades h2'), { timeout: 10_000 }).toBe(`Closed trades ${closed('all')}`);
    expect(await page.locator('#trades tbody tr').count()).toBe(Math.min(closed('all'), 50));
    await page.selectOption('select[data-filter="strategy"]', 'v52_divergence');
    await expect.poll(() => page.textContent('#trades h2'), { timeout: 10_000 }).toBe(`Closed trades ${closed('v52_divergence')}`);
    expect(new Set(await page.$$eval('#trades tbody tr td:nth-child(3)', (els) => els.map((e) => e.textContent)))).toEqual(new Set(['v52_divergence']));
    await page.selectOption('select[data-filter="strategy"]', '');
    // the first position's candlestick chart and the equity curve are drawn
    await page.waitForFunction(() => document.querySelector('[data-chart^="pos:"][data-candles]') !== null, undefined, { timeout: 15_000 });
    // candles in the theme's up and down colours, the TP and SL lines in theirs; the equity line
    const candles = await chartPixels(page, '[data-chart^="pos:"]', [DARK_THEME.candleUp, DARK_THEME.candleDown, DARK_THEME.takeProfit, DARK_THEME.stopLoss]);
    expect(candles.canvases).toBeGreaterThan(0);
    for (const n of candles.counts) expect(n).toBeGreaterThan(500);
    const equity = await chartPixels(page, '[data-chart="equity"]', [DARK_THEME.equityLine]);
    expect(equity.counts[0]).toBeGreaterThan(500);
    await page.screenshot({ path: screenshotPath('paper'), fullPage: true });

    // Strategies: readiness for every replayed symbol
    await goTo(page, 'strategies');
    const symbols = await page.$$eval('[data-readiness-symbol]', (els) => els.map((e) => e.getAttribute('data-readiness-symbol')));
    expect(symbols.sort()).toEqual([...world.replay.symbols].sort());
    expect(await page.locator('article.readiness').count()).toBeGreaterThanOrEqual(world.replay.symbols.length);
    await page.screenshot({ path: screenshotPath('strategies'), fullPage: true });

    // Market: a freshness row per symbol, the regime
    await goTo(page, 'market');
    const fresh = await page.$$eval('#freshness tbody tr td:first-child', (els) => [...new Set(els.map((e) => e.textContent))]);
    for (const s of world.replay.symbols) expect(fresh).toContain(s);
    expect(await page.textContent('#regime h2')).toMatch(/Regime\s+\S+/);
    // the protection alerts the replayed day raised (stored by the alerts' consumer)
    expect(await page.locator('#protections tbody tr').count()).toBeGreaterThan(0);
    await page.screenshot({ path: screenshotPath('market'), fullPage: true });

    // Research
    await goTo(page, 'research');
    for (const id of ['#models', '#shadow', '#suggestions']) expect(await page.locator(id).count()).toBe(1);
    await page.screenshot({ path: screenshotPath('research'), fullPage: true });

    expect(problems).toEqual([]);
    await context.close();
  }, 120_000);

  it('polls with If-None-Match (an unchanged view costs a 304) and survives a reload', async () => {
    const { context, page, problems } = await openAs(OWNER);
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/paper')) statuses.push(r.status());
    });
    await page.waitForTimeout(4_000);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses).toContain(304);
    // a reload keeps the session (sessionStorage, checked with api/me): no credential needed again
    await page.reload();
    await waitReady(page, 'paper');
    expect(page.url()).not.toContain('tgWebAppData');
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('the owner moves a take profit with the slider: the paper book and the chat both show it, the page too', async () => {
    const { context, page, problems } = await openAs(OWNER);
    const before = await world.trading();
    const position = before.state.account.positions.find((p) => p.status === 'open') ?? before.state.account.positions[0];
    expect(position).toBeDefined();
    const card = page.locator(`article.position[data-group="${position!.groupId}"]`);
    const slider = card.locator('input[data-action="move_tp"]');
    expect(await slider.count()).toBe(1);
    // the slider spans exactly the bounds the server gives the position (PositionView.bounds)
    const token = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('cst.dashboard.session'));
    const view = (await (await fetch(`${world.url}/api/paper`, { headers: { authorization: `Bearer ${token}` } })).json()) as PaperView;
    const bounds = view.positions.find((p) => p.groupId === position!.groupId)?.bounds.takeProfit;
    expect(bounds).toBeTruthy();
    const current = Number(await slider.inputValue());
    await slider.fill('0');
    expect(Number(await slider.getAttribute('data-price'))).toBe(bounds!.min);
    await slider.fill(await slider.getAttribute('max') as string);
    expect(Number(await slider.getAttribute('data-price'))).toBe(bounds!.max);
    // a slider position away from the current TP
    await slider.fill(String(current > 500 ? current - 300 : current + 300));
    const price = Number(await slider.getAttribute('data-price'));
    expect(Number.isFinite(price)).toBe(true);
    expect(price).not.toBe(position!.takeProfit);
    const chatBefore = world.chatTexts(OWNER.id).length;
    await card.locator('button[data-action="move_tp-apply"]').click();

    // the paper book
    await expect.poll(async () => (await world.trading()).state.account.positions.find((p) => p.groupId === position!.groupId)?.takeProfit, { timeout: 15_000 }).toBe(price);
    // the chat: the owner is told (the execution's owner_command confirmation), with the new level
    const told = () => world.chatTexts(OWNER.id).slice(chatBefore).find((t) => /take profit/i.test(t) && t.includes(position!.symbol) && (t.includes(String(price)) || t.includes(fmtPrice(price))));
    await expect.poll(told, { timeout: 15_000 }).toBeDefined();
    expect(told()).toMatch(/applied/i);
    // the page, by its own polling
    await expect.poll(() => card.locator('[data-field="takeProfit"]').textContent(), { timeout: 10_000 }).toBe(fmtPrice(price));
    await page.screenshot({ path: screenshotPath('paper-tp-moved'), fullPage: true });

    // the stop loss the same way (its own slider, bounded on the loss side of the mark)
    const sl = card.locator('input[data-action="move_sl"]');
    await sl.fill(String(Math.max(0, Number(await sl.inputValue()) - 200)));
    const stop = Number(await sl.getAttribute('data-price'));
    expect(stop).not.toBe(position!.stopLoss);
    await card.locator('button[data-action="move_sl-apply"]').click();
    await expect.poll(async () => (await world.trading()).state.account.positions.find((p) => p.groupId === position!.groupId)?.stopLoss, { timeout: 15_000 }).toBe(stop);
    await expect.poll(() => card.locator('[data-field="stopLoss"]').textContent(), { timeout: 10_000 }).toBe(fmtPrice(stop));
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  it('the owner pauses and resumes trading from the page: the paper book follows, the page shows it', async () => {
    const { context, page, problems } = await openAs(OWNER);
    const paused = async () => (await world.trading()).state.control?.paused ?? false;
    expect(await paused()).toBe(false);
    await page.click('button[data-action="pause"]');
    await expect.poll(paused, { timeout: 15_000 }).toBe(true);
    await page.waitForSelector('button[data-action="resume"]', { timeout: 10_000 });
    expect(await page.textContent('#account h2')).toContain('paused');
    await page.click('button[data-action="resume"]');
    await expect.poll(paused, { timeout: 15_000 }).toBe(false);
    await page.waitForSelector('button[data-action="pause"]', { timeout: 10_000 });
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);

  it('a member (login link) sees every page and no action control, and is refused an action', async () => {
    const { context, page, problems } = await newPage(browser);
    await page.goto(await world.loginLink(MEMBER));
    await waitReady(page, 'paper');
    // the login token left the address bar at once
    expect(page.url()).not.toContain('login=');
    expect(await page.textContent('#who')).toContain('member');
    for (const name of PAGES) {
      if (name !== 'paper') await goTo(page, name);
      expect(await page.locator('[data-action]').count()).toBe(0);
      expect(await page.locator('input[type="range"], button.btn-danger').count()).toBe(0);
    }
    await goTo(page, 'paper');
    await page.screenshot({ path: screenshotPath('paper-member'), fullPage: true });
    // the server refuses a member's action whatever the page shows
    const token = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('cst.dashboard.session'));
    expect(token).toBeTruthy();
    const r = await fetch(`${world.url}/api/actions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ commandId: 'member-try-1', action: 'pause' }) });
    expect(r.status).toBe(403);
    expect(problems).toEqual([]);
    // removed from the allow-list: the next poll ends the session (the role is re-read per request)
    const memberDoc = await world.state.get<DocData>(userPath(MEMBER.id));
    await world.state.delete(userPath(MEMBER.id));
    try {
      await page.waitForSelector('#signed-out[data-reason="not_allowed"]', { timeout: 10_000 });
      expect(await page.locator('[data-action], #tabs:not([hidden])').count()).toBe(0);
    } finally {
      await world.state.set(userPath(MEMBER.id), memberDoc!);
    }
    await context.close();
  }, 90_000);

  /** Opens the page with a URL and expects the signed-out screen with `reason`. */
  async function expectSignedOut(url: string, reason: string) {
    const { context, page } = await newPage(browser);
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/')) statuses.push(r.status());
    });
    await page.goto(url);
    await page.waitForSelector('#signed-out', { timeout: 15_000 });
    expect(await page.getAttribute('#signed-out', 'data-reason')).toBe(reason);
    expect(await page.locator('#tabs').isHidden()).toBe(true);
    expect(await page.textContent('#signed-out')).toContain('/dashboard');
    await context.close();
    return statuses;
  }

  it('forged or stale initData, a spent login link and no credential get 401 and the "open it from Telegram" screen', async () => {
    // forged: another user id in a payload signed with another bot's token
    const forged = signInitData({ ...OWNER, id: OWNER.id + 1 }, Math.floor(Date.now() / 1000), '1:not-the-bot-token');
    expect(await expectSignedOut(miniAppUrl(world.url, forged), 'bad_signature')).toEqual([401]);
    // tampered: the owner's genuine initData with the user swapped after signing
    const genuine = new URLSearchParams(world.initData(MEMBER));
    genuine.set('user', JSON.stringify(OWNER));
    expect(await expectSignedOut(miniAppUrl(world.url, genuine.toString()), 'bad_signature')).toEqual([401]);
    // stale: signed two hours ago (config initDataMaxAgeMs is one hour)
    expect(await expectSignedOut(miniAppUrl(world.url, world.initData(OWNER, 2 * 3_600_000)), 'stale_init_data')).toEqual([401]);
    // a login link works once
    const link = await world.loginLink(OWNER);
    const first = await newPage(browser);
    await first.page.goto(link);
    await waitReady(first.page, 'paper');
    await first.context.close();
    expect(await expectSignedOut(link, 'login_used')).toEqual([401]);
    // no credential at all: the page asks nothing of the API and says how to open it
    expect(await expectSignedOut(world.url, 'missing')).toEqual([]);
    // and the API itself answers 401 without a session
    const r = await fetch(`${world.url}/api/paper`);
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ reason: expect.any(String), error: expect.any(String) });
  }, 120_000);

  it('at 360 x 740 no page scrolls sideways', async () => {
    const { context, page, problems } = await openAs(OWNER, PHONE);
    for (const name of PAGES) {
      if (name !== 'paper') await goTo(page, name);
      expect({ page: name, overflow: await horizontalOverflow(page) }).toEqual({ page: name, overflow: 0 });
      await page.screenshot({ path: screenshotPath(`phone-${name}`), fullPage: true });
    }
    expect(problems).toEqual([]);
    await context.close();
  }, 90_000);

  // Last: it closes the day's open position.
  it('the owner closes a position with two taps: the paper book closes it, the chat is told, the page drops it', async () => {
    const { context, page, problems } = await openAs(OWNER);
    const before = await world.trading();
    const position = before.state.account.positions[0]!;
    const card = page.locator(`article.position[data-group="${position.groupId}"]`);
    const close = card.locator('button[data-action="close"]');
    const chatBefore = world.chatTexts(OWNER.id).length;
    await close.click();
    // one tap only arms the button: nothing is sent
    expect(await close.textContent()).toMatch(/again/i);
    await page.waitForTimeout(500);
    expect((await world.trading()).state.account.positions.some((p) => p.groupId === position.groupId)).toBe(true);
    await close.click();
    await expect.poll(async () => (await world.trading()).state.account.positions.some((p) => p.groupId === position.groupId), { timeout: 15_000 }).toBe(false);
    await expect
      .poll(() => world.chatTexts(OWNER.id).slice(chatBefore).some((t) => t.includes(position.symbol) && /clos/i.test(t)), { timeout: 15_000 })
      .toBe(true);
    await expect.poll(() => page.locator(`article.position[data-group="${position.groupId}"]`).count(), { timeout: 10_000 }).toBe(0);
    await page.screenshot({ path: screenshotPath('paper-closed'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  }, 60_000);
});
