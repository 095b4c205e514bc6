/**
 * The owner's actions from the page (`POST /api/actions`, api.ts ActionRequest) as trade commands on
 * `trade-commands`, the path Telegram's owner buttons take: commandId `dash:{page id}`, origin
 * `dashboard` (the execution confirms each in the owner's chat with an `owner_command` alert).
 *
 * - move TP / SL: the group must be open on that symbol and the price inside `groupLevelBounds` (the
 *   bounds and mark the core checks again when the command arrives), else refused with the reason;
 * - close: an open group with a mark (the core closes at the account's mark);
 * - pause / resume: the bot's control document and the command, as /pause and /resume do;
 * - suggestion approve / reject: through the bot's one decision function (shared/telegram/suggestions.ts).
 *
 * Idempotent by the page's id (a suggestion decision by decideSuggestion's own command id): the first accepted request writes `dashboard_actions/dash:{id}` (with
 * the request it stands for) before publishing; the same id again answers the stored outcome and
 * publishes again only if the first publish never completed (the execution de-duplicates by command
 * id); the same id with another request is refused (409 `command_id_reused`). A refusal stores
 * nothing: a retry is judged again.
 */
import { z } from 'zod';
import type { DocData } from '../ports/state.js';
import type { TelegramDeps } from '../telegram/deps.js';
import { setPaused } from '../telegram/control.js';
import { readAccount } from '../telegram/deps.js';
import { publish, type TradeCommand } from '../messages.js';
import { TOPICS } from '../topics.js';
import { dashboardActionPath } from '../state-paths.js';
import { closeNeedsMark, groupLevelBounds, immovableReason, noMarkReason, ownerLevelConfig } from '../trading/owner-levels.js';
import { decideSuggestion } from '../telegram/suggestions.js';
import type { ActionRequest, ActionResponse } from './api.js';
import type { Caller } from './routes.js';

const commandId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, '8-64 characters A-Z a-z 0-9 _ -');
const groupId = z.string().min(1).max(200);
const symbol = z.string().regex(/^[A-Z0-9]{2,30}$/);
const price = z.number().finite().positive();

export const actionRequestSchema = z.discriminatedUnion('action', [
  z.strictObject({ commandId, action: z.literal('move_tp'), groupId, symbol, price }),
  z.strictObject({ commandId, action: z.literal('move_sl'), groupId, symbol, price }),
  z.strictObject({ commandId, action: z.literal('close'), groupId, symbol }),
  z.strictObject({ commandId, action: z.literal('pause') }),
  z.strictObject({ commandId, action: z.literal('resume') }),
  z.strictObject({ commandId, action: z.literal('suggestion'), suggestionId: z.string().min(1).max(200), approve: z.boolean() }),
]) satisfies z.ZodType<ActionRequest>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type CommandBody = DistributiveOmit<TradeCommand, 'commandId' | 'actorId' | 'ts' | 'origin'>;

interface ActionDoc {
  commandId: string;
  actorId: string;
  /** The request this id stands for (canonical JSON). */
  request: string;
  /** null for a suggestion decision (decideSuggestion publishes its own command, idempotent by this id). */
  command: TradeCommand | null;
  at: number;
  published: boolean;
}

/** An action's answer and its HTTP status (200 queued, 409 refused). */
export interface ActionOutcome {
  status: 200 | 409;
  body: ActionResponse;
}

const refused = (id: string, reason: string, detail: string): ActionOutcome => ({ status: 409, body: { status: 'refused', commandId: id, reason, detail } });

/** The trade command an accepted action publishes, or why it is refused. */
async function commandFor(d: TelegramDeps, now: number, req: Exclude<ActionRequest, { action: 'suggestion' }>, id: string): Promise<CommandBody | ActionOutcome> {
  switch (req.action) {
    case 'pause':
    case 'resume':
      return { type: req.action };
    case 'move_tp':
    case 'move_sl':
    case 'close': {
      const [account, strategies] = await Promise.all([readAccount(d), d.config.strategies()]);
      const p = account.positions.find((x) => x.groupId === req.groupId);
      if (!p || p.symbol !== req.symbol) return refused(id, 'no_position', `no open group ${req.groupId} on ${req.symbol}`);
      const b = groupLevelBounds(account, p.groupId, ownerLevelConfig(strategies, d.tg.dashboard), now);
      const mark = b?.mark ?? null;
      const noMark = noMarkReason(p, now, d.tg.dashboard.maxMarkAgeMs);
      if (req.action === 'close') {
        // the core's own condition: only a group that holds something needs a mark (an unfilled one is cancelled)
        if (mark === null && closeNeedsMark(p)) return refused(id, 'no_mark', `the close needs a mark: ${noMark}`);
        return { type: 'close_position', groupId: p.groupId, symbol: p.symbol };
      }
      const kind = req.action === 'move_tp' ? 'take_profit' : 'stop_loss';
      const range = kind === 'take_profit' ? (b?.takeProfit ?? null) : (b?.stopLoss ?? null);
      const what = kind === 'take_profit' ? 'take profit' : 'stop loss';
      if (!range) return refused(id, 'not_movable', `the ${what} cannot move: ${immovableReason(p, mark, kind, noMark)}`);
      if (req.price < range.min || req.price > range.max) return refused(id, 'out_of_bounds', `the ${what} must be within ${fmtLevel(range.min)} and ${fmtLevel(range.max)}`);
      return kind === 'take_profit'
        ? { type: 'move_tp', groupId: p.groupId, symbol: p.symbol, takeProfit: req.price }
        : { type: 'move_sl', groupId: p.groupId, symbol: p.symbol, stopLoss: req.price };
    }
  }
}

