/** Shared setup of the live-execution tests: the local Bybit v5 trade server, the client, a state store. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BybitTradingClient } from '../../infra/bybit/trading-client.js';
import { BybitTradeServer } from '../../infra/replay/bybit-trade-server.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { Candle } from '../../shared/model/market.js';

export const API_KEY = 'local-test-key-7Hq2';
export const API_SECRET = 'local-test-secret-Zp91xLk3';
export const INSTRUMENTS_FILE = join(import.meta.dirname, 'fixtures', 'instruments_info_linear.json');

export interface Venue {
  server: BybitTradeServer;
  client: BybitTradingClient;
  baseUrl: string;
  stop(): Promise<void>;
}

export async function startVenue(): Promise<Venue> {
  const server = new BybitTradeServer({ apiKey: API_KEY, apiSecret: API_SECRET, instrumentsFile: INSTRUMENTS_FILE });
  const baseUrl = await server.start();
  const client = new BybitTradingClient({ baseUrl, apiKey: API_KEY, apiSecret: API_SECRET, recvWindowMs: 5000, requestTimeoutMs: 5000 });
  return { server, client, baseUrl, stop: () => server.stop() };
}

export function memoryStore(): SqliteStateStore {
  return new SqliteStateStore({ file: ':memory:' });
}

/** Real 1m candles of a `ts_ms,open,high,low,close,volume` CSV fixture. */
export function candlesFrom(file: string, symbol: string): Candle[] {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  lines.shift();
  return lines.map((line) => {
    const [t, o, h, l, c, v] = line.split(',').map(Number) as [number, number, number, number, number, number];
    return { symbol, interval: '1m', venue: 'bybit', openTime: t, open: o, high: h, low: l, close: c, volume: v };
  });
}

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/**
 * Drives the venue through one real candle the way the replay server derives trades from it: open,
 * then the extreme against the candle's direction first (low first when close >= open), the other
 * extreme, then close.
 */
export function playCandle(server: BybitTradeServer, c: Candle): void {
  const path = c.close >= c.open ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
  for (const p of path) server.trade(c.symbol, p);
}
