/**
 * Samplers of a search space (space.ts), both deterministic from a seed:
 *
 * - random: every parameter uniform on its internal coordinate (value or log value, a grid's
 *   points equally likely, a choice uniform). `randomTrials(space, n, seed)` gives the whole trial
 *   list up front as GridCombo[] (index 0..n-1), so it can be split into shards like a grid.
 * - tpe: the Tree-structured Parzen Estimator (Bergstra et al. 2011; Optuna's default sampler),
 *   univariate, written here (no npm package fits: the one TPE port, `hyperparameters`, is
 *   unmaintained and neither seedable nor batchable). Per round it:
 *   1. runs `nStartup` random trials first (the same trials as `randomTrials` with the same seed);
 *   2. orders the finished trials best first (the ranking's order: runs meeting --min-trades first,
 *      then the objective; trials the config refused last) and splits them into the good set (the
 *      first ceil(gamma x n), at most `maxGood`) and the bad set (the rest);
 *   3. fits per parameter a Parzen density l(x) on the good and g(x) on the bad set: numeric ones a
 *      mixture of normals truncated to the range, one per observation plus a prior (mean the middle,
 *      sd the range), each with the sd of its wider gap to a neighbour clipped to [range / min(100,
 *      1 + n), range] (Optuna's "magic clip"); a choice the observed counts + 1 (Laplace);
 *   4. draws `nEiCandidates` points from l and keeps the one with the largest sum over parameters
 *      of log l(x) - log g(x) (maximising the expected improvement, as the paper shows).
 *   A batch of B trials (B = worker processes) is B independent draws against the same history, so
 *   a run is deterministic for a given seed and batch size.
 */
import type { ConfigValue } from '../config.js';
import type { GridCombo } from '../grid.js';
import { comboOf, internalOf, internalRange, valueOf, type ParamSpec, type SearchSpace } from './space.js';

export const SAMPLERS = ['random', 'tpe'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller). */
function gauss(u: () => number): number {
  const a = 1 - u();
  const b = u();
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
}

/** One uniform draw of a parameter (its value). */
function randomValue(p: ParamSpec, u: () => number): ConfigValue {
  if (p.kind === 'choice') return p.values[Math.floor(u() * p.values.length)] as ConfigValue;
  const [a, b] = internalRange(p);
  return valueOf(p, a + u() * (b - a));
}

function randomValues(space: SearchSpace, u: () => number): ConfigValue[] {
  return space.map((p) => randomValue(p, u));
}

/** The random search's full trial list, deterministic from the seed (shardable like a grid). */
export function randomTrials(space: SearchSpace, n: number, seed: number): GridCombo[] {
  const u = rng(seed);
  return Array.from({ length: n }, (_, k) => comboOf(space, k, randomValues(space, u)));
}

// ---------- Parzen estimators ----------

/** erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const z = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * z);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return s * y;
}

const normCdf = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));

/** A mixture of normals truncated to [a, b] (equal weights). */
export interface Parzen {
  a: number;
  b: number;
  mus: number[];
  sigmas: number[];
  /** Mass of each component inside [a, b]. */
  mass: number[];
}

/** The Parzen estimator of observations `xs` on [a, b]: one component each plus the prior (see the module comment). */
export function fitParzen(xs: readonly number[], a: number, b: number): Parzen {
  const width = b - a;
  const prior = (a + b) / 2;
  const mus = [...xs, prior].sort((p, q) => p - q);
  const n = xs.length;
  const minSigma = width / Math.min(100, 1 + n);
  const sigmas = mus.map((m, k) => {
    const left = m - (k > 0 ? (mus[k - 1] as number) : a);
    const right = (k < mus.length - 1 ? (mus[k + 1] as number) : b) - m;
    return Math.min(width, Math.max(minSigma, left, right));
  });
  // The prior's component always has the full width.
  const pk = mus.indexOf(prior);
  sigmas[pk] = width;
  const mass = mus.map((m, k) => Math.max(1e-12, normCdf((b - m) / (sigmas[k] as number)) - normCdf((a - m) / (sigmas[k] as number))));
  return { a, b, mus, sigmas, mass };
}

/** log density of the truncated mixture at x. */
export function parzenLogPdf(p: Parzen, x: number): number {
  let sum = 0;
  for (let k = 0; k < p.mus.length; k++) {
    const s = p.sigmas[k] as number;
    const z = (x - (p.mus[k] as number)) / s;
    sum += Math.exp(-0.5 * z * z) / (s * Math.sqrt(2 * Math.PI) * (p.mass[k] as number));
  }
  return Math.log(Math.max(sum / p.mus.length, 1e-300));
}

/** One draw from the truncated mixture. */
export function parzenSample(p: Parzen, u: () => number): number {
  const k = Math.floor(u() * p.mus.length);
  const mu = p.mus[k] as number;
  const s = p.sigmas[k] as number;
  for (let tries = 0; tries < 64; tries++) {
    const x = mu + s * gauss(u);
    if (x >= p.a && x <= p.b) return x;
  }
  return Math.min(p.b, Math.max(p.a, mu));
}

