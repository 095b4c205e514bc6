import type { SystemConfig } from './system.js';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from './strategy.js';
import { DEFAULT_TELEGRAM_CONFIG, type TelegramConfig } from './telegram.js';

/** Where running code reads the validated, last-valid config from (see ConfigService). */
export interface ConfigSource {
  system(): Promise<SystemConfig>;
  strategies(): Promise<StrategyConfigs>;
  /** `config/telegram` (the Telegram runtime re-reads it through here: reloaded like the others). */
  telegram(): Promise<TelegramConfig>;
}

/** A fixed config (tests, CLIs that take no live edits). */
export function staticConfig(
  system: SystemConfig,
  strategies: StrategyConfigs = DEFAULT_STRATEGY_CONFIGS,
  telegram: TelegramConfig = DEFAULT_TELEGRAM_CONFIG,
): ConfigSource {
  return { system: async () => system, strategies: async () => strategies, telegram: async () => telegram };
}
