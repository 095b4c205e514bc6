export * from './model.js';
export * from './regime.js';
export * from './volatility.js';
export * from './limiter.js';
export * from './adaptive-stops.js';
export * from './guards.js';
