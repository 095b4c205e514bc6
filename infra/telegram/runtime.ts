/**
 * Builds the Telegram side of a composition root (infra/runtime/root.ts builds it on first need): the
 * secrets (the root's SecretSource), `config/telegram`, the owner (CST_TELEGRAM_OWNER_ID), the API
 * adapter (the real Bot API when a token is configured, else console + PNG folder), charts (sharp,
 * loaded on the first chart) and the trade log. Secrets and adapters are built once per root;
 * `config/telegram` is read through the root's ConfigSource (ConfigService: validated, merged over the
 * last valid version, change-logged) on every ask, and the config-dependent parts (deps, access, outbox
 * sender) are rebuilt when it changed, so an edit takes effect within the reload interval and a rejected
 * edit leaves the last valid config (and its owner id) in force.
 */
import { join, resolve } from 'node:path';
import type { Bus } from '../../shared/ports/bus.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import type { ConfigSource } from '../../shared/config/source.js';
import type { Logger } from '../../shared/log.js';
import type { StateStore } from '../../shared/ports/state.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import type { TelegramApi } from '../../shared/ports/telegram.js';
import type { ChartRenderer } from '../../shared/ports/charts.js';
import type { TradeHistory } from '../../shared/ports/trade-history.js';
import { dashboardUrlFrom, ownerIdFrom, type TelegramConfig } from '../../shared/config/telegram.js';
import { DashboardKeys } from '../../shared/dashboard/auth.js';
import { AccessControl } from '../../shared/telegram/access.js';
import type { TelegramDeps, TelegramSide } from '../../shared/telegram/deps.js';
import { OutboxSender } from '../../shared/telegram/outbox.js';
import { StateTradeLog } from '../../shared/telegram/trade-log.js';
import { BotApiTelegram } from './bot-api.js';
import { CONSOLE_CHAT_ID, ConsoleTelegram } from './console.js';
import { sharpChartRenderer } from './charts.js';

/** What the Telegram side is built over: the root's ports, its secrets and its environment. */
interface TelegramPorts {
  state: StateStore;
  bus: Bus;
  clock: Clock;
  log: Logger;
  config: ConfigSource;
  secrets: SecretSource;
  env: NodeJS.ProcessEnv;
}

/** Env: Bot API origin override (the local server in tests / replays). */
const API_ROOT_ENV = 'CST_TELEGRAM_API_ROOT';
/** Env: folder for PNGs in no-token mode (default `<CST_DATA_DIR or .data>/telegram`). */
export const OUTPUT_DIR_ENV = 'CST_TELEGRAM_OUTPUT_DIR';
/** Env: bot username (without @), to accept `/cmd@name` in groups. */
const BOT_USERNAME_ENV = 'CST_TELEGRAM_BOT_USERNAME';

export interface TelegramRuntime extends TelegramSide {
  api: TelegramApi;
  /** true when no token is configured (console + folder). */
  offline: boolean;
}

/** Overrides of the Telegram side (tests, replays, `npm start`). */
export interface TelegramRuntimeOptions {
  api?: TelegramApi;
  charts?: ChartRenderer;
  trades?: TradeHistory;
  /** A fixed `config/telegram` instead of the one in force (tests). */
  tg?: TelegramConfig;
  ownerId?: number;
  /** The outbox's longest in-process wait (OutboxSender `maxWaitMs`): 0 for replays on a manual clock. */
  maxDrainWaitMs?: number;
  /**
   * `npm start`'s local chat: with no token and no owner, alerts and reports go to a console chat
   * (printed with their chart's path). Off elsewhere (replays, tests, the cloud).
   */
  localChat?: boolean;
  /** The dashboard's URL as this process serves it (`npm start`: http://127.0.0.1:PORT/dashboard). */
  dashboardUrl?: string;
}

/** What does not depend on `config/telegram`: secrets and adapters (built once per process). */
interface RuntimeBase {
  env: NodeJS.ProcessEnv;
  api: TelegramApi;
  charts: ChartRenderer;
  trades: TradeHistory;
  webhookSecret: string | undefined;
  offline: boolean;
  ownerId: number | undefined;
  maxDrainWaitMs: number | undefined;
  localChat: boolean;
  botToken: string | undefined;
  /** Random for this process: the keys without a bot token (with one, they derive from it and the URL: withConfig). */
  ephemeralKeys: DashboardKeys;
  /** Overrides config/telegram dashboard.publicUrl and CST_DASHBOARD_URL (the local runtime's own URL). */
  dashboardUrl: string | undefined;
}

