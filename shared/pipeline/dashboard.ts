/**
 * dashboard (public HTTP): the page (static files under the mount, `/dashboard` locally) and its JSON
 * API (shared/dashboard/api.ts). The request's facts in, `{ status, headers, body }` out:
 * - `POST /api/session` (Mini App initData or a single-use login token) opens a session; every other
 *   `/api/*` route needs `Authorization: Bearer <session>` (401 without a valid one) and re-reads the
 *   caller's role from the allow-list (403 once removed; 403 `owner_only` for a member's action);
 * - query strings and bodies are validated strictly (400 `{ error, reason }`); an internal error is
 *   logged and answered 500 without its text;
 * - GET views carry a strong ETag over their content (what moves with the clock alone left out: `asOf`,
 *   ages, the period's bounds; so an unchanged view is a 304 while time passes) and answer 304 to a matching `If-None-Match`;
 * - the page and its files come from the `assets` port with their content type, cache policy and the
 *   Content-Security-Policy (shared/dashboard/assets.ts).
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import type { TelegramDeps, TelegramSide } from '../telegram/deps.js';
import { bearerToken, readSession } from '../dashboard/auth.js';
import { API_ROUTES, DASHBOARD_BASE, type ErrorResponse } from '../dashboard/api.js';
import { paperValidator } from '../dashboard/views.js';
import { assetName, cacheControlOf, COMMON_HEADERS, contentTypeOf, withBase, type DashboardAssets } from '../dashboard/assets.js';
import {
  ApiError,
  chartQuerySchema,
  emptyQuerySchema,
  getChart,
  getMarket,
  getMe,
  getPaper,
  getResearch,
  getStrategies,
  getTrades,
  paperQuerySchema,
  postAction,
  postSession,
  researchQuerySchema,
  roleOfSession,
  sessionRequestSchema,
  tradesQuerySchema,
  type Caller,
} from '../dashboard/routes.js';
import { actionRequestSchema } from '../dashboard/actions.js';

export const FUNCTION_NAME = 'dashboard';

/** Largest request body the API reads (a session or an action is far smaller). */
const MAX_BODY_BYTES = 16_384;

export interface Deps {
  log: Logger;
  /** The root's clock (market time on a replay): the views' `now` and the commands' `ts`. */
  clock: Clock;
  /**
   * Wall time for sessions and links: Telegram's `auth_date`, a link's expiry and a session's are real
   * time even while the root's clock replays a past day.
   */
  authClock: Clock;
  /** The Telegram side for the config in force (its deps carry the dashboard's keys and URL). */
  telegram(): Promise<TelegramSide>;
  /** The page's files (infra/dashboard/assets.ts). */
  assets: DashboardAssets;
}

type HeaderValue = string | string[] | undefined;

/** The facts of one HTTP request. */
export interface DashboardRequest {
  method: string;
  /** Path and query as received (`/dashboard/api/paper?period=7d`, or `/api/paper?...` where the platform strips the mount). */
  url: string;
  headers: Record<string, HeaderValue>;
  rawBody: Buffer | undefined;
}

export interface DashboardResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON-able, raw bytes (a static file), or null (no body: 304, HEAD). */
  body: unknown;
}

const header = (h: Record<string, HeaderValue>, name: string): string | undefined => {
  const v = h[name] ?? h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

function json(status: number, body: unknown, extra: Record<string, string> = {}): DashboardResponse {
  return { status, headers: { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra }, body };
}

function refuse(status: number, reason: string, error: string, extra: Record<string, string> = {}): DashboardResponse {
  return json(status, { error, reason } satisfies ErrorResponse, extra);
}

/**
 * Keys whose value moves with the clock alone: left out of the ETag. `asOf` only at the top of a view
 * (the time it was built); deeper it is data (a readiness row's candle time) and counts.
 */
const CLOCK_KEYS = new Set(['ageMs', 'lastMessageAgeMs', 'now']);

/** Strong validator of a view's content (clock-only fields left out). */
export function viewEtag(view: unknown): string {
  const canonical = JSON.stringify(view, function (this: unknown, k: string, v: unknown) {
    return CLOCK_KEYS.has(k) || (k === 'asOf' && this === view) ? undefined : v;
  });
  return `"${createHash('sha256').update(canonical).digest('base64url').slice(0, 32)}"`;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag;
  });
}

/** A GET view's answer: 304 when the caller has it, else 200 with its ETag (over `validator`: default the view). */
function viewAnswer(req: DashboardRequest, view: unknown, validator: unknown = view): DashboardResponse {
  const etag = viewEtag(validator);
  const extra = { etag, 'cache-control': 'private, no-cache', vary: 'Authorization' };
  if (matches(header(req.headers, 'if-none-match'), etag)) return { status: 304, headers: { ...COMMON_HEADERS, ...extra }, body: null };
  return json(200, view, extra);
}

/** Where the page is mounted, from the path as received (`/dashboard` locally) or the public URL's path. */
function split(url: string, publicUrl: string | undefined): { mount: string; path: string; query: URLSearchParams } {
  const u = new URL(url, 'http://x');
  let path = u.pathname;
  let mount: string;
  if (path === DASHBOARD_BASE || path.startsWith(`${DASHBOARD_BASE}/`)) {
    mount = DASHBOARD_BASE;
    path = path.slice(DASHBOARD_BASE.length);
  } else {
    mount = publicUrl ? new URL(publicUrl).pathname.replace(/\/+$/, '') : '';
  }
  return { mount, path: path === '' ? '/' : path, query: u.searchParams };
}

