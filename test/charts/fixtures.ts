/** Loads the real candle slices in test/fixtures/charts (see its README). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Candle, Interval } from '../../shared/model/market.js';
import type { TradeChartInput } from '../../shared/charts/trade-chart.js';
import type { EquityPoint } from '../../shared/charts/equity-chart.js';

export const CHART_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'charts');

export function loadCandles(file: string, interval: Interval, symbol = 'BTCUSDT'): Candle[] {
  const lines = readFileSync(join(CHART_FIXTURES, file), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [ts, open, high, low, close, volume] = l.split(',').map(Number);
    return {
      symbol,
      interval,
      venue: 'bybit',
      openTime: ts!,
      open: open!,
      high: high!,
      low: low!,
      close: close!,
      volume: volume!,
    };
  });
}

/** 2025-06-23 15:30-19:30 UTC, Bybit BTCUSDT linear 1m: the rally. */
export const RALLY_1M = 'BTCUSDT_1m_2025-06-23T1530_1930.csv';
/** 2025-06-22 12:00-16:00 UTC, Bybit BTCUSDT linear 1m: the sell-off. */
export const SELLOFF_1M = 'BTCUSDT_1m_2025-06-22T1200_1600.csv';
/** 2025-05-29 -> 2025-06-29, Bybit BTCUSDT linear 1h (the whole file). */
export const HOURLY = 'BTCUSDT_60m.csv';


/** Candles shown on a chart: 90 one-minute candles, the entry on the 61st. */
const WINDOW = 90;
const ENTRY_INDEX = 60;
/** Trade distances used by the scenarios (as fractions of the entry price). */
const LONG_TP = 0.006;
const LONG_SL = 0.003;
const SHORT_TP = 0.01;
const SHORT_SL = 0.004;

function lowest(cs: readonly Candle[]): Candle {
  return cs.reduce((m, c) => (c.low < m.low ? c : m));
}
function highest(cs: readonly Candle[]): Candle {
  return cs.reduce((m, c) => (c.high > m.high ? c : m));
}

/**
 * A LONG on the 2025-06-23 rally: entry at the real close of the entry candle, S/R at the real extreme
 * low/high before entry, a trend line through the real swing lows of the two halves before entry.
 */
export function longScenario(size: 'alert' | 'large' = 'alert'): TradeChartInput {
  const candles = loadCandles(RALLY_1M, '1m').slice(40, 40 + WINDOW);
  const e = candles[ENTRY_INDEX]!;
  const before = candles.slice(0, ENTRY_INDEX);
  const a = lowest(before.slice(0, ENTRY_INDEX / 2));
  const b = lowest(before.slice(ENTRY_INDEX / 2));
  return {
    candles,
    levels: [
      { price: lowest(before).low, kind: 'support' },
      { price: highest(before).high, kind: 'resistance' },
    ],
    trendLine: { t0: a.openTime, p0: a.low, t1: b.openTime, p1: b.low },
    entry: e.close,
    takeProfit: e.close * (1 + LONG_TP),
    stopLoss: e.close * (1 - LONG_SL),
    entryTime: e.openTime,
    title: { symbol: 'BTCUSDT', interval: '1m', strategy: 'levels-exhaustion', direction: 'LONG' },
    size,
  };
}

/** A SHORT on the 2025-06-22 sell-off that reached its TP (exit at the real close 30 candles later). */
export function shortScenario(size: 'alert' | 'large' = 'alert'): TradeChartInput {
  const candles = loadCandles(SELLOFF_1M, '1m').slice(30, 30 + WINDOW);
  const e = candles[ENTRY_INDEX - 10]!;
  const x = candles[ENTRY_INDEX + 20]!;
  return {
    candles,
    levels: [{ price: highest(candles.slice(0, ENTRY_INDEX - 10)).high, kind: 'resistance' }],
    entry: e.close,
    takeProfit: e.close * (1 - SHORT_TP),
    stopLoss: e.close * (1 + SHORT_SL),
    entryTime: e.openTime,
    exit: { time: x.openTime, price: x.close },
    title: { symbol: 'BTCUSDT', interval: '1m', strategy: 'momentum-scalp', direction: 'SHORT' },
    badge: 'WIN',
    size,
  };
}

/** Equity of holding 1 BTC over the hourly file: equity = the real hourly close (USDT). */
export function holdOneBtcEquity(): EquityPoint[] {
  return loadCandles(HOURLY, '1h').map((c) => ({ t: c.openTime, equity: c.close }));
}
