/**
 * Telegram messages of the learning loop's threshold suggestions and adjustments (SPEC 8, 9), HTML
 * escaped like format.ts:
 * - a threshold suggestion (before -> after and its shadow evidence) with Approve / Reject buttons;
 * - the owner-only system alerts of an adjustment (shared/learning/rollback.ts builds them):
 *   `adjustment_applied` (the approval's confirmation, with "↩️ Roll back"), `rollback_proposed` (the
 *   rollback trigger's question, "↩️ Roll back" / "✅ Keep"), `adjustment_refused` (daily limit, or a
 *   stale rollback) and `adjustment_rolled_back`.
 * The buttons are owner-only callbacks (`rb:{id}` / `rk:{id}`, keyboards.ts) that the bot turns into a
 * `suggestion_rollback` owner command; approvals stay the existing `sa:{id}` / `sr:{id}`.
 *
 * `decideSuggestion` is THE owner decision on a pending suggestion, for the bot's Approve / Reject
 * buttons and the dashboard's alike (the caller checked the owner role).
 */
import { publish, type Alert, type TradeCommand } from '../messages.js';
import { TOPICS } from '../topics.js';
import { mlSuggestionPath } from '../state-paths.js';
import { suggestionSchema } from './trade-commands.js';
import type { InlineKeyboard } from '../ports/telegram.js';
import type { ThresholdSuggestion } from '../learning/suggestions.js';
import type { AdjustmentChange, WindowPerformance } from '../learning/rollback.js';
import { escapeHtml, fmtTimeUtc, fmtUsd, html, MAX_MESSAGE_CHARS, truncateHtml } from './html.js';
import { encodeCallback } from './keyboards.js';
import { enqueue } from './outbox.js';
import type { TelegramDeps } from './deps.js';
import type { ResearchSuggestion } from './research.js';

/** The alert kinds of adjustments: always owner only (they carry owner buttons), whatever config/telegram lists. */
export const ADJUSTMENT_ALERT_KINDS: readonly string[] = ['adjustment_applied', 'adjustment_refused', 'adjustment_rolled_back', 'rollback_proposed'];

export function isAdjustmentAlert(a: Alert): boolean {
  return ADJUSTMENT_ALERT_KINDS.includes(a.kind);
}

const num = (x: number | null, d = 2) => (x === null ? 'n/a' : x.toFixed(d));
const pct = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);
const signed = (x: number, d = 1) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;
const changeLine = (c: { document: string; field: string; before: unknown; after: unknown }) =>
  html`<code>${c.document.replace(/^config\//, '')}.${c.field}</code>: ${JSON.stringify(c.before)} → <b>${JSON.stringify(c.after)}</b>`;
const perfLine = (label: string, p: WindowPerformance) =>
  html`${label}: ${p.trades} trades · win ${pct(p.winRate)} · P&amp;L ${fmtUsd(p.pnl)}`;

/** A threshold suggestion for the owner: before → after and the evidence. */
export function suggestionText(s: ThresholdSuggestion): string {
  const e = s.evidence;
  const others = Object.entries(e.overrides).filter(([k]) => k !== s.key);
  const lines = [
    html`🧠 <b>Threshold suggestion</b> · ${e.confidence} confidence`,
    changeLine({ document: s.document, field: s.field, before: s.before, after: s.after }) + html` (best challenger ${s.optimum})`,
    html`Evidence: shadow <b>${e.variation}</b> over ${e.periodHours}h — ${e.trades} trades, win ${pct(e.winRate)}, PF ${num(e.profitFactor)}, P&amp;L ${fmtUsd(e.pnl)}`,
    html`Champion: ${e.champion.trades} trades, win ${pct(e.champion.winRate)}, PF ${num(e.champion.profitFactor)}, P&amp;L ${fmtUsd(e.champion.pnl)}`,
    html`Outperformance ${signed(e.outperformancePct)}% · p=${num(e.pValue, 3)}${e.significant ? ' (significant)' : ' (not significant)'} · step ${Math.round(e.stepShare * 100)}% of 30%`,
  ];
  if (others.length > 0) lines.push(html`<i>${e.variation} also changes ${others.map(([k, v]) => `${k}=${String(v)}`).join(', ')}</i>`);
  return truncateHtml(lines.join('\n'), MAX_MESSAGE_CHARS);
}

