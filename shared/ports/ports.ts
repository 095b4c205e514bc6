/**
 * The ports a function is built from, in one place: the composition root (infra/runtime/root.ts)
 * provides them, and each function's `Deps` (shared/pipeline/<name>.ts) picks the ones it uses.
 */
import type { ConfigSource } from '../config/source.js';
import type { Logger } from '../log.js';
import type { Bus } from './bus.js';
import type { Clock } from './clock.js';
import type { StateStore } from './state.js';
import type { Warehouse } from './warehouse.js';

export interface Ports {
  state: StateStore;
  bus: Bus;
  warehouse: Warehouse;
  clock: Clock;
  log: Logger;
  config: ConfigSource;
}
