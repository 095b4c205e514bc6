/**
 * Seeds the Firestore emulator with the default config documents (SPEC defaults). Idempotent: an
 * existing document (for example one you edited in the emulator UI) is left as it is.
 *   FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 npx tsx emulators/seed.ts
 */
import { FirestoreStateStore } from '../infra/state/firestore.js';
import { seedDefaults } from '../shared/config/service.js';
import { EMULATOR_PROJECT } from '../infra/runtime/root.js';

if (!process.env.FIRESTORE_EMULATOR_HOST) {
  console.error('FIRESTORE_EMULATOR_HOST is not set: start the emulators first (see emulators/README.md).');
  process.exit(2);
}
const state = new FirestoreStateStore({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT });
const seeded = await seedDefaults(state);
console.log(seeded.length > 0 ? `seeded: ${seeded.join(', ')}` : 'all config documents already present');
await state.close();
