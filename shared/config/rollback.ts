/**
 * Rolling back a config edit: the owner's "undo" for a document edited in the Firestore console.
 * Every applied or rejected edit has a change record (`config_changes/{id}`, written by ConfigService
 * with the config in force before and after it). A rollback writes the `before` of an applied change
 * back as the document; the ConfigService then validates it like any edit, records its own change and
 * raises one `config_applied` alert, so a rollback is itself on the record and can be rolled back.
 */
import type { DocData, StateStore } from '../ports/state.js';
import { CONFIG_CHANGES_COLLECTION, configChangePath, configStatePath } from '../state-paths.js';
import { CONFIG_DOCUMENTS, isConfigDocName, type ConfigDocName } from './documents.js';
import { hashDocument, type ConfigStateDoc } from './service.js';

/** A change record as the rollback reads it (ConfigService writes it: shared/config/service.ts). */
export interface ConfigChange {
  id: string;
  name: ConfigDocName;
  seq: number;
  outcome: 'initial' | 'applied' | 'rejected';
  ts: number;
  before: DocData | null;
  after: DocData;
  message: string;
}

function asChange(id: string, d: DocData | undefined): ConfigChange | undefined {
  if (!d || typeof d.name !== 'string' || !isConfigDocName(d.name) || typeof d.seq !== 'number' || typeof d.ts !== 'number') return undefined;
  if (d.outcome !== 'initial' && d.outcome !== 'applied' && d.outcome !== 'rejected') return undefined;
  return {
    id,
    name: d.name,
    seq: d.seq,
    outcome: d.outcome,
    ts: d.ts,
    before: (d.before as DocData | null | undefined) ?? null,
    after: (d.after as DocData | undefined) ?? {},
    message: typeof d.message === 'string' ? d.message : '',
  };
}

/** The change records, newest first (of one document when `name` is given). */
export async function configHistory(state: StateStore, o: { name?: ConfigDocName; limit?: number } = {}): Promise<ConfigChange[]> {
  const docs = await state.query(CONFIG_CHANGES_COLLECTION, {
    ...(o.name ? { where: [{ field: 'name', op: '==', value: o.name }] } : {}),
  });
  return docs
    .map((s) => asChange(s.id, s.data))
    .filter((c): c is ConfigChange => c !== undefined)
    .sort((a, b) => b.ts - a.ts || b.seq - a.seq)
    .slice(0, o.limit ?? 50);
}

export type RollbackResult =
  | { ok: true; change: ConfigChange; path: string; restored: DocData; undone: ConfigChange[] }
  | { ok: false; reason: string };

/**
 * Writes the config in force before change `id` back as its document. Refuses a change that was not
 * applied (a rejected edit never ran; a first version has nothing before it), and, unless `force`, one
 * with later applied changes of the same document (they would be undone too: they are listed) or a
 * document holding an edit the config service has not checked yet (it would be lost unrecorded).
 */
export async function rollbackConfig(state: StateStore, id: string, o: { force?: boolean } = {}): Promise<RollbackResult> {
  const change = asChange(id, await state.get(configChangePath(id)));
  if (!change) return { ok: false, reason: `no config change "${id}" (list them with: npm run config -- history)` };
  if (change.outcome !== 'applied' || change.before === null) {
    return {
      ok: false,
      reason:
        change.outcome === 'rejected'
          ? `change ${id} was rejected: it never ran, the config in force is the one before it`
          : `change ${id} is the first version of "${change.name}": there is nothing before it to go back to`,
    };
  }
  const later = (await configHistory(state, { name: change.name, limit: 1_000 })).filter((c) => c.outcome === 'applied' && c.seq > change.seq);
  if (later.length > 0 && !o.force) {
    return {
      ok: false,
      reason: `"${change.name}" changed again after ${id} (${later.map((c) => c.id).join(', ')}); roll back the newest first, or pass --force to go back to before ${id} and undo them all`,
    };
  }
  const path = (CONFIG_DOCUMENTS[change.name] as { path: string }).path;
  const before = change.before;
  // In one transaction with what it checks: the document must be one the config service has recorded
  // (applied or rejected), or an owner's edit not yet checked (config-check runs each minute) would be
  // overwritten with no record of it.
  const unchecked = await state.runTransaction(async (t) => {
    const [raw, st] = await Promise.all([t.get(path), t.get<ConfigStateDoc>(configStatePath(change.name))]);
    if (raw !== undefined && !o.force) {
      const h = hashDocument(raw);
      if (h !== st?.appliedHash && h !== st?.rejectedHash) return true;
    }
    t.set(path, before);
    return false;
  });
  if (unchecked) {
    return {
      ok: false,
      reason: `${path} holds an edit the config service has not checked yet (config-check runs each minute): wait a minute and look at the history again, or pass --force to overwrite that edit`,
    };
  }
  return { ok: true, change, path, restored: before, undone: later };
}
