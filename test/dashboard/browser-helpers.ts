/**
 * The world of the dashboard's browser tests (test/dashboard/browser*.test.ts): a REAL replayed day,
 * the real dashboard function over it, a local Telegram Bot API server as the chat, and Debian's
 * Chromium driven by playwright-core.
 *
 * 1. `runReplay` (infra/runtime/month-replay.ts) streams a day of the repository's real Bybit 1m
 *    candles (test/fixtures/kit) through the whole pipeline into an embedded SQLite state and DuckDB
 *    warehouse on disk, and stops where a position is still open.
 * 2. A root over the same files (createRoot, the embedded adapters) with every Pub/Sub function
 *    subscribed (execution applies the dashboard's trade commands, the notifier sends the chat's
 *    messages), the Telegram side on a bot token pointed at TelegramTestServer, an owner and one
 *    allow-listed member. Its clock continues from the end of the replayed day as wall time passes.
 * 3. The dashboard function served as `npm start` serves it (`/dashboard/...`, functions-framework).
 *
 * Chromium: `CST_CHROMIUM` or the first of `chromium`, `chromium-browser` on the PATH; none is an
 * error that says how to install it (the browser tests never skip).
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { httpFunctionListener } from '../../infra/functions.js';
import { httpHandlerFor, subscribeFunctions } from '../../infra/runtime/bind.js';
import { DEFAULT_SYMBOLS, runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { DASHBOARD_FUNCTION, PUBLIC_CLOUD_FUNCTIONS } from '../../infra/runtime/registry.js';
import { createRoot, type Root } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { BotApiTelegram } from '../../infra/telegram/bot-api.js';
import { TelegramTestServer } from '../../infra/replay/telegram-server.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { createLoginLink } from '../../shared/dashboard/auth.js';
import { createLogger } from '../../shared/log.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import type { StateStore } from '../../shared/ports/state.js';
import { tradingDocPath, userPath } from '../../shared/state-paths.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { KIT_SLICE_DIR, REPO_ROOT } from '../kit.js';

export const HOUR = 3_600_000;
export const MIN = 60_000;

/** The replayed day (real Bybit linear 1m candles of the repository's kit slice) and its warm-up. */
export const DAY_FROM = Date.UTC(2025, 5, 11, 0, 0);
export const DAY_TO = DAY_FROM + 24 * HOUR - MIN;
export const WARMUP_MS = 6 * HOUR;

/** A bot token in Telegram's format (the local Bot API server accepts any). */
export const BOT_TOKEN = '7000000001:AAH-dashboard-browser-test-token-0123';
export const OWNER = { id: 70_001, first_name: 'Olga', last_name: 'Owner', username: 'olga_owner' };
export const MEMBER = { id: 70_002, first_name: 'Max', last_name: 'Member', username: 'max_member' };

/** Where the screenshots go (gitignored; CI keeps them as artefacts). */
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts', 'dashboard');

/** Phone viewport of the narrow-screen checks. */
export const PHONE = { width: 360, height: 740 };

// ---------- Chromium ----------

export const CHROMIUM_ENV = 'CST_CHROMIUM';

/** How to get a browser, said by every failure to find one. */
export const INSTALL_HINT =
  'the dashboard browser tests need Chromium: install Debian\'s package (`sudo apt-get install -y chromium`, as .ci/run does) or set CST_CHROMIUM to a Chromium / Chrome executable';

