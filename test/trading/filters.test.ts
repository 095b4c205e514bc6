/** Macro-bias filter with hysteresis (shared/trading/filters.ts) and its effect on scalp signals. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTERS_CONFIG } from '../../shared/config/strategy.js';
import type { ProtectionEvent } from '../../shared/protection/model.js';
import { applyBias, applySignal, applyCandle, createTradingState } from '../../shared/trading/core.js';
import { biasRestriction, createBiasFilterState, updateBiasFilter, type BiasFilterState } from '../../shared/trading/filters.js';
import type { Bias, BiasState } from '../../shared/model/trading.js';
import { HOUR, MIN, candle, defaultCfg, signal } from './helpers.js';

const T0 = Date.UTC(2025, 5, 11, 0, 0);
const cfg = DEFAULT_FILTERS_CONFIG.macroBias;

function bias(b: Bias, confidence: number, ts: number, ttl = 4 * HOUR): BiasState {
  return { symbol: 'BTCUSDT', bias: b, confidence, components: [], ts, expiresAt: ts + ttl };
}

describe('bias filter state machine', () => {
  it('engages at 80, holds at 75, releases below 70 (one event per change)', () => {
    let s: BiasFilterState = createBiasFilterState();
    const out: ProtectionEvent[] = [];
    s = updateBiasFilter(s, bias('LONG', 79.9, T0), T0, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0, cfg)).toBeNull();
    s = updateBiasFilter(s, bias('LONG', 80, T0 + 5 * MIN), T0 + 5 * MIN, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0 + 5 * MIN, cfg)).toBe('LONG');
    const held = updateBiasFilter(s, bias('LONG', 75, T0 + 10 * MIN), T0 + 10 * MIN, cfg, out);
    expect(biasRestriction(held, 'BTCUSDT', T0 + 10 * MIN, cfg)).toBe('LONG');
    const still = updateBiasFilter(held, bias('LONG', 70, T0 + 15 * MIN), T0 + 15 * MIN, cfg, out);
    expect(biasRestriction(still, 'BTCUSDT', T0 + 15 * MIN, cfg)).toBe('LONG'); // 70 is not below 70
    s = updateBiasFilter(still, bias('LONG', 69.9, T0 + 20 * MIN), T0 + 20 * MIN, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0 + 20 * MIN, cfg)).toBeNull();
    // released: 75 does not re-engage (hysteresis)
    s = updateBiasFilter(s, bias('LONG', 75, T0 + 25 * MIN), T0 + 25 * MIN, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0 + 25 * MIN, cfg)).toBeNull();
    expect(out.map((e) => e.kind)).toEqual(['bias_filter_engaged', 'bias_filter_released']);
  });

  it('SHORT >= 80 restricts to SHORT; an opposite bias >= 80 switches sides; NEUTRAL releases', () => {
    const out: ProtectionEvent[] = [];
    let s = updateBiasFilter(createBiasFilterState(), bias('SHORT', 85, T0), T0, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0, cfg)).toBe('SHORT');
    s = updateBiasFilter(s, bias('LONG', 90, T0 + MIN), T0 + MIN, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0 + MIN, cfg)).toBe('LONG');
    s = updateBiasFilter(s, bias('NEUTRAL', 95, T0 + 2 * MIN), T0 + 2 * MIN, cfg, out);
    expect(biasRestriction(s, 'BTCUSDT', T0 + 2 * MIN, cfg)).toBeNull();
    expect(out.map((e) => e.kind)).toEqual(['bias_filter_engaged', 'bias_filter_released', 'bias_filter_engaged', 'bias_filter_released']);
  });

  it('the same update twice changes nothing; an older update is ignored', () => {
    const out: ProtectionEvent[] = [];
    const s = updateBiasFilter(createBiasFilterState(), bias('LONG', 85, T0 + MIN), T0 + MIN, cfg, out);
    expect(updateBiasFilter(s, bias('LONG', 85, T0 + MIN), T0 + MIN, cfg, out)).toBe(s);
    expect(updateBiasFilter(s, bias('LONG', 10, T0), T0 + 2 * MIN, cfg, out)).toBe(s);
    expect(out).toHaveLength(1);
  });

  it('releases when the bias expires (TTL), with one event, even without a new update', () => {
    const c = defaultCfg();
    let st = createTradingState('a', c, T0);
    const r1 = applyBias(st, bias('LONG', 85, T0), c, T0);
    st = r1.state;
    expect(r1.events.map((e) => e.type === 'protection' && e.kind)).toEqual(['bias_filter_engaged']);
    const short = signal({ ts: T0 + HOUR, direction: 'SHORT', entries: [100], stopLoss: 100.5, takeProfit: 99 });
    expect(applySignal(st, short, null, c, T0 + HOUR).decision).toMatchObject({ accepted: false, reason: 'macro_bias_filter' });
    // the 4h TTL passes: the next candle releases the filter once
    const at = T0 + 4 * HOUR;
    const r2 = applyCandle(st, candle(at - MIN, 100, 100, 100, 100), null, c, at);
    expect(r2.events.map((e) => e.type === 'protection' && e.kind)).toEqual(['bias_filter_released']);
    const r3 = applyCandle(r2.state, candle(at, 100, 100, 100, 100), null, c, at + MIN);
    expect(r3.events).toEqual([]);
    const late = signal({ ts: at + MIN, direction: 'SHORT', entries: [100], stopLoss: 100.5, takeProfit: 99 });
    expect(applySignal(r3.state, late, null, c, at + MIN).decision.accepted).toBe(true);
  });

  it('an expired bias never engages; the filter only gates scalps', () => {
    const c = defaultCfg();
    const st = createTradingState('a', c, T0);
    const stale = bias('LONG', 95, T0 - 5 * HOUR);
    const sig = signal({ ts: T0, direction: 'SHORT', entries: [100], stopLoss: 100.5, takeProfit: 99 });
    expect(applySignal(st, sig, { bias: stale }, c, T0).decision.accepted).toBe(true);
    // a live bias passed with the signal is applied first
    const live = bias('LONG', 95, T0);
    expect(applySignal(st, sig, { bias: live }, c, T0).decision).toMatchObject({ accepted: false, reason: 'macro_bias_filter' });
  });
});
