/** Hand-built candle series for rule tests (numbers chosen so every expectation is checkable by hand). */
import { allocSeries, type CandleSeries } from '../../shared/strategies/series.js';
import type { Interval } from '../../shared/model/market.js';
import { INTERVAL_MS } from '../../shared/model/market.js';

export interface Bar {
  o: number;
  h: number;
  l: number;
  c: number;
  v?: number;
}

export const T0 = Date.UTC(2025, 5, 18, 0, 0);

export function mkSeries(bars: readonly Bar[], interval: Interval = '1m', symbol = 'BTCUSDT', t0 = T0): CandleSeries {
  const s = allocSeries(symbol, interval, 'bybit', bars.length);
  bars.forEach((b, i) => {
    s.openTime[i] = t0 + i * INTERVAL_MS[interval];
    s.open[i] = b.o;
    s.high[i] = b.h;
    s.low[i] = b.l;
    s.close[i] = b.c;
    s.volume[i] = b.v ?? 10;
  });
  return s;
}

/** A bar from open to close with a small symmetric margin for high/low. */
export function bar(o: number, c: number, v = 10, margin = 0.02): Bar {
  return { o, c, h: Math.max(o, c) + margin, l: Math.min(o, c) - margin, v };
}

/** Bars following closes (each opens at the previous close). */
export function path(start: number, closes: readonly number[], v = 10): Bar[] {
  let prev = start;
  return closes.map((c) => {
    const b = bar(prev, c, v);
    prev = c;
    return b;
  });
}
