/** Pure chart building (SVG documents, scales, theme). PNG rendering lives in infra/charts/render.ts. */
export * from './theme.js';
export * from './scale.js';
export * from './trade-chart.js';
export * from './equity-chart.js';
export { escapeXml } from './svg.js';
