/**
 * retrain (Cloud Scheduler, scheduler.yaml job `retrain`, daily 02:00 America/Los_Angeles; on demand:
 * `npm run retrain`): the learning loop's daily research run (SPEC 8), in order:
 *   1. retraining per strategy (shared/learning/retrain.ts: >= retrain.minNewTrades new completed
 *      trades, time-ordered split, the replacement rules; state + `model_runs`);
 *   2. the shadow test (config/ml `shadow.enabled`): champion vs challengers re-simulated over the
 *      longest period on the warehouse's candles (shared/shadow), stored in state and the warehouse;
 *   3. threshold suggestions from the shadow results (shared/learning/suggestions.ts), stored pending
 *      and sent to the owner with their buttons: applied only on the owner's approval;
 *   4. the rollback trigger (shared/learning/rollback.ts): asks the owner about an adjustment whose
 *      strategy dropped since;
 *   5. the research summary to the owner (shared/telegram/research.ts), once per Los Angeles day.
 * Body (optional): `{ strategies?: StrategyId[], force?: boolean, shadow?: boolean }`. Idempotent: the
 * run id is the Los Angeles day, so a retried run (Cloud Scheduler retryCount) retrains nothing twice,
 * and suggestions and the summary carry deterministic keys. ML stays research: nothing here trades.
 */
import { z } from 'zod';
import type { Logger } from '../log.js';
import { strategyIdSchema } from '../model/trading.js';
import type { Ports } from '../ports/ports.js';
import type { TelegramSide } from '../telegram/deps.js';
import { retrainStrategies } from '../learning/retrain.js';
import { proposeFromLatestShadow } from '../learning/suggestions.js';
import { askRollbacks } from '../learning/rollback.js';
import { queueSuggestions, researchSuggestionOf } from '../telegram/suggestions.js';
import { researchSlot, sendResearchSummary } from '../telegram/research.js';
import { readShadow } from '../telegram/research.js';
import { runDailyShadow } from '../shadow/daily.js';

export const FUNCTION_NAME = 'retrain';

export interface Deps extends Pick<Ports, 'state' | 'bus' | 'warehouse' | 'clock' | 'config'> {
  log: Logger;
  /** The Telegram side for the config in force (infra/telegram/runtime.ts). */
  telegram(): Promise<TelegramSide>;
}

const bodySchema = z.strictObject({
  strategies: z.array(strategyIdSchema).min(1).optional(),
  force: z.boolean().optional(),
  /** false: skip the shadow run (suggestions then come from the latest stored one). */
  shadow: z.boolean().optional(),
});

export async function handle(deps: Deps, body?: unknown): Promise<Record<string, unknown>> {
  const parsed = bodySchema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new Error(`retrain: body must be { strategies?: [${strategyIdSchema.options.join(' | ')}], force?: boolean, shadow?: boolean }: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
  }
  const now = deps.clock.now();
  const st = await deps.config.strategies();
  const runId = `retrain:${researchSlot(now)}`;
  const retrain = await retrainStrategies(deps, st.ml, { runId, now, ...(parsed.data.strategies ? { strategies: parsed.data.strategies } : {}), ...(parsed.data.force ? { force: true } : {}) });

  // a failed shadow run is logged and reported; the suggestions then come from the latest stored run
  let shadow: Record<string, unknown>;
  try {
    const sh = parsed.data.shadow === false ? { ran: false as const, reason: 'skipped (body shadow: false)' } : await runDailyShadow(deps, st, await deps.config.system(), now);
    shadow = sh.ran ? { runId: sh.run.results.runId, created: sh.stored.created, symbols: sh.symbols, missing: sh.missing, scans: sh.run.results.scans, wallMs: Math.round(sh.run.results.wallMs) } : { skipped: sh.reason };
  } catch (e) {
    deps.log.error('retrain: the shadow run failed', { error: e as Error });
    shadow = { failed: e instanceof Error ? e.message : String(e) };
  }

  const side = await deps.telegram();
  const d = { ...side.deps, log: deps.log };
  // an unreadable shadow/latest (or a failed proposal) is reported; the rollback trigger and the summary still run
  let proposed: Awaited<ReturnType<typeof proposeFromLatestShadow>> = { runId: null, suggestions: [], created: [] };
  let suggestionError: string | undefined;
  try {
    proposed = await proposeFromLatestShadow(deps.state, st, now);
  } catch (e) {
    suggestionError = e instanceof Error ? e.message : String(e);
    deps.log.error('retrain: no suggestions from the latest shadow run', { error: e as Error });
  }
  // every suggestion of this shadow run, not only those created now: a retry after a crash between
  // storing and queueing still sends them (the outbox key per suggestion id sends each once)
  const queuedSuggestions = await queueSuggestions(d, proposed.suggestions);
  const rollbackAsked = await askRollbacks(deps, d.trades, st.ml, st.risk.startingEquityUsd, now);
  const shadowRead = await readShadow(deps.state);
  const summary = await sendResearchSummary(side, { runs: retrain.runs.map((r) => r.run), shadow: shadowRead.status === 'ok' ? shadowRead.doc : null, suggestions: proposed.suggestions.map(researchSuggestionOf) }, now);
  return {
    runId,
    models: retrain.runs.map((r) => ({ strategy: r.run.strategy, outcome: r.run.outcome, version: r.run.modelVersion, score: r.run.metrics?.score ?? null, labelled: r.labelled, stored: r.stored })),
    failed: retrain.failed,
    shadow,
    suggestions: { fromShadowRun: proposed.runId, created: proposed.created.length, queued: queuedSuggestions, ...(suggestionError ? { error: suggestionError } : {}) },
    rollbackAsked: rollbackAsked.length,
    summary: { queued: summary.queued, sent: summary.sent, ...(summary.reason ? { reason: summary.reason } : {}) },
  };
}
