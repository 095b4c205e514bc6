/**
 * Inline keyboards and their callback data (<= 64 bytes, Bot API limit). Trade-group ids are long, so
 * alerts are addressed by `alertKey` (a short hash of the trade group id, see alertKeyOf).
 *
 *   ch:{ak}          Chart (large chart of the alert's trade)
 *   tp:{ak}          Move TP: shows the step buttons      tpx:{ak}:{i}  apply step i (owner)
 *   mu:{SYMBOL}      Mute this symbol for the default time
 *   pg:{list}:{p}    page p of a list                     rf:{list}:{p} refresh page p
 *   md:{live|paper}  owner: switch the trading mode
 *   sa:{id} / sr:{id}  owner: approve / reject a suggestion
 *   rb:{id} / rk:{id}  owner: roll back / keep an applied adjustment (shared/telegram/suggestions.ts)
 *   ra               request access                       ni            owner: new invite code
 *
 * The "🖥 Dashboard" button (issue 12) is a `web_app` button (the Mini App, an https URL only). The Bot
 * API refuses web_app buttons outside private chats (400 BUTTON_TYPE_INVALID), so builders add it
 * everywhere and the outbox sender passes every keyboard through `keyboardForChat` just before the
 * call: in a group or channel a web_app button becomes a `url` button to the bot's deep link
 * `https://t.me/{bot}?start=dashboard` (which opens the private chat, where `/start dashboard` answers
 * with the Mini App button), or is dropped when the bot's username is unknown.
 */
import { createHash } from 'node:crypto';
import type { InlineButton, InlineKeyboard } from '../ports/telegram.js';
import { fmtPct } from './html.js';

const MAX_CALLBACK_BYTES = 64;
const LISTS = ['pos', 'cfg', 'sg'] as const;
export type ListName = (typeof LISTS)[number];

export function alertKeyOf(groupId: string): string {
  return createHash('sha256').update(groupId).digest('base64url').slice(0, 16);
}

export type Callback =
  | { kind: 'chart'; ak: string }
  | { kind: 'move_tp_menu'; ak: string }
  | { kind: 'move_tp'; ak: string; step: number }
  | { kind: 'mute'; symbol: string }
  | { kind: 'page'; list: ListName; page: number }
  | { kind: 'refresh'; list: ListName; page: number }
  | { kind: 'mode'; mode: 'live' | 'paper' }
  | { kind: 'suggestion'; id: string; approve: boolean }
  | { kind: 'rollback'; id: string; rollBack: boolean }
  | { kind: 'model_approve'; version: string }
  | { kind: 'request_access' }
  | { kind: 'new_invite' };

export function encodeCallback(c: Callback): string {
  let s: string;
  switch (c.kind) {
    case 'chart': s = `ch:${c.ak}`; break;
    case 'move_tp_menu': s = `tp:${c.ak}`; break;
    case 'move_tp': s = `tpx:${c.ak}:${c.step}`; break;
    case 'mute': s = `mu:${c.symbol}`; break;
    case 'page': s = `pg:${c.list}:${c.page}`; break;
    case 'refresh': s = `rf:${c.list}:${c.page}`; break;
    case 'mode': s = `md:${c.mode}`; break;
    case 'suggestion': s = `${c.approve ? 'sa' : 'sr'}:${c.id}`; break;
    case 'rollback': s = `${c.rollBack ? 'rb' : 'rk'}:${c.id}`; break;
    case 'model_approve': s = `ma:${c.version}`; break;
    case 'request_access': s = 'ra'; break;
    case 'new_invite': s = 'ni'; break;
  }
  if (Buffer.byteLength(s, 'utf8') > MAX_CALLBACK_BYTES) throw new Error(`callback data over ${MAX_CALLBACK_BYTES} bytes: ${s}`);
  return s;
}

export function decodeCallback(data: string | undefined): Callback | null {
  if (!data) return null;
  const [tag, a, b] = data.split(':');
  const int = (x: string | undefined) => (x !== undefined && /^\d{1,4}$/.test(x) ? Number(x) : null);
  switch (tag) {
    case 'ch': return a ? { kind: 'chart', ak: a } : null;
    case 'tp': return a ? { kind: 'move_tp_menu', ak: a } : null;
    case 'tpx': { const step = int(b); return a && step !== null ? { kind: 'move_tp', ak: a, step } : null; }
    case 'mu': return a && /^[A-Z0-9]{2,24}$/.test(a) ? { kind: 'mute', symbol: a } : null;
    case 'pg':
    case 'rf': {
      const page = int(b);
      if (!(LISTS as readonly string[]).includes(a ?? '') || page === null) return null;
      return { kind: tag === 'pg' ? 'page' : 'refresh', list: a as ListName, page };
    }
    case 'md': return a === 'live' || a === 'paper' ? { kind: 'mode', mode: a } : null;
    case 'sa':
    case 'sr': return a ? { kind: 'suggestion', id: a, approve: tag === 'sa' } : null;
    case 'rb':
    case 'rk': return a ? { kind: 'rollback', id: a, rollBack: tag === 'rb' } : null;
    case 'ma': return a && /^[a-z0-9_]{1,40}@\d{1,6}$/.test(a) ? { kind: 'model_approve', version: a } : null;
    case 'ra': return { kind: 'request_access' };
    case 'ni': return { kind: 'new_invite' };
    default: return null;
  }
}

