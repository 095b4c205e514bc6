/** Shared set-up of the pipeline tests: the kit's real data and a state store that observes every write of the trading account. */
import { join } from 'node:path';

/** The kit's real market data (`../shared/data` from the repo root). */
export const DATA_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** The invariant checks tap committed account writes through the replay script's own decorator. */
export { AccountWriteTap as ObservedState, type AccountWrite as TradingWrite } from '../../scripts/replay-month.js';
