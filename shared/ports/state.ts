/**
 * State port: a document store with Firestore's model (collections of JSON documents addressed by
 * slash paths, `collection/doc/subcollection/doc`), real transactions and atomic batches.
 *
 * Adapters: Firestore (`infra/state/firestore.ts`, also against the emulator) and an embedded SQLite
 * store with real transactions (`infra/state/sqlite.ts`) for the offline default and CI.
 *
 * Values are JSON-compatible (string, finite number, boolean, null, arrays, plain objects). Timestamps
 * are stored as epoch-ms numbers so that every adapter compares them identically.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
export type DocData = { [k: string]: JsonValue };

export interface DocSnapshot<T = DocData> {
  /** Last path segment. */
  id: string;
  /** Full document path. */
  path: string;
  data: T;
}

type WhereOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'array-contains';

export interface Where {
  /** Top-level or dotted field path (`a.b`). */
  field: string;
  op: WhereOp;
  value: JsonValue;
}

export interface Query {
  where?: Where[];
  /** Order by one field. Documents missing the field are excluded (as in Firestore). */
  orderBy?: { field: string; direction?: 'asc' | 'desc' };
  limit?: number;
  /** Cursor: start after this value of the `orderBy` field. Requires `orderBy`. */
  startAfter?: JsonValue;
}

export type WriteOp =
  | { kind: 'set'; path: string; data: DocData }
  | { kind: 'merge'; path: string; data: DocData }
  | { kind: 'delete'; path: string };

/** Reads then writes, all-or-nothing. Reads must come before writes (Firestore's rule). */
export interface Transaction {
  get<T = DocData>(path: string): Promise<T | undefined>;
  query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]>;
  /** Replaces the whole document. */
  set(path: string, data: DocData): void;
  /** Deep-merges top-level and nested objects into the document (creates it if absent). */
  merge(path: string, data: DocData): void;
  delete(path: string): void;
}

export interface StateStore {
  get<T = DocData>(path: string): Promise<T | undefined>;
  /** Replaces the whole document: fields not in `data` are removed. */
  set(path: string, data: DocData): Promise<void>;
  merge(path: string, data: DocData): Promise<void>;
  delete(path: string): Promise<void>;
  /** Documents of one collection (not sub-collections), filtered, ordered, limited. */
  query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]>;
  /**
   * Runs `fn` in a serialisable transaction; on contention the adapter retries `fn` (so `fn` must
   * have no side effects beyond the transaction). Returns `fn`'s result.
   */
  runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Applies all writes atomically. */
  batch(ops: WriteOp[]): Promise<void>;
  /**
   * Creates the document only if it does not exist. Returns true when this call created it.
   * The building block of idempotency keys (processed message ids, Telegram update ids...).
   */
  create(path: string, data: DocData): Promise<boolean>;
  close(): Promise<void>;
}

/** Splits `a/b/c/d` into collection `a/b/c` and id `d`; throws on a collection path. */
export function splitDocPath(path: string): { collection: string; id: string } {
  const parts = path.split('/').filter((p) => p.length > 0);
  if (parts.length < 2 || parts.length % 2 !== 0) {
    throw new Error(`not a document path (needs an even number of segments): ${path}`);
  }
  const id = parts[parts.length - 1] as string;
  return { collection: parts.slice(0, -1).join('/'), id };
}

/** Document ids may not contain '/'. Encodes arbitrary keys into safe ids. */
export function safeId(key: string): string {
  return key.replace(/[/]/g, '_');
}
