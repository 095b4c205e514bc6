/**
 * StateStore on Cloud Firestore (`@google-cloud/firestore` v8), also against the Firestore emulator:
 * the client honours FIRESTORE_EMULATOR_HOST by itself.
 *
 * The port maps 1:1: get -> DocumentReference.get, set -> set, merge -> set(..., {merge: true}),
 * delete -> delete, query -> where/orderBy/limit/startAfter, runTransaction -> Firestore.runTransaction
 * (Firestore retries contended transactions itself; reads-before-writes is enforced by the client),
 * batch -> WriteBatch (Firestore allows at most 500 writes per batch), create -> DocumentReference.create
 * (gRPC ALREADY_EXISTS -> false), close -> terminate (only for a client this store created).
 *
 * Written data is checked the same way as the SQLite adapter does: `undefined`, non-finite numbers and
 * non-plain objects are rejected with an error naming the field. Returned data is plain JSON:
 * Timestamps become epoch ms, references their path, GeoPoints {latitude, longitude}, bytes base64.
 */
import {
  DocumentReference,
  Firestore,
  GeoPoint,
  Timestamp,
  VectorValue,
} from '@google-cloud/firestore';
import type {
  Query as FsQuery,
  Settings,
  Transaction as FsTransaction,
} from '@google-cloud/firestore';
import type {
  DocData,
  DocSnapshot,
  JsonValue,
  Query,
  StateStore,
  Transaction,
  WriteOp,
} from '../../shared/ports/state.js';
import { splitDocPath } from '../../shared/ports/state.js';

/** gRPC status code Firestore returns when `create` finds the document already there. */
const GRPC_ALREADY_EXISTS = 6;
const DEFAULT_UNIVERSE_DOMAIN = 'googleapis.com';
/** Firestore client's own default number of transaction attempts. */
const DEFAULT_FIRESTORE_TRANSACTION_ATTEMPTS = 5;

