/** Loads the real-data fixtures of test/fixtures/strategies (see its README.md). Test helper only. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Interval, Venue } from '../../shared/model/market.js';
import { seriesFromCsv, type CandleSeries } from '../../shared/strategies/series.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'strategies');

export function fixtureSeries(file: string, symbol: string, interval: Interval, venue: Venue = 'bybit'): CandleSeries {
  return seriesFromCsv(readFileSync(join(FIXTURES, file), 'utf8'), { symbol, interval, venue });
}

export const btcWeek1m = (): CandleSeries => fixtureSeries('BTCUSDT_1m_2025-06-16_week.csv', 'BTCUSDT', '1m');
export const btcWeek15m = (): CandleSeries => fixtureSeries('BTCUSDT_15m_2025-06-16_week.csv', 'BTCUSDT', '15m');
export const btcWeek1h = (): CandleSeries => fixtureSeries('BTCUSDT_60m_2025-06-16_week.csv', 'BTCUSDT', '1h');
export const btcWeek4h = (): CandleSeries => fixtureSeries('BTCUSDT_240m_2025-06-16_week.csv', 'BTCUSDT', '4h');
export const eth2Days1m = (): CandleSeries => fixtureSeries('ETHUSDT_1m_2025-06-16_2days.csv', 'ETHUSDT', '1m');
export const krakenSparse1m = (): CandleSeries => fixtureSeries('kraken_XBTUSDC_1m_2023-01-01_3days.csv', 'BTCUSDT', '1m', 'kraken');

/** Copy of a series (fresh buffers), e.g. to alter candles without touching the original. */
export function cloneSeries(s: CandleSeries): CandleSeries {
  return {
    ...s,
    openTime: s.openTime.slice(),
    open: s.open.slice(),
    high: s.high.slice(),
    low: s.low.slice(),
    close: s.close.slice(),
    volume: s.volume.slice(),
  };
}
