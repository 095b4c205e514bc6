/**
 * reports (Cloud Scheduler, scheduler.yaml jobs `reports` 07:00 + 19:00 and `weeklyReport` Sunday
 * 19:00, America/Los_Angeles): body `{ period: daily | weekly }`. Builds the report with its equity PNG,
 * queues it for every allowed chat (keys per period and hour: a retried run sends nothing twice) and
 * drains the outbox.
 */
import * as ff from '@google-cloud/functions-framework';
import { z } from 'zod';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { getTelegramRuntime } from '../../infra/telegram/runtime.js';
import { drainAndContinue } from '../../shared/telegram/dispatch.js';
import { queueReport, reportSlot } from '../../shared/telegram/reports.js';

export const FUNCTION_NAME = 'reports';

const bodySchema = z.object({ period: z.enum(['daily', 'weekly']).default('daily') });

export const reportsJob: ScheduledJob = {
  name: FUNCTION_NAME,
  async run(ctx, body) {
    const parsed = bodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new Error(`reports: body must be { period: "daily" | "weekly" }: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const rt = await getTelegramRuntime(ctx);
    const deps = { ...rt.deps, log: ctx.log };
    const r = await queueReport(deps, parsed.data.period, reportSlot(ctx.clock.now()));
    const d = await drainAndContinue(deps, rt.sender);
    return { period: parsed.data.period, trades: r.trades, queued: r.queued, sent: d.sent, remaining: d.remaining };
  },
};

export const reports = scheduledHttpHandler(reportsJob);
ff.http(FUNCTION_NAME, reports);
