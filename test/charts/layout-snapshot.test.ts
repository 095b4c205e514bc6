/**
 * Pins the exact chart output: the SVG document and the layout numbers (rows, plot, candle boxes,
 * drawdown marks) of trade and equity charts built from the real fixtures, including the edge cases
 * of the layout (dropped candles, an exit marker on a label, a level label between trade lines, an
 * entry outside the window, no trade at all, a wider time axis, a flat curve). Refactors of the chart
 * code must leave these byte-for-byte equal; the SVGs sit in __snapshots__/layout/ to be looked at.
 */
import { describe, expect, it } from 'vitest';
import { buildEquityChart, type EquityChartInput } from '../../shared/charts/equity-chart.js';
import { buildTradeChart, type TradeChartInput } from '../../shared/charts/trade-chart.js';
import { HOURLY, holdOneBtcEquity, loadCandles, longScenario, RALLY_1M, shortScenario } from './fixtures.js';

const H = 3_600_000;

function tradeCases(): Record<string, TradeChartInput> {
  const long = longScenario();
  const short = shortScenario();
  const rally = loadCandles(RALLY_1M, '1m');
  const e = long.entry!;
  const lastLong = long.candles[long.candles.length - 1]!;
  return {
    'trade-long-alert': long,
    'trade-long-large': longScenario('large'),
    'trade-short-win-alert': short,
    'trade-short-large': shortScenario('large'),
    // LOSS badge, no volume, the exit on the right edge where the TP/SL labels sit.
    'trade-long-loss-exit-on-labels': {
      ...long,
      volume: false,
      badge: 'LOSS',
      exit: { time: lastLong.openTime, price: long.stopLoss! },
    },
    // A level right between entry and TP (its label has to dodge the trade lines), levels far away dropped.
    'trade-level-between-lines': {
      ...long,
      levels: [
        { price: e * 1.003, kind: 'resistance' },
        { price: e * 1.0001, kind: 'support' },
        { price: e * 2, kind: 'resistance' },
      ],
      title: { symbol: 'BTCUSDT', interval: '1m' },
    },
    // More candles than fit at the minimum slot width: the oldest are dropped; entry time before the window.
    'trade-dropped-candles': {
      candles: rally,
      entry: rally[10]!.close,
      stopLoss: rally[10]!.close * 0.995,
      entryTime: rally[10]!.openTime,
      trendLine: { t0: rally[0]!.openTime, p0: rally[0]!.low, t1: rally[rally.length - 1]!.openTime, p1: rally[rally.length - 1]!.high },
      title: { symbol: 'BTCUSDT', interval: '1m', strategy: 'v52-divergence' },
      size: 'large',
    },
    // Candles only.
    'trade-candles-only': { candles: rally.slice(0, 30), title: { symbol: 'BTCUSDT', interval: '1m' } },
  };
}

function equityCases(): Record<string, EquityChartInput> {
  const points = holdOneBtcEquity();
  const hourly = loadCandles(HOURLY, '1h');
  const day = hourly[0]!.openTime;
  return {
    'equity-hold-btc-alert': { points, title: 'Equity \u00b7 hold 1 BTC' },
    'equity-hold-btc-large': { points, title: 'Equity \u00b7 hold 1 BTC', size: 'large', subtitle: 'May \u2013 June' },
    'equity-steps-wider-axis': {
      points: [
        { t: day + 3 * H, equity: 10_000 },
        { t: day + 9 * H, equity: 10_250 },
        { t: day + 14 * H, equity: 9_700 },
        { t: day + 18 * H, equity: 9_900 },
      ],
      title: 'Daily report \u00b7 equity',
      from: day,
      to: day + 24 * H,
    },
    'equity-flat': { points: [{ t: day, equity: 5_000 }, { t: day + H, equity: 5_000 }], title: 'Flat' },
  };
}

describe('chart layout is pinned (SVG and layout numbers)', () => {
  for (const [name, input] of Object.entries(tradeCases())) {
    it(name, async () => {
      const { svg, ...layout } = buildTradeChart(input);
      expect(layout).toMatchSnapshot();
      await expect(svg).toMatchFileSnapshot(`./__snapshots__/layout/${name}.svg`);
    });
  }
  for (const [name, input] of Object.entries(equityCases())) {
    it(name, async () => {
      const { svg, ...layout } = buildEquityChart(input);
      expect(layout).toMatchSnapshot();
      await expect(svg).toMatchFileSnapshot(`./__snapshots__/layout/${name}.svg`);
    });
  }
});
