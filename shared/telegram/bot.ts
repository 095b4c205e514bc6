/**
 * The bot (SPEC 9): one Telegram update in, outbox entries and hand-off jobs out. Light answers
 * (text, lists) are queued here; anything with a chart goes to `telegram-jobs` for the notifier, so
 * the webhook answers Telegram at once. Every outbox key starts with `u{update_id}`, so handling an
 * update twice could never send twice (the webhook also de-duplicates update ids).
 *
 * Roles: the owner (config/env) may do everything; members (allow-list, or anyone in an allowed group)
 * read; unknown users are offered "Request access" and may only /verify a code in a private chat.
 */
import { z } from 'zod';
import { TOPICS } from '../topics.js';
import { alertAttributes } from '../alerts.js';
import type { HealthDoc } from '../health/freshness.js';
import type { StoredBias } from '../pipeline/macro-analysis.js';
import {
  alertRecordPath,
  biasPath,
  HEALTH_COLLECTION,
  ML_SUGGESTIONS_COLLECTION,
  TG_CONTROL_DOC,
  TG_QUEUE_COLLECTION,
  tradingDocPath,
} from '../state-paths.js';
import { isBiasActive } from '../strategies/macro/bias.js';
import { getTradingMode, setTradingMode } from '../trading/live/mode.js';
import type { TradingDoc } from '../trading/store.js';
import { positionUnrealized } from '../trading/account.js';
import type { InlineKeyboard } from '../ports/telegram.js';
import { CODE_DIGITS, type Role } from './access.js';
import { parseCommand, parseCount, parsePeriod, parseSymbol, parseVerifyCode, type ParsedCommand } from './command-parser.js';
import { clearMute, mutesOf, readAccount, setMute, type ControlDoc, type TelegramDeps } from './deps.js';
import { isTradeInProgress, type AlertRecord } from './format.js';
import { escapeHtml, fmtDuration, fmtPct, fmtPrice, fmtTimeUtc, fmtUsd, fmtUsdPlain, html } from './html.js';
import {
  DASHBOARD_BUTTON_TEXT,
  DASHBOARD_START_PARAM,
  dashboardDeepLink,
  dashboardRow,
  decodeCallback,
  encodeCallback,
  isMiniAppUrl,
  moveTpKeyboard,
  pagingKeyboard,
  requestAccessKeyboard,
  type Callback,
  type ListName,
} from './keyboards.js';
import { createLoginLink } from '../dashboard/auth.js';
import { enqueue, type EnqueueItem, type OutboxOp } from './outbox.js';
import { buildReport, reportText } from './reports.js';
import type { Suggestion } from './trade-commands.js';
import { decideSuggestion, suggestionDecisionText } from './suggestions.js';
import { setPaused } from './control.js';
import { publish, type TelegramJob, type TradeCommand } from '../messages.js';
import { approveModelFeatureChange, modelApprovalKeyboard, modelsReply, readModels, readShadow, shadowMissingText, shadowPeriodHours, shadowText, shadowUsage, statusModelsLine } from './research.js';

// ---------- the update shape (validated at the edge) ----------

const userSchema = z.object({ id: z.number().int(), is_bot: z.boolean().optional(), first_name: z.string().optional(), username: z.string().optional() }).loose();
const chatSchema = z.object({ id: z.number().int(), type: z.enum(['private', 'group', 'supergroup', 'channel']), title: z.string().optional(), is_forum: z.boolean().optional() }).loose();
const messageSchema = z
  .object({ message_id: z.number().int(), from: userSchema.optional(), chat: chatSchema, text: z.string().optional(), message_thread_id: z.number().int().optional(), is_topic_message: z.boolean().optional() })
  .loose();
const updateSchema = z
  .object({
    update_id: z.number().int().nonnegative(),
    message: messageSchema.optional(),
    callback_query: z.object({ id: z.string().min(1), from: userSchema, message: messageSchema.optional(), data: z.string().optional() }).loose().optional(),
  })
  .loose();
type Update = z.infer<typeof updateSchema>;
type Chat = z.infer<typeof chatSchema>;
type User = z.infer<typeof userSchema>;

interface BotOptions {
  /** Without the @: lets `/cmd@ThisBot` through in groups and ignores commands for other bots. */
  botUsername?: string;
}

interface BotResult {
  /** What the update was (for logs and tests): `command:stats`, `callback:chart`, `refused:owner_only`... */
  handled: string;
  queued: number;
  jobs: number;
}

