/**
 * The dashboard function over HTTP, over a root holding a replayed real day (test/dashboard/api-helpers.ts):
 * sessions (login links, Mini App initData), 401 / 403, the paper and trades views built from the same
 * domain code as the bot, ETag / 304, static files with their headers.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeResponse, PaperView, SessionResponse, TradesView } from '../../shared/dashboard/api.js';
import { buildReport } from '../../shared/telegram/reports.js';
import { readAccount } from '../../shared/telegram/deps.js';
import { positionUnrealized } from '../../shared/trading/account.js';
import { CHARTS_ASSET, CONTENT_SECURITY_POLICY } from '../../shared/dashboard/assets.js';
import { dashboardRig, MEMBER, OWNER, pageDir, removeDay, replayKitDay, STRANGER, TOKEN, type DashboardRig, type ReplayedDay } from './api-helpers.js';

let day: ReplayedDay;
let rig: DashboardRig;

beforeAll(async () => {
  day = await replayKitDay();
  rig = await dashboardRig(day, { webDir: pageDir(mkdtempSync(join(tmpdir(), 'cst-web-'))) });
}, 240_000);

afterAll(async () => {
  await rig?.close();
  if (day) removeDay(day);
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(rig.url(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const get = (path: string, token?: string, headers: Record<string, string> = {}) => fetch(rig.url(path), { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

/** Mini App initData signed as Telegram signs it (core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app). */
function initData(fields: Record<string, string>, token = TOKEN): string {
  const check = Object.keys(fields).sort().map((k) => `${k}=${fields[k]}`).join('\n');
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  const hash = createHmac('sha256', secret).update(check).digest('hex');
  return new URLSearchParams({ ...fields, hash }).toString();
}
const reason = async (r: Response | Promise<Response>) => ((await (await r).json()) as { reason?: string }).reason;
const userField = (id: number) => JSON.stringify({ id, first_name: 'Ann', username: 'ann' });

describe('sessions', () => {
  it('a login link opens a session once; the second use is 401 login_used', async () => {
    const token = rig.login(OWNER);
    const a = await post('/api/session', { login: token });
    expect(a.status).toBe(200);
    const s = (await a.json()) as SessionResponse;
    expect(s.role).toBe('owner');
    expect(s.user.id).toBe(OWNER);
    expect(s.pollMs).toBe(rig.tg.tg.dashboard.pollMs);
    const b = await post('/api/session', { login: token });
    expect(b.status).toBe(401);
    expect(await b.json()).toEqual({ error: expect.any(String), reason: 'login_used' });
  });

  it('an expired or forged login token is 401', async () => {
    const token = rig.login(OWNER);
    await rig.authClock.advance(rig.tg.tg.dashboard.loginLinkTtlMs);
    expect(await reason(post('/api/session', { login: token }))).toBe('login_expired');
    const forged = rig.login(OWNER).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await reason(post('/api/session', { login: forged }))).toBe('bad_login');
  });

  it('Mini App initData signed with the bot token opens a member session; forged and stale ones are 401', async () => {
    const now = Math.floor(rig.authClock.now() / 1000);
    const ok = await post('/api/session', { initData: initData({ auth_date: String(now), query_id: 'AAH1', user: userField(MEMBER) }) });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as SessionResponse).role).toBe('member');

    const forged = await post('/api/session', { initData: initData({ auth_date: String(now), user: userField(OWNER) }, '7000001:another-bot') });
    expect(forged.status).toBe(401);
    expect(await reason(forged)).toBe('bad_signature');

    const staleAt = now - rig.tg.tg.dashboard.initDataMaxAgeMs / 1000 - 1;
    const stale = await post('/api/session', { initData: initData({ auth_date: String(staleAt), user: userField(OWNER) }) });
    expect(stale.status).toBe(401);
    expect(await reason(stale)).toBe('stale_init_data');
  });

  it('a verified user who is not on the allow-list gets 403 not_allowed', async () => {
    const now = Math.floor(rig.authClock.now() / 1000);
    const r = await post('/api/session', { initData: initData({ auth_date: String(now), user: userField(STRANGER) }) });
    expect(r.status).toBe(403);
    expect(await reason(r)).toBe('not_allowed');
  });

  it('a body that is not exactly one of the two proofs is 400', async () => {
    for (const body of [{}, { login: 'x', initData: 'y' }, { login: 'x', extra: 1 }, { login: 12 }]) {
      const r = await post('/api/session', body);
      expect(r.status).toBe(400);
      expect(await reason(r)).toMatch(/^invalid_body$/);
    }
    // not JSON (sent as text: functions-framework itself refuses a malformed `application/json` body with a 400)
    const text = await post('/api/session', 'login=abc', { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);
    expect(await reason(text)).toBe('invalid_body');
    expect((await get('/api/session')).status).toBe(405);
  });
});

