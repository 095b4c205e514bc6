/**
 * retention-cleanup (Cloud Scheduler, daily): deletes hot-store candles older than
 * SystemConfig.retentionDays per interval; intervals with null retention are kept forever; and
 * idempotency markers older than SystemConfig.markerRetentionDays.
 */
import * as ff from '@google-cloud/functions-framework';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { cleanupRetention } from '../../shared/health/retention.js';
import { markerCollections, pruneMarkers } from '../../shared/health/markers.js';
import { PAPER_ACCOUNT_ID } from '../../shared/pipeline/execution.js';

export const FUNCTION_NAME = 'retention-cleanup';

export const retentionCleanupJob: ScheduledJob = {
  name: FUNCTION_NAME,
  async run(ctx) {
    const cfg = await ctx.config.system();
    const r = await cleanupRetention(ctx.state, cfg, ctx.clock.now(), { log: ctx.log });
    const markers = await pruneMarkers(ctx.state, markerCollections([PAPER_ACCOUNT_ID]), cfg.markerRetentionDays, ctx.clock.now());
    return { deleted: r.deleted, totalDeleted: r.totalDeleted, seriesScanned: r.seriesScanned, truncated: r.truncated.length, markers };
  },
};

export const retentionCleanup = scheduledHttpHandler(retentionCleanupJob);
ff.http(FUNCTION_NAME, retentionCleanup);
