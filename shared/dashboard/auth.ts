/**
 * Who may open the dashboard (issue 12): no session without one of two proofs.
 *
 * 1. Telegram Mini App `initData` (the page opened from a "Dashboard" web_app button), verified exactly
 *    as Telegram documents (core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):
 *    data-check-string = every received field but `hash`, sorted by key, `key=value` joined by "\n";
 *    secret_key = HMAC-SHA256(key "WebAppData", message bot_token); the field `hash` must equal
 *    hex(HMAC-SHA256(key secret_key, message data-check-string)). Then `auth_date` must be fresh
 *    (`initDataMaxAgeMs`) and not in the future, and `user` must name a user.
 * 2. A signed login link the bot sends on `/dashboard` (outside Telegram): `{base}#login={token}`, the
 *    token a signed `{uid, exp, nonce}` that expires after `loginLinkTtlMs` and is spent on first use
 *    (its nonce is created at `dashboard_logins/{nonce}` in one state write: a second use is refused).
 *    The token travels in the URL fragment, which browsers never send to a server or put in its logs.
 *
 * Either opens a session: a signed `{uid, name, exp}` bearer token. Signing keys are derived from the
 * bot token and the dashboard's URL (the audience) with a label per use (a login token is never a
 * session token and the other way round), so every instance of the deployed function agrees without a
 * new secret and another deployment with the same bot token cannot mint for this one; the embedded default without a
 * bot token uses a random key per process (its printed link works for that process only).
 *
 * The session names a user, never a role: the caller re-reads the role from the allow-list on every
 * request (shared/telegram/access.ts), so removing a member ends their access at once.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../ports/state.js';
import { dashboardLoginPath } from '../state-paths.js';

const MAX_INIT_DATA_BYTES = 8_192;
const MAX_TOKEN_BYTES = 2_048;
/** Tolerated clock skew for an `auth_date` slightly ahead of ours. */
const FUTURE_SKEW_MS = 60_000;

export interface DashboardUser {
  id: number;
  name: string;
}

export type InitDataResult =
  | { ok: true; user: DashboardUser; authDate: number; queryId: string | null }
  | { ok: false; reason: 'malformed' | 'missing_hash' | 'bad_signature' | 'stale' | 'future' | 'no_user' };

