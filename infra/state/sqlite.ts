/**
 * Embedded StateStore on SQLite (better-sqlite3): the offline default and the CI store.
 *
 * Model: one table `docs(path, collection, id, data JSON, version, updated_at)`. Every committed write
 * (a single `set`, a batch, a transaction) takes a fresh number from a database-wide counter and stamps
 * it as the `version` of each document it writes, so a version never repeats, even across delete and
 * re-create.
 *
 * Transactions are optimistic, like Firestore's: a transaction attempt records the version of every
 * document it reads (0 = absent) and the ids+versions of every query result set, buffers its writes,
 * and commits inside one synchronous `BEGIN IMMEDIATE` SQLite transaction that first re-checks those
 * versions (re-running each query). On a mismatch nothing is written and the user function is run
 * again after a short randomised back-off, up to `maxTransactionAttempts`, then a
 * `TransactionContentionError` is thrown. Because the check and the writes happen under SQLite's
 * write lock, this holds for concurrent async transactions in one process and for several stores
 * (or processes) on the same database file (WAL mode + busy_timeout).
 *
 * Values: JSON only, at most MAX_DOCUMENT_BYTES (1 MiB) of JSON per document (Firestore's limit).
 * `undefined` anywhere in written data is REJECTED (as Firestore does by default), as are non-finite
 * numbers and non-plain objects (Date, Map, class instances), with an error naming the field. Object keys are stored sorted, so map equality in queries does not depend on key order.
 *
 * Queries run in SQL with Firestore's semantics: comparisons are type-aware (numbers compare
 * numerically with numbers only, strings byte-wise with strings only, booleans false < true),
 * `!=` matches documents whose field exists, is not null and differs, `orderBy` excludes documents
 * missing the field and orders mixed types in Firestore's type order (null < boolean < number <
 * string < array < map); like Firestore, results are then ordered by any inequality-filtered fields
 * and finally by document id (so an unordered query lists documents by id). The first `orderBy` on a
 * field creates an expression index for it (see MAX_AUTO_ORDER_INDEXES).
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Clock } from '../../shared/ports/clock.js';
import { systemClock } from '../../shared/ports/clock.js';
import type {
  DocData,
  DocSnapshot,
  JsonValue,
  Query,
  StateStore,
  Transaction,
  Where,
  WriteOp,
} from '../../shared/ports/state.js';
import { splitDocPath } from '../../shared/ports/state.js';

/** Default number of attempts of a contended transaction before giving up. */
const DEFAULT_MAX_TRANSACTION_ATTEMPTS = 30;
/** Back-off between attempts: uniformly random in [0, min(MAX, BASE * 2^attempt)] ms. */
const TRANSACTION_BACKOFF_BASE_MS = 1;
const TRANSACTION_BACKOFF_MAX_MS = 50;
/** How long a connection waits for another connection's write lock before failing. */
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/** Firestore's maximum document size; enforced (on the JSON text) so offline never accepts what the cloud rejects. */
const MAX_DOCUMENT_BYTES = 1_048_576;
/** Firestore's limit on the number of values of an `in` filter; enforced here too for parity. */
const MAX_IN_VALUES = 30;
/**
 * Like Firestore's automatic single-field indexes: the first `orderBy` on a field creates an
 * expression index (collection, type rank, value, id) so ordered/limited queries read only the rows
 * they return. Bounded, because every index costs a JSON parse per write.
 */
const MAX_AUTO_ORDER_INDEXES = 32;
const ORDER_INDEX_PREFIX = 'docs_order_';
/** Prepared statements kept per store (query shapes are few; this only bounds pathological use). */
const STATEMENT_CACHE_SIZE = 256;

const READ_AFTER_WRITE_ERROR =
  'Firestore transactions require all reads to be executed before all writes.';

interface SqliteStateStoreOptions {
  /** Database file, or ':memory:' (private to this store). */
  file: string;
  maxTransactionAttempts?: number;
  /** Stamps `updated_at` (epoch ms). Back-off uses real timers, never this clock. */
  clock?: Clock;
  busyTimeoutMs?: number;
}

/** Thrown when a transaction still conflicts after the allowed number of attempts. */
export class TransactionContentionError extends Error {
  constructor(readonly attempts: number) {
    super(
      `transaction aborted after ${attempts} attempts: documents it read kept changing (contention); ` +
        'retry later or reduce contention on these documents',
    );
    this.name = 'TransactionContentionError';
  }
}

/** Internal signal: a read set changed between read and commit. */
class ConflictError extends Error {
  constructor(what: string) {
    super(`transaction conflict on ${what}`);
    this.name = 'ConflictError';
  }
}

