/**
 * The REAL execution function (functions/execution) subscribed on the in-process bus to exactly its
 * topics from the topology, over the embedded adapters (SQLite state, DuckDB warehouse) and a manual
 * clock, with taps on what it publishes. Used by the live-wiring and trade-command tests.
 */
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SUBSCRIBERS, subscriptionName } from '../../infra/bus/topology.js';
import { setContext, type AppContext } from '../../infra/context.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse, IN_MEMORY } from '../../infra/warehouse/duckdb.js';
import { execution } from '../../functions/execution/index.js';
import type { ConfigSource } from '../../shared/config/source.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { candleKey, type Candle } from '../../shared/model/market.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { TOPICS } from '../../shared/topics.js';
import type { Signal, TradeEvent } from '../../shared/model/trading.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import { PAPER_ACCOUNT_ID } from '../../shared/pipeline/execution.js';
import type { Alert, TradeCommand } from '../../shared/messages.js';

export interface Harness {
  ctx: AppContext;
  state: SqliteStateStore;
  bus: InMemoryBus;
  warehouse: DuckDbWarehouse;
  clock: ManualClock;
  tradeEvents: TradeEvent[];
  alerts: Alert[];
  /** Publishes one closed 1m candle as the holder does (at its close time) and drains the bus. */
  candle(c: Candle): Promise<void>;
  signal(s: Signal): Promise<void>;
  command(c: TradeCommand): Promise<void>;
  doc(): Promise<TradingDoc | undefined>;
  close(): Promise<void>;
}

const decode = (data: string) => JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;

export async function executionHarness(opts: { start: number; bybitRest?: string; config?: (h: { state: SqliteStateStore; bus: InMemoryBus; clock: ManualClock; log: Logger }) => ConfigSource }): Promise<Harness> {
  const clock = new ManualClock(opts.start);
  const state = new SqliteStateStore({ file: ':memory:', clock });
  const warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
  await warehouse.ensureSchema();
  const log = createLogger({}, { minSeverity: 'CRITICAL' });
  const bus = new InMemoryBus({ clock, fast: true, log });
  const config = opts.config?.({ state, bus, clock, log }) ?? staticConfig(DEFAULT_SYSTEM_CONFIG, DEFAULT_STRATEGY_CONFIGS);
  const ctx: AppContext = { state, bus, warehouse, clock, log, config, endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: opts.bybitRest ?? 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' } };
  setContext(ctx);
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    if (entries.some((e) => e.function === 'execution')) bus.subscribe({ name: subscriptionName('execution', topic), topic, handler: execution });
  }
  const tradeEvents: TradeEvent[] = [];
  const alerts: Alert[] = [];
  bus.subscribe({ name: 'tap--events', topic: TOPICS.tradeEvents, handler: (e) => void tradeEvents.push(decode(e.data.message.data) as TradeEvent) });
  bus.subscribe({ name: 'tap--alerts', topic: TOPICS.alerts, handler: (e) => void alerts.push(decode(e.data.message.data) as Alert) });
  return {
    ctx,
    state,
    bus,
    warehouse,
    clock,
    tradeEvents,
    alerts,
    async candle(c) {
      clock.set(c.openTime + 60_000);
      await bus.publish(TOPICS.bybitCandles, { candles: [c] }, { orderingKey: c.symbol, attributes: { symbol: c.symbol, kind: 'live', candleKey: candleKey(c) } });
      await bus.drain();
    },
    async signal(s) {
      await bus.publish(TOPICS.microSignals, s, { attributes: { symbol: s.symbol, strategy: s.strategy } });
      await bus.drain();
    },
    async command(c) {
      await bus.publish(TOPICS.tradeCommands, c, { attributes: { type: c.type, dedupeId: c.commandId } });
      await bus.drain();
    },
    doc: () => state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID)),
    async close() {
      setContext(undefined);
      await bus.close();
      await state.close();
      await warehouse.close();
    },
  };
}
