/**
 * Pure pieces: HTML escaping (and the local server's Telegram-HTML check), command parsing, callback
 * data, invite codes (single use, expiry, attempt limits) and the rate limiter's windows.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { htmlProblem } from '../../infra/replay/telegram-server.js';
import { escapeHtml, fmtPct, html, truncateHtml } from '../../shared/telegram/html.js';
import { parseCommand, parseCount, parsePeriod, parseSymbol, parseVerifyCode } from '../../shared/telegram/command-parser.js';
import { decodeCallback, encodeCallback, alertKeyOf, alertKeyboard } from '../../shared/telegram/keyboards.js';
import { AccessControl } from '../../shared/telegram/access.js';
import { RateLimiter } from '../../shared/telegram/ratelimit.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { alertCaption, type AlertRecord } from '../../shared/telegram/format.js';

describe('HTML', () => {
  it('escapes <, >, & and quotes; the tagged template escapes only values', () => {
    expect(escapeHtml('a<b> & "c"')).toBe('a&lt;b&gt; &amp; &quot;c&quot;');
    expect(html`<b>${'<script>&'}</b>`).toBe('<b>&lt;script&gt;&amp;</b>');
    expect(htmlProblem(html`<b>${'x < y & z'}</b>`)).toBeNull();
  });

  it('the Telegram HTML check refuses what Telegram refuses', () => {
    expect(htmlProblem('P&L')).toContain("'&' is reserved");
    expect(htmlProblem('<div>x</div>')).toContain('Unsupported start tag');
    expect(htmlProblem('<b><i>x</b></i>')).toContain('Unmatched end tag');
    expect(htmlProblem('<b>x')).toContain("Can't find end tag");
    expect(htmlProblem('<pre>a &lt; b</pre> &#128200;')).toBeNull();
  });

  it('truncates without breaking tags or entities', () => {
    const s = `<b>${'x'.repeat(20)} &amp; more</b>`;
    for (let n = 5; n < s.length; n++) expect(htmlProblem(truncateHtml(s, n))).toBeNull();
    expect(truncateHtml(s, s.length)).toBe(s);
  });

  it('an alert caption with hostile values still parses', () => {
    const a: AlertRecord = {
      alertKey: 'k', groupId: 'g', signalId: 's', symbol: 'SOL<USDT>', strategy: 'v52&co', engine: 'SCALP', direction: 'LONG', entry: 133.08, stopLoss: 132.68, takeProfit: 133.75,
      confidence: 70, ts: 1_750_593_600_000, candleTime: 1_750_593_540_000, reasons: ['<img src=x onerror=alert(1)>'], status: 'signal', fill: null, exit: null,
    };
    const c = alertCaption(a);
    expect(htmlProblem(c)).toBeNull();
    expect(c).toContain('SOL&lt;USDT&gt;');
    expect(c).toContain('TP <code>133.75</code> (+0.50%)');
    expect(fmtPct(-0.3)).toBe('-0.30%');
  });
});

describe('command parsing', () => {
  it('parses commands, bot mentions and arguments', () => {
    expect(parseCommand('/stats 24h')).toEqual({ kind: 'command', command: { name: 'stats', args: ['24h'] } });
    expect(parseCommand('/Last@CstBot 5', 'cstbot')).toEqual({ kind: 'command', command: { name: 'last', args: ['5'] } });
    expect(parseCommand('/last@OtherBot 5', 'cstbot')).toEqual({ kind: 'other_bot' });
    expect(parseCommand('/frobnicate')).toEqual({ kind: 'unknown', name: 'frobnicate' });
    expect(parseCommand('hello /stats')).toEqual({ kind: 'not_command' });
    expect(parseCommand(undefined)).toEqual({ kind: 'not_command' });
  });

  it('validates periods, counts, symbols and codes', () => {
    expect(parsePeriod('24h', '7d')).toEqual({ label: '24h', ms: 86_400_000 });
    expect(parsePeriod(undefined, '7d')?.ms).toBe(7 * 86_400_000);
    expect(parsePeriod('2w', '7d')?.ms).toBe(14 * 86_400_000);
    expect(parsePeriod('0h', '7d')).toBeNull();
    expect(parsePeriod('5y', '7d')).toBeNull();
    expect(parsePeriod('999d', '7d')).toBeNull();
    expect(parseCount(undefined, 5, 10)).toBe(5);
    expect(parseCount('11', 5, 10)).toBeNull();
    expect(parseCount('-1', 5, 10)).toBeNull();
    const known = ['BTCUSDT', 'SOLUSDT'];
    expect(parseSymbol('sol', known)).toBe('SOLUSDT');
    expect(parseSymbol('SOL/USDT', known)).toBe('SOLUSDT');
    expect(parseSymbol('DOGE', known)).toBeNull();
    expect(parseVerifyCode(['123', '456'], 6)).toBe('123456');
    expect(parseVerifyCode(['12345'], 6)).toBeNull();
    expect(parseVerifyCode(['12345a'], 6)).toBeNull();
  });

  it('round-trips callback data within 64 bytes', () => {
    const ak = alertKeyOf('tg:levels_exhaustion:SEIUSDT:1750593600000:snap:1750593615000');
    for (const c of [
      { kind: 'chart', ak }, { kind: 'move_tp', ak, step: 2 }, { kind: 'mute', symbol: 'SOLUSDT' }, { kind: 'page', list: 'pos', page: 3 },
      { kind: 'refresh', list: 'cfg', page: 0 }, { kind: 'mode', mode: 'live' }, { kind: 'suggestion', id: 'sg-1', approve: false }, { kind: 'request_access' },
    ] as const) {
      const data = encodeCallback(c);
      expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
      expect(decodeCallback(data)).toEqual(c);
    }
    expect(decodeCallback('pg:nope:1')).toBeNull();
    expect(decodeCallback('md:margin')).toBeNull();
    expect(alertKeyboard(ak, 'SOLUSDT')[0]!.map((b) => b.text)).toEqual(['📈 Chart', '🎯 Move TP', '🔕 Mute SOL']);
  });
});

describe('invite codes', () => {
  const cfg = DEFAULT_TELEGRAM_CONFIG;
  async function setup() {
    const clock = new ManualClock(1_750_593_600_000);
    const state = new SqliteStateStore({ file: ':memory:' });
    let draws = [424242, 424242, 777777];
    const access = new AccessControl(state, cfg, 1, () => draws.shift() ?? 1);
    return { clock, state, access, setDraws: (d: number[]) => (draws = d) };
  }

  it('is single use, 6 digits, and unique among live codes', async () => {
    const { clock, state, access } = await setup();
    const a = await access.createInvite(1, clock.now());
    const b = await access.createInvite(1, clock.now());
    expect(a.code).toBe('424242');
    expect(b.code).toBe('777777');
    expect(await access.verify(10, 'ten', a.code, clock.now())).toMatchObject({ ok: true });
    expect(await access.verify(11, 'eleven', a.code, clock.now())).toMatchObject({ ok: false, reason: 'used', attemptsLeft: cfg.access.maxVerifyAttempts - 1 });
    expect(await access.verify(10, 'ten', b.code, clock.now())).toEqual({ ok: false, reason: 'already_allowed' });
    // Concurrent use of one code: exactly one wins.
    const c = await access.createInvite(1, clock.now());
    const results = await Promise.all([20, 21, 22].map((u) => access.verify(u, 'u', c.code, clock.now())));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    await state.close();
  });

  it('expires after the TTL', async () => {
    const { clock, state, access } = await setup();
    const a = await access.createInvite(1, clock.now());
    expect(a.expiresAt - a.createdAt).toBe(cfg.access.inviteTtlMs);
    clock.set(a.expiresAt - 1);
    const early = await access.createInvite(1, clock.now());
    clock.set(a.expiresAt);
    expect(await access.verify(10, 'ten', a.code, clock.now())).toMatchObject({ ok: false, reason: 'expired' });
    expect(await access.verify(10, 'ten', early.code, clock.now())).toMatchObject({ ok: true });
    await state.close();
  });

  it('locks a user out after the attempt limit, and counts again after the lock-out', async () => {
    const { clock, state, access } = await setup();
    const a = await access.createInvite(1, clock.now());
    for (let i = 1; i < cfg.access.maxVerifyAttempts; i++) {
      expect(await access.verify(10, 'ten', '000000', clock.now())).toMatchObject({ reason: 'invalid', attemptsLeft: cfg.access.maxVerifyAttempts - i, lockedUntil: null });
    }
    const last = await access.verify(10, 'ten', '000000', clock.now());
    expect(last).toMatchObject({ reason: 'invalid', attemptsLeft: 0, lockedUntil: clock.now() + cfg.access.lockoutMs });
    expect(await access.verify(10, 'ten', a.code, clock.now())).toMatchObject({ reason: 'locked' });
    clock.set(clock.now() + cfg.access.lockoutMs - 1);
    expect(await access.verify(10, 'ten', a.code, clock.now())).toMatchObject({ reason: 'locked' });
    clock.set(clock.now() + 1);
    const fresh = await access.createInvite(1, clock.now());
    expect(await access.verify(10, 'ten', '999999', clock.now())).toMatchObject({ reason: 'invalid', attemptsLeft: cfg.access.maxVerifyAttempts - 1 });
    expect(await access.verify(10, 'ten', fresh.code, clock.now())).toMatchObject({ ok: true });
    await state.close();
  });
});

describe('rate limiter', () => {
  const limits = DEFAULT_TELEGRAM_CONFIG.limits;
  it('spaces one chat by the interval, caps a group per minute and everything per second', () => {
    const r = new RateLimiter(limits);
    r.record(5, 0);
    expect(r.earliest(5, 0)).toBe(1_000);
    expect(r.earliest(6, 0)).toBe(0);
    const g = new RateLimiter(limits);
    for (let i = 0; i < 20; i++) g.record(-7, i * 1_000);
    expect(g.earliest(-7, 20_000)).toBe(60_000);
    // An album of 3 needs 3 free slots in the group window.
    expect(g.earliest(-7, 60_000, 3)).toBe(62_000);
    const all = new RateLimiter(limits);
    for (let c = 1; c <= 30; c++) all.record(c, 500);
    expect(all.earliest(99, 600)).toBe(1_500);
  });

  it('blocks a chat after a 429 and survives a snapshot / restore', () => {
    const r = new RateLimiter(limits);
    r.record(-7, 0);
    r.block(5, 9_000);
    expect(r.earliest(5, 100)).toBe(9_000);
    const back = RateLimiter.restore(limits, JSON.parse(JSON.stringify(r.snapshot(100))));
    expect(back.earliest(5, 100)).toBe(9_000);
    expect(back.earliest(-7, 100)).toBe(1_000);
  });
});
