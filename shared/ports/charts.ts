/**
 * Chart rendering port (SPEC 9): trade charts (candles, S/R levels, trend line, entry/TP/SL, WIN/LOSS
 * badge), equity curves and bar charts as PNGs, plus downscaling for a long outbound queue. The input shapes are
 * the pure chart builders' (shared/charts); the sharp implementation is infra/charts/render.ts
 * (wired as `sharpChartRenderer` in infra/telegram/charts.ts).
 */
import type { BarChartInput } from '../charts/bar-chart.js';
import type { EquityChartInput } from '../charts/equity-chart.js';
import type { TradeChartInput } from '../charts/trade-chart.js';

interface RenderedPng {
  png: Buffer;
  width: number;
  height: number;
}

export interface ChartRenderer {
  renderTradeChart(input: TradeChartInput): Promise<RenderedPng>;
  renderEquityChart(input: EquityChartInput): Promise<RenderedPng>;
  /** Horizontal bars (the shadow test's P&L per variation). */
  renderBarChart(input: BarChartInput): Promise<RenderedPng>;
  /** At most `maxWidth` px wide, aspect kept, never enlarged. */
  shrink(png: Buffer, maxWidth: number): Promise<RenderedPng>;
}