interface Ctx {
  u: Update;
  user: User;
  chat: Chat;
  role: Role;
  threadId: number | null;
  now: number;
  items: EnqueueItem[];
  jobs: TelegramJob[];
  n: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const OWNER_ONLY = new Set(['invite', 'allowgroup', 'pause', 'resume', 'mode', 'suggestions']);

const displayName = (u: User) => [u.first_name, u.username ? `@${u.username}` : undefined].filter(Boolean).join(' ') || String(u.id);

export class Bot {
  constructor(
    private readonly d: TelegramDeps,
    private readonly opts: BotOptions = {},
  ) {}

  async handleUpdate(raw: unknown): Promise<BotResult> {
    const u = updateSchema.parse(raw);
    const now = this.d.clock.now();
    const msg = u.message ?? u.callback_query?.message;
    const user = u.callback_query?.from ?? u.message?.from;
    if (!msg || !user || user.is_bot) return { handled: 'ignored', queued: 0, jobs: 0 };
    const role = await this.d.access.roleOf(user.id, msg.chat);
    const ctx: Ctx = { u, user, chat: msg.chat, role, threadId: msg.is_topic_message ? (msg.message_thread_id ?? null) : null, now, items: [], jobs: [], n: 0 };
    const handled = u.callback_query ? await this.onCallback(ctx) : await this.onMessage(ctx);
    const queued = (await enqueue(this.d.state, ctx.items, now)).length;
    for (const [i, j] of ctx.jobs.entries()) {
      await publish(this.d.bus, TOPICS.telegramJobs, j, { attributes: { dedupeId: `u${u.update_id}:${i}` } });
    }
    return { handled, queued, jobs: ctx.jobs.length };
  }

  // ---------- output helpers ----------

  private reply(ctx: Ctx, text: string, keyboard?: InlineKeyboard): void {
    const op: OutboxOp = { type: 'text', text, keyboard: keyboard ?? null };
    ctx.items.push({ key: `u${ctx.u.update_id}:r${ctx.n++}`, chatId: ctx.chat.id, op, threadId: ctx.threadId });
  }

  private send(ctx: Ctx, chatId: number, text: string, keyboard?: InlineKeyboard): void {
    ctx.items.push({ key: `u${ctx.u.update_id}:s${ctx.n++}:${chatId}`, chatId, op: { type: 'text', text, keyboard: keyboard ?? null } });
  }

  private answer(ctx: Ctx, text: string, showAlert = false): void {
    const cq = ctx.u.callback_query!;
    ctx.items.push({ key: `u${ctx.u.update_id}:ack`, chatId: ctx.chat.id, op: { type: 'answer_callback', callbackQueryId: cq.id, text, showAlert } });
  }

  private editList(ctx: Ctx, text: string, keyboard: InlineKeyboard): void {
    const m = ctx.u.callback_query!.message!;
    ctx.items.push({ key: `u${ctx.u.update_id}:e`, chatId: ctx.chat.id, op: { type: 'edit_message', messageId: m.message_id, text, keyboard } });
  }

  private job(ctx: Ctx, j: Omit<Extract<TelegramJob, { kind: 'chart' }>, 'chatId' | 'threadId' | 'requestKey'> | Omit<Extract<TelegramJob, { kind: 'last' }>, 'chatId' | 'threadId' | 'requestKey'> | Omit<Extract<TelegramJob, { kind: 'equity' }>, 'chatId' | 'threadId' | 'requestKey'> | Omit<Extract<TelegramJob, { kind: 'analyze' }>, 'chatId' | 'threadId' | 'requestKey'> | Omit<Extract<TelegramJob, { kind: 'shadow' }>, 'chatId' | 'threadId' | 'requestKey'>): void {
    ctx.jobs.push({ ...j, chatId: ctx.chat.id, threadId: ctx.threadId, requestKey: `u${ctx.u.update_id}` } as TelegramJob);
  }

  /** The trade-command id of this update's owner action (one update, one command). */
  private commandId(ctx: Ctx): string {
    return `tg:${ctx.u.update_id}`;
  }

  private async command(ctx: Ctx, c: DistributiveOmit<TradeCommand, 'commandId' | 'actorId' | 'ts'>): Promise<void> {
    const cmd = { ...c, commandId: this.commandId(ctx), actorId: String(ctx.user.id), ts: ctx.now, origin: 'telegram' } as TradeCommand;
    await publish(this.d.bus, TOPICS.tradeCommands, cmd, { attributes: { type: cmd.type, dedupeId: cmd.commandId } });
  }

  // ---------- messages ----------

