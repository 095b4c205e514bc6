/** Shared helpers of the Bybit holder tests: fixtures, config, a capturing bus, replay stepping. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { BybitStream, BybitStreamHandlers, StreamState } from '../../shared/ports/bybit.js';
import { TOPICS } from '../../shared/topics.js';
import type { Candle, Snapshot } from '../../shared/model/market.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import type { BybitHolder } from '../../shared/market/bybit/holder.js';
import type { BybitReplayServer } from '../../infra/replay/bybit-server.js';
import { loadCandlesCsv, loadRecording, mergeReplayData, tradesFromCandles, type ReplayData } from '../../infra/replay/bybit-replay-data.js';
import type { TickBatch } from '../../shared/messages.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bybit');
export const RECORDING_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'DOGEUSDT'] as const;
export const CANDLE_FILES: Record<'BTCUSDT' | 'ETHUSDT', string> = {
  BTCUSDT: join(FIXTURES, 'BTCUSDT_1m_2025-06-01T00-03.csv'),
  ETHUSDT: join(FIXTURES, 'ETHUSDT_1m_2025-06-01T00-03.csv'),
};
export const MINUTE = 60_000;

export interface Recorded {
  recv: number;
  msg: Record<string, unknown>;
}

/** The raw recording lines of one fixture file, in file order. */
export function recorded(file: string): Recorded[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const r = JSON.parse(l) as { recv_ts: number; msg: Record<string, unknown> };
      return { recv: Math.round(r.recv_ts * 1000), msg: r.msg };
    });
}

export function recordingData(): ReplayData {
  return loadRecording(FIXTURES);
}

export function candleData(symbols: Array<'BTCUSDT' | 'ETHUSDT'>): ReplayData {
  return mergeReplayData(...symbols.map((s) => tradesFromCandles(s, loadCandlesCsv(CANDLE_FILES[s]))));
}

/** Real candles of a fixture file as the system's Candle (numbers). */
export function fixtureCandles(symbol: 'BTCUSDT' | 'ETHUSDT'): Candle[] {
  return loadCandlesCsv(CANDLE_FILES[symbol]).map((c) => ({
    symbol,
    interval: '1m',
    venue: 'bybit',
    openTime: c.openTime,
    open: Number(c.open),
    high: Number(c.high),
    low: Number(c.low),
    close: Number(c.close),
    volume: Number(c.volume),
  }));
}

export function testConfig(symbols: readonly string[], bybit: Partial<SystemConfig['bybit']> = {}): SystemConfig {
  return {
    ...DEFAULT_SYSTEM_CONFIG,
    symbols: symbols.map((symbol) => ({ symbol, krakenPair: null, tier: 'large_cap' as const, enabled: true })),
    bybit: { ...DEFAULT_SYSTEM_CONFIG.bybit, reconnectMinMs: 20, reconnectMaxMs: 100, ...bybit },
  };
}

export interface CapturedLog {
  log: Logger;
  entries: Array<Record<string, unknown>>;
}

export function captureLog(): CapturedLog {
  const entries: Array<Record<string, unknown>> = [];
  const log = createLogger({}, { minSeverity: 'DEBUG', sink: (line) => entries.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, entries };
}

export interface CandleMessage {
  kind: string;
  symbol: string;
  candles: Candle[];
  candleKey: string;
}

/** An InMemoryBus with subscriptions that record what the holder publishes, in delivery order. */
export class CaptureBus {
  readonly bus: InMemoryBus;
  readonly candleMessages: CandleMessage[] = [];
  readonly tickBatches: Array<TickBatch & { publishedAt: number }> = [];
  readonly snapshots: Snapshot[] = [];
  readonly alerts: Array<{ kind: string; message: string }> = [];

  constructor(clock: Clock) {
    this.bus = new InMemoryBus({ clock, fast: true, log: createLogger({}, { minSeverity: 'ERROR' }) });
    const decode = (data: string): unknown => JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
    this.bus.subscribe({
      name: 'test--candles',
      topic: TOPICS.bybitCandles,
      handler: (e) => {
        const p = decode(e.data.message.data) as { candles: Candle[] };
        const a = e.data.message.attributes ?? {};
        this.candleMessages.push({ kind: a.kind ?? '', symbol: a.symbol ?? '', candles: p.candles, candleKey: a.candleKey ?? '' });
      },
    });
    this.bus.subscribe({
      name: 'test--ticks',
      topic: TOPICS.rawTicks,
      handler: (e) => {
        this.tickBatches.push({ ...(decode(e.data.message.data) as TickBatch), publishedAt: Date.parse(e.data.message.publishTime) });
      },
    });
    this.bus.subscribe({ name: 'test--snapshots', topic: TOPICS.snapshots, handler: (e) => void this.snapshots.push(decode(e.data.message.data) as Snapshot) });
    this.bus.subscribe({
      name: 'test--alerts',
      topic: TOPICS.alerts,
      handler: (e) => void this.alerts.push(decode(e.data.message.data) as { kind: string; message: string }),
    });
  }

  /** Every published candle of a symbol, in publish order. */
  candles(symbol: string): Array<Candle & { kind: string }> {
    return this.candleMessages.filter((m) => m.symbol === symbol).flatMap((m) => m.candles.map((c) => ({ ...c, kind: m.kind })));
  }
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Advances the replay to `to` in steps; after each step waits until the holder received every data
 * message the server sent (single client), then runs the holder's timers and lets queues settle.
 * `lost` counts data messages the server sent to connections that were dropped.
 */
export async function stepReplay(server: BybitReplayServer, holder: BybitHolder, bus: CaptureBus, to: number, stepMs: number, lost = 0): Promise<void> {
  while (server.now() < to) {
    await server.advanceTo(Math.min(to, server.now() + stepMs));
    await waitFor(() => holder.health().messages >= server.stats.dataSent - lost, `holder received ${server.stats.dataSent - lost} messages`);
    await holder.tick();
    await holder.idle();
    await bus.bus.drain();
  }
}

export function sameCandle(a: Candle, b: Candle): boolean {
  return (
    a.openTime === b.openTime &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.close === b.close &&
    Math.abs(a.volume - b.volume) <= 1e-9 * Math.max(1, Math.abs(b.volume))
  );
}

/** A fake Bybit stream for the holder: connects, drops and comes back on demand; records (un)subscribe calls. */
export class FakeStream implements BybitStream {
  handlers: BybitStreamHandlers = {};
  st: StreamState = 'idle';
  calls: string[] = [];
  setHandlers(h: BybitStreamHandlers): void {
    this.handlers = h;
  }
  async connect(): Promise<void> {
    this.st = 'connected';
    this.handlers.onOpen?.();
  }
  async subscribe(topics: string[]): Promise<void> {
    this.calls.push(`sub ${topics.join(',')}`);
  }
  async unsubscribe(topics: string[]): Promise<void> {
    this.calls.push(`unsub ${topics.join(',')}`);
  }
  async close(): Promise<void> {
    this.st = 'closed';
  }
  state(): StreamState {
    return this.st;
  }
  drop(): void {
    this.st = 'reconnecting';
    this.handlers.onDisconnect?.('test drop');
  }
  back(): void {
    this.st = 'connected';
    this.handlers.onReconnected?.();
  }
}