function hmac(key: string | Buffer, message: string): Buffer {
  return createHmac('sha256', key).update(message).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function userName(u: { first_name?: unknown; last_name?: unknown; username?: unknown; id: number }): string {
  const parts = [u.first_name, u.last_name].filter((x): x is string => typeof x === 'string' && x.length > 0);
  if (parts.length) return parts.join(' ').slice(0, 100);
  if (typeof u.username === 'string' && u.username) return `@${u.username}`.slice(0, 100);
  return String(u.id);
}

/** The data-check-string of `initData` (every field but `hash`, sorted by key) and its `hash`. */
export function dataCheckString(initData: string): { check: string; hash: string | null; fields: Map<string, string> } {
  const params = new URLSearchParams(initData);
  const fields = new Map<string, string>();
  let hash: string | null = null;
  for (const [k, v] of params) {
    if (k === 'hash') hash = v;
    else fields.set(k, v);
  }
  const check = [...fields.keys()]
    .sort()
    .map((k) => `${k}=${fields.get(k)}`)
    .join('\n');
  return { check, hash, fields };
}

/** Verifies Mini App `initData` with the bot token (see the file comment). Pure: `now` is the caller's. */
export function verifyInitData(initData: string, botToken: string, now: number, maxAgeMs: number): InitDataResult {
  if (typeof initData !== 'string' || initData.length === 0 || initData.length > MAX_INIT_DATA_BYTES) return { ok: false, reason: 'malformed' };
  const { check, hash, fields } = dataCheckString(initData);
  if (!hash) return { ok: false, reason: 'missing_hash' };
  if (!/^[0-9a-f]{64}$/i.test(hash)) return { ok: false, reason: 'bad_signature' };
  const secretKey = hmac('WebAppData', botToken);
  if (!sameBytes(hmac(secretKey, check), Buffer.from(hash, 'hex'))) return { ok: false, reason: 'bad_signature' };
  const authDate = Number(fields.get('auth_date'));
  if (!Number.isSafeInteger(authDate) || authDate <= 0) return { ok: false, reason: 'malformed' };
  const authMs = authDate * 1000;
  if (authMs > now + FUTURE_SKEW_MS) return { ok: false, reason: 'future' };
  if (now - authMs > maxAgeMs) return { ok: false, reason: 'stale' };
  let user: unknown;
  try {
    user = JSON.parse(fields.get('user') ?? 'null');
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!user || typeof user !== 'object' || !Number.isSafeInteger((user as { id?: unknown }).id) || (user as { id: number }).id <= 0) {
    return { ok: false, reason: 'no_user' };
  }
  const u = user as { id: number };
  return { ok: true, user: { id: u.id, name: userName(u) }, authDate: authMs, queryId: fields.get('query_id') ?? null };
}

// ---------- signed tokens (login links, sessions) ----------

type TokenKind = 'login' | 'session';

/** The signing keys of one process: derived from the bot token, or random (embedded default without a bot). */
export class DashboardKeys {
  private readonly base: Buffer;

  private constructor(base: Buffer) {
    this.base = base;
  }

  /**
   * Keys for one deployment: the bot token and the audience (the dashboard's URL), so a token minted by
   * another process holding the same bot token for another URL (a developer's `npm start`) is refused.
   */
  static fromBotToken(botToken: string, audience = ''): DashboardKeys {
    if (!botToken) throw new Error('DashboardKeys.fromBotToken: empty bot token');
    return new DashboardKeys(hmac(hmac('CryptoSignalTracker dashboard', botToken), `audience:${audience}`));
  }

  /** A random key for this process only (links and sessions die with it). */
  static ephemeral(): DashboardKeys {
    return new DashboardKeys(randomBytes(32));
  }

  private key(kind: TokenKind): Buffer {
    return hmac(this.base, kind);
  }

  sign(kind: TokenKind, payload: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${hmac(this.key(kind), body).toString('base64url')}`;
  }

  /** The payload of a token this process signed for `kind`, or null (malformed, tampered, other kind). */
  open(kind: TokenKind, token: string): Record<string, unknown> | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_BYTES) return null;
    const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
    if (!m) return null;
    const [, body, sig] = m as unknown as [string, string, string];
    // Compared as canonical text: base64url decoding ignores the last character's padding bits, so
    // comparing decoded bytes would accept other spellings of the same signature.
    if (!sameBytes(Buffer.from(hmac(this.key(kind), body).toString('base64url')), Buffer.from(sig))) return null;
    try {
      const v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}

export interface LoginLink {
  url: string;
  token: string;
  expiresAt: number;
}

/** A single-use login link for `user` (the bot's `/dashboard`; the local runtime's printed link). */
export function createLoginLink(
  keys: DashboardKeys,
  baseUrl: string,
  user: DashboardUser,
  now: number,
  ttlMs: number,
  opts: { local?: boolean; nonce?: string } = {},
): LoginLink {
  const expiresAt = now + ttlMs;
  const nonce = opts.nonce ?? randomBytes(16).toString('base64url');
  const token = keys.sign('login', { uid: user.id, name: user.name, exp: expiresAt, nonce, ...(opts.local ? { local: true } : {}) });
  return { url: `${baseUrl.replace(/\/+$/, '')}#login=${token}`, token, expiresAt };
}

export type LoginResult = { ok: true; user: DashboardUser; local: boolean } | { ok: false; reason: 'bad_signature' | 'expired' | 'used' };

/** Spends a login token: valid signature, not expired, and its nonce never seen (created atomically). */
export async function redeemLogin(keys: DashboardKeys, state: Pick<StateStore, 'create'>, token: string, now: number): Promise<LoginResult> {
  const p = keys.open('login', token);
  if (!p || !Number.isSafeInteger(p.uid) || typeof p.exp !== 'number' || typeof p.nonce !== 'string' || typeof p.name !== 'string') return { ok: false, reason: 'bad_signature' };
  if (now >= p.exp) return { ok: false, reason: 'expired' };
  const fresh = await state.create(dashboardLoginPath(p.nonce), { nonce: p.nonce, userId: p.uid as number, usedAt: now, expiresAt: p.exp });
  if (!fresh) return { ok: false, reason: 'used' };
  return { ok: true, user: { id: p.uid as number, name: p.name }, local: p.local === true };
}

export interface Session {
  user: DashboardUser;
  expiresAt: number;
  /** Opened by the local runtime's own link (the embedded default's owner, when no owner is configured). */
  local: boolean;
}

export function openSession(keys: DashboardKeys, user: DashboardUser, now: number, ttlMs: number, local = false): { token: string; session: Session } {
  const expiresAt = now + ttlMs;
  return { token: keys.sign('session', { uid: user.id, name: user.name, exp: expiresAt, ...(local ? { local: true } : {}) }), session: { user, expiresAt, local } };
}

/** The session of a bearer token, or null (missing, tampered, expired). */
export function readSession(keys: DashboardKeys, token: string | undefined, now: number): Session | null {
  if (!token) return null;
  const p = keys.open('session', token);
  if (!p || !Number.isSafeInteger(p.uid) || typeof p.exp !== 'number' || typeof p.name !== 'string') return null;
  if (now >= p.exp) return null;
  return { user: { id: p.uid as number, name: p.name }, expiresAt: p.exp, local: p.local === true };
}

/** The bearer token of an `Authorization` header value. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1] : undefined;
}