  private async onMessage(ctx: Ctx): Promise<string> {
    const parsed = parseCommand(ctx.u.message?.text, this.opts.botUsername);
    const isPrivate = ctx.chat.type === 'private';
    if (parsed.kind === 'other_bot') return 'ignored';
    if (parsed.kind === 'not_command') {
      if (ctx.role === 'none' && isPrivate) return this.accessRequired(ctx);
      return 'ignored';
    }
    if (parsed.kind === 'unknown') {
      if (ctx.role === 'none') return isPrivate ? this.accessRequired(ctx) : 'ignored';
      this.reply(ctx, html`Unknown command /${parsed.name}. Send /help for the list.`);
      return 'unknown_command';
    }
    const c = parsed.command;
    if (ctx.role === 'none') {
      if (c.name === 'verify') return this.verify(ctx, c);
      return this.accessRequired(ctx);
    }
    if (OWNER_ONLY.has(c.name) && ctx.role !== 'owner') {
      this.reply(ctx, '⛔ Only the owner can do that.');
      return 'refused:owner_only';
    }
    await this.dispatch(ctx, c);
    return `command:${c.name}`;
  }

  private accessRequired(ctx: Ctx): string {
    this.reply(
      ctx,
      '🔒 <b>Access required.</b>\nThis bot is private. Tap "Request access" to ask the owner, or send <code>/verify 123456</code> with the invite code you were given.',
      requestAccessKeyboard(),
    );
    return 'refused:unknown_user';
  }

  private async verify(ctx: Ctx, c: ParsedCommand): Promise<string> {
    if (ctx.chat.type !== 'private') {
      this.reply(ctx, 'Send /verify in a private chat with the bot (codes are secret).');
      return 'refused:verify_in_group';
    }
    const code = parseVerifyCode(c.args, CODE_DIGITS);
    if (!code) {
      this.reply(ctx, `Usage: <code>/verify 123456</code> (the ${CODE_DIGITS}-digit code from the owner).`);
      return 'verify:usage';
    }
    const r = await this.d.access.verify(ctx.user.id, displayName(ctx.user), code, ctx.now);
    if (r.ok) {
      this.reply(ctx, '✅ <b>Welcome!</b> You now receive alerts. Send /help for the commands.');
      const owner = this.d.access.owner;
      if (owner !== undefined) this.send(ctx, owner, html`👤 ${displayName(ctx.user)} (id ${ctx.user.id}) joined with invite ${code}.`);
      return 'verify:ok';
    }
    switch (r.reason) {
      case 'already_allowed':
        this.reply(ctx, 'You already have access.');
        break;
      case 'locked':
        this.reply(ctx, html`⛔ Too many wrong codes. Try again after ${fmtTimeUtc(r.lockedUntil)}.`);
        break;
      default: {
        const why = r.reason === 'expired' ? 'has expired' : r.reason === 'used' ? 'was already used' : 'is not valid';
        this.reply(
          ctx,
          r.lockedUntil !== null
            ? html`❌ That code ${why}. Too many wrong codes: locked until ${fmtTimeUtc(r.lockedUntil)}.`
            : html`❌ That code ${why}. ${r.attemptsLeft} attempt(s) left.`,
        );
      }
    }
    return `verify:${r.reason}`;
  }

  /** Runs one command (access already checked) by its family. */
  private async dispatch(ctx: Ctx, c: ParsedCommand): Promise<void> {
    switch (c.name) {
      case 'start':
        // `/start dashboard`: the dashboard deep link from a group (keyboards.ts dashboardDeepLink)
        if (c.args[0] === DASHBOARD_START_PARAM) return this.dashboardCommand(ctx);
        return this.reply(ctx, helpText(ctx.role));
      case 'help':
        return this.reply(ctx, helpText(ctx.role));
      case 'dashboard':
        return this.dashboardCommand(ctx);
      case 'verify':
        this.reply(ctx, 'You already have access.');
        return;
      case 'invite':
      case 'allowgroup':
        return this.accessCommand(ctx, c.name);
      case 'stats':
      case 'last':
      case 'equity':
      case 'analyze':
        return this.reportCommand(ctx, c);
      case 'positions':
      case 'config':
      case 'suggestions': {
        const list: ListName = c.name === 'positions' ? 'pos' : c.name === 'config' ? 'cfg' : 'sg';
        const { text, pages, extra } = await this.listPage(list, 0, ctx.role);
        return this.reply(ctx, text, [...extra, ...this.listKeyboard(list, 0, pages, ctx.role)]);
      }
      case 'pause':
      case 'resume':
      case 'mode':
        return this.controlCommand(ctx, c);
      case 'mute':
      case 'unmute':
        return this.muteCommand(ctx, c);
      case 'status':
        return this.reply(ctx, await this.statusText(ctx.now), dashboardRow(this.d.dashboard?.url));
      case 'models':
        return this.reply(ctx, await modelsReply(this.d, ctx.now), ctx.role === 'owner' ? await modelApprovalKeyboard(this.d.state) : undefined);
      case 'shadow':
        return this.shadowCommand(ctx, c);
    }
  }

