/**
 * The dependencies a function needs, built once per process (cold start) from the environment:
 * Google Cloud adapters in the cloud or against the emulators, embedded adapters offline.
 * Functions call `getContext()`; tests and the local runtime install their own with `setContext()`.
 */
import type { Clock } from '../shared/ports/clock.js';
import type { Bus } from '../shared/ports/bus.js';
import type { StateStore } from '../shared/ports/state.js';
import type { Warehouse } from '../shared/ports/warehouse.js';
import type { Logger } from '../shared/log.js';
import type { ConfigSource } from '../shared/config/source.js';

export interface AppContext {
  state: StateStore;
  bus: Bus;
  warehouse: Warehouse;
  clock: Clock;
  log: Logger;
  config: ConfigSource;
  /** Base URLs of the market-data endpoints (live exchanges, or the local replay servers). */
  endpoints: { krakenRest: string; bybitRest: string; bybitWs: string };
}

let current: AppContext | undefined;
let building: Promise<AppContext> | undefined;
let factory: (() => Promise<AppContext>) | undefined;

/** Installs the context (tests, local runtime). */
export function setContext(ctx: AppContext | undefined): void {
  current = ctx;
  building = undefined;
}

/** Sets how a context is built on first use when none was installed (cloud entry point). */
export function setContextFactory(f: () => Promise<AppContext>): void {
  factory = f;
}

export async function getContext(): Promise<AppContext> {
  if (current) return current;
  if (!factory) throw new Error('no AppContext installed: call setContext() or setContextFactory() first');
  building ??= factory().then((ctx) => {
    current = ctx;
    return ctx;
  });
  return building;
}
