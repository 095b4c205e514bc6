/**
 * Both scalp strategies over a REAL week of Bybit BTCUSDT 1m candles (2025-06-16 .. 06-22), as the
 * backtester runs them: prepare once, evaluate every index. Plus the no-lookahead property (altering
 * every candle after i leaves evaluateAt(i) unchanged) and close/snapshot parity.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEVELS_EXHAUSTION_CONFIG, DEFAULT_V52_DIVERGENCE_CONFIG } from '../../shared/config/strategy.js';
import { INTERVAL_MS } from '../../shared/market/types.js';
import { IndicatorCache, type ScalpDecision } from '../../shared/strategies/scalp/common.js';
import { levelsExhaustion } from '../../shared/strategies/scalp/levels-exhaustion.js';
import { v52Divergence } from '../../shared/strategies/scalp/v52-divergence.js';
import type { CandleSeries } from '../../shared/strategies/series.js';
import { btcWeek1m, cloneSeries } from './data.js';

const week = btcWeek1m();
const LE = DEFAULT_LEVELS_EXHAUSTION_CONFIG;
const V52 = DEFAULT_V52_DIVERGENCE_CONFIG;
const ATR = { ...LE.exits, mode: 'atr' as const };

type Runner = { name: string; run: (s: CandleSeries) => (i: number, forming?: Parameters<typeof levelsExhaustion.evaluateAt>[2]) => ScalpDecision | null };
const RUNNERS: Runner[] = [
  { name: 'levels_exhaustion', run: (s) => { const p = levelsExhaustion.prepare(s, LE); return (i, ctx) => levelsExhaustion.evaluateAt(p, i, ctx); } },
  { name: 'levels_exhaustion (ATR exits)', run: (s) => { const p = levelsExhaustion.prepare(s, { ...LE, exits: ATR }); return (i, ctx) => levelsExhaustion.evaluateAt(p, i, ctx); } },
  { name: 'v52_divergence', run: (s) => { const p = v52Divergence.prepare(s, V52); return (i, ctx) => v52Divergence.evaluateAt(p, i, ctx); } },
  { name: 'v52_divergence (ATR exits)', run: (s) => { const p = v52Divergence.prepare(s, { ...V52, exits: ATR }); return (i, ctx) => v52Divergence.evaluateAt(p, i, ctx); } },
];

function runAll(r: Runner, s: CandleSeries): (ScalpDecision | null)[] {
  const ev = r.run(s);
  return Array.from({ length: s.length }, (_, i) => ev(i));
}

const results = new Map(RUNNERS.map((r) => [r.name, runAll(r, week)]));

function counts(ds: (ScalpDecision | null)[]) {
  const c = { TAKE: 0, SKIP: 0, NEAR_MISS: 0, LONG: 0, SHORT: 0 };
  for (const d of ds) {
    if (!d) continue;
    c[d.decision]++;
    if (d.direction) c[d.direction]++;
  }
  return c;
}

describe('a real week of BTCUSDT 1m', () => {
  it('decision counts (regression pin: any change to the signal logic shows up here)', () => {
    const summary = Object.fromEntries([...results].map(([k, v]) => [k, counts(v)]));
    expect(summary).toMatchInlineSnapshot(`
      {
        "levels_exhaustion": {
          "LONG": 136,
          "NEAR_MISS": 3343,
          "SHORT": 112,
          "SKIP": 0,
          "TAKE": 248,
        },
        "levels_exhaustion (ATR exits)": {
          "LONG": 136,
          "NEAR_MISS": 3343,
          "SHORT": 112,
          "SKIP": 0,
          "TAKE": 248,
        },
        "v52_divergence": {
          "LONG": 100,
          "NEAR_MISS": 688,
          "SHORT": 71,
          "SKIP": 0,
          "TAKE": 171,
        },
        "v52_divergence (ATR exits)": {
          "LONG": 100,
          "NEAR_MISS": 688,
          "SHORT": 71,
          "SKIP": 0,
          "TAKE": 171,
        },
      }
    `);
  });

  it.each(RUNNERS.map((r) => r.name))('%s: every TAKE is coherent (stop/target sides, ids, features)', (name) => {
    const ds = results.get(name)!;
    const takes = ds.filter((d): d is ScalpDecision => d?.decision === 'TAKE');
    expect(takes.length).toBeGreaterThan(10);
    expect(takes.some((d) => d.direction === 'LONG')).toBe(true);
    expect(takes.some((d) => d.direction === 'SHORT')).toBe(true);
    const ids = ds.filter((d) => d).map((d) => d!.signalId);
    expect(new Set(ids).size).toBe(ids.length);
    const bad: string[] = [];
    for (const d of takes) {
      const p = d.proposal!;
      const i = ds.indexOf(d);
      if (d.ts !== (week.openTime[i] as number) + INTERVAL_MS['1m'] || d.candleTime !== week.openTime[i]) bad.push(`${d.signalId}: times`);
      if (p.entry !== week.close[i]) bad.push(`${d.signalId}: entry ${p.entry} != close`);
      const ok = d.direction === 'LONG' ? p.stopLoss < p.entry && p.entry < p.takeProfit : p.takeProfit < p.entry && p.entry < p.stopLoss;
      if (!ok) bad.push(`${d.signalId}: ${d.direction} entry ${p.entry} sl ${p.stopLoss} tp ${p.takeProfit}`);
      if (name.startsWith('levels')) {
        if (!((d.features.checksHit as number) >= 2)) bad.push(`${d.signalId}: checks`);
        if (!(Math.abs(d.features.levelDistancePct as number) <= 0.1 + 1e-9)) bad.push(`${d.signalId}: level distance`);
        if ((d.direction === 'SHORT') !== (d.features.levelKind === 'resistance')) bad.push(`${d.signalId}: direction vs level kind`);
        if (d.features.checkBookFlip !== 'unavailable') bad.push(`${d.signalId}: flip should be unavailable without book data`);
      } else {
        if (!((d.features.volumeRatio as number) >= 2)) bad.push(`${d.signalId}: no spike`);
        if (d.features.divergence !== (d.direction === 'SHORT' ? 'bearish' : 'bullish')) bad.push(`${d.signalId}: divergence side`);
      }
      if (name.includes('ATR')) {
        const a = d.features.atr as number;
        const tpDist = Math.abs(p.takeProfit - p.entry);
        const slDist = Math.abs(p.stopLoss - p.entry);
        if (Math.abs(tpDist - 1.5 * a) > 1e-6 || Math.abs(slDist - a) > 1e-6) bad.push(`${d.signalId}: ATR exits`);
      } else if (Math.abs(Math.abs(p.stopLoss - p.entry) / p.entry - 0.003) > 1e-12) bad.push(`${d.signalId}: fixed SL`);
    }
    expect(bad).toEqual([]);
  });
});

describe('no lookahead', () => {
  /** Every candle after i replaced by something very different (prices x1.07 shuffled, volume x5). */
  function alterAfter(s: CandleSeries, i: number): CandleSeries {
    const a = cloneSeries(s);
    for (let k = i + 1; k < s.length; k++) {
      const src = s.length - 1 - (k - i - 1); // reversed order
      a.open[k] = (s.open[src] as number) * 1.07;
      a.high[k] = (s.high[src] as number) * 1.07 + 50;
      a.low[k] = (s.low[src] as number) * 1.07 - 50;
      a.close[k] = (s.close[src] as number) * 1.07;
      a.volume[k] = (s.volume[src] as number) * 5;
    }
    return a;
  }

  it.each(RUNNERS.map((r) => r.name))('%s: altering every candle after i leaves evaluateAt(i) unchanged (closes and snapshots)', (name) => {
    const runner = RUNNERS.find((r) => r.name === name)!;
    const ds = results.get(name)!;
    // All TAKE indices spread over the week (up to 12) plus fixed probes incl. a 15m / 1h boundary.
    const takes = ds.flatMap((d, i) => (d?.decision === 'TAKE' ? [i] : []));
    const probes = [...takes.filter((_, k) => k % Math.max(1, Math.floor(takes.length / 12)) === 0).slice(0, 12), 2000, 4514, 6059, 9000];
    const original = runner.run(week);
    for (const i of probes) {
      const altered = runner.run(alterAfter(week, i));
      expect(altered(i), `index ${i}`).toEqual(original(i));
      // Snapshot at i with the real next candle as the forming one.
      const ot = week.openTime[i + 1] as number;
      const forming = { openTime: ot, ts: ot + 45_000, open: week.open[i + 1] as number, high: week.high[i + 1] as number, low: week.low[i + 1] as number, close: week.close[i + 1] as number, volume: week.volume[i + 1] as number };
      expect(altered(i, { forming }), `snapshot after ${i}`).toEqual(original(i, { forming }));
    }
  });
});