describe('authenticated routes', () => {
  it('no session, a forged one and an expired one are 401; a removed member is 403', async () => {
    expect(await reason(get('/api/paper'))).toBe('no_session');
    const token = await rig.session(OWNER);
    expect(await reason(get('/api/paper', token.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'))))).toBe('bad_session');
    expect((await get('/api/me', token)).status).toBe(200);
    await rig.authClock.advance(rig.tg.tg.dashboard.sessionTtlMs);
    expect((await get('/api/me', token)).status).toBe(401);

    const member = await rig.session(MEMBER);
    expect((await get('/api/me', member)).status).toBe(200);
    await rig.state.delete(`tg_users/${MEMBER}`);
    const gone = await get('/api/me', member);
    expect(gone.status).toBe(403);
    expect(await reason(gone)).toBe('not_allowed');
    const inv = await rig.tg.access.createInvite(OWNER, rig.authClock.now());
    expect((await rig.tg.access.verify(MEMBER, 'Member One', inv.code, rig.authClock.now())).ok).toBe(true);
  });

  it('/api/me names the caller and their role', async () => {
    const me = (await (await get('/api/me', await rig.session(MEMBER))).json()) as MeResponse;
    expect(me).toMatchObject({ user: { id: MEMBER }, role: 'member', now: rig.clock.now() });
  });

  it('an unknown route is 404 and a strict query refuses unknown or bad parameters (400)', async () => {
    const t = await rig.session(OWNER);
    expect((await get('/api/nope', t)).status).toBe(404);
    for (const q of ['period=1y', 'foo=1', 'period=7d&period=24h']) {
      const r = await get(`/api/paper?${q}`, t);
      expect(r.status).toBe(400);
      expect(await reason(r)).toBe('invalid_query');
    }
  });
});

describe('paper view', () => {
  it('shows the replayed account with the same numbers as the bot (readAccount, buildReport)', async () => {
    const r = await get('/api/paper?period=24h', await rig.session(MEMBER));
    expect(r.status).toBe(200);
    const v = (await r.json()) as PaperView;
    const account = await readAccount(rig.tg);
    const report = await buildReport(rig.tg, 'x', 24 * 3_600_000, rig.clock.now());
    expect(v.accountId).toBe(account.accountId);
    expect(v.account.realizedPnl).toBeCloseTo(account.realizedPnl, 9);
    expect(v.account.unrealizedPnl).toBeCloseTo(report.unrealized, 9);
    expect(v.perStrategy).toEqual(report.byStrategy);
    expect(v.perStrategy[0]).toMatchObject({ strategy: 'v52_divergence', trades: day.result.trades.find((t) => t.strategy === 'v52_divergence')!.trades });
    expect(v.positions.map((p) => p.groupId)).toEqual(account.positions.map((p) => p.groupId));
    expect(v.positions.length).toBeGreaterThan(0);
    const p = v.positions[0]!;
    const src = account.positions[0]!;
    expect(p.unrealizedPnl).toBeCloseTo(positionUnrealized(src, account.marks[src.symbol]!), 9);
    expect(p.ageMs).toBe(rig.clock.now() - src.openedAt!);
    expect(v.equity.length).toBe(report.points.length);
    expect(v.equity[v.equity.length - 1]!.equity).toBeCloseTo(report.equityNow, 9);
  });

  it('answers 304 to a matching If-None-Match while only the clock moves, and a new ETag once the book changes', async () => {
    const t = await rig.session(OWNER);
    const a = await get('/api/paper', t);
    const etag = a.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(a.headers.get('cache-control')).toContain('no-cache');
    await rig.clock.advance(1_000);
    const b = await get('/api/paper', t, { 'if-none-match': etag });
    expect(b.status).toBe(304);
    expect(await b.text()).toBe('');
    const doc = await rig.state.get<{ state: { account: { marks: Record<string, number> } } }>('trading/paper');
    const marks = doc!.state.account.marks;
    const sym = Object.keys(marks)[0]!;
    await rig.state.set('trading/paper', { ...doc!, state: { ...doc!.state, account: { ...doc!.state.account, marks: { ...marks, [sym]: marks[sym]! * 1.001 } } } } as never);
    const c = await get('/api/paper', t, { 'if-none-match': etag });
    expect(c.status).toBe(200);
    expect(c.headers.get('etag')).not.toBe(etag);
    await rig.state.set('trading/paper', doc as never);
  });
});

describe('trades view', () => {
  it('pages the period\'s closed trades newest first and filters by strategy, symbol and outcome', async () => {
    const t = await rig.session(MEMBER);
    const all = (await (await get('/api/trades?period=7d', t)).json()) as TradesView;
    const closed = day.result.trades.find((x) => x.strategy === 'all')!.trades;
    expect(all.total).toBe(closed);
    expect(all.trades.map((x) => x.exitTime)).toEqual([...all.trades.map((x) => x.exitTime)].sort((a, b) => b - a));
    const wins = (await (await get('/api/trades?period=7d&outcome=win', t)).json()) as TradesView;
    expect(wins.trades.every((x) => x.pnl > 0)).toBe(true);
    const losses = (await (await get('/api/trades?period=7d&outcome=loss', t)).json()) as TradesView;
    expect(wins.total + losses.total + ((await (await get('/api/trades?period=7d&outcome=timeout', t)).json()) as TradesView).total).toBe(closed);
    const btc = (await (await get('/api/trades?period=7d&symbol=BTCUSDT', t)).json()) as TradesView;
    expect(btc.trades.every((x) => x.symbol === 'BTCUSDT')).toBe(true);
    expect(btc.total).toBe(all.trades.filter((x) => x.symbol === 'BTCUSDT').length);
    const none = (await (await get('/api/trades?period=7d&strategy=channel', t)).json()) as TradesView;
    expect(none.total).toBe(0);
    expect(all.options.periods).toEqual(['24h', '7d', '30d', 'all']);
  });

  it('pages by tradesPageSize (a smaller page size in config: several pages, the last page clamps)', async () => {
    const t = await rig.session(MEMBER);
    const size = rig.tg.tg.dashboard.tradesPageSize;
    rig.tg.tg.dashboard.tradesPageSize = 4;
    try {
      const p0 = (await (await get('/api/trades?period=7d', t)).json()) as TradesView;
      const p1 = (await (await get('/api/trades?period=7d&page=1', t)).json()) as TradesView;
      const far = (await (await get('/api/trades?period=7d&page=999', t)).json()) as TradesView;
      expect(p0.pageSize).toBe(4);
      expect(p0.pages).toBe(Math.ceil(p0.total / 4));
      expect(p0.trades).toHaveLength(4);
      expect(p1.trades[0]!.exitTime).toBeLessThanOrEqual(p0.trades[3]!.exitTime);
      expect(far.page).toBe(p0.pages - 1);
    } finally {
      rig.tg.tg.dashboard.tradesPageSize = size;
    }
  });
});

describe('static files', () => {
  it('serves the page under /dashboard/ with a <base>, its type, no-cache and the CSP; 404 outside the page folder', async () => {
    for (const path of ['', '/', '/index.html']) {
      const r = await get(path);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expect(r.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(await r.text()).toContain('<head><base href="/dashboard/">');
    }
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/https?:|\*/);
    const js = await get('/app.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const css = await get('/style.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const bad of ['/../package.json', '/%2e%2e/package.json', '/.env', '/x/app.js', '/nope.js', '/app.ts']) expect((await get(bad)).status).toBe(404);
  });

  it('serves the lightweight-charts standalone build (defines LightweightCharts) with a cacheable ETag', async () => {
    const r = await get(`/${CHARTS_ASSET}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await r.text()).toContain('LightweightCharts');
    const again = await get(`/${CHARTS_ASSET}`, undefined, { 'if-none-match': r.headers.get('etag')! });
    expect(again.status).toBe(304);
  });
});
