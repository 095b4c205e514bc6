/**
 * Readiness (the dashboard's Strategies page) is computed by the strategy modules from the same
 * analysis their evaluateAt decides on. Over REAL candles (a week of Bybit BTCUSDT 1m for the scalps,
 * Kraken XBTUSD 5m / 1h for the swing setups), at every index:
 * - readinessAt reports exactly evaluateAt's decision and direction;
 * - a side has every required condition met  <=>  evaluateAt is a TAKE in that direction (so a TAKE
 *   always shows all met, and an unmet condition always means no TAKE that way);
 * - the numbers shown are the decision's own (its logged features);
 * - every condition of every strategy: progress is null or a number in [0, 1] (never NaN), and
 *   met === true  <=>  progress === 1 (an unmet check never shows 1; a met one always does).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEVELS_EXHAUSTION_CONFIG, DEFAULT_MACRO_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG } from '../../shared/config/strategy.js';
import type { ReadinessSide } from '../../shared/dashboard/api.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import type { EvalContext, ScalpDecision } from '../../shared/strategies/scalp/common.js';
import { levelsExhaustion } from '../../shared/strategies/scalp/levels-exhaustion.js';
import { v52Divergence } from '../../shared/strategies/scalp/v52-divergence.js';
import {
  breakoutReadinessAt,
  channelReadinessAt,
  dcaReadinessAt,
  evaluateBreakoutAt,
  evaluateChannelAt,
  evaluateDcaAt,
  evaluateSwingAt,
  prepareSwing,
  swingReadinessAt,
  type SwingContext,
} from '../../shared/strategies/macro/swing.js';
import { UNMET_PROGRESS_MAX, flagCondition, infoCondition, numericCondition, readinessSide, sideReady, type StrategyReadinessAt } from '../../shared/strategies/readiness.js';
import type { CandleSeries } from '../../shared/strategies/series.js';
import { btcWeek1m } from './data.js';
import { FILES, cols } from '../macro/helpers.js';

const week = btcWeek1m();
const ATR = { ...DEFAULT_LEVELS_EXHAUSTION_CONFIG.exits, mode: 'atr' as const };

type Pair = (i: number, ctx?: EvalContext) => { d: ScalpDecision | null; r: StrategyReadinessAt };
const SCALPS: Array<{ name: string; make: (s: CandleSeries) => Pair }> = [
  { name: 'levels_exhaustion', make: (s) => { const p = levelsExhaustion.prepare(s, DEFAULT_LEVELS_EXHAUSTION_CONFIG); return (i, c) => ({ d: levelsExhaustion.evaluateAt(p, i, c), r: levelsExhaustion.readinessAt(p, i, c) }); } },
  { name: 'levels_exhaustion (ATR exits)', make: (s) => { const p = levelsExhaustion.prepare(s, { ...DEFAULT_LEVELS_EXHAUSTION_CONFIG, exits: ATR }); return (i, c) => ({ d: levelsExhaustion.evaluateAt(p, i, c), r: levelsExhaustion.readinessAt(p, i, c) }); } },
  { name: 'v52_divergence', make: (s) => { const p = v52Divergence.prepare(s, DEFAULT_V52_DIVERGENCE_CONFIG); return (i, c) => ({ d: v52Divergence.evaluateAt(p, i, c), r: v52Divergence.readinessAt(p, i, c) }); } },
  { name: 'v52_divergence (ATR exits)', make: (s) => { const p = v52Divergence.prepare(s, { ...DEFAULT_V52_DIVERGENCE_CONFIG, exits: ATR }); return (i, c) => ({ d: v52Divergence.evaluateAt(p, i, c), r: v52Divergence.readinessAt(p, i, c) }); } },
];

/** Agreement of one readiness with its decision; returns a description of the first disagreement, or null. */
function disagreement(d: { decision: string; direction: string | null } | null, r: StrategyReadinessAt): string | null {
  if (r.decision !== (d ? d.decision : null)) return `decision ${String(r.decision)} vs ${d ? d.decision : 'null'}`;
  if (r.direction !== (d ? d.direction : null)) return `direction ${String(r.direction)} vs ${d ? String(d.direction) : 'null'}`;
  for (const side of r.sides) {
    const take = d !== null && d.decision === 'TAKE' && d.direction === side.direction;
    if (sideReady(side) !== take) return `${side.direction}: ${side.met}/${side.total} met but decision ${d ? `${d.decision} ${String(d.direction)}` : 'null'}`;
    for (const c of side.conditions) {
      if (c.progress !== null && !(typeof c.progress === 'number' && c.progress >= 0 && c.progress <= 1)) return `${c.id} progress ${String(c.progress)}`;
      if (c.met === true && c.progress !== 1) return `${c.id} met with progress ${String(c.progress)}`;
      if (c.met !== true && c.progress === 1) return `${c.id} ${c.met === false ? 'unmet' : 'not computable'} (value ${String(c.value)} ${c.comparator} ${String(c.threshold)}) with progress 1`;
      if (c.met === false && c.progress !== null && !(c.progress <= UNMET_PROGRESS_MAX)) return `${c.id} unmet with progress ${c.progress}`;
    }
    if (!(side.closeness >= 0 && side.closeness <= 1)) return `closeness ${side.closeness}`;
  }
  return null;
}

