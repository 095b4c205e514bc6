/**
 * Every deployable unit, in one list: the local runtime wires it, the deploy script deploys it, the
 * Pub/Sub topology names its subscriptions after it. A function's name is its folder name, its
 * functions-framework target and its deployed name.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { CloudEventHandler } from '../shared/ports/bus.js';
import type { ScheduledJob } from '../infra/functions.js';
import { SUBSCRIBERS } from '../infra/bus/topology.js';
import { krakenPullJob } from './kraken-pull/index.js';
import { healthCheckJob } from './health-check/index.js';
import { configCheckJob } from './config-check/index.js';
import { retentionCleanupJob } from './retention-cleanup/index.js';
import { macroAnalysisJob } from './macro-analysis/index.js';
import { candleIngest } from './candle-ingest/index.js';
import { tickArchive } from './tick-archive/index.js';
import { microScalp } from './micro-scalp/index.js';
import { execution } from './execution/index.js';
import { notifier } from './notifier/index.js';
import { reportsJob } from './reports/index.js';
import { telegramWebhook, FUNCTION_NAME as TELEGRAM_WEBHOOK } from './telegram-webhook/index.js';

/** HTTP functions that Cloud Scheduler (scheduler.yaml) triggers. */
export const SCHEDULED_FUNCTIONS: ScheduledJob[] = [krakenPullJob, macroAnalysisJob, healthCheckJob, configCheckJob, retentionCleanupJob, reportsJob];

/**
 * Public HTTP functions (not scheduled): Telegram's webhook, protected by its secret-token header.
 * Served locally by `npm start` at `/<name>`; deployed NOT as Cloud Functions but each as its own Cloud
 * Run service of the same name, whose process (`functions/<name>/server.ts`) serves the same listener
 * (front, then the functions-framework app): a Cloud Function's framework would read and parse every
 * body before the front could refuse it.
 */
export const PUBLIC_HTTP_FUNCTIONS: Record<string, (req: Request, res: Response) => Promise<void>> = {
  [TELEGRAM_WEBHOOK]: telegramWebhook,
};

/** The Cloud Run service Telegram calls (scripts/telegram-webhook.ts registers its URL). */
export const TELEGRAM_WEBHOOK_SERVICE = TELEGRAM_WEBHOOK;

/** The process entry of a public HTTP function's Cloud Run service, as compiled by `gcp-build` (tsconfig.build.json). */
export function publicServiceEntry(name: string): string {
  return `dist/functions/${name}/server.js`;
}

/** Pub/Sub-triggered functions by name; their topics come from infra/bus/topology.ts SUBSCRIBERS. */
export const PUBSUB_FUNCTIONS: Record<string, CloudEventHandler> = {
  'candle-ingest': candleIngest,
  'tick-archive': tickArchive,
  'micro-scalp': microScalp,
  execution,
  notifier,
};

/** The Cloud Run service (always on, min = max = 1 instance). */
export const HOLDER_SERVICE = 'bybit-holder';

export interface PubsubBinding {
  function: string;
  topic: string;
  handler: CloudEventHandler;
  enableOrdering: boolean;
}

/** (function, topic) pairs to subscribe, checked against the registry: a subscriber without a handler is an error. */
export function pubsubBindings(): PubsubBinding[] {
  const out: PubsubBinding[] = [];
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    for (const e of entries) {
      const handler = PUBSUB_FUNCTIONS[e.function];
      if (!handler) throw new Error(`topology subscribes '${e.function}' to ${topic} but functions/registry.ts has no such Pub/Sub function`);
      out.push({ function: e.function, topic, handler, enableOrdering: e.enableOrdering ?? false });
    }
  }
  return out;
}
