/**
 * shared/dashboard/auth.ts: who may open the dashboard.
 *
 * 1. Mini App `initData`, checked as Telegram documents it
 *    (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app), first against
 *    the published example of the Telegram Mini Apps docs (bot token, initData and hash as printed at
 *    https://docs.telegram-mini-apps.com/packages/tma-js-init-data-node/validating), then against every
 *    way of tampering with it: each field, the hash, an added or removed field, a stale or future
 *    `auth_date`, a missing user.
 * 2. Login links: signed, single use, expiring, never interchangeable with a session token.
 * 3. Sessions: signed bearer tokens that expire.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { bearerToken, createLoginLink, dataCheckString, DashboardKeys, openSession, readSession, redeemLogin, verifyInitData } from '../../shared/dashboard/auth.js';

// ---------- the published example ----------

/** docs.telegram-mini-apps.com, "Validating" (@tma.js/init-data-node): token, init data, hash. */
const DOC_TOKEN = '5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8';
const DOC_INIT_DATA =
  'query_id=AAHdF6IQAAAAAN0XohDhrOrc' +
  '&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%7D' +
  '&auth_date=1662771648' +
  '&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2';
const DOC_AUTH_MS = 1_662_771_648_000;
const HOUR = 3_600_000;

/**
 * Telegram's algorithm written out from the documentation (to sign variants of the example): the
 * data-check-string is every field but hash, sorted, `k=v` joined by "\n"; the key is
 * HMAC-SHA256("WebAppData", token). Checked below to reproduce the published hash.
 */
