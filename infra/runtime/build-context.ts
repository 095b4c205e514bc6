/**
 * Builds the AppContext for a backend:
 * - `embedded` (default when nothing is configured): SQLite state, the in-process bus with its durable
 *   SQLite journal (`bus.sqlite`: messages, deliveries, dead letters survive a crash), DuckDB
 *   warehouse, all under CST_DATA_DIR (default `.data/`). Offline, no account.
 * - `emulators`: Firestore + Pub/Sub emulators (FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST), DuckDB
 *   warehouse (there is no BigQuery emulator).
 * - `gcp`: Firestore, Pub/Sub, BigQuery in GOOGLE_CLOUD_PROJECT.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { setContextFactory, type AppContext } from '../context.js';
import type { Bus } from '../../shared/ports/bus.js';
import type { Clock } from '../../shared/ports/clock.js';
import { systemClock } from '../../shared/ports/clock.js';
import type { StateStore } from '../../shared/ports/state.js';
import type { Warehouse } from '../../shared/ports/warehouse.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { ConfigService } from '../../shared/config/service.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { SqliteStateStore } from '../state/sqlite.js';
import { FirestoreStateStore } from '../state/firestore.js';
import { InMemoryBus, type InMemoryBusOptions } from '../bus/memory.js';
import { PubSubBus, createPubSubClient } from '../bus/pubsub.js';
import { DuckDbWarehouse } from '../warehouse/duckdb.js';
import { BigQueryWarehouse } from '../warehouse/bigquery.js';

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
export type RuntimeEnv = z.infer<typeof envSchema>;

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

export interface BuildOptions {
  backend: Backend;
  env?: RuntimeEnv;
  clock?: Clock;
  log?: Logger;
  dataDir?: string;
  /** Market-data endpoints; default the live exchanges (SystemConfig defaults) or the env overrides. */
  endpoints?: Partial<AppContext['endpoints']>;
  /** In-process bus options (embedded only; durable in `<dataDir>/bus.sqlite` unless `file` says otherwise). */
  bus?: InMemoryBusOptions;
}

export interface BuiltContext extends AppContext {
  backend: Backend;
  config: ConfigService;
  /** Closes every adapter. */
  close(): Promise<void>;
}

function projectOf(env: RuntimeEnv, backend: Backend): string {
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  if (project) return project;
  if (backend === 'gcp') throw new Error('GOOGLE_CLOUD_PROJECT is not set: the gcp backend needs a project id');
  return EMULATOR_PROJECT;
}

export async function buildContext(opts: BuildOptions): Promise<BuiltContext> {
  const env = opts.env ?? parseEnv();
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ backend: opts.backend });
  const project = projectOf(env, opts.backend);
  const dataDir = resolve(opts.dataDir ?? env.CST_DATA_DIR ?? DEFAULT_DATA_DIR);

  let state: StateStore;
  let bus: Bus;
  let warehouse: Warehouse;
  switch (opts.backend) {
    case 'embedded':
      mkdirSync(dataDir, { recursive: true });
      state = new SqliteStateStore({ file: join(dataDir, 'state.sqlite'), clock });
      bus = new InMemoryBus({ clock, log: log.child({ component: 'bus' }), projectId: project, file: join(dataDir, BUS_JOURNAL_FILE), ...opts.bus });
      warehouse = new DuckDbWarehouse({ file: join(dataDir, 'warehouse.duckdb') });
      break;
    case 'emulators':
      if (!env.FIRESTORE_EMULATOR_HOST || !env.PUBSUB_EMULATOR_HOST) {
        throw new Error(
          'the emulators backend needs FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST: run it through `npm run emulators` (firebase emulators:exec sets them)',
        );
      }
      mkdirSync(dataDir, { recursive: true });
      state = new FirestoreStateStore({ projectId: project });
      bus = new PubSubBus(createPubSubClient(project));
      warehouse = new DuckDbWarehouse({ file: join(dataDir, 'warehouse.duckdb') });
      break;
    case 'gcp':
      state = new FirestoreStateStore({ projectId: project });
      bus = new PubSubBus(createPubSubClient(project));
      warehouse = new BigQueryWarehouse({ projectId: project });
      break;
  }
  await warehouse.ensureSchema();
  const config = new ConfigService({ state, bus, clock, log });
  const endpoints: AppContext['endpoints'] = {
    krakenRest: opts.endpoints?.krakenRest ?? env.KRAKEN_REST_URL ?? DEFAULT_SYSTEM_CONFIG.kraken.baseUrl,
    bybitRest: opts.endpoints?.bybitRest ?? env.BYBIT_REST_URL ?? DEFAULT_SYSTEM_CONFIG.bybit.restUrl,
    bybitWs: opts.endpoints?.bybitWs ?? env.BYBIT_WS_URL ?? DEFAULT_SYSTEM_CONFIG.bybit.wsUrl,
  };
  return {
    backend: opts.backend,
    state,
    bus,
    warehouse,
    clock,
    log,
    config,
    endpoints,
    async close() {
      await bus.close();
      await state.close();
      await warehouse.close();
    },
  };
}

/** Cloud entry points (functions/index.ts, the holder's main): build the context from the environment on first use. */
export function installEnvContextFactory(): void {
  setContextFactory(async () => {
    const env = parseEnv();
    return buildContext({ backend: backendFromEnv(env), env });
  });
}