  /** /invite (a single-use code), /allowgroup (inside the group). */
  private async accessCommand(ctx: Ctx, name: 'invite' | 'allowgroup'): Promise<void> {
    if (name === 'invite') {
      const inv = await this.d.access.createInvite(ctx.user.id, ctx.now);
      return this.reply(
        ctx,
        html`🎟 Invite code <code>${inv.code}</code>\nSingle use, valid ${fmtDuration(inv.expiresAt - inv.createdAt)} (until ${fmtTimeUtc(inv.expiresAt)}).\nThe new user sends: <code>/verify ${inv.code}</code>`,
      );
    }
    if (ctx.chat.type !== 'group' && ctx.chat.type !== 'supergroup') return this.reply(ctx, 'Use /allowgroup inside the group to allow.');
    const added = await this.d.access.allowGroup({ id: ctx.chat.id, title: ctx.chat.title ?? String(ctx.chat.id), isForum: ctx.chat.is_forum ?? false }, ctx.user.id, ctx.now);
    return this.reply(ctx, added ? html`✅ Group "${ctx.chat.title ?? ctx.chat.id}" is allowed: it receives alerts and reports.` : 'This group was already allowed.');
  }

  /** /stats (answered here), /last, /equity, /analyze (heavy: handed off as telegram jobs). */
  private async reportCommand(ctx: Ctx, c: ParsedCommand): Promise<void> {
    const tg = this.d.tg;
    switch (c.name) {
      case 'stats': {
        const p = parsePeriod(c.args[0], '24h');
        if (!p) return this.reply(ctx, 'Usage: <code>/stats 24h</code> (also 7d, 30d, 2w, all)');
        const r = await buildReport(this.d, `Stats ${p.label}`, p.ms, ctx.now);
        return this.reply(ctx, reportText(r, tg.reports.timeZone));
      }
      case 'last': {
        const n = parseCount(c.args[0], tg.lists.defaultLast, tg.lists.maxLast);
        if (n === null) return this.reply(ctx, html`Usage: /last 5 (1-${tg.lists.maxLast})`);
        return this.job(ctx, { kind: 'last', n });
      }
      case 'equity': {
        const p = parsePeriod(c.args[0], '7d');
        if (!p) return this.reply(ctx, 'Usage: <code>/equity 7d</code> (also 24h, 30d, all)');
        return this.job(ctx, { kind: 'equity', periodLabel: p.label, periodMs: p.ms });
      }
      case 'analyze': {
        const sys = await this.d.config.system();
        const symbol = parseSymbol(c.args[0], sys.symbols.map((s) => s.symbol));
        if (!symbol) return this.reply(ctx, html`Usage: /analyze SOL (one of ${sys.symbols.map((s) => s.symbol.replace(/USDT$/, '')).join(', ')})`);
        return this.job(ctx, { kind: 'analyze', symbol });
      }
    }
  }

  /**
   * /dashboard (and `/start dashboard`). In a private chat: a single-use login link for this user (the
   * page outside Telegram, shared/dashboard/auth.ts) and, with an https URL, the Mini App button. In a
   * group: login links are personal, so only the way to the private chat (the deep link).
   */
  private dashboardCommand(ctx: Ctx): void {
    const dash = this.d.dashboard;
    if (!dash?.url) {
      return this.reply(ctx, 'The dashboard is not set up: its URL is configured in <code>config/telegram</code> dashboard.publicUrl or <code>CST_DASHBOARD_URL</code>.');
    }
    if (ctx.chat.type !== 'private') {
      const bot = this.opts.botUsername;
      return bot
        ? this.reply(ctx, '🖥 The dashboard opens in a private chat with me (its login is personal).', [[{ text: `${DASHBOARD_BUTTON_TEXT} (private chat)`, url: dashboardDeepLink(bot) }]])
        : this.reply(ctx, '🖥 The dashboard opens in a private chat with me: send me /dashboard there (its login is personal).');
    }
    const ttl = this.d.tg.dashboard.loginLinkTtlMs;
    // on the dashboard's clock (the wall clock the server redeems on), not the update's
    const link = createLoginLink(dash.keys, dash.url, { id: ctx.user.id, name: displayName(ctx.user) }, dash.clock.now(), ttl);
    const miniApp = isMiniAppUrl(dash.url);
    const lines = [
      html`🖥 <b>Dashboard</b>`,
      ...(miniApp ? [html`Tap "${DASHBOARD_BUTTON_TEXT}" to open it here.`] : []),
      html`Outside Telegram: <a href="${link.url}">your login link</a> (single use, valid ${fmtDuration(ttl)}, until ${fmtTimeUtc(link.expiresAt)}). Do not forward it.`,
    ];
    const keyboard: InlineKeyboard = miniApp ? [...dashboardRow(dash.url), [{ text: '🌐 Open in a browser', url: link.url }]] : [];
    return this.reply(ctx, lines.join('\n'), keyboard);
  }

