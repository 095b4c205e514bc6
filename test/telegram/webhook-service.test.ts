/**
 * The deployed webhook (issue 8, item 7): the Cloud Run service's real process entry
 * (functions/telegram-webhook/server.ts `main()`, what GOOGLE_ENTRYPOINT starts) in a child process,
 * configured only through the environment as Cloud Run configures it (PORT, backend, secrets; the
 * embedded backend stands in for Firestore / Pub/Sub). The secret is checked before any body is read,
 * then the size cap, then parsing; a valid update is handled; SIGTERM ends the process cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { TG_UPDATES_COLLECTION } from '../../shared/state-paths.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { MB, OWNER, postPartial, postRaw, SECRET, textUpdate } from './helpers.js';

const ENTRY = join(import.meta.dirname, '..', '..', 'functions', 'telegram-webhook', 'server.ts');

let dir: string;
let child: ChildProcess;
let url: string;
let exited: Promise<number | null>;
let stderr = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cst-webhook-service-'));
  // Only what the service's environment holds (no inherited CST_*, emulator or Cloud Run variables).
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: '0',
    CST_BACKEND: 'embedded',
    CST_DATA_DIR: dir,
    CST_TELEGRAM_WEBHOOK_SECRET: SECRET,
    CST_TELEGRAM_OWNER_ID: String(OWNER),
    CST_TELEGRAM_OUTPUT_DIR: join(dir, 'telegram'),
  };
  child = spawn(process.execPath, ['--import', 'tsx', ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('telegram webhook listening')) continue;
        child.stdout!.off('data', onData);
        return resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`the service exited (${code}) before listening: ${stderr}`)));
  });
  url = `http://127.0.0.1:${port}/`;
}, 30_000);

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the telegram-webhook Cloud Run service process', () => {
  it('refuses before reading, caps, refuses malformed bodies plainly, handles a valid update, stops on SIGTERM', async () => {
    const secret = { 'x-telegram-bot-api-secret-token': SECRET };
    // Wrong secret, 5 MB declared, only 64 KB ever sent: answered from the headers alone.
    const wrong = await postPartial(url, { 'x-telegram-bot-api-secret-token': 'wrong' }, 5 * MB, { writeAtMost: 64 * 1024 });
    expect(wrong).toEqual({ status: 401, text: JSON.stringify({ error: 'unauthorized' }) });
    // Authenticated but over the cap: by the declared length, and by counting a chunked body.
    expect((await postPartial(url, secret, 5 * MB, { writeAtMost: 64 * 1024 })).status).toBe(413);
    const cap = DEFAULT_TELEGRAM_CONFIG.webhook.maxBodyBytes;
    const chunked = await postPartial(url, secret, 5 * MB, { chunked: true, writeAtMost: cap + 128 * 1024 });
    expect(chunked).toEqual({ status: 413, text: JSON.stringify({ error: 'body too large' }) });
    // Malformed JSON: a plain 400, nothing of the parser, a stack or a path.
    const bad = await postRaw(url, '{"update_id": 1, "message": ', SECRET);
    expect(bad).toEqual({ status: 400, text: JSON.stringify({ error: 'malformed JSON body' }) });
    // A valid update reaches the handler.
    const u = textUpdate(OWNER, '/help');
    const ok = await postRaw(url, JSON.stringify(u), SECRET);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ ok: true, handled: expect.any(String) });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The refusals are logged as warnings; nothing failed and nothing threw.
    expect(stderr).toContain('refused before reading the body');
    expect(stderr).not.toMatch(/"severity":"(ERROR|CRITICAL|ALERT|EMERGENCY)"|\n\s+at /);
    // Only the valid update left a marker: nothing refused was parsed or recorded.
    const state = new SqliteStateStore({ file: join(dir, 'state.sqlite') });
    try {
      const markers = await state.query(TG_UPDATES_COLLECTION);
      expect(markers.map((m) => (m.data as { updateId: number; status: string }))).toEqual([expect.objectContaining({ updateId: u.update_id, status: 'done' })]);
    } finally {
      await state.close();
    }
  }, 30_000);
});
