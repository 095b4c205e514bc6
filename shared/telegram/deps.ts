/**
 * What the Telegram domain (bot, notifier, jobs, reports) works with, plus the small shared reads:
 * mutes, the trading account, broadcast recipients.
 */
import type { Bus } from '../ports/bus.js';
import type { ChartRenderer } from '../ports/charts.js';
import type { Clock } from '../ports/clock.js';
import type { DocData, StateStore } from '../ports/state.js';
import type { TradeHistory } from '../ports/trade-history.js';
import type { ConfigSource } from '../config/source.js';
import type { TelegramConfig } from '../config/telegram.js';
import type { Logger } from '../log.js';
import type { TradingDoc } from '../trading/store.js';
import { upgradeTradingDoc } from '../trading/doc-upgrade.js';
import type { AccountState } from '../trading/model.js';
import { createAccount } from '../trading/account.js';
import { AccessControl } from './access.js';
import { mutePath, TG_MUTES_COLLECTION, tradingDocPath } from '../state-paths.js';
import type { OutboxSender } from './outbox.js';
import type { DashboardKeys } from '../dashboard/auth.js';

/**
 * What the dashboard (shared/dashboard) and the bot's Dashboard buttons / `/dashboard` links need:
 * the signing keys, the bot token (Mini App initData is verified with it), the public page URL.
 */
export interface DashboardAccess {
  keys: DashboardKeys;
  /** Absent in the embedded default without a bot: no Mini App (initData is always refused). */
  botToken: string | undefined;
  /** The page's public URL (config/telegram dashboard.publicUrl or CST_DASHBOARD_URL); undefined = no buttons or links. */
  url: string | undefined;
  /** The embedded default with no owner configured: the local runtime's own login link opens an owner session. */
  localOwner: boolean;
  /**
   * The clock login links and sessions live on: the wall clock (the dashboard server redeems on it),
   * also during a replay whose root clock is market time.
   */
  clock: Clock;
}

export interface TelegramDeps {
  state: StateStore;
  bus: Bus;
  clock: Clock;
  log: Logger;
  config: ConfigSource;
  tg: TelegramConfig;
  access: AccessControl;
  charts: ChartRenderer;
  trades: TradeHistory;
  /** Absent in tests that build deps by hand (no Dashboard buttons, no dashboard). */
  dashboard?: DashboardAccess;
}

/**
 * The Telegram side of a function (notifier, reports, webhook): the deps for the config in force, the
 * outbox's sender, the webhook's secret and the bot's username. Built by infra/telegram/runtime.ts from
 * the secrets and `config/telegram`; asked per message, since an edit of the config replaces it.
 */
export interface TelegramSide {
  deps: TelegramDeps;
  sender: OutboxSender;
  webhookSecret: string | undefined;
  botUsername: string | undefined;
}

interface MuteDoc {
  chatId: number;
  symbol: string;
  until: number;
}

export async function setMute(state: StateStore, chatId: number, symbol: string, until: number): Promise<void> {
  await state.set(mutePath(chatId, symbol), { chatId, symbol, until } satisfies MuteDoc as unknown as DocData);
}

export async function clearMute(state: StateStore, chatId: number, symbol: string): Promise<void> {
  await state.delete(mutePath(chatId, symbol));
}

/** Chats that muted `symbol` (mute still running at `now`). */
export async function mutedChats(state: StateStore, symbol: string, now: number): Promise<Set<number>> {
  const docs = await state.query<MuteDoc>(TG_MUTES_COLLECTION, { where: [{ field: 'symbol', op: '==', value: symbol }] });
  return new Set(docs.filter((d) => d.data.until > now).map((d) => d.data.chatId));
}

export async function mutesOf(state: StateStore, chatId: number, now: number): Promise<MuteDoc[]> {
  const docs = await state.query<MuteDoc>(TG_MUTES_COLLECTION, { where: [{ field: 'chatId', op: '==', value: chatId }] });
  return docs.map((d) => d.data).filter((m) => m.until > now);
}

/** The trading account the bot reports on (a fresh paper account when nothing traded yet). */
export async function readAccount(d: Pick<TelegramDeps, 'state' | 'config' | 'tg'>): Promise<AccountState> {
  const doc = upgradeTradingDoc(await d.state.get<TradingDoc>(tradingDocPath(d.tg.accountId)));
  if (doc) return doc.state.account;
  const risk = (await d.config.strategies()).risk;
  return createAccount(d.tg.accountId, risk.startingEquityUsd);
}

export interface ControlDoc {
  paused: boolean;
  by: number;
  at: number;
}