const fmtLevel = (v: number) => String(Number(v.toPrecision(8)));

const SUGGESTION_REFUSALS = {
  already_decided: 'suggestion_already_decided',
  missing: 'no_suggestion',
  invalid: 'invalid_suggestion',
} as const;

/** Approve / reject through the bot's one decision function (idempotent by the command id itself). */
async function suggestionAction(d: TelegramDeps, now: number, caller: Caller, req: Extract<ActionRequest, { action: 'suggestion' }>, id: string): Promise<ActionOutcome> {
  const r = await decideSuggestion(d, { id: req.suggestionId, approve: req.approve, actorId: caller.session.user.id, origin: 'dashboard', now, commandId: id });
  if (r.outcome === 'decided') return { status: 200, body: { status: 'queued', commandId: id, detail: r.status } };
  const detail = r.outcome === 'already_decided' ? `already ${r.status}` : r.outcome === 'missing' ? 'that suggestion no longer exists' : 'that suggestion cannot be read';
  d.log.info('dashboard action refused', { action: 'suggestion', commandId: id, reason: SUGGESTION_REFUSALS[r.outcome] });
  return refused(id, SUGGESTION_REFUSALS[r.outcome], detail);
}

async function carryOut(d: TelegramDeps, doc: ActionDoc): Promise<void> {
  const cmd = doc.command;
  if (cmd === null) return;
  if (cmd.type === 'pause' || cmd.type === 'resume') {
    // the bot's own pause / resume (its control document, then the command)
    await setPaused(d, { paused: cmd.type === 'pause', actorId: Number(doc.actorId), origin: 'dashboard', now: doc.at, commandId: cmd.commandId });
  } else {
    await publish(d.bus, TOPICS.tradeCommands, cmd, { attributes: { type: cmd.type, dedupeId: cmd.commandId } });
  }
  await d.state.merge(dashboardActionPath(doc.commandId), { published: true });
}

/** `POST /api/actions` for the owner (the caller checked the role). */
export async function performAction(d: TelegramDeps, now: number, caller: Caller, req: ActionRequest): Promise<ActionOutcome> {
  const id = `dash:${req.commandId}`;
  const path = dashboardActionPath(id);
  const actorId = String(caller.session.user.id);
  const { commandId: _page, ...rest } = req;
  const request = JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))));

  const seen = await d.state.get<ActionDoc>(path);
  if (req.action === 'suggestion') {
    // the same id marker as every action: one id stands for one request (a retry decides nothing twice)
    if (seen && seen.request !== request) return refused(id, 'command_id_reused', 'this command id was used for another action');
    if (!seen && !(await d.state.create(path, { commandId: id, actorId, request, command: null, at: now, published: true } satisfies ActionDoc as unknown as DocData))) {
      const again = await d.state.get<ActionDoc>(path);
      if (again && again.request !== request) return refused(id, 'command_id_reused', 'this command id was used for another action');
    }
    return suggestionAction(d, now, caller, req, id);
  }
  if (seen) return replay(d, seen, request, id);

  const body = await commandFor(d, now, req, id);
  if ('status' in body) {
    d.log.info('dashboard action refused', { action: req.action, commandId: id, reason: body.body.reason });
    return body;
  }
  const command = { ...body, commandId: id, actorId, ts: now, origin: 'dashboard' } as TradeCommand;
  const doc: ActionDoc = { commandId: id, actorId, request, command, at: now, published: false };
  if (!(await d.state.create(path, doc as unknown as DocData))) {
    const again = await d.state.get<ActionDoc>(path);
    if (again) return replay(d, again, request, id);
  }
  await carryOut(d, doc);
  d.log.info('dashboard action queued', { action: req.action, commandId: id, type: command.type });
  return { status: 200, body: { status: 'queued', commandId: id } };
}

/** The same page id again: the stored outcome (published again when the first publish never completed). */
async function replay(d: TelegramDeps, seen: ActionDoc, request: string, id: string): Promise<ActionOutcome> {
  if (seen.request !== request) return refused(id, 'command_id_reused', 'this command id was used for another action');
  if (!seen.published) await carryOut(d, seen);
  return { status: 200, body: { status: 'queued', commandId: id, detail: 'already queued' } };
}
