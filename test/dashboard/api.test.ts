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
import type { ActionResponse, ChartView, MarketView, MeResponse, PaperView, ResearchView, SessionResponse, StrategiesView, TradesView } from '../../shared/dashboard/api.js';
import { groupLevelBounds, ownerLevelConfig } from '../../shared/trading/owner-levels.js';
import type { Alert } from '../../shared/messages.js';
import { buildTradeChartInput } from '../../shared/telegram/chart-data.js';
import { TOPICS } from '../../shared/topics.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { recordProtectionAlert } from '../../shared/dashboard/alert-log.js';
import { mlSuggestionPath, outboxPath, TG_CONTROL_DOC, tradingDocPath, userPath } from '../../shared/state-paths.js';
import { buildReport } from '../../shared/telegram/reports.js';
import { readAccount } from '../../shared/telegram/deps.js';
import { positionUnrealized } from '../../shared/trading/account.js';
import { applySignal, type TradingState } from '../../shared/trading/core.js';
import { tradingConfigFrom } from '../../shared/trading/model.js';
import { signal } from '../trading/helpers.js';
import { CHARTS_ASSET, CONTENT_SECURITY_POLICY, FRAME_ANCESTORS } from '../../shared/dashboard/assets.js';
import { dashboardRig, MEMBER, OWNER, pageDir, removeDay, replayKitDay, STRANGER, TOKEN, type DashboardRig, type ReplayedDay } from './api-helpers.js';

let day: ReplayedDay;
let rig: DashboardRig;

