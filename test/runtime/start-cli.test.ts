/**
 * How `npm start` ends (scripts/start.ts as a child process, offline replay of the bundled REAL day):
 * - a `--minutes` run with Telegram configured (the local Bot API server) whose outbox still has
 *   rate-limited messages when the market time is up ends by itself and prints its summary (the
 *   runtime used to freeze the replay clock and then wait for the outbox, which sleeps on that clock);
 * - Ctrl-C prints the summary, also when the SIGINT comes twice (tsx relays a Ctrl-C to the script
 *   a second time when its event loop is busy; the second one used to kill it silently);
 * - a closed stdout (EPIPE, `npm start | head`) is not a crash;
 * - with no token and no owner configured, alerts are printed to the console with their chart's path
 *   (the local chat), as the README promises.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramTestServer } from '../../infra/replay/telegram-server.js';
import { FUNCTIONS_URL, REPLAY_DIR, SUMMARY, startChild } from './child.js';

const TOKEN = '123456:durable-test';
const SECRET = 'webhook-secret-for-tests';
const OWNER = 4242;
const REPLIES = 16;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cst-start-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const replayArgs = (name: string, extra: string[]) => ['--market', 'replay', '--data', REPLAY_DIR, '--port', '0', '--data-dir', join(dir, name), ...extra];

describe('npm start ends cleanly', () => {
  it('a --minutes run with Telegram configured ends by itself and prints its summary, every queued message sent once', async () => {
    const tg = new TelegramTestServer({ token: TOKEN, limits: null });
    const apiRoot = await tg.start();
    try {
      // 15 s of market time at 2x: 7.5 s of wall time. The owner's 16 commands are answered at most one
      // per second of market time (Telegram's per-chat limit), so the outbox is still waiting when the
      // market time is up.
      const child = startChild(replayArgs('tg', ['--minutes', '0.25', '--speed', '2']), {
        CST_TELEGRAM_BOT_TOKEN: TOKEN,
        CST_TELEGRAM_API_ROOT: apiRoot,
        CST_TELEGRAM_OWNER_ID: String(OWNER),
        CST_TELEGRAM_WEBHOOK_SECRET: SECRET,
        CST_TELEGRAM_OUTPUT_DIR: join(dir, 'tg-files'),
      });
      const url = (await child.waitFor(FUNCTIONS_URL, 60_000))[1]!;
      for (let i = 0; i < REPLIES; i++) {
        const res = await fetch(`${url}/telegram-webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
          body: JSON.stringify({
            update_id: 1000 + i,
            message: { message_id: 10 + i, date: 1751068800, chat: { id: OWNER, type: 'private' }, from: { id: OWNER, is_bot: false, first_name: 'Owner' }, text: '/help' },
          }),
        });
        expect(res.status).toBe(200);
      }
      const exit = await child.exited(60_000);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(child.stdout()).toMatch(SUMMARY);
      const sent = tg.ok('sendMessage').filter((r) => r.chatId === OWNER);
      expect(sent.length).toBe(REPLIES);
    } finally {
      await tg.stop();
    }
  }, 150_000);

  it('Ctrl-C prints the summary, even when the SIGINT arrives twice', async () => {
    const child = startChild(replayArgs('sigint', ['--speed', '60']));
    await child.waitFor(FUNCTIONS_URL, 60_000);
    await child.waitFor(/market time /, 30_000); // running under load for a while
    child.proc.kill('SIGINT');
    setTimeout(() => child.proc.kill('SIGINT'), 5); // tsx's relay of the same Ctrl-C
    const exit = await child.exited(60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout()).toMatch(/SIGINT: stopping/);
    expect(child.stdout()).toMatch(SUMMARY);
    expect(child.stdout()).toMatch(/warehouse: \d+ ohlcv rows/);
  }, 150_000);

  it('a closed stdout pipe is not a crash: the run stops and the summary goes to stderr', async () => {
    const child = startChild(replayArgs('epipe', ['--minutes', '1', '--speed', '30']));
    await child.waitFor(FUNCTIONS_URL, 60_000);
    child.proc.stdout!.destroy(); // like `| head` exiting
    const exit = await child.exited(60_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stderr()).not.toMatch(/EPIPE|^\s+at /m);
    expect(child.stderr()).toMatch(SUMMARY);
  }, 150_000);
  it('no token and no owner: the local chat is on (alerts and reports printed to the console)', async () => {
    // What the local chat prints is tested in test/telegram/console-default.test.ts; here: npm start turns it on.
    const env: Record<string, string> = { CST_TELEGRAM_BOT_TOKEN: '', CST_TELEGRAM_OWNER_ID: '', CST_TELEGRAM_OUTPUT_DIR: join(dir, 'local-chat-files') };
    const child = startChild(replayArgs('local-chat', ['--minutes', '2', '--speed', '600']), env);
    const exit = await child.exited(120_000);
    expect(exit, child.stdout() + child.stderr()).toEqual({ code: 0, signal: null });
    expect(child.stdout()).toMatch(SUMMARY);
    const log = readFileSync(join(dir, 'local-chat', 'runtime.log'), 'utf8');
    expect(log).toMatch(/no Telegram owner configured.*alerts and reports are printed to the console/);
  });
});