/** Category weights: counts + 1 (Laplace), normalised. */
export function categoricalWeights(idx: readonly number[], k: number): number[] {
  const w = new Array<number>(k).fill(1);
  for (const i of idx) w[i] = (w[i] as number) + 1;
  const total = idx.length + k;
  return w.map((x) => x / total);
}

function pickWeighted(w: readonly number[], u: () => number): number {
  let r = u();
  for (let k = 0; k < w.length; k++) {
    r -= w[k] as number;
    if (r < 0) return k;
  }
  return w.length - 1;
}

// ---------- TPE ----------

export interface TpeOptions {
  seed: number;
  /** Random trials before the model is used (default 10). */
  nStartup?: number;
  /** Candidates drawn from l(x) per trial (default 24). */
  nEiCandidates?: number;
  /** Fraction of the finished trials in the good set (default 0.25). */
  gamma?: number;
  /** At most this many good trials (default 25). */
  maxGood?: number;
}

/** A finished trial as the sampler sees it: its values and its rank key. */
export interface Observation {
  values: readonly ConfigValue[];
  /** Higher is better (-Infinity: refused by the config / no score). */
  score: number;
  /** Meets --min-trades (ranked above every trial that does not). */
  eligible: boolean;
  index: number;
}

/** Orders observations best first (eligible, score, earlier index). */
export function orderObservations(obs: readonly Observation[]): Observation[] {
  return [...obs].sort((a, b) => Number(b.eligible) - Number(a.eligible) || (a.score === b.score ? 0 : a.score > b.score ? -1 : 1) || a.index - b.index);
}

export class TpeSampler {
  private readonly u: () => number;
  private readonly nStartup: number;
  private readonly nEi: number;
  private readonly gamma: number;
  private readonly maxGood: number;
  private asked = 0;

  constructor(
    private readonly space: SearchSpace,
    opts: TpeOptions,
  ) {
    this.u = rng(opts.seed);
    this.nStartup = opts.nStartup ?? 10;
    this.nEi = opts.nEiCandidates ?? 24;
    this.gamma = opts.gamma ?? 0.25;
    this.maxGood = opts.maxGood ?? 25;
  }

  /** The next `count` trials' values given every finished trial (`history`). */
  ask(history: readonly Observation[], count: number): ConfigValue[][] {
    const out: ConfigValue[][] = [];
    for (let j = 0; j < count; j++) {
      out.push(this.asked < this.nStartup || history.length < 2 ? randomValues(this.space, this.u) : this.suggest(history));
      this.asked++;
    }
    return out;
  }

  private suggest(history: readonly Observation[]): ConfigValue[] {
    const ordered = orderObservations(history);
    const nGood = Math.max(1, Math.min(this.maxGood, Math.ceil(this.gamma * ordered.length)));
    const good = ordered.slice(0, nGood);
    const bad = ordered.slice(nGood);
    const models = this.space.map((p, d) => {
      const gx = good.map((o) => internalOf(p, o.values[d] as ConfigValue));
      const bx = bad.map((o) => internalOf(p, o.values[d] as ConfigValue));
      if (p.kind === 'choice') return { p, l: categoricalWeights(gx, p.values.length), g: categoricalWeights(bx, p.values.length) } as const;
      const [a, b] = internalRange(p);
      return { p, l: fitParzen(gx, a, b), g: fitParzen(bx, a, b) } as const;
    });
    let best: ConfigValue[] = [];
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < this.nEi; c++) {
      const values: ConfigValue[] = [];
      let score = 0;
      for (const m of models) {
        if (Array.isArray(m.l)) {
          const l = m.l as number[];
          const g = m.g as number[];
          const k = pickWeighted(l, this.u);
          values.push(valueOf(m.p, k));
          score += Math.log(l[k] as number) - Math.log(g[k] as number);
        } else {
          const l = m.l as Parzen;
          const g = m.g as Parzen;
          const v = valueOf(m.p, parzenSample(l, this.u));
          const x = internalOf(m.p, v);
          values.push(v);
          score += parzenLogPdf(l, x) - parzenLogPdf(g, x);
        }
      }
      if (score > bestScore) {
        bestScore = score;
        best = values;
      }
    }
    return best;
  }
}

/** The random sampler behind the same interface (its list is `randomTrials`). */
export class RandomSampler {
  private readonly u: () => number;
  constructor(
    private readonly space: SearchSpace,
    seed: number,
  ) {
    this.u = rng(seed);
  }
  ask(_history: readonly Observation[], count: number): ConfigValue[][] {
    return Array.from({ length: count }, () => randomValues(this.space, this.u));
  }
}

export function createSampler(name: SamplerName, space: SearchSpace, opts: TpeOptions): { ask(history: readonly Observation[], count: number): ConfigValue[][] } {
  return name === 'tpe' ? new TpeSampler(space, opts) : new RandomSampler(space, opts.seed);
}
