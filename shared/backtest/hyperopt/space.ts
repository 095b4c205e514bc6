/**
 * Hyperopt search spaces: ranges over ANY config key path of StrategyConfigs.
 *
 * One parameter per key (or per group of linked keys that always take the same value):
 *   int:LOW:HIGH[:STEP][:log]     integers LOW..HIGH (inclusive) on a STEP grid (default 1)
 *   float:LOW:HIGH[:STEP][:log]   reals in [LOW, HIGH]; with STEP on the grid LOW + k x STEP
 *   choice:A,B,C                  one of the values (each JSON, else a string: fixed,atr or 1,2.5,true)
 * `log` samples uniformly in log space (LOW > 0): for scales such as 0.001..0.1.
 * CLI: `--space KEY=SPEC` (KEY may be `K1,K2` for linked keys). File (JSON or YAML): an object
 * `{ KEY: SPEC }` where SPEC is the same string or `{ type, low, high, step?, log?, values?, keys? }`.
 *
 * Sampling works on an internal continuous coordinate per numeric parameter (the value, or its log),
 * widened by half a step at each end for a grid so every grid point has the same mass, then rounded
 * to the grid (as Optuna does for integers); a choice is an index.
 */
import { applyOverrides, checkConfigKey, getPath, type ConfigValue, type Overrides } from '../config.js';
import type { StrategyConfigs } from '../../config/strategy.js';
import type { GridCombo } from '../grid.js';

export type ParamSpec =
  | { kind: 'int' | 'float'; name: string; paths: string[]; low: number; high: number; step: number | null; log: boolean }
  | { kind: 'choice'; name: string; paths: string[]; values: ConfigValue[] };

export type SearchSpace = ParamSpec[];

function parseScalar(raw: string): ConfigValue {
  try {
    return JSON.parse(raw) as ConfigValue;
  } catch {
    return raw;
  }
}

function num(raw: string | number | undefined, what: string): number {
  const v = typeof raw === 'number' ? raw : raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(v)) throw new Error(`${what} must be a number (got '${String(raw)}')`);
  return v;
}

/** Checks and completes a numeric range (throws with what to fix). */
function numericParam(kind: 'int' | 'float', name: string, paths: string[], low: number, high: number, step: number | null, log: boolean): ParamSpec {
  const where = `search space ${name}`;
  if (!(high > low)) throw new Error(`${where}: HIGH must be greater than LOW (got ${low}..${high})`);
  if (kind === 'int') {
    if (!Number.isInteger(low) || !Number.isInteger(high)) throw new Error(`${where}: int bounds must be integers (got ${low}..${high})`);
    step ??= 1;
    if (!Number.isInteger(step)) throw new Error(`${where}: an int STEP must be an integer (got ${step})`);
  }
  if (step !== null && !(step > 0)) throw new Error(`${where}: STEP must be > 0 (got ${step})`);
  if (step !== null && step > high - low) throw new Error(`${where}: STEP ${step} is larger than the range ${low}..${high}`);
  if (log && !(low > 0)) throw new Error(`${where}: a log scale needs LOW > 0 (got ${low})`);
  return { kind, name, paths, low, high, step, log };
}

/** One `KEY=SPEC` (the CLI form): `int:6:20`, `float:0.2:1.0:0.1`, `float:0.001:0.1:log`, `choice:fixed,atr`. */
export function parseParam(keys: string, spec: string | Record<string, unknown>): ParamSpec {
  const paths = keys.split(',').map((k) => k.trim()).filter(Boolean);
  if (paths.length === 0) throw new Error(`search space: empty key in '${keys}'`);
  const name = paths.join(',');
  if (typeof spec !== 'string') return paramFromObject(name, paths, spec);
  const colon = spec.indexOf(':');
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'choice') {
    const values = rest.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(parseScalar);
    if (values.length < 2) throw new Error(`search space ${name}: choice needs at least two values (choice:A,B)`);
    return { kind: 'choice', name, paths, values };
  }
  if (kind !== 'int' && kind !== 'float') throw new Error(`search space ${name}: '${spec}' is not int:LOW:HIGH[:STEP][:log], float:LOW:HIGH[:STEP][:log] or choice:A,B,...`);
  const parts = rest.split(':').map((x) => x.trim());
  const log = parts.at(-1)?.toLowerCase() === 'log';
  if (log) parts.pop();
  if (parts.length < 2 || parts.length > 3) throw new Error(`search space ${name}: '${spec}' needs ${kind}:LOW:HIGH[:STEP][:log]`);
  const low = num(parts[0], `search space ${name}: LOW`);
  const high = num(parts[1], `search space ${name}: HIGH`);
  const step = parts[2] === undefined ? null : num(parts[2], `search space ${name}: STEP`);
  return numericParam(kind, name, paths, low, high, step, log);
}

