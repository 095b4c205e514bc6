/**
 * Cloud Functions entry module (package.json `main` after `npm run build`): importing the registry
 * registers every function with functions-framework; the context is built on first use from the
 * environment (gcp in the cloud, the emulators when their hosts are set).
 */
import { installEnvContextFactory } from '../infra/runtime/build-context.js';

installEnvContextFactory();

export * from './registry.js';
