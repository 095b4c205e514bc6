/**
 * Hyperopt search spaces and samplers, on known functions (no market data: the samplers only see
 * scores). TPE must beat random search at the same budget on average over seeds (Branin, a
 * standard test function of the optimisation literature, and a shifted quadratic with an integer and
 * a categorical parameter), and every part is checked on hand-computable cases.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { parseParam, spaceCorners, spaceFromDocument, validateSpace, valueOf, internalRange, comboOf, type SearchSpace } from '../../shared/backtest/hyperopt/space.js';
import { categoricalWeights, erf, fitParzen, orderObservations, parzenLogPdf, randomTrials, rng, TpeSampler, RandomSampler, type Observation } from '../../shared/backtest/hyperopt/sampler.js';
import type { ConfigValue } from '../../shared/backtest/config.js';

describe('search space syntax', () => {
  it('parses int / float / log / step / choice and linked keys', () => {
    expect(parseParam('a.b', 'int:6:20')).toEqual({ kind: 'int', name: 'a.b', paths: ['a.b'], low: 6, high: 20, step: 1, log: false });
    expect(parseParam('a.b', 'float:0.2:1.0')).toMatchObject({ kind: 'float', low: 0.2, high: 1, step: null, log: false });
    expect(parseParam('a.b', 'float:0.001:0.1:log')).toMatchObject({ log: true, step: null });
    expect(parseParam('a.b', 'float:0.2:1:0.1')).toMatchObject({ step: 0.1, log: false });
    expect(parseParam('a.b', 'int:10:40:5:log')).toMatchObject({ step: 5, log: true });
    expect(parseParam('x,y', 'choice:fixed,atr')).toEqual({ kind: 'choice', name: 'x,y', paths: ['x', 'y'], values: ['fixed', 'atr'] });
    expect(parseParam('a', 'choice:1,2.5,true')).toMatchObject({ values: [1, 2.5, true] });
  });

  it('says what is wrong with a bad spec', () => {
    expect(() => parseParam('a', 'int:20:6')).toThrow(/HIGH must be greater than LOW/);
    expect(() => parseParam('a', 'int:1.5:6')).toThrow(/must be integers/);
    expect(() => parseParam('a', 'float:0:1:log')).toThrow(/log scale needs LOW > 0/);
    expect(() => parseParam('a', 'range:1:2')).toThrow(/is not int:LOW:HIGH/);
    expect(() => parseParam('a', 'choice:atr')).toThrow(/at least two values/);
    expect(() => parseParam('a', 'float:x:1')).toThrow(/LOW must be a number/);
  });

  it('reads a space file (strings or objects)', () => {
    const s = spaceFromDocument({ 'risk.scalp.perTradeRiskPct': 'float:0.1:0.5', m: { type: 'int', low: 1, high: 3 }, e: { values: ['fixed', 'atr'] } });
    expect(s.map((p) => p.kind)).toEqual(['float', 'int', 'choice']);
    expect(() => spaceFromDocument([1])).toThrow(/expected an object/);
  });

  it('validates keys against the config, naming the nearest existing keys', () => {
    const base = DEFAULT_STRATEGY_CONFIGS;
    expect(() => validateSpace([parseParam('scalp.v52_divergence.divergence.rsiPerod', 'int:6:20')], base)).toThrow(/'scalp\.v52_divergence\.divergence\.rsiPerod' does not exist; did you mean: scalp\.v52_divergence\.divergence\.rsiPeriod/);
    // The right leaf under the wrong document is suggested too.
    expect(() => validateSpace([parseParam('scalp.v52_divergence.rsiPeriod', 'int:6:20')], base)).toThrow(/divergence\.rsiPeriod/);
    expect(() => validateSpace([parseParam('scalp.v52_divergence.exits.mode', 'int:1:3')], base)).toThrow(/not a number: use choice/);
    expect(() => validateSpace([parseParam('scalp.v52_divergence.exits.mode', 'choice:fixed,trailing')], base)).toThrow(/"trailing" is refused by the config/);
    expect(() => validateSpace([], base)).toThrow(/search space is empty/);
    expect(() => validateSpace([parseParam('scalp.v52_divergence.divergence.rsiPeriod', 'int:6:20'), parseParam('scalp.v52_divergence.exits.mode', 'choice:fixed,atr')], base)).not.toThrow();
  });

  it('maps internal coordinates to values on the grid and inside the bounds', () => {
    const i = parseParam('a', 'int:6:20');
    expect(internalRange(i as Extract<typeof i, { kind: 'int' }>)).toEqual([5.5, 20.5]);
    expect([5.5, 6.49, 6.51, 20.5].map((x) => valueOf(i, x))).toEqual([6, 6, 7, 20]);
    const f = parseParam('a', 'float:0.2:1:0.1');
    expect(valueOf(f, 0.349)).toBe(0.3);
    expect(valueOf(f, 0.15)).toBe(0.2);
    const c = parseParam('a', 'choice:x,y,z');
    expect([0, 1.5, 2.99].map((x) => valueOf(c, x))).toEqual(['x', 'y', 'z']);
  });
});

describe('random sampler', () => {
  const space: SearchSpace = [parseParam('a', 'int:1:4'), parseParam('b', 'float:0.01:1:log'), parseParam('c', 'choice:x,y')];

  it('is deterministic from the seed, gives GridCombo trials, and covers the space', () => {
    const t = randomTrials(space, 400, 7);
    expect(randomTrials(space, 400, 7)).toEqual(t);
    expect(randomTrials(space, 400, 8)).not.toEqual(t);
    expect(t.map((x) => x.index)).toEqual(Array.from({ length: 400 }, (_, k) => k));
    expect(t[0]).toEqual(comboOf(space, 0, [t[0]!.overrides.a as ConfigValue, t[0]!.overrides.b as ConfigValue, t[0]!.overrides.c as ConfigValue]));
    const counts = [1, 2, 3, 4].map((v) => t.filter((x) => x.overrides.a === v).length);
    for (const n of counts) expect(n).toBeGreaterThan(70); // each integer ~100 of 400
    // log scale: about half of the draws below sqrt(0.01 x 1) = 0.1
    const below = t.filter((x) => (x.overrides.b as number) < 0.1).length;
    expect(below).toBeGreaterThan(160);
    expect(below).toBeLessThan(240);
    expect(new Set(t.map((x) => x.overrides.c))).toEqual(new Set(['x', 'y']));
  });

  it('the TPE sampler starts with the same random trials', () => {
    const tpe = new TpeSampler(space, { seed: 7, nStartup: 5 });
    expect(tpe.ask([], 5)).toEqual(randomTrials(space, 5, 7).map((c) => [c.overrides.a, c.overrides.b, c.overrides.c]));
  });
});

describe('TPE parts', () => {
  it('erf and the truncated Parzen mixture integrate as they should', () => {
    expect(erf(0)).toBeCloseTo(0, 7);
    expect(erf(1)).toBeCloseTo(0.8427007929, 6);
    expect(erf(-2)).toBeCloseTo(-0.995322265, 6);
    const p = fitParzen([0.2, 0.25, 0.8], 0, 1);
    // prior at 0.5 with sd = width 1; magic clip min sd = 1 / min(100, 4) = 0.25
    expect(p.mus).toEqual([0.2, 0.25, 0.5, 0.8]);
    expect(p.sigmas.map((x) => Number(x.toFixed(12)))).toEqual([0.25, 0.25, 1, 0.3]);
    // density integrates to 1 over [0, 1] (midpoint rule)
    let s = 0;
    for (let k = 0; k < 10_000; k++) s += Math.exp(parzenLogPdf(p, (k + 0.5) / 10_000)) / 10_000;
    expect(s).toBeCloseTo(1, 4);
  });

  it('categorical weights are counts + 1, normalised', () => {
    expect(categoricalWeights([0, 0, 2], 3)).toEqual([3 / 6, 1 / 6, 2 / 6]);
  });

  it('orders trials meeting --min-trades first, then by score, then by index', () => {
    const o: Observation[] = [
      { values: [], score: 9, eligible: false, index: 0 },
      { values: [], score: 1, eligible: true, index: 1 },
      { values: [], score: Number.NEGATIVE_INFINITY, eligible: false, index: 2 },
      { values: [], score: 3, eligible: true, index: 3 },
      { values: [], score: 3, eligible: true, index: 4 },
    ];
    expect(orderObservations(o).map((x) => x.index)).toEqual([3, 4, 1, 0, 2]);
  });
});

/** Minimises f over `space` with a sampler in batches of 2 (as two workers); returns the best value found. */
function search(kind: 'tpe' | 'random', space: SearchSpace, f: (v: ConfigValue[]) => number, budget: number, seed: number): number {
  const s = kind === 'tpe' ? new TpeSampler(space, { seed, nStartup: 10 }) : new RandomSampler(space, seed);
  const hist: Observation[] = [];
  let best = Number.POSITIVE_INFINITY;
  while (hist.length < budget) {
    for (const v of s.ask(hist, Math.min(2, budget - hist.length))) {
      const y = f(v);
      best = Math.min(best, y);
      hist.push({ values: v, score: -y, eligible: true, index: hist.length });
    }
  }
  return best;
}

