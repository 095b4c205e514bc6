/** Trade limiter (shared/protection/limiter.ts): cooldown after 3 stops by tier, resets, expiry. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTIONS_CONFIG } from '../../shared/config/strategy.js';
import type { Tier } from '../../shared/model/market.js';
import { cooldownUntil, expireCooldowns, recordReset, recordStop, type LimiterResetReason } from '../../shared/protection/limiter.js';
import { createProtectionState, type ProtectionEvent, type ProtectionState } from '../../shared/protection/model.js';

const cfg = DEFAULT_PROTECTIONS_CONFIG.tradeLimiter;
const H = 3_600_000;

function stops(s: ProtectionState, symbol: string, tier: Tier, n: number, at: number, out: ProtectionEvent[]): ProtectionState {
  for (let k = 0; k < n; k++) s = recordStop(s, symbol, tier, at, cfg, out);
  return s;
}

describe('trade limiter', () => {
  it.each([
    ['large_cap', 4],
    ['mid_cap', 6],
    ['small_cap', 12],
    ['memecoin', 24],
  ] as const)('3 consecutive stops on a %s symbol -> %ih cooldown', (tier, hours) => {
    const out: ProtectionEvent[] = [];
    let s = stops(createProtectionState(0, 1), 'X', tier, 2, 1000, out);
    expect(cooldownUntil(s, 'X', 1000)).toBeNull();
    s = stops(s, 'X', tier, 1, 1000, out);
    expect(cooldownUntil(s, 'X', 1000)).toBe(1000 + hours * H);
    expect(cooldownUntil(s, 'X', 1000 + hours * H)).toBeNull();
    expect(cooldownUntil(s, 'Y', 1000)).toBeNull();
    expect(out.map((e) => e.kind)).toEqual(['cooldown_started']);
    // expiry: exactly one cooldown_ended
    const s2 = expireCooldowns(s, 1000 + hours * H - 1, out);
    expect(s2).toBe(s);
    const s3 = expireCooldowns(s, 1000 + hours * H, out);
    expect(expireCooldowns(s3, 1000 + hours * H + 1, out)).toBe(s3);
    expect(out.map((e) => e.kind)).toEqual(['cooldown_started', 'cooldown_ended']);
    expect(s3.nextCooldownEnd).toBeNull();
  });

  it.each(['half_take_profit', 'profitable_timeout', 'trailing_activation'] as LimiterResetReason[])('a %s resets the stop count', (reason) => {
    const out: ProtectionEvent[] = [];
    let s = stops(createProtectionState(0, 1), 'X', 'large_cap', 2, 0, out);
    s = recordReset(s, 'X', reason, 1, cfg, out);
    expect(s.limiter['X']?.consecutiveStops).toBe(0);
    s = stops(s, 'X', 'large_cap', 2, 2, out);
    expect(cooldownUntil(s, 'X', 2)).toBeNull(); // 2 since the reset, not 4
    expect(out.map((e) => e.kind)).toEqual(['limiter_reset']);
    // a reset with nothing counted is no change, no event
    const z = createProtectionState(0, 1);
    expect(recordReset(z, 'X', reason, 3, cfg, out)).toBe(z);
  });

  it('resets can be switched off in config', () => {
    const off = { ...cfg, resetOn: { ...cfg.resetOn, profitableTimeout: false } };
    const out: ProtectionEvent[] = [];
    const s = stops(createProtectionState(0, 1), 'X', 'large_cap', 2, 0, out);
    expect(recordReset(s, 'X', 'profitable_timeout', 1, off, out)).toBe(s);
  });
});
