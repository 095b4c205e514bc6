export * from './tulind.js';
export * from './incremental.js';
