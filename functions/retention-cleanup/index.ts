/**
 * retention-cleanup (Cloud Scheduler, daily): deletes hot-store candles older than
 * SystemConfig.retentionDays per interval; intervals with null retention are kept forever.
 */
import * as ff from '@google-cloud/functions-framework';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { cleanupRetention } from '../../shared/health/retention.js';

export const FUNCTION_NAME = 'retention-cleanup';

export const retentionCleanupJob: ScheduledJob = {
  name: FUNCTION_NAME,
  async run(ctx) {
    const cfg = await ctx.config.system();
    const r = await cleanupRetention(ctx.state, cfg, ctx.clock.now(), { log: ctx.log });
    return { deleted: r.deleted, totalDeleted: r.totalDeleted, seriesScanned: r.seriesScanned, truncated: r.truncated.length };
  },
};

export const retentionCleanup = scheduledHttpHandler(retentionCleanupJob);
ff.http(FUNCTION_NAME, retentionCleanup);
