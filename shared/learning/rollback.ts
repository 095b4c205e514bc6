/**
 * Applied threshold adjustments (`threshold_adjustments/{suggestionId}`, written by the owner-command
 * path when an approved suggestion changed the config) and the automatic rollback TRIGGER (the 003
 * seed: "> 15 % performance drop in 24 h"), which only ASKS the owner: nothing is rolled back without
 * the owner's tap (the `suggestion_rollback` owner command).
 *
 * Performance of an adjustment's scope (the strategies, and for a per-tier exit the symbols of that
 * tier, whose closed trades the adjusted key changes) over a window = the SUM of the P&L after costs
 * of its trades that closed in the window. Compared: the `windowHours` after `appliedAt` against the
 * same-length window before it (the baseline recorded when it was applied).
 *
 *   drop % = (P&L before - P&L after) / max(|P&L before|, 1 % of starting equity) x 100
 *
 * Why the sum and not P&L per trade: an adjusted threshold changes HOW MANY trades a strategy takes as
 * well as how they end (a deeper DCA drop trades less); the sum is what the owner's equity feels, and
 * the two windows have the same length. The floor (1 % of equity, the same as the suggestions'
 * outperformance %) keeps a near-zero baseline from making a few dollars look like a 100 % drop. At
 * least one trade must have closed after the adjustment (no trades is no evidence either way).
 *
 * Checked once the window after an adjustment is complete (appliedAt + window <= now) and at most
 * `ASK_WITHIN_WINDOWS` windows later (an old adjustment is not brought up again), asked once per
 * adjustment (the `prompt` is recorded in the same transaction that claims it).
 */
import { z } from 'zod';
import type { MlConfig } from '../config/strategy.js';
import type { Alert } from '../messages.js';
import type { DocData, JsonValue, StateStore } from '../ports/state.js';
import type { ClosedTradeRecord, TradeHistory } from '../ports/trade-history.js';
import type { Bus } from '../ports/bus.js';
import type { Logger } from '../log.js';
import { publish } from '../messages.js';
import { alertAttributes } from '../alerts.js';
import { TOPICS } from '../topics.js';
import { ADJUSTMENTS_COLLECTION, adjustmentPath } from '../state-paths.js';

const HOUR_MS = 3_600_000;
/** Adjustments are checked until this many windows after they were applied (then never asked). */
export const ASK_WITHIN_WINDOWS = 3;

export interface AdjustmentChange {
  document: string;
  field: string;
  /** The value in force before the adjustment (what a rollback writes back). */
  before: JsonValue;
  after: JsonValue;
}

/** The trades an adjustment changes: these strategies (and symbols, for a per-tier key; null = all). */
export interface AdjustmentScope {
  strategies: string[];
  symbols: string[] | null;
}

export interface WindowPerformance {
  from: number;
  to: number;
  trades: number;
  wins: number;
  winRate: number | null;
  /** Sum of P&L after costs, USD. */
  pnl: number;
}

export interface RollbackPrompt {
  askedAt: number;
  alertId: string;
  before: WindowPerformance;
  after: WindowPerformance;
  dropPct: number;
  /** The owner's answer, once given. */
  answer: 'rolled_back' | 'kept' | null;
  answeredAt: number | null;
}

export interface AdjustmentDoc {
  suggestionId: string;
  appliedAt: number;
  /** Calendar day of appliedAt in America/Los_Angeles: the daily limit counts these. */
  appliedDay: string;
  by: string;
  commandId: string;
  changes: AdjustmentChange[];
  scope: AdjustmentScope | null;
  /** The scope's performance over the window before the adjustment. */
  baseline: WindowPerformance | null;
  rolledBack: { at: number; by: string; commandId: string } | null;
  /** Set once the trigger asked the owner. */
  prompt: RollbackPrompt | null;
  /** Refused rollbacks (stale), newest last. */
  rollbackRefusals?: Array<{ at: number; commandId: string; detail: string }>;
}

