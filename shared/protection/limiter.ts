/**
 * Trade limiter (SPEC 6): `consecutiveStops` (3) stop-loss exits in a row on a symbol start a cooldown
 * of cooldownMs[tier] (large 4h, mid 6h, small 12h, memecoin 24h) and reset the count. The count is
 * reset by a take-profit hit of >= takeProfitReachedPct (50 %) of the TP distance, a profitable time
 * exit, or a trailing-stop activation (each per config `resetOn`). Only `stop_loss` exits count as stops.
 */
import type { ProtectionsConfig } from '../config/strategy.js';
import type { Tier } from '../model/market.js';
import { protectionEvent, type LimiterEntry, type ProtectionEvent, type ProtectionState } from './model.js';

export type LimiterResetReason = 'half_take_profit' | 'profitable_timeout' | 'trailing_activation';

const EMPTY: LimiterEntry = { consecutiveStops: 0, cooldownUntil: null };

/** End of the symbol's active cooldown at `now`, or null. */
export function cooldownUntil(s: ProtectionState, symbol: string, now: number): number | null {
  const e = s.limiter[symbol];
  return e && e.cooldownUntil !== null && now < e.cooldownUntil ? e.cooldownUntil : null;
}

function nextEnd(limiter: Record<string, LimiterEntry>): number | null {
  let n: number | null = null;
  for (const e of Object.values(limiter)) if (e.cooldownUntil !== null && (n === null || e.cooldownUntil < n)) n = e.cooldownUntil;
  return n;
}

export function recordStop(s: ProtectionState, symbol: string, tier: Tier, now: number, cfg: ProtectionsConfig['tradeLimiter'], out: ProtectionEvent[]): ProtectionState {
  const e = s.limiter[symbol] ?? EMPTY;
  const count = e.consecutiveStops + 1;
  if (count < cfg.consecutiveStops) {
    return { ...s, limiter: { ...s.limiter, [symbol]: { ...e, consecutiveStops: count } } };
  }
  const until = now + cfg.cooldownMs[tier];
  const limiter = { ...s.limiter, [symbol]: { consecutiveStops: 0, cooldownUntil: until } };
  out.push(
    protectionEvent('cooldown_started', symbol, now, 'warning', `${symbol}: ${count} consecutive stops, no new trades until ${new Date(until).toISOString()}`, {
      symbol,
      tier,
      stops: count,
      cooldownUntil: until,
    }),
  );
  return { ...s, limiter, nextCooldownEnd: nextEnd(limiter) };
}

export function recordReset(s: ProtectionState, symbol: string, reason: LimiterResetReason, now: number, cfg: ProtectionsConfig['tradeLimiter'], out: ProtectionEvent[]): ProtectionState {
  const on = cfg.resetOn;
  if ((reason === 'profitable_timeout' && !on.profitableTimeout) || (reason === 'trailing_activation' && !on.trailingActivation)) return s;
  const e = s.limiter[symbol];
  if (!e || e.consecutiveStops === 0) return s;
  out.push(protectionEvent('limiter_reset', symbol, now, 'info', `${symbol}: stop counter reset (${reason})`, { symbol, reason, stops: e.consecutiveStops }));
  return { ...s, limiter: { ...s.limiter, [symbol]: { ...e, consecutiveStops: 0 } } };
}

/** Ends cooldowns whose time has come; one `cooldown_ended` per symbol. */
export function expireCooldowns(s: ProtectionState, now: number, out: ProtectionEvent[]): ProtectionState {
  if (s.nextCooldownEnd === null || now < s.nextCooldownEnd) return s;
  const limiter: Record<string, LimiterEntry> = {};
  for (const [symbol, e] of Object.entries(s.limiter)) {
    if (e.cooldownUntil !== null && now >= e.cooldownUntil) {
      out.push(protectionEvent('cooldown_ended', symbol, now, 'info', `${symbol}: cooldown over, trading allowed again`, { symbol }));
      if (e.consecutiveStops > 0) limiter[symbol] = { consecutiveStops: e.consecutiveStops, cooldownUntil: null };
    } else {
      limiter[symbol] = e;
    }
  }
  return { ...s, limiter, nextCooldownEnd: nextEnd(limiter) };
}
