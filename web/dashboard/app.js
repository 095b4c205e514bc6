// @ts-check
/**
 * The dashboard page (issue 12): four hash routes (#/paper, #/strategies, #/market, #/research) over
 * the JSON API of shared/dashboard/api.ts, typed against it (tsconfig.web.json checks this file).
 *
 * Auth: Telegram Mini App `initData` (the `tgWebAppData` field of the URL fragment Telegram opens the
 * page with, or `window.Telegram.WebApp.initData` when a host defines it; no script is loaded from
 * telegram.org) or a `#login=TOKEN` link from the bot's /dashboard. Either is exchanged ONCE at
 * POST /api/session, the fragment is cleared at once (before the request), and the bearer token lives in
 * sessionStorage (this tab only). A 401 anywhere shows the "session expired / open from Telegram" screen.
 *
 * Live updates: the current page's views are polled every `pollMs` (from the session) with
 * `If-None-Match`; a 304 keeps what is drawn. Owner controls are only built for the owner (the server
 * refuses a member's action anyway: 403).
 *
 * No inline script or style anywhere (the function's CSP allows only its own origin): styles are in
 * style.css, the theme colours come from THEME below through CSS custom properties.
 */

import { API_ROUTES } from './lib/api.js';
import { DARK_THEME } from './lib/theme.js';
import { fmtDuration, fmtPct, fmtPrice, fmtTimeUtc, fmtUsd, fmtUsdPlain } from './lib/html.js';

/** @typedef {import('../../shared/dashboard/api.js').SessionResponse} SessionResponse */
/** @typedef {import('../../shared/dashboard/api.js').MeResponse} MeResponse */
/** @typedef {import('../../shared/dashboard/api.js').ErrorResponse} ErrorResponse */
/** @typedef {import('../../shared/dashboard/api.js').Role} Role */
/** @typedef {import('../../shared/dashboard/api.js').PaperView} PaperView */
/** @typedef {import('../../shared/dashboard/api.js').PositionView} PositionView */
/** @typedef {import('../../shared/dashboard/api.js').LevelBounds} LevelBounds */
/** @typedef {import('../../shared/dashboard/api.js').TradesView} TradesView */
/** @typedef {import('../../shared/dashboard/api.js').ChartView} ChartView */
/** @typedef {import('../../shared/dashboard/api.js').StrategiesView} StrategiesView */
/** @typedef {import('../../shared/dashboard/api.js').StrategyReadiness} StrategyReadiness */
/** @typedef {import('../../shared/dashboard/api.js').ReadinessCondition} ReadinessCondition */
/** @typedef {import('../../shared/dashboard/api.js').MarketView} MarketView */
/** @typedef {import('../../shared/dashboard/api.js').ResearchView} ResearchView */
/** @typedef {import('../../shared/dashboard/api.js').ActionRequest} ActionRequest */
/** @typedef {import('../../shared/dashboard/api.js').ActionResponse} ActionResponse */
/** @typedef {import('../../shared/ports/trade-history.js').ClosedTradeRecord} ClosedTradeRecord */
/** @typedef {'paper' | 'strategies' | 'market' | 'research'} PageName */
/** @typedef {{ token: string, user: { id: number, name: string }, role: Role, pollMs: number }} Session */
/** @typedef {string | number | boolean | null | undefined} Scalar */

// The contract's routes and the PNG charts' dark theme, and below the bot's number formatting, are the
// project's own modules (shared/dashboard/api.ts, shared/charts/theme.ts, shared/telegram/html.ts) served
// as browser modules under lib/ (infra/dashboard/assets.ts: compiled from the same source; tsconfig.web.json
// resolves lib/ to those files for the typecheck). Routes resolve against the page's <base href>.
const ROUTES = API_ROUTES;
const THEME = DARK_THEME;

const TOKEN_KEY = 'cst.dashboard.session';
/** @type {readonly PageName[]} */
const PAGES = ['paper', 'strategies', 'market', 'research'];
/** Slider resolution: a slider moves over this many steps between its bounds. */
const SLIDER_STEPS = 1000;
/** A "Close" button needs a second tap within this long. */
const CONFIRM_MS = 4000;
/** A failed action request (network) is retried with the SAME command id this many times. */
const ACTION_RETRIES = 2;

// ---------- small DOM helpers ----------

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * Creates an element. `props`: `class`, `data-*` / `aria-*` / other attributes, `on<event>` listeners,
 * and DOM properties (`value` is set last, after `min` / `max`).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  /** @type {unknown} */
  let value;
  let hasValue = false;
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'value') {
      value = v;
      hasValue = true;
    } else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  if (hasValue) /** @type {HTMLInputElement} */ (/** @type {unknown} */ (el)).value = String(value);
  return el;
}

/**
 * @param {Element} el
 * @param {Array<Child | Child[]>} children
 */
function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  }
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/** A table inside its own horizontally scrolling box (the page itself never scrolls sideways). */
/**
 * @param {string[]} head
 * @param {Array<Array<Child | Child[]>>} rows
 * @param {string} [cls]
 * @param {Array<string | null>} [rowClasses]
 */
function table(head, rows, cls, rowClasses) {
  return h(
    'div',
    { class: 'scroll-x' },
    h(
      'table',
      { class: cls ?? null },
      h('thead', null, h('tr', null, head.map((c) => h('th', null, c)))),
      h('tbody', null, rows.map((r, i) => h('tr', { class: rowClasses?.[i] ?? null }, r.map((c) => h('td', null, c))))),
    ),
  );
}

/**
 * @param {string} label
 * @param {Child | Child[]} value
 * @param {string} [cls]
 */