function branin(v: ConfigValue[]): number {
  const x = v[0] as number;
  const y = v[1] as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
}

describe('TPE beats random search at equal budget (mean over 20 seeds)', () => {
  it('Branin on [-5, 10] x [0, 15] (minimum 0.397887), 60 trials', () => {
    const space: SearchSpace = [parseParam('x', 'float:-5:10'), parseParam('y', 'float:0:15')];
    const seeds = Array.from({ length: 20 }, (_, k) => 1000 + k);
    const tpe = seeds.map((s) => search('tpe', space, branin, 60, s));
    const rnd = seeds.map((s) => search('random', space, branin, 60, s));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(tpe) - 0.397887).toBeLessThan(0.6 * (mean(rnd) - 0.397887));
    // and deterministic
    expect(search('tpe', space, branin, 60, 1000)).toBe(tpe[0]);
  });

  it('a quadratic with an integer, a log-scaled and a categorical parameter, 50 trials', () => {
    const space: SearchSpace = [parseParam('n', 'int:2:60'), parseParam('r', 'float:0.001:1:log'), parseParam('m', 'choice:a,b,c,d')];
    const f = (v: ConfigValue[]) => ((v[0] as number) - 17) ** 2 / 100 + (Math.log10(v[1] as number) + 2) ** 2 + (v[2] === 'c' ? 0 : 1);
    const seeds = Array.from({ length: 20 }, (_, k) => 50 + k);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const tpe = mean(seeds.map((s) => search('tpe', space, f, 50, s)));
    const rnd = mean(seeds.map((s) => search('random', space, f, 50, s)));
    // measured: TPE 0.376, random 0.483 (x 0.78)
    expect(tpe).toBeLessThan(0.85 * rnd);
  });
});