  /** /shadow [period]: the table now, the P&L chart as a job. */
  private async shadowCommand(ctx: Ctx, c: ParsedCommand): Promise<void> {
    const read = await readShadow(this.d.state);
    if (read.status !== 'ok') return this.reply(ctx, shadowMissingText(read));
    const hours = shadowPeriodHours(c.args[0], read.doc.periodsHours);
    if (hours === null) return this.reply(ctx, shadowUsage(read.doc.periodsHours));
    this.reply(ctx, shadowText(read.doc, hours, ctx.now));
    return this.job(ctx, { kind: 'shadow', periodHours: hours });
  }

  /** /pause, /resume (trade commands to the execution), /mode (show, or switch). */
  private async controlCommand(ctx: Ctx, c: ParsedCommand): Promise<void> {
    if (c.name === 'pause' || c.name === 'resume') {
      const paused = c.name === 'pause';
      await setPaused(this.d, { paused, actorId: ctx.user.id, origin: 'telegram', now: ctx.now, commandId: this.commandId(ctx) });
      return this.reply(ctx, paused ? '⏸ Paused: no new trades until /resume. Open positions are still managed.' : '▶️ Resumed: new trades allowed (loss-streak pause and daily halt cleared).');
    }
    const want = c.args[0]?.toLowerCase();
    if (want !== 'live' && want !== 'paper') {
      const mode = await getTradingMode(this.d.state);
      return this.reply(ctx, html`Trading mode: <b>${mode.toUpperCase()}</b>`, modeKeyboard(mode));
    }
    return this.reply(ctx, await this.switchMode(ctx, want));
  }

  /** /mute (list, or mute a symbol here), /unmute. */
  private async muteCommand(ctx: Ctx, c: ParsedCommand): Promise<void> {
    const sys = await this.d.config.system();
    const symbol = parseSymbol(c.args[0], sys.symbols.map((s) => s.symbol));
    if (c.name === 'unmute') {
      if (!symbol) return this.reply(ctx, 'Usage: <code>/unmute SOL</code>');
      await clearMute(this.d.state, ctx.chat.id, symbol);
      return this.reply(ctx, html`🔔 ${symbol} alerts back on here.`);
    }
    if (c.args.length === 0) {
      const mutes = await mutesOf(this.d.state, ctx.chat.id, ctx.now);
      return this.reply(ctx, mutes.length ? `🔕 Muted here:\n${mutes.map((m) => html`${m.symbol} until ${fmtTimeUtc(m.until)}`).join('\n')}` : 'Nothing is muted here. Usage: <code>/mute SOL 6h</code>');
    }
    const p = parsePeriod(c.args[1], `${Math.round(this.d.tg.alerts.muteDefaultMs / 3_600_000)}h`);
    if (!symbol || !p) return this.reply(ctx, 'Usage: <code>/mute SOL 6h</code> · <code>/unmute SOL</code>');
    await setMute(this.d.state, ctx.chat.id, symbol, ctx.now + p.ms);
    return this.reply(ctx, html`🔕 ${symbol} muted here for ${p.label}.`);
  }

  private async switchMode(ctx: Ctx, mode: 'live' | 'paper'): Promise<string> {
    const r = await setTradingMode(this.d.state, { actor: ctx.role === 'owner' ? 'owner' : 'member', actorId: String(ctx.user.id), mode, reason: 'telegram' }, ctx.now);
    if (!r.ok) return '⛔ Only the owner can switch between paper and live trading.';
    if (!r.changed) return html`Trading mode is already <b>${r.mode.toUpperCase()}</b>.`;
    await publish(this.d.bus, TOPICS.alerts, r.alert, { attributes: alertAttributes(r.alert) });
    return html`Trading mode switched to <b>${r.mode.toUpperCase()}</b>.`;
  }

  // ---------- callbacks ----------

