/**
 * health-check (Cloud Scheduler, every minute): data freshness per enabled symbol; one `data_stale`
 * alert per transition, one `data_fresh` on recovery (shared/health/freshness.ts).
 */
import * as ff from '@google-cloud/functions-framework';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { checkFreshness } from '../../shared/health/freshness.js';

export const FUNCTION_NAME = 'health-check';

export const healthCheckJob: ScheduledJob = {
  name: FUNCTION_NAME,
  async run(ctx) {
    const cfg = await ctx.config.system();
    const r = await checkFreshness({ state: ctx.state, bus: ctx.bus, log: ctx.log }, cfg, ctx.clock.now());
    return { checked: r.checked, stale: r.stale, transitions: r.transitions.map((t) => `${t.symbol}->${t.to}`) };
  },
};

export const healthCheck = scheduledHttpHandler(healthCheckJob);
ff.http(FUNCTION_NAME, healthCheck);