function paramFromObject(name: string, paths: string[], o: Record<string, unknown>): ParamSpec {
  const type = String(o.type ?? (o.values !== undefined ? 'choice' : '')).toLowerCase();
  if (type === 'choice') {
    if (!Array.isArray(o.values) || o.values.length < 2) throw new Error(`search space ${name}: a choice needs values: [A, B, ...] (at least two)`);
    return { kind: 'choice', name, paths, values: o.values as ConfigValue[] };
  }
  if (type !== 'int' && type !== 'float') throw new Error(`search space ${name}: type must be int, float or choice (got '${String(o.type)}')`);
  const step = o.step === undefined || o.step === null ? null : num(o.step as number, `search space ${name}: step`);
  return numericParam(type, name, paths, num(o.low as number, `search space ${name}: low`), num(o.high as number, `search space ${name}: high`), step, o.log === true);
}

/** A space file's content (already parsed from JSON or YAML): `{ KEY: SPEC, ... }`. */
export function spaceFromDocument(doc: unknown): SearchSpace {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('search space file: expected an object { "config.key.path": "int:6:20", ... }');
  const out: SearchSpace = [];
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof v === 'string') out.push(parseParam(k, v));
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      out.push(parseParam(Array.isArray(o.keys) ? (o.keys as string[]).join(',') : k, o));
    } else throw new Error(`search space file: ${k}: expected a string like "int:6:20" or an object { type, low, high, ... }`);
  }
  return out;
}

/**
 * Checks a space against the configs before any run: every key exists (else the nearest names),
 * a numeric range is on a numeric key, no key appears twice, and each bound / choice alone is
 * accepted by the config schemas (other keys at their base values).
 */
export function validateSpace(space: SearchSpace, base: StrategyConfigs): void {
  if (space.length === 0) throw new Error('the search space is empty: give --space KEY=SPEC (e.g. --space scalp.v52_divergence.divergence.rsiPeriod=int:6:20) or --space-file FILE');
  const seen = new Set<string>();
  for (const p of space) {
    for (const path of p.paths) {
      checkConfigKey(path, base, 'search space key');
      if (seen.has(path)) throw new Error(`search space: key '${path}' appears twice`);
      seen.add(path);
      const cur = getPath(base, path);
      if (p.kind !== 'choice' && typeof cur !== 'number') throw new Error(`search space ${p.name}: '${path}' holds ${JSON.stringify(cur)}, not a number: use choice:A,B,...`);
    }
    const probes: ConfigValue[] = p.kind === 'choice' ? p.values : [p.low, p.high];
    for (const v of probes) {
      try {
        applyOverrides(base, Object.fromEntries(p.paths.map((path) => [path, v])));
      } catch (e) {
        throw new Error(`search space ${p.name}: the value ${JSON.stringify(v)} is refused by the config (${(e as Error).message}); narrow the range`);
      }
    }
  }
}

// ---------- internal coordinates ----------

/** The internal range of a numeric parameter: [a, b] in value or log space, widened by half a step on a grid. */
export function internalRange(p: Extract<ParamSpec, { kind: 'int' | 'float' }>): [number, number] {
  const h = p.step !== null ? p.step / 2 : 0;
  const lo = p.low - h;
  const hi = p.high + h;
  if (!p.log) return [lo, hi];
  // On a log grid the half step is taken in value space but never below a positive value.
  return [Math.log(Math.max(lo, p.low / 2)), Math.log(hi)];
}