interface DocRow {
  path: string;
  id: string;
  data: string;
  version: number;
}

type Param = string | number;

interface CompiledQuery {
  sql: string;
  params: Param[];
}

// ---------------------------------------------------------------------------------------------
// JSON validation / canonicalisation

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Validates a JSON value and returns a deep copy with object keys sorted. */
function canonical(value: unknown, where: string): JsonValue {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`invalid value at ${where}: ${value} is not a finite number`);
      return Object.is(value, -0) ? 0 : value;
    case 'undefined':
      throw new Error(`invalid value at ${where}: undefined is not allowed in state documents (use null or omit the field)`);
    default:
      break;
  }
  if (Array.isArray(value)) return value.map((v, i) => canonical(v, `${where}[${i}]`));
  if (isPlainObject(value)) {
    const out: { [k: string]: JsonValue } = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical(value[k], where ? `${where}.${k}` : k);
    return out;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new Error(`invalid value at ${where}: ${kind} is not JSON (state documents hold plain JSON)`);
}

function canonicalDoc(data: unknown): DocData {
  if (!isPlainObject(data)) throw new Error('document data must be a plain object');
  const doc = canonical(data, '') as DocData;
  const bytes = Buffer.byteLength(JSON.stringify(doc));
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new Error(`document too large: ${bytes} bytes of JSON (Firestore's limit is ${MAX_DOCUMENT_BYTES})`);
  }
  return doc;
}