/** Approve / Reject under a suggestion (the existing `sa` / `sr` callbacks). */
export function suggestionKeyboard(id: string): InlineKeyboard {
  return [[
    { text: '✅ Approve', callback_data: encodeCallback({ kind: 'suggestion', id, approve: true }) },
    { text: '🚫 Reject', callback_data: encodeCallback({ kind: 'suggestion', id, approve: false }) },
  ]];
}

export function rollbackKeyboard(id: string, withKeep: boolean): InlineKeyboard {
  const row = [{ text: '↩️ Roll back', callback_data: encodeCallback({ kind: 'rollback', id, rollBack: true }) }];
  if (withKeep) row.push({ text: '✅ Keep', callback_data: encodeCallback({ kind: 'rollback', id, rollBack: false }) });
  return [row];
}

/** The message (and buttons) of an adjustment alert; null for any other alert. */
export function adjustmentAlertMessage(a: Alert): { text: string; keyboard: InlineKeyboard | null } | null {
  if (!isAdjustmentAlert(a)) return null;
  const d = (a.details ?? {}) as { suggestionId?: string; changes?: AdjustmentChange[]; before?: WindowPerformance; after?: WindowPerformance; dropPct?: number; windowHours?: number; thresholdPct?: number };
  const id = d.suggestionId ?? a.subject ?? '';
  const changes = (d.changes ?? []).map(changeLine);
  const when = html`<i>${fmtTimeUtc(a.ts)}</i>`;
  let text: string;
  let keyboard: InlineKeyboard | null = null;
  switch (a.kind) {
    case 'adjustment_applied':
      text = ['✅ <b>Adjustment applied</b>', ...changes, html`Tap Roll back to restore the previous value.`, when].join('\n');
      keyboard = id ? rollbackKeyboard(id, false) : null;
      break;
    case 'rollback_proposed':
      text = [
        html`⚠️ <b>Performance dropped ${num(d.dropPct ?? null, 1)}%</b> in the ${d.windowHours ?? '?'} h after an adjustment (trigger ${d.thresholdPct ?? '?'}%)`,
        ...changes,
        ...(d.before ? [perfLine('Before', d.before)] : []),
        ...(d.after ? [perfLine('After', d.after)] : []),
        'Roll it back? Nothing changes until you tap.',
        when,
      ].join('\n');
      keyboard = id ? rollbackKeyboard(id, true) : null;
      break;
    case 'adjustment_rolled_back':
      text = [html`↩️ <b>Adjustment rolled back</b>`, escapeHtml(a.message), when].join('\n');
      break;
    default:
      text = [html`⛔ <b>Adjustment not applied</b>`, escapeHtml(a.message), when].join('\n');
  }
  return { text: truncateHtml(text, MAX_MESSAGE_CHARS), keyboard };
}

/**
 * Queues each suggestion to the owner (before -> after, the evidence, Approve / Reject), keyed by its
 * id: a retried run queues nothing twice while it waits. The caller drains the outbox (dispatch.ts).
 */
export async function queueSuggestions(d: Pick<TelegramDeps, 'state' | 'clock' | 'access'>, suggestions: readonly ThresholdSuggestion[]): Promise<number> {
  const owner = d.access.ownerChat;
  if (owner === undefined || suggestions.length === 0) return 0;
  const items = suggestions.map((s) => ({ key: `sg:${s.id}`, chatId: owner, op: { type: 'text' as const, text: suggestionText(s), keyboard: suggestionKeyboard(s.id) } }));
  return (await enqueue(d.state, items, d.clock.now())).length;
}