function stat(label, value, cls) {
  return h('div', { class: `stat ${cls ?? ''}` }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
}

/**
 * @param {string} text
 * @param {string} kind
 */
function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** @param {number | null} p 0..1 */
function bar(p) {
  const el = h('div', { class: 'bar' }, h('div', { class: 'bar-fill' }));
  const fill = /** @type {HTMLElement} */ (el.firstChild);
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, p ?? 0)) * 100)}%`;
  if (p === null) el.classList.add('bar-none');
  return el;
}

// ---------- formatting (the bot's fmtPrice / fmtPct / fmtUsd / fmtDuration are imported above) ----------

/** @param {number | null | undefined} t */
function fmtTime(t) {
  return t === null || t === undefined ? '—' : fmtTimeUtc(t);
}

/** @param {Scalar} v */
function fmtValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const abs = Math.abs(v);
    if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toPrecision(4);
    return String(Number(v.toFixed(abs >= 100 ? 2 : 4)));
  }
  return v;
}

/** @param {number | null} v */
function pnlClass(v) {
  return v === null ? '' : v > 0 ? 'pos' : v < 0 ? 'neg' : '';
}

// ---------- session and API ----------

/** @type {Session | null} */
let session = null;

class SignedOut extends Error {
  /** @param {string} reason */
  constructor(reason) {
    super(`signed out: ${reason}`);
    this.reason = reason;
  }
}

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorResponse | null} body
   */
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.reason = body?.reason ?? null;
  }
}

/**
 * @param {string} route
 * @param {Record<string, string | number | null | undefined>} [query]
 */
function apiUrl(route, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return new URL(`.${route}${s ? `?${s}` : ''}`, document.baseURI).toString();
}

/** @param {Response} r */
async function errorBody(r) {
  try {
    return /** @type {ErrorResponse} */ (await r.json());
  } catch {
    return null;
  }
}

/**
 * Throws SignedOut for an answer that ends the session: 401 (missing, forged, stale, expired) or 403
 * `not_allowed` (the user was removed from the allow-list).
 * @param {Response} r
 */
async function refuseSignedOut(r) {
  if (r.status !== 401 && r.status !== 403) return;
  const body = await errorBody(r.clone());
  if (r.status === 401) throw new SignedOut(body?.reason ?? 'unauthorized');
  if (body?.reason === 'not_allowed') throw new SignedOut('not_allowed');
}

/** @type {Map<string, { etag: string | null, data: unknown }>} */
const viewCache = new Map();

/**
 * GET a view with the session; `changed` is false when the server answered 304 (If-None-Match).
 * @template T
 * @param {string} url
 * @returns {Promise<{ changed: boolean, data: T }>}
 */
async function getView(url) {
  if (!session) throw new SignedOut('no_session');
  const prev = viewCache.get(url);
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' };
  if (prev?.etag) headers['if-none-match'] = prev.etag;
  const r = await fetch(url, { headers, cache: 'no-store' });
  if (r.status === 304 && prev) return { changed: false, data: /** @type {T} */ (prev.data) };
  await refuseSignedOut(r);
  if (!r.ok) throw new ApiError(r.status, await errorBody(r));
  const data = /** @type {T} */ (await r.json());
  viewCache.set(url, { etag: r.headers.get('etag'), data });
  return { changed: true, data };
}

/** @returns {string} a fresh id for one owner intent (a retry reuses it). */
function newCommandId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Sends one owner action; network failures are retried with the same command id (applied once).
 * @param {ActionRequest} req
 * @returns {Promise<ActionResponse>}
 */
async function sendAction(req) {
  if (!session) throw new SignedOut('no_session');
  let lastError = /** @type {unknown} */ (null);
  for (let attempt = 0; attempt <= ACTION_RETRIES; attempt++) {
    let r;
    try {
      r = await fetch(apiUrl(ROUTES.actions), {
        method: 'POST',
        headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(req),
        cache: 'no-store',
      });
    } catch (e) {
      lastError = e;
      continue;
    }
    await refuseSignedOut(r);
    if (r.ok) return /** @type {ActionResponse} */ (await r.json());
    const body = await errorBody(r);
    if (r.status >= 500 && attempt < ACTION_RETRIES) {
      lastError = new ApiError(r.status, body);
      continue;
    }
    throw new ApiError(r.status, body);
  }
  throw lastError instanceof Error ? lastError : new Error('network error');
}

/**
 * The credential the page was opened with: Mini App initData or a login token (from the fragment, which
 * is cleared right away so neither stays in the address bar or the history).
 * @returns {{ initData: string } | { login: string } | null}
 */
function takeCredential() {
  const raw = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const params = new URLSearchParams(raw.startsWith('/') ? '' : raw);
  const fromHash = params.get('tgWebAppData');
  const login = params.get('login');
  const tg = /** @type {{ Telegram?: { WebApp?: { initData?: string } } }} */ (/** @type {unknown} */ (window)).Telegram;
  const fromHost = tg?.WebApp?.initData;
  if (fromHash !== null || login !== null) history.replaceState(null, '', `${location.pathname}${location.search}#/paper`);
  if (fromHash) return { initData: fromHash };
  if (fromHost) return { initData: fromHost };
  if (login) return { login };
  return null;
}

/** Opens the session (credential exchange, or the stored token checked with /api/me). */
async function signIn() {
  const credential = takeCredential();
  if (credential) {
    sessionStorage.removeItem(TOKEN_KEY);
    const r = await fetch(apiUrl(ROUTES.session), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(credential),
      cache: 'no-store',
    });
    await refuseSignedOut(r);
    if (r.status === 400) throw new SignedOut((await errorBody(r))?.reason ?? 'bad_request');
    if (!r.ok) throw new ApiError(r.status, await errorBody(r));
    const s = /** @type {SessionResponse} */ (await r.json());
    sessionStorage.setItem(TOKEN_KEY, s.token);
    session = { token: s.token, user: s.user, role: s.role, pollMs: s.pollMs };
    return;
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new SignedOut('missing');
  session = { token, user: { id: 0, name: '' }, role: 'member', pollMs: 1500 };
  const me = /** @type {{ data: MeResponse }} */ (await getView(apiUrl(ROUTES.me)));
  session = { token, user: me.data.user, role: me.data.role, pollMs: me.data.pollMs };
}

const isOwner = () => session?.role === 'owner';

// ---------- shell: routing, polling, status ----------

/** @returns {PageName} */
function currentPage() {
  const m = /^#\/([a-z]+)/.exec(location.hash);
  const p = /** @type {PageName} */ (m?.[1] ?? 'paper');
  return PAGES.includes(p) ? p : 'paper';
}

/** @type {ReturnType<typeof setTimeout> | null} */
let pollTimer = null;
/** Bumped on every page switch: an answer for an older page is dropped. */
let generation = 0;
/** The page whose skeleton is on screen. */
/** @type {PageName | null} */
let shown = null;
let refreshing = false;
/** A refresh was asked while one ran (or while the owner drags a slider). */
let refreshAgain = false;

/**
 * @param {string} text
 * @param {'ok' | 'error' | 'info'} [kind]
 */
function toast(text, kind = 'info') {
  const el = byId('toast');
  el.textContent = text;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  el.dataset.kind = kind;
  const shownAt = Date.now();
  el.dataset.shownAt = String(shownAt);
  setTimeout(() => {
    if (el.dataset.shownAt === String(shownAt)) el.hidden = true;
  }, 6000);
}

