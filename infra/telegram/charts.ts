/**
 * The ChartRenderer port on the sharp renderer (infra/charts/render.ts). sharp (a native add-on) loads
 * on the first chart, not when a function starts: most invocations never draw one.
 */
import type { ChartRenderer } from '../../shared/ports/charts.js';

const renderer = () => import('../charts/render.js');

export const sharpChartRenderer: ChartRenderer = {
  renderTradeChart: async (input) => (await renderer()).renderTradeChart(input),
  renderEquityChart: async (input) => (await renderer()).renderEquityChart(input),
  renderBarChart: async (input) => (await renderer()).renderBarChart(input),
  shrink: async (png, maxWidth) => (await renderer()).shrink(png, maxWidth),
};