/** The scope's performance over [from, to). */
export function windowPerformance(trades: readonly ClosedTradeRecord[], scope: AdjustmentScope | null, from: number, to: number): WindowPerformance {
  const mine = trades.filter(
    (t) => t.exitTime >= from && t.exitTime < to && (!scope || (scope.strategies.includes(t.strategy) && (scope.symbols === null || scope.symbols.includes(t.symbol)))),
  );
  const wins = mine.filter((t) => t.pnl > 0).length;
  const pnl = mine.reduce((s, t) => s + t.pnl, 0);
  return { from, to, trades: mine.length, wins, winRate: mine.length ? wins / mine.length : null, pnl: Math.round(pnl * 100) / 100 };
}

/** The drop of `after` against `before` in % (see the header); positive = worse. */
export function dropPct(before: number, after: number, equityUsd: number): number {
  return ((before - after) / Math.max(Math.abs(before), 0.01 * equityUsd)) * 100;
}

export interface RollbackCandidate {
  suggestionId: string;
  adjustment: AdjustmentDoc;
  before: WindowPerformance;
  after: WindowPerformance;
  dropPct: number;
}

/**
 * The adjustments whose scope's performance dropped by >= rollback.dropPct over the window after them
 * (see the header): not rolled back, not asked yet, window complete, not older than ASK_WITHIN_WINDOWS windows.
 */
export function checkRollbacks(adjustments: readonly AdjustmentDoc[], trades: readonly ClosedTradeRecord[], cfg: MlConfig, equityUsd: number, now: number): RollbackCandidate[] {
  const w = cfg.suggestions.rollback.windowHours * HOUR_MS;
  const out: RollbackCandidate[] = [];
  for (const a of adjustments) {
    if (a.rolledBack || a.prompt) continue;
    if (now < a.appliedAt + w || now > a.appliedAt + ASK_WITHIN_WINDOWS * w) continue;
    const before = a.baseline ?? windowPerformance(trades, a.scope, a.appliedAt - w, a.appliedAt);
    const after = windowPerformance(trades, a.scope, a.appliedAt, a.appliedAt + w);
    if (after.trades === 0) continue;
    const drop = dropPct(before.pnl, after.pnl, equityUsd);
    // compare at 1e-9: 15 % computed from cents must count as 15 %
    if (drop + 1e-9 >= cfg.suggestions.rollback.dropPct) out.push({ suggestionId: a.suggestionId, adjustment: a, before, after, dropPct: Math.round(drop * 100) / 100 });
  }
  return out;
}

const windowPerformanceSchema = z.strictObject({
  from: z.number(),
  to: z.number(),
  trades: z.number().int().min(0),
  wins: z.number().int().min(0),
  winRate: z.number().min(0).max(1).nullable(),
  pnl: z.number().finite(),
});

/** The stored shape of `threshold_adjustments/{id}` (every reader validates it: an edited document is refused, never half-read). */
export const adjustmentDocSchema = z.strictObject({
  suggestionId: z.string().min(1),
  appliedAt: z.number().int(),
  appliedDay: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  by: z.string(),
  commandId: z.string(),
  changes: z.array(z.strictObject({ document: z.string().min(1), field: z.string().min(1), before: z.json(), after: z.json() })).min(1),
  scope: z.strictObject({ strategies: z.array(z.string()), symbols: z.array(z.string()).nullable() }).nullable(),
  baseline: windowPerformanceSchema.nullable(),
  rolledBack: z.strictObject({ at: z.number(), by: z.string(), commandId: z.string() }).nullable(),
  prompt: z
    .strictObject({
      askedAt: z.number(),
      alertId: z.string(),
      before: windowPerformanceSchema,
      after: windowPerformanceSchema,
      dropPct: z.number().finite(),
      answer: z.enum(['rolled_back', 'kept']).nullable(),
      answeredAt: z.number().nullable(),
    })
    .nullable(),
  rollbackRefusals: z.array(z.strictObject({ at: z.number(), commandId: z.string(), detail: z.string() })).optional(),
});