describe('close / snapshot parity', () => {
  it('a snapshot at the very end of a minute decides what the close of that minute decides (V5.2, whole week)', () => {
    const p = v52Divergence.prepare(week, V52);
    const mismatches: string[] = [];
    let compared = 0;
    for (let i = 30; i + 1 < week.length; i++) {
      const closed = v52Divergence.evaluateAt(p, i + 1);
      const ot = week.openTime[i + 1] as number;
      const forming = { openTime: ot, ts: ot + INTERVAL_MS['1m'], open: week.open[i + 1] as number, high: week.high[i + 1] as number, low: week.low[i + 1] as number, close: week.close[i + 1] as number, volume: week.volume[i + 1] as number };
      const snap = v52Divergence.evaluateAt(p, i, { forming });
      if ((closed?.decision ?? null) !== (snap?.decision ?? null) || (closed?.direction ?? null) !== (snap?.direction ?? null)) {
        mismatches.push(`${i + 1}: close ${closed?.decision} snap ${snap?.decision}`);
      }
      if (closed) compared++;
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  });

  it('a shared IndicatorCache gives the same decisions as separate prepares (grid use)', () => {
    const cache = new IndicatorCache(week);
    const p1 = v52Divergence.prepare(week, { ...V52, exits: ATR }, cache);
    const p2 = levelsExhaustion.prepare(week, { ...LE, exits: ATR }, cache);
    expect(p1.atr).toBe(p2.atr); // computed once
    const a = results.get('v52_divergence (ATR exits)')!;
    const b = results.get('levels_exhaustion (ATR exits)')!;
    for (let i = 0; i < week.length; i += 97) {
      expect(v52Divergence.evaluateAt(p1, i)).toEqual(a[i]);
      expect(levelsExhaustion.evaluateAt(p2, i)).toEqual(b[i]);
    }
    expect(() => v52Divergence.prepare(cloneSeries(week), V52, cache)).toThrow(/different series/);
  });
});