interface FirestoreStateStoreOptions {
  /** Wrap an existing client (not terminated by `close()`: its owner terminates it). */
  firestore?: Firestore;
  /** For a new client. Ignored when `firestore` is given. */
  projectId?: string;
  /** Extra client settings for a new client (databaseId, host, ssl...). */
  settings?: Settings;
  maxTransactionAttempts?: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Rejects values that are not JSON (same rule as the SQLite adapter). */
function assertJson(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid value at ${where}: ${value} is not a finite number`);
    return;
  }
  if (value === undefined) {
    throw new Error(`invalid value at ${where}: undefined is not allowed in state documents (use null or omit the field)`);
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertJson(v, `${where}[${i}]`));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) assertJson(v, where ? `${where}.${k}` : k);
    return;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new Error(`invalid value at ${where}: ${kind} is not JSON (state documents hold plain JSON)`);
}

function checkDoc(data: unknown): DocData {
  if (!isPlainObject(data)) throw new Error('document data must be a plain object');
  assertJson(data, '');
  return data as DocData;
}

/** Firestore values -> plain JSON. */
function toPlainJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Timestamp) return v.toMillis();
  if (v instanceof DocumentReference) return v.path;
  if (v instanceof GeoPoint) return { latitude: v.latitude, longitude: v.longitude };
  if (v instanceof VectorValue) return v.toArray();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(toPlainJson);
  if (typeof v === 'object') {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toPlainJson(x);
    return out;
  }
  throw new Error(`unsupported Firestore value of type ${typeof v}`);
}

function plainDoc<T>(data: Record<string, unknown> | undefined): T | undefined {
  return data === undefined ? undefined : (toPlainJson(data) as T);
}

function isAlreadyExists(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === GRPC_ALREADY_EXISTS;
}

class FirestoreTx implements Transaction {
  constructor(
    private readonly store: FirestoreStateStore,
    private readonly tx: FsTransaction,
  ) {}

  async get<T = DocData>(path: string): Promise<T | undefined> {
    const snap = await this.tx.get(this.store.ref(path));
    return plainDoc<T>(snap.data());
  }

  async query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    const snap = await this.tx.get(this.store.buildQuery(collection, q));
    return snap.docs.map((d) => ({ id: d.id, path: d.ref.path, data: toPlainJson(d.data()) as T }));
  }

  set(path: string, data: DocData): void {
    this.tx.set(this.store.ref(path), checkDoc(data));
  }

  merge(path: string, data: DocData): void {
    this.tx.set(this.store.ref(path), checkDoc(data), { merge: true });
  }

  delete(path: string): void {
    this.tx.delete(this.store.ref(path));
  }
}

export class FirestoreStateStore implements StateStore {
  readonly firestore: Firestore;
  private readonly owned: boolean;
  private readonly maxAttempts: number;

  constructor(opts: FirestoreStateStoreOptions = {}) {
    if (opts.firestore) {
      this.firestore = opts.firestore;
      this.owned = false;
    } else {
      const settings: Settings = { ...(opts.settings ?? {}) };
      if (opts.projectId !== undefined) settings.projectId = opts.projectId;
      // Against an emulator (plain-text connection) no credentials are used; naming the default universe
      // domain stops the auth library from probing for Application Default Credentials / the GCE
      // metadata server (a network call) while creating the gRPC stub.
      const emulator = settings.ssl === false || Boolean(process.env.FIRESTORE_EMULATOR_HOST);
      if (emulator && settings.universeDomain === undefined) settings.universeDomain = DEFAULT_UNIVERSE_DOMAIN;
      this.firestore = new Firestore(settings);
      this.owned = true;
    }
    this.maxAttempts = opts.maxTransactionAttempts ?? DEFAULT_FIRESTORE_TRANSACTION_ATTEMPTS;
  }

  /** @internal */
  ref(path: string): DocumentReference {
    const { collection, id } = splitDocPath(path);
    return this.firestore.doc(`${collection}/${id}`);
  }

  /** @internal */
  buildQuery(collection: string, q: Query | undefined): FsQuery {
    const parts = collection.split('/').filter((p) => p.length > 0);
    if (parts.length % 2 !== 1) throw new Error(`not a collection path (needs an odd number of segments): ${collection}`);
    let query: FsQuery = this.firestore.collection(parts.join('/'));
    for (const w of q?.where ?? []) {
      assertJson(w.value, `where ${w.field} ${w.op}`);
      query = query.where(w.field, w.op, w.value);
    }
    if (q?.orderBy) query = query.orderBy(q.orderBy.field, q.orderBy.direction ?? 'asc');
    if (q?.startAfter !== undefined) {
      if (!q.orderBy) throw new Error('startAfter requires orderBy');
      assertJson(q.startAfter, 'startAfter');
      query = query.startAfter(q.startAfter);
    }
    if (q?.limit !== undefined) query = query.limit(q.limit);
    return query;
  }

  async get<T = DocData>(path: string): Promise<T | undefined> {
    const snap = await this.ref(path).get();
    return plainDoc<T>(snap.data());
  }

  async set(path: string, data: DocData): Promise<void> {
    await this.ref(path).set(checkDoc(data));
  }

  async merge(path: string, data: DocData): Promise<void> {
    await this.ref(path).set(checkDoc(data), { merge: true });
  }

  async delete(path: string): Promise<void> {
    await this.ref(path).delete();
  }

  async query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    const snap = await this.buildQuery(collection, q).get();
    return snap.docs.map((d) => ({ id: d.id, path: d.ref.path, data: toPlainJson(d.data()) as T }));
  }

  runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.firestore.runTransaction((t) => fn(new FirestoreTx(this, t)), { maxAttempts: this.maxAttempts });
  }

  async batch(ops: WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    const b = this.firestore.batch();
    for (const op of ops) {
      const ref = this.ref(op.path);
      if (op.kind === 'delete') b.delete(ref);
      else if (op.kind === 'merge') b.set(ref, checkDoc(op.data), { merge: true });
      else b.set(ref, checkDoc(op.data));
    }
    await b.commit();
  }

  async create(path: string, data: DocData): Promise<boolean> {
    try {
      await this.ref(path).create(checkDoc(data));
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) return false;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.owned) await this.firestore.terminate();
  }
}