/** A stored adjustment validated, or the reason it is refused (naming the path). */
export function parseAdjustment(raw: unknown, path: string): { ok: true; value: AdjustmentDoc } | { ok: false; error: string } {
  const p = adjustmentDocSchema.safeParse(raw);
  if (p.success) return { ok: true, value: p.data as AdjustmentDoc };
  return { ok: false, error: `${path} is not a valid adjustment document (${p.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ')})` };
}

/** The applied adjustments not rolled back, applied since `sinceMs`; one that does not validate is left out (the trigger never acts on a half-read document). */
export async function recentAdjustments(state: StateStore, sinceMs: number): Promise<AdjustmentDoc[]> {
  const docs = await state.query<unknown>(ADJUSTMENTS_COLLECTION, { where: [{ field: 'appliedAt', op: '>=', value: sinceMs }] });
  const out: AdjustmentDoc[] = [];
  for (const d of docs) {
    const a = parseAdjustment(d.data, d.path);
    if (a.ok && a.value.rolledBack === null) out.push(a.value);
  }
  return out;
}

/**
 * Claims one candidate's question in a transaction (records `prompt`): true when this call asked,
 * false when it was asked (or rolled back) meanwhile. The caller sends the owner message only on true.
 */
export async function claimRollbackPrompt(state: StateStore, c: RollbackCandidate, alertId: string, now: number): Promise<boolean> {
  const path = adjustmentPath(c.suggestionId);
  return state.runTransaction(async (tx) => {
    const cur = await tx.get<AdjustmentDoc>(path);
    if (!cur || cur.prompt || cur.rolledBack) return false;
    const prompt: RollbackPrompt = { askedAt: now, alertId, before: c.before, after: c.after, dropPct: c.dropPct, answer: null, answeredAt: null };
    tx.merge(path, { prompt: prompt as unknown as JsonValue } as DocData);
    return true;
  });
}

/** The alert id of the question about one adjustment (one per adjustment). */
export function rollbackAlertId(suggestionId: string): string {
  return `rollback_ask:${suggestionId}`;
}

// ---------- the owner's messages (system-alerts, owner only; shared/telegram/suggestions.ts renders them with buttons) ----------

const fieldName = (c: { document: string; field: string }) => `${c.document.replace(/^config\//, '')}.${c.field}`;
const changeText = (changes: readonly AdjustmentChange[]) => changes.map((c) => `${fieldName(c)} ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`).join(', ');

/** An approved suggestion applied: the confirmation (with its Roll back button). */
export function adjustmentAppliedAlert(a: AdjustmentDoc): Alert {
  return {
    alertId: `adjustment_applied:${a.suggestionId}`,
    kind: 'adjustment_applied',
    severity: 'info',
    subject: a.suggestionId,
    message: `Applied: ${changeText(a.changes)}`,
    ts: a.appliedAt,
    details: { suggestionId: a.suggestionId, changes: a.changes, baseline: a.baseline },
  };
}

/** An approval refused by the daily limit (the suggestion stays pending). */
export function adjustmentRefusedAlert(suggestionId: string, commandId: string, appliedToday: number, maxPerDay: number, now: number): Alert {
  return {
    alertId: `adjustment_refused:${commandId}`,
    kind: 'adjustment_refused',
    severity: 'warning',
    subject: suggestionId,
    message: `${appliedToday} adjustment${appliedToday === 1 ? '' : 's'} applied today (at most ${maxPerDay} a day); approve again after midnight Los Angeles time`,
    ts: now,
    details: { suggestionId, reason: 'daily_limit', appliedToday, maxAppliedPerDay: maxPerDay },
  };
}

/**
 * An approval that changed nothing: every change was stale (the config was edited since), invalid,
 * not a config key, or already at its value. The owner is told why (the approval's toast promised a
 * confirmation).
 */