const btn = (text: string, c: Callback) => ({ text, callback_data: encodeCallback(c) });

/** Chart, Move TP, Mute: the keyboard under every trade alert. */
export function alertKeyboard(ak: string, symbol: string): InlineKeyboard {
  return [[btn('📈 Chart', { kind: 'chart', ak }), btn('🎯 Move TP', { kind: 'move_tp_menu', ak }), btn(`🔕 Mute ${symbol.replace(/USDT$/, '')}`, { kind: 'mute', symbol })]];
}

/** Chart, Mute: the keyboard under an alert that follows no trade (signal only, or NOT TAKEN). */
export function signalKeyboard(ak: string, symbol: string): InlineKeyboard {
  return [[btn('📈 Chart', { kind: 'chart', ak }), btn(`🔕 Mute ${symbol.replace(/USDT$/, '')}`, { kind: 'mute', symbol })]];
}

export function moveTpKeyboard(ak: string, stepsPct: readonly number[]): InlineKeyboard {
  return [stepsPct.map((p, i) => btn(`TP ${fmtPct(p)}`, { kind: 'move_tp', ak, step: i }))];
}

/** ◀ page / refresh / page ▶ under a list. */
export function pagingKeyboard(list: ListName, page: number, pages: number): InlineKeyboard {
  const row = [];
  if (page > 0) row.push(btn('◀ Prev', { kind: 'page', list, page: page - 1 }));
  row.push(btn(`🔄 ${page + 1}/${Math.max(1, pages)}`, { kind: 'refresh', list, page }));
  if (page + 1 < pages) row.push(btn('Next ▶', { kind: 'page', list, page: page + 1 }));
  return [row];
}

export function requestAccessKeyboard(): InlineKeyboard {
  return [[btn('🔑 Request access', { kind: 'request_access' })]];
}

// ---------- the dashboard (issue 12) ----------

/** The `/start` payload of the dashboard deep link. */
export const DASHBOARD_START_PARAM = 'dashboard';
export const DASHBOARD_BUTTON_TEXT = '🖥 Dashboard';

/** Telegram opens Mini Apps from https URLs only. */
export function isMiniAppUrl(url: string | undefined): url is string {
  return url !== undefined && /^https:\/\/[^\s]+$/.test(url);
}

/** `https://t.me/{bot}?start=dashboard`: opens the bot's private chat with `/start dashboard`. */
export function dashboardDeepLink(botUsername: string): string {
  return `https://t.me/${botUsername}?start=${DASHBOARD_START_PARAM}`;
}

/** The "🖥 Dashboard" Mini App button row; empty when no https dashboard URL is configured. */
export function dashboardRow(url: string | undefined): InlineKeyboard {
  return isMiniAppUrl(url) ? [[{ text: DASHBOARD_BUTTON_TEXT, web_app: { url } }]] : [];
}

/** A private chat (the chat id is the user's id, positive); groups, supergroups and channels are negative. */
export function isPrivateChatId(chatId: number): boolean {
  return chatId > 0;
}

/**
 * The keyboard as it may be sent to `chatId`: unchanged in a private chat; elsewhere every web_app
 * button becomes a url button to the bot's dashboard deep link (or is dropped without a bot username),
 * and rows left empty are removed.
 */
export function keyboardForChat(kb: InlineKeyboard, chatId: number, botUsername: string | undefined): InlineKeyboard {
  if (isPrivateChatId(chatId) || !kb.some((row) => row.some((b) => 'web_app' in b))) return kb;
  const out: InlineKeyboard = [];
  for (const row of kb) {
    const next: InlineButton[] = [];
    for (const b of row) {
      if (!('web_app' in b)) next.push(b);
      else if (botUsername) next.push({ text: b.text, url: dashboardDeepLink(botUsername) });
    }
    if (next.length) out.push(next);
  }
  return out;
}
