/**
 * One plain async function per API route (shared/dashboard/api.ts), hummingbot-gateway style: each
 * takes the validated input and the caller, returns the answer's body or an `ApiError`. No HTTP here:
 * shared/pipeline/dashboard.ts matches the request, authenticates, validates, and sets status, ETag
 * and headers.
 */
import { z } from 'zod';
import type { TelegramDeps } from '../telegram/deps.js';
import { openSession, redeemLogin, verifyInitData, type Session } from './auth.js';
import type { ActionRequest, ChartView, MarketView, MeResponse, PaperView, ResearchView, Role, SessionResponse, StrategiesView, TradesView } from './api.js';
import { chartView, DASHBOARD_PERIODS, marketView, paperView, researchView, TRADE_OUTCOMES, tradesView } from './views.js';
import { strategiesView } from './strategies-view.js';
import { performAction, type ActionOutcome } from './actions.js';

/** A refusal: its status and the `{ error, reason }` body. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 429 | 500 | 503,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Who is asking, re-read on every request. */
export interface Caller {
  session: Session;
  role: Role;
}

/** The role of a session's user now: the allow-list's (a `local` session is the owner only in the embedded default). */
export async function roleOfSession(d: TelegramDeps, s: Pick<Session, 'user' | 'local'>): Promise<Role | 'none'> {
  if (s.local && d.dashboard?.localOwner) return 'owner';
  return d.access.roleOf(s.user.id, { id: s.user.id, type: 'private' });
}

// ---------- session ----------

export const sessionRequestSchema = z.union([z.strictObject({ initData: z.string().min(1).max(8_192) }), z.strictObject({ login: z.string().min(1).max(2_048) })]);

const INIT_DATA_REASONS = {
  malformed: 'malformed_init_data',
  missing_hash: 'malformed_init_data',
  bad_signature: 'bad_signature',
  stale: 'stale_init_data',
  future: 'future_init_data',
  no_user: 'no_user',
} as const;

const LOGIN_REASONS = { bad_signature: 'bad_login', expired: 'login_expired', used: 'login_used' } as const;

/** `POST /api/session`: Mini App initData or a login token -> a session for an allowed user. */
export async function postSession(d: TelegramDeps, now: number, body: z.infer<typeof sessionRequestSchema>): Promise<SessionResponse> {
  const access = d.dashboard;
  if (!access) throw new ApiError(503, 'dashboard_unavailable', 'the dashboard is not configured here');
  const cfg = d.tg.dashboard;
  let user: { id: number; name: string };
  let local = false;
  let via: 'init_data' | 'login';
  if ('initData' in body) {
    via = 'init_data';
    if (!access.botToken) throw new ApiError(401, 'no_bot', 'no Telegram bot is configured: open the dashboard with a login link');
    const r = verifyInitData(body.initData, access.botToken, now, cfg.initDataMaxAgeMs);
    if (!r.ok) {
      d.log.warn('dashboard: initData refused', { reason: r.reason });
      throw new ApiError(401, INIT_DATA_REASONS[r.reason], 'Telegram data could not be verified: open the dashboard from Telegram again');
    }
    user = r.user;
  } else {
    via = 'login';
    const r = await redeemLogin(access.keys, d.state, body.login, now);
    if (!r.ok) {
      d.log.warn('dashboard: login refused', { reason: r.reason });
      throw new ApiError(401, LOGIN_REASONS[r.reason], r.reason === 'used' ? 'this login link was already used: send /dashboard again' : 'this login link is not valid: send /dashboard again');
    }
    user = r.user;
    local = r.local;
  }
  const role = await roleOfSession(d, { user, local });
  if (role === 'none') {
    d.log.warn('dashboard: not on the allow-list', { userId: user.id, via });
    throw new ApiError(403, 'not_allowed', 'you are not on the allow-list: ask the owner for an invite');
  }
  const { token, session } = openSession(access.keys, user, now, cfg.sessionTtlMs, local);
  d.log.info('dashboard session opened', { userId: user.id, role, via, local });
  return { token, expiresAt: session.expiresAt, user, role, pollMs: cfg.pollMs };
}

/** `GET /api/me`. */
export async function getMe(d: TelegramDeps, now: number, c: Caller): Promise<MeResponse> {
  return { user: c.session.user, role: c.role, pollMs: d.tg.dashboard.pollMs, now };
}

// ---------- views ----------

const period = z.enum(DASHBOARD_PERIODS);
const name = z.string().regex(/^[A-Za-z0-9_]{1,40}$/);

export const paperQuerySchema = z.strictObject({ period: period.default('24h') });

/** `GET /api/paper?period=24h|7d|30d|all`. */
export function getPaper(d: TelegramDeps, now: number, q: z.infer<typeof paperQuerySchema>): Promise<PaperView> {
  return paperView(d, now, q.period);
}

export const tradesQuerySchema = z.strictObject({
  strategy: name.optional(),
  symbol: name.optional(),
  outcome: z.enum(TRADE_OUTCOMES).optional(),
  period: period.default('7d'),
  /** Decimal digits only ('' / '0x10' / '1e3' are refused, not read as numbers). */
  page: z.string().regex(/^\d{1,6}$/, 'a page number (0, 1, 2...)').transform(Number).default(0),
});

/** `GET /api/trades?strategy=&symbol=&outcome=&period=&page=`. */
export function getTrades(d: TelegramDeps, now: number, q: z.infer<typeof tradesQuerySchema>): Promise<TradesView> {
  return tradesView(d, now, {
    period: q.period,
    page: q.page,
    ...(q.strategy !== undefined ? { strategy: q.strategy } : {}),
    ...(q.symbol !== undefined ? { symbol: q.symbol } : {}),
    ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
  });
}

export const chartQuerySchema = z.strictObject({ symbol: z.string().regex(/^[A-Z0-9]{2,30}$/), groupId: z.string().min(1).max(200).optional() });

/** `GET /api/chart?symbol=S[&groupId=G]` (404 `no_group` for a group that is neither open nor closed). */
export async function getChart(d: TelegramDeps, now: number, q: z.infer<typeof chartQuerySchema>): Promise<ChartView> {
  const v = await chartView(d, now, q.symbol, q.groupId);
  if (!v) throw new ApiError(404, 'no_group', `no trade group ${q.groupId} on ${q.symbol}`);
  return v;
}

export const emptyQuerySchema = z.strictObject({});

/** `GET /api/market`. */
export function getMarket(d: TelegramDeps, now: number): Promise<MarketView> {
  return marketView(d, now);
}

export const researchQuerySchema = z.strictObject({ period: z.string().regex(/^[0-9]{1,4}[hdw]$/).optional() });

/** `GET /api/research[?period=7d]` (a period the shadow run does not have falls back to its default). */
export function getResearch(d: TelegramDeps, now: number, q: z.infer<typeof researchQuerySchema>): Promise<ResearchView> {
  return researchView(d, now, q.period);
}

/** `GET /api/strategies`: readiness per coin and strategy (shared/dashboard/strategies-view.ts). */
export function getStrategies(d: TelegramDeps, now: number): Promise<StrategiesView> {
  return strategiesView(d, now);
}

/** `POST /api/actions` (owner only: 403 `owner_only` for a member). */
export async function postAction(d: TelegramDeps, now: number, c: Caller, req: ActionRequest): Promise<ActionOutcome> {
  if (c.role !== 'owner') throw new ApiError(403, 'owner_only', 'only the owner can act');
  return performAction(d, now, c, req);
}
