/**
 * Globals of the dashboard page (typechecked with tsconfig.web.json): the lightweight-charts standalone
 * build (served at /dashboard/assets/) defines `window.LightweightCharts` with the package's own API.
 */
import type * as LightweightChartsApi from 'lightweight-charts';

declare global {
  const LightweightCharts: typeof LightweightChartsApi;
}

export {};