/** A suggestion as the daily research summary lists it (shared/telegram/research.ts). */
export function researchSuggestionOf(s: ThresholdSuggestion): ResearchSuggestion {
  const e = s.evidence;
  return {
    id: s.id,
    strategy: s.strategies.join('/'),
    parameter: s.key,
    before: s.before,
    after: s.after,
    confidence: e.confidence,
    evidence: `${e.variation} over ${e.periodHours}h: ${e.trades} trades, ${e.outperformancePct >= 0 ? '+' : ''}${e.outperformancePct.toFixed(1)}% vs champion, p=${e.pValue === null ? 'n/a' : e.pValue.toFixed(3)}`,
  };
}

// ---------- the owner's decision (bot buttons and dashboard) ----------

export interface SuggestionDecisionRequest {
  id: string;
  approve: boolean;
  /** The owner's Telegram user id. */
  actorId: number;
  origin: 'telegram' | 'dashboard';
  now: number;
  /**
   * The trade command's id (`tg:{update_id}`, `dash:{page id}`). A retry with the same id (a crash
   * between the decision and the publish, a page retrying its request) publishes the same command
   * again, de-duplicated by this id; it never decides twice.
   */
  commandId: string;
}

export type SuggestionDecision =
  /** Recorded now (or by an earlier try of this same command) and its `suggestion_decided` command published. */
  | { outcome: 'decided'; status: 'approved' | 'rejected'; commandId: string }
  /** Already decided by another command, or superseded by a newer suggestion. */
  | { outcome: 'already_decided'; status: 'approved' | 'rejected' | 'superseded' }
  | { outcome: 'missing' }
  /** The stored item does not validate: nothing changed (the reason is logged, never shown). */
  | { outcome: 'invalid' };

/**
 * Approves or rejects a pending suggestion: marks `ml_suggestions/{id}` in a transaction (status,
 * decidedBy, decidedAt, commandId), then publishes the `suggestion_decided` owner command that the
 * execution applies (shared/pipeline/execution/owner-commands.ts), confirmed in the owner's chat.
 */
export async function decideSuggestion(d: Pick<TelegramDeps, 'state' | 'bus' | 'log'>, req: SuggestionDecisionRequest): Promise<SuggestionDecision> {
  const path = mlSuggestionPath(req.id);
  const status = req.approve ? ('approved' as const) : ('rejected' as const);
  const r = await d.state.runTransaction(async (tx): Promise<SuggestionDecision> => {
    const raw = await tx.get(path);
    if (raw === undefined) return { outcome: 'missing' };
    const parsed = suggestionSchema.safeParse(raw);
    if (!parsed.success) {
      d.log.warn('suggestion item does not validate: not decided', { suggestionId: req.id, issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) });
      return { outcome: 'invalid' };
    }
    const s = parsed.data;
    if (s.status !== 'pending') {
      const mine = s.commandId === req.commandId && (s.status === 'approved' || s.status === 'rejected');
      return mine ? { outcome: 'decided', status: s.status as 'approved' | 'rejected', commandId: req.commandId } : { outcome: 'already_decided', status: s.status };
    }
    tx.merge(path, { status, decidedBy: req.actorId, decidedAt: req.now, commandId: req.commandId });
    return { outcome: 'decided', status, commandId: req.commandId };
  });
  if (r.outcome !== 'decided') return r;
  const cmd: TradeCommand = { type: 'suggestion_decided', suggestionId: req.id, approved: r.status === 'approved', commandId: req.commandId, actorId: String(req.actorId), ts: req.now, origin: req.origin };
  await publish(d.bus, TOPICS.tradeCommands, cmd, { attributes: { type: cmd.type, dedupeId: cmd.commandId } });
  return r;
}

/** The bot's answer to a decision (the callback's toast). */
export function suggestionDecisionText(r: SuggestionDecision): string {
  switch (r.outcome) {
    case 'missing':
      return 'That suggestion no longer exists.';
    case 'invalid':
      return 'That suggestion cannot be read: nothing changed.';
    case 'already_decided':
      return `Already ${r.status}.`;
    case 'decided':
      return r.status === 'approved' ? '✅ Approved: applying now (a confirmation follows)' : '🚫 Suggestion rejected';
  }
}
