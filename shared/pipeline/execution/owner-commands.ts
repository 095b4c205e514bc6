/**
 * Owner trade commands (`trade-commands`, shared/telegram/trade-commands.ts and the dashboard's
 * actions) applied by the execution function. Every command is idempotent by its deterministic
 * `commandId` (`tg:{update_id}`, `dash:{page id}`).
 *
 * - pause / resume: through the ONE trading core (core.ts ownerPause / ownerResume via TradingStore,
 *   marker `trading/{accountId}/commands/{commandId}`). While paused no new entry is accepted
 *   (rejection `owner_paused`); exits, entry timeouts and live order management go on. Resume also
 *   clears the loss-streak pause and today's loss halt. Each change is ONE protection event published
 *   as a `system-alerts` alert (`owner_paused` / `trading_resumed`); a repeated pause or a command
 *   older than the last applied pause / resume (the topic has no ordering key) changes nothing.
 * - move_tp: a group's take profit moves (core.ts ownerMoveTakeProfit, one `take_profit_moved`
 *   trade event). A paper group's candles exit at the new level from the next candle on. For a LIVE
 *   group the same event goes to the LiveExecutor (execution.ts settle), which cancels the group's resting
 *   reduce-only take-profit orders (`t{k}` PostOnly, GTC fallbacks `g{k}`) and, once each is terminal,
 *   places a PostOnly reduce-only limit at the new level for what the lot still holds under a new
 *   deterministic client id `t{k}r{n}` (n = the group's move count; Bybit never reuses an orderLinkId;
 *   shared/trading/live/ledger.ts moveTakeProfit). A take profit that already filled, or whose cancel
 *   raced its fill, keeps the fill and gets no replacement. A redelivered command replays the stored
 *   event, which the live ledger ignores by event id: never two replacements.
 *   The level must be inside ownerLevelBounds (shared/trading/owner-levels.ts, the rule the dashboard's
 *   sliders are drawn with): beyond every entry and the average fill, at most config/telegram
 *   `dashboard.takeProfitMaxPct` from the average entry (else `invalid_level` / `out_of_bounds`).
 * - move_sl (dashboard): a group's stop loss moves (core.ts ownerMoveStopLoss, one `stop_loss_moved`
 *   trade event) within ownerLevelBounds at the core's mark for the group: on the loss side of the
 *   mark and of every working entry, at most the tier's adaptive-stop cap from the average entry; the
 *   group's reserved risk follows the new stop. Candles check it from the next candle on; a LIVE group
 *   needs no exchange action (the core decides its stops on candles; the live ledger only records the
 *   level). Refused `not_movable` without a mark or once a live group's exit is decided.
 * - close_position (dashboard): the group is closed at the account's mark for it (core.ts
 *   ownerClosePosition through ownerClose: a taker exit booked like any close; unfilled entries are
 *   cancelled); a LIVE group gets the decision (`exit_decided` manual at the mark, or
 *   `entry_cancel_decided` when nothing is held) that the LiveExecutor carries out. Refused `no_mark`
 *   when something is held and the group has no mark yet, `already_closing` when a live exit is decided.
 * - The owner's confirmation: a command with `origin: 'dashboard'` gets ONE `owner_command` system
 *   alert (owner-only, config/telegram alerts.ownerOnlyKinds) with its outcome, applied or refused with
 *   the reason; a Telegram move TP / move SL / close that the core refused gets one too (the bot
 *   answered in place before the core decided). alertId `owner_command:{commandId}`: a redelivered
 *   command publishes the same alert, which the outbox sends once (ownerCommandAlert).
 * - suggestion_decided: the owner's decision is recorded at `suggestions/{suggestionId}` (status
 *   approved / rejected, decidedAt = the command's time, decidedBy, commandId). An APPROVED config
 *   suggestion is then applied by writing the proposed values into the config document
 *   (`config/{name}`) in a transaction, exactly as an owner edit in the console would be, and
 *   ConfigService validates, records (`config_changes`) and alerts it (`check` when the ConfigSource
 *   is a ConfigService; otherwise its next reload does). Nothing is ever applied without the owner's
 *   approval, and a suggestion whose `before` no longer matches the config in force (edited since) or
 *   whose result would not validate is NOT written (recorded as `stale` / `invalid`).
 *   Where the proposed change comes from: `suggestions/{id}.changes` (the backtester's proposal:
 *   [{document, field, before, after}]) or, for a Telegram item `ml_suggestions/{id}`, its
 *   `parameter` (a dotted key of the strategy configs, `risk.scalp.totalRiskPct`, or a field of the
 *   document named by `strategy`), `current` (before) and `suggested` (after).
 *   The changes of one approval are applied in ONE transaction, which also enforces the daily limit
 *   (config/ml suggestions.maxAppliedPerDay per America/Los_Angeles day, counted from
 *   `threshold_adjustments/*`) and records `threshold_adjustments/{suggestionId}` (before / after,
 *   appliedAt, by, the baseline of the affected strategies over the window before, rolledBack null).
 *   The owner gets `adjustment_applied` (with a Roll back button) or `adjustment_refused`.
 * - suggestion_rollback: the owner's one-tap rollback of an applied adjustment (or "Keep" on the
 *   rollback trigger's question, shared/learning/rollback.ts); see rollbackSuggestion.
 */