/** The Chromium executable: `$CST_CHROMIUM`, else `chromium` / `chromium-browser` on the PATH. Throws with the install hint. */
export function chromiumExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[CHROMIUM_ENV];
  if (configured) {
    if (!existsSync(configured)) throw new Error(`${CHROMIUM_ENV}=${configured} does not exist: ${INSTALL_HINT}`);
    return configured;
  }
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8', env }).trim();
      if (path) return path;
    } catch {
      // not on the PATH: try the next name
    }
  }
  throw new Error(`no Chromium found on the PATH: ${INSTALL_HINT}`);
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumExecutable(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

// ---------- Telegram Mini App initData (signed as Telegram signs it) ----------

/**
 * Mini App `initData` as Telegram builds it (core.telegram.org/bots/webapps, "Validating data received
 * via the Mini App"): the fields URL-encoded, `hash` = hex HMAC-SHA256 of the data-check-string (the
 * fields but `hash`, sorted, `key=value` joined by newlines) under HMAC-SHA256("WebAppData", token).
 * Written here independently of shared/dashboard/auth.ts (the side that verifies it).
 */
export function signInitData(user: Record<string, unknown>, authDateSec: number, token = BOT_TOKEN): string {
  const fields: Record<string, string> = { auth_date: String(authDateSec), query_id: `AAE${user.id}dashboard`, user: JSON.stringify(user) };
  const check = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('\n');
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  const hash = createHmac('sha256', secret).update(check).digest('hex');
  return new URLSearchParams({ ...fields, hash }).toString();
}

/** The URL Telegram opens a Mini App with: the page, `#tgWebAppData=<initData>` and its other fields. */
export function miniAppUrl(pageUrl: string, initData: string): string {
  return `${pageUrl}#${new URLSearchParams({ tgWebAppData: initData, tgWebAppVersion: '8.0', tgWebAppPlatform: 'android' }).toString()}`;
}

// ---------- the world ----------

/** Wall time, shifted so that the first instant is the end of the replayed day (the system keeps running). */
class ShiftedClock implements Clock {
  private readonly offset: number;
  constructor(start: number) {
    this.offset = start - Date.now();
  }
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.max(0, ms)));
  }
}

export interface DashboardWorld {
  /** The page: `http://127.0.0.1:PORT/dashboard`. */
  url: string;
  root: Root;
  state: StateStore;
  clock: Clock;
  chat: TelegramTestServer;
  replay: ReplayResult;
  /** The trading doc now. */
  trading(): Promise<TradingDoc>;
  /** Mini App initData for a user, signed with the bot's token, `ageMs` old. */
  initData(user: Record<string, unknown>, ageMs?: number): string;
  /** A single-use login link the bot would send a user. */
  loginLink(user: { id: number; first_name: string }): Promise<string>;
  /** Texts the chat of `chatId` received (sent and edited), oldest first. */
  chatTexts(chatId: number): string[];
  close(): Promise<void>;
}

/** The page's `document` inside page.evaluate callbacks (they run in the browser; this tsconfig has no DOM lib). */
declare const document: {
  body: { dataset: Record<string, string | undefined>; scrollWidth: number };
  documentElement: { scrollWidth: number; clientWidth: number };
};

const quiet = createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });

/** The replayed symbols enabled, as runReplay configures them. */
function replaySystem(): SystemConfig {
  return { ...DEFAULT_SYSTEM_CONFIG, symbols: DEFAULT_SYSTEM_CONFIG.symbols.map((s) => ({ ...s, enabled: DEFAULT_SYMBOLS.includes(s.symbol) })) };
}