function parseQuery<S extends z.ZodTypeAny>(schema: S, query: URLSearchParams): z.infer<S> {
  const obj: Record<string, string> = {};
  for (const [k, v] of query) {
    if (k in obj) throw new ApiError(400, 'invalid_query', `${k}: given more than once`);
    obj[k] = v;
  }
  const r = schema.safeParse(obj);
  if (!r.success) throw new ApiError(400, 'invalid_query', r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ').slice(0, 300));
  return r.data;
}

function parseBody<S extends z.ZodTypeAny>(schema: S, raw: Buffer | undefined): z.infer<S> {
  if (!raw || raw.length === 0) throw new ApiError(400, 'invalid_body', 'a JSON body is required');
  if (raw.length > MAX_BODY_BYTES) throw new ApiError(413, 'body_too_large', `the body is over ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_body', 'the body is not JSON');
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new ApiError(400, 'invalid_body', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ').slice(0, 300));
  return r.data;
}

/** The caller of an authenticated route: a valid session whose user is still allowed. */
async function callerOf(d: TelegramDeps, req: DashboardRequest, now: number): Promise<Caller> {
  if (!d.dashboard) throw new ApiError(503, 'dashboard_unavailable', 'the dashboard is not configured here');
  const token = bearerToken(header(req.headers, 'authorization'));
  if (!token) throw new ApiError(401, 'no_session', 'no session: open the dashboard from Telegram or with a login link');
  const session = readSession(d.dashboard.keys, token, now);
  if (!session) throw new ApiError(401, 'bad_session', 'the session is not valid or has expired: open the dashboard again');
  const role = await roleOfSession(d, session);
  if (role === 'none') throw new ApiError(403, 'not_allowed', 'you are no longer on the allow-list');
  return { session, role };
}

async function api(d: TelegramDeps, req: DashboardRequest, path: string, query: URLSearchParams, now: number, authNow: number): Promise<DashboardResponse> {
  const route = path;
  const method = req.method.toUpperCase();
  if (route === API_ROUTES.session) {
    if (method !== 'POST') throw new ApiError(405, 'method_not_allowed', 'POST only');
    return json(200, await postSession(d, authNow, parseBody(sessionRequestSchema, req.rawBody)));
  }
  const known = (Object.values(API_ROUTES) as string[]).includes(route);
  if (!known) throw new ApiError(404, 'not_found', 'no such route');
  const caller = await callerOf(d, req, authNow);
  if (route === API_ROUTES.actions) {
    if (method !== 'POST') throw new ApiError(405, 'method_not_allowed', 'POST only');
    const r = await postAction(d, now, caller, parseBody(actionRequestSchema, req.rawBody));
    return json(r.status, r.body);
  }
  if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'method_not_allowed', 'GET only');
  switch (route) {
    case API_ROUTES.me:
      return viewAnswer(req, await getMe(d, now, caller));
    case API_ROUTES.chart:
      return viewAnswer(req, await getChart(d, now, parseQuery(chartQuerySchema, query)));
    case API_ROUTES.market:
      parseQuery(emptyQuerySchema, query);
      return viewAnswer(req, await getMarket(d, now));
    case API_ROUTES.research:
    {
      // pending suggestions are the owner's to decide (the bot's /suggestions is owner-only too); the
      // ETag is over what this caller gets, so a member's cached answer never holds them
      const view = await getResearch(d, now, parseQuery(researchQuerySchema, query));
      return viewAnswer(req, caller.role === 'owner' ? view : { ...view, suggestions: [] });
    }
    case API_ROUTES.strategies:
      parseQuery(emptyQuerySchema, query);
      return viewAnswer(req, await getStrategies(d, now));
    case API_ROUTES.paper: {
      const view = await getPaper(d, now, parseQuery(paperQuerySchema, query));
      return viewAnswer(req, view, paperValidator(view));
    }
    case API_ROUTES.trades:
      return viewAnswer(req, await getTrades(d, now, parseQuery(tradesQuerySchema, query)));
    default:
      throw new ApiError(404, 'not_found', 'no such route');
  }
}

async function page(deps: Deps, req: DashboardRequest, mount: string, path: string): Promise<DashboardResponse> {
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return refuse(405, 'method_not_allowed', 'GET only', { allow: 'GET, HEAD' });
  const name = assetName(path);
  const file = name ? await deps.assets.get(name) : null;
  if (!name || !file) return refuse(404, 'not_found', 'no such file');
  const base = `${mount}/`;
  const body = name === 'index.html' ? withBase(file.body, base) : file.body;
  const etag = name === 'index.html' ? viewEtag([file.etag, base]) : file.etag;
  const headers = { ...COMMON_HEADERS, 'content-type': contentTypeOf(name) as string, 'cache-control': cacheControlOf(name), etag };
  if (matches(header(req.headers, 'if-none-match'), etag)) return { status: 304, headers, body: null };
  return { status: 200, headers, body: method === 'HEAD' ? null : body };
}

export async function handle(deps: Deps, req: DashboardRequest): Promise<DashboardResponse> {
  const side = await deps.telegram();
  const d: TelegramDeps = { ...side.deps, log: deps.log };
  const now = deps.clock.now();
  let where: ReturnType<typeof split>;
  try {
    where = split(req.url, d.dashboard?.url);
  } catch {
    return refuse(400, 'bad_url', 'the URL cannot be read');
  }
  try {
    if (where.path === '/api' || where.path.startsWith('/api/')) return await api(d, req, where.path, where.query, now, deps.authClock.now());
    return await page(deps, req, where.mount, where.path);
  } catch (e) {
    if (e instanceof ApiError) return refuse(e.status, e.reason, e.message);
    deps.log.error('dashboard request failed', { error: e as Error, path: where.path });
    return refuse(500, 'internal', 'internal error');
  }
}
