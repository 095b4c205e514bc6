/**
 * Builds the Telegram side for a function from its AppContext: secrets (Secret Manager in the cloud,
 * CST_* env locally), `config/telegram`, the owner (CST_TELEGRAM_OWNER_ID), the API adapter (the real
 * Bot API when a token is configured, else console + PNG folder), charts (sharp) and the trade log.
 * Built once per process; tests install their own with `setTelegramRuntime`.
 */
import { join, resolve } from 'node:path';
import type { AppContext } from '../context.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import type { TelegramApi } from '../../shared/ports/telegram.js';
import type { ChartRenderer } from '../../shared/ports/charts.js';
import type { TradeHistory } from '../../shared/ports/trade-history.js';
import { loadTelegramConfig, ownerIdFrom, type TelegramConfig } from '../../shared/config/telegram.js';
import { AccessControl } from '../../shared/telegram/access.js';
import type { TelegramDeps } from '../../shared/telegram/deps.js';
import { OutboxSender } from '../../shared/telegram/outbox.js';
import { StateTradeLog } from '../../shared/telegram/trade-log.js';
import { envSecrets, secretManagerSecrets } from '../secrets.js';
import { BotApiTelegram } from './bot-api.js';
import { CONSOLE_CHAT_ID, ConsoleTelegram } from './console.js';
import { sharpChartRenderer } from './charts.js';

/** Env: Bot API origin override (the local server in tests / replays). */
export const API_ROOT_ENV = 'CST_TELEGRAM_API_ROOT';
/** Env: folder for PNGs in no-token mode (default `<CST_DATA_DIR or .data>/telegram`). */
export const OUTPUT_DIR_ENV = 'CST_TELEGRAM_OUTPUT_DIR';
/** Env: bot username (without @), to accept `/cmd@name` in groups. */
export const BOT_USERNAME_ENV = 'CST_TELEGRAM_BOT_USERNAME';

export interface TelegramRuntime {
  deps: TelegramDeps;
  api: TelegramApi;
  sender: OutboxSender;
  webhookSecret: string | undefined;
  botUsername: string | undefined;
  /** true when no token is configured (console + folder). */
  offline: boolean;
}

export interface TelegramRuntimeOptions {
  secrets?: SecretSource;
  api?: TelegramApi;
  charts?: ChartRenderer;
  trades?: TradeHistory;
  tg?: TelegramConfig;
  ownerId?: number;
  env?: NodeJS.ProcessEnv;
}

let installed: TelegramRuntime | undefined;

export function setTelegramRuntime(rt: TelegramRuntime | undefined): void {
  installed = rt;
}

function defaultSecrets(env: NodeJS.ProcessEnv): SecretSource {
  const onGcp = Boolean(env.K_SERVICE || env.FUNCTION_TARGET) && !env.FIRESTORE_EMULATOR_HOST;
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  return onGcp && project ? secretManagerSecrets(project) : envSecrets(env);
}

export async function buildTelegramRuntime(ctx: AppContext, opts: TelegramRuntimeOptions = {}): Promise<TelegramRuntime> {
  const env = opts.env ?? process.env;
  const secrets = opts.secrets ?? defaultSecrets(env);
  const tg = opts.tg ?? (await loadTelegramConfig(ctx.state, ctx.log));
  const ownerId = opts.ownerId ?? ownerIdFrom(tg, env);
  const [token, webhookSecret] = await Promise.all([secrets.get('telegram-bot-token'), secrets.get('telegram-webhook-secret')]);
  const offline = !opts.api && !token;
  const api: TelegramApi =
    opts.api ??
    (token
      ? new BotApiTelegram(token, env[API_ROOT_ENV] ? { apiRoot: env[API_ROOT_ENV] } : {})
      : new ConsoleTelegram({ dir: resolve(env[OUTPUT_DIR_ENV] ?? join(env.CST_DATA_DIR ?? '.data', 'telegram')) }));
  if (offline) ctx.log.notice('no Telegram bot token configured: messages go to the console, PNGs to a folder');
  const localChat = offline && ownerId === undefined;
  if (ownerId === undefined) ctx.log.warn(`no Telegram owner configured (CST_TELEGRAM_OWNER_ID or config/telegram.ownerUserId): owner commands are unavailable${localChat ? '; alerts and reports are printed to the console' : ''}`);
  const charts = opts.charts ?? sharpChartRenderer;
  const deps: TelegramDeps = {
    state: ctx.state,
    bus: ctx.bus,
    clock: ctx.clock,
    log: ctx.log.child({ component: 'telegram' }),
    config: ctx.config,
    tg,
    access: new AccessControl(ctx.state, tg, ownerId),
    charts,
    trades: opts.trades ?? new StateTradeLog(ctx.state),
  };
  if (localChat) deps.access.useLocalChat(CONSOLE_CHAT_ID);
  const sender = new OutboxSender({ state: ctx.state, api, clock: ctx.clock, cfg: tg, charts, log: deps.log });
  return { deps, api, sender, webhookSecret, botUsername: env[BOT_USERNAME_ENV], offline };
}

/**
 * The runtime for this context: built once per state store (a process normally has one; the local
 * runtime and replays build a fresh context per run and must not reuse a closed store's runtime).
 */
const byState = new WeakMap<object, Promise<TelegramRuntime>>();

export async function getTelegramRuntime(ctx: AppContext): Promise<TelegramRuntime> {
  if (installed) return installed;
  let rt = byState.get(ctx.state);
  if (!rt) {
    rt = buildTelegramRuntime(ctx);
    byState.set(ctx.state, rt);
    rt.catch(() => byState.delete(ctx.state));
  }
  return rt;
}