/** @param {string} reason */
function showSignedOut(reason) {
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
  shown = null;
  destroyCharts();
  byId('tabs').hidden = true;
  byId('who').replaceChildren();
  document.body.dataset.state = 'signed-out';
  const expired = reason !== 'missing';
  const title = reason === 'not_allowed' ? 'You are not on the allow-list' : expired ? 'Session expired or not valid' : 'Open the dashboard from Telegram';
  byId('main').replaceChildren(
    h(
      'section',
      { class: 'signed-out', id: 'signed-out', 'data-reason': reason },
      h('h1', null, title),
      reason === 'not_allowed' ? h('p', null, 'Ask the owner for an invite (/invite), join with /verify, then open the dashboard again.') : null,
      h(
        'p',
        null,
        'Open it from Telegram: tap ',
        h('b', null, '🖥 Dashboard'),
        ' under /status or /positions in your private chat with the bot, or send ',
        h('code', null, '/dashboard'),
        ' there for a login link (it works once, for a few minutes).',
      ),
      h('p', null, 'Running it yourself? ', h('code', null, 'npm start'), ' prints a local owner link.'),
      expired ? h('p', { class: 'muted' }, `Reason: ${reason}`) : null,
    ),
  );
}

function renderWho() {
  if (!session) return;
  byId('who').replaceChildren(h('span', { class: 'user' }, session.user.name), badge(session.role, session.role === 'owner' ? 'owner' : 'member'), h('span', { class: 'live', id: 'live', title: 'last update' }, ''));
}

/** @param {string} text @param {boolean} ok */
function setLive(text, ok) {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = text;
  el.classList.toggle('live-bad', !ok);
}

function markTabs() {
  const page = currentPage();
  for (const a of byId('tabs').querySelectorAll('a')) {
    a.classList.toggle('active', a.dataset.page === page);
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** True while the owner is dragging / editing a control: a redraw would take it from under the finger. */
function interacting() {
  const a = document.activeElement;
  return !!a && a instanceof HTMLInputElement && a.type === 'range' && a.dataset.dragging === '1';
}

/** Polls the current page now, then every pollMs. */
async function refresh() {
  if (!session) return;
  if (refreshing || interacting()) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  const gen = generation;
  const page = currentPage();
  try {
    if (shown !== page) {
      destroyCharts();
      byId('main').replaceChildren(h('section', { class: 'notice' }, 'Loading…'));
      shown = page;
      pageState.drawn = false;
    }
    await LOADERS[page](gen);
    if (gen === generation) {
      document.body.dataset.state = 'ready';
      document.body.dataset.page = page;
      setLive(`updated ${new Date().toISOString().slice(11, 19)} UTC`, true);
    }
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignedOut(e.reason);
      return;
    }
    setLive('connection problem, retrying…', false);
    if (!pageState.drawn && gen === generation) {
      byId('main').replaceChildren(h('section', { class: 'notice error' }, `Could not load this page: ${e instanceof Error ? e.message : String(e)}`));
    }
  } finally {
    refreshing = false;
  }
  schedule();
  if (refreshAgain) {
    refreshAgain = false;
    void refresh();
  }
}

function schedule() {
  if (!session) return;
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = setTimeout(() => {
    pollTimer = null;
    if (document.hidden) schedule();
    else void refresh();
  }, session.pollMs);
}

/** Per-page state that survives polls (filters, paging, drafts). */
const pageState = {
  drawn: false,
  /** @type {{ strategy: string, symbol: string, outcome: string, period: string, page: number }} */
  /** The period of the trades, the per-strategy table and the equity curve (/stats' default: 24h). */
  trades: { strategy: '', symbol: '', outcome: '', period: '24h', page: 0 },
  /** Slider positions the owner set but did not apply yet, by `${groupId}:${tp|sl}`. */
  /** @type {Map<string, number>} */
  drafts: new Map(),
  /** Which position's chart is open (one at a time keeps a phone light). */
  /** @type {Set<string>} */
  openCharts: new Set(),
  chartsToggled: false,
};

// ---------- charts (lightweight-charts) ----------

/**
 * @typedef {{ box: HTMLElement, chart: import('lightweight-charts').IChartApi, url: string,
 *   update: (data: any) => void }} ChartHolder
 */
/** @type {Map<string, ChartHolder>} */
const charts = new Map();

function destroyCharts() {
  for (const c of charts.values()) c.chart.remove();
  charts.clear();
}

/** @param {number} reference a price of the series */
function precisionFor(reference) {
  const abs = Math.abs(reference);
  return abs >= 100 ? 2 : abs >= 1 ? 4 : abs >= 0.01 ? 5 : 8;
}

/** @param {HTMLElement} box */
function baseChart(box) {
  return LightweightCharts.createChart(box, {
    autoSize: true,
    layout: { background: { type: LightweightCharts.ColorType.Solid, color: THEME.background }, textColor: THEME.axisText, attributionLogo: false },
    grid: { vertLines: { color: THEME.grid }, horzLines: { color: THEME.grid } },
    rightPriceScale: { borderColor: THEME.grid },
    timeScale: { borderColor: THEME.grid, timeVisible: true, secondsVisible: false },
    crosshair: { mode: LightweightCharts.CrosshairMode.Normal },
    handleScroll: { vertTouchDrag: false },
  });
}

/** @type {Record<ChartView['lines'][number]['kind'], string>} */
const LINE_COLOURS = { entry: THEME.entry, take_profit: THEME.takeProfit, stop_loss: THEME.stopLoss };

/**
 * A candlestick chart of `/api/chart` (levels, the group's entry / TP / SL lines, fills as markers).
 * @param {string} key
 * @param {string} symbol
 * @param {string | null} groupId
 * @returns {ChartHolder}
 */
function candleChart(key, symbol, groupId) {
  const existing = charts.get(key);
  if (existing) return existing;
  const box = h('div', { class: 'chart', 'data-chart': key });
  const chart = baseChart(box);
  const candles = chart.addSeries(LightweightCharts.CandlestickSeries, {
    upColor: THEME.candleUp,
    downColor: THEME.candleDown,
    borderUpColor: THEME.candleUp,
    borderDownColor: THEME.candleDown,
    wickUpColor: THEME.candleUp,
    wickDownColor: THEME.candleDown,
  });
  const markers = LightweightCharts.createSeriesMarkers(candles, []);
  /** @type {import('lightweight-charts').IPriceLine[]} */
  let priceLines = [];
  /** The group's entry / TP / SL: always inside the price scale (price lines alone do not widen it). */
  /** @type {number[]} */
  let mustShow = [];
  candles.applyOptions({
    autoscaleInfoProvider: (/** @type {() => import('lightweight-charts').AutoscaleInfo | null} */ original) => {
      const r = original();
      if (!r?.priceRange || mustShow.length === 0) return r;
      return {
        ...r,
        priceRange: { minValue: Math.min(r.priceRange.minValue, ...mustShow), maxValue: Math.max(r.priceRange.maxValue, ...mustShow) },
      };
    },
  });
  let fitted = false;
  /** @param {ChartView} v */
  const update = (v) => {
    const bars = v.candles.map((c) => ({ time: /** @type {import('lightweight-charts').UTCTimestamp} */ (c.time), open: c.open, high: c.high, low: c.low, close: c.close }));
    const precision = precisionFor(v.candles.at(-1)?.close ?? v.lines[0]?.price ?? 1);
    candles.applyOptions({ priceFormat: { type: 'price', precision, minMove: 10 ** -precision } });
    mustShow = v.lines.map((l) => l.price);
    candles.setData(bars);
    for (const l of priceLines) candles.removePriceLine(l);
    priceLines = [
      ...v.levels.map((l) =>
        candles.createPriceLine({ price: l.price, color: l.kind === 'support' ? THEME.support : THEME.resistance, lineWidth: 1, lineStyle: LightweightCharts.LineStyle.Dashed, axisLabelVisible: false, title: '' }),
      ),
      ...v.lines.map((l) => candles.createPriceLine({ price: l.price, color: LINE_COLOURS[l.kind], lineWidth: 2, lineStyle: LightweightCharts.LineStyle.Solid, axisLabelVisible: true, title: l.label })),
    ];
    // A fill's marker sits on the candle that contains it (markers need a bar's time).
    const times = bars.map((b) => /** @type {number} */ (b.time));
    /** @param {number} t */
    const barTime = (t) => {
      let lo = 0;
      let hi = times.length - 1;
      if (hi < 0 || t < /** @type {number} */ (times[0])) return null;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (/** @type {number} */ (times[mid]) <= t) lo = mid;
        else hi = mid - 1;
      }
      return /** @type {number} */ (times[lo]);
    };
    /** @type {import('lightweight-charts').SeriesMarker<import('lightweight-charts').Time>[]} */
    const ms = [];
    for (const m of v.markers) {
      const t = barTime(m.time);
      if (t === null) continue;
      ms.push({
        time: /** @type {import('lightweight-charts').UTCTimestamp} */ (t),
        position: 'atPriceMiddle',
        price: m.price,
        shape: m.side === 'buy' ? 'arrowUp' : 'arrowDown',
        color: m.kind === 'entry' ? THEME.entry : m.side === 'buy' ? THEME.long : THEME.short,
        text: m.text,
      });
    }
    ms.sort((a, b) => /** @type {number} */ (a.time) - /** @type {number} */ (b.time));
    markers.setMarkers(ms);
    if (!fitted && bars.length > 0) {
      chart.timeScale().fitContent();
      fitted = true;
    }
  };
  const holder = { box, chart, url: apiUrl(ROUTES.chart, { symbol, groupId }), update };
  charts.set(key, holder);
  return holder;
}