  private async onCallback(ctx: Ctx): Promise<string> {
    const cb = decodeCallback(ctx.u.callback_query?.data);
    if (!cb) {
      this.answer(ctx, 'This button is no longer valid.');
      return 'callback:invalid';
    }
    if (ctx.role === 'none') {
      if (cb.kind === 'request_access') return this.requestAccess(ctx);
      this.answer(ctx, '🔒 Access required: send /verify with your invite code.', true);
      return 'refused:unknown_user';
    }
    const ownerOnly: Callback['kind'][] = ['move_tp', 'move_tp_menu', 'mode', 'suggestion', 'rollback', 'model_approve', 'new_invite'];
    if (ownerOnly.includes(cb.kind) && ctx.role !== 'owner') {
      this.answer(ctx, '⛔ Only the owner can do that.', true);
      return 'refused:owner_only';
    }
    switch (cb.kind) {
      case 'chart':
        this.answer(ctx, 'Rendering the chart…');
        this.job(ctx, { kind: 'chart', alertKey: cb.ak });
        break;
      case 'move_tp_menu': {
        const a = await this.d.state.get<AlertRecord>(alertRecordPath(cb.ak));
        if (!a || !isTradeInProgress(a)) {
          this.answer(ctx, 'That trade is no longer open.');
          break;
        }
        this.answer(ctx, 'Choose the new take profit');
        this.reply(ctx, html`🎯 Move TP of ${a.direction} ${a.symbol} (now ${fmtPrice(a.takeProfit)}) by:`, moveTpKeyboard(cb.ak, this.d.tg.alerts.moveTpStepsPct));
        break;
      }
      case 'move_tp': {
        const step = this.d.tg.alerts.moveTpStepsPct[cb.step];
        const moved = step === undefined ? null : await this.moveTp(cb.ak, step);
        if (!moved) {
          this.answer(ctx, 'That trade is no longer open.');
          break;
        }
        await this.command(ctx, { type: 'move_tp', groupId: moved.groupId, symbol: moved.symbol, takeProfit: moved.takeProfit });
        this.answer(ctx, `TP of ${moved.symbol} → ${fmtPrice(moved.takeProfit)}`);
        this.reply(ctx, html`🎯 TP of ${moved.direction} ${moved.symbol} moved to ${fmtPrice(moved.takeProfit)} (${fmtPct(((moved.takeProfit - moved.entry) / moved.entry) * 100)} from entry).`);
        break;
      }
      case 'mute': {
        const until = ctx.now + this.d.tg.alerts.muteDefaultMs;
        await setMute(this.d.state, ctx.chat.id, cb.symbol, until);
        this.answer(ctx, `🔕 ${cb.symbol} muted for ${fmtDuration(this.d.tg.alerts.muteDefaultMs)}`);
        break;
      }
      case 'page':
      case 'refresh': {
        const { text, pages, page, extra } = await this.listPage(cb.list, cb.page, ctx.role);
        this.editList(ctx, text, [...extra, ...this.listKeyboard(cb.list, page, pages, ctx.role)]);
        this.answer(ctx, cb.kind === 'refresh' ? 'Refreshed' : `Page ${page + 1}/${Math.max(1, pages)}`);
        break;
      }
      case 'mode': {
        const text = await this.switchMode(ctx, cb.mode);
        this.answer(ctx, `Mode: ${cb.mode.toUpperCase()}`);
        this.reply(ctx, text);
        break;
      }
      case 'suggestion': {
        const r = await decideSuggestion(this.d, { id: cb.id, approve: cb.approve, actorId: ctx.user.id, origin: 'telegram', now: ctx.now, commandId: this.commandId(ctx) });
        this.answer(ctx, suggestionDecisionText(r));
        break;
      }
      case 'rollback': // an applied adjustment: roll back / keep (shared/telegram/suggestions.ts)
        await this.command(ctx, { type: 'suggestion_rollback', suggestionId: cb.id, rollBack: cb.rollBack });
        this.answer(ctx, cb.rollBack ? '↩️ Rolling back…' : '✅ Kept');
        break;
      case 'model_approve': {
        // the owner approves a model kept out only because its features changed (shared/learning/model-store.ts)
        const r = await approveModelFeatureChange(this.d.state, cb.version, ctx.now);
        this.answer(ctx, r.ok ? (r.applied ? '✅ Approved' : 'Already in force') : '⛔ Not approved');
        this.reply(ctx, html`${r.ok ? '✅' : '⛔'} ${r.ok ? r.detail : r.error}`);
        break;
      }
      case 'request_access':
        this.answer(ctx, 'You already have access.');
        break;
      case 'new_invite': {
        const inv = await this.d.access.createInvite(ctx.user.id, ctx.now);
        this.answer(ctx, 'Invite created');
        this.reply(ctx, html`🎟 Invite code <code>${inv.code}</code> (single use, until ${fmtTimeUtc(inv.expiresAt)}). Forward: <code>/verify ${inv.code}</code>`);
        break;
      }
    }
    return `callback:${cb.kind}`;
  }

