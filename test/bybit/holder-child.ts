/**
 * Child process for the SIGTERM test: runs the holder service's real `main()` (signals handled by
 * the process) with embedded adapters, against the replay server whose URLs come from the env.
 */
import { createRoot, type Services } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { staticConfig } from '../../shared/config/source.js';
import { createLogger } from '../../shared/log.js';
import { systemClock } from '../../shared/ports/clock.js';
import type { Warehouse } from '../../shared/ports/warehouse.js';
import { main } from '../../functions/bybit-holder/server.js';
import { RECORDING_SYMBOLS, testConfig } from './helpers.js';

const unused = (): never => {
  throw new Error('the holder does not use the warehouse');
};
const warehouse: Warehouse = { ensureSchema: unused, insert: unused, candles: unused, count: unused, strategyRows: unused, close: async () => undefined };

const ctx: Services = {
  state: new SqliteStateStore({ file: ':memory:' }),
  bus: new InMemoryBus({ fast: true }),
  warehouse,
  clock: systemClock,
  log: createLogger({ proc: 'holder-child' }),
  config: staticConfig(testConfig(RECORDING_SYMBOLS, { bookDepth: 200 })),
  endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: process.env.BYBIT_REST as string, bybitWs: process.env.BYBIT_WS as string },
};
await main(createRoot(ctx));