function cond(side: ReadinessSide | undefined, id: string) {
  const c = side?.conditions.find((x) => x.id === id);
  if (!c) throw new Error(`no condition ${id}`);
  return c;
}

describe('scalp readiness agrees with evaluateAt over a real week of BTCUSDT 1m', () => {
  for (const s of SCALPS) {
    it(`${s.name}: on every close and on a snapshot of every candle`, () => {
      const at = s.make(week);
      const tally = { TAKE: 0, NEAR_MISS: 0, SKIP: 0, none: 0, unmetSides: 0 };
      for (let i = 0; i < week.length; i++) {
        const { d, r } = at(i);
        const bad = disagreement(d, r);
        if (bad) throw new Error(`${s.name} close ${i}: ${bad}`);
        expect(r.sides.map((x) => x.direction)).toEqual(['SHORT', 'LONG']);
        tally[d ? d.decision : 'none']++;
        tally.unmetSides += r.sides.filter((x) => !sideReady(x)).length;
        if (i + 1 < week.length) {
          // the 15 s snapshot path: the real next candle as the forming one, 40 s in
          const ot = week.openTime[i + 1] as number;
          const forming = { openTime: ot, ts: ot + 40_000, open: week.open[i + 1] as number, high: week.high[i + 1] as number, low: week.low[i + 1] as number, close: week.close[i + 1] as number, volume: week.volume[i + 1] as number };
          const snap = at(i, { forming });
          const badSnap = disagreement(snap.d, snap.r);
          if (badSnap) throw new Error(`${s.name} snapshot after ${i}: ${badSnap}`);
          expect(snap.r.asOf).toBe(forming.ts);
        } else {
          expect(r.asOf).toBe((week.openTime[i] as number) + INTERVAL_MS['1m']);
        }
      }
      // the property was exercised on both outcomes
      expect(tally.TAKE).toBeGreaterThan(20);
      expect(tally.NEAR_MISS).toBeGreaterThan(20);
      expect(tally.unmetSides).toBeGreaterThan(week.length);
    });
  }

  it('v52_divergence: the numbers shown are the decision features (pivot RSI, RSI now, volume ratio)', () => {
    const p = v52Divergence.prepare(week, DEFAULT_V52_DIVERGENCE_CONFIG);
    let takes = 0;
    for (let i = 0; i < week.length; i++) {
      const d = v52Divergence.evaluateAt(p, i);
      if (!d || d.decision !== 'TAKE') continue;
      takes++;
      const side = v52Divergence.readinessAt(p, i).sides.find((x) => x.direction === d.direction);
      expect(cond(side, 'pivot_rsi').value).toBeCloseTo(d.features.pivotRsi as number, 4);
      expect(cond(side, 'rsi_divergence').value).toBeCloseTo(d.features.rsi as number, 4);
      expect(cond(side, 'rsi_divergence').threshold).toBeCloseTo((d.features.pivotRsi as number) + (d.direction === 'LONG' ? 1 : -1) * DEFAULT_V52_DIVERGENCE_CONFIG.divergence.minRsiDelta, 4);
      expect(cond(side, 'volume_spike').value).toBeCloseTo(d.features.volumeRatio as number, 4);
      expect(cond(side, 'volume_spike').threshold).toBe(DEFAULT_V52_DIVERGENCE_CONFIG.volumeSpike.minRatio);
    }
    expect(takes).toBeGreaterThan(0);
  });

  it('v52_divergence: an unmet RSI divergence shows progress below 1, counted from the pivot RSI toward pivot RSI -/+ delta', () => {
    const delta = DEFAULT_V52_DIVERGENCE_CONFIG.divergence.minRsiDelta;
    const p = v52Divergence.prepare(week, DEFAULT_V52_DIVERGENCE_CONFIG);
    const tally = { unmet: 0, partway: 0, none: 0, met: 0 };
    for (let i = 0; i < week.length; i++) {
      for (const side of v52Divergence.readinessAt(p, i).sides) {
        const c = cond(side, 'rsi_divergence');
        // no pivot, or a pivot whose RSI is not computable (its own warm-up): no distance to show
        if (c.met === null || c.threshold === null) continue;
        if (c.met) {
          tally.met++;
          continue;
        }
        tally.unmet++;
        expect(c.progress).not.toBeNull();
        expect(c.progress as number).toBeLessThan(1);
        // 0 at the pivot's RSI (no divergence), rising toward the threshold the RSI must reach
        const pivotRsi = cond(side, 'pivot_rsi').value as number;
        const rsiNow = c.value as number;
        expect(c.threshold as number).toBeCloseTo(pivotRsi + (side.direction === 'LONG' ? delta : -delta), 5);
        const moved = side.direction === 'LONG' ? rsiNow - pivotRsi : pivotRsi - rsiNow;
        expect(c.progress as number).toBeCloseTo(Math.min(UNMET_PROGRESS_MAX, Math.max(0, moved / delta)), 5);
        if ((c.progress as number) > 0) tally.partway++;
        else tally.none++;
      }
    }
    // both kinds of unmet rows were seen: some part of the way there, some not at all
    expect(tally.unmet).toBeGreaterThan(1000);
    expect(tally.partway).toBeGreaterThan(100);
    expect(tally.none).toBeGreaterThan(100);
    expect(tally.met).toBeGreaterThan(100);
  });

  it('levels_exhaustion: the checks counted, RSI and volume ratio are the decision features; the four checks count toward exhaustion_checks', () => {
    const p = levelsExhaustion.prepare(week, DEFAULT_LEVELS_EXHAUSTION_CONFIG);
    let seen = 0;
    for (let i = 0; i < week.length; i++) {
      const d = levelsExhaustion.evaluateAt(p, i);
      if (!d) continue;
      seen++;
      const dir = d.features.setupDirection as 'SHORT' | 'LONG';
      const side = levelsExhaustion.readinessAt(p, i).sides.find((x) => x.direction === dir);
      expect(cond(side, 'exhaustion_checks').value).toBe(d.features.checksHit);
      expect(cond(side, 'at_level').met).toBe(true);
      expect(cond(side, 'at_level').value as number).toBeLessThanOrEqual(Math.abs(d.features.levelDistancePct as number) + 1e-9);
      if (d.features.rsi !== null) expect(cond(side, 'rsi').value).toBeCloseTo(d.features.rsi as number, 4);
      if (d.features.volumeRatio !== null) expect(cond(side, 'low_volume').value).toBeCloseTo(d.features.volumeRatio as number, 4);
      expect(cond(side, 'book_flip')).toMatchObject({ value: 'unavailable', met: false, partOf: 'exhaustion_checks' });
      for (const id of ['rsi', 'low_volume', 'double_wick']) expect(cond(side, id).partOf).toBe('exhaustion_checks');
      // required: at a level + enough checks (+ ATR with ATR exits: not here)
      expect(side?.total).toBe(2);
    }
    expect(seen).toBeGreaterThan(100);
  });

  it('a warm-up index has no decision, says why, and no condition met', () => {
    const p = v52Divergence.prepare(week, DEFAULT_V52_DIVERGENCE_CONFIG);
    const r = v52Divergence.readinessAt(p, 3);
    expect(r.decision).toBeNull();
    expect(r.note).toMatch(/warm-up/);
    for (const side of r.sides) expect(side.met).toBe(0);
  });
});