function isMap(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Firestore `set(..., {merge: true})`: non-empty maps merge recursively; anything else (scalars,
 * arrays, empty maps) replaces the value at that path.
 */
function deepMerge(base: DocData | undefined, patch: DocData): DocData {
  const out: DocData = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (isMap(v) && Object.keys(v).length > 0) {
      const cur = out[k];
      out[k] = deepMerge(isMap(cur) ? cur : undefined, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function sortKeys(d: DocData): DocData {
  return canonical(d, '') as DocData;
}

// ---------------------------------------------------------------------------------------------
// Query compilation

/** SQL string literal of the JSON path of a dotted field (`a.b` -> `'$."a"."b"'`). */
function jsonPath(field: string): string {
  const segs = field.split('.');
  for (const s of segs) {
    if (s.length === 0 || /["\\]/.test(s)) throw new Error(`invalid field path: ${JSON.stringify(field)}`);
  }
  const p = '$' + segs.map((s) => `."${s}"`).join('');
  return `'${p.replace(/'/g, "''")}'`;
}

const INEQUALITY_OPS = new Set<Where['op']>(['!=', '<', '<=', '>', '>=']);

/** Firestore's order of value types. */
function typeRank(v: JsonValue): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 4;
  if (Array.isArray(v)) return 8;
  return 9;
}

function rankExpr(typeX: string): string {
  return (
    `(CASE ${typeX} WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 ` +
    `WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 4 WHEN 'array' THEN 8 ELSE 9 END)`
  );
}

/** SQL comparable form of a value (booleans as 0/1, composites as canonical JSON text). */
function sqlValue(v: JsonValue, params: Param[]): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number' || typeof v === 'string') {
    params.push(v);
    return '?';
  }
  params.push(JSON.stringify(v));
  return 'json(?)';
}

/** Type-aware equality of the value at (typeX, valX) with `v`. */
function eqClause(typeX: string, valX: string, v: JsonValue, params: Param[]): string {
  if (v === null) return `${typeX} = 'null'`;
  if (typeof v === 'boolean') return `${typeX} = '${v ? 'true' : 'false'}'`;
  if (typeof v === 'number') return `(${typeX} IN ('integer','real') AND ${valX} = ${sqlValue(v, params)})`;
  if (typeof v === 'string') return `(${typeX} = 'text' AND ${valX} = ${sqlValue(v, params)})`;
  const t = Array.isArray(v) ? 'array' : 'object';
  return `(${typeX} = '${t}' AND ${valX} = ${sqlValue(v, params)})`;
}

/** The ORDER BY expressions of a field; identical text in queries and in its expression index. */
function orderExprs(field: string): { typeX: string; valX: string; rank: string } {
  const p = jsonPath(field);
  const typeX = `json_type(data, ${p})`;
  return { typeX, valX: `json_extract(data, ${p})`, rank: rankExpr(typeX) };
}

function whereClause(w: Where, params: Param[]): string {
  const p = jsonPath(w.field);
  const typeX = `json_type(data, ${p})`;
  const valX = `json_extract(data, ${p})`;
  const v = canonical(w.value, `where ${w.field} ${w.op}`);
  switch (w.op) {
    case '==':
      return eqClause(typeX, valX, v, params);
    case '!=':
      if (v === null) return `(${typeX} IS NOT NULL AND ${typeX} != 'null')`;
      return `(${typeX} IS NOT NULL AND ${typeX} != 'null' AND NOT ${eqClause(typeX, valX, v, params)})`;
    case '<':
    case '<=':
    case '>':
    case '>=': {
      let typeOk: string;
      if (typeof v === 'number') typeOk = `${typeX} IN ('integer','real')`;
      else if (typeof v === 'string') typeOk = `${typeX} = 'text'`;
      else if (typeof v === 'boolean') typeOk = `${typeX} IN ('true','false')`;
      else throw new Error(`unsupported range filter ${w.field} ${w.op} ${JSON.stringify(v)}: compare numbers, strings or booleans`);
      return `(${typeOk} AND ${valX} ${w.op} ${sqlValue(v, params)})`;
    }
    case 'in': {
      if (!Array.isArray(v) || v.length === 0) throw new Error(`'in' filter on ${w.field} needs a non-empty array`);
      if (v.length > MAX_IN_VALUES) throw new Error(`'in' filter on ${w.field} allows at most ${MAX_IN_VALUES} values`);
      return `(${v.map((x) => eqClause(typeX, valX, x, params)).join(' OR ')})`;
    }
    case 'array-contains':
      return (
        `(${typeX} = 'array' AND EXISTS (SELECT 1 FROM json_each(docs.data, ${p}) je WHERE ` +
        `${eqClause('je.type', 'je.value', v, params)}))`
      );
    default: {
      const op: never = w.op;
      throw new Error(`unsupported where op: ${String(op)}`);
    }
  }
}

function compileQuery(collection: string, q: Query | undefined): CompiledQuery {
  const params: Param[] = [collection];
  const conds: string[] = ['collection = ?'];
  for (const w of q?.where ?? []) conds.push(whereClause(w, params));
  // Firestore orders by the explicit orderBy, then by the fields of inequality filters (by field path),
  // then by document id, all in the direction of the explicit order (ascending without one).
  const inequalityFields = [
    ...new Set((q?.where ?? []).filter((w) => INEQUALITY_OPS.has(w.op)).map((w) => w.field)),
  ].sort();
  const implicitDir = q?.orderBy?.direction === 'desc' ? 'DESC' : 'ASC';
  const implicitOrder = inequalityFields
    .filter((f) => f !== q?.orderBy?.field)
    .map((f) => {
      const { rank, valX } = orderExprs(f);
      return `${rank} ${implicitDir}, ${valX} ${implicitDir}, `;
    })
    .join('');
  let order = `${implicitOrder}id ${implicitDir}`;
  if (q?.orderBy) {
    const { typeX, valX, rank } = orderExprs(q.orderBy.field);
    const desc = q.orderBy.direction === 'desc';
    const dir = desc ? 'DESC' : 'ASC';
    conds.push(`${typeX} IS NOT NULL`);
    if (q.startAfter !== undefined) {
      const c = canonical(q.startAfter, 'startAfter');
      const r = typeRank(c);
      const cmp = desc ? '<' : '>';
      if (c === null) conds.push(`${rank} ${cmp} ${r}`);
      else conds.push(`(${rank} ${cmp} ${r} OR (${rank} = ${r} AND ${valX} ${cmp} ${sqlValue(c, params)}))`);
    }
    order = `${rank} ${dir}, ${valX} ${dir}, ${order}`;
  } else if (q?.startAfter !== undefined) {
    throw new Error('startAfter requires orderBy');
  }
  let sql = `SELECT path, id, data, version FROM docs WHERE ${conds.join(' AND ')} ORDER BY ${order}`;
  if (q?.limit !== undefined) {
    if (!Number.isInteger(q.limit) || q.limit < 0) throw new Error(`limit must be a non-negative integer: ${q.limit}`);
    sql += ` LIMIT ${q.limit}`;
  }
  return { sql, params };
}

function normPath(path: string): { path: string; collection: string; id: string } {
  const { collection, id } = splitDocPath(path);
  return { path: `${collection}/${id}`, collection, id };
}

function normCollection(collection: string): string {
  const parts = collection.split('/').filter((p) => p.length > 0);
  if (parts.length % 2 !== 1) throw new Error(`not a collection path (needs an odd number of segments): ${collection}`);
  return parts.join('/');
}

function fingerprint(rows: DocRow[]): string {
  return rows.map((r) => `${r.path}@${r.version}`).join('|');
}

function toSnapshots<T>(rows: DocRow[]): DocSnapshot<T>[] {
  return rows.map((r) => ({ id: r.id, path: r.path, data: JSON.parse(r.data) as T }));
}

// ---------------------------------------------------------------------------------------------

interface ReadRecord {
  version: number;
  data: string | undefined;
}

class SqliteTransaction implements Transaction {
  readonly reads = new Map<string, ReadRecord>();
  readonly queries: Array<{ q: CompiledQuery; fp: string }> = [];
  readonly writes: WriteOp[] = [];

  constructor(private readonly store: SqliteStateStore) {}

  private checkNoWrites(): void {
    if (this.writes.length > 0) throw new Error(READ_AFTER_WRITE_ERROR);
  }

  async get<T = DocData>(path: string): Promise<T | undefined> {
    this.checkNoWrites();
    const p = normPath(path).path;
    let rec = this.reads.get(p);
    if (!rec) {
      const row = this.store.readRow(p);
      rec = { version: row?.version ?? 0, data: row?.data };
      this.reads.set(p, rec);
    }
    return rec.data === undefined ? undefined : (JSON.parse(rec.data) as T);
  }

  async query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    this.checkNoWrites();
    const compiled = compileQuery(normCollection(collection), q);
    this.store.ensureOrderIndex(q);
    const rows = this.store.runCompiled(compiled);
    this.queries.push({ q: compiled, fp: fingerprint(rows) });
    return toSnapshots<T>(rows);
  }

  set(path: string, data: DocData): void {
    this.writes.push({ kind: 'set', path: normPath(path).path, data: canonicalDoc(data) });
  }

  merge(path: string, data: DocData): void {
    this.writes.push({ kind: 'merge', path: normPath(path).path, data: canonicalDoc(data) });
  }

  delete(path: string): void {
    this.writes.push({ kind: 'delete', path: normPath(path).path });
  }
}

export class SqliteStateStore implements StateStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly orderIndexed = new Set<string>();
  private readonly stmts = new Map<string, Database.Statement<Param[], DocRow>>();
  private readonly readStmt: Database.Statement<[string], DocRow>;
  private readonly versionStmt: Database.Statement<[string], { version: number }>;
  private readonly nextVersionStmt: Database.Statement<[], { value: number }>;
  private readonly upsertStmt: Database.Statement<[string, string, string, string, number, number]>;
  private readonly insertIfAbsentStmt: Database.Statement<[string, string, string, string, number, number]>;
  private readonly deleteStmt: Database.Statement<[string]>;
  private closed = false;

  constructor(opts: SqliteStateStoreOptions) {
    this.clock = opts.clock ?? systemClock;
    this.maxAttempts = opts.maxTransactionAttempts ?? DEFAULT_MAX_TRANSACTION_ATTEMPTS;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new Error(`maxTransactionAttempts must be a positive integer: ${opts.maxTransactionAttempts}`);
    }
    this.db = new Database(opts.file, { timeout: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    if (opts.file !== ':memory:' && opts.file !== '') this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS docs (
        path TEXT PRIMARY KEY,
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS docs_collection_id ON docs(collection, id);
      CREATE TABLE IF NOT EXISTS state_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO state_meta(key, value) VALUES ('version', 0);
    `);
    this.readStmt = this.db.prepare('SELECT path, id, data, version FROM docs WHERE path = ?');
    this.versionStmt = this.db.prepare('SELECT version FROM docs WHERE path = ?');
    this.nextVersionStmt = this.db.prepare(
      "UPDATE state_meta SET value = value + 1 WHERE key = 'version' RETURNING value",
    );
    this.upsertStmt = this.db.prepare(
      `INSERT INTO docs(path, collection, id, data, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(path) DO UPDATE SET data = excluded.data, version = excluded.version, updated_at = excluded.updated_at`,
    );
    this.insertIfAbsentStmt = this.db.prepare(
      `INSERT INTO docs(path, collection, id, data, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(path) DO NOTHING`,
    );
    this.deleteStmt = this.db.prepare('DELETE FROM docs WHERE path = ?');
  }

  // --- internals used by transactions -------------------------------------------------------

  /** @internal */
  readRow(path: string): DocRow | undefined {
    this.assertOpen();
    return this.readStmt.get(path);
  }

  /** @internal */
  runCompiled(q: CompiledQuery): DocRow[] {
    this.assertOpen();
    let stmt = this.stmts.get(q.sql);
    if (!stmt) {
      stmt = this.db.prepare<Param[], DocRow>(q.sql);
      if (this.stmts.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.stmts.keys().next().value;
        if (oldest !== undefined) this.stmts.delete(oldest);
      }
      this.stmts.set(q.sql, stmt);
    }
    return stmt.all(...q.params);
  }

  /** @internal Creates the expression index for ordering by `field` (once per field). */
  ensureOrderIndex(q: Query | undefined): void {
    const field = q?.orderBy?.field;
    if (field === undefined || this.orderIndexed.has(field)) return;
    const { valX, rank } = orderExprs(field);
    const name = ORDER_INDEX_PREFIX + createHash('sha256').update(field).digest('hex').slice(0, 16);
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name);
    if (!exists) {
      const count = this.db
        .prepare<[string], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name LIKE ?")
        .get(`${ORDER_INDEX_PREFIX}%`);
      if ((count?.n ?? 0) >= MAX_AUTO_ORDER_INDEXES) {
        this.orderIndexed.add(field);
        return;
      }
      this.db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON docs(collection, ${rank}, ${valX}, id)`);
    }
    this.orderIndexed.add(field);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteStateStore is closed');
  }

  /** Applies writes under the write lock (caller is inside a transaction). */
  private applyWrites(ops: WriteOp[]): void {
    const version = this.nextVersionStmt.get()?.value;
    if (version === undefined) throw new Error('state_meta version row missing');
    const now = this.clock.now();
    for (const op of ops) {
      const { path, collection, id } = normPath(op.path);
      if (op.kind === 'delete') {
        this.deleteStmt.run(path);
        continue;
      }
      let data: DocData;
      if (op.kind === 'merge') {
        const cur = this.readStmt.get(path);
        data = sortKeys(deepMerge(cur ? (JSON.parse(cur.data) as DocData) : undefined, op.data));
      } else {
        data = op.data;
      }
      this.upsertStmt.run(path, collection, id, JSON.stringify(data), version, now);
    }
  }

  private writeAtomically(ops: WriteOp[]): void {
    this.assertOpen();
    const validated: WriteOp[] = ops.map((op) =>
      op.kind === 'delete'
        ? { kind: 'delete', path: normPath(op.path).path }
        : { kind: op.kind, path: normPath(op.path).path, data: canonicalDoc(op.data) },
    );
    if (validated.length === 0) return;
    this.db.transaction(() => this.applyWrites(validated)).immediate();
  }

  private commit(tx: SqliteTransaction): void {
    this.assertOpen();
    this.db
      .transaction(() => {
        for (const [path, rec] of tx.reads) {
          const now = this.versionStmt.get(path)?.version ?? 0;
          if (now !== rec.version) throw new ConflictError(path);
        }
        for (const { q, fp } of tx.queries) {
          if (fingerprint(this.runCompiled(q)) !== fp) throw new ConflictError('a query result set');
        }
        if (tx.writes.length > 0) this.applyWrites(tx.writes);
      })
      .immediate();
  }

  // --- StateStore ----------------------------------------------------------------------------

  async get<T = DocData>(path: string): Promise<T | undefined> {
    const row = this.readRow(normPath(path).path);
    return row ? (JSON.parse(row.data) as T) : undefined;
  }

  async set(path: string, data: DocData): Promise<void> {
    this.writeAtomically([{ kind: 'set', path, data }]);
  }

  async merge(path: string, data: DocData): Promise<void> {
    this.writeAtomically([{ kind: 'merge', path, data }]);
  }

  async delete(path: string): Promise<void> {
    this.writeAtomically([{ kind: 'delete', path }]);
  }

  async query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    const compiled = compileQuery(normCollection(collection), q);
    this.assertOpen();
    this.ensureOrderIndex(q);
    return toSnapshots<T>(this.runCompiled(compiled));
  }

  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tx = new SqliteTransaction(this);
      const result = await fn(tx);
      try {
        this.commit(tx);
        return result;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        if (attempt >= this.maxAttempts) throw new TransactionContentionError(attempt);
      }
      const cap = Math.min(TRANSACTION_BACKOFF_MAX_MS, TRANSACTION_BACKOFF_BASE_MS * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
    }
  }

  async batch(ops: WriteOp[]): Promise<void> {
    this.writeAtomically(ops);
  }

  async create(path: string, data: DocData): Promise<boolean> {
    this.assertOpen();
    const { path: p, collection, id } = normPath(path);
    const doc = JSON.stringify(canonicalDoc(data));
    return this.db
      .transaction(() => {
        const version = this.nextVersionStmt.get()?.value;
        if (version === undefined) throw new Error('state_meta version row missing');
        return this.insertIfAbsentStmt.run(p, collection, id, doc, version, this.clock.now()).changes === 1;
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.db.close();
  }
}
