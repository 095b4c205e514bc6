/**
 * The registry of owner-editable config documents: name -> { path in state, zod schema, defaults }.
 *
 * Layout (one document per area, so a bad edit in one area never holds back another):
 *   config/system                     SystemConfig (shared/config/system.ts)
 *   config/macro                      MACRO bias + swing setups + exits + costs
 *   config/scalp_levels_exhaustion    MICRO-SCALP "levels + exhaustion" strategy
 *   config/scalp_v52_divergence       MICRO-SCALP champion "V5.2" strategy
 *   config/filters                    macro-bias hysteresis, swing-conflict sizing
 *   config/risk                       equity, risk caps, position limits, swing allocation
 *   config/protections                regimes, volatility disable, cooldowns, adaptive stops, guards
 *   config/paper                      costs (maker/taker per venue, or conservative), slippage, entry timeouts
 *   config/ml                         learning loop (advisory by default)
 *   config/telegram                   TelegramConfig (shared/config/telegram.ts): owner, limits, outbox
 *
 * Every document is validated strictly (an unknown or misspelt key anywhere is rejected with its
 * path) and merged over the last valid version before validation, so a partial edit changes only
 * what it names; arrays are replaced whole (shared/config/strict.ts). A document stored under keys
 * that were renamed since is brought to the current shape first (shared/config/migrations.ts).
 *
 * Bookkeeping written by ConfigService (never edited by hand):
 *   config_state/{name}    last valid config in force (survives cold starts), hashes of the last
 *                          applied and last rejected raw documents
 *   config_changes/{id}    change log: one record per applied / rejected edit, with before, after, time
 */
import type { z } from 'zod';
import { strictDeep } from './strict.js';
import { DEFAULT_TELEGRAM_CONFIG, telegramConfigSchema, type TelegramConfig } from './telegram.js';
import { DEFAULT_SYSTEM_CONFIG, systemConfigSchema, type SystemConfig } from './system.js';
import {
  DEFAULT_FILTERS_CONFIG,
  DEFAULT_LEVELS_EXHAUSTION_CONFIG,
  DEFAULT_MACRO_CONFIG,
  DEFAULT_ML_CONFIG,
  DEFAULT_PAPER_CONFIG,
  DEFAULT_PROTECTIONS_CONFIG,
  DEFAULT_RISK_CONFIG,
  DEFAULT_V52_DIVERGENCE_CONFIG,
  filtersConfigSchema,
  levelsExhaustionConfigSchema,
  macroConfigSchema,
  mlConfigSchema,
  paperConfigSchema,
  protectionsConfigSchema,
  riskConfigSchema,
  v52DivergenceConfigSchema,
  type FiltersConfig,
  type LevelsExhaustionConfig,
  type MacroConfig,
  type MlConfig,
  type PaperConfig,
  type ProtectionsConfig,
  type RiskConfig,
  type V52DivergenceConfig,
} from './strategy.js';
import { configPath } from '../state-paths.js';

interface ConfigDocumentDef<T> {
  name: string;
  /** Document path in state, e.g. `config/system`. */
  path: string;
  /** The document's schema with every nested object strict (shared/config/strict.ts). */
  schema: z.ZodType<T>;
  defaults: T;
  description: string;
}

/** Maps each document name to its parsed type. */
export interface ConfigDocumentTypes {
  system: SystemConfig;
  macro: MacroConfig;
  scalp_levels_exhaustion: LevelsExhaustionConfig;
  scalp_v52_divergence: V52DivergenceConfig;
  filters: FiltersConfig;
  risk: RiskConfig;
  protections: ProtectionsConfig;
  paper: PaperConfig;
  ml: MlConfig;
  telegram: TelegramConfig;
}
export type ConfigDocName = keyof ConfigDocumentTypes;

function def<N extends ConfigDocName>(
  name: N,
  schema: z.ZodType<ConfigDocumentTypes[N]>,
  defaults: ConfigDocumentTypes[N],
  description: string,
): ConfigDocumentDef<ConfigDocumentTypes[N]> {
  return { name, path: configPath(name), schema: strictDeep(schema), defaults, description };
}

export const CONFIG_DOCUMENTS: { [N in ConfigDocName]: ConfigDocumentDef<ConfigDocumentTypes[N]> } = {
  system: def('system', systemConfigSchema, DEFAULT_SYSTEM_CONFIG, 'symbols, venues, data quality, retention, reload interval'),
  macro: def('macro', macroConfigSchema, DEFAULT_MACRO_CONFIG, 'MACRO bias components, swing setups, exits and costs'),
  scalp_levels_exhaustion: def(
    'scalp_levels_exhaustion',
    levelsExhaustionConfigSchema,
    DEFAULT_LEVELS_EXHAUSTION_CONFIG,
    'MICRO-SCALP levels + exhaustion strategy',
  ),
  scalp_v52_divergence: def('scalp_v52_divergence', v52DivergenceConfigSchema, DEFAULT_V52_DIVERGENCE_CONFIG, 'MICRO-SCALP V5.2 champion'),
  filters: def('filters', filtersConfigSchema, DEFAULT_FILTERS_CONFIG, 'macro-bias filter with hysteresis, swing-conflict sizing'),
  risk: def('risk', riskConfigSchema, DEFAULT_RISK_CONFIG, 'equity, risk caps, position limits, swing allocation'),
  protections: def('protections', protectionsConfigSchema, DEFAULT_PROTECTIONS_CONFIG, 'regimes, volatility disable, cooldowns, stops, guards'),
  paper: def('paper', paperConfigSchema, DEFAULT_PAPER_CONFIG, 'costs (maker/taker per venue or conservative), slippage, entry timeouts'),
  ml: def('ml', mlConfigSchema, DEFAULT_ML_CONFIG, 'learning loop: advisory mode, retrain and suggestion settings'),
  telegram: def('telegram', telegramConfigSchema, DEFAULT_TELEGRAM_CONFIG, 'Telegram: owner, account, access, rate limits, outbox, alerts'),
};

export const CONFIG_DOC_NAMES = Object.keys(CONFIG_DOCUMENTS) as ConfigDocName[];

export function isConfigDocName(name: string): name is ConfigDocName {
  return Object.prototype.hasOwnProperty.call(CONFIG_DOCUMENTS, name);
}
