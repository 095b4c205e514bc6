/**
 * Renamed and retired keys of stored config documents. A document stored before a rename (the
 * owner's `config/{name}` or the recorded last valid config) is rewritten to the current shape BEFORE
 * it is merged and validated (shared/config/service.ts validateConfigDocument), so a deploy that
 * renames a key never turns a deployed config into a rejected one, and never drops an owner's value:
 *
 * config/paper (issue 10, maker/taker costs):
 *   fees.scalpPctPerSide  -> costs.conservative.scalpPctPerSide  (the flat fee is now the conservative profile's)
 *   fees.swingPctPerSide  -> costs.conservative.swingPctPerSide
 *   scalpSlippagePct      -> costs.scalpSlippagePct
 *   fees that differ from the old defaults (0.06 / 0.3): also costs.profile = conservative, so the
 *   owner's tuned flat fees stay in force (seeded documents with the defaults move to maker_taker)
 * config/macro:
 *   costs.takerFeePct     retired: it was never read (the swing fee was paper `fees.swingPctPerSide`);
 *                         the Kraken fees are config/paper `costs.kraken`. Dropped whatever its value,
 *                         which changes nothing that ran.
 *
 * A document that names a key under BOTH its old and its new name with different values is rejected
 * with a message naming both (which one the owner meant cannot be known).
 */

type Doc = Record<string, unknown>;

export interface Migrated {
  doc: unknown;
  /** One line per conflict (the document is rejected with them). */
  errors: string[];
}

function isObject(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Moves `from` (a path) to `to` in a copy of `doc`; records a conflict when both are set and differ. */
function move(doc: Doc, from: string[], to: string[], errors: string[]): void {
  let src: Doc = doc;
  for (const k of from.slice(0, -1)) {
    const next = src[k];
    if (!isObject(next)) return;
    src = next;
  }
  const leaf = from[from.length - 1] as string;
  if (!(leaf in src)) return;
  const value = src[leaf];
  delete src[leaf];
  let dst: Doc = doc;
  for (const k of to.slice(0, -1)) {
    const next = dst[k];
    if (next === undefined) dst[k] = {};
    else if (!isObject(next)) {
      errors.push(`${from.join('.')}: renamed to ${to.join('.')}, but ${to.slice(0, to.indexOf(k) + 1).join('.')} is not an object`);
      return;
    }
    dst = dst[k] as Doc;
  }
  const target = to[to.length - 1] as string;
  if (target in dst && dst[target] !== value) {
    errors.push(`${from.join('.')}: renamed to ${to.join('.')}; the document sets both (${JSON.stringify(value)} and ${JSON.stringify(dst[target])}): remove ${from.join('.')}`);
    return;
  }
  dst[target] = value;
}

function dropEmpty(doc: Doc, key: string): void {
  const v = doc[key];
  if (isObject(v) && Object.keys(v).length === 0) delete doc[key];
}

/** The flat fees every deployment had before the maker/taker keys (the plans' figures, the old defaults). */
const OLD_DEFAULT_FEES: Readonly<Doc> = { scalpPctPerSide: 0.06, swingPctPerSide: 0.3 };

function migratePaper(raw: unknown): Migrated {
  if (!isObject(raw) || !('fees' in raw || 'scalpSlippagePct' in raw)) return { doc: raw, errors: [] };
  const doc = structuredClone(raw);
  const errors: string[] = [];
  // An owner who TUNED the flat fees (e.g. a VIP tier) keeps them in force: the profile becomes
  // `conservative` (unless the document names one). A document holding the old defaults (every seeded
  // deployment) moves to the SPEC default, maker_taker.
  const fees = doc.fees;
  const tuned = isObject(fees) && Object.entries(fees).some(([k, v]) => k in OLD_DEFAULT_FEES && v !== OLD_DEFAULT_FEES[k]);
  if (tuned && !(isObject(doc.costs) && 'profile' in doc.costs)) {
    if (doc.costs === undefined) doc.costs = {};
    if (isObject(doc.costs)) doc.costs.profile = 'conservative';
  }
  move(doc, ['fees', 'scalpPctPerSide'], ['costs', 'conservative', 'scalpPctPerSide'], errors);
  move(doc, ['fees', 'swingPctPerSide'], ['costs', 'conservative', 'swingPctPerSide'], errors);
  move(doc, ['scalpSlippagePct'], ['costs', 'scalpSlippagePct'], errors);
  dropEmpty(doc, 'fees');
  return { doc, errors };
}

function migrateMacro(raw: unknown): Migrated {
  if (!isObject(raw) || !isObject(raw.costs) || !('takerFeePct' in raw.costs)) return { doc: raw, errors: [] };
  const doc = structuredClone(raw);
  delete (doc.costs as Doc).takerFeePct;
  dropEmpty(doc, 'costs');
  return { doc, errors: [] };
}

/** The migration of each document that has one (by document name). */
export const CONFIG_MIGRATIONS: Readonly<Record<string, (raw: unknown) => Migrated>> = {
  paper: migratePaper,
  macro: migrateMacro,
};

/** `raw` in the current shape of document `name` (unchanged when nothing was renamed). */
export function migrateConfigDocument(name: string, raw: unknown): Migrated {
  const m = CONFIG_MIGRATIONS[name];
  return m ? m(raw) : { doc: raw, errors: [] };
}