import { CONFIG_DOCUMENTS, isConfigDocName, type ConfigDocName } from '../../config/documents.js';
import { ConfigService, mergedConfigDocument, validateConfigDocument, type ConfigStateDoc } from '../../config/service.js';
import type { DocData, JsonValue, StateStore, Transaction } from '../../ports/state.js';
import { tradingConfigFrom } from '../../trading/model.js';
import { TradingStore, type StoreCommandResult } from '../../trading/store.js';
import { LiveLink, settle, type ExecutionDeps } from '../execution.js';
import { PAPER_ACCOUNT_ID } from '../../model/trading.js';
import { publish, type Alert, type TradeCommand } from '../../messages.js';
import { alertAttributes } from '../../alerts.js';
import { TOPICS } from '../../topics.js';
import { localDay, tunableKey } from '../../learning/suggestions.js';
import {
  adjustmentAppliedAlert,
  adjustmentNotAppliedAlert, adjustmentRefusedAlert, parseAdjustment,
  rollbackResultAlert,
  windowPerformance,
  type AdjustmentDoc,
  type AdjustmentScope,
  type WindowPerformance,
} from '../../learning/rollback.js';
import { StateTradeLog } from '../../telegram/trade-log.js';
import { ADJUSTMENTS_COLLECTION, adjustmentPath, configNameOf, configPath, configStatePath, mlSuggestionPath, suggestionPath } from '../../state-paths.js';

const HOUR_MS = 3_600_000;

/** One proposed config value. */
export interface ProposedChange {
  /** `config/{name}`. */
  document: string;
  /** Dotted field path inside the document (`scalp.totalRiskPct`). */
  field: string;
  before: JsonValue | null;
  after: JsonValue;
}

export type ChangeOutcome =
  /** Written (or already at the proposed value). */
  | 'applied'
  /** The config in force no longer has the suggestion's `before` (edited since): not written. */
  | 'stale'
  /** The document with the proposed value would not validate: not written. */
  | 'invalid'
  /** Not a field of an owner-editable config document: nothing to write. */
  | 'not_config';

export interface ChangeResult extends ProposedChange {
  outcome: ChangeOutcome;
  detail: string;
}

export interface SuggestionDecisionDoc {
  id: string;
  status: 'approved' | 'rejected';
  /** The command's time (when the owner decided). */
  decidedAt: number;
  decidedBy: string;
  commandId: string;
  /** When the execution side recorded it. */
  recordedAt: number;
  /** Set once the approved changes were applied (null: rejected, or not applied yet). */
  applied: ChangeResult[] | null;
  appliedAt: number | null;
}

export type RollbackOutcome =
  /** Rolled back (now, or by this same command before). */
  | 'rolled_back'
  /** Rolled back before by another command: nothing more. */
  | 'already_rolled_back'
  /** The owner kept it (the trigger's "Keep"). */
  | 'kept'
  /** The config no longer holds the applied values (edited since): nothing written. */
  | 'stale'
  /** No applied adjustment with this id. */
  | 'unknown';

export type CommandOutcome =
  | { type: 'pause' | 'resume' | 'move_tp' | 'move_sl' | 'close_position'; applied: boolean; outcome: string; detail: string; events: number }
  | {
      type: 'suggestion_decided';
      /** limit_reached: refused, maxAppliedPerDay adjustments were applied this Los Angeles day (still pending). */
      outcome: 'recorded' | 'already_decided' | 'unknown' | 'limit_reached';
      status: 'approved' | 'rejected' | null;
      changes: ChangeResult[];
      detail?: string;
    }
  | { type: 'suggestion_rollback'; outcome: RollbackOutcome; detail: string; changes: ChangeResult[] };

type CoreCommand = Exclude<TradeCommand, { type: 'suggestion_decided' | 'suggestion_rollback' }>;