  private requestAccess(ctx: Ctx): string {
    const owner = this.d.access.owner;
    if (owner !== undefined) {
      this.send(ctx, owner, html`🙋 Access request from ${displayName(ctx.user)} (id ${ctx.user.id}).`, [[{ text: '🎟 Create invite', callback_data: encodeCallback({ kind: 'new_invite' }) }]]);
    }
    this.answer(ctx, 'Request sent to the owner. You will get an invite code.', true);
    return 'callback:request_access';
  }

  private async moveTp(ak: string, stepPct: number): Promise<AlertRecord | null> {
    return this.d.state.runTransaction(async (tx) => {
      const a = await tx.get<AlertRecord>(alertRecordPath(ak));
      if (!a || !isTradeInProgress(a)) return null;
      const sign = a.direction === 'LONG' ? 1 : -1;
      const takeProfit = a.takeProfit + sign * (stepPct / 100) * a.entry;
      if (!(takeProfit > 0)) return null;
      tx.merge(alertRecordPath(ak), { takeProfit });
      return { ...a, takeProfit };
    });
  }

  // ---------- lists ----------

  private listKeyboard(list: ListName, page: number, pages: number, role: Role): InlineKeyboard {
    const kb = pagingKeyboard(list, page, pages);
    if (list === 'pos') kb.push(...dashboardRow(this.d.dashboard?.url));
    if (list === 'cfg' && role === 'owner') {
      kb.push([
        { text: '🔴 Switch to LIVE', callback_data: encodeCallback({ kind: 'mode', mode: 'live' }) },
        { text: '📝 Switch to PAPER', callback_data: encodeCallback({ kind: 'mode', mode: 'paper' }) },
      ]);
    }
    return kb;
  }

  private async listPage(list: ListName, requested: number, role: Role): Promise<{ text: string; pages: number; page: number; extra: InlineKeyboard }> {
    const size = this.d.tg.lists.pageSize;
    let rows: string[];
    let head: string;
    let extra: InlineKeyboard = [];
    if (list === 'pos') {
      const account = await readAccount(this.d);
      head = html`📂 <b>Positions</b> · ${account.positions.length} (equity ${fmtUsdPlain(account.startingEquity + account.realizedPnl)})`;
      rows = account.positions.map((p) => {
        const mark = account.marks[p.symbol];
        const u = mark !== undefined && p.status === 'open' ? positionUnrealized(p, mark) : null;
        return html`${p.direction === 'LONG' ? '🟢' : '🔴'} ${p.symbol} ${p.direction} · ${p.strategy} · ${p.status}` +
          html`\n   entry ${fmtPrice(p.status === 'open' ? p.avgEntry : (p.entries[0]?.price ?? 0))} · TP ${fmtPrice(p.takeProfit)} · SL ${fmtPrice(p.stopLoss)}` +
          (u !== null && mark !== undefined ? html` · mark ${fmtPrice(mark)} · ${fmtUsd(u)}` : '');
      });
      if (rows.length === 0) rows = ['No open positions.'];
    } else if (list === 'cfg') {
      const [sys, st] = await Promise.all([this.d.config.system(), this.d.config.strategies()]);
      const mode = await getTradingMode(this.d.state);
      head = html`⚙️ <b>Config</b> · mode ${mode.toUpperCase()} · scalp TP ${st.scalp.v52_divergence.exits.fixed.takeProfitPct}% / SL ${st.scalp.v52_divergence.exits.fixed.stopLossPct}% (${st.scalp.v52_divergence.exits.mode})`;
      rows = sys.symbols.map((s) => {
        const ex = st.macro.exits[s.tier];
        return html`${s.enabled ? '✅' : '⏸'} <b>${s.symbol}</b> · ${s.tier}` +
          html`\n   swing TP ${ex.takeProfitPct}% · SL ${ex.stopLossPct}% · trail ${ex.trailingPct}% · cooldown ${fmtDuration(st.protections.tradeLimiter.cooldownMs[s.tier])} · stop cap ${st.protections.adaptiveStops.capPct[s.tier]}%`;
      });
    } else {
      const docs = await this.d.state.query<Suggestion>(ML_SUGGESTIONS_COLLECTION, { where: [{ field: 'status', op: '==', value: 'pending' }] });
      head = '🧠 <b>Suggestions</b> awaiting approval';
      const pending = docs.map((x) => x.data).sort((a, b) => a.createdAt - b.createdAt);
      rows = pending.map((s) => html`${s.strategy} · ${s.parameter}: ${s.current} → <b>${s.suggested}</b>${s.summary ? `\n   ${s.summary}` : ''}`);
      const pageItems = pending.slice(Math.min(requested, Math.max(0, Math.ceil(pending.length / size) - 1)) * size).slice(0, size);
      if (role === 'owner') extra = pageItems.map((s) => [
        { text: `✅ ${s.parameter}`, callback_data: encodeCallback({ kind: 'suggestion', id: s.id, approve: true }) },
        { text: '🚫', callback_data: encodeCallback({ kind: 'suggestion', id: s.id, approve: false }) },
      ]);
      if (rows.length === 0) rows = ['Nothing pending.'];
    }
    const pages = Math.max(1, Math.ceil(rows.length / size));
    const page = Math.min(Math.max(0, requested), pages - 1);
    const text = [head, ...rows.slice(page * size, page * size + size)].join('\n');
    return { text, pages, page, extra };
  }

