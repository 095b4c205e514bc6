/**
 * FirestoreStateStore against a REAL Firestore emulator (`firebase emulators:start --only firestore`
 * or `gcloud emulators firestore start`), with every capability of the contract. Runs only when
 * FIRESTORE_EMULATOR_HOST is set (e.g. `FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 npx vitest run
 * test/state`); the client connects there by itself.
 */
import { describe } from 'vitest';
import { FirestoreStateStore } from '../../infra/state/firestore.js';
import { stateContract } from './contract.js';

const EMULATOR = process.env.FIRESTORE_EMULATOR_HOST;
const PROJECT_ID = process.env.GCLOUD_PROJECT ?? 'demo-cst-test';
/** Firestore retries contended transactions with its own back-off; give the contention tests room. */
const MAX_ATTEMPTS = 50;

describe.runIf(Boolean(EMULATOR))('Firestore emulator (needs FIRESTORE_EMULATOR_HOST)', () => {
  const make = async (): Promise<FirestoreStateStore> =>
    new FirestoreStateStore({ projectId: PROJECT_ID, maxTransactionAttempts: MAX_ATTEMPTS });
  stateContract('FirestoreStateStore on the Firestore emulator', make, {
    transactionIsolation: true,
    observableRetry: false,
    atomicBatch: true,
    setReplaces: true,
    mergeEdgeCases: true,
    startAfter: true,
    dottedFields: true,
    implicitOrder: true,
    orderByExcludesMissing: true,
    mixedNumberComparison: true,
    mixedTypeOrdering: true,
    notEqualExcludesNull: true,
    openPeer: make,
    contentionWorkers: 20,
    contentionTimeoutMs: 120_000,
  });
});
