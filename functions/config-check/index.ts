/**
 * config-check (Cloud Scheduler, every minute): re-reads and validates every config document, so an
 * edit is applied or rejected (and alerted once) within a minute even when nothing else reads config.
 */
import * as ff from '@google-cloud/functions-framework';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';
import { ConfigService } from '../../shared/config/service.js';

export const FUNCTION_NAME = 'config-check';

export const configCheckJob: ScheduledJob = {
  name: FUNCTION_NAME,
  async run(ctx) {
    // Reuse the process's ConfigService (its cache is refreshed too); otherwise check with a fresh one.
    const svc =
      ctx.config instanceof ConfigService ? ctx.config : new ConfigService({ state: ctx.state, bus: ctx.bus, clock: ctx.clock, log: ctx.log });
    const results = await svc.check();
    const by = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.name);
    return {
      checked: results.length,
      applied: by('applied'),
      rejected: by('rejected'),
      stillRejected: by('still_rejected'),
      initial: by('initial'),
      seeded: results.filter((r) => r.seeded).map((r) => r.name),
    };
  },
};

export const configCheck = scheduledHttpHandler(configCheckJob);
ff.http(FUNCTION_NAME, configCheck);