export async function startWorld(): Promise<DashboardWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'cst-dashboard-'));
  const stateFile = join(dir, 'state.sqlite');
  const warehouseFile = join(dir, 'warehouse.duckdb');
  const system = replaySystem();
  const replay = await runReplay({ dataDir: KIT_SLICE_DIR, from: DAY_FROM, to: DAY_TO, warmupMs: WARMUP_MS, stateFile, warehouseFile, system, logLevel: 'CRITICAL' });
  if (replay.equity.openPositions < 1) throw new Error(`the replayed day ends with no open position (${replay.equity.openPositions}): the browser tests need one`);

  const clock = new ShiftedClock(replay.to + 2 * MIN);
  const chat = new TelegramTestServer({ token: BOT_TOKEN, clock, limits: null });
  await chat.start();
  const state = new SqliteStateStore({ file: stateFile, clock });
  const warehouse = new DuckDbWarehouse({ file: warehouseFile });
  await warehouse.ensureSchema();
  const bus = new InMemoryBus({ clock, fast: true, log: quiet });
  const secrets: SecretSource = { get: async (n) => (n === 'telegram-bot-token' ? BOT_TOKEN : undefined) };
  let url = '';
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${DASHBOARD_FUNCTION}`;
  const root = createRoot(
    { state, bus, warehouse, clock, log: quiet, config: staticConfig(system, DEFAULT_STRATEGY_CONFIGS), endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' } },
    { env: {}, secrets, telegram: { api: new BotApiTelegram(BOT_TOKEN, { apiRoot: chat.apiRoot }), tg: DEFAULT_TELEGRAM_CONFIG, ownerId: OWNER.id, dashboardUrl: url } },
  );
  const rt = await root.telegram();
  // One allow-listed member, as `/verify` leaves them.
  await state.set(userPath(MEMBER.id), { userId: MEMBER.id, name: `${MEMBER.first_name} ${MEMBER.last_name}`, role: 'member', addedAt: clock.now(), invitedBy: OWNER.id, alerts: true });
  subscribeFunctions(bus, root);
  const fn = PUBLIC_CLOUD_FUNCTIONS.find((f) => f.name === DASHBOARD_FUNCTION);
  if (!fn) throw new Error('the dashboard function is not registered');
  server.on('request', httpFunctionListener(DASHBOARD_FUNCTION, httpHandlerFor(root, fn)));

  return {
    url,
    root,
    state,
    clock,
    chat,
    replay,
    async trading() {
      const doc = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
      if (!doc) throw new Error('no trading doc');
      return doc;
    },
    // Telegram signs with the real time (auth_date), and the dashboard checks it on the real clock.
    initData(user, ageMs = 0) {
      return signInitData(user, Math.floor((Date.now() - ageMs) / 1000));
    },
    async loginLink(user) {
      const keys = rt.deps.dashboard?.keys;
      if (!keys) throw new Error('no dashboard keys');
      return createLoginLink(keys, url, { id: user.id, name: user.first_name }, Date.now(), rt.deps.tg.dashboard.loginLinkTtlMs).url;
    },
    chatTexts(chatId) {
      return chat.chatMessages(chatId).map((m) => m.text ?? m.caption ?? '');
    },
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await bus.drain();
      await root.close();
      await chat.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------- page helpers ----------

export async function newPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  // Every console error, CSP violation, failed request or uncaught exception of the page is collected:
  // a test ends by asserting there was none.
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // Chromium reports a 304 answer to the page's own If-None-Match (no body) as an aborted request.
    void r.response().then((res) => {
      if (res?.status() !== 304) problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return { context, page, problems };
}

/** Waits for the page to be signed in and drawn (body[data-state=ready] on `pageName`). */
export async function waitReady(page: Page, pageName: string): Promise<void> {
  // A function, not a string: the page's CSP forbids eval (and this project's tsconfig has no DOM lib).
  await page.waitForFunction((p) => document.body.dataset.state === 'ready' && document.body.dataset.page === p, pageName, { timeout: 20_000 });
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, `${name}.png`);
}

/**
 * How many pixels of a chart's canvases have each of `colours` (#rrggbb, within a small tolerance for
 * anti-aliasing): candles drawn in the theme's up / down colours, a TP line in its green... A chart
 * with only its grid and axes has none of them. Reads the canvases lightweight-charts painted
 * (same origin: readable).
 */
export async function chartPixels(page: Page, selector: string, colours: readonly string[]): Promise<{ canvases: number; counts: number[] }> {
  const rgb = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number]);
  return page.$eval(
    selector,
    (box, targets) => {
      const counts = targets.map(() => 0);
      const canvases = [...box.querySelectorAll('canvas')];
      for (const c of canvases) {
        const ctx = c.getContext('2d');
        if (!ctx || c.width === 0 || c.height === 0) continue;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3]! < 200) continue;
          targets.forEach(([r, g, b], k) => {
            if (Math.abs(d[i]! - r) + Math.abs(d[i + 1]! - g) + Math.abs(d[i + 2]! - b) <= 12) counts[k]!++;
          });
        }
      }
      return { canvases: canvases.length, counts };
    },
    rgb,
  );
}

/** How far the page scrolls sideways (0 = no horizontal scroll). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - document.documentElement.clientWidth);
}
