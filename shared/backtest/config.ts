/**
 * Config handling for backtests: key paths into StrategyConfigs (`scalp.v52_divergence.exits.mode`),
 * overrides validated by the SAME zod schemas the owner's Firestore edits go through, the strategy
 * selection of a run, and the mapping of a path to its owner-editable config document.
 */
import {
  filtersConfigSchema,
  levelsExhaustionConfigSchema,
  macroConfigSchema,
  mlConfigSchema,
  paperConfigSchema,
  protectionsConfigSchema,
  riskConfigSchema,
  SCALP_STRATEGIES,
  v52DivergenceConfigSchema,
  type ScalpStrategyId,
  type StrategyConfigs,
} from '../config/strategy.js';
import { configPath } from '../state-paths.js';

/** A config value an override may set (JSON). */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [k: string]: ConfigValue };
export type Overrides = Record<string, ConfigValue>;

function segments(path: string): string[] {
  const parts = path.split('.').filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error(`empty config key path '${path}'`);
  return parts;
}

/** The value at `path` (undefined when absent). */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const p of segments(path)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/**
 * A copy of `c` with every override applied. A path must name an EXISTING key (a typo is an error,
 * as the strict schemas would say), then every document is re-validated with its schema.
 */
export function applyOverrides(c: StrategyConfigs, overrides: Overrides): StrategyConfigs {
  const out = structuredClone(c) as unknown as Record<string, unknown>;
  for (const [path, value] of Object.entries(overrides)) {
    const parts = segments(path);
    let cur: Record<string, unknown> = out;
    for (let k = 0; k < parts.length - 1; k++) {
      const next = cur[parts[k] as string];
      if (next === null || typeof next !== 'object') throw new Error(`config key '${path}': '${parts.slice(0, k + 1).join('.')}' is not an object in the strategy configs`);
      cur = next as Record<string, unknown>;
    }
    const leaf = parts[parts.length - 1] as string;
    if (!(leaf in cur)) throw new Error(`config key '${path}' does not exist (known keys here: ${Object.keys(cur).join(', ')})`);
    cur[leaf] = structuredClone(value);
  }
  return validateStrategyConfigs(out as unknown as StrategyConfigs);
}

/** Validates every document with its production schema; the message names the first bad key path. */
export function validateStrategyConfigs(c: StrategyConfigs): StrategyConfigs {
  const docs: Array<[string, { safeParse(x: unknown): { success: true; data: unknown } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, unknown]> = [
    ['macro', macroConfigSchema, c.macro],
    ['scalp.levels_exhaustion', levelsExhaustionConfigSchema, c.scalp.levels_exhaustion],
    ['scalp.v52_divergence', v52DivergenceConfigSchema, c.scalp.v52_divergence],
    ['filters', filtersConfigSchema, c.filters],
    ['risk', riskConfigSchema, c.risk],
    ['protections', protectionsConfigSchema, c.protections],
    ['paper', paperConfigSchema, c.paper],
    ['ml', mlConfigSchema, c.ml],
  ];
  for (const [name, schema, value] of docs) {
    const r = schema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new Error(`invalid config ${name}.${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
  }
  return c;
}

/** Which scalp strategies a backtest trades: one (the others off) or all as configured. */
export type StrategySelection = ScalpStrategyId | 'all';

/**
 * The configs of a run for a selection: a single strategy is enabled and made EMITTING (a log-only
 * strategy such as levels_exhaustion is backtested to decide whether to let it trade) and the other
 * scalp strategies are disabled; 'all' keeps the configs exactly as given (live behaviour).
 */
export function selectStrategies(c: StrategyConfigs, sel: StrategySelection): StrategyConfigs {
  if (sel === 'all') return c;
  const out = structuredClone(c);
  for (const id of SCALP_STRATEGIES) {
    out.scalp[id].enabled = id === sel;
    if (id === sel) out.scalp[id].emitSignals = true;
  }
  return out;
}

/**
 * The owner-editable document and field of a StrategyConfigs path (shared/config/documents.ts:
 * `config/scalp_v52_divergence` field `exits.mode` for `scalp.v52_divergence.exits.mode`).
 */
export function documentOf(path: string): { document: string; field: string } {
  const parts = segments(path);
  if (parts[0] === 'scalp') {
    const id = parts[1] as ScalpStrategyId;
    if (!SCALP_STRATEGIES.includes(id)) throw new Error(`config key '${path}': unknown scalp strategy '${parts[1] ?? ''}'`);
    return { document: configPath(`scalp_${id}`), field: parts.slice(2).join('.') };
  }
  return { document: configPath(parts[0] as string), field: parts.slice(1).join('.') };
}

/** Every key path of a config object down to its leaves (arrays are leaves), sorted. */
export function configKeyPaths(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) out.push(...configKeyPaths(v, prefix ? `${prefix}.${k}` : k));
  return out.sort();
}

/** Edit distance (insert / delete / substitute = 1). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] as number;
}

/**
 * Up to `max` existing key paths nearest to a mistyped one: the closest by edit distance, plus the
 * keys ending with the same last segment (a right name under the wrong document).
 */
export function nearKeys(bad: string, c: StrategyConfigs, max = 5): string[] {
  const all = configKeyPaths(c);
  const last = bad.split('.').pop() ?? bad;
  const scored = all.map((k) => ({ k, d: editDistance(bad.toLowerCase(), k.toLowerCase()) - (k.endsWith(`.${last}`) ? bad.length : 0) }));
  scored.sort((a, b) => a.d - b.d || a.k.localeCompare(b.k));
  return scored.slice(0, max).map((x) => x.k);
}

/** Throws a clear error (with the nearest existing keys) when a key path does not name a config key. */
export function checkConfigKey(path: string, c: StrategyConfigs, what = 'config key'): void {
  if (path.split('.').some((p) => p.length === 0) || getPath(c, path) === undefined) {
    throw new Error(`${what} '${path}' does not exist; did you mean: ${nearKeys(path, c).join(', ')}?`);
  }
}
