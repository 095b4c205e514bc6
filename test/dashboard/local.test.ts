/**
 * `npm start` serves the dashboard: the local runtime (embedded default, offline replay of the bundled
 * REAL candles, no bot token, no owner) mounts the dashboard function at `/dashboard` of its functions
 * server and mints the local owner's single-use login link (what scripts/start.ts prints).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { startLocalRuntime, type LocalRuntime } from '../../infra/runtime/local.js';
import { CHARTS_ASSET } from '../../shared/dashboard/assets.js';
import type { MeResponse, PaperView, SessionResponse } from '../../shared/dashboard/api.js';

const REPLAY_DIR = join(import.meta.dirname, '..', 'fixtures', 'replay');

describe('local runtime: the dashboard at /dashboard with a printed owner login link', () => {
  let rt: LocalRuntime;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cst-dash-local-'));
    rt = await startLocalRuntime({
      backend: 'embedded',
      market: 'replay',
      replayData: REPLAY_DIR,
      speed: 60,
      durationMs: 3 * 60_000,
      port: 0,
      dataDir: dir,
      log: createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined }),
    });
  }, 120_000);

  afterAll(async () => {
    await rt?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the link opens an owner session once (the embedded default has no owner: a local session is the owner)', async () => {
    expect(rt.dashboardUrl).toBe(`${rt.functionsUrl}/dashboard`);
    const link = await rt.dashboardLogin();
    if (!('url' in link)) throw new Error(`no link: ${link.reason}`);
    expect(link.url.startsWith(`${rt.dashboardUrl}#login=`)).toBe(true);
    const token = link.url.split('#login=')[1]!;
    const open = () => fetch(`${rt.dashboardUrl}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: token }) });
    const r = await open();
    expect(r.status).toBe(200);
    const s = (await r.json()) as SessionResponse;
    expect(s.role).toBe('owner');
    expect((await open()).status).toBe(401);

    const auth = { authorization: `Bearer ${s.token}` };
    const me = (await (await fetch(`${rt.dashboardUrl}/api/me`, { headers: auth })).json()) as MeResponse;
    expect(me.role).toBe('owner');
    const paper = await fetch(`${rt.dashboardUrl}/api/paper`, { headers: auth });
    expect(paper.status).toBe(200);
    expect(((await paper.json()) as PaperView).accountId).toBe('paper');
    expect((await fetch(`${rt.dashboardUrl}/api/paper`)).status).toBe(401);
  });

  it('serves the chart library under /dashboard/assets and keeps the other functions where they were', async () => {
    const lib = await fetch(`${rt.dashboardUrl}/${CHARTS_ASSET}`);
    expect(lib.status).toBe(200);
    expect(lib.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${rt.functionsUrl}/no-such-function`)).status).toBe(404);
    const names = ((await (await fetch(`${rt.functionsUrl}/no-such-function`)).json()) as { functions: string[] }).functions;
    expect(names).toContain('dashboard');
    expect(names).toContain('telegram-webhook');
  });
});