describe('swing readiness agrees with evaluateAt over real Kraken XBTUSD candles', () => {
  const ctx: SwingContext = { symbol: 'BTCUSDT', tier: 'large_cap', regime: 'NORMAL' };
  const c5 = [cols(FILES.btc5mJan, '5m'), cols(FILES.btc5mMarch, '5m')];
  const c1h = cols(FILES.btc1h, '1h');
  const c4h = cols(FILES.btc4h, '4h');

  it('DCA, SWING breakout and CHANNEL at every index: same decision, all met exactly on TAKE', () => {
    const tally: Record<string, Record<string, number>> = {};
    const count = (k: string, d: string) => {
      tally[k] ??= {};
      tally[k][d] = (tally[k][d] ?? 0) + 1;
    };
    const checkAll = (name: string, n: number, ev: (i: number) => { decision: string; direction: string | null }, rd: (i: number) => StrategyReadinessAt) => {
      for (let i = 0; i < n; i++) {
        const d = ev(i);
        const r = rd(i);
        const bad = disagreement(d, r);
        if (bad) throw new Error(`${name} at ${i}: ${bad}`);
        count(name, d.decision);
      }
    };
    for (const c of c5) {
      for (const regime of ['NORMAL', 'PANIC', null] as const) {
        const p = prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c });
        checkAll('DCA', c.length, (i) => evaluateDcaAt(p, i, { ...ctx, regime }), (i) => dcaReadinessAt(p, i, { ...ctx, regime }));
      }
    }
    const p1 = prepareSwing(DEFAULT_MACRO_CONFIG, { '1h': c1h, '4h': c4h });
    checkAll('SWING', c1h.length, (i) => evaluateBreakoutAt(p1, i, ctx), (i) => breakoutReadinessAt(p1, i, ctx));
    const chIv = DEFAULT_MACRO_CONFIG.setups.CHANNEL.interval;
    const pc = prepareSwing(DEFAULT_MACRO_CONFIG, { [chIv]: chIv === '1h' ? c1h : chIv === '4h' ? c4h : (c5[1] as typeof c1h) });
    const chCols = chIv === '1h' ? c1h : chIv === '4h' ? c4h : (c5[1] as typeof c1h);
    checkAll('CHANNEL', chCols.length, (i) => evaluateChannelAt(pc, i, ctx), (i) => channelReadinessAt(pc, i, ctx));
    expect(tally.DCA?.TAKE ?? 0).toBeGreaterThan(0);
    expect(tally.DCA?.['SKIP'] ?? 0).toBeGreaterThan(0);
    expect((tally.SWING?.TAKE ?? 0) + (tally.SWING?.NEAR_MISS ?? 0)).toBeGreaterThan(0);
    expect((tally.CHANNEL?.TAKE ?? 0) + (tally.CHANNEL?.NEAR_MISS ?? 0)).toBeGreaterThan(0);
  });

  it('swingReadinessAt evaluates the index evaluateSwingAt does, and reports the setups it skips', () => {
    const c = c5[0]!;
    const p = prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c, '1h': c1h, '4h': c4h });
    const asOf = (c.openTime[c.length - 1] as number) + INTERVAL_MS['5m'];
    const ev = evaluateSwingAt(p, asOf, ctx);
    const rd = swingReadinessAt(p, asOf, ctx);
    expect(rd.map((x) => x.strategy)).toEqual(['dca', 'swing_breakout', 'channel']);
    const dca = rd[0]!;
    const dcaDecision = ev.decisions.find((d) => d.strategy === 'dca');
    expect(dca.readiness?.decision).toBe(dcaDecision?.decision);
    expect(dca.readiness?.asOf).toBe(dcaDecision?.ts);
    // the 1h file ends long before this 5m day: stale, as evaluateSwingAt notes it
    const swingNote = ev.notes.find((n) => n.startsWith('SWING'));
    if (swingNote) expect(rd[1]).toMatchObject({ readiness: null, note: swingNote });
    // a setup switched off in config is still computed, marked disabled
    const off = { ...DEFAULT_MACRO_CONFIG, setups: { ...DEFAULT_MACRO_CONFIG.setups, DCA: { ...DEFAULT_MACRO_CONFIG.setups.DCA, enabled: false } } };
    const rdOff = swingReadinessAt(prepareSwing(off, { '5m': c }), asOf, ctx);
    expect(rdOff[0]).toMatchObject({ strategy: 'dca', enabled: false });
    expect(rdOff[0]?.readiness?.decision).toBe(dcaDecision?.decision);
    expect(evaluateSwingAt(prepareSwing(off, { '5m': c }), asOf, ctx).notes).toContain('DCA: disabled');
  });

  it('DCA: values and thresholds are the rule numbers (drop %, volume ratio, regime)', () => {
    const c = c5[0]!;
    const p = prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c });
    const i = c.openTime.indexOf(Date.parse('2023-01-14T01:40:00Z'));
    const d = evaluateDcaAt(p, i, { ...ctx, regime: 'PANIC' });
    const r = dcaReadinessAt(p, i, { ...ctx, regime: 'PANIC' });
    const side = r.sides[0];
    expect(cond(side, 'drop')).toMatchObject({ threshold: DEFAULT_MACRO_CONFIG.setups.DCA.dropFromHighPct, comparator: '>=', met: true });
    expect(cond(side, 'drop').value).toBeCloseTo(d.features.dropPct as number, 5);
    expect(cond(side, 'volume')).toMatchObject({ threshold: DEFAULT_MACRO_CONFIG.setups.DCA.minVolumeRatio, comparator: '>', met: true });
    expect(cond(side, 'regime')).toMatchObject({ met: false, comparator: '==' });
    expect(d.decision).toBe('SKIP');
    expect(side).toMatchObject({ met: 2, total: 3 });
  });
});

