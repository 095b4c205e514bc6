/** BTC regime (shared/protection/regime.ts): thresholds, boundaries, series on real candles, one event per change. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTIONS_CONFIG, REGIMES } from '../../shared/config/strategy.js';
import { createProtectionState, type ProtectionEvent, type RegimeInputs } from '../../shared/protection/model.js';
import { changePctAt, classifyRegime, regimeAt, regimeInputsAt, regimeSeries, updateRegime } from '../../shared/protection/regime.js';
import { columns, realBtc1m } from '../trading/helpers.js';

const cfg = DEFAULT_PROTECTIONS_CONFIG.regime;
const x = (change1hPct: number, change4hPct = 0, change24hPct = 0, change48hPct = 0): RegimeInputs => ({ change1hPct, change4hPct, change24hPct, change48hPct });

describe('classifyRegime', () => {
  it('PANIC: more than 5 % down in 1h or more than 10 % in 4h', () => {
    expect(classifyRegime(x(-5.01), cfg)).toBe('PANIC');
    expect(classifyRegime(x(-5), cfg)).toBe('CAUTION'); // exactly 5 % is the top of CAUTION's 3-5 %
    expect(classifyRegime(x(0, -10.01), cfg)).toBe('PANIC');
    expect(classifyRegime(x(0, -10), cfg)).toBe('NORMAL');
  });
  it('CAUTION: 3-5 % down in 1h, or a slow bleed of 3 % in 24h / 5 % in 48h', () => {
    expect(classifyRegime(x(-3), cfg)).toBe('CAUTION');
    expect(classifyRegime(x(-2.99), cfg)).toBe('NORMAL');
    expect(classifyRegime(x(-1, -2, -3), cfg)).toBe('CAUTION');
    expect(classifyRegime(x(-1, -2, -2.99), cfg)).toBe('NORMAL');
    expect(classifyRegime(x(0, 0, -1, -5), cfg)).toBe('CAUTION');
    expect(classifyRegime(x(0, 0, -1, -4.99), cfg)).toBe('NORMAL');
  });
  it('EUPHORIA: more than 5 % up in 1h; drops take precedence', () => {
    expect(classifyRegime(x(5.01), cfg)).toBe('EUPHORIA');
    expect(classifyRegime(x(5), cfg)).toBe('NORMAL');
    expect(classifyRegime(x(5.5, 0, -3.5), cfg)).toBe('CAUTION');
  });
  it('missing history (NaN) is no signal', () => {
    expect(classifyRegime(x(NaN, NaN, NaN, NaN), cfg)).toBe('NORMAL');
  });
});

describe('on real BTCUSDT 1m candles (2025-06-11 .. 06-13)', () => {
  const cs = realBtc1m();
  const { time, close } = columns(cs);

  it('close-to-close changes by time window', () => {
    const i = cs.length - 1;
    expect(changePctAt(time, close, i, 60 * 60_000)).toBeCloseTo((close[i]! / close[i - 60]! - 1) * 100, 12);
    expect(Number.isNaN(changePctAt(time, close, 100, 24 * 3_600_000))).toBe(true);
  });

  it('the 2025-06-12/13 sell-off is a slow-bleed CAUTION; the quiet 11th is NORMAL', () => {
    const codes = regimeSeries(time, close, cfg);
    const at = (iso: string) => cs.findIndex((c) => c.openTime === Date.parse(iso));
    const i = at('2025-06-13T01:10:00Z');
    const inputs = regimeInputsAt(time, close, i);
    expect(inputs.change24hPct).toBeLessThan(-5); // about -5.37 %
    expect(inputs.change1hPct).toBeGreaterThan(-3);
    expect(REGIMES[codes[i]!]).toBe('CAUTION');
    expect(REGIMES[codes[at('2025-06-11T12:00:00Z')]!]).toBe('NORMAL');
    // no PANIC or EUPHORIA anywhere in this real window (the biggest 1h drop is about 2.5 %)
    expect(new Set(Array.from(codes, (c) => REGIMES[c]))).toEqual(new Set(['NORMAL', 'CAUTION']));
  });

  it('regimeSeries equals regimeAt at every index', () => {
    const codes = regimeSeries(time, close, cfg);
    for (let i = 0; i < cs.length; i += 7) expect(REGIMES[codes[i]!]).toBe(regimeAt(time, close, i, cfg));
  });
});

describe('updateRegime', () => {
  it('one event per change, none while it stays', () => {
    const out: ProtectionEvent[] = [];
    let s = createProtectionState(0, 10_000);
    s = updateRegime(s, 'CAUTION', 1, out);
    const same = updateRegime(s, 'CAUTION', 2, out);
    expect(same).toBe(s);
    s = updateRegime(s, 'PANIC', 3, out);
    expect(out.map((e) => [e.kind, e.details['from'], e.details['to'], e.severity])).toEqual([
      ['regime_changed', 'NORMAL', 'CAUTION', 'warning'],
      ['regime_changed', 'CAUTION', 'PANIC', 'critical'],
    ]);
    expect(s.regime).toEqual({ current: 'PANIC', since: 3, calmSince: null });
  });
});