async function buildBase(ctx: TelegramPorts, opts: TelegramRuntimeOptions): Promise<RuntimeBase> {
  const env = ctx.env;
  const [token, webhookSecret] = await Promise.all([ctx.secrets.get('telegram-bot-token'), ctx.secrets.get('telegram-webhook-secret')]);
  const offline = !opts.api && !token;
  const api: TelegramApi =
    opts.api ??
    (token
      ? new BotApiTelegram(token, env[API_ROOT_ENV] ? { apiRoot: env[API_ROOT_ENV] } : {})
      : new ConsoleTelegram({ dir: resolve(env[OUTPUT_DIR_ENV] ?? join(env.CST_DATA_DIR ?? '.data', 'telegram')) }));
  if (offline) ctx.log.notice('no Telegram bot token configured: messages go to the console, PNGs to a folder');
  return { env, api, charts: opts.charts ?? sharpChartRenderer, trades: opts.trades ?? new StateTradeLog(ctx.state), webhookSecret, offline, ownerId: opts.ownerId, maxDrainWaitMs: opts.maxDrainWaitMs, localChat: opts.localChat ?? false, botToken: token, ephemeralKeys: DashboardKeys.ephemeral(), dashboardUrl: opts.dashboardUrl };
}

/** The config-dependent parts over a base, for one `config/telegram` version. */
function withConfig(ctx: TelegramPorts, base: RuntimeBase, tg: TelegramConfig): TelegramRuntime {
  const ownerId = base.ownerId ?? ownerIdFrom(tg, base.env);
  const localChat = base.localChat && base.offline && ownerId === undefined;
  if (ownerId === undefined) ctx.log.warn(`no Telegram owner configured (CST_TELEGRAM_OWNER_ID or config/telegram.ownerUserId): owner commands are unavailable${localChat ? '; alerts and reports are printed to the console' : ''}`);
  const dashboardUrl = base.dashboardUrl ?? dashboardUrlFrom(tg, base.env);
  // every instance of one deployment agrees (bot token + URL); without a bot, this process's own keys
  const dashboardKeys = base.botToken ? DashboardKeys.fromBotToken(base.botToken, dashboardUrl ?? '') : base.ephemeralKeys;
  const deps: TelegramDeps = {
    state: ctx.state,
    bus: ctx.bus,
    clock: ctx.clock,
    log: ctx.log.child({ component: 'telegram' }),
    config: ctx.config,
    tg,
    access: new AccessControl(ctx.state, tg, ownerId),
    charts: base.charts,
    trades: base.trades,
    dashboard: { keys: dashboardKeys, botToken: base.botToken, url: dashboardUrl, localOwner: localChat, clock: systemClock },
  };
  if (localChat) deps.access.useLocalChat(CONSOLE_CHAT_ID);
  const botUsername = base.env[BOT_USERNAME_ENV] || undefined;
  const sender = new OutboxSender({
    state: ctx.state,
    api: base.api,
    clock: ctx.clock,
    cfg: tg,
    charts: base.charts,
    log: deps.log,
    ...(base.maxDrainWaitMs !== undefined ? { maxWaitMs: base.maxDrainWaitMs } : {}),
    ...(botUsername ? { botUsername } : {}),
  });
  return { deps, api: base.api, sender, webhookSecret: base.webhookSecret, botUsername, offline: base.offline };
}

/**
 * The Telegram side of one root: adapters built once (on the first ask; a failed build is retried on
 * the next), the config-dependent parts rebuilt whenever `config/telegram` in force changed.
 */
export function telegramRuntimeSource(ctx: TelegramPorts, opts: TelegramRuntimeOptions = {}): () => Promise<TelegramRuntime> {
  let base: Promise<RuntimeBase> | undefined;
  let current: TelegramRuntime | undefined;
  return async () => {
    // A rotated bot token or webhook secret (the secret source re-reads Secret Manager's `latest`
    // every few minutes) rebuilds the adapters: the old token stops working at BotFather at once.
    if (base && !opts.api) {
      const built = await base.catch(() => undefined);
      if (built) {
        const [token, webhookSecret] = await Promise.all([ctx.secrets.get('telegram-bot-token'), ctx.secrets.get('telegram-webhook-secret')]);
        if (token !== built.botToken || webhookSecret !== built.webhookSecret) {
          ctx.log.notice('Telegram secrets changed (rotated): rebuilding the bot client');
          base = undefined;
          current = undefined;
        }
      }
    }
    if (!base) {
      const building = buildBase(ctx, opts);
      base = building;
      building.catch(() => {
        if (base === building) base = undefined;
      });
    }
    const [b, tg] = await Promise.all([base, opts.tg ?? ctx.config.telegram()]);
    // ConfigService returns the same (frozen) object while the config in force is unchanged.
    if (current?.deps.tg !== tg) current = withConfig(ctx, b, tg);
    return current;
  };
}
