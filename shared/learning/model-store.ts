/**
 * The learning loop's state (SPEC 8) through the state port: the model in force per strategy
 * (`models/{strategy}`), every trained version (`models/{strategy}/versions/{n}`), and the retraining
 * cursor (`learning/{strategy}`). Every read validates (a bad stored document is an error naming its
 * path and the issue, never half-read); every run's writes are ONE transaction, idempotent on retry:
 * the same run id, or a version already stored, changes nothing.
 */
import { z } from 'zod';
import type { DocData, StateStore } from '../ports/state.js';
import { learningStatePath, modelPath, modelVersionPath } from '../state-paths.js';
import type { StrategyId } from '../model/trading.js';
import { REPLACEMENT_OUTCOMES, storedModelSchema, type ReplacementOutcome, type StoredModel } from './types.js';

/** The retraining cursor of one strategy (`learning/{strategy}`). */
export const learningCursorSchema = z.strictObject({
  /** Trainings so far (the last candidate's n; the next is n + 1). */
  n: z.number().int().min(0),
  lastRunAt: z.number().int().nullable(),
  /** The run that wrote this cursor last (a retried run with the same id changes nothing). */
  lastRunId: z.string().nullable(),
  lastOutcome: z.enum(REPLACEMENT_OUTCOMES).nullable(),
  /** Completed trades seen by the last run (the next run trains with >= minNewTrades more). */
  tradesSeen: z.number().int().min(0),
  /** Latest exit time among them (epoch ms), null before any. */
  lastExitTime: z.number().int().nullable(),
  /** A candidate kept out only because its features changed: waits for the owner's approval. */
  pending: z.strictObject({ version: z.string().min(1), reason: z.string() }).nullable(),
});
export type LearningCursor = z.infer<typeof learningCursorSchema>;

export const EMPTY_CURSOR: LearningCursor = { n: 0, lastRunAt: null, lastRunId: null, lastOutcome: null, tradesSeen: 0, lastExitTime: null, pending: null };

type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; ');
}

function parse<T>(schema: z.ZodType<T>, path: string, doc: unknown): Loaded<T> {
  const p = schema.safeParse(doc);
  return p.success ? { ok: true, value: p.data } : { ok: false, error: `${path} is not a valid stored document (${issues(p.error)}); fix or delete it` };
}

/** The model in force of a strategy: null when none; an error naming the path and the issue when the stored document is bad. */
export async function loadModel(state: Pick<StateStore, 'get'>, strategy: StrategyId): Promise<Loaded<StoredModel | null>> {
  const path = modelPath(strategy);
  const doc = await state.get(path);
  return doc === undefined ? { ok: true, value: null } : parse(storedModelSchema, path, doc);
}

export async function loadCursor(state: Pick<StateStore, 'get'>, strategy: StrategyId): Promise<Loaded<LearningCursor>> {
  const path = learningStatePath(strategy);
  const doc = await state.get(path);
  return doc === undefined ? { ok: true, value: EMPTY_CURSOR } : parse(learningCursorSchema, path, doc);
}

/** What one retraining run of one strategy decided (shared/learning/retrain.ts builds it). */
export interface RunRecord {
  runId: string;
  strategy: StrategyId;
  now: number;
  /** The trained candidate (null: nothing trained: not_enough_trades / untrainable). */
  candidate: StoredModel | null;
  outcome: ReplacementOutcome;
  replace: boolean;
  tradesSeen: number;
  lastExitTime: number | null;
  detail: string;
}

export interface SaveResult {
  /** false: this run (or this version) was already stored; nothing written. */
  applied: boolean;
  cursor: LearningCursor;
  detail: string;
}

const doc = (x: unknown): DocData => JSON.parse(JSON.stringify(x)) as DocData;

/**
 * Stores a run in ONE transaction: the candidate's version document (with its forest when it
 * replaced the model in force or waits for the owner's approval; metadata only otherwise), the model
 * in force when it replaced it, and the cursor. Not trained (no candidate): the cursor only, and only
 * `lastRunAt` / `lastRunId` / `lastOutcome` move (tradesSeen stays, so the new trades keep counting).
 */
