/**
 * What a trade chart shows (SPEC 9): candles from the hot store around the trade, the nearest
 * horizontal support/resistance levels (15m) and the best trend line (1h) from the levels strategy's
 * own finder with its config, entry / TP / SL, the exit marker and a WIN/LOSS badge.
 */
import type { TradeChartInput } from '../charts/trade-chart.js';
import type { LevelsExhaustionConfig } from '../config/strategy.js';
import { barsCollection } from '../market/hot-store.js';
import type { Candle, Interval, Venue } from '../market/types.js';
import { INTERVAL_MS } from '../market/types.js';
import type { StateStore } from '../ports/state.js';
import { horizontalLevels, trendLines, trendLineValueAt } from '../strategies/levels.js';
import { seriesFromCandles } from '../strategies/series.js';
import { DEFAULT_FEEDS } from '../trading/model.js';

/** Levels drawn on a chart: the nearest few to the entry (more would clutter a phone screen). */
export const MAX_CHART_LEVELS = 4;
/** Candles drawn after the exit of a closed trade, as a share of the chart. */
export const AFTER_EXIT_SHARE = 0.15;

/** Candles with openTime <= untilMs, newest `n`, ascending. */
export async function candlesUntil(state: StateStore, venue: Venue, symbol: string, interval: Interval, untilMs: number, n: number): Promise<Candle[]> {
  const docs = await state.query<Candle>(barsCollection(venue, symbol, interval), {
    where: [{ field: 'openTime', op: '<=', value: untilMs }],
    orderBy: { field: 'openTime', direction: 'desc' },
    limit: n,
  });
  return docs.map((d) => d.data).reverse();
}

export interface TradeChartSpec {
  symbol: string;
  engine: 'SCALP' | 'SWING';
  strategy?: string;
  direction?: 'LONG' | 'SHORT';
  entry?: number;
  takeProfit?: number;
  stopLoss?: number;
  /** Decision / entry time. */
  time: number;
  exit?: { time: number; price: number };
  badge?: 'WIN' | 'LOSS' | null;
  size: 'alert' | 'large';
  candles: number;
}

export interface ChartLevelParams {
  horizontal: LevelsExhaustionConfig['levels']['horizontal'];
  trendLines: LevelsExhaustionConfig['levels']['trendLines'];
}

/** The chart input, or null when the hot store has no candles for it. */
export async function buildTradeChartInput(state: StateStore, spec: TradeChartSpec, levels: ChartLevelParams): Promise<TradeChartInput | null> {
  const feed = DEFAULT_FEEDS[spec.engine];
  const step = INTERVAL_MS[feed.interval];
  const after = spec.exit ? Math.max(1, Math.round(spec.candles * AFTER_EXIT_SHARE)) : 0;
  const until = spec.exit ? spec.exit.time + after * step : spec.time;
  const candles = await candlesUntil(state, feed.venue, spec.symbol, feed.interval, until, spec.candles);
  if (candles.length === 0) return null;
  const last = candles[candles.length - 1] as Candle;
  const ref = spec.entry ?? last.close;

  const input: TradeChartInput = {
    candles,
    title: {
      symbol: spec.symbol,
      interval: feed.interval,
      ...(spec.strategy ? { strategy: spec.strategy } : {}),
      ...(spec.direction ? { direction: spec.direction } : {}),
    },
    size: spec.size,
  };
  if (spec.entry !== undefined) input.entry = spec.entry;
  if (spec.takeProfit !== undefined) input.takeProfit = spec.takeProfit;
  if (spec.stopLoss !== undefined) input.stopLoss = spec.stopLoss;
  const first = candles[0] as Candle;
  if (spec.entry !== undefined && spec.time >= first.openTime) input.entryTime = Math.floor(spec.time / step) * step;
  if (spec.exit && spec.exit.time >= first.openTime) input.exit = { time: Math.floor(spec.exit.time / step) * step, price: spec.exit.price };
  if (spec.badge) input.badge = spec.badge;

  const h = levels.horizontal;
  const c15 = await candlesUntil(state, feed.venue, spec.symbol, h.interval, spec.time, h.lookbackCandles);
  if (c15.length > 0) {
    const found = horizontalLevels(seriesFromCandles(c15), c15.length, h, ref);
    input.levels = [...found]
      .sort((a, b) => Math.abs(a.price - ref) - Math.abs(b.price - ref))
      .slice(0, MAX_CHART_LEVELS)
      .map((l) => ({ price: l.price, kind: l.kind }));
  }
  const tl = levels.trendLines;
  const tlCandles = await candlesUntil(state, feed.venue, spec.symbol, tl.interval, spec.time, tl.maxSwings * 2 * tl.swingStrength + tl.swingStrength);
  if (tlCandles.length > 0) {
    const lines = trendLines(seriesFromCandles(tlCandles), tlCandles.length, tl, ref);
    const best = [...lines].sort((a, b) => b.r2 - a.r2)[0];
    if (best) {
      const t0 = first.openTime;
      const t1 = last.openTime;
      const p0 = trendLineValueAt(best, t0);
      const p1 = trendLineValueAt(best, t1);
      if (t1 > t0 && p0 > 0 && p1 > 0) input.trendLine = { t0, p0, t1, p1 };
    }
  }
  return input;
}
