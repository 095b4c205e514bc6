/** Shared set-up of the pipeline tests: the kit's real data and a state store that observes every write of the trading account. */
import { join } from 'node:path';
import type { DocData, DocSnapshot, Query, StateStore, Transaction, WriteOp } from '../../shared/ports/state.js';
import type { Clock } from '../../shared/ports/clock.js';
import { tradingDocPath, type TradingDoc } from '../../shared/trading/store.js';
import { PAPER_ACCOUNT_ID } from '../../shared/engine/execution.js';

/** The kit's real market data (`../shared/data` from the repo root). */
export const DATA_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export interface TradingWrite {
  /** Clock time of the commit. */
  now: number;
  before: TradingDoc | undefined;
  after: TradingDoc;
  /** Signal markers written in the same transaction (`trading/{id}/applied/{signalId}`). */
  markers: DocData[];
}

/**
 * A StateStore decorator that hands every COMMITTED write of the paper account document (with the
 * document as it was before, and the signal markers of the same transaction) to `observe`. Only the
 * final attempt of a retried transaction counts (the adapter re-runs `fn`; earlier attempts wrote nothing).
 */
export class ObservedState implements StateStore {
  private readonly docPath = tradingDocPath(PAPER_ACCOUNT_ID);

  constructor(
    private readonly inner: StateStore,
    private readonly clock: Clock,
    private readonly observe: (w: TradingWrite) => void,
  ) {}

  get<T = DocData>(path: string): Promise<T | undefined> {
    return this.inner.get<T>(path);
  }
  async set(path: string, data: DocData): Promise<void> {
    if (path === this.docPath) throw new Error('the trading document is written outside a transaction');
    await this.inner.set(path, data);
  }
  merge(path: string, data: DocData): Promise<void> {
    return this.inner.merge(path, data);
  }
  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }
  query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    return this.inner.query<T>(collection, q);
  }
  batch(ops: WriteOp[]): Promise<void> {
    if (ops.some((o) => o.path === this.docPath)) throw new Error('the trading document is written in a batch');
    return this.inner.batch(ops);
  }
  create(path: string, data: DocData): Promise<boolean> {
    return this.inner.create(path, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let attempt: { before: TradingDoc | undefined; after: TradingDoc | undefined; markers: DocData[] } | undefined;
    const docPath = this.docPath;
    const result = await this.inner.runTransaction(async (tx) => {
      const cur: { before: TradingDoc | undefined; after: TradingDoc | undefined; markers: DocData[] } = { before: undefined, after: undefined, markers: [] };
      attempt = cur;
      const wrapped: Transaction = {
        async get<U = DocData>(path: string) {
          const v = await tx.get<U>(path);
          if (path === docPath) cur.before = v as unknown as TradingDoc | undefined;
          return v;
        },
        query: (c, q) => tx.query(c, q),
        set(path, data) {
          if (path === docPath) cur.after = structuredClone(data) as unknown as TradingDoc;
          else if (path.startsWith(`${docPath}/applied/`)) cur.markers.push(structuredClone(data));
          tx.set(path, data);
        },
        merge(path, data) {
          if (path === docPath) throw new Error('the trading document is merged, not set');
          tx.merge(path, data);
        },
        delete: (p) => tx.delete(p),
      };
      return fn(wrapped);
    });
    if (attempt?.after) this.observe({ now: this.clock.now(), before: attempt.before, after: attempt.after, markers: attempt.markers });
    return result;
  }
}