function signInitData(fields: Array<[string, string]>, token: string): string {
  const check = [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('\n');
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  const hash = createHmac('sha256', secret).update(check).digest('hex');
  const p = new URLSearchParams(fields);
  p.set('hash', hash);
  return p.toString();
}

const docFields = (): Array<[string, string]> => [...new URLSearchParams(DOC_INIT_DATA)].filter(([k]) => k !== 'hash');

describe('verifyInitData: the documented example', () => {
  it('accepts the published init data with its bot token and names the user', () => {
    expect(verifyInitData(DOC_INIT_DATA, DOC_TOKEN, DOC_AUTH_MS + 1_000, HOUR)).toEqual({
      ok: true,
      user: { id: 279058397, name: 'Vladislav Kibenko' },
      authDate: DOC_AUTH_MS,
      queryId: 'AAHdF6IQAAAAAN0XohDhrOrc',
    });
  });

  it('the data-check-string is the sorted, decoded fields without hash', () => {
    const { check, hash } = dataCheckString(DOC_INIT_DATA);
    expect(hash).toBe('c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2');
    expect(check.split('\n').map((l) => l.slice(0, l.indexOf('=')))).toEqual(['auth_date', 'query_id', 'user']);
    expect(check).toContain('user={"id":279058397,"first_name":"Vladislav"');
  });

  it('the test signer reproduces the published hash (so its variants are signed as Telegram would)', () => {
    expect(new URLSearchParams(signInitData(docFields(), DOC_TOKEN)).get('hash')).toBe('c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2');
  });

  it('refuses it with another bot token', () => {
    expect(verifyInitData(DOC_INIT_DATA, '5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx9', DOC_AUTH_MS, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('verifyInitData: tampered init data', () => {
  const now = DOC_AUTH_MS + 1_000;
  const withField = (k: string, v: string | null) => {
    const p = new URLSearchParams(DOC_INIT_DATA);
    if (v === null) p.delete(k);
    else p.set(k, v);
    return p.toString();
  };

  it.each([
    ['query_id', 'AAHdF6IQAAAAAN0XohDhrOrd'],
    ['user', '{"id":1,"first_name":"Vladislav","last_name":"Kibenko","username":"vdkfrost","language_code":"ru","is_premium":true}'],
    ['auth_date', '1662771649'],
  ])('a changed %s', (k, v) => {
    expect(verifyInitData(withField(k, v), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('a removed field, an added field', () => {
    expect(verifyInitData(withField('query_id', null), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyInitData(`${DOC_INIT_DATA}&start_param=admin`, DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('the hash: changed, missing, not hex', () => {
    expect(verifyInitData(withField('hash', 'c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b3'), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyInitData(withField('hash', null), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'missing_hash' });
    expect(verifyInitData(withField('hash', 'zz'.repeat(32)), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('auth_date: stale after maxAgeMs, in the future beyond a minute of skew', () => {
    expect(verifyInitData(DOC_INIT_DATA, DOC_TOKEN, DOC_AUTH_MS + HOUR, HOUR).ok).toBe(true);
    expect(verifyInitData(DOC_INIT_DATA, DOC_TOKEN, DOC_AUTH_MS + HOUR + 1, HOUR)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyInitData(DOC_INIT_DATA, DOC_TOKEN, DOC_AUTH_MS - 30_000, HOUR).ok).toBe(true);
    expect(verifyInitData(DOC_INIT_DATA, DOC_TOKEN, DOC_AUTH_MS - 61_000, HOUR)).toEqual({ ok: false, reason: 'future' });
  });

  it('a correctly signed init data without a user, or with no usable user id, opens nothing', () => {
    const noUser = docFields().filter(([k]) => k !== 'user');
    expect(verifyInitData(signInitData(noUser, DOC_TOKEN), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'no_user' });
    for (const user of ['{"first_name":"x"}', '{"id":"279058397"}', '{"id":0}', 'null']) {
      const f = docFields().map(([k, v]): [string, string] => [k, k === 'user' ? user : v]);
      expect(verifyInitData(signInitData(f, DOC_TOKEN), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'no_user' });
    }
    const notJson = docFields().map(([k, v]): [string, string] => [k, k === 'user' ? '{id:1' : v]);
    expect(verifyInitData(signInitData(notJson, DOC_TOKEN), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('signed but without a numeric auth_date, empty, or oversized', () => {
    const noDate = docFields().filter(([k]) => k !== 'auth_date');
    expect(verifyInitData(signInitData(noDate, DOC_TOKEN), DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyInitData('', DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyInitData(`${DOC_INIT_DATA}&x=${'a'.repeat(9_000)}`, DOC_TOKEN, now, HOUR)).toEqual({ ok: false, reason: 'malformed' });
  });
});

// ---------- login links and sessions ----------

const T = Date.UTC(2025, 5, 28, 12);
const USER = { id: 1001, name: 'Owner' };
const TTL = 10 * 60_000;

function store(): SqliteStateStore {
  return new SqliteStateStore({ file: ':memory:', clock: new ManualClock(T) });
}

describe('login links', () => {
  const keys = DashboardKeys.fromBotToken(DOC_TOKEN);

  it('a link carries its token in the fragment and works once', async () => {
    const s = store();
    const link = createLoginLink(keys, 'https://dash.example.org/dashboard/', USER, T, TTL);
    expect(link.url).toBe(`https://dash.example.org/dashboard#login=${link.token}`);
    expect(link.expiresAt).toBe(T + TTL);
    expect(await redeemLogin(keys, s, link.token, T + 1_000)).toEqual({ ok: true, user: USER, local: false });
    expect(await redeemLogin(keys, s, link.token, T + 2_000)).toEqual({ ok: false, reason: 'used' });
  });

  it('expires after its TTL (and an expired link is not spent)', async () => {
    const s = store();
    const link = createLoginLink(keys, 'https://d.example/dashboard', USER, T, TTL);
    expect(await redeemLogin(keys, s, link.token, T + TTL)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a tampered token, one from other keys, and a session token', async () => {
    const s = store();
    const link = createLoginLink(keys, 'https://d.example/dashboard', USER, T, TTL);
    const [body, sig] = link.token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...payload, uid: 42 })).toString('base64url')}.${sig}`;
    expect(await redeemLogin(keys, s, forged, T)).toEqual({ ok: false, reason: 'bad_signature' });
    const other = createLoginLink(DashboardKeys.fromBotToken('123:other'), 'https://d.example/dashboard', USER, T, TTL);
    expect(await redeemLogin(keys, s, other.token, T)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await redeemLogin(keys, s, openSession(keys, USER, T, TTL).token, T)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await redeemLogin(keys, s, 'not-a-token', T)).toEqual({ ok: false, reason: 'bad_signature' });
    // None of these spent the real link.
    expect((await redeemLogin(keys, s, link.token, T)).ok).toBe(true);
  });

  it('refuses another spelling of the same signature (base64url padding bits of the last character)', async () => {
    const link = createLoginLink(keys, 'https://d.example/dashboard', USER, T, TTL);
    const [body, sig] = link.token.split('.') as [string, string];
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const alt = sig.slice(0, -1) + ALPHABET[ALPHABET.indexOf(sig.at(-1)!) ^ 1];
    expect(Buffer.from(alt, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    const s = store();
    expect(await redeemLogin(keys, s, `${body}.${alt}`, T)).toEqual({ ok: false, reason: 'bad_signature' });
    const session = openSession(keys, USER, T, HOUR).token;
    const [sb, ss] = session.split('.') as [string, string];
    expect(readSession(keys, `${sb}.${ss.slice(0, -1) + ALPHABET[ALPHABET.indexOf(ss.at(-1)!) ^ 1]}`, T)).toBeNull();
    expect((await redeemLogin(keys, s, link.token, T)).ok).toBe(true);
  });

  it('carries the local flag of the local runtime\'s own link', async () => {
    const link = createLoginLink(keys, 'http://127.0.0.1:8080/dashboard', USER, T, TTL, { local: true });
    expect(await redeemLogin(keys, store(), link.token, T)).toEqual({ ok: true, user: USER, local: true });
  });

  it('keys from one bot token agree across instances; another token or an ephemeral key does not', async () => {
    const link = createLoginLink(keys, 'https://d.example/dashboard', USER, T, TTL);
    expect((await redeemLogin(DashboardKeys.fromBotToken(DOC_TOKEN), store(), link.token, T)).ok).toBe(true);
    expect((await redeemLogin(DashboardKeys.ephemeral(), store(), link.token, T)).ok).toBe(false);
    expect(() => DashboardKeys.fromBotToken('')).toThrow();
    // another deployment (another URL) with the same bot token cannot mint for this one
    const here = createLoginLink(DashboardKeys.fromBotToken(DOC_TOKEN, 'https://prod.example/dashboard'), 'https://prod.example/dashboard', USER, T, TTL);
    expect(await redeemLogin(DashboardKeys.fromBotToken(DOC_TOKEN, 'http://127.0.0.1:8080/dashboard'), store(), here.token, T)).toEqual({ ok: false, reason: 'bad_signature' });
    expect((await redeemLogin(DashboardKeys.fromBotToken(DOC_TOKEN, 'https://prod.example/dashboard'), store(), here.token, T)).ok).toBe(true);
  });
});

describe('sessions', () => {
  const keys = DashboardKeys.fromBotToken(DOC_TOKEN);

  it('opens, reads back, and expires', () => {
    const { token, session } = openSession(keys, USER, T, HOUR);
    expect(session).toEqual({ user: USER, expiresAt: T + HOUR, local: false });
    expect(readSession(keys, token, T + HOUR - 1)).toEqual(session);
    expect(readSession(keys, token, T + HOUR)).toBeNull();
    expect(readSession(keys, openSession(keys, USER, T, HOUR, true).token, T)?.local).toBe(true);
  });

  it('refuses a missing, tampered, foreign or login token', () => {
    const { token } = openSession(keys, USER, T, HOUR);
    expect(readSession(keys, undefined, T)).toBeNull();
    const [body, sig] = token.split('.') as [string, string];
    const longer = Buffer.from(JSON.stringify({ uid: USER.id, name: USER.name, exp: T + 100 * HOUR })).toString('base64url');
    expect(readSession(keys, `${longer}.${sig}`, T)).toBeNull();
    expect(readSession(keys, `${body}.${sig.slice(0, -2)}AA`, T)).toBeNull();
    expect(readSession(DashboardKeys.fromBotToken('123:other'), token, T)).toBeNull();
    expect(readSession(keys, createLoginLink(keys, 'https://d.example/dashboard', USER, T, TTL).token, T)).toBeNull();
  });

  it('reads the bearer token of an Authorization header', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc.def')).toBe('abc.def');
    expect(bearerToken(['Bearer x.y', 'Bearer z.w'])).toBe('x.y');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
