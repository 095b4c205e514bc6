/**
 * Owner trade commands (`trade-commands`, shared/telegram/trade-commands.ts) applied by the execution
 * function. Every command is idempotent by its deterministic `commandId` (`tg:{update_id}`).
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
 */
import { CONFIG_DOCUMENTS, isConfigDocName, type ConfigDocName } from '../../config/documents.js';
import { ConfigService, mergedConfigDocument, validateConfigDocument, type ConfigStateDoc } from '../../config/service.js';
import type { DocData, JsonValue, StateStore } from '../../ports/state.js';
import { tradingConfigFrom } from '../../trading/model.js';
import { TradingStore, type StoreCommandResult } from '../../trading/store.js';
import { LiveLink, settle, type ExecutionDeps } from '../execution.js';
import { PAPER_ACCOUNT_ID } from '../../model/trading.js';
import type { TradeCommand } from '../../messages.js';
import { configNameOf, configPath, configStatePath, mlSuggestionPath, suggestionPath } from '../../state-paths.js';

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

export type CommandOutcome =
  | { type: 'pause' | 'resume' | 'move_tp'; applied: boolean; outcome: string; detail: string; events: number }
  | { type: 'suggestion_decided'; outcome: 'recorded' | 'already_decided' | 'unknown'; status: 'approved' | 'rejected' | null; changes: ChangeResult[] };

function tradingStore(deps: ExecutionDeps, cfg: ReturnType<typeof tradingConfigFrom>): TradingStore {
  return new TradingStore(deps.state, { accountId: deps.accountId ?? PAPER_ACCOUNT_ID, config: cfg });
}

/** The core's decision on a pause / resume / move TP (one TradingStore transaction, idempotent by commandId). */
function applyOwnerCommand(store: TradingStore, cmd: Exclude<TradeCommand, { type: 'suggestion_decided' }>, now: number): Promise<StoreCommandResult> {
  const ref = { commandId: cmd.commandId, actorId: cmd.actorId, ts: cmd.ts };
  if (cmd.type === 'pause') return store.pause(ref, now);
  if (cmd.type === 'resume') return store.resumeCommand(ref, now);
  return store.moveTakeProfit({ ...ref, groupId: cmd.groupId, symbol: cmd.symbol, takeProfit: cmd.takeProfit }, now);
}