function tradingStore(deps: ExecutionDeps, cfg: ReturnType<typeof tradingConfigFrom>): TradingStore {
  return new TradingStore(deps.state, { accountId: deps.accountId ?? PAPER_ACCOUNT_ID, config: cfg });
}

/** The core's decision on a pause / resume / move TP / move SL / close (one TradingStore transaction, idempotent by commandId). */
async function applyOwnerCommand(deps: ExecutionDeps, store: TradingStore, cmd: CoreCommand, now: number): Promise<StoreCommandResult> {
  const ref = { commandId: cmd.commandId, actorId: cmd.actorId, ts: cmd.ts };
  switch (cmd.type) {
    case 'pause':
      return store.pause(ref, now);
    case 'resume':
      return store.resumeCommand(ref, now);
    case 'close_position':
    case 'move_tp':
    case 'move_sl': {
      // the TP max and mark age of the ONE owner-levels rule (shared/trading/owner-levels.ts) the dashboard's sliders use
      const dashboard = (await deps.config.telegram()).dashboard;
      const level = { ...ref, groupId: cmd.groupId, symbol: cmd.symbol, dashboard };
      if (cmd.type === 'close_position') return store.closePosition(level, now);
      return cmd.type === 'move_tp' ? store.moveTakeProfit({ ...level, takeProfit: cmd.takeProfit }, now) : store.moveStopLoss({ ...level, stopLoss: cmd.stopLoss }, now);
    }
  }
}

/** Applies one owner command (validated with tradeCommandSchema at the edge): decided in the core, then settled (published, carried out live). */
export async function executeTradeCommand(deps: ExecutionDeps, cmd: TradeCommand): Promise<CommandOutcome> {
  const out = await carryOut(deps, cmd);
  const alert = ownerCommandAlert(cmd, out, deps.clock.now());
  if (alert) await publishAlert(deps, alert);
  return out;
}

async function carryOut(deps: ExecutionDeps, cmd: TradeCommand): Promise<CommandOutcome> {
  if (cmd.type === 'suggestion_decided') return decideSuggestion(deps, cmd);
  if (cmd.type === 'suggestion_rollback') return rollbackSuggestion(deps, cmd);
  const cfg = tradingConfigFrom(await deps.config.strategies());
  const store = tradingStore(deps, cfg);
  const link = new LiveLink(deps);
  const now = deps.clock.now();
  const r = await applyOwnerCommand(deps, store, cmd, now);
  deps.log.info('owner command', { commandId: cmd.commandId, type: cmd.type, origin: cmd.origin ?? 'telegram', outcome: r.outcome, detail: r.detail, redelivery: !r.applied });
  await settle(deps, link, store, r, now);
  if (!COMMAND_DONE.has(r.outcome)) {
    deps.log.warn('owner command not carried out', { commandId: cmd.commandId, type: cmd.type, outcome: r.outcome, detail: r.detail });
  }
  return { type: cmd.type, applied: r.applied, outcome: r.outcome, detail: r.detail, events: r.events.length };
}

// ---------- the owner's confirmation (owner_command) ----------

/** Outcomes that mean the command did what was asked (or it already was so). */
const COMMAND_DONE: ReadonlySet<string> = new Set(['applied', 'unchanged', 'recorded', 'rolled_back', 'kept']);

const POSITION_COMMANDS: ReadonlySet<TradeCommand['type']> = new Set(['move_tp', 'move_sl', 'close_position']);

const COMMAND_LABEL: Record<TradeCommand['type'], string> = {
  pause: 'Pause new trades',
  resume: 'Resume trading',
  move_tp: 'Move take profit',
  move_sl: 'Move stop loss',
  close_position: 'Close position',
  suggestion_decided: 'Suggestion decision',
  suggestion_rollback: 'Suggestion rollback',
};

/** The outcome as the command type reports it, with a detail for the owner (never empty). */
function outcomeOf(cmd: TradeCommand, out: CommandOutcome): { outcome: string; detail: string } {
  if (out.type === 'suggestion_decided') {
    const verdict = cmd.type === 'suggestion_decided' ? (cmd.approved ? 'approve' : 'reject') : '';
    const detail = out.detail ?? (out.outcome === 'recorded' ? `${verdict === 'approve' ? 'approved' : 'rejected'}${out.changes.length ? `: ${out.changes.map((c) => c.detail).join('; ')}` : ''}` : out.outcome === 'already_decided' ? `already ${out.status ?? 'decided'}` : 'no such suggestion');
    return { outcome: out.outcome, detail };
  }
  if (out.type === 'suggestion_rollback') return { outcome: out.outcome, detail: out.detail };
  if (out.detail !== '') return { outcome: out.outcome, detail: out.detail };
  const byOutcome: Record<string, string> = {
    applied: cmd.type === 'pause' ? 'new entries are refused until resumed; open positions are still managed' : cmd.type === 'resume' ? 'new entries allowed' : 'done',
    unchanged: cmd.type === 'pause' ? 'already paused' : cmd.type === 'resume' ? 'nothing was paused' : 'nothing to change',
    stale: 'a later pause / resume was already applied',
  };
  return { outcome: out.outcome, detail: byOutcome[out.outcome] ?? out.outcome };
}