const _rngIsUniform = () => {
  const u = rng(1);
  let s = 0;
  for (let k = 0; k < 1000; k++) s += u();
  return s / 1000;
};
describe('rng', () => {
  it('mulberry32 is uniform-ish and seed-deterministic', () => {
    expect(_rngIsUniform()).toBeGreaterThan(0.45);
    expect(_rngIsUniform()).toBeLessThan(0.55);
    expect(rng(3)()).toBe(rng(3)());
  });
});

describe('spaceCorners (the warm-up probes of a search space)', () => {
  it('every bound x choice combination; past 4096 corners, all-low and all-high per choice combination', () => {
    const small = spaceCorners([parseParam('a', 'int:1:9'), parseParam('b', 'choice:x,y,z'), parseParam('c,d', 'float:0.5:2')]);
    expect(small).toHaveLength(12);
    expect(small).toContainEqual({ a: 9, b: 'z', c: 2, d: 2 });
    expect(small).toContainEqual({ a: 1, b: 'x', c: 0.5, d: 0.5 });
    const many = [...Array.from({ length: 13 }, (_, k) => parseParam(`n${k}`, 'int:1:5')), parseParam('m', 'choice:p,q')];
    const corners = spaceCorners(many);
    expect(corners).toHaveLength(4);
    const high = Object.fromEntries([...Array.from({ length: 13 }, (_, k) => [`n${k}`, 5]), ['m', 'q']]);
    expect(corners).toContainEqual(high);
  });
});
