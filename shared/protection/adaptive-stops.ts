/**
 * Adaptive stops (SPEC 6): stop% = base% x (1 + volatilityFactor x normalised volatility) x regime
 * multiplier, capped by tier. Normalised volatility = 24h volatility % / VOLATILITY_NORMALISER_PCT
 * (the seeds: "0.3 = 30 % adjustment per 10 % volatility").
 */
import type { ProtectionsConfig, Regime } from '../config/strategy.js';
import type { Tier } from '../model/market.js';

/** Proposed config field: `protections.adaptiveStops.volatilityNormaliserPct`. */
const VOLATILITY_NORMALISER_PCT = 10;

export function adaptiveStopPct(basePct: number, volatility24hPct: number | null, regime: Regime, tier: Tier, cfg: ProtectionsConfig['adaptiveStops']): number {
  const vol = volatility24hPct !== null && Number.isFinite(volatility24hPct) && volatility24hPct > 0 ? volatility24hPct : 0;
  const widened = basePct * (1 + cfg.volatilityFactor * (vol / VOLATILITY_NORMALISER_PCT)) * cfg.regimeMultiplier[regime];
  return Math.min(widened, cfg.capPct[tier]);
}

/** Moves a stop price to the adaptive distance from `entry` (LONG below, SHORT above). */
export function adaptiveStopPrice(
  entry: number,
  stop: number,
  long: boolean,
  volatility24hPct: number | null,
  regime: Regime,
  tier: Tier,
  cfg: ProtectionsConfig['adaptiveStops'],
): number {
  const basePct = (Math.abs(entry - stop) / entry) * 100;
  const pct = adaptiveStopPct(basePct, volatility24hPct, regime, tier, cfg);
  return long ? entry * (1 - pct / 100) : entry * (1 + pct / 100);
}