/** Applies one owner command (validated with tradeCommandSchema at the edge): decided in the core, then settled (published, carried out live). */
export async function executeTradeCommand(deps: ExecutionDeps, cmd: TradeCommand): Promise<CommandOutcome> {
  if (cmd.type === 'suggestion_decided') return decideSuggestion(deps, cmd);
  const cfg = tradingConfigFrom(await deps.config.strategies());
  const store = tradingStore(deps, cfg);
  const link = new LiveLink(deps);
  const now = deps.clock.now();
  const r = await applyOwnerCommand(store, cmd, now);
  deps.log.info('owner command', { commandId: cmd.commandId, type: cmd.type, outcome: r.outcome, detail: r.detail, redelivery: !r.applied });
  await settle(deps, link, store, r, now);
  if (cmd.type === 'move_tp' && r.outcome !== 'applied' && r.outcome !== 'unchanged') {
    deps.log.warn('move TP not carried out', { commandId: cmd.commandId, groupId: cmd.groupId, outcome: r.outcome, detail: r.detail });
  }
  return { type: cmd.type, applied: r.applied, outcome: r.outcome, detail: r.detail, events: r.events.length };
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

/** Writes one approved value into its config document (transaction), after the same checks ConfigService makes. */
async function applyChange(state: StateStore, c: ProposedChange): Promise<ChangeResult> {
  const name = docName(c.document);
  if (!name) return { ...c, outcome: 'not_config', detail: `${c.document} is not an owner-editable config document` };
  const def = CONFIG_DOCUMENTS[name];
  return state.runTransaction(async (tx) => {
    // What the stored (possibly partial) document means: merged over the last valid version, as
    // ConfigService reads it; the full merged document is written back with the one field changed.
    const lastValid = (await tx.get<ConfigStateDoc>(configStatePath(name)))?.lastValid ?? null;
    const stored = await tx.get<DocData>(def.path);
    const merged = mergedConfigDocument(name, stored ?? {}, lastValid);
    if (merged.errors.length > 0) return { ...c, outcome: 'invalid' as const, detail: `${def.path} does not validate: ${merged.errors.join('; ')}` };
    const raw = JSON.parse(JSON.stringify(merged.doc)) as DocData;
    const current = getField(raw, c.field);
    if (current === undefined) return { ...c, outcome: 'not_config' as const, detail: `${def.path} has no field ${c.field}` };
    if (sameValue(current, c.after)) return { ...c, outcome: 'applied' as const, detail: `${def.path} ${c.field} is already ${JSON.stringify(c.after)}` };
    if (c.before !== null && !sameValue(current, c.before)) {
      return { ...c, outcome: 'stale' as const, detail: `${def.path} ${c.field} is ${JSON.stringify(current)}, not the suggestion's ${JSON.stringify(c.before)}: edited since, not overwritten` };
    }
    const next = withField(raw, c.field, c.after);
    if (!next) return { ...c, outcome: 'not_config' as const, detail: `${def.path} has no field ${c.field}` };
    const parsed = validateConfigDocument(name, next, lastValid);
    if (!parsed.success) {
      return { ...c, outcome: 'invalid' as const, detail: `${def.path} would not validate: ${parsed.errors.join('; ')}` };
    }
    tx.set(def.path, next);
    return { ...c, outcome: 'applied' as const, detail: `${def.path} ${c.field}: ${JSON.stringify(current)} -> ${JSON.stringify(c.after)}` };
  });
}

/**
 * Records the owner's decision at `suggestions/{id}` and, when approved, applies its config changes
 * (see the header). Idempotent by commandId: a redelivery re-applies only what is not applied yet.
 */
async function decideSuggestion(deps: ExecutionDeps, cmd: Extract<TradeCommand, { type: 'suggestion_decided' }>): Promise<CommandOutcome> {
  const now = deps.clock.now();
  const path = suggestionPath(cmd.suggestionId);
  const changes = await proposedChanges(deps.state, cmd.suggestionId);
  if (changes === null) {
    deps.log.warn('suggestion decided but unknown here: recorded only', { suggestionId: cmd.suggestionId, commandId: cmd.commandId });
  }
  const status = cmd.approved ? 'approved' : 'rejected';
  const rec = await deps.state.runTransaction(async (tx) => {
    const cur = await tx.get<Partial<SuggestionDecisionDoc> & { status?: string }>(path);
    if (cur && (cur.status === 'approved' || cur.status === 'rejected')) {
      return { mine: cur.commandId === cmd.commandId, status: cur.status, applied: cur.applied ?? null };
    }
    const decision: Omit<SuggestionDecisionDoc, 'id'> & { id: string } = {
      id: cmd.suggestionId,
      status,
      decidedAt: cmd.ts,
      decidedBy: cmd.actorId,
      commandId: cmd.commandId,
      recordedAt: now,
      applied: null,
      appliedAt: null,
    };
    tx.merge(path, { ...(cur ? {} : { source: changes === null ? 'unknown' : mlSuggestionPath(cmd.suggestionId), changes: (changes ?? []) as unknown as JsonValue }), ...decision } as unknown as DocData);
    return { mine: true, status, applied: null };
  });
  if (!rec.mine) {
    deps.log.info('suggestion already decided by another command', { suggestionId: cmd.suggestionId, status: rec.status, commandId: cmd.commandId });
    return { type: 'suggestion_decided', outcome: 'already_decided', status: rec.status as 'approved' | 'rejected', changes: rec.applied ?? [] };
  }
  if (rec.status !== 'approved' || changes === null) {
    return { type: 'suggestion_decided', outcome: changes === null ? 'unknown' : 'recorded', status: rec.status as 'approved' | 'rejected', changes: [] };
  }
  if (rec.applied) return { type: 'suggestion_decided', outcome: 'recorded', status: 'approved', changes: rec.applied };

  const results: ChangeResult[] = [];
  for (const c of changes) results.push(await applyChange(deps.state, c));
  // ConfigService validates the written documents now, records the change and raises config_applied
  const written = [...new Set(results.filter((r) => r.outcome === 'applied').map((r) => docName(r.document)).filter((n): n is ConfigDocName => n !== null))];
  if (deps.config instanceof ConfigService && written.length > 0) await deps.config.check(written);
  await deps.state.merge(path, { applied: results as unknown as JsonValue, appliedAt: now });
  for (const r of results) {
    (r.outcome === 'applied' ? deps.log.notice.bind(deps.log) : deps.log.warn.bind(deps.log))('approved suggestion', {
      suggestionId: cmd.suggestionId,
      document: r.document,
      field: r.field,
      outcome: r.outcome,
      detail: r.detail,
    });
  }
  return { type: 'suggestion_decided', outcome: 'recorded', status: 'approved', changes: results };
}
