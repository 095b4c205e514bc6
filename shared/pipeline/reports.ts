/**
 * reports (Cloud Scheduler, scheduler.yaml jobs `reports` 07:00 + 19:00 and `weeklyReport` Sunday
 * 19:00, America/Los_Angeles): body `{ period: daily | weekly }`. Builds the report with its equity PNG,
 * queues it for every allowed chat (keys per period and hour: a retried run sends nothing twice) and
 * drains the outbox. Then runs the learning loop's rollback trigger (an applied threshold adjustment
 * whose strategy dropped >= rollback.dropPct over the window after it: one question to the owner).
 */
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import type { TelegramSide } from '../telegram/deps.js';
import { drainAndContinue } from '../telegram/dispatch.js';
import { queueReport, reportSlot } from '../telegram/reports.js';
import { askRollbacks } from '../learning/rollback.js';

export const FUNCTION_NAME = 'reports';

export interface Deps {
  clock: Clock;
  log: Logger;
  /** The Telegram side for the config in force (infra/telegram/runtime.ts). */
  telegram(): Promise<TelegramSide>;
}

const bodySchema = z.object({ period: z.enum(['daily', 'weekly']).default('daily') });

export async function handle(deps: Deps, body?: unknown): Promise<Record<string, unknown>> {
  const parsed = bodySchema.safeParse(body ?? {});
  if (!parsed.success) throw new Error(`reports: body must be { period: "daily" | "weekly" }: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const side = await deps.telegram();
  const d = { ...side.deps, log: deps.log };
  const r = await queueReport(d, parsed.data.period, reportSlot(deps.clock.now()));
  const drained = await drainAndContinue(d, side.sender);
  // the rollback trigger (shared/learning/rollback.ts): asks the owner about a dropped adjustment (owner alert)
  const st = await d.config.strategies();
  const rollbackAsked = await askRollbacks(d, d.trades, st.ml, st.risk.startingEquityUsd, deps.clock.now());
  return { period: parsed.data.period, trades: r.trades, queued: r.queued, sent: drained.sent, remaining: drained.remaining, rollbackAsked: rollbackAsked.length };
}
