/**
 * The Bybit websocket holder's Cloud Run service process (functions/bybit-holder/Dockerfile): one
 * always-on instance (min = max = 1, CPU always allocated: scripts/deploy.ts). Builds the composition
 * root from the environment once and runs the holder with its `/healthz` endpoint and SIGTERM handling
 * (infra/bybit/holder-service.ts).
 */
import { pathToFileURL } from 'node:url';
import { startHolder, type RunningHolder } from '../../infra/bybit/holder-service.js';
import { buildRootFromEnv, type Services } from '../../infra/runtime/root.js';

/** Process entry point: the root from the environment (or the one given: tests), signals handled. */
export async function main(root?: Services): Promise<RunningHolder> {
  return startHolder(root ?? (await buildRootFromEnv()), { handleSignals: true });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`bybit-holder failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
