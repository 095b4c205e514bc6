/**
 * FirestoreStateStore against the npm stand-in Firestore server `@firestore-emulator/server`, started
 * in-process on 127.0.0.1 (real gRPC Firestore protocol, real `@google-cloud/firestore` client).
 *
 * The stand-in is NOT a faithful Firestore. Read from its source (node_modules/@firestore-emulator/
 * server/src), it has: no transaction isolation (BeginTransaction returns a dummy id, Commit applies
 * writes blindly), non-atomic batches (writes applied one by one, no rollback, no size limit),
 * set() that keeps fields not in the new data (no update mask = field-by-field overwrite), no
 * FieldValue.delete, startAfter/startAt cursors ignored, dotted field paths unsupported in queries
 * ("Not implemented"), whole numbers never compare with fractional ones (integer_value vs
 * double_value), no cross-type ordering, orderBy that keeps documents missing the field, insertion
 * order instead of id order, `!=` that matches null, and merge that cannot put a map over a scalar.
 * Those capabilities are off here; the real emulator (firestore-emulator.test.ts) runs them all.
 */
import { Timestamp } from '@google-cloud/firestore';
import { afterAll, describe, expect, it } from 'vitest';
import { FirestoreStateStore } from '../../infra/state/firestore.js';
import { stateContract } from './contract.js';
import { startStandinFirestore, type StandinServer } from './standin-server.js';

const PROJECT_ID = 'demo-cst-standin';
let server: Promise<StandinServer> | undefined;
const standin = (): Promise<StandinServer> => (server ??= startStandinFirestore());
afterAll(async () => {
  if (server) (await server).stop();
});

async function makeStore(): Promise<FirestoreStateStore> {
  const { host } = await standin();
  return new FirestoreStateStore({ projectId: PROJECT_ID, settings: { host, ssl: false } });
}

stateContract('FirestoreStateStore on the @firestore-emulator/server stand-in', makeStore, {
  transactionIsolation: false,
  observableRetry: false,
  atomicBatch: false,
  setReplaces: false,
  mergeEdgeCases: false,
  startAfter: false,
  dottedFields: false,
  implicitOrder: false,
  orderByExcludesMissing: false,
  mixedNumberComparison: false,
  mixedTypeOrdering: false,
  notEqualExcludesNull: false,
  contentionWorkers: 0,
});

describe('FirestoreStateStore specifics (stand-in)', () => {
  it('returns Timestamps as epoch ms and references as paths', async () => {
    const store = await makeStore();
    try {
      const openTime = 1748538300000;
      await store.firestore.doc('raw/ts').set({
        at: Timestamp.fromMillis(openTime),
        nested: { list: [Timestamp.fromMillis(openTime + 60_000)] },
        ref: store.firestore.doc('candles/x'),
      });
      expect(await store.get('raw/ts')).toEqual({
        at: openTime,
        nested: { list: [openTime + 60_000] },
        ref: 'candles/x',
      });
    } finally {
      await store.close();
    }
  });

  it('wraps an existing Firestore client and leaves it open on close()', async () => {
    const owner = await makeStore();
    const wrapped = new FirestoreStateStore({ firestore: owner.firestore });
    try {
      await wrapped.set('wrap/a', { v: 1 });
      await wrapped.close();
      expect(await owner.get('wrap/a')).toEqual({ v: 1 });
    } finally {
      await owner.close();
    }
  });
});
