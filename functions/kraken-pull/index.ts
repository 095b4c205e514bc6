/**
 * Kraken OHLC pull (SPEC 1/2): Cloud Scheduler POSTs every minute; the local runtime calls
 * `krakenPullJob.run(ctx)` on the same schedule. Builds the typed Kraken client for the context's
 * endpoint (live Kraken or the local replay server) and runs the domain pull.
 */
import * as ff from '@google-cloud/functions-framework';
import { pullKraken } from '../../shared/market/kraken/pull.js';
import type { SystemConfig } from '../../shared/config/system.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log.js';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { krakenClientFromConfig, type KrakenRestClient } from '../../infra/kraken/client.js';

/**
 * One client per (endpoint, clock, client settings) per process, so the per-pair rate limit and the
 * confirmed pair keys survive between invocations of a warm instance.
 */
const clients = new Map<string, { clock: Clock; client: KrakenRestClient }>();

function clientFor(baseUrl: string, cfg: SystemConfig['kraken'], clock: Clock, log: Logger): KrakenRestClient {
  const key = `${baseUrl}|${cfg.requestTimeoutMs}|${cfg.minRequestIntervalMs}`;
  const hit = clients.get(key);
  if (hit && hit.clock === clock) return hit.client;
  const client = krakenClientFromConfig(baseUrl, cfg, clock, log.child({ component: 'kraken-client' }));
  clients.set(key, { clock, client });
  return client;
}

export const krakenPullJob: ScheduledJob = {
  name: 'kraken-pull',
  async run(ctx) {
    const config = await ctx.config.system();
    const kraken = clientFor(ctx.endpoints.krakenRest, config.kraken, ctx.clock, ctx.log);
    const result = await pullKraken({
      kraken,
      state: ctx.state,
      bus: ctx.bus,
      warehouse: ctx.warehouse,
      clock: ctx.clock,
      log: ctx.log,
      config,
    });
    return { ...result };
  },
};

ff.http(krakenPullJob.name, scheduledHttpHandler(krakenPullJob));
