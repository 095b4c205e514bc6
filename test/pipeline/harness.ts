/**
 * The REAL execution function (shared/pipeline/execution.ts `handle`, bound as its cloud entry binds it,
 * with the deps of a test root: test/root.ts) subscribed on the in-process bus to exactly its topics
 * from the topology, over the embedded adapters (SQLite state, DuckDB warehouse) and a manual clock,
 * with taps on what it publishes. Used by the live-wiring and trade-command tests.
 */
import type { InMemoryBus } from '../../infra/bus/memory.js';
import { SUBSCRIBERS, subscriptionName } from '../../infra/bus/topology.js';
import { bindPubsub } from '../../infra/functions.js';
import type { Root } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { FUNCTION_NAME as EXECUTION, handle } from '../../shared/pipeline/execution.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { type ConfigSource } from '../../shared/config/source.js';
import { type Logger } from '../../shared/log.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { SecretSource } from '../../shared/ports/secrets.js';
import { candleKey, type Candle } from '../../shared/model/market.js';
import { TOPICS } from '../../shared/topics.js';
import type { Signal, TradeEvent } from '../../shared/model/trading.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import { testRoot } from '../root.js';
import type { Alert, TradeCommand } from '../../shared/messages.js';

export interface Harness {
  root: Root;
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

export async function executionHarness(opts: {
  start: number;
  bybitRest?: string;
  /** The Bybit keys' source (default: none configured). */
  secrets?: SecretSource;
  config?: (h: { state: SqliteStateStore; bus: InMemoryBus; clock: ManualClock; log: Logger }) => ConfigSource;
}): Promise<Harness> {
  const { root, state, bus, warehouse, clock } = await testRoot({
    start: opts.start,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
    ...(opts.bybitRest ? { endpoints: { bybitRest: opts.bybitRest } } : {}),
  });
  const execution = bindPubsub(EXECUTION, handle, () => root.deps(EXECUTION));
  for (const [topic, entries] of Object.entries(SUBSCRIBERS)) {
    if (entries.some((e) => e.function === EXECUTION)) bus.subscribe({ name: subscriptionName(EXECUTION, topic), topic, handler: execution });
  }
  const tradeEvents: TradeEvent[] = [];
  const alerts: Alert[] = [];
  bus.subscribe({ name: 'tap--events', topic: TOPICS.tradeEvents, handler: (e) => void tradeEvents.push(decode(e.data.message.data) as TradeEvent) });
  bus.subscribe({ name: 'tap--alerts', topic: TOPICS.alerts, handler: (e) => void alerts.push(decode(e.data.message.data) as Alert) });
  return {
    root,
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
    close: () => root.close(),
  };
}
