/**
 * Every deployable unit, in one list: the local runtime wires it, the deploy script deploys it, the
 * Pub/Sub topology (infra/bus/topology.ts) names its subscriptions after it, the cloud entry
 * (functions/index.ts) loads the one named by FUNCTION_TARGET. A function's name is its folder under
 * functions/, its functions-framework target, its deployed name and the name of its module under
 * shared/pipeline/, which each entry here loads only when asked (`load`): nothing here imports a
 * function's code, so whoever reads the list loads no function.
 */
import type { ScheduledHandle, PubsubHandle, HttpHandle } from '../functions.js';
import { SUBSCRIBERS } from '../bus/topology.js';
import type { FunctionDeps, FunctionName } from './deps.js';

/**
 * A listed function. Its handle's deps type is erased here (`never`: any handle fits); `pubsub()`,
 * `scheduled()` and `http()` below check, per function, that the module's handle takes exactly the deps
 * the root builds for that name (infra/runtime/deps.ts), so `root.deps(name)` is what it gets.
 */
interface Spec<K extends string, H> {
  name: FunctionName;
  kind: K;
  /** The function's module (shared/pipeline/<name>.ts), loaded on demand. */
  load(): Promise<{ handle: H }>;
}

export type PubsubFunction = Spec<'pubsub', PubsubHandle<never>>;
export type ScheduledFunction = Spec<'scheduled', ScheduledHandle<never>>;
export type HttpFunction = Spec<'http', HttpHandle<never>>;

type Loader<H> = () => Promise<{ handle: H }>;
const pubsub = <N extends FunctionName>(name: N, load: Loader<PubsubHandle<FunctionDeps[N]>>): PubsubFunction => ({ name, kind: 'pubsub', load });
const scheduled = <N extends FunctionName>(name: N, load: Loader<ScheduledHandle<FunctionDeps[N]>>): ScheduledFunction => ({ name, kind: 'scheduled', load });
const http = <N extends FunctionName>(name: N, load: Loader<HttpHandle<FunctionDeps[N]>>): HttpFunction => ({ name, kind: 'http', load });

/** Pub/Sub-triggered functions; their topics come from infra/bus/topology.ts SUBSCRIBERS. */
export const PUBSUB_FUNCTIONS = [
  pubsub('candle-ingest', () => import('../../shared/pipeline/candle-ingest.js')),
  pubsub('tick-archive', () => import('../../shared/pipeline/tick-archive.js')),
  pubsub('micro-scalp', () => import('../../shared/pipeline/micro-scalp.js')),
  pubsub('execution', () => import('../../shared/pipeline/execution.js')),
  pubsub('notifier', () => import('../../shared/pipeline/notifier.js')),
] as const;

/** HTTP functions that Cloud Scheduler (scheduler.yaml) triggers. */
export const SCHEDULED_FUNCTIONS = [
  scheduled('kraken-pull', () => import('../../shared/pipeline/kraken-pull.js')),
  scheduled('macro-analysis', () => import('../../shared/pipeline/macro-analysis.js')),
  scheduled('health-check', () => import('../../shared/pipeline/health-check.js')),
  scheduled('config-check', () => import('../../shared/pipeline/config-check.js')),
  scheduled('retention-cleanup', () => import('../../shared/pipeline/retention-cleanup.js')),
  scheduled('reports', () => import('../../shared/pipeline/reports.js')),
  scheduled('retrain', () => import('../../shared/pipeline/retrain.js')),
] as const;

/** The Cloud Run service Telegram calls (scripts/telegram-webhook.ts registers its URL). */
export const TELEGRAM_WEBHOOK_SERVICE = 'telegram-webhook' satisfies FunctionName;

/**
 * Public HTTP functions (not scheduled): Telegram's webhook, protected by its secret-token header.
 * Served locally by `npm start` at `/<name>`; deployed NOT as Cloud Functions but each as its own Cloud
 * Run service of the same name, whose process (`functions/<name>/server.ts`) serves the same listener
 * (front, then the functions-framework app): a Cloud Function's framework would read and parse every
 * body before the front could refuse it.
 */
export const PUBLIC_HTTP_FUNCTIONS: readonly HttpFunction[] = [
  http(TELEGRAM_WEBHOOK_SERVICE, () => import('../../shared/pipeline/telegram-webhook.js')),
];

/** The dashboard's function: the page and its JSON API (auth is in the app: Mini App initData or a login link). */
export const DASHBOARD_FUNCTION = 'dashboard' satisfies FunctionName;

/**
 * Public HTTP functions deployed as Cloud Functions reachable without Google sign-in (their handle
 * authenticates every request itself). Served locally by `npm start` at `/<name>/...` (the whole path).
 */
export const PUBLIC_CLOUD_FUNCTIONS: readonly HttpFunction[] = [http(DASHBOARD_FUNCTION, () => import('../../shared/pipeline/dashboard.js'))];

/** The Cloud Run service (always on, min = max = 1 instance). */
export const HOLDER_SERVICE = 'bybit-holder';

/** Every function deployed as a Cloud Function (the cloud entry's FUNCTION_TARGET values). */
export const CLOUD_FUNCTIONS: readonly string[] = [...PUBSUB_FUNCTIONS, ...SCHEDULED_FUNCTIONS, ...PUBLIC_CLOUD_FUNCTIONS].map((f) => f.name);

/** The process entry of a public HTTP function's Cloud Run service, as compiled by `gcp-build` (tsconfig.build.json). */
export function publicServiceEntry(name: string): string {
  return `dist/functions/${name}/server.js`;
}

interface PubsubBinding {
  function: FunctionName;
  topic: string;
  enableOrdering: boolean;
  spec: PubsubFunction;
}

/** (function, topic) pairs to subscribe, checked against the registry: a subscriber without a function is an error. */
export function pubsubBindings(): PubsubBinding[] {
  const out: PubsubBinding[] = [];
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    for (const e of entries) {
      const fn = PUBSUB_FUNCTIONS.find((f) => f.name === e.function);
      if (!fn) throw new Error(`topology subscribes '${e.function}' to ${topic} but infra/runtime/registry.ts has no such Pub/Sub function`);
      out.push({ function: fn.name, topic, enableOrdering: e.enableOrdering ?? false, spec: fn });
    }
  }
  return out;
}
