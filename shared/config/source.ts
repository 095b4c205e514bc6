import type { SystemConfig } from './system.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from './strategy.js';

/** Where running code reads the validated, last-valid config from (see ConfigService). */
export interface ConfigSource {
  system(): Promise<SystemConfig>;
  strategies(): Promise<StrategyConfigs>;
}

/** A fixed config (tests, CLIs that take no live edits). */
export function staticConfig(system: SystemConfig, strategies: StrategyConfigs = DEFAULT_STRATEGY_CONFIGS): ConfigSource {
  return { system: async () => system, strategies: async () => strategies };
}
