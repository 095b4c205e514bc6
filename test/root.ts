/**
 * The tests' composition root: the real `createRoot` (infra/runtime/root.ts) over the embedded adapters,
 * all in memory (SQLite state, the in-process bus, DuckDB warehouse), on a clock the test drives. The
 * one shared setup the function-level tests build on (test/pipeline/harness.ts, test/telegram/helpers.ts,
 * the handler tests): each gets its own root and calls a function's `handle` (or its bound handler)
 * with `root.deps(name)`, as the cloud entry does with the process's root.
 */
import { InMemoryBus, type InMemoryBusOptions } from '../infra/bus/memory.js';
import { createRoot, type Root, type RootOptions, type Services } from '../infra/runtime/root.js';
import { SqliteStateStore } from '../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../infra/warehouse/duckdb.js';
import type { ConfigSource } from '../shared/config/source.js';
import { staticConfig } from '../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createLogger, type Logger } from '../shared/log.js';
import { ManualClock, type Clock } from '../shared/ports/clock.js';

/** Endpoints nobody answers at (a test that needs one passes its local server's URL). */
export const UNREACHABLE: Services['endpoints'] = { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' };

export interface TestRootOptions<C extends Clock> extends Omit<RootOptions, 'close'> {
  /** Default a ManualClock at `start` (default 2025-06-01). */
  clock?: C;
  start?: number;
  log?: Logger;
  /** Default the defaults (staticConfig); a function of the adapters for a ConfigService. */
  config?: (a: { state: SqliteStateStore; bus: InMemoryBus; clock: C; log: Logger }) => ConfigSource;
  bus?: Omit<InMemoryBusOptions, 'clock' | 'log'>;
  endpoints?: Partial<Services['endpoints']>;
}

export interface TestRoot<C extends Clock> {
  root: Root;
  state: SqliteStateStore;
  bus: InMemoryBus;
  warehouse: DuckDbWarehouse;
  clock: C;
  log: Logger;
}

export async function testRoot<C extends Clock = ManualClock>(opts: TestRootOptions<C> = {}): Promise<TestRoot<C>> {
  const clock = opts.clock ?? (new ManualClock(opts.start ?? Date.UTC(2025, 5, 1)) as unknown as C);
  const log = opts.log ?? createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });
  const state = new SqliteStateStore({ file: ':memory:', clock });
  const bus = new InMemoryBus({ fast: true, ...opts.bus, clock, log });
  const warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
  await warehouse.ensureSchema();
  const config = opts.config?.({ state, bus, clock, log }) ?? staticConfig(DEFAULT_SYSTEM_CONFIG, DEFAULT_STRATEGY_CONFIGS);
  const { clock: _c, start: _s, log: _l, config: _cf, bus: _b, endpoints, ...rootOpts } = opts;
  const root = createRoot({ state, bus, warehouse, clock, log, config, endpoints: { ...UNREACHABLE, ...endpoints } }, { env: {}, ...rootOpts });
  return { root, state, bus, warehouse, clock, log };
}