/**
 * The owner's confirmation of a command in the chat (`owner_command`, owner-only by default): ONE per
 * dashboard command with its outcome (applied / refused and why), and one per Telegram position command
 * the core refused (the bot answers those in place before the core decides). Deterministic alertId
 * from the commandId: a redelivered command re-publishes the same alert, which the notifier's outbox
 * sends once. Null: nothing to confirm (a Telegram command that went through, or pause / resume /
 * suggestions from Telegram, which the bot and their own alerts confirm; an approval recorded from the
 * dashboard, which its adjustment alert confirms).
 */
export function ownerCommandAlert(cmd: TradeCommand, out: CommandOutcome, now: number): Alert | null {
  const { outcome, detail } = outcomeOf(cmd, out);
  const done = COMMAND_DONE.has(outcome);
  const fromDashboard = cmd.origin === 'dashboard';
  if (!fromDashboard && (done || !POSITION_COMMANDS.has(cmd.type))) return null;
  // an approval that went through is confirmed by its own adjustment alert (with its Roll back button)
  if (cmd.type === 'suggestion_decided' && cmd.approved && outcome === 'recorded') return null;
  const position = cmd.type === 'move_tp' || cmd.type === 'move_sl' || cmd.type === 'close_position' ? cmd : null;
  const suggestion = cmd.type === 'suggestion_decided' || cmd.type === 'suggestion_rollback' ? cmd.suggestionId : null;
  const subject = position?.symbol ?? (suggestion !== null ? `suggestion ${suggestion}` : 'account');
  const what = `${COMMAND_LABEL[cmd.type]}${position ? ` ${position.symbol}` : ''}`;
  const from = fromDashboard ? 'dashboard' : 'Telegram';
  return {
    alertId: `owner_command:${cmd.commandId}`,
    kind: 'owner_command',
    severity: done ? 'info' : 'warning',
    subject,
    message: done ? `${what} (${from}): ${outcome === 'applied' || outcome === 'recorded' ? 'applied' : outcome}: ${detail}` : `${what} (${from}) refused (${outcome}): ${detail}`,
    ts: now,
    details: {
      commandId: cmd.commandId,
      type: cmd.type,
      origin: cmd.origin ?? 'telegram',
      actorId: cmd.actorId,
      outcome,
      applied: done,
      detail,
      ...(position ? { groupId: position.groupId, symbol: position.symbol } : {}),
      ...(cmd.type === 'move_tp' ? { takeProfit: cmd.takeProfit } : cmd.type === 'move_sl' ? { stopLoss: cmd.stopLoss } : {}),
      ...(suggestion !== null ? { suggestionId: suggestion } : {}),
    },
  };
}

// ---------- suggestions ----------

function segments(field: string): string[] {
  return field.split('.').filter((s) => s.length > 0);
}

