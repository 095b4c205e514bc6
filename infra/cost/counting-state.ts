/**
 * A StateStore that counts what Firestore would bill: one read per document a get returns or a query
 * returns (a query that returns nothing still bills one), one write per set / merge / delete / create.
 * Used by `npm run cost -- --measure` to measure the candle pipeline's operations on a replayed day.
 */
import type { DocData, DocSnapshot, Query, StateStore, Transaction, WriteOp } from '../../shared/ports/state.js';

export interface OpCounts {
  reads: number;
  writes: number;
}

export class CountingState implements StateStore {
  readonly counts: OpCounts = { reads: 0, writes: 0 };
  constructor(private readonly inner: StateStore) {}

  private countQuery<T>(docs: DocSnapshot<T>[]): DocSnapshot<T>[] {
    this.counts.reads += Math.max(1, docs.length);
    return docs;
  }

  async get<T = DocData>(path: string): Promise<T | undefined> {
    this.counts.reads++;
    return this.inner.get<T>(path);
  }
  async set(path: string, data: DocData): Promise<void> {
    this.counts.writes++;
    return this.inner.set(path, data);
  }
  async merge(path: string, data: DocData): Promise<void> {
    this.counts.writes++;
    return this.inner.merge(path, data);
  }
  async delete(path: string): Promise<void> {
    this.counts.writes++;
    return this.inner.delete(path);
  }
  async query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    return this.countQuery(await this.inner.query<T>(collection, q));
  }
  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    // Counted per attempt, as Firestore bills a retried transaction's reads again.
    return this.inner.runTransaction(async (tx) => {
      const counted: Transaction = {
        get: async <U = DocData>(path: string) => {
          this.counts.reads++;
          return tx.get<U>(path);
        },
        query: async <U = DocData>(collection: string, q?: Query) => this.countQuery(await tx.query<U>(collection, q)),
        set: (path, data) => {
          this.counts.writes++;
          tx.set(path, data);
        },
        merge: (path, data) => {
          this.counts.writes++;
          tx.merge(path, data);
        },
        delete: (path) => {
          this.counts.writes++;
          tx.delete(path);
        },
      };
      return fn(counted);
    });
  }
  async batch(ops: WriteOp[]): Promise<void> {
    this.counts.writes += ops.length;
    return this.inner.batch(ops);
  }
  async create(path: string, data: DocData): Promise<boolean> {
    this.counts.writes++;
    return this.inner.create(path, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
