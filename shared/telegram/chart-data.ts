/**
 * What a trade chart shows (SPEC 9): candles from the hot store around the trade, the nearest
 * horizontal support/resistance levels (15m) and the best trend line (1h) from the levels strategy's
 * own finder with its config, entry / TP / SL, the exit marker and a WIN/LOSS badge.
 */
import type { TradeChartInput } from '../charts/trade-chart.js';
import type { LevelsExhaustionConfig } from '../config/strategy.js';
import { barsCollection } from '../state-paths.js';
import type { Candle, Interval, Venue } from '../model/market.js';
import { INTERVAL_MS } from '../model/market.js';
import type { StateStore } from '../ports/state.js';
import { horizontalLevels, trendLines, trendLineValueAt } from '../strategies/levels.js';
import { resample } from '../strategies/resample.js';
import { seriesFromCandles } from '../strategies/series.js';
import { DEFAULT_FEEDS } from '../trading/model.js';

/** Levels drawn on a chart: the nearest few to the entry (more would clutter a phone screen). */
const MAX_CHART_LEVELS = 4;
/** Candles drawn after the exit of a closed trade, as a share of the chart. */
const AFTER_EXIT_SHARE = 0.15;

/** Default cap on the 1m candles read to resample one series (config: telegram.alerts.resampleBaseCandles). */
const RESAMPLE_BASE_CANDLES = 6_000;

/** Stored candles of exactly this series with openTime <= untilMs, newest `n`, ascending. */
async function storedCandlesUntil(state: StateStore, venue: Venue, symbol: string, interval: Interval, untilMs: number, n: number): Promise<Candle[]> {
  const docs = await state.query<Candle>(barsCollection(venue, symbol, interval), {
    where: [{ field: 'openTime', op: '<=', value: untilMs }],
    orderBy: { field: 'openTime', direction: 'desc' },
    limit: n,
  });
  return docs.map((d) => d.data).reverse();
}

/**
 * Candles with openTime <= untilMs, newest `n`, ascending, from stored data: the stored series where it
 * has them, and what it lacks resampled (shared/strategies/resample.ts) from the stored 1m candles of
 * the same venue (at most `maxBase` of them). Only buckets that had closed by the last 1m candle at or
 * before `untilMs` are built (no candle that was still open then), and a bucket cut by the start of the
 * 1m window is left out; a stored candle wins over a resampled one of the same open time.
 */
export async function candlesUntil(
  state: StateStore,
  venue: Venue,
  symbol: string,
  interval: Interval,
  untilMs: number,
  n: number,
  maxBase: number = RESAMPLE_BASE_CANDLES,
): Promise<Candle[]> {
  const stored = await storedCandlesUntil(state, venue, symbol, interval, untilMs, n);
  const per = INTERVAL_MS[interval] / INTERVAL_MS['1m'];
  if (interval === '1m' || stored.length >= n || !Number.isInteger(per)) return stored;
  const base = await storedCandlesUntil(state, venue, symbol, '1m', untilMs, Math.min(maxBase, (n + 1) * per));
  if (base.length === 0) return stored;
  const r = resample(seriesFromCandles(base), interval);
  const closed = r.visibleCount[base.length - 1] ?? 0;
  const windowCut = (base[0]!.openTime - (r.series.openTime[0] as number)) > 0;
  const byTime = new Map<number, Candle>();
  for (let b = windowCut ? 1 : 0; b < closed; b++) {
    const openTime = r.series.openTime[b] as number;
    byTime.set(openTime, {
      venue,
      symbol,
      interval,
      openTime,
      open: r.series.open[b] as number,
      high: r.series.high[b] as number,
      low: r.series.low[b] as number,
      close: r.series.close[b] as number,
      volume: r.series.volume[b] as number,
    });
  }
  for (const c of stored) byTime.set(c.openTime, c);
  return [...byTime.values()].sort((a, b) => a.openTime - b.openTime).slice(-n);
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
  /** Newest candle to draw (default: a margin after the exit, else `time`); the dashboard draws an open trade up to now. */
  until?: number;
  exit?: { time: number; price: number };
  badge?: 'WIN' | 'LOSS' | null;
  size: 'alert' | 'large';
  candles: number;
  /** At most this many 1m candles are read to resample a series that is not stored. */
  resampleBaseCandles?: number;
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
  const until = spec.until ?? (spec.exit ? spec.exit.time + after * step : spec.time);
  const maxBase = spec.resampleBaseCandles ?? RESAMPLE_BASE_CANDLES;
  const candles = await candlesUntil(state, feed.venue, spec.symbol, feed.interval, until, spec.candles, maxBase);
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
  const c15 = await candlesUntil(state, feed.venue, spec.symbol, h.interval, spec.time, h.lookbackCandles, maxBase);
  if (c15.length > 0) {
    const found = horizontalLevels(seriesFromCandles(c15), c15.length, h, ref);
    input.levels = [...found]
      .sort((a, b) => Math.abs(a.price - ref) - Math.abs(b.price - ref))
      .slice(0, MAX_CHART_LEVELS)
      .map((l) => ({ price: l.price, kind: l.kind }));
  }
  const tl = levels.trendLines;
  const tlCandles = await candlesUntil(state, feed.venue, spec.symbol, tl.interval, spec.time, tl.maxSwings * 2 * tl.swingStrength + tl.swingStrength, maxBase);
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
