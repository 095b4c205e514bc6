/**
 * What the dashboard and the alert policies watch, derived from the lists that define it (never
 * retyped): the Cloud Run services (every gen-2 function is one, infra/runtime/registry.ts), the
 * holder, the dead-letter retention subscriptions (infra/bus/topology.ts + infra/bus/pubsub.ts), the
 * log-based metrics (log-metrics.ts) and the built-in metric types used.
 */
import { deadLetterRetentionSubscription } from '../bus/pubsub.js';
import { topologySpecs } from '../bus/topology.js';
import { CLOUD_FUNCTIONS, HOLDER_SERVICE, TELEGRAM_WEBHOOK_SERVICE } from '../runtime/registry.js';
import { deadLetterTopic } from '../../shared/topics.js';

/** Built-in metric types the dashboard and the policies read (the validation test checks against this list). */
export const BUILTIN = {
  runRequestCount: 'run.googleapis.com/request_count',
  runRequestLatencies: 'run.googleapis.com/request_latencies',
  runInstanceCount: 'run.googleapis.com/container/instance_count',
  logEntryCount: 'logging.googleapis.com/log_entry_count',
  subscriptionUndelivered: 'pubsub.googleapis.com/subscription/num_undelivered_messages',
  subscriptionDeadLettered: 'pubsub.googleapis.com/subscription/dead_letter_message_count',
} as const;

/** Every Cloud Run service of the deployment: the gen-2 functions, the Telegram webhook, the holder. */
export function cloudRunServices(): string[] {
  return [...new Set([...CLOUD_FUNCTIONS, TELEGRAM_WEBHOOK_SERVICE, HOLDER_SERVICE])].sort();
}

/** The subscriptions that keep each dead-letter topic's messages (their backlog = the DLQ depth). */
export function deadLetterRetentionSubscriptions(): string[] {
  const dlqs = new Set(topologySpecs().map((s) => s.deadLetterTopic ?? deadLetterTopic(s.topic)));
  return [...dlqs].map(deadLetterRetentionSubscription).sort();
}

/** The handler subscriptions (their dead-lettered message counts). */
export function handlerSubscriptions(): string[] {
  return topologySpecs()
    .map((s) => s.subscription)
    .sort();
}

/** `one_of("a","b")` of a Monitoring filter. */
export function oneOf(values: readonly string[]): string {
  return `one_of(${values.map((v) => JSON.stringify(v)).join(',')})`;
}

/** A Monitoring time-series filter: the metric type, then clauses, joined by AND. */
export function metricFilter(type: string, ...clauses: string[]): string {
  return [`metric.type="${type}"`, ...clauses].join(' AND ');
}

export const CLOUD_RUN_REVISION = 'resource.type="cloud_run_revision"';
export const HOLDER_CLAUSE = `resource.labels.service_name="${HOLDER_SERVICE}"`;
export const servicesClause = (): string => `resource.labels.service_name=${oneOf(cloudRunServices())}`;
export const ERROR_SEVERITIES = ['ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'] as const;

/** The label every resource this project manages carries (how the apply finds its own). */
export const MANAGED_LABEL_KEY = 'cst-managed';
export const MANAGED_LABELS: Readonly<Record<string, string>> = { [MANAGED_LABEL_KEY]: 'true' };
