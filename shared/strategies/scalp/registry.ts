/**
 * The MICRO-SCALP strategy implementation for each config `strategy` id (signal logic only; sizing and
 * execution live elsewhere). See ./common.ts for the prepare / evaluateAt protocol shared by the live
 * micro-scalp function and the backtester.
 */
import type { LevelsExhaustionConfig, ScalpStrategyId, V52DivergenceConfig } from '../../config/strategy.js';
import { levelsExhaustion, type LevelsExhaustionPrepared } from './levels-exhaustion.js';
import { v52Divergence, type V52Prepared } from './v52-divergence.js';
import type { ScalpStrategy } from './common.js';

interface ScalpStrategies {
  levels_exhaustion: ScalpStrategy<LevelsExhaustionConfig, LevelsExhaustionPrepared>;
  v52_divergence: ScalpStrategy<V52DivergenceConfig, V52Prepared>;
}

const SCALP_STRATEGY_IMPLS: ScalpStrategies = {
  levels_exhaustion: levelsExhaustion,
  v52_divergence: v52Divergence,
};

export function scalpStrategy<K extends ScalpStrategyId>(id: K): ScalpStrategies[K] {
  return SCALP_STRATEGY_IMPLS[id];
}