describe('readiness arithmetic (shared/strategies/readiness.ts)', () => {
  it('progress: from a neutral point, else the ratio; met is 1; uncomputable is null and never met', () => {
    expect(numericCondition({ id: 'rsi', label: 'RSI', value: 60, threshold: 70, comparator: '>', met: false, from: 50 }).progress).toBeCloseTo(0.5, 12);
    expect(numericCondition({ id: 'rsi', label: 'RSI', value: 40, threshold: 30, comparator: '<', met: false, from: 50 }).progress).toBeCloseTo(0.5, 12);
    expect(numericCondition({ id: 'rsi', label: 'RSI', value: 45, threshold: 70, comparator: '>', met: false, from: 50 }).progress).toBe(0);
    expect(numericCondition({ id: 'v', label: 'vol', value: 1.2, threshold: 2, comparator: '>=', met: false }).progress).toBeCloseTo(0.6, 12);
    expect(numericCondition({ id: 'd', label: 'dist', value: 0.5, threshold: 0.1, comparator: '<=', met: false }).progress).toBeCloseTo(0.2, 12);
    expect(numericCondition({ id: 'b', label: 'breakout', value: -0.4, threshold: 1, comparator: '>', met: false }).progress).toBeNull();
    expect(numericCondition({ id: 'v', label: 'vol', value: 2.5, threshold: 2, comparator: '>=', met: true })).toMatchObject({ met: true, progress: 1 });
    expect(numericCondition({ id: 'v', label: 'vol', value: Number.NaN, threshold: 2, comparator: '>=', met: true })).toMatchObject({ value: null, met: null, progress: null });
  });

  it('progress: a `from` on the met side of the threshold is not an anchor; an unmet check never shows 1', () => {
    // RSI now 41 vs "RSI >= pivot 40.7 + 2": counted from the pivot RSI (0.15 of the way), not from 50 (which is past it)
    expect(numericCondition({ id: 'd', label: 'div', value: 41, threshold: 42.7, comparator: '>=', met: false, from: 40.7 }).progress).toBeCloseTo(0.15, 12);
    expect(numericCondition({ id: 'd', label: 'div', value: 41, threshold: 42.7, comparator: '>=', met: false, from: 50 }).progress).toBeCloseTo(41 / 42.7, 12);
    // equal to a strict threshold, or within reach but overruled by the strategy: below 1
    expect(numericCondition({ id: 'x', label: 'x', value: 2, threshold: 2, comparator: '>', met: false }).progress).toBe(UNMET_PROGRESS_MAX);
    expect(numericCondition({ id: 'l', label: 'lvl', value: 0.05, threshold: 0.1, comparator: '<=', met: false }).progress).toBe(UNMET_PROGRESS_MAX);
    expect(UNMET_PROGRESS_MAX).toBeLessThan(1);
    // none of the checks counted yet: 0 of the way, not "no distance"
    expect(numericCondition({ id: 'n', label: 'checks', value: 0, threshold: 2, comparator: '>=', met: false }).progress).toBe(0);
    // a hand-built condition is settled by readinessSide too: unmet below 1, met exactly 1
    const side = readinessSide('SHORT', [
      { id: 'u', label: 'u', value: 1, threshold: 1, comparator: '<', met: false, progress: 1 },
      { id: 'm', label: 'm', value: 1, threshold: 1, comparator: '<=', met: true, progress: 0.4 },
    ]);
    expect(side.conditions.map((c) => c.progress)).toEqual([UNMET_PROGRESS_MAX, 1]);
    expect(side.closeness).toBeLessThan(1);
  });

  it('a side counts its required conditions only (not the ones counted by another, nor info rows)', () => {
    const side = readinessSide('LONG', [
      numericCondition({ id: 'a', label: 'a', value: 1, threshold: 2, comparator: '>=', met: false, partOf: 'n' }),
      numericCondition({ id: 'n', label: 'n', value: 1, threshold: 2, comparator: '>=', met: false }),
      flagCondition('f', 'f', true),
      infoCondition('i', 'i', 3),
    ]);
    expect(side).toMatchObject({ met: 1, total: 2, closeness: 0.75 });
    expect(sideReady(side)).toBe(false);
    expect(sideReady(readinessSide('LONG', [flagCondition('f', 'f', true)]))).toBe(true);
    expect(sideReady(readinessSide('LONG', []))).toBe(false);
  });
});
