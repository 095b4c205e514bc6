/** The ChartRenderer port on the sharp renderer (infra/charts/render.ts). */
import { renderEquityChart, renderTradeChart, shrink } from '../charts/render.js';
import type { ChartRenderer } from '../../shared/ports/charts.js';

export const sharpChartRenderer: ChartRenderer = {
  renderTradeChart: (input) => renderTradeChart(input),
  renderEquityChart: (input) => renderEquityChart(input),
  shrink: (png, maxWidth) => shrink(png, maxWidth),
};