function getField(doc: unknown, field: string): unknown {
  let cur: unknown = doc;
  for (const p of segments(field)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** A copy of `doc` with `field` set; null when a parent is missing or the leaf does not exist. */
function withField(doc: DocData, field: string, value: JsonValue): DocData | null {
  const out = structuredClone(doc) as Record<string, unknown>;
  const parts = segments(field);
  let cur: Record<string, unknown> = out;
  for (let k = 0; k < parts.length - 1; k++) {
    const next = cur[parts[k] as string];
    if (next === null || typeof next !== 'object') return null;
    cur = next as Record<string, unknown>;
  }
  const leaf = parts[parts.length - 1];
  if (leaf === undefined || !(leaf in cur)) return null;
  cur[leaf] = value;
  return out as DocData;
}

/** `config/{name}` + field of a dotted strategy-configs key (`risk.scalp.totalRiskPct`, `scalp.v52_divergence.x`). */
function documentOfKey(key: string): { name: ConfigDocName; field: string } | null {
  const parts = segments(key);
  if (parts[0] === 'scalp' && parts.length > 2) {
    const name = `scalp_${parts[1] as string}`;
    return isConfigDocName(name) ? { name, field: parts.slice(2).join('.') } : null;
  }
  const name = parts[0] ?? '';
  return parts.length > 1 && isConfigDocName(name) ? { name, field: parts.slice(1).join('.') } : null;
}

function docName(document: string): ConfigDocName | null {
  const name = configNameOf(document) ?? document;
  return isConfigDocName(name) ? name : null;
}

interface BotSuggestion {
  id: string;
  strategy: string;
  parameter: string;
  current: number;
  suggested: number;
}

/** The proposed changes of a suggestion: the proposal's `changes`, else the Telegram item's parameter. */
async function proposedChanges(state: StateStore, id: string): Promise<ProposedChange[] | null> {
  const proposal = await state.get<{ changes?: Array<{ document: string; field: string; before?: JsonValue; after: JsonValue }> }>(suggestionPath(id));
  if (proposal && Array.isArray(proposal.changes)) {
    return proposal.changes.map((c) => ({ document: c.document, field: c.field, before: c.before ?? null, after: c.after }));
  }
  const item = await state.get<BotSuggestion>(mlSuggestionPath(id));
  if (!item) return proposal ? [] : null;
  const byKey = documentOfKey(item.parameter);
  const byDoc = isConfigDocName(item.strategy) ? item.strategy : isConfigDocName(`scalp_${item.strategy}`) ? (`scalp_${item.strategy}` as ConfigDocName) : null;
  const target = byKey ?? (byDoc ? { name: byDoc, field: item.parameter } : null);
  if (!target) return [{ document: configPath(item.strategy), field: item.parameter, before: item.current, after: item.suggested }];
  return [{ document: configPath(target.name), field: target.field, before: item.current, after: item.suggested }];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One config document as a transaction reads it (merged over its last valid version) and changes it in memory. */
interface PlannedDoc {
  name: ConfigDocName;
  path: string;
  lastValid: unknown;
  raw: DocData | null;
  error: string | null;
  dirty: boolean;
}

interface PlannedChanges {
  results: ChangeResult[];
  /** Per result: true when it changes the config (false: already at the value, or not applied). */
  changed: boolean[];
  /** Per result: the value in force before (what a rollback writes back). */
  previous: Array<JsonValue | null>;
  docs: Map<ConfigDocName, PlannedDoc>;
}

/**
 * Reads every document the changes touch (all reads, no write: Firestore's rule) and applies the
 * changes in memory, after the checks ConfigService makes: the config in force must still hold each
 * change's `before` (else `stale`), the document with the value must validate (else `invalid`).
 * Several changes to one document compose.
 */
async function planChanges(tx: Transaction, changes: readonly ProposedChange[]): Promise<PlannedChanges> {
  const docs = new Map<ConfigDocName, PlannedDoc>();
  const out: PlannedChanges = { results: [], changed: [], previous: [], docs };
  const push = (r: ChangeResult, changed = false, previous: JsonValue | null = null) => {
    out.results.push(r);
    out.changed.push(changed);
    out.previous.push(previous);
  };
  for (const c of changes) {
    const name = docName(c.document);
    if (!name) {
      push({ ...c, outcome: 'not_config', detail: `${c.document} is not an owner-editable config document` });
      continue;
    }
    const def = CONFIG_DOCUMENTS[name];
    let d = docs.get(name);
    if (!d) {
      // What the stored (possibly partial) document means: merged over the last valid version, as
      // ConfigService reads it; the full merged document is written back with the fields changed.
      const lastValid = (await tx.get<ConfigStateDoc>(configStatePath(name)))?.lastValid ?? null;
      const stored = await tx.get<DocData>(def.path);
      const merged = mergedConfigDocument(name, stored ?? {}, lastValid);
      d = merged.errors.length > 0
        ? { name, path: def.path, lastValid, raw: null, error: `${def.path} does not validate: ${merged.errors.join('; ')}`, dirty: false }
        : { name, path: def.path, lastValid, raw: JSON.parse(JSON.stringify(merged.doc)) as DocData, error: null, dirty: false };
      docs.set(name, d);
    }
    if (d.error !== null || d.raw === null) {
      push({ ...c, outcome: 'invalid', detail: d.error ?? `${def.path} does not validate` });
      continue;
    }
    const current = getField(d.raw, c.field);
    if (current === undefined) {
      push({ ...c, outcome: 'not_config', detail: `${def.path} has no field ${c.field}` });
      continue;
    }
    if (sameValue(current, c.after)) {
      push({ ...c, outcome: 'applied', detail: `${def.path} ${c.field} is already ${JSON.stringify(c.after)}` });
      continue;
    }
    if (c.before !== null && !sameValue(current, c.before)) {
      push({ ...c, outcome: 'stale', detail: `${def.path} ${c.field} is ${JSON.stringify(current)}, not the suggestion's ${JSON.stringify(c.before)}: edited since, not overwritten` });
      continue;
    }
    const next = withField(d.raw, c.field, c.after);
    if (!next) {
      push({ ...c, outcome: 'not_config', detail: `${def.path} has no field ${c.field}` });
      continue;
    }
    const parsed = validateConfigDocument(name, next, d.lastValid);
    if (!parsed.success) {
      push({ ...c, outcome: 'invalid', detail: `${def.path} would not validate: ${parsed.errors.join('; ')}` });
      continue;
    }
    d.raw = next;
    d.dirty = true;
    push({ ...c, outcome: 'applied', detail: `${def.path} ${c.field}: ${JSON.stringify(current)} -> ${JSON.stringify(c.after)}` }, true, current as JsonValue);
  }
  return out;
}

/** Writes the planned documents (after every read of the transaction); returns their names. */
function writePlanned(tx: Transaction, plan: PlannedChanges): ConfigDocName[] {
  const written: ConfigDocName[] = [];
  for (const d of plan.docs.values()) {
    if (!d.dirty || d.raw === null) continue;
    tx.set(d.path, d.raw);
    written.push(d.name);
  }
  return written;
}

async function publishAlert(deps: ExecutionDeps, alert: Alert): Promise<void> {
  await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
}

/** The trades an applied change affects (for its baseline and the rollback trigger): by strategy, and tier symbols for a per-tier key. */
async function scopeOf(deps: ExecutionDeps, changes: readonly ProposedChange[]): Promise<AdjustmentScope | null> {
  const strategies = new Set<string>();
  const tiers = new Set<string>();
  for (const c of changes) {
    const name = docName(c.document);
    if (!name) continue;
    if (name.startsWith('scalp_')) {
      strategies.add(name.slice('scalp_'.length));
      continue;
    }
    const tk = tunableKey(`${name}.${c.field}`);
    if (tk) {
      tk.strategies.forEach((s) => strategies.add(s));
      if (tk.tier) tiers.add(tk.tier);
      continue;
    }
    if (name === 'macro') MACRO_STRATEGY_IDS.forEach((s) => strategies.add(s));
    else return null; // a risk / paper / protections key: every strategy's trades
  }
  if (strategies.size === 0) return null;
  let symbols: string[] | null = null;
  if (tiers.size > 0) {
    const sys = await deps.config.system();
    symbols = sys.symbols.filter((s) => tiers.has(s.tier)).map((s) => s.symbol);
  }
  return { strategies: [...strategies].sort(), symbols };
}

const MACRO_STRATEGY_IDS = ['dca', 'swing_breakout', 'channel'];

/**
 * Records the owner's decision at `suggestions/{id}` and, when approved, applies its config changes
 * (see the header). An approval that would change the config is refused when `maxAppliedPerDay`
 * adjustments were already applied this America/Los_Angeles day: counted from
 * `threshold_adjustments/*` in the SAME transaction that writes the config and the new adjustment, so
 * two concurrent approvals cannot both pass the limit (the loser's transaction is retried and sees
 * the winner's adjustment; on Firestore the query's result set is part of the transaction's read set
 * as well). A rolled-back adjustment still counts for its day. An approval that changes nothing (stale,
 * invalid, already at the value) does not count. A refused approval leaves the suggestion pending (the
 * bot's item back to `pending`) and tells the owner. Idempotent by commandId.
 */
async function decideSuggestion(deps: ExecutionDeps, cmd: Extract<TradeCommand, { type: 'suggestion_decided' }>): Promise<CommandOutcome> {
  const now = deps.clock.now();
  const path = suggestionPath(cmd.suggestionId);
  const itemPath = mlSuggestionPath(cmd.suggestionId);
  const changes = await proposedChanges(deps.state, cmd.suggestionId);
  if (changes === null) {
    deps.log.warn('suggestion decided but unknown here: recorded only', { suggestionId: cmd.suggestionId, commandId: cmd.commandId });
  }
  const status = cmd.approved ? 'approved' : 'rejected';
  const approving = status === 'approved' && changes !== null;
  const st = approving ? await deps.config.strategies() : null;
  const scope = approving ? await scopeOf(deps, changes) : null;
  let baseline: WindowPerformance | null = null;
  if (st) {
    const w = st.ml.suggestions.rollback.windowHours * HOUR_MS;
    baseline = windowPerformance(await new StateTradeLog(deps.state).closedBetween(now - w, now), scope, now - w, now);
  }
  const day = localDay(now);
  const maxPerDay = st?.ml.suggestions.maxAppliedPerDay ?? 0;

  type Rec =
    | { kind: 'decided_before'; mine: boolean; status: string; applied: ChangeResult[] | null }
    | { kind: 'recorded'; status: 'approved' | 'rejected'; plan: PlannedChanges | null; written: ConfigDocName[]; adjustment: AdjustmentDoc | null }
    | { kind: 'limit'; count: number };
  const rec: Rec = await deps.state.runTransaction(async (tx): Promise<Rec> => {
    const cur = await tx.get<Partial<SuggestionDecisionDoc> & { status?: string }>(path);
    if (cur && (cur.status === 'approved' || cur.status === 'rejected')) {
      return { kind: 'decided_before', mine: cur.commandId === cmd.commandId, status: cur.status, applied: cur.applied ?? null };
    }
    const decision: SuggestionDecisionDoc = {
      id: cmd.suggestionId,
      status,
      decidedAt: cmd.ts,
      decidedBy: cmd.actorId,
      commandId: cmd.commandId,
      recordedAt: now,
      applied: null,
      appliedAt: null,
    };
    const source = cur ? {} : { source: changes === null ? 'unknown' : itemPath, changes: (changes ?? []) as unknown as JsonValue };
    if (!approving) {
      tx.merge(path, { ...source, ...decision } as unknown as DocData);
      return { kind: 'recorded', status, plan: null, written: [], adjustment: null };
    }
    const item = await tx.get<DocData>(itemPath);
    const today = await tx.query<AdjustmentDoc>(ADJUSTMENTS_COLLECTION, { where: [{ field: 'appliedDay', op: '==', value: day }] });
    const plan = await planChanges(tx, changes);
    const changing = plan.changed.some(Boolean);
    if (changing && today.length >= maxPerDay) {
      const refusal = { at: now, commandId: cmd.commandId, by: cmd.actorId, reason: 'daily_limit', appliedToday: today.length };
      tx.merge(path, { ...source, id: cmd.suggestionId, lastRefusal: refusal } as unknown as DocData);
      if (item) tx.merge(itemPath, { status: 'pending', decidedBy: null, decidedAt: null });
      return { kind: 'limit', count: today.length };
    }
    const written = writePlanned(tx, plan);
    tx.merge(path, { ...source, ...decision, applied: plan.results as unknown as JsonValue, appliedAt: now } as unknown as DocData);
    let adjustment: AdjustmentDoc | null = null;
    if (changing) {
      adjustment = {
        suggestionId: cmd.suggestionId,
        appliedAt: now,
        appliedDay: day,
        by: cmd.actorId,
        commandId: cmd.commandId,
        changes: plan.results.flatMap((r, k) => (plan.changed[k] ? [{ document: r.document, field: r.field, before: plan.previous[k] ?? null, after: r.after }] : [])),
        scope,
        baseline,
        rolledBack: null,
        prompt: null,
      };
      tx.set(adjustmentPath(cmd.suggestionId), adjustment as unknown as DocData);
    }
    return { kind: 'recorded', status: 'approved', plan, written, adjustment };
  });

  if (rec.kind === 'decided_before') {
    if (!rec.mine) deps.log.info('suggestion already decided by another command', { suggestionId: cmd.suggestionId, status: rec.status, commandId: cmd.commandId });
    return { type: 'suggestion_decided', outcome: rec.mine ? 'recorded' : 'already_decided', status: rec.status as 'approved' | 'rejected', changes: rec.applied ?? [] };
  }
  if (rec.kind === 'limit') {
    const alert = adjustmentRefusedAlert(cmd.suggestionId, cmd.commandId, rec.count, maxPerDay, now);
    deps.log.warn('approved suggestion refused: daily limit', { suggestionId: cmd.suggestionId, commandId: cmd.commandId, appliedToday: rec.count, maxAppliedPerDay: maxPerDay });
    await publishAlert(deps, alert);
    return { type: 'suggestion_decided', outcome: 'limit_reached', status: null, changes: [], detail: alert.message };
  }
  if (rec.status !== 'approved' || changes === null || !rec.plan) {
    return { type: 'suggestion_decided', outcome: changes === null ? 'unknown' : 'recorded', status: rec.status, changes: [] };
  }
  // ConfigService validates the written documents now, records the change and raises config_applied
  if (deps.config instanceof ConfigService && rec.written.length > 0) await deps.config.check(rec.written);
  for (const r of rec.plan.results) {
    (r.outcome === 'applied' ? deps.log.notice.bind(deps.log) : deps.log.warn.bind(deps.log))('approved suggestion', {
      suggestionId: cmd.suggestionId,
      document: r.document,
      field: r.field,
      outcome: r.outcome,
      detail: r.detail,
    });
  }
  if (rec.adjustment) await publishAlert(deps, adjustmentAppliedAlert(rec.adjustment));
  else if (rec.written.length === 0) await publishAlert(deps, adjustmentNotAppliedAlert(cmd.suggestionId, cmd.commandId, rec.plan.results, now));
  return { type: 'suggestion_decided', outcome: 'recorded', status: 'approved', changes: rec.plan.results };
}

/**
 * The owner's answer on an applied adjustment (`suggestion_rollback`): rollBack writes every change's
 * `before` back, only when the config still holds the applied values (else `stale` with the reason,
 * nothing written, recorded on the adjustment); keep records the answer to the rollback trigger's
 * question. Idempotent: a redelivered command, or a second tap, changes nothing.
 */
async function rollbackSuggestion(deps: ExecutionDeps, cmd: Extract<TradeCommand, { type: 'suggestion_rollback' }>): Promise<CommandOutcome> {
  const now = deps.clock.now();
  const path = adjustmentPath(cmd.suggestionId);
  type Rec = { outcome: RollbackOutcome; detail: string; changes: ChangeResult[]; written: ConfigDocName[] };
  const rec = await deps.state.runTransaction(async (tx): Promise<Rec> => {
    const raw = await tx.get<unknown>(path);
    if (raw === undefined) return { outcome: 'unknown', detail: `no applied adjustment ${cmd.suggestionId}`, changes: [], written: [] };
    // an edited / older document is refused with its reason: its `before` values are never written back half-read
    const parsed = parseAdjustment(raw, path);
    if (!parsed.ok) return { outcome: 'stale', detail: parsed.error, changes: [], written: [] };
    const adj = parsed.value;
    if (adj.rolledBack) {
      const mine = adj.rolledBack.commandId === cmd.commandId;
      return { outcome: mine ? 'rolled_back' : 'already_rolled_back', detail: `rolled back at ${new Date(adj.rolledBack.at).toISOString()}`, changes: [], written: [] };
    }
    if (!cmd.rollBack) {
      if (adj.prompt && adj.prompt.answer === null) tx.merge(path, { prompt: { answer: 'kept', answeredAt: now } });
      return { outcome: 'kept', detail: 'kept', changes: [], written: [] };
    }
    const plan = await planChanges(
      tx,
      adj.changes.map((c) => ({ document: c.document, field: c.field, before: c.after, after: c.before })),
    );
    const refused = plan.results.filter((r) => r.outcome !== 'applied');
    if (refused.length > 0) {
      const detail = refused.map((r) => r.detail).join('; ');
      tx.merge(path, { rollbackRefusals: [...(adj.rollbackRefusals ?? []), { at: now, commandId: cmd.commandId, detail }] });
      return { outcome: 'stale', detail, changes: plan.results, written: [] };
    }
    const written = writePlanned(tx, plan);
    tx.merge(path, {
      rolledBack: { at: now, by: cmd.actorId, commandId: cmd.commandId },
      ...(adj.prompt && adj.prompt.answer === null ? { prompt: { answer: 'rolled_back', answeredAt: now } } : {}),
    });
    return { outcome: 'rolled_back', detail: plan.results.map((r) => r.detail).join('; '), changes: plan.results, written };
  });
  if (deps.config instanceof ConfigService && rec.written.length > 0) await deps.config.check(rec.written);
  const fresh = rec.written.length > 0 || rec.outcome === 'stale';
  (rec.outcome === 'stale' ? deps.log.warn.bind(deps.log) : deps.log.notice.bind(deps.log))('suggestion rollback', {
    suggestionId: cmd.suggestionId,
    commandId: cmd.commandId,
    outcome: rec.outcome,
    detail: rec.detail,
  });
  if (fresh) await publishAlert(deps, rollbackResultAlert(cmd.suggestionId, cmd.commandId, rec.outcome === 'stale' ? 'stale' : 'rolled_back', rec.detail, now));
  return { type: 'suggestion_rollback', outcome: rec.outcome, detail: rec.detail, changes: rec.changes };
}