/**
 * The equity curve of the period (after each closed trade) with its drawdown in a lower pane.
 * @returns {ChartHolder}
 */
function equityChart() {
  const existing = charts.get('equity');
  if (existing) return existing;
  const box = h('div', { class: 'chart chart-equity', 'data-chart': 'equity' });
  const chart = baseChart(box);
  const equity = chart.addSeries(LightweightCharts.AreaSeries, { lineColor: THEME.equityLine, topColor: THEME.equityFill, bottomColor: THEME.background, lineWidth: 2, priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
  const dd = chart.addSeries(LightweightCharts.HistogramSeries, { color: THEME.drawdownFill, priceFormat: { type: 'percent', precision: 2, minMove: 0.01 } }, 1);
  /** @param {PaperView['equity']} points */
  const update = (points) => {
    // one point per second (the chart needs strictly increasing times): the last trade of a second wins
    /** @type {Map<number, PaperView['equity'][number]>} */
    const bySecond = new Map();
    for (const p of points) bySecond.set(Math.floor(p.t / 1000), p);
    const ordered = [...bySecond.entries()].sort((a, b) => a[0] - b[0]);
    equity.setData(ordered.map(([t, p]) => ({ time: /** @type {import('lightweight-charts').UTCTimestamp} */ (t), value: p.equity })));
    dd.setData(ordered.map(([t, p]) => ({ time: /** @type {import('lightweight-charts').UTCTimestamp} */ (t), value: -p.drawdownPct, color: THEME.drawdownLine })));
    chart.timeScale().fitContent();
  };
  const holder = { box, chart, url: '', update };
  charts.set('equity', holder);
  return holder;
}

/**
 * Refreshes a candle chart's data (ETag: unchanged data is not redrawn).
 * @param {ChartHolder} holder
 */
async function loadChart(holder) {
  try {
    const r = /** @type {{ changed: boolean, data: ChartView }} */ (await getView(holder.url));
    if (r.changed) holder.update(r.data);
    holder.box.dataset.candles = String(r.data.candles.length);
    delete holder.box.dataset.error;
  } catch (e) {
    // A chart that cannot load leaves the rest of the page working (a 401 still signs out).
    if (e instanceof SignedOut) throw e;
    holder.box.dataset.error = e instanceof Error ? e.message : String(e);
  }
}

// ---------- owner controls ----------

/**
 * Sends an action and tells the owner what happened (the outcome itself arrives in the chat and in the
 * next poll).
 * @param {ActionRequest} req
 * @param {HTMLButtonElement | null} button
 */
async function act(req, button) {
  if (button) button.disabled = true;
  try {
    const res = await sendAction(req);
    if (res.status === 'queued') toast('Sent. The outcome arrives in the chat and here in a moment.', 'ok');
    else toast(`Refused: ${res.reason ?? 'no reason given'}${res.detail ? ` (${res.detail})` : ''}`, 'error');
    return res;
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignedOut(e.reason);
      return null;
    }
    toast(e instanceof ApiError ? `Refused: ${e.reason ?? e.message}` : `Not sent: ${e instanceof Error ? e.message : String(e)}`, 'error');
    return null;
  } finally {
    if (button) button.disabled = false;
    void refresh();
  }
}

/**
 * A button that acts on the second tap within CONFIRM_MS (closing a position is not undone).
 * @param {string} label
 * @param {string} confirmLabel
 * @param {Record<string, string>} data
 * @param {() => Promise<unknown>} run
 */
function confirmButton(label, confirmLabel, data, run) {
  /** @type {Record<string, unknown>} */
  const props = { type: 'button', class: 'btn btn-danger' };
  for (const [k, v] of Object.entries(data)) props[`data-${k}`] = v;
  const b = h('button', props, label);
  /** @type {ReturnType<typeof setTimeout> | null} */
  let armed = null;
  b.addEventListener('click', () => {
    if (!armed) {
      b.textContent = confirmLabel;
      b.classList.add('armed');
      armed = setTimeout(() => {
        armed = null;
        b.textContent = label;
        b.classList.remove('armed');
      }, CONFIRM_MS);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.textContent = label;
    b.classList.remove('armed');
    void run();
  });
  return b;
}

/**
 * The price a slider position stands for: the bounds at its ends, linear in between with 7 significant
 * digits, clamped (the server accepts the bounds inclusively).
 * @param {LevelBounds} b
 * @param {number} step 0..SLIDER_STEPS
 */
function sliderPrice(b, step) {
  if (step <= 0) return b.min;
  if (step >= SLIDER_STEPS) return b.max;
  const p = Number((b.min + ((b.max - b.min) * step) / SLIDER_STEPS).toPrecision(7));
  return Math.min(b.max, Math.max(b.min, p));
}

/**
 * @param {LevelBounds} b
 * @param {number} price
 */
function sliderStep(b, price) {
  if (b.max <= b.min) return 0;
  return Math.round(Math.max(0, Math.min(1, (price - b.min) / (b.max - b.min))) * SLIDER_STEPS);
}

/**
 * A TP or SL slider bounded by the position's `bounds`, with its "Set" button.
 * @param {PositionView} p
 * @param {'tp' | 'sl'} which
 */
function levelControl(p, which) {
  const b = which === 'tp' ? p.bounds.takeProfit : p.bounds.stopLoss;
  const current = which === 'tp' ? p.takeProfit : p.stopLoss;
  const name = which === 'tp' ? 'Take profit' : 'Stop loss';
  if (!b) return h('div', { class: 'level-ctl level-locked', 'data-level': which }, h('span', { class: 'muted' }, `${name}: cannot be moved now`));
  const key = `${p.groupId}:${which}`;
  const draft = pageState.drafts.get(key);
  const startStep = draft ?? sliderStep(b, current);
  const out = h('output', { class: 'level-value' }, fmtPrice(sliderPrice(b, startStep)));
  const slider = h('input', {
    type: 'range',
    class: `slider slider-${which}`,
    min: 0,
    max: SLIDER_STEPS,
    step: 1,
    'data-action': which === 'tp' ? 'move_tp' : 'move_sl',
    'data-group': p.groupId,
    'aria-label': `${name} for ${p.symbol}`,
    value: startStep,
  });
  const sync = () => {
    const price = sliderPrice(b, Number(slider.value));
    slider.dataset.price = String(price);
    out.textContent = fmtPrice(price);
    pageState.drafts.set(key, Number(slider.value));
  };
  slider.dataset.price = String(sliderPrice(b, startStep));
  slider.addEventListener('input', sync);
  slider.addEventListener('pointerdown', () => (slider.dataset.dragging = '1'));
  const release = () => {
    delete slider.dataset.dragging;
    if (refreshAgain) {
      refreshAgain = false;
      void refresh();
    }
  };
  slider.addEventListener('pointerup', release);
  slider.addEventListener('change', release);
  slider.addEventListener('blur', release);
  const apply = h('button', { type: 'button', class: 'btn', 'data-action': `${which === 'tp' ? 'move_tp' : 'move_sl'}-apply`, 'data-group': p.groupId }, which === 'tp' ? 'Set TP' : 'Set SL');
  apply.addEventListener('click', () => {
    const price = sliderPrice(b, Number(slider.value));
    pageState.drafts.delete(key);
    const commandId = newCommandId();
    /** @type {ActionRequest} */
    const req = which === 'tp' ? { commandId, action: 'move_tp', groupId: p.groupId, symbol: p.symbol, price } : { commandId, action: 'move_sl', groupId: p.groupId, symbol: p.symbol, price };
    void act(req, apply);
  });
  return h(
    'div',
    { class: 'level-ctl', 'data-level': which },
    h('div', { class: 'level-head' }, h('span', null, name), out, h('span', { class: 'muted range' }, `${fmtPrice(b.min)} – ${fmtPrice(b.max)}`)),
    h('div', { class: 'level-row' }, slider, apply),
  );
}

// ---------- Paper trading ----------

/** @param {PositionView} p */
function positionCard(p) {
  const dirKind = p.direction === 'LONG' ? 'long' : 'short';
  const chartOpen = pageState.openCharts.has(p.groupId);
  const toggle = h('button', { type: 'button', class: 'btn btn-quiet', 'data-toggle-chart': p.groupId }, chartOpen ? 'Hide chart' : 'Chart');
  toggle.addEventListener('click', () => {
    pageState.chartsToggled = true;
    if (pageState.openCharts.has(p.groupId)) {
      pageState.openCharts.delete(p.groupId);
      charts.get(`pos:${p.groupId}`)?.chart.remove();
      charts.delete(`pos:${p.groupId}`);
    } else pageState.openCharts.add(p.groupId);
    pageState.drawn = false;
    void refresh();
  });
  /** @type {Child[]} */
  const owner = [];
  if (isOwner()) {
    owner.push(
      h(
        'div',
        { class: 'owner-ctl' },
        levelControl(p, 'tp'),
        levelControl(p, 'sl'),
        h(
          'div',
          { class: 'level-row' },
          confirmButton('Close position', 'Tap again to close', { action: 'close', group: p.groupId }, () => act({ commandId: newCommandId(), action: 'close', groupId: p.groupId, symbol: p.symbol }, null)),
        ),
      ),
    );
  }
  return h(
    'article',
    { class: 'card position', 'data-group': p.groupId, 'data-symbol': p.symbol },
    h(
      'div',
      { class: 'card-head' },
      h('span', { class: 'symbol' }, p.symbol),
      badge(p.direction, dirKind),
      h('span', { class: 'muted' }, p.strategy),
      p.status === 'pending' ? badge('pending', 'info') : null,
      p.live ? badge('live', 'warn') : null,
      h('span', { class: `pnl ${pnlClass(p.unrealizedPnl)}` }, p.unrealizedPnl === null ? '—' : `${fmtUsd(p.unrealizedPnl)} (${fmtPct(p.unrealizedPct ?? 0)})`),
    ),
    h(
      'div',
      { class: 'grid-stats' },
      stat('Entry', fmtPrice(p.avgEntry)),
      stat('Mark', p.mark === null ? '—' : fmtPrice(p.mark)),
      stat('TP', h('span', { class: 'tp', 'data-field': 'takeProfit' }, fmtPrice(p.takeProfit))),
      stat('SL', h('span', { class: 'sl', 'data-field': 'stopLoss' }, fmtPrice(p.stopLoss))),
      stat('Qty', fmtValue(p.qty)),
      stat(p.status === 'pending' ? 'Waiting' : 'In trade', fmtDuration(p.ageMs)),
    ),
    p.entries.length > 1
      ? h('div', { class: 'entries muted' }, 'Entries: ', p.entries.map((e, i) => `${i ? ' · ' : ''}${fmtPrice(e.price)} ${e.status}`))
      : null,
    owner,
    h('div', { class: 'card-foot' }, toggle),
    chartOpen ? candleChart(`pos:${p.groupId}`, p.symbol, p.groupId).box : null,
  );
}

/** @param {PaperView} v */
function paperSummary(v) {
  const a = v.account;
  /** @type {Child[]} */
  const ownerButtons = [];
  if (isOwner()) {
    const b = h('button', { type: 'button', class: 'btn', 'data-action': v.paused ? 'resume' : 'pause' }, v.paused ? 'Resume trading' : 'Pause trading');
    b.addEventListener('click', () => void act(v.paused ? { commandId: newCommandId(), action: 'resume' } : { commandId: newCommandId(), action: 'pause' }, b));
    ownerButtons.push(b);
  }
  return h(
    'section',
    { class: 'panel', id: 'account' },
    h('h2', null, 'Account ', badge(v.mode, v.mode === 'live' ? 'warn' : 'info'), v.paused ? badge('paused', 'warn') : null, ownerButtons),
    h(
      'div',
      { class: 'grid-stats' },
      stat('Equity', fmtUsdPlain(a.equity)),
      stat('Realized', fmtUsd(a.realizedPnl), pnlClass(a.realizedPnl)),
      stat('Unrealized', fmtUsd(a.unrealizedPnl), pnlClass(a.unrealizedPnl)),
      stat('Drawdown', `${a.drawdownPct.toFixed(2)}%`, a.drawdownPct > 0 ? 'neg' : ''),
      stat('Max drawdown', `${a.maxDrawdownPct.toFixed(2)}%`),
      stat('Start', fmtUsdPlain(a.startingEquity)),
    ),
    v.holds.length ? h('ul', { class: 'holds' }, v.holds.map((x) => h('li', null, x))) : null,
  );
}

/** @param {TradesView} t */
function tradesSection(t) {
  const f = pageState.trades;
  /**
   * @param {'strategy' | 'symbol' | 'outcome' | 'period'} name
   * @param {string[]} values
   * @param {string} allLabel
   */
  const select = (name, values, allLabel) => {
    const s = h(
      'select',
      { name, 'aria-label': name, 'data-filter': name },
      allLabel ? h('option', { value: '' }, allLabel) : null,
      values.map((x) => h('option', { value: x }, x)),
    );
    s.value = f[name];
    s.addEventListener('change', () => {
      f[name] = s.value;
      f.page = 0;
      pageState.drawn = false;
      void refresh();
    });
    return s;
  };
  const prev = h('button', { type: 'button', class: 'btn btn-quiet', 'data-page-nav': 'prev', disabled: t.page <= 0 }, '‹ Newer');
  const next = h('button', { type: 'button', class: 'btn btn-quiet', 'data-page-nav': 'next', disabled: t.page >= t.pages - 1 }, 'Older ›');
  prev.addEventListener('click', () => {
    f.page = Math.max(0, t.page - 1);
    void refresh();
  });
  next.addEventListener('click', () => {
    f.page = Math.min(t.pages - 1, t.page + 1);
    void refresh();
  });
  const rows = t.trades.map((x) => [
    fmtTime(x.exitTime),
    x.symbol,
    x.strategy,
    badge(x.direction, x.direction === 'LONG' ? 'long' : 'short'),
    fmtPrice(x.avgEntry),
    fmtPrice(x.exitPrice),
    h('span', { class: pnlClass(x.pnl) }, fmtUsd(x.pnl)),
    h('span', { class: pnlClass(x.pnlPct) }, fmtPct(x.pnlPct)),
    x.exitReason,
  ]);
  return h(
    'section',
    { class: 'panel', id: 'trades' },
    h('h2', null, 'Closed trades ', h('span', { class: 'muted' }, `${t.total}`)),
    h(
      'div',
      { class: 'filters' },
      select('strategy', t.options.strategies, 'All strategies'),
      select('symbol', t.options.symbols, 'All symbols'),
      select('outcome', t.options.outcomes, 'All outcomes'),
      select('period', t.options.periods, ''),
    ),
    t.trades.length ? table(['Exit', 'Symbol', 'Strategy', 'Side', 'Entry', 'Exit price', 'P&L', 'P&L %', 'Reason'], rows, 'trades-table') : h('p', { class: 'muted' }, 'No closed trades match.'),
    h('div', { class: 'pager' }, prev, h('span', { class: 'muted' }, `page ${t.pages ? t.page + 1 : 0} / ${t.pages}`), next),
  );
}

/** @param {PaperView} v */
function perStrategySection(v) {
  const rows = v.perStrategy.map((s) => [s.strategy, s.trades, s.wins, `${s.winRatePct.toFixed(1)}%`, h('span', { class: pnlClass(s.pnl) }, fmtUsd(s.pnl)), s.profitFactor === null ? '—' : s.profitFactor.toFixed(2)]);
  return h(
    'section',
    { class: 'panel', id: 'per-strategy' },
    h('h2', null, 'Per strategy ', h('span', { class: 'muted' }, v.period.label)),
    rows.length ? table(['Strategy', 'Trades', 'Wins', 'Win rate', 'P&L', 'PF'], rows) : h('p', { class: 'muted' }, 'No closed trades in the period.'),
  );
}

/** @param {number} gen */
async function loadPaper(gen) {
  const f = pageState.trades;
  const [paper, trades] = await Promise.all([
    // The account's table and curve over the same period as the trades below.
    /** @type {Promise<{ changed: boolean, data: PaperView }>} */ (getView(apiUrl(ROUTES.paper, { period: f.period }))),
    /** @type {Promise<{ changed: boolean, data: TradesView }>} */ (
      getView(apiUrl(ROUTES.trades, { strategy: f.strategy, symbol: f.symbol, outcome: f.outcome, period: f.period, page: f.page }))
    ),
  ]);
  if (gen !== generation) return;
  const v = paper.data;
  for (const id of pageState.openCharts) if (!v.positions.some((p) => p.groupId === id)) pageState.openCharts.delete(id);
  // The first position's chart is open until the owner toggles one (the page shows a chart without a tap).
  if (!pageState.chartsToggled && pageState.openCharts.size === 0 && v.positions[0]) pageState.openCharts.add(v.positions[0].groupId);
  if (paper.changed || trades.changed || !pageState.drawn) {
    const eq = equityChart();
    const redrawEquity = paper.changed || !pageState.drawn;
    byId('main').replaceChildren(
      h(
        'div',
        { class: 'page page-paper' },
        paperSummary(v),
        h(
          'section',
          { class: 'panel', id: 'positions' },
          h('h2', null, 'Open positions ', h('span', { class: 'muted' }, String(v.positions.length))),
          v.positions.length ? h('div', { class: 'cards' }, v.positions.map(positionCard)) : h('p', { class: 'muted' }, 'No open positions.'),
        ),
        h('section', { class: 'panel', id: 'equity' }, h('h2', null, 'Equity and drawdown ', h('span', { class: 'muted' }, v.period.label)), v.equity.length ? eq.box : h('p', { class: 'muted' }, 'No closed trades in the period.')),
        perStrategySection(v),
        tradesSection(trades.data),
        h('p', { class: 'muted asof' }, `As of ${fmtTime(v.asOf)} · account ${v.accountId}`),
      ),
    );
    // Drawn once its box is in the page (fitting a detached, zero-width chart squeezes the curve).
    if (redrawEquity) eq.update(v.equity);
    pageState.drawn = true;
  }
  for (const id of pageState.openCharts) {
    const holder = charts.get(`pos:${id}`);
    if (holder) await loadChart(holder);
  }
}

// ---------- Strategies ----------

/** @param {ReadinessCondition} c */
function conditionRow(c) {
  const mark = c.met === null ? h('span', { class: 'muted' }, '·') : c.met ? h('span', { class: 'pos' }, '✓') : h('span', { class: 'neg' }, '✗');
  return [c.label, fmtValue(c.value), c.comparator === 'info' ? '' : `${c.comparator} ${fmtValue(c.threshold)}`, mark, c.progress === null ? '' : bar(c.progress)];
}

/**
 * @param {StrategyReadiness} r
 * @param {number} now
 */
function readinessCard(r, now) {
  const decisionKind = r.decision === 'TAKE' ? 'long' : r.decision === 'NEAR_MISS' ? 'warn' : 'info';
  return h(
    'article',
    { class: 'card readiness', 'data-strategy': r.strategy, 'data-symbol': r.symbol },
    h(
      'div',
      { class: 'card-head' },
      h('span', { class: 'symbol' }, r.symbol),
      h('span', null, r.strategy),
      badge(r.engine, 'info'),
      r.decision ? badge(r.decision, decisionKind) : null,
      r.enabled ? null : badge('disabled', 'short'),
      r.emitting ? null : badge('log-only', 'member'),
      r.cooldownUntil !== null && r.cooldownUntil > now ? badge(`cooldown ${fmtDuration(r.cooldownUntil - now)}`, 'warn') : null,
    ),
    r.note ? h('p', { class: 'muted' }, r.note) : null,
    r.sides.map((s) =>
      h(
        'div',
        { class: 'side' },
        h('div', { class: 'side-head' }, badge(s.direction, s.direction === 'LONG' ? 'long' : 'short'), h('span', null, `${s.met}/${s.total} conditions`), h('span', { class: 'muted' }, `${Math.round(s.closeness * 100)}% close`), bar(s.closeness)),
        table(['Condition', 'Now', 'Needs', '', 'Progress'], s.conditions.map(conditionRow), 'conditions'),
      ),
    ),
    h('p', { class: 'muted asof' }, `Computed on the candle closing ${fmtTime(r.asOf)}`),
  );
}

/** @param {number} gen */
async function loadStrategies(gen) {
  const r = /** @type {{ changed: boolean, data: StrategiesView }} */ (await getView(apiUrl(ROUTES.strategies)));
  if (gen !== generation || (!r.changed && pageState.drawn)) return;
  const v = r.data;
  const symbols = [...new Set(v.readiness.map((x) => x.symbol))];
  byId('main').replaceChildren(
    h(
      'div',
      { class: 'page page-strategies' },
      h(
        'section',
        { class: 'panel', id: 'biases' },
        h('h2', null, 'Bias'),
        v.biases.length
          ? h(
              'div',
              { class: 'cards cards-small' },
              v.biases.map((b) =>
                h(
                  'article',
                  { class: 'card bias', 'data-symbol': b.symbol },
                  h('div', { class: 'card-head' }, h('span', { class: 'symbol' }, b.symbol), badge(b.bias, /bull|long/i.test(b.bias) ? 'long' : /bear|short/i.test(b.bias) ? 'short' : 'info'), h('span', { class: 'muted' }, `confidence ${fmtValue(b.confidence)}`), b.active ? null : badge('inactive', 'member')),
                  h('p', { class: 'muted' }, b.expiresAt ? `until ${fmtTime(b.expiresAt)}` : ''),
                  table(['Component', 'Value'], b.components.map((c) => [c.name, fmtValue(c.value)])),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No bias stored yet.'),
      ),
      symbols.map((s) =>
        h(
          'section',
          { class: 'panel', 'data-readiness-symbol': s },
          h('h2', null, `${s} · readiness`),
          h('div', { class: 'cards' }, v.readiness.filter((x) => x.symbol === s).map((x) => readinessCard(x, v.asOf))),
        ),
      ),
      v.readiness.length ? null : h('section', { class: 'panel' }, h('p', { class: 'muted' }, 'No strategy readiness yet.')),
      h(
        'section',
        { class: 'panel', id: 'disabled' },
        h('h2', null, 'Switched off'),
        v.disabled.length ? table(['Strategy', 'Symbol', 'Why'], v.disabled.map((d) => [d.strategy, d.symbol ?? 'all', d.reason])) : h('p', { class: 'muted' }, 'Nothing is switched off.'),
      ),
      h('p', { class: 'muted asof' }, `As of ${fmtTime(v.asOf)}`),
    ),
  );
  pageState.drawn = true;
}

// ---------- Market ----------

/** @param {number} gen */
async function loadMarket(gen) {
  const r = /** @type {{ changed: boolean, data: MarketView }} */ (await getView(apiUrl(ROUTES.market)));
  if (gen !== generation || (!r.changed && pageState.drawn)) return;
  const v = r.data;
  const statusKind = /** @param {string} s */ (s) => (s === 'fresh' ? 'long' : s === 'stale' ? 'short' : 'member');
  byId('main').replaceChildren(
    h(
      'div',
      { class: 'page page-market' },
      h(
        'section',
        { class: 'panel', id: 'regime' },
        h('h2', null, 'Regime ', badge(v.regime.current, /panic/i.test(v.regime.current) ? 'short' : 'info')),
        h('p', { class: 'muted' }, v.regime.since ? `since ${fmtTime(v.regime.since)}` : ''),
        v.regime.inputs.length ? table(['Input', 'Value'], v.regime.inputs.map((i) => [i.name, fmtValue(i.value)])) : null,
      ),
      h(
        'section',
        { class: 'panel', id: 'freshness' },
        h('h2', null, 'Data freshness'),
        table(
          ['Symbol', 'Venue', 'Status', 'Age', 'Interval', 'Last candle'],
          v.freshness.map((x) => [x.symbol, x.venue, badge(x.status, statusKind(x.status)), x.ageMs === null ? '—' : fmtDuration(x.ageMs), x.interval, fmtTime(x.lastCandleOpen)]),
        ),
      ),
      h(
        'section',
        { class: 'panel', id: 'holder' },
        h('h2', null, 'Bybit holder'),
        h(
          'div',
          { class: 'grid-stats' },
          stat('Connected', fmtValue(v.holder.connected), v.holder.connected === false ? 'neg' : ''),
          stat('Reconnects', fmtValue(v.holder.reconnects)),
          stat('Last message', v.holder.lastMessageAgeMs === null ? '—' : `${fmtDuration(v.holder.lastMessageAgeMs)} ago`),
        ),
        v.holder.detail ? h('p', { class: 'muted' }, v.holder.detail) : null,
      ),
      h(
        'section',
        { class: 'panel', id: 'protections' },
        h('h2', null, 'Recent protection alerts'),
        v.protections.length
          ? table(['Time', 'Kind', 'Message', 'Subject', 'Severity'], v.protections.map((p) => [fmtTime(p.ts), p.kind, p.message, p.subject ?? '—', badge(p.severity, /crit|high|error/i.test(p.severity) ? 'short' : 'warn')]))
          : h('p', { class: 'muted' }, 'None.'),
      ),
      h('p', { class: 'muted asof' }, `As of ${fmtTime(v.asOf)}`),
    ),
  );
  pageState.drawn = true;
}

// ---------- Research ----------

/** @param {ResearchView['suggestions'][number]} s */
function suggestionRow(s) {
  /** @type {Child[]} */
  const buttons = [];
  if (isOwner()) {
    for (const approve of [true, false]) {
      const b = h('button', { type: 'button', class: approve ? 'btn' : 'btn btn-quiet', 'data-action': approve ? 'approve' : 'reject', 'data-suggestion': s.id }, approve ? 'Approve' : 'Reject');
      b.addEventListener('click', () => void act({ commandId: newCommandId(), action: 'suggestion', suggestionId: s.id, approve }, b));
      buttons.push(b);
    }
  }
  return h(
    'article',
    { class: 'card suggestion', 'data-suggestion': s.id },
    h('div', { class: 'card-head' }, h('span', null, s.strategy), h('code', null, s.parameter), h('span', null, `${fmtValue(s.current)} → ${fmtValue(s.suggested)}`)),
    s.summary ? h('p', null, s.summary) : null,
    h('p', { class: 'muted' }, `suggested ${fmtTime(s.createdAt)}`),
    buttons.length ? h('div', { class: 'level-row' }, buttons) : null,
  );
}

/** @param {number} gen */
async function loadResearch(gen) {
  const r = /** @type {{ changed: boolean, data: ResearchView }} */ (await getView(apiUrl(ROUTES.research)));
  if (gen !== generation || (!r.changed && pageState.drawn)) return;
  const v = r.data;
  const sh = v.shadow;
  byId('main').replaceChildren(
    h(
      'div',
      { class: 'page page-research' },
      h(
        'section',
        { class: 'panel', id: 'models' },
        h('h2', null, 'Models'),
        v.models.length
          ? table(
              ['Strategy', 'Version', 'Score', 'Trained', 'Rows', 'Features', ''],
              v.models.map((m) => [m.strategy, m.version ?? '—', fmtValue(m.score), fmtTime(m.trainedAt), fmtValue(m.rows), m.featureVersion ?? '—', m.awaitingApproval ? badge('awaiting approval', 'warn') : (m.detail ?? '')]),
            )
          : h('p', { class: 'muted' }, 'No models yet.'),
      ),
      h(
        'section',
        { class: 'panel', id: 'shadow' },
        h('h2', null, 'Shadow: champion vs challengers'),
        sh
          ? [
              h('p', { class: 'muted' }, `Run ${sh.runId} · ${fmtTime(sh.ranAt)} · ${sh.periodHours} h`),
              table(
                ['Variation', 'Trades', 'Win rate', 'PF', 'P&L', 'vs champion', 'Mean %', 'p'],
                sh.rows.map((x) => [x.variation, x.trades, `${x.winRatePct.toFixed(1)}%`, x.profitFactor === null ? '—' : x.profitFactor.toFixed(2), h('span', { class: pnlClass(x.pnl) }, fmtUsd(x.pnl)), x.vsChampion === null ? '—' : fmtUsd(x.vsChampion), x.meanPnlPct === null ? '—' : fmtPct(x.meanPnlPct, 3), fmtValue(x.pValue)]),
                undefined,
                sh.rows.map((x, i) => (i === 0 ? 'champion' : null)),
              ),
            ]
          : h('p', { class: 'muted' }, 'No shadow run yet.'),
      ),
      h(
        'section',
        { class: 'panel', id: 'suggestions' },
        h('h2', null, 'Pending suggestions ', h('span', { class: 'muted' }, String(v.suggestions.length))),
        v.suggestions.length ? h('div', { class: 'cards' }, v.suggestions.map(suggestionRow)) : h('p', { class: 'muted' }, 'None pending.'),
      ),
      h('p', { class: 'muted asof' }, `As of ${fmtTime(v.asOf)}`),
    ),
  );
  pageState.drawn = true;
}

/** @type {Record<PageName, (gen: number) => Promise<void>>} */
const LOADERS = { paper: loadPaper, strategies: loadStrategies, market: loadMarket, research: loadResearch };

// ---------- start ----------

function applyTheme() {
  const root = document.documentElement.style;
  for (const [k, v] of Object.entries(THEME)) root.setProperty(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(v));
}

async function main() {
  applyTheme();
  document.body.dataset.state = 'signing-in';
  try {
    await signIn();
  } catch (e) {
    if (e instanceof SignedOut) showSignedOut(e.reason);
    else byId('main').replaceChildren(h('section', { class: 'notice error' }, `Could not reach the dashboard: ${e instanceof Error ? e.message : String(e)}`));
    return;
  }
  if (!/^#\/[a-z]+/.test(location.hash)) history.replaceState(null, '', `${location.pathname}${location.search}#/paper`);
  byId('tabs').hidden = false;
  renderWho();
  markTabs();
  window.addEventListener('hashchange', () => {
    if (!session) return;
    generation++;
    markTabs();
    void refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && session) void refresh();
  });
  await refresh();
}

void main();
