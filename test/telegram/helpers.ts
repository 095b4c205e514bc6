/**
 * Test harness for the Telegram side: the local Bot API server (infra/replay/telegram-server.ts) on an
 * auto-advancing clock shared with the outbox's rate limiter, a test root (test/root.ts: in-memory SQLite
 * state, the in-process bus) whose Telegram side talks to that server, the notifier subscribed with the
 * root's deps, and the real webhook function served by functions-framework behind its front, as
 * `npm start` serves it or as its deployed Cloud Run service does (`serve`).
 * Candles are real Bybit data (test/fixtures/telegram, see its README).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer, request, type Server } from 'node:http';
import type { Clock } from '../../shared/ports/clock.js';
import type { Candle, Interval } from '../../shared/model/market.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { InMemoryBus } from '../../infra/bus/memory.js';
import { bindPubsub } from '../../infra/functions.js';
import type { Root } from '../../infra/runtime/root.js';
import { webhookListener } from '../../infra/telegram/webhook-http.js';
import { SUBSCRIBERS } from '../../infra/bus/topology.js';
import { createLogger } from '../../shared/log.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import type { StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_TELEGRAM_CONFIG, type TelegramConfig } from '../../shared/config/telegram.js';
import { TOPICS } from '../../shared/topics.js';
import { TelegramTestServer, type ServerLimits } from '../../infra/replay/telegram-server.js';
import { BotApiTelegram } from '../../infra/telegram/bot-api.js';
import type { TelegramRuntime } from '../../infra/telegram/runtime.js';
import { sharpChartRenderer } from '../../infra/telegram/charts.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import { FUNCTION_NAME as NOTIFIER, handle as notifierHandle } from '../../shared/pipeline/notifier.js';
import { startWebhookService } from '../../functions/telegram-webhook/server.js';
import { testRoot } from '../root.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'telegram');
export const TOKEN = '123456:TEST-token-for-the-local-server';
export const SECRET = 'webhook-secret-0123456789';
export const OWNER = 1001;
/** 2025-06-22 12:00 UTC: inside the fixture window. */
export const T0 = 1_750_593_600_000;
export const MIN = 60_000;

/**
 * A clock that moves only when someone sleeps: `sleep(ms)` lets pending I/O and other handlers run
 * (a real 1 ms timer), then jumps to the wake time. So a 5-minute rate-limited burst runs in a second,
 * and the server enforcing the limits sees exactly the times the client scheduled on.
 */
export class AutoClock implements Clock {
  private sleepers: Array<{ at: number; resolve: () => void }> = [];
  private scheduled = false;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), resolve });
      this.sleepers.sort((a, b) => a.at - b.at);
      this.schedule();
    });
  }
  advance(ms: number): void {
    this.t += ms;
  }
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      const next = this.sleepers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.resolve();
      if (this.sleepers.length) this.schedule();
    }, 1);
  }
}

export function loadCandles(file: string, symbol: string, interval: Interval): Candle[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [t, o, h, lo, c, v] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { venue: 'bybit', symbol, interval, openTime: t, open: o, high: h, low: lo, close: c, volume: v };
  });
}

export async function seedCandles(state: SqliteStateStore): Promise<void> {
  await writeHotCandles(state, [
    ...loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m'),
    ...loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m'),
    ...loadCandles('ETHUSDT_1m_2025-06-22T1000_1400.csv', 'ETHUSDT', '1m'),
    ...loadCandles('SOLUSDT_15m_to_2025-06-22T1345.csv', 'SOLUSDT', '15m'),
    ...loadCandles('SOLUSDT_60m_to_2025-06-22T1300.csv', 'SOLUSDT', '1h'),
  ]);
}

/** The topics the notifier is subscribed to (infra/bus/topology.ts). */
export function notifierTopics(): string[] {
  return Object.entries(SUBSCRIBERS).flatMap(([topic, entries]) => (entries.some((e) => e.function === 'notifier') ? [topic] : []));
}

export const quietLog = createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });

export interface Harness {
  clock: AutoClock;
  state: SqliteStateStore;
  bus: InMemoryBus;
  server: TelegramTestServer;
  rt: TelegramRuntime;
  root: Root;
  webhookUrl: string;
  /** Trade commands the bot published. */
  commands: unknown[];
  deliver(update: unknown, secret?: string): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** How the webhook is served: by the local functions server of `npm start`, or by the deployed Cloud Run service's server. */
export type WebhookServing = 'npm-start' | 'cloud-run-service';
export const WEBHOOK_SERVINGS: WebhookServing[] = ['npm-start', 'cloud-run-service'];

export interface HarnessOptions {
  /** Default 'npm-start'. */
  serve?: WebhookServing;
  limits?: ServerLimits | null;
  tg?: Partial<TelegramConfig>;
  candles?: boolean;
  /** Strategy configs in force (default DEFAULT_STRATEGY_CONFIGS). */
  strategies?: StrategyConfigs;
  /** The root's environment (default none), e.g. CST_TELEGRAM_BOT_USERNAME. */
  env?: NodeJS.ProcessEnv;
}

let nextUpdateId = 1;
export function newUpdateId(): number {
  return nextUpdateId++;
}

export function textUpdate(userId: number, text: string, chat?: { id: number; type: 'group' | 'supergroup'; title?: string; is_forum?: boolean }): Record<string, unknown> {
  const c = chat ?? { id: userId, type: 'private' };
  return { update_id: newUpdateId(), message: { message_id: nextUpdateId * 7, from: { id: userId, is_bot: false, first_name: `User<${userId}>` }, chat: c, date: 0, text } };
}

export function callbackUpdate(userId: number, data: string, chatId: number, messageId: number): Record<string, unknown> {
  const chat = chatId < 0 ? { id: chatId, type: 'supergroup' } : { id: chatId, type: 'private' };
  return {
    update_id: newUpdateId(),
    callback_query: { id: `cq${nextUpdateId}`, from: { id: userId, is_bot: false, first_name: `User<${userId}>` }, data, message: { message_id: messageId, chat, date: 0 } },
  };
}

export async function makeHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const clock = new AutoClock(T0 + 2 * 60 * MIN);
  const server = new TelegramTestServer({ token: TOKEN, clock, limits: opts.limits === undefined ? undefined : opts.limits });
  await server.start();
  const secrets: SecretSource = { get: async (n) => (n === 'telegram-bot-token' ? TOKEN : n === 'telegram-webhook-secret' ? SECRET : undefined) };
  const tg: TelegramConfig = { ...DEFAULT_TELEGRAM_CONFIG, ...opts.tg };
  const { root, state, bus } = await testRoot({
    clock,
    log: quietLog,
    config: () => staticConfig(DEFAULT_SYSTEM_CONFIG, opts.strategies),
    bus: { delivery: { maxAttempts: 5, minBackoffMs: 1, maxBackoffMs: 1 } },
    endpoints: { krakenRest: 'http://127.0.0.1:1', bybitRest: 'http://127.0.0.1:1', bybitWs: 'ws://127.0.0.1:1' },
    secrets,
    ...(opts.env ? { env: opts.env } : {}),
    telegram: { api: new BotApiTelegram(TOKEN, { apiRoot: server.apiRoot }), tg, ownerId: OWNER, charts: sharpChartRenderer },
  });
  if (opts.candles !== false) await seedCandles(state);
  const rt = await root.telegram();
  const notifier = bindPubsub(NOTIFIER, notifierHandle, () => root.deps(NOTIFIER));
  for (const topic of notifierTopics()) bus.subscribe({ name: `notifier--${topic}`, topic, handler: notifier });
  const commands: unknown[] = [];
  bus.subscribe({ name: 'probe--trade-commands', topic: TOPICS.tradeCommands, handler: (ev) => void commands.push(JSON.parse(Buffer.from(ev.data.message.data, 'base64').toString('utf8'))) });
  // Served as `npm start` serves it (the webhook's front: secret, size cap, parse; then functions-framework),
  // or by the process entry of the deployed Cloud Run service (functions/telegram-webhook/server.ts).
  let webhookUrl: string;
  let stopHttp: () => Promise<void>;
  if ((opts.serve ?? 'npm-start') === 'npm-start') {
    const http: Server = createServer(webhookListener(async () => root));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    webhookUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    stopHttp = () => new Promise<void>((r) => http.close(() => r()));
  } else {
    const svc = await startWebhookService(root, { port: 0, host: '127.0.0.1' });
    webhookUrl = `http://127.0.0.1:${svc.port}/`;
    stopHttp = () => svc.close();
  }
  return {
    clock,
    state,
    bus,
    server,
    rt,
    root,
    webhookUrl,
    commands,
    async deliver(update, secret = SECRET) {
      const r = await TelegramTestServer.deliver(webhookUrl, update, secret);
      await bus.drain();
      return r;
    },
    async close() {
      // Every message the code produced must parse as Telegram HTML.
      const unparsable = server.requests.filter((r) => r.error?.includes("can't parse entities"));
      await stopHttp();
      await server.stop();
      await root.close();
      if (unparsable.length) throw new Error(`Telegram refused the HTML of: ${unparsable.map((r) => `${r.method}: ${r.error}`).join('; ')}`);
    },
  };
}

/** Texts the server delivered to a chat (sendMessage only), in order. */
export function textsTo(server: TelegramTestServer, chatId: number): string[] {
  return server.ok('sendMessage').filter((r) => r.chatId === chatId).map((r) => r.fields.text ?? '');
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const MB = 1_048_576;

export interface Reply {
  status: number;
  text: string;
}

/**
 * POSTs a body of `total` bytes (declared, or chunked) but writes only its first `writeAtMost` bytes,
 * then waits for the answer. A server that reads the body before deciding can never answer (the test
 * then fails on its timeout); one that decides from the headers answers at once.
 */
export function postPartial(url: string, headers: Record<string, string>, total: number, opts: { chunked?: boolean; writeAtMost?: number } = {}): Promise<Reply> {
  const limit = Math.min(total, opts.writeAtMost ?? total);
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', ...headers, ...(opts.chunked ? {} : { 'content-length': String(total) }) } },
      (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => (answered ? undefined : reject(e)));
    const chunk = Buffer.alloc(64 * 1024, 0x7b); // '{{{{...': never valid JSON
    const pump = () => {
      if (answered) return;
      if (written >= total) return void req.end();
      if (written >= limit) return; // the rest is never sent
      const n = Math.min(chunk.length, limit - written);
      written += n;
      if (req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) setImmediate(pump);
      else req.once('drain', pump);
    };
    pump();
  });
}

/** POSTs `body` whole, with the secret header when given. */
export async function postRaw(url: string, body: string, secret: string | undefined): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(secret ? { 'x-telegram-bot-api-secret-token': secret } : {}) }, body });
  return { status: res.status, text: await res.text() };
}