export function adjustmentNotAppliedAlert(suggestionId: string, commandId: string, results: ReadonlyArray<{ document: string; field: string; outcome: string; detail?: string }>, now: number): Alert {
  const why = results.map((r) => `${r.document} ${r.field}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`).join('; ');
  return {
    alertId: `adjustment_refused:${commandId}`,
    kind: 'adjustment_refused',
    severity: 'warning',
    subject: suggestionId,
    message: `the approved suggestion changed nothing: ${why || 'no change to apply'}`,
    ts: now,
    details: { suggestionId, reason: 'nothing_applied', results: results.map((r) => ({ document: r.document, field: r.field, outcome: r.outcome, detail: r.detail ?? null })) },
  };
}

/** A rollback done, or refused as stale. */
export function rollbackResultAlert(suggestionId: string, commandId: string, outcome: 'rolled_back' | 'stale', detail: string, now: number): Alert {
  return {
    alertId: `adjustment_rollback:${outcome}:${commandId}`,
    kind: outcome === 'stale' ? 'adjustment_refused' : 'adjustment_rolled_back',
    severity: outcome === 'stale' ? 'warning' : 'info',
    subject: suggestionId,
    message: outcome === 'stale' ? `Not rolled back: ${detail}` : `Rolled back: ${detail}`,
    ts: now,
    details: { suggestionId, reason: outcome },
  };
}

/** The trigger's question to the owner (Roll back / Keep buttons). */
export function rollbackProposedAlert(c: RollbackCandidate, cfg: MlConfig, now: number): Alert {
  const h = cfg.suggestions.rollback.windowHours;
  return {
    alertId: rollbackAlertId(c.suggestionId),
    kind: 'rollback_proposed',
    severity: 'warning',
    subject: c.suggestionId,
    message:
      `Performance dropped ${c.dropPct.toFixed(1)} % in the ${h} h after ${changeText(c.adjustment.changes)}: ` +
      `P&L ${c.before.pnl.toFixed(2)} (${c.before.trades} trades) before, ${c.after.pnl.toFixed(2)} (${c.after.trades} trades) after. Roll back?`,
    ts: now,
    details: { suggestionId: c.suggestionId, changes: c.adjustment.changes, before: c.before, after: c.after, dropPct: c.dropPct, windowHours: h, thresholdPct: cfg.suggestions.rollback.dropPct },
  };
}

export interface RollbackTriggerDeps {
  state: StateStore;
  bus: Bus;
  log: Logger;
}

/**
 * The rollback trigger's run: every recent adjustment whose scope dropped by >= rollback.dropPct is
 * claimed (asked once) and the owner gets one `rollback_proposed` message. Returns the ids asked.
 */
export async function askRollbacks(deps: RollbackTriggerDeps, history: TradeHistory, cfg: MlConfig, equityUsd: number, now: number): Promise<string[]> {
  const w = cfg.suggestions.rollback.windowHours * HOUR_MS;
  // only those whose window is complete and not asked yet: no trade read otherwise
  const adjustments = (await recentAdjustments(deps.state, now - ASK_WITHIN_WINDOWS * w)).filter((a) => !a.prompt && now >= a.appliedAt + w);
  if (adjustments.length === 0) return [];
  const from = Math.min(...adjustments.map((a) => a.appliedAt)) - w;
  const trades = await history.closedBetween(from, now);
  const asked: string[] = [];
  for (const c of checkRollbacks(adjustments, trades, cfg, equityUsd, now)) {
    // published before it is recorded (at-least-once): a run that dies in between asks again with the
    // SAME alert id, which the notifier's outbox key (`sys:{alertId}:{chat}`) sends once
    const alert = rollbackProposedAlert(c, cfg, now);
    await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
    if (!(await claimRollbackPrompt(deps.state, c, alert.alertId, now))) continue;
    deps.log.notice('rollback proposed to the owner', { suggestionId: c.suggestionId, dropPct: c.dropPct, before: c.before.pnl, after: c.after.pnl });
    asked.push(c.suggestionId);
  }
  return asked;
}
