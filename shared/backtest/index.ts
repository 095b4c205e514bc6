/**
 * The backtester's library API (SPEC 7). See run.ts for the run loop and its parity with live,
 * grid.ts / walk-forward.ts / stress.ts for optimisation, report.ts for output, store.ts for results.
 */
export * from './config.js';
export * from './data.js';
export * from './run.js';
export * from './grid.js';
export * from './macro.js';
export * from './market.js';
export * from './metrics.js';
export * from './report.js';
export * from './packed-series.js';
export * from './store.js';
export * from './stress.js';
export * from './walk-forward.js';
