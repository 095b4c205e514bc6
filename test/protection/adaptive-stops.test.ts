/** Adaptive stops (shared/protection/adaptive-stops.ts): base x (1 + 0.3 x vol/10) x regime, tier caps. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTIONS_CONFIG } from '../../shared/config/strategy.js';
import { adaptiveStopPct, adaptiveStopPrice } from '../../shared/protection/adaptive-stops.js';

const cfg = DEFAULT_PROTECTIONS_CONFIG.adaptiveStops;

describe('adaptive stops', () => {
  it('formula', () => {
    expect(adaptiveStopPct(5, 0, 'NORMAL', 'large_cap', cfg)).toBe(5);
    expect(adaptiveStopPct(5, null, 'NORMAL', 'large_cap', cfg)).toBe(5);
    expect(adaptiveStopPct(5, 0, 'PANIC', 'large_cap', cfg)).toBe(7.5); // the seeds' "5 % -> 7.5 % in PANIC"
    expect(adaptiveStopPct(5, 10, 'NORMAL', 'large_cap', cfg)).toBeCloseTo(6.5, 12); // 5 x 1.3
    expect(adaptiveStopPct(2, 5, 'CAUTION', 'mid_cap', cfg)).toBeCloseTo(2 * 1.15 * 1.3, 12);
    expect(adaptiveStopPct(2, 4, 'EUPHORIA', 'small_cap', cfg)).toBeCloseTo(2 * 1.12 * 1.2, 12);
  });
  it('caps by tier: large 10, mid 12, small 15, memecoin 15 %', () => {
    expect(adaptiveStopPct(8, 10, 'PANIC', 'large_cap', cfg)).toBe(10);
    expect(adaptiveStopPct(8, 10, 'PANIC', 'mid_cap', cfg)).toBe(12);
    expect(adaptiveStopPct(8, 10, 'PANIC', 'small_cap', cfg)).toBe(15);
    expect(adaptiveStopPct(20, 0, 'NORMAL', 'memecoin', cfg)).toBe(15);
  });
  it('stop prices on the right side', () => {
    expect(adaptiveStopPrice(100, 98, true, 10, 'NORMAL', 'large_cap', cfg)).toBeCloseTo(97.4, 12); // 2 % -> 2.6 %
    expect(adaptiveStopPrice(100, 102, false, 10, 'NORMAL', 'large_cap', cfg)).toBeCloseTo(102.6, 12);
  });
});
