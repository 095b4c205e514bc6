/** Shared set-up of the pipeline tests: the kit's real data and a state store that observes every write of the trading account. */

/** The kit's real market data (test/kit.ts: `../shared/data` or `$CST_KIT_DIR`); gate on it with `withKit`. */
export { KIT_DIR } from '../kit.js';
export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** The invariant checks tap committed account writes through the replay script's own decorator. */
export { AccountWriteTap as ObservedState, type AccountWrite as TradingWrite } from '../../infra/runtime/month-invariants.js';
