/** Shared helpers for the bus tests: real candles from the fixtures, a log capture, clock driving. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Candle } from '../../shared/model/market.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { ManualClock } from '../../shared/ports/clock.js';
import type { SubscribableBus } from '../../infra/bus/envelope.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** Real Bybit linear 1m candles (see fixtures/README.md). */
export function fixtureCandles(symbol: 'BTCUSDT' | 'ETHUSDT'): Candle[] {
  const lines = readFileSync(join(FIXTURES, `${symbol}_1m.csv`), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const [ts, open, high, low, close, volume] = line.split(',').map(Number) as [number, number, number, number, number, number];
    return { symbol, interval: '1m', venue: 'bybit', openTime: ts, open, high, low, close, volume };
  });
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

export async function flushAsync(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Lets deliveries run, advancing the manual clock `stepMs` at a time until the bus has drained.
 * Sleepers wake at exactly their wake time, so handlers observe exact back-off instants.
 */
export async function runUntilDrained(bus: SubscribableBus, clock: ManualClock, stepMs: number, maxSteps = 10_000): Promise<void> {
  let drained = false;
  void bus.drain().then(() => {
    drained = true;
  });
  for (let i = 0; i < maxSteps; i++) {
    await flushAsync();
    if (drained) return;
    await clock.advance(stepMs);
  }
  throw new Error(`bus did not drain within ${maxSteps} steps of ${stepMs} ms`);
}
