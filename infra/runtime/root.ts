/**
 * The composition root: ONE place that builds everything a function needs, from `CST_BACKEND` and the
 * environment, decided once per root:
 * - the adapters per backend, each loaded with `import()` only for the backend that uses it:
 *   `embedded` (default when nothing is configured): SQLite state, the in-process bus with its durable
 *   SQLite journal (`bus.sqlite`: messages, deliveries, dead letters survive a crash), DuckDB warehouse,
 *   all under CST_DATA_DIR (default `.data/`), offline, no account; `emulators`: Firestore + Pub/Sub
 *   emulators (FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST), DuckDB warehouse (there is no BigQuery
 *   emulator); `gcp`: Firestore, Pub/Sub, BigQuery in GOOGLE_CLOUD_PROJECT;
 * - the clock, the logger, the config service, the market-data endpoints;
 * - the secrets: Secret Manager on the gcp backend, the environment (CST_*) otherwise;
 * - the Telegram side and the live trading venue, each built on first need;
 * - each function's deps (infra/runtime/deps.ts), built once per root with their per-instance caches.
 *
 * The cloud entries build one root per process from the environment (infra/functions.ts
 * `processRoot`); the local runtime, the replays and the tests build theirs explicitly (`buildRoot`
 * over a backend, or `createRoot` over adapters they made) and hand it to the handlers.
 */
import type { Ports } from '../../shared/ports/ports.js';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Bus } from '../../shared/ports/bus.js';
import type { Clock } from '../../shared/ports/clock.js';
import { systemClock } from '../../shared/ports/clock.js';
import type { StateStore } from '../../shared/ports/state.js';
import type { Warehouse } from '../../shared/ports/warehouse.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { ConfigService } from '../../shared/config/service.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import type { LiveVenueAccess } from '../../shared/pipeline/execution.js';
import type { InMemoryBusOptions } from '../bus/memory.js';
import type { TelegramRuntime, TelegramRuntimeOptions } from '../telegram/runtime.js';
import { envSecrets, secretManagerSecrets } from '../secrets.js';
import { DEPS_BUILDERS, type FunctionDeps, type FunctionName } from './deps.js';

export const BACKENDS = ['embedded', 'emulators', 'gcp'] as const;
export type Backend = (typeof BACKENDS)[number];

/** Demo project id for the emulators (the `demo-` prefix keeps firebase-tools fully local). */
export const EMULATOR_PROJECT = 'demo-cryptosignaltracker';
export const DEFAULT_DATA_DIR = '.data';
/** The embedded bus's journal in the data dir (scripts/deadletters.ts reads it). */
export const BUS_JOURNAL_FILE = 'bus.sqlite';

const envSchema = z.object({
  CST_BACKEND: z.enum(BACKENDS).optional(),
  CST_DATA_DIR: z.string().min(1).optional(),
  GOOGLE_CLOUD_PROJECT: z.string().min(1).optional(),
  GCLOUD_PROJECT: z.string().min(1).optional(),
  FIRESTORE_EMULATOR_HOST: z.string().min(1).optional(),
  PUBSUB_EMULATOR_HOST: z.string().min(1).optional(),
  K_SERVICE: z.string().optional(),
  FUNCTION_TARGET: z.string().optional(),
  KRAKEN_REST_URL: z.string().url().optional(),
  BYBIT_REST_URL: z.string().url().optional(),
  BYBIT_WS_URL: z.string().url().optional(),
});
type RuntimeEnv = z.infer<typeof envSchema>;

