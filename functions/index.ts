/**
 * Cloud Functions entry module (package.json `main` after `npm run build`): importing the registry
 * registers every function with functions-framework; the context is built on first use from the
 * environment (gcp in the cloud, the emulators when their hosts are set).
 */
import { setContextFactory } from '../infra/context.js';
import { backendFromEnv, buildContext, parseEnv } from '../infra/runtime/build-context.js';

setContextFactory(async () => {
  const env = parseEnv();
  return buildContext({ backend: backendFromEnv(env), env });
});

export * from './registry.js';
