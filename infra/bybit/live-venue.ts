/**
 * The execution function's live source: the Bybit v5 private REST client (bybit-api RestClientV5,
 * infra/bybit/trading-client.ts) at the root's `endpoints.bybitRest` (live Bybit, or the local trade
 * server), with the keys from the root's SecretSource (Secret Manager `bybit-api-key` /
 * `bybit-api-secret` on Google Cloud, CST_BYBIT_API_KEY / CST_BYBIT_API_SECRET otherwise). One client
 * per key for the source's life (it caches the instruments' trading rules). Missing keys are reported
 * as `unavailable`, never thrown; key values are never logged (the client registers them for masking).
 * The composition root loads this module (and bybit-api with it) only when live trading is asked for.
 */
import type { Logger } from '../../shared/log.js';
import type { LiveVenueAccess } from '../../shared/pipeline/execution.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import { BybitTradingClient } from './trading-client.js';

/** Bybit's X-BAPI-RECV-WINDOW default, ms. Proposed config field: `bybit.recvWindowMs`. */
const BYBIT_RECV_WINDOW_MS = 5_000;
/** Timeout of one private REST request, ms. Proposed config field: `bybit.requestTimeoutMs`. */
const BYBIT_REQUEST_TIMEOUT_MS = 10_000;

interface LiveVenueSourceOptions {
  secrets: SecretSource;
  baseUrl: string;
  log: Logger;
}

/** The exchange for live mode, or why there is none; asked on every need, the client built once per key. */
export function liveVenueSource(opts: LiveVenueSourceOptions): () => Promise<LiveVenueAccess> {
  const clients = new Map<string, BybitTradingClient>();
  return async () => {
    const [apiKey, apiSecret] = await Promise.all([opts.secrets.get('bybit-api-key'), opts.secrets.get('bybit-api-secret')]);
    if (!apiKey || !apiSecret) {
      const missing = [apiKey ? '' : 'bybit-api-key', apiSecret ? '' : 'bybit-api-secret'].filter(Boolean).join(' and ');
      return { unavailable: `the Bybit API ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not configured (Secret Manager, or CST_BYBIT_API_KEY / CST_BYBIT_API_SECRET locally)` };
    }
    const key = `${apiKey}\u0000${apiSecret}`;
    let client = clients.get(key);
    if (!client) {
      client = new BybitTradingClient({ baseUrl: opts.baseUrl, apiKey, apiSecret, recvWindowMs: BYBIT_RECV_WINDOW_MS, requestTimeoutMs: BYBIT_REQUEST_TIMEOUT_MS, log: opts.log.child({ component: 'bybit-trading' }) });
      clients.set(key, client);
    }
    return { venue: client };
  };
}