export function parseEnv(env: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${issues}`);
  }
  return parsed.data;
}

/** The backend the environment asks for: explicit CST_BACKEND, else emulators if their hosts are set, else gcp when running on Cloud Run/Functions, else embedded. */
export function backendFromEnv(env: RuntimeEnv): Backend {
  if (env.CST_BACKEND) return env.CST_BACKEND;
  if (env.FIRESTORE_EMULATOR_HOST || env.PUBSUB_EMULATOR_HOST) return 'emulators';
  if (env.K_SERVICE || env.FUNCTION_TARGET) return 'gcp';
  return 'embedded';
}

/** The ports every function is built from. */
export interface Services extends Ports {
  /** Base URLs of the market-data endpoints (live exchanges, or the local replay servers). */
  endpoints: { krakenRest: string; bybitRest: string; bybitWs: string };
}

export interface Root extends Services {
  backend: Backend;
  secrets: SecretSource;
  /** The process environment the root was built from (Telegram's CST_* settings). */
  env: NodeJS.ProcessEnv;
  /** The Telegram side for the config in force (adapters built on the first ask). */
  telegram(): Promise<TelegramRuntime>;
  /** The exchange for live trading, or why there is none (bybit-api loads on the first ask). */
  liveVenue(): Promise<LiveVenueAccess>;
  /** A function's deps, built on the first ask and kept for the root's life (its per-instance caches). */
  deps<N extends FunctionName>(name: N): Promise<FunctionDeps[N]>;
  /** Closes every adapter. */
  close(): Promise<void>;
}

export interface RootOptions {
  backend?: Backend;
  /** Default: Secret Manager on the gcp backend, the environment otherwise. */
  secrets?: SecretSource;
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Overrides of the Telegram side (tests, replays, `npm start`'s console chat). */
  telegram?: TelegramRuntimeOptions;
  /** Closes the adapters (default: bus, state, warehouse). */
  close?: () => Promise<void>;
}

function projectOf(env: RuntimeEnv, backend: Backend): string {
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  if (project) return project;
  if (backend === 'gcp') throw new Error('GOOGLE_CLOUD_PROJECT is not set: the gcp backend needs a project id');
  return EMULATOR_PROJECT;
}

/** The root over adapters already built (tests, replays; `buildRoot` builds them for a backend). */
export function createRoot(services: Services, opts: RootOptions = {}): Root {
  const backend = opts.backend ?? 'embedded';
  const env = opts.env ?? process.env;
  const secrets = opts.secrets ?? (backend === 'gcp' ? secretManagerSecrets(projectOf(parseEnv(env), backend)) : envSecrets(env));
  let telegram: Promise<() => Promise<TelegramRuntime>> | undefined;
  let liveVenue: Promise<() => Promise<LiveVenueAccess>> | undefined;
  const deps = new Map<FunctionName, Promise<unknown>>();
  const root: Root = {
    ...services,
    backend,
    secrets,
    env,
    async telegram() {
      telegram ??= import('../telegram/runtime.js').then((m) => m.telegramRuntimeSource({ ...services, secrets, env }, opts.telegram));
      return (await telegram)();
    },
    async liveVenue() {
      liveVenue ??= import('../bybit/live-venue.js').then((m) => m.liveVenueSource({ secrets, baseUrl: services.endpoints.bybitRest, log: services.log }));
      return (await liveVenue)();
    },
    deps<N extends FunctionName>(name: N): Promise<FunctionDeps[N]> {
      let d = deps.get(name);
      if (!d) {
        d = DEPS_BUILDERS[name](root);
        deps.set(name, d);
        d.catch(() => deps.delete(name));
      }
      return d as Promise<FunctionDeps[N]>;
    },
    async close() {
      if (opts.close) return opts.close();
      await services.bus.close();
      await services.state.close();
      await services.warehouse.close();
    },
  };
  return root;
}

interface BuildOptions extends Omit<RootOptions, 'close'> {
  backend: Backend;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  log?: Logger;
  dataDir?: string;
  /** Market-data endpoints; default the live exchanges (SystemConfig defaults) or the env overrides. */
  endpoints?: Partial<Services['endpoints']>;
  /** In-process bus options (embedded only; durable in `<dataDir>/bus.sqlite` unless `file` says otherwise). */
  bus?: InMemoryBusOptions;
}

/** The adapters of a backend, each module loaded only for the backend that uses it. */
async function adapters(opts: BuildOptions, env: RuntimeEnv, clock: Clock, log: Logger): Promise<{ state: StateStore; bus: Bus; warehouse: Warehouse }> {
  const project = projectOf(env, opts.backend);
  const dataDir = resolve(opts.dataDir ?? env.CST_DATA_DIR ?? DEFAULT_DATA_DIR);
  const duckdb = async () => new (await import('../warehouse/duckdb.js')).DuckDbWarehouse({ file: join(dataDir, 'warehouse.duckdb') });
  const pubsub = async () => {
    const { PubSubBus, createPubSubClient } = await import('../bus/pubsub.js');
    return new PubSubBus(createPubSubClient(project));
  };
  const firestore = async () => new (await import('../state/firestore.js')).FirestoreStateStore({ projectId: project });
  switch (opts.backend) {
    case 'embedded': {
      mkdirSync(dataDir, { recursive: true });
      const [{ SqliteStateStore }, { InMemoryBus }] = await Promise.all([import('../state/sqlite.js'), import('../bus/memory.js')]);
      const state = new SqliteStateStore({ file: join(dataDir, 'state.sqlite'), clock });
      const bus = new InMemoryBus({ clock, log: log.child({ component: 'bus' }), projectId: project, file: join(dataDir, BUS_JOURNAL_FILE), ...opts.bus });
      return { state, bus, warehouse: await duckdb() };
    }
    case 'emulators':
      if (!env.FIRESTORE_EMULATOR_HOST || !env.PUBSUB_EMULATOR_HOST) {
        throw new Error(
          'the emulators backend needs FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST: run it through `npm run emulators` (firebase emulators:exec sets them)',
        );
      }
      mkdirSync(dataDir, { recursive: true });
      return { state: await firestore(), bus: await pubsub(), warehouse: await duckdb() };
    case 'gcp': {
      const { BigQueryWarehouse } = await import('../warehouse/bigquery.js');
      return { state: await firestore(), bus: await pubsub(), warehouse: new BigQueryWarehouse({ projectId: project }) };
    }
  }
}

/** The root of a backend: its adapters, the config service over them, the endpoints. */
export async function buildRoot(opts: BuildOptions): Promise<Root & { config: ConfigService }> {
  const rawEnv = opts.env ?? process.env;
  const env = parseEnv(rawEnv);
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ backend: opts.backend });
  const { state, bus, warehouse } = await adapters(opts, env, clock, log);
  // On Google Cloud the deploy creates and migrates the dataset and its tables (npm run deploy): a
  // function never does, and most have no BigQuery role at all (infra/deploy/access.ts), so a check
  // at start would fail them with a 403. The local backends keep their DuckDB schema up to date here.
  if (opts.backend !== 'gcp') await warehouse.ensureSchema();
  const config = new ConfigService({ state, bus, clock, log });
  const endpoints: Services['endpoints'] = {
    krakenRest: opts.endpoints?.krakenRest ?? env.KRAKEN_REST_URL ?? DEFAULT_SYSTEM_CONFIG.kraken.baseUrl,
    bybitRest: opts.endpoints?.bybitRest ?? env.BYBIT_REST_URL ?? DEFAULT_SYSTEM_CONFIG.bybit.restUrl,
    bybitWs: opts.endpoints?.bybitWs ?? env.BYBIT_WS_URL ?? DEFAULT_SYSTEM_CONFIG.bybit.wsUrl,
  };
  const { clock: _c, log: _l, dataDir: _d, endpoints: _e, bus: _b, ...rootOpts } = opts;
  return createRoot({ state, bus, warehouse, clock, log, config, endpoints }, { ...rootOpts, env: rawEnv }) as Root & { config: ConfigService };
}

/** The root the environment asks for (the cloud entries, once per process: infra/functions.ts). */
export function buildRootFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Root> {
  return buildRoot({ backend: backendFromEnv(parseEnv(env)), env });
}
