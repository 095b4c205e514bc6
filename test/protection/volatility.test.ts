/** 24h volatility and strategy disable with hysteresis (shared/protection/volatility.ts). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTIONS_CONFIG } from '../../shared/config/strategy.js';
import { createProtectionState, type ProtectionEvent } from '../../shared/protection/model.js';
import { isSetupDisabled, updateVolatility, volatilityPctAt, volatilitySeries } from '../../shared/protection/volatility.js';
import { columns, realBtc1m } from '../trading/helpers.js';

const DAY = 24 * 3_600_000;
const cfg = DEFAULT_PROTECTIONS_CONFIG.volatilityDisable;

describe('24h volatility on real candles', () => {
  const cs = realBtc1m();
  const { time, high, low } = columns(cs);
  it('is the 24h range over the lowest low, and the O(n) series matches it everywhere', () => {
    const i = cs.length - 1;
    let hi = -Infinity;
    let lo = Infinity;
    for (let j = i - 1439; j <= i; j++) {
      hi = Math.max(hi, high[j]!);
      lo = Math.min(lo, low[j]!);
    }
    expect(volatilityPctAt(time, high, low, i, DAY)).toBeCloseTo(((hi - lo) / lo) * 100, 12);
    const s = volatilitySeries(time, high, low, DAY);
    for (let k = 0; k < cs.length; k += 11) expect(s[k]).toBeCloseTo(volatilityPctAt(time, high, low, k, DAY), 12);
    // the real 2025-06-13 sell-off: about 6 %, under the CHANNEL disable level
    expect(s[i]).toBeGreaterThan(5);
    expect(s[i]).toBeLessThan(8);
  });
});

describe('CHANNEL disable hysteresis (off at 8 %, back on at 6 %)', () => {
  it('follows 7.99 -> 8 -> 7 -> 6.01 -> 6 -> 7.9 with one event per change', () => {
    const out: ProtectionEvent[] = [];
    let s = createProtectionState(0, 10_000);
    const steps: Array<[number, boolean]> = [
      [7.99, false],
      [8, true],
      [7, true],
      [6.01, true],
      [6, false],
      [7.9, false],
    ];
    steps.forEach(([vol, disabled], k) => {
      s = updateVolatility(s, 'SOLUSDT', vol, cfg, k, out);
      expect([vol, isSetupDisabled(s, 'CHANNEL', 'SOLUSDT')]).toEqual([vol, disabled]);
    });
    expect(out.map((e) => [e.kind, e.subject])).toEqual([
      ['strategy_disabled', 'CHANNEL:SOLUSDT'],
      ['strategy_enabled', 'CHANNEL:SOLUSDT'],
    ]);
    // only configured setups, only this symbol
    expect(isSetupDisabled(s, 'DCA', 'SOLUSDT')).toBe(false);
    s = updateVolatility(s, 'SOLUSDT', 9, cfg, 10, out);
    expect(isSetupDisabled(s, 'CHANNEL', 'ETHUSDT')).toBe(false);
    expect(isSetupDisabled(s, 'DCA', 'SOLUSDT')).toBe(false);
  });
});
