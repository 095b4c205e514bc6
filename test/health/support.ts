/** Loads the real-candle fixtures of test/fixtures/health. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Candle, Interval, Venue } from '../../shared/model/market.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'health');

export function loadCandles(file: string, venue: Venue, symbol: string, interval: Interval): Candle[] {
  const lines = readFileSync(join(DIR, file), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [ts, open, high, low, close, volume] = l.split(',').map(Number) as [number, number, number, number, number, number];
    return { venue, symbol, interval, openTime: ts, open, high, low, close, volume };
  });
}