/** The parameter value of an internal coordinate (rounded to the grid, clamped to the bounds). */
export function valueOf(p: ParamSpec, x: number): ConfigValue {
  if (p.kind === 'choice') return p.values[Math.min(p.values.length - 1, Math.max(0, Math.floor(x)))] as ConfigValue;
  let v = p.log ? Math.exp(x) : x;
  if (p.step !== null) {
    const k = Math.round((v - p.low) / p.step);
    v = p.low + k * p.step;
    // Decimal steps: drop binary noise (0.1 + 0.2) to the step's precision.
    v = Number(v.toFixed(decimals(p.step) + decimals(p.low)));
  }
  // A continuous float keeps 4 significant digits: configs need no more, and tables stay readable.
  else if (p.kind === 'float') v = Number(v.toPrecision(4));
  v = Math.min(p.high, Math.max(p.low, v));
  return p.kind === 'int' ? Math.round(v) : v;
}

function decimals(x: number): number {
  const s = String(x);
  const e = s.indexOf('e-');
  if (e >= 0) return Number(s.slice(e + 2));
  const d = s.indexOf('.');
  return d < 0 ? 0 : s.length - d - 1;
}

/** The internal coordinate of a value (the inverse of valueOf on grid points). */
export function internalOf(p: ParamSpec, v: ConfigValue): number {
  if (p.kind === 'choice') return p.values.findIndex((c) => JSON.stringify(c) === JSON.stringify(v));
  return p.log ? Math.log(v as number) : (v as number);
}

/** A trial (GridCombo) from one value per parameter, in space order. */
export function comboOf(space: SearchSpace, index: number, values: readonly ConfigValue[]): GridCombo {
  const labels: Record<string, string> = {};
  const overrides: Overrides = {};
  space.forEach((p, d) => {
    const v = values[d] as ConfigValue;
    labels[p.name] = typeof v === 'string' ? v : JSON.stringify(v);
    for (const path of p.paths) overrides[path] = v;
  });
  return { index, labels, overrides };
}

/** A short description of a parameter (tables, notes). */
export function describeParam(p: ParamSpec): string {
  if (p.kind === 'choice') return `${p.name} in {${p.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}}`;
  return `${p.name} ${p.kind} ${p.low}..${p.high}${p.step !== null && !(p.kind === 'int' && p.step === 1) ? ` step ${p.step}` : ''}${p.log ? ' log' : ''}`;
}

/** At most this many corner points from `spaceCorners` (beyond it: the all-low and all-high corners per choice combination). */
const MAX_CORNERS = 4096;

/**
 * The corners of a space: every combination of each numeric parameter at its low or high bound and
 * each choice value, as overrides. What needs the most history (e.g. a look-back = interval x
 * candles, or EMA period + slope) is at a corner when each key's need grows monotonically, and keys
 * combine, so each key alone at its bound is not enough. When the full product exceeds MAX_CORNERS,
 * every choice combination with all numeric keys low, then all high (still every choice combination).
 */
export function spaceCorners(space: SearchSpace): Overrides[] {
  const axis = (p: ParamSpec): ConfigValue[] => (p.kind === 'choice' ? p.values : [p.low, p.high]);
  const cross = (list: Overrides[], p: ParamSpec, values: readonly ConfigValue[]): Overrides[] => list.flatMap((o) => values.map((x) => ({ ...o, ...Object.fromEntries(p.paths.map((path) => [path, x])) })));
  if (space.reduce((n, p) => n * axis(p).length, 1) <= MAX_CORNERS) return space.reduce<Overrides[]>((list, p) => cross(list, p, axis(p)), [{}]);
  const choices = space.filter((p) => p.kind === 'choice').reduce<Overrides[]>((list, p) => cross(list, p, axis(p)), [{}]);
  const atEnd = (end: 'low' | 'high'): Overrides => Object.fromEntries(space.flatMap((p) => (p.kind === 'choice' ? [] : p.paths.map((path) => [path, p[end]]))));
  return choices.flatMap((o) => [{ ...o, ...atEnd('low') }, { ...o, ...atEnd('high') }]);
}
