/**
 * MACRO analysis (SPEC 3): Cloud Scheduler POSTs every 5 minutes; the local runtime calls
 * `macroAnalysisJob.run(ctx)` on the same schedule. Computes and publishes the bias per symbol and
 * evaluates the swing setups (shared/pipeline/macro-analysis.ts).
 *
 * Optional JSON body: `{ "symbols": ["BTCUSDT", ...] }` restricts the run to those symbols.
 */
import * as ff from '@google-cloud/functions-framework';
import { z } from 'zod';
import { PermanentError } from '../../shared/ports/bus.js';
import { runMacro } from '../../shared/pipeline/macro-analysis.js';
import { scheduledHttpHandler, type ScheduledJob } from '../../infra/functions.js';

const bodySchema = z.object({ symbols: z.array(z.string().min(1)).min(1).optional() }).passthrough();

export const macroAnalysisJob: ScheduledJob = {
  name: 'macro-analysis',
  async run(ctx, body) {
    const parsed = bodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new PermanentError(`macro-analysis: bad body: ${parsed.error.message}`);
    const result = await runMacro(
      { state: ctx.state, bus: ctx.bus, warehouse: ctx.warehouse, clock: ctx.clock, log: ctx.log, config: ctx.config },
      parsed.data.symbols ? { symbols: parsed.data.symbols } : {},
    );
    return { ...result };
  },
};

ff.http(macroAnalysisJob.name, scheduledHttpHandler(macroAnalysisJob));
