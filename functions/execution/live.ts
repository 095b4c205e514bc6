/**
 * The execution function's live source: the Bybit v5 private REST client (bybit-api RestClientV5,
 * infra/bybit/trading-client.ts) at `ctx.endpoints.bybitRest` (live Bybit, or the local trade server),
 * with the keys from the SecretSource: Secret Manager (`bybit-api-key`, `bybit-api-secret`) on Google
 * Cloud, CST_BYBIT_API_KEY / CST_BYBIT_API_SECRET locally. One client per process and key (it caches
 * the instruments' trading rules). Missing keys are reported as `unavailable`, never thrown; key values
 * are never logged (the client registers them for masking).
 */
import type { AppContext } from '../../infra/context.js';
import { BybitTradingClient } from '../../infra/bybit/trading-client.js';
import { envSecrets, secretManagerSecrets } from '../../infra/secrets.js';
import type { LiveVenueAccess } from '../../shared/pipeline/execution.js';
import type { SecretSource } from '../../shared/ports/secrets.js';

/** Bybit's X-BAPI-RECV-WINDOW default, ms. Proposed config field: `bybit.recvWindowMs`. */
export const BYBIT_RECV_WINDOW_MS = 5_000;
/** Timeout of one private REST request, ms. Proposed config field: `bybit.requestTimeoutMs`. */
export const BYBIT_REQUEST_TIMEOUT_MS = 10_000;

let installed: SecretSource | undefined;
let defaultSource: SecretSource | undefined;
const clients = new Map<string, BybitTradingClient>();

/** Installs the SecretSource the live source reads (tests); undefined restores the default. */
export function setExecutionSecrets(source: SecretSource | undefined): void {
  installed = source;
}

function secrets(env: NodeJS.ProcessEnv = process.env): SecretSource {
  if (installed) return installed;
  const onGcp = Boolean(env.K_SERVICE || env.FUNCTION_TARGET) && !env.FIRESTORE_EMULATOR_HOST;
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  defaultSource ??= onGcp && project ? secretManagerSecrets(project) : envSecrets(env);
  return defaultSource;
}

/** The exchange for live mode, or why there is none. */
export async function liveVenueFor(ctx: AppContext): Promise<LiveVenueAccess> {
  const src = secrets();
  const [apiKey, apiSecret] = await Promise.all([src.get('bybit-api-key'), src.get('bybit-api-secret')]);
  if (!apiKey || !apiSecret) {
    const missing = [apiKey ? '' : 'bybit-api-key', apiSecret ? '' : 'bybit-api-secret'].filter(Boolean).join(' and ');
    return { unavailable: `the Bybit API ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not configured (Secret Manager, or CST_BYBIT_API_KEY / CST_BYBIT_API_SECRET locally)` };
  }
  const baseUrl = ctx.endpoints.bybitRest;
  const key = `${baseUrl}\u0000${apiKey}\u0000${apiSecret}`;
  let client = clients.get(key);
  if (!client) {
    client = new BybitTradingClient({ baseUrl, apiKey, apiSecret, recvWindowMs: BYBIT_RECV_WINDOW_MS, requestTimeoutMs: BYBIT_REQUEST_TIMEOUT_MS, log: ctx.log.child({ component: 'bybit-trading' }) });
    clients.set(key, client);
  }
  return { venue: client };
}
