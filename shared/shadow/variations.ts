/**
 * The variations of a shadow run (SPEC 8): the CHAMPION (the config in force) and every enabled
 * challenger of config/ml `shadow.variations`, each a named StrategyConfigs built with the ONE
 * override mechanism of the backtester (shared/backtest/config.ts `applyOverrides`: the path must
 * name an existing key, every document is re-validated by its production schema). A challenger whose
 * overrides do not apply carries its reason in `error` and no config; the others are unaffected.
 */
import type { MlConfig, StrategyConfigs } from '../config/strategy.js';
import { applyOverrides } from '../backtest/config.js';

export const CHAMPION = 'CHAMPION';

/**
 * The champion's trades WITHOUT its ML filter (config/ml mode filter only): stored beside the shadow
 * run's trades (shadow_trades, not in the results) as the retraining's data, so production learns from
 * the setups its filter refused too, as the backtest's walk-forward learning does (pass 1).
 */
export const CHAMPION_UNFILTERED = 'CHAMPION_UNFILTERED';

export type ShadowOverrideValue = number | boolean | string;

export interface ShadowVariant {
  /** CHAMPION or the challenger's name. */
  name: string;
  description: string;
  overrides: Record<string, ShadowOverrideValue>;
  /** The variation's configs; null when its overrides could not be applied (`error` says why). */
  config: StrategyConfigs | null;
  error?: string;
  /**
   * What the result must say about how the variation ran, e.g. "no model": an ML-filter variation run
   * without models filters nothing (a signal without a prediction is never filtered).
   */
  note?: string;
}

/**
 * The champion (`base` as given) then the enabled challengers of `ml.shadow.variations`, in config
 * order. `ml` is config/ml as in force (default `base.ml`).
 */
export function shadowVariants(base: StrategyConfigs, ml: MlConfig = base.ml): ShadowVariant[] {
  const out: ShadowVariant[] = [{ name: CHAMPION, description: 'the config in force', overrides: {}, config: base }];
  for (const v of ml.shadow.variations) {
    if (!v.enabled) continue;
    try {
      out.push({ name: v.name, description: v.description, overrides: { ...v.overrides }, config: applyOverrides(base, v.overrides) });
    } catch (e) {
      out.push({ name: v.name, description: v.description, overrides: { ...v.overrides }, config: null, error: (e as Error).message });
    }
  }
  return out;
}

/** The note of a variation that would filter by ML, run without models (nothing is filtered). */
export const NO_MODEL_NOTE = 'no model: ml.mode=filter ran without models, so nothing was filtered (a signal without a prediction is never filtered)';

/** The note of a variation that filters by ML with walk-forward models. */
export const WALK_FORWARD_NOTE = 'walk-forward models: retrained at 02:00 America/Los_Angeles on the backtest clock from the variation\'s unfiltered trades; each decision sees only models trained on earlier trades';

/** Whether a variation's trading core filters by ML (config/ml mode `filter`). */
export function filtersByMl(c: StrategyConfigs): boolean {
  return c.ml.mode === 'filter';
}
