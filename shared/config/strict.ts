/**
 * How every config document is validated (shared/config/service.ts, and every writer of config
 * documents):
 *
 * - Strict: `strictDeep` turns every object inside a schema into a strict object, so an unknown or
 *   misspelt key anywhere in a document is an error naming its path
 *   ("kraken.minRequstIntervalMs: unknown key"), whatever way the schema file declared the object.
 *   New keys added to a schema are strict with no extra step.
 * - Deep merge over the last valid version: the document the owner stores may be partial. What is
 *   validated is `defaults <- last valid <- stored document`, merged key by key:
 *     * objects (and records such as `retentionDays`) merge key by key, at every depth: a document
 *       `{ scalp: { perTradeRiskPct: 0.4 } }` changes that one number and keeps every other value
 *       of the last valid config;
 *     * arrays are REPLACED WHOLE (`symbols`, `intervals`, `blockedRegimes`, `moveTpStepsPct`...):
 *       an array in the document is the complete new list;
 *     * `null` is a value, not a deletion (`ownerUserId: null`, `retentionDays["1d"]: null`);
 *     * a key missing from the document keeps its last valid value (a deleted field is not reset;
 *       to go back to the default, write the default value);
 *     * the defaults under the last valid version give a key that is new in the schema its SPEC
 *       default, so a deploy that adds a key never invalidates the config in force.
 *   Then the merged whole is validated: one bad value rejects the edit and the last valid stays.
 *   A stored document REPLACES the previous one: its values are merged over the last valid version
 *   the service saw. Two different partial documents written one after the other within one reload
 *   interval: the first may never be seen (edit fields of the stored document to avoid that).
 */
import { z } from 'zod';

type Def = Record<string, unknown> & { type: string };
type Schema = z.ZodType & { _zod: { def: Def }; clone(def: Def): z.ZodType };

/** A copy of a schema definition with some properties replaced (keeps checks such as refinements). */
function withDef(schema: Schema, patch: Record<string, unknown>): z.ZodType {
  const descriptors = { ...Object.getOwnPropertyDescriptors(schema._zod.def), ...Object.getOwnPropertyDescriptors(patch) };
  return schema.clone(Object.defineProperties({}, descriptors) as Def);
}

const strictCache = new WeakMap<z.ZodType, z.ZodType>();

/**
 * The same schema with every nested object strict (unknown keys rejected), refinements, bounds and
 * defaults kept. Objects are found through optional / nullable / default / pipe / array / tuple /
 * record / union / intersection wrappers.
 */
export function strictDeep<T extends z.ZodType>(schema: T): T {
  return strictOf(schema) as T;
}

function strictOf(schema: z.ZodType): z.ZodType {
  const hit = strictCache.get(schema);
  if (hit) return hit;
  const s = schema as Schema;
  const def = s._zod.def;
  let out: z.ZodType;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      const next: Record<string, z.ZodType> = {};
      for (const key of Object.keys(shape)) next[key] = strictOf(shape[key]!);
      out = withDef(s, { shape: next, catchall: z.never() });
      break;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      out = withDef(s, { innerType: strictOf(def.innerType as z.ZodType) });
      break;
    case 'pipe':
      out = withDef(s, { in: strictOf(def.in as z.ZodType), out: strictOf(def.out as z.ZodType) });
      break;
    case 'array':
      out = withDef(s, { element: strictOf(def.element as z.ZodType) });
      break;
    case 'tuple':
      out = withDef(s, {
        items: (def.items as z.ZodType[]).map(strictOf),
        rest: def.rest ? strictOf(def.rest as z.ZodType) : def.rest,
      });
      break;
    case 'record':
      out = withDef(s, { valueType: strictOf(def.valueType as z.ZodType) });
      break;
    case 'union':
      out = withDef(s, { options: (def.options as z.ZodType[]).map(strictOf) });
      break;
    case 'intersection':
      out = withDef(s, { left: strictOf(def.left as z.ZodType), right: strictOf(def.right as z.ZodType) });
      break;
    default:
      out = schema;
  }
  strictCache.set(schema, out);
  strictCache.set(out, out);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `patch` merged over `base` (see the header): objects key by key at every depth, arrays and every
 * other value replaced whole, undefined ignored. Keys are copied as own properties (a `__proto__` key
 * in a stored document stays a plain, unknown key that strict validation rejects).
 */
function deepMerge(base: unknown, patch: unknown): unknown {
  if (patch === undefined) return base;
  if (!isPlainObject(patch) || !isPlainObject(base)) return patch;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    Object.defineProperty(out, k, { value: deepMerge(out[k], v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** What a stored document means: `defaults <- lastValid <- raw` (see the header). */
export function effectiveDocument(defaults: unknown, lastValid: unknown, raw: unknown): unknown {
  return deepMerge(lastValid == null ? defaults : deepMerge(defaults, lastValid), raw);
}
