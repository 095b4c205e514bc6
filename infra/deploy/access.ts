/**
 * What each deployed unit may touch, for its own service account (least privilege, issue 13): the
 * topics it publishes to, the secrets it reads, whether it uses the BigQuery warehouse. Firestore
 * (datastore.user) and log / metric writing are granted to every unit: each reads its config and
 * state from Firestore and logs.
 *
 * Derived from the code: a unit's module under shared/pipeline/ and what it reaches (the Telegram side
 * publishes owner commands, Telegram jobs and alerts and reads both Telegram secrets, infra/telegram/
 * runtime.ts; the live venue reads the Bybit keys, infra/bybit/live-venue.ts; the config service and
 * the data gates publish alerts from any unit with a bus). Keyed by FunctionName, so a new function
 * without an entry does not compile.
 */
import { TOPICS } from '../../shared/topics.js';
import type { SecretName } from '../../shared/ports/secrets.js';
import type { FunctionName } from '../runtime/deps.js';
import { HOLDER_SERVICE } from '../runtime/registry.js';

export interface UnitAccess {
  /** Topics the unit publishes to (roles/pubsub.publisher on each topic). */
  publishes: readonly string[];
  /** Secrets the unit reads (roles/secretmanager.secretAccessor on each secret). */
  secrets: readonly SecretName[];
  /** Writes or queries the BigQuery warehouse (dataEditor on the dataset, jobUser on the project). */
  warehouse: boolean;
}

const TELEGRAM_SECRETS: readonly SecretName[] = ['telegram-bot-token', 'telegram-webhook-secret'];
/** What the Telegram side publishes (bot commands, dashboard actions, job hand-offs, alerts). */
const TELEGRAM_PUBLISHES = [TOPICS.tradeCommands, TOPICS.telegramJobs, TOPICS.alerts];

export const UNIT_ACCESS: Readonly<Record<FunctionName | typeof HOLDER_SERVICE, UnitAccess>> = {
  'candle-ingest': { publishes: [TOPICS.alerts], secrets: [], warehouse: true },
  'tick-archive': { publishes: [TOPICS.alerts], secrets: [], warehouse: true },
  'micro-scalp': { publishes: [TOPICS.microSignals, TOPICS.alerts], secrets: [], warehouse: true },
  execution: { publishes: [TOPICS.tradeEvents, TOPICS.alerts], secrets: ['bybit-api-key', 'bybit-api-secret'], warehouse: true },
  notifier: { publishes: TELEGRAM_PUBLISHES, secrets: TELEGRAM_SECRETS, warehouse: false },
  'kraken-pull': { publishes: [TOPICS.krakenOhlc, TOPICS.alerts], secrets: [], warehouse: true },
  'macro-analysis': { publishes: [TOPICS.macroBias, TOPICS.swingSignals, TOPICS.alerts], secrets: [], warehouse: true },
  'health-check': { publishes: [TOPICS.alerts], secrets: [], warehouse: false },
  'config-check': { publishes: [TOPICS.alerts], secrets: [], warehouse: false },
  'retention-cleanup': { publishes: [TOPICS.alerts], secrets: [], warehouse: false },
  reports: { publishes: TELEGRAM_PUBLISHES, secrets: TELEGRAM_SECRETS, warehouse: false },
  retrain: { publishes: TELEGRAM_PUBLISHES, secrets: TELEGRAM_SECRETS, warehouse: true },
  'telegram-webhook': { publishes: TELEGRAM_PUBLISHES, secrets: TELEGRAM_SECRETS, warehouse: false },
  dashboard: { publishes: TELEGRAM_PUBLISHES, secrets: TELEGRAM_SECRETS, warehouse: false },
  [HOLDER_SERVICE]: { publishes: [TOPICS.rawTicks, TOPICS.bybitCandles, TOPICS.snapshots, TOPICS.alerts], secrets: [], warehouse: false },
};

/** A unit's runtime service account id (6-30 chars): `cst-<unit>`. */
export function unitServiceAccountId(unit: string): string {
  return `cst-${unit}`;
}

export function serviceAccountEmail(id: string, project: string): string {
  return `${id}@${project}.iam.gserviceaccount.com`;
}

/** The account Cloud Scheduler (OIDC) and the Pub/Sub push subscriptions (OIDC) call the private functions with. */
export const INVOKER_SA = 'cst-invoker';
/** The account Cloud Build runs the source builds and the holder's image build as. */
export const BUILD_SA = 'cst-build';

/** Project-level roles of every unit (Firestore has no narrower grant than the database; logs and metrics are project sinks). */
export const UNIT_PROJECT_ROLES = ['roles/datastore.user', 'roles/logging.logWriter', 'roles/monitoring.metricWriter'] as const;
/** Project-level role of a warehouse unit: running a query job is a project permission. */
export const WAREHOUSE_JOB_ROLE = 'roles/bigquery.jobUser';
/**
 * The build account's project-level roles: the function source buckets (gcf-v2-sources-*) and the
 * image repositories the source deploys create (gcf-artifacts, cloud-run-source-deploy) are made by
 * the platform on first deploy, so they cannot be granted one by one before they exist.
 */
export const BUILD_PROJECT_ROLES = ['roles/logging.logWriter', 'roles/artifactregistry.writer', 'roles/storage.objectAdmin'] as const;
