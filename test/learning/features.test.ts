/**
 * Feature vectors of real decisions: every TAKE of both scalp strategies on the kit slice, and every
 * swing setup's TAKE / NEAR_MISS on real Kraken XBTUSD candles, give finite vectors of the set's
 * width; a missing or non-finite feature is an error naming it; nothing raw (price, time) leaks in.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MACRO_CONFIG } from '../../shared/config/strategy.js';
import { FEATURE_SETS, featureVector, type FeatureInput } from '../../shared/learning/features.js';
import { evaluateBreakoutAt, evaluateChannelAt, evaluateDcaAt, prepareSwing, type SwingScan } from '../../shared/strategies/macro/swing.js';
import type { ScanDecision } from '../../shared/model/trading.js';
import { FILES, cols } from '../macro/helpers.js';
import { sliceRun } from './helpers.js';

describe('feature sets', () => {
  it('each strategy has a versioned list of unique names; raw prices and times are not in it', () => {
    for (const [id, set] of Object.entries(FEATURE_SETS)) {
      expect(set.version).toMatch(new RegExp(`^${id}/\\d+$`));
      expect(new Set(set.names).size).toBe(set.names.length);
      for (const raw of ['price', 'close', 'entry', 'stopLoss', 'takeProfit', 'atr', 'levelPrice', 'pivotPrice', 'pivotTime', 'recentHigh', 'recentHighTime', 'resistance', 'ts', 'candleTime']) {
        expect(set.names, `${id} ${raw}`).not.toContain(raw);
      }
    }
  });
});

describe('scalp decisions of the kit slice', () => {
  const { run } = sliceRun();
  const takes = run.decisions.filter((d) => d.decision === 'TAKE');

  it('every TAKE of both strategies gives a finite vector of its set width', () => {
    const seen = new Set<string>();
    expect(takes.length).toBeGreaterThan(100);
    for (const d of takes) {
      const v = featureVector(d);
      expect(v.ok, `${d.signalId}: ${v.ok ? '' : v.error}`).toBe(true);
      if (!v.ok) continue;
      expect(v.values).toHaveLength(FEATURE_SETS[d.strategy].names.length);
      for (const x of v.values) expect(Number.isFinite(x)).toBe(true);
      seen.add(d.strategy);
    }
    expect([...seen].sort()).toEqual(['levels_exhaustion', 'v52_divergence']);
  });

  it('derived features: direction sign, stop / TP distance in % of entry, hour of day on the circle', () => {
    const d = takes.find((x) => x.strategy === 'levels_exhaustion' && x.direction === 'SHORT') as ScanDecision;
    const set = FEATURE_SETS.levels_exhaustion;
    const v = featureVector(d);
    if (!v.ok) throw new Error(v.error);
    const at = (n: string) => v.values[set.names.indexOf(n)] as number;
    expect(at('dir')).toBe(-1);
    const f = d.features as Record<string, number>;
    expect(at('stopDistPct')).toBeCloseTo((Math.abs(f.stopLoss! - f.entry!) / f.entry!) * 100, 12);
    expect(at('tpDistPct')).toBeCloseTo((Math.abs(f.takeProfit! - f.entry!) / f.entry!) * 100, 12);
    const hour = new Date(d.ts).getUTCHours() + new Date(d.ts).getUTCMinutes() / 60 + new Date(d.ts).getUTCSeconds() / 3600;
    expect(at('hourSin')).toBeCloseTo(Math.sin((2 * Math.PI * hour) / 24), 9);
    expect(at('hourCos')).toBeCloseTo(Math.cos((2 * Math.PI * hour) / 24), 9);
    expect(at('bookFlipAvailable')).toBe(0); // no order book in a backtest
  });

  it('a missing or non-finite feature is an error naming it', () => {
    const d = takes.find((x) => x.strategy === 'v52_divergence') as ScanDecision;
    const { rsi: _drop, ...rest } = d.features;
    const missing = featureVector({ ...d, features: rest });
    expect(missing).toEqual({ ok: false, error: expect.stringContaining('rsi') });
    const nan = featureVector({ ...d, features: { ...d.features, volumeRatio: Number.NaN } });
    expect(nan).toEqual({ ok: false, error: expect.stringContaining('volumeRatio') });
    const flag = featureVector({ ...d, features: { ...d.features, volumeSpike: 'yes' } });
    expect(flag).toEqual({ ok: false, error: expect.stringContaining('volumeSpike') });
  });
});

describe('swing decisions on real Kraken XBTUSD candles', () => {
  const c5 = cols(FILES.btc5mMarch, '5m');
  const c1 = cols(FILES.btc1h, '1h');
  const c4 = cols(FILES.btc4h, '4h');
  const p = prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c5, '1h': c1, '4h': c4 });
  const ctx = { symbol: 'BTCUSDT', tier: 'large_cap' as const, regime: 'NORMAL' as const };

  it('every evaluated DCA / SWING / CHANNEL decision with data gives a finite vector (TAKEs and NEAR_MISSes seen)', () => {
    const scans: SwingScan[] = [];
    for (let i = 0; i < c5.openTime.length; i++) scans.push(evaluateDcaAt(p, i, ctx));
    for (let i = 0; i < c1.openTime.length; i++) scans.push(evaluateBreakoutAt(p, i, ctx), evaluateChannelAt(p, i, ctx));
    const judged = scans.filter((s) => s.features.insufficientData !== true && (s.decision === 'TAKE' || s.decision === 'NEAR_MISS'));
    const by = new Map<string, number>();
    for (const s of judged) {
      const input: FeatureInput = s;
      const v = featureVector(input);
      // SWING breakout without a 4h trend (early candles) logs uptrend4h null: an error naming it, never a silent 0.
      if (!v.ok) {
        expect(v.error).toMatch(/uptrend4h|rsi|volumeRatio|breakoutPct/);
        continue;
      }
      expect(v.values).toHaveLength(FEATURE_SETS[s.strategy].names.length);
      for (const x of v.values) expect(Number.isFinite(x)).toBe(true);
      by.set(s.strategy, (by.get(s.strategy) ?? 0) + 1);
    }
    expect([...by.keys()].sort()).toEqual(['channel', 'dca', 'swing_breakout']);
  });

  it('DCA: an unknown regime is an error naming it', () => {
    const i = c5.openTime.length - 1;
    const s = evaluateDcaAt(p, i, { ...ctx, regime: null });
    expect(featureVector(s)).toEqual({ ok: false, error: expect.stringContaining('regime') });
  });
});