beforeAll(async () => {
  day = await replayKitDay();
  rig = await dashboardRig(day, { webDir: pageDir(mkdtempSync(join(tmpdir(), 'cst-web-'))), pipeline: true });
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
const MINUTE = 60_000;
const DEFAULT_LEVELS = () => ({ horizontal: DEFAULT_STRATEGY_CONFIGS.scalp.levels_exhaustion.levels.horizontal, trendLines: DEFAULT_STRATEGY_CONFIGS.scalp.levels_exhaustion.levels.trendLines });
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
    // a payload byte changed (the signature no longer matches)
    const forged = rig.login(OWNER).replace(/^./, (c) => (c === 'e' ? 'f' : 'e'));
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
    await rig.state.delete(userPath(MEMBER));
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
    // a page is decimal digits: nothing a number parser would also accept
    for (const page of ['', '%20', '0x10', '1e3', '-1', '1.5']) {
      const r = await get(`/api/trades?page=${page}`, t);
      expect(r.status, `page=${page}`).toBe(400);
    }
    expect((await get('/api/trades?page=2', t)).status).toBe(200);
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
    const doc = await rig.state.get<{ state: { account: { marks: Record<string, number> } } }>(tradingDocPath('paper'));
    const marks = doc!.state.account.marks;
    const sym = Object.keys(marks)[0]!;
    await rig.state.set(tradingDocPath('paper'), { ...doc!, state: { ...doc!.state, account: { ...doc!.state.account, marks: { ...marks, [sym]: marks[sym]! * 1.001 } } } } as never);
    const c = await get('/api/paper', t, { 'if-none-match': etag });
    expect(c.status).toBe(200);
    expect(c.headers.get('etag')).not.toBe(etag);
    await rig.state.set(tradingDocPath('paper'), doc as never);
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
    // no external origin to load from; only Telegram's web client may frame the page
    expect(CONTENT_SECURITY_POLICY.replace(FRAME_ANCESTORS, '')).not.toMatch(/https?:|\*/);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'self' https://web.telegram.org");
    const js = await get('/app.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const css = await get('/style.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const bad of ['/../package.json', '/%2e%2e/package.json', '/.env', '/x/app.js', '/nope.js', '/app.ts']) expect((await get(bad)).status).toBe(404);
  });

  it('where the platform strips the mount (a deployed function sees `/`), the <base> comes from the public URL\'s path', async () => {
    const origin = rig.server.url.replace(/\/dashboard$/, '');
    expect(rig.tg.dashboard!.url).toBe('http://127.0.0.1/dashboard');
    const r = await fetch(`${origin}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('<base href="/dashboard/">');
    expect((await fetch(`${origin}/api/me`)).status).toBe(401);
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

describe('chart view', () => {
  it('draws the open position from the same chart input as the bot\'s PNG, up to now, with its lines and fill markers', async () => {
    const t = await rig.session(MEMBER);
    const p = (await readAccount(rig.tg)).positions[0]!;
    const r = await get(`/api/chart?symbol=${p.symbol}&groupId=${encodeURIComponent(p.groupId)}`, t);
    expect(r.status).toBe(200);
    const v = (await r.json()) as ChartView;
    const lv = DEFAULT_LEVELS();
    const input = (await buildTradeChartInput(rig.state, { symbol: p.symbol, engine: p.engine, strategy: p.strategy, direction: p.direction, entry: p.avgEntry, takeProfit: p.takeProfit, stopLoss: p.stopLoss, time: p.openedAt!, until: rig.clock.now(), size: 'large', candles: rig.tg.tg.alerts.chartCandles, resampleBaseCandles: rig.tg.tg.alerts.resampleBaseCandles }, lv))!;
    expect(v.candles.map((c) => c.time * 1000)).toEqual(input.candles.map((c) => c.openTime));
    expect(v.candles.at(-1)!.time * 1000).toBeGreaterThan(p.openedAt!);
    expect(v.levels.map((l) => l.price)).toEqual((input.levels ?? []).map((l) => l.price));
    expect(v.lines.map((l) => [l.kind, l.price])).toEqual([['entry', p.avgEntry], ['take_profit', p.takeProfit], ['stop_loss', p.stopLoss]]);
    const fills = p.entries.filter((e) => e.fillTime !== null);
    expect(v.markers.filter((m) => m.kind === 'entry')).toHaveLength(fills.length);
    const times = new Set(v.candles.map((c) => c.time));
    for (const m of v.markers) expect(times.has(m.time)).toBe(true);
  });

  it('draws a closed trade with its exit marker; an unknown group is 404 no_group; symbol is required', async () => {
    const t = await rig.session(MEMBER);
    const trades = (await (await get('/api/trades?period=7d', t)).json()) as TradesView;
    const c = trades.trades[0]!;
    const v = (await (await get(`/api/chart?symbol=${c.symbol}&groupId=${encodeURIComponent(c.groupId)}`, t)).json()) as ChartView;
    expect(v.markers.map((m) => m.kind)).toEqual(['entry', 'exit']);
    expect(v.markers[1]!.price).toBe(c.exitPrice);
    expect(v.lines).toEqual([{ kind: 'entry', price: c.avgEntry, label: expect.stringMatching(/^Entry /) }]);
    expect(await reason(get('/api/chart?symbol=BTCUSDT&groupId=nope', t))).toBe('no_group');
    expect(await reason(get('/api/chart', t))).toBe('invalid_query');
  });
});

describe('market, research and strategies views', () => {
  it('market: the trading doc\'s regime, the regime inputs on the replayed BTC candles, freshness per symbol and venue', async () => {
    const v = (await (await get('/api/market', await rig.session(MEMBER))).json()) as MarketView;
    const doc = await rig.state.get<{ state: { protections: { regime: { current: string; since: number } } } }>(tradingDocPath('paper'));
    expect(v.regime.current).toBe(doc!.state.protections.regime.current);
    expect(v.regime.since).toBe(doc!.state.protections.regime.since);
    const inputs = Object.fromEntries(v.regime.inputs.map((i) => [i.name, i.value]));
    expect(inputs.reference).toBe('BTCUSDT');
    expect(typeof inputs.change1hPct).toBe('number');
    expect(typeof inputs.change24hPct).toBe('number');
    const btc = v.freshness.find((f) => f.symbol === 'BTCUSDT' && f.venue === 'bybit')!;
    expect(btc.interval).toBe('1m');
    expect(btc.lastCandleOpen).toBe(Date.UTC(2025, 5, 10, 11, 59));
    expect(btc.status).toBe('fresh');
    expect(btc.ageMs).toBe(rig.clock.now() - (btc.lastCandleOpen! + MINUTE));
  });

  it('market: freshness turns stale after staleAfterMs without candles (a new ETag)', async () => {
    const t = await rig.session(MEMBER);
    const a = await get('/api/market', t);
    const before = a.headers.get('etag')!;
    const at = rig.clock.now();
    await rig.clock.advance(11 * MINUTE);
    try {
      const b = await get('/api/market', t, { 'if-none-match': before });
      expect(b.status).toBe(200);
      const v = (await b.json()) as MarketView;
      const replayed = v.freshness.filter((f) => f.venue === 'bybit' && ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].includes(f.symbol));
      expect(replayed.map((f) => f.status)).toEqual(['stale', 'stale', 'stale']);
      // enabled symbols the replay has no candles for
      expect(v.freshness.filter((f) => f.lastCandleOpen === null).every((f) => f.status === 'unknown' && f.ageMs === null)).toBe(true);
    } finally {
      rig.clock.set(at);
    }
  });

  it('market: the protection alerts the replay raised, as stored (newest first, capped by recentAlerts), and the protections in force', async () => {
    const raised = day.alerts.filter((a) => a.kind === 'protection_changed');
    expect(raised.length).toBeGreaterThan(0);
    for (const a of [...day.alerts, ...raised]) await recordProtectionAlert(rig.state, a);
    const t = await rig.session(MEMBER);
    const v = (await (await get('/api/market', t)).json()) as MarketView;
    const newest = [...raised].sort((a, b) => b.ts - a.ts || a.message.localeCompare(b.message)).slice(0, rig.tg.tg.dashboard.recentAlerts);
    const stored = v.protections.filter((p) => raised.some((a) => a.message === p.message && a.ts === p.ts));
    expect(stored.map((p) => p.message)).toEqual(newest.map((a) => a.message));
    expect(stored.map((p) => p.kind)).toEqual(newest.map((a) => String(a.details?.change)));
    expect(v.protections.map((p) => p.ts)).toEqual([...v.protections.map((p) => p.ts)].sort((a, b) => b - a));
    const cap = rig.tg.tg.dashboard.recentAlerts;
    rig.tg.tg.dashboard.recentAlerts = 1;
    try {
      const one = (await (await get('/api/market', t)).json()) as MarketView;
      expect(one.protections.filter((p) => raised.some((a) => a.message === p.message && a.ts === p.ts))).toHaveLength(1);
    } finally {
      rig.tg.tg.dashboard.recentAlerts = cap;
    }
  });

  it('research: models and suggestions as stored (none in a fresh replay), no shadow run yet', async () => {
    const v = (await (await get('/api/research', await rig.session(MEMBER))).json()) as ResearchView;
    expect(v.models.map((m) => m.strategy)).toEqual(['v52_divergence', 'levels_exhaustion', 'dca', 'swing_breakout', 'channel']);
    expect(v.models.every((m) => m.version === null && !m.awaitingApproval)).toBe(true);
    expect(v.shadow).toBeNull();
    expect(v.suggestions).toEqual([]);
  });

  it('research: a pending suggestion is listed to the owner (a decided one and an unreadable one are not), never to a member', async () => {
    await rig.state.set(mlSuggestionPath('s3'), { id: 's3', strategy: 'v52_divergence', parameter: 'x', current: 'thirty', suggested: 28, status: 'pending', createdAt: 3 } as never);
    await rig.state.set(mlSuggestionPath('s1'), { id: 's1', strategy: 'v52_divergence', parameter: 'rsiOversold', current: 30, suggested: 28, status: 'pending', createdAt: 1 } as never);
    await rig.state.set(mlSuggestionPath('s2'), { id: 's2', strategy: 'v52_divergence', parameter: 'rsiOverbought', current: 70, suggested: 72, status: 'approved', createdAt: 2 } as never);
    try {
      const v = (await (await get('/api/research', await rig.session(OWNER))).json()) as ResearchView;
      expect(v.suggestions).toEqual([{ id: 's1', strategy: 'v52_divergence', parameter: 'rsiOversold', current: 30, suggested: 28, createdAt: 1 }]);
      const memberAnswer = await get('/api/research', await rig.session(MEMBER));
      expect(((await memberAnswer.json()) as ResearchView).suggestions).toEqual([]);
    } finally {
      await rig.state.delete(mlSuggestionPath('s1'));
      await rig.state.delete(mlSuggestionPath('s2'));
      await rig.state.delete(mlSuggestionPath('s3'));
    }
  });

  it('strategies: answers the StrategiesView of shared/dashboard/strategies-view.ts', async () => {
    const r = await get('/api/strategies', await rig.session(MEMBER));
    expect(r.status).toBe(200);
    const v = (await r.json()) as StrategiesView;
    expect(Array.isArray(v.readiness)).toBe(true);
    expect(Array.isArray(v.biases)).toBe(true);
  });
});

describe('owner actions (the execution and the notifier subscribed on the rig\'s bus)', () => {
  const act = (token: string, body: unknown) => post('/api/actions', body, { authorization: `Bearer ${token}` });
  const commands = () => rig.published.filter((p) => p.topic === TOPICS.tradeCommands).map((p) => p.data as { commandId: string; type: string; origin?: string; actorId: string });
  const confirmations = (commandId: string) => rig.published.filter((p) => p.topic === TOPICS.alerts && (p.data as Alert).alertId === `owner_command:${commandId}`).map((p) => p.data as Alert);
  const paper = async (t: string) => (await (await get('/api/paper', t)).json()) as PaperView;

  it('a member\'s action is 403 owner_only and publishes nothing', async () => {
    const before = commands().length;
    const r = await act(await rig.session(MEMBER), { commandId: 'member-pause-1', action: 'pause' });
    expect(r.status).toBe(403);
    expect(await reason(r)).toBe('owner_only');
    expect(commands()).toHaveLength(before);
  });

  it('the positions carry the slider bounds the core checks (groupLevelBounds)', async () => {
    const account = await readAccount(rig.tg);
    const v = await paper(await rig.session(MEMBER));
    for (const p of v.positions) {
      const b = groupLevelBounds(account, p.groupId, ownerLevelConfig(DEFAULT_STRATEGY_CONFIGS, rig.tg.tg.dashboard), rig.clock.now())!;
      expect(p.bounds).toEqual({ takeProfit: b.takeProfit, stopLoss: b.stopLoss });
    }
    expect(v.positions[0]!.bounds.takeProfit).not.toBeNull();
  });

  it('move TP / SL outside the bounds, on an unknown group, or with a bad body is refused and publishes nothing', async () => {
    const t = await rig.session(OWNER);
    const p = (await paper(t)).positions[0]!;
    const tp = p.bounds.takeProfit!;
    const before = commands().length;
    const far = await act(t, { commandId: 'move-tp-far-01', action: 'move_tp', groupId: p.groupId, symbol: p.symbol, price: tp.max * 1.01 });
    expect(far.status).toBe(409);
    expect((await far.json()) as ActionResponse).toMatchObject({ status: 'refused', commandId: 'dash:move-tp-far-01', reason: 'out_of_bounds', detail: expect.stringContaining('take profit must be within') });
    const wrongSide = await act(t, { commandId: 'move-sl-side-1', action: 'move_sl', groupId: p.groupId, symbol: p.symbol, price: p.mark! * (p.direction === 'LONG' ? 1.01 : 0.99) });
    expect(((await wrongSide.json()) as ActionResponse).reason).toBe('out_of_bounds');
    const none = await act(t, { commandId: 'move-tp-none-1', action: 'move_tp', groupId: 'tg:nope', symbol: p.symbol, price: 1 });
    expect(((await none.json()) as ActionResponse).reason).toBe('no_position');
    expect(commands()).toHaveLength(before);
    for (const bad of [{ commandId: 'short', action: 'pause' }, { commandId: 'valid-id-0001', action: 'explode' }, { commandId: 'valid-id-0002', action: 'move_tp', groupId: p.groupId, symbol: p.symbol, price: -1 }]) {
      const r = await act(t, bad);
      expect(r.status).toBe(400);
      expect(await reason(r)).toBe('invalid_body');
    }
  });

  it('move TP within the bounds: one move_tp command per command id, applied to the paper book and confirmed in the owner\'s chat', async () => {
    const t = await rig.session(OWNER);
    const p = (await paper(t)).positions[0]!;
    const tp = p.bounds.takeProfit!;
    const price = Number(((tp.min + tp.max) / 2).toPrecision(8));
    const body = { commandId: 'move-tp-0000001', action: 'move_tp', groupId: p.groupId, symbol: p.symbol, price };
    const a = await act(t, body);
    expect(a.status).toBe(200);
    expect((await a.json()) as ActionResponse).toEqual({ status: 'queued', commandId: 'dash:move-tp-0000001' });
    const retry = await act(t, body);
    expect(((await retry.json()) as ActionResponse).status).toBe('queued');
    await rig.bus.drain();
    expect(commands().filter((c) => c.commandId === 'dash:move-tp-0000001')).toEqual([
      { type: 'move_tp', commandId: 'dash:move-tp-0000001', actorId: String(OWNER), ts: rig.clock.now(), origin: 'dashboard', groupId: p.groupId, symbol: p.symbol, takeProfit: price },
    ]);
    expect(rig.published.find((x) => (x.data as { commandId?: string }).commandId === 'dash:move-tp-0000001')!.attributes).toEqual({ type: 'move_tp', dedupeId: 'dash:move-tp-0000001' });
    expect((await paper(t)).positions[0]!.takeProfit).toBe(price);
    expect(confirmations('dash:move-tp-0000001')).toEqual([expect.objectContaining({ kind: 'owner_command', details: expect.objectContaining({ outcome: 'applied', takeProfit: price }) })]);
    expect(await rig.state.get(outboxPath(`sys:owner_command:dash:move-tp-0000001:${OWNER}`))).toBeDefined();
    // the same id for another action is refused
    const c = await act(t, { commandId: 'move-tp-0000001', action: 'pause' });
    expect(c.status).toBe(409);
    expect(((await c.json()) as ActionResponse).reason).toBe('command_id_reused');
  });

  it('pause sets the bot\'s control document and publishes pause, as /pause does; the paper view shows it', async () => {
    const t = await rig.session(OWNER);
    const r = await act(t, { commandId: 'pause-0000001', action: 'pause' });
    expect(r.status).toBe(200);
    expect(await rig.state.get(TG_CONTROL_DOC)).toEqual({ paused: true, by: OWNER, at: rig.clock.now() });
    await rig.bus.drain();
    expect(commands().filter((c) => c.commandId === 'dash:pause-0000001').map((c) => c.type)).toEqual(['pause']);
    const v = await paper(t);
    expect(v.paused).toBe(true);
    expect(v.holds).toContain('Paused by the owner');
    await act(t, { commandId: 'resume-000001', action: 'resume' });
    await rig.bus.drain();
    expect(await rig.state.get(TG_CONTROL_DOC)).toMatchObject({ paused: false });
    expect((await paper(t)).paused).toBe(false);
  });

  it('a suggestion is decided through the bot\'s decideSuggestion (once; a decided one is refused)', async () => {
    const t = await rig.session(OWNER);
    await rig.state.set(mlSuggestionPath('s9'), { id: 's9', strategy: 'v52_divergence', parameter: 'rsiOversold', current: 30, suggested: 28, status: 'pending', createdAt: 1 } as never);
    const body = { commandId: 'sugg-0000001', action: 'suggestion', suggestionId: 's9', approve: false };
    const r = await act(t, body);
    expect(r.status).toBe(200);
    expect((await r.json()) as ActionResponse).toMatchObject({ status: 'queued', commandId: 'dash:sugg-0000001' });
    expect(await rig.state.get(mlSuggestionPath('s9'))).toMatchObject({ status: 'rejected', decidedBy: OWNER, commandId: 'dash:sugg-0000001' });
    expect(((await (await act(t, body)).json()) as ActionResponse).status).toBe('queued');
    const other = await act(t, { commandId: 'sugg-0000002', action: 'suggestion', suggestionId: 's9', approve: true });
    expect(other.status).toBe(409);
    expect(((await other.json()) as ActionResponse).reason).toBe('suggestion_already_decided');
    expect(((await (await act(t, { commandId: 'sugg-0000003', action: 'suggestion', suggestionId: 'gone', approve: true })).json()) as ActionResponse).reason).toBe('no_suggestion');
    // one id stands for one request: reused for another decision or another action, it is refused
    for (const reuse of [{ ...body, approve: true }, { ...body, suggestionId: 's8' }, { commandId: 'sugg-0000001', action: 'pause' }]) {
      const r2 = await act(t, reuse);
      expect(r2.status).toBe(409);
      expect(((await r2.json()) as ActionResponse).reason).toBe('command_id_reused');
    }
    await rig.bus.drain();
    expect(commands().filter((c) => c.commandId === 'dash:sugg-0000001').map((c) => c.type)).toEqual(['suggestion_decided', 'suggestion_decided']);
  });

  it('close: one close_position command per command id; the execution closes the group at the mark', async () => {
    const t = await rig.session(OWNER);
    const p = (await paper(t)).positions[0]!;
    const body = { commandId: 'close-btc-0001', action: 'close', groupId: p.groupId, symbol: p.symbol };
    expect(((await (await act(t, body)).json()) as ActionResponse)).toEqual({ status: 'queued', commandId: 'dash:close-btc-0001' });
    expect(((await (await act(t, body)).json()) as ActionResponse).status).toBe('queued');
    await rig.bus.drain();
    expect(commands().filter((c) => c.commandId === 'dash:close-btc-0001')).toHaveLength(1);
    expect((await paper(t)).positions.map((x) => x.groupId)).not.toContain(p.groupId);
    expect(confirmations('dash:close-btc-0001')).toEqual([expect.objectContaining({ details: expect.objectContaining({ outcome: 'applied' }) })]);
    const after = await act(t, { ...body, commandId: 'close-btc-0002' });
    expect(((await after.json()) as ActionResponse).reason).toBe('no_position');
  });

  it('close of a just-placed group (no candle of its feed yet, so no mark): accepted as the core accepts it, its entry cancelled', async () => {
    const t = await rig.session(OWNER);
    const doc = (await rig.state.get<{ state: TradingState }>(tradingDocPath('paper')))!;
    const cfg = tradingConfigFrom(DEFAULT_STRATEGY_CONFIGS);
    const now = rig.clock.now();
    const [symbol, mark] = Object.entries(doc.state.account.marks)[0]!;
    const used = new Set(doc.state.account.positions.filter((p) => p.symbol === symbol).map((p) => p.strategy));
    const strategy = (['levels_exhaustion', 'v52_divergence'] as const).find((s) => !used.has(s))!;
    // a limit 10 % under the symbol's last close: it rests unfilled
    const sig = signal({ ts: now, symbol, strategy, signalId: `${strategy}:${symbol}:dash-pending`, entries: [mark * 0.9], stopLoss: mark * 0.89, takeProfit: mark * 0.95, maxHoldMs: 60 * MINUTE });
    const placed = applySignal(doc.state, sig, null, cfg, now);
    const group = `tg:${sig.signalId}`;
    const p = placed.state.account.positions.find((x) => x.groupId === group)!;
    expect(p).toMatchObject({ status: 'pending', lastCandleOpen: -1 });
    await rig.state.set(tradingDocPath('paper'), { ...doc, state: placed.state } as never);
    // no mark for it yet: no stop range on its slider
    expect((await paper(t)).positions.find((x) => x.groupId === group)!.bounds.stopLoss).toBeNull();
    const r = await act(t, { commandId: 'close-pending-01', action: 'close', groupId: group, symbol });
    expect((await r.json()) as ActionResponse).toEqual({ status: 'queued', commandId: 'dash:close-pending-01' });
    await rig.bus.drain();
    expect(confirmations('dash:close-pending-01')).toEqual([expect.objectContaining({ details: expect.objectContaining({ outcome: 'applied', detail: 'unfilled entries cancelled' }) })]);
    expect((await paper(t)).positions.map((x) => x.groupId)).not.toContain(group);
  });
});