  private async statusText(now: number): Promise<string> {
    const [sys, st, mode, control, trading, health, queue] = await Promise.all([
      this.d.config.system(),
      this.d.config.strategies(),
      getTradingMode(this.d.state),
      this.d.state.get<ControlDoc>(TG_CONTROL_DOC),
      this.d.state.get<TradingDoc>(tradingDocPath(this.d.tg.accountId)),
      this.d.state.query<HealthDoc>(HEALTH_COLLECTION),
      this.d.state.query(TG_QUEUE_COLLECTION, { orderBy: { field: 'enqueuedAt' }, limit: 1000 }),
    ]);
    const lines: string[] = ['🩺 <b>Status</b>'];
    const prot = trading?.state.protections;
    lines.push(
      html`Trading: ${mode.toUpperCase()} · ${control?.paused ? 'PAUSED by owner' : 'running'}` +
        (prot ? html` · regime ${prot.regime.current}${prot.guards.dailyHalted ? ' · daily loss halt' : ''}${prot.guards.pausedUntil ? ` · loss-streak pause until ${fmtTimeUtc(prot.guards.pausedUntil)}` : ''}` : ''),
    );
    if (trading) lines.push(html`Account: ${trading.state.account.positions.length} position(s) · realized ${fmtUsd(trading.state.account.realizedPnl)} · updated ${fmtDuration(now - trading.updatedAt)} ago`);
    const byHealth = new Map(health.map((h) => [h.data.symbol, h.data]));
    const engines: string[] = [];
    for (const s of sys.symbols.filter((x) => x.enabled)) {
      const h = byHealth.get(s.symbol);
      const b = await this.d.state.get<StoredBias>(biasPath(s.symbol));
      const data = h ? (h.status === 'stale' ? `⚠️ stale ${fmtDuration(now - h.since)}` : '✅ fresh') : '… no check yet';
      const bias = b ? (isBiasActive(b, now) ? `${b.bias} ${b.confidence}` : 'bias expired') : 'no bias';
      engines.push(html`${s.symbol.replace(/USDT$/, '')}: data ${data} · ${bias}`);
    }
    lines.push('<b>Data &amp; MACRO</b>', ...engines);
    const scalps = Object.values(st.scalp).map((c) => html`${c.strategy} ${c.enabled ? (c.emitSignals ? 'emitting' : 'log-only') : 'off'}`);
    lines.push(html`<b>Engines</b>: MACRO ${st.macro.enabled ? 'on' : 'off'} · ${scalps.join(' · ')}`);
    lines.push(statusModelsLine(await readModels(this.d.state), st.ml));
    lines.push(html`Outbox: ${queue.length} queued`);
    return lines.map((l) => l).join('\n');
  }
}

function modeKeyboard(mode: string): InlineKeyboard {
  return [[mode === 'live' ? { text: '📝 Switch to PAPER', callback_data: encodeCallback({ kind: 'mode', mode: 'paper' }) } : { text: '🔴 Switch to LIVE', callback_data: encodeCallback({ kind: 'mode', mode: 'live' }) }]];
}

function helpText(role: Role): string {
  const member = [
    '/stats 24h — P&L, win rate, per strategy',
    '/last 5 — last trades with charts',
    '/equity 7d — equity curve',
    '/positions — open positions',
    '/config — per-coin parameters',
    '/analyze SOL — indicators, levels, bias',
    '/status — engines, data freshness, models',
    '/models — ML models per strategy',
    '/shadow 7d — champion vs challengers (24h, 3d, 7d, 30d)',
    '/mute SOL 6h · /unmute SOL',
    '/dashboard — the dashboard (a login link in a private chat)',
  ];
  const owner = ['/invite — single-use invite code', '/allowgroup — allow this group', '/pause · /resume — new trades', '/mode live|paper — trading mode', '/suggestions — approve ML suggestions'];
  return [`<b>Commands</b>`, ...member.map(escapeHtml), ...(role === 'owner' ? ['', '<b>Owner</b>', ...owner.map(escapeHtml)] : [])].join('\n');
}