export async function saveRun(state: StateStore, r: RunRecord): Promise<SaveResult> {
  const cursorPath = learningStatePath(r.strategy);
  return state.runTransaction(async (tx) => {
    const raw = await tx.get(cursorPath);
    const c = raw === undefined ? { ok: true as const, value: EMPTY_CURSOR } : parse(learningCursorSchema, cursorPath, raw);
    if (!c.ok) throw new Error(c.error);
    const cur = c.value;
    if (cur.lastRunId === r.runId) return { applied: false, cursor: cur, detail: `run ${r.runId} already stored` };
    const cand = r.candidate;
    if (cand) {
      if (cand.strategy !== r.strategy) throw new Error(`saveRun: candidate ${cand.version} is not a ${r.strategy} model`);
      const vPath = modelVersionPath(r.strategy, cand.n);
      if ((await tx.get(vPath)) !== undefined || cand.n <= cur.n) return { applied: false, cursor: cur, detail: `version ${cand.version} already stored` };
      const pendingNow = r.outcome === 'features_changed';
      const keepForest = r.replace || pendingNow;
      const { forest, ...meta } = cand;
      tx.set(vPath, doc({ ...(keepForest && forest !== undefined ? { ...meta, forest } : meta), outcome: r.outcome, runId: r.runId }));
      if (r.replace) tx.set(modelPath(r.strategy), doc(cand));
      const next: LearningCursor = {
        n: cand.n,
        lastRunAt: r.now,
        lastRunId: r.runId,
        lastOutcome: r.outcome,
        tradesSeen: r.tradesSeen,
        lastExitTime: r.lastExitTime,
        pending: pendingNow ? { version: cand.version, reason: r.detail } : r.replace ? null : cur.pending,
      };
      tx.set(cursorPath, doc(next));
      return { applied: true, cursor: next, detail: r.detail };
    }
    const next: LearningCursor = { ...cur, lastRunAt: r.now, lastRunId: r.runId, lastOutcome: r.outcome };
    tx.set(cursorPath, doc(next));
    return { applied: true, cursor: next, detail: r.detail };
  });
}

/** The stored version documents keep `outcome` and `runId` beside the model's fields. */
const versionDocSchema = storedModelSchema.extend({ outcome: z.enum(REPLACEMENT_OUTCOMES), runId: z.string() });

/**
 * The owner approves a pending feature change: the pending candidate `version` becomes the model in
 * force (outcome owner_approved), in one transaction. Approving the version already in force again
 * changes nothing (applied false); anything else is refused with the reason.
 */
export async function approveFeatureChange(
  state: StateStore,
  strategy: StrategyId,
  version: string,
  now: number,
): Promise<{ ok: true; applied: boolean; detail: string } | { ok: false; error: string }> {
  const cursorPath = learningStatePath(strategy);
  return state.runTransaction(async (tx) => {
    const raw = await tx.get(cursorPath);
    const c = raw === undefined ? { ok: true as const, value: EMPTY_CURSOR } : parse(learningCursorSchema, cursorPath, raw);
    if (!c.ok) return { ok: false as const, error: c.error };
    const inForceRaw = await tx.get(modelPath(strategy));
    const inForce = inForceRaw === undefined ? null : parse(storedModelSchema, modelPath(strategy), inForceRaw);
    const pending = c.value.pending;
    if (!pending || pending.version !== version) {
      if (inForce?.ok && inForce.value.version === version) return { ok: true as const, applied: false, detail: `${version} is already the model in force` };
      return { ok: false as const, error: pending ? `the pending feature change of ${strategy} is ${pending.version}, not ${version}` : `${strategy} has no feature change waiting for approval` };
    }
    const n = Number(version.slice(version.lastIndexOf('@') + 1));
    const vPath = modelVersionPath(strategy, n);
    const v = parse(versionDocSchema, vPath, await tx.get(vPath));
    if (!v.ok) return { ok: false as const, error: v.error };
    const { outcome: _o, runId: _r, ...model } = v.value;
    if (model.version !== version || model.forest === undefined) return { ok: false as const, error: `${vPath} does not hold the forest of ${version}` };
    tx.set(modelPath(strategy), doc(model));
    tx.set(vPath, doc({ ...v.value, outcome: 'owner_approved' }));
    tx.set(cursorPath, doc({ ...c.value, pending: null, lastOutcome: 'owner_approved', lastRunAt: now }));
    return { ok: true as const, applied: true, detail: `${version} (features ${model.featureVersion}) is now the model in force of ${strategy}: the owner approved the feature change` };
  });
}
