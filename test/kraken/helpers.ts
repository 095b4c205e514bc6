/** Shared set-up of the Kraken tests: real fixtures, embedded adapters, a recording bus. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SystemConfig } from '../../shared/config/system.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { KrakenOhlcResponse, KrakenOhlcRawRow } from '../../shared/ports/kraken.js';
import { ManualClock, type Clock } from '../../shared/ports/clock.js';
import type { Interval } from '../../shared/model/market.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { krakenClientFromConfig } from '../../infra/kraken/client.js';
import { createRoot, type Root } from '../../infra/runtime/root.js';
import { staticConfig } from '../../shared/config/source.js';
import type { KrakenPullDeps } from '../../shared/market/kraken/pull.js';
import type { KrakenMarketData } from '../../shared/ports/kraken.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'kraken');
export const MIN = 60_000;

export function readRestExcerpt(name: 'head' | 'tail'): { pairKey: string; rows: KrakenOhlcRawRow[]; last: number; body: KrakenOhlcResponse } {
  const body = JSON.parse(readFileSync(join(FIXTURES, `OHLC_XBTUSDT_1m_${name}_excerpt.json`), 'utf8')) as KrakenOhlcResponse;
  const result = body.result!;
  const pairKey = Object.keys(result).find((k) => k !== 'last')!;
  return { pairKey, rows: result[pairKey] as KrakenOhlcRawRow[], last: result.last, body };
}

/** Test config: one symbol on the given Kraken pair and the given intervals; SPEC defaults otherwise. */
export function testConfig(
  symbols: Array<{ symbol: string; krakenPair: string | null }>,
  intervals: Interval[],
  kraken: Partial<SystemConfig['kraken']> = {},
): SystemConfig {
  return {
    ...DEFAULT_SYSTEM_CONFIG,
    symbols: symbols.map((s) => ({ ...s, tier: 'large_cap', enabled: true })),
    kraken: { ...DEFAULT_SYSTEM_CONFIG.kraken, intervals, ...kraken },
  };
}

export interface LogLine {
  severity: string;
  message: string;
  [k: string]: unknown;
}

export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({}, { minSeverity: 'DEBUG', sink: (line) => lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

/** Subscribes a recorder to a topic; call `bus.drain()` before reading. */
export function record<T = unknown>(bus: InMemoryBus, topic: string): T[] {
  const got: T[] = [];
  bus.subscribe({
    name: `recorder--${topic}`,
    topic,
    handler: (ev) => {
      got.push(JSON.parse(Buffer.from(ev.data.message.data, 'base64').toString('utf8')) as T);
    },
  });
  return got;
}

export interface Env {
  state: SqliteStateStore;
  bus: InMemoryBus;
  warehouse: DuckDbWarehouse;
  log: Logger;
  logs: LogLine[];
  close(): Promise<void>;
}

export async function embeddedEnv(): Promise<Env> {
  const state = new SqliteStateStore({ file: ':memory:' });
  const bus = new InMemoryBus({ fast: true });
  const warehouse = new DuckDbWarehouse({ file: ':memory:' });
  await warehouse.ensureSchema();
  const { log, lines } = capturingLogger();
  return {
    state,
    bus,
    warehouse,
    log,
    logs: lines,
    close: async () => {
      await bus.close();
      await state.close();
      await warehouse.close();
    },
  };
}

export function pullDeps(env: Env, config: SystemConfig, clock: Clock, baseUrl: string, kraken?: KrakenMarketData): KrakenPullDeps {
  return {
    kraken: kraken ?? krakenClientFromConfig(baseUrl, config.kraken, clock, env.log),
    state: env.state,
    bus: env.bus,
    warehouse: env.warehouse,
    clock,
    log: env.log,
    config,
  };
}

const realTick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Advances a ManualClock in steps (with real pauses for I/O) until `p` settles. */
export async function drive<T>(clock: { advance(ms: number): Promise<void> }, p: Promise<T>, stepMs = 250): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  while (!done) {
    await realTick();
    if (!done) await clock.advance(stepMs);
  }
  return watched;
}

/** Waits (real time) until `cond` holds. */
export async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await realTick(2);
  }
}

/**
 * A test clock that jumps straight to the next wake time: `step()` moves to the earliest sleeper and
 * wakes every sleeper due then, so a request granted at T is sent at exactly T on this clock.
 */
export class SteppingClock extends ManualClock {
  /** Moves to the earliest wake time and wakes whoever is due; false when nobody sleeps. */
  async step(): Promise<boolean> {
    const at = this.nextWakeAt();
    if (at === undefined) return false;
    await this.advance(Math.max(0, at - this.now()));
    return true;
  }
}

/**
 * Counts fetches in flight (global fetch wrapped; a request counts until its body is read), so a
 * driver never moves the test clock while a request travels or its answer is being read: the local
 * servers then stamp each request with the clock time it was sent at, and a client acts on an answer
 * at the time it got it.
 */
export function countFetches(): { inFlight: () => number; restore: () => void } {
  const real = globalThis.fetch;
  let n = 0;
  globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
    n++;
    try {
      const res = await real(...args);
      const body = await res.text();
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    } finally {
      n--;
    }
  }) as typeof fetch;
  return { inFlight: () => n, restore: () => void (globalThis.fetch = real) };
}

/**
 * Runs `p` to completion, stepping `clock` to its next wake time only when no request has been in
 * flight for two consecutive looks (real time only waits for I/O).
 */
export async function driveRequests<T>(clock: SteppingClock, inFlight: () => number, p: Promise<T>, realTimeoutMs = 20_000): Promise<T> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  const start = Date.now();
  let idle = 0;
  while (!done) {
    if (Date.now() - start > realTimeoutMs) throw new Error('driveRequests: the promise did not settle');
    await realTick(2);
    idle = inFlight() > 0 ? 0 : idle + 1;
    if (done || idle < 2) continue;
    await clock.step();
  }
  return watched;
}

/** A seeded [0, 1) source (mulberry32, the hyperopt sampler's): the same draws on every run. */
export { rng as seeded } from '../../shared/backtest/hyperopt/sampler.js';

/** A composition root over `env` whose Kraken endpoint is `krakenRest` (the other venues unreachable): the scheduled kraken-pull's deps as deployed. */
export function krakenRoot(env: Env, clock: Clock, config: SystemConfig, krakenRest: string): Root {
  return createRoot({
    state: env.state,
    bus: env.bus,
    warehouse: env.warehouse,
    clock,
    log: env.log,
    config: staticConfig(config),
    endpoints: { krakenRest, bybitRest: 'http://127.0.0.1:1', bybitWs: 'ws://127.0.0.1:1' },
  });
}
