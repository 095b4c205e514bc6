/**
 * The monitoring resources as proto3 JSON (camelCase, durations "60s", wrappers as plain values),
 * checked and converted against the API's own schemas: the protos the client packages ship
 * (@google-cloud/monitoring: google.monitoring.v3.*, @google-cloud/monitoring-dashboards:
 * google.monitoring.dashboard.v1.*), loaded with protobufjs.
 * - `validateJson`: STRICT: every key a field of its message (recursively), at most one member per
 *   oneof, enum names valid, scalars of their type, well-known types in their JSON form. A typo fails.
 * - `jsonToProto` / `protoToJson`: between that JSON and the objects the gRPC clients take and return
 *   (durations as {seconds, nanos}, wrappers as {value}; answers carry defaults, nulls and oneof case
 *   names, dropped here).
 */
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

type Json = Record<string, unknown>;

/** Message types of the monitoring resources this project applies. */
export const PROTO_TYPES = {
  dashboard: 'google.monitoring.dashboard.v1.Dashboard',
  alertPolicy: 'google.monitoring.v3.AlertPolicy',
  notificationChannel: 'google.monitoring.v3.NotificationChannel',
} as const;
export type ProtoTypeName = (typeof PROTO_TYPES)[keyof typeof PROTO_TYPES];

let roots: protobuf.Root[] | undefined;

function loadRoots(): protobuf.Root[] {
  if (!roots) {
    const require = createRequire(import.meta.url);
    roots = ['@google-cloud/monitoring/build/protos/protos.json', '@google-cloud/monitoring-dashboards/build/protos/protos.json'].map((p) =>
      protobuf.Root.fromJSON(require(p) as protobuf.INamespace),
    );
  }
  return roots;
}

function lookupType(name: string): protobuf.Type {
  for (const r of loadRoots()) {
    const t = r.lookup(name);
    if (t instanceof protobuf.Type) return t;
  }
  throw new Error(`proto message ${name} not found in the monitoring client packages' protos`);
}

const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const WRAPPERS: Record<string, string> = {
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.BytesValue': 'bytes',
};
const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalarError(type: string, v: unknown): string | null {
  if (type === 'string') return typeof v === 'string' ? null : 'a string';
  if (type === 'bool') return typeof v === 'boolean' ? null : 'a boolean';
  if (type === 'double' || type === 'float') return typeof v === 'number' && Number.isFinite(v) ? null : 'a finite number';
  if (INT32.has(type)) return Number.isInteger(v) ? null : 'an integer';
  if (INT64.has(type)) return Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? null : 'an integer (number or decimal string)';
  if (type === 'bytes') return typeof v === 'string' && /^[A-Za-z0-9+/_-]*=*$/.test(v) ? null : 'base64 bytes';
  return `a known scalar (${type})`;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateValue(field: protobuf.Field, v: unknown, path: string, errors: string[]): void {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) {
    if (!(typeof v === 'string' && v in t.values) && !(Number.isInteger(v) && Object.values(t.values).includes(v as number))) {
      errors.push(`${path}: ${JSON.stringify(v)} is not a ${t.fullName.slice(1)} value`);
    }
    return;
  }
  if (t instanceof protobuf.Type) {
    const full = t.fullName.slice(1);
    if (full === 'google.protobuf.Duration') {
      if (!(typeof v === 'string' && DURATION.test(v))) errors.push(`${path}: a duration must be a string like "60s", got ${JSON.stringify(v)}`);
      return;
    }
    if (full === 'google.protobuf.Timestamp') {
      if (!(typeof v === 'string' && !Number.isNaN(Date.parse(v)))) errors.push(`${path}: a timestamp must be an RFC 3339 string`);
      return;
    }
    if (full in WRAPPERS) {
      const e = scalarError(WRAPPERS[full]!, v);
      if (e) errors.push(`${path}: must be ${e}`);
      return;
    }
    if (full === 'google.protobuf.Struct' || full === 'google.protobuf.Value' || full === 'google.protobuf.ListValue' || full === 'google.protobuf.Any') return;
    validateMessage(t, v, path, errors);
    return;
  }
  const e = scalarError(field.type, v);
  if (e) errors.push(`${path}: must be ${e}, got ${JSON.stringify(v)}`);
}

function validateMessage(type: protobuf.Type, json: unknown, path: string, errors: string[]): void {
  if (!isObject(json)) {
    errors.push(`${path}: must be an object (${type.fullName.slice(1)})`);
    return;
  }
  for (const [key, v] of Object.entries(json)) {
    const field = type.fields[key];
    const at = path ? `${path}.${key}` : key;
    if (!field) {
      errors.push(`${at}: not a field of ${type.fullName.slice(1)}`);
      continue;
    }
    field.resolve();
    if (field.map) {
      if (!isObject(v)) errors.push(`${at}: a map must be an object`);
      else for (const [k, mv] of Object.entries(v)) validateValue(field, mv, `${at}[${JSON.stringify(k)}]`, errors);
    } else if (field.repeated) {
      if (!Array.isArray(v)) errors.push(`${at}: must be an array`);
      else v.forEach((x, i) => validateValue(field, x, `${at}[${i}]`, errors));
    } else validateValue(field, v, at, errors);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((f) => json[f] !== undefined);
    if (set.length > 1) errors.push(`${path || '(root)'}: oneof ${oneof.name} has more than one member set (${set.join(', ')})`);
  }
}

/** Every schema error of `json` as a `typeName` message (empty: valid). */
export function validateJson(typeName: ProtoTypeName | string, json: unknown): string[] {
  const errors: string[] = [];
  validateMessage(lookupType(typeName), json, '', errors);
  return errors;
}

function durationToProto(s: string): { seconds: number; nanos: number } {
  const sign = s.startsWith('-') ? -1 : 1;
  const [whole, frac = ''] = s.replace(/^-/, '').slice(0, -1).split('.');
  return { seconds: sign * Number(whole), nanos: sign * Number(frac.padEnd(9, '0')) };
}

function convert(type: protobuf.Type, json: Json, toProto: boolean): Json {
  const out: Json = {};
  for (const [key, v] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field || v === null || v === undefined) continue; // oneof case names, unset members
    field.resolve();
    const one = (x: unknown): unknown => {
      const t = field.resolvedType;
      if (t instanceof protobuf.Enum) return !toProto && typeof x === 'number' ? (t.valuesById[x] ?? x) : x;
      if (!(t instanceof protobuf.Type)) return x;
      const full = t.fullName.slice(1);
      if (full === 'google.protobuf.Duration') {
        if (toProto) return durationToProto(String(x));
        const d = x as { seconds?: number | string; nanos?: number };
        const nanos = Number(d.nanos ?? 0);
        return `${Number(d.seconds ?? 0) + nanos / 1e9}s`;
      }
      if (full === 'google.protobuf.Timestamp') {
        if (toProto) {
          const ms = Date.parse(String(x));
          return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
        }
        const ts = x as { seconds?: number | string; nanos?: number };
        return new Date(Number(ts.seconds ?? 0) * 1000 + Math.round(Number(ts.nanos ?? 0) / 1e6)).toISOString();
      }
      if (full in WRAPPERS) return toProto ? { value: x } : (x as { value?: unknown }).value;
      if (full.startsWith('google.protobuf.')) return x;
      return convert(t, x as Json, toProto);
    };
    if (field.map) out[key] = Object.fromEntries(Object.entries(v as Json).map(([k, mv]) => [k, one(mv)]));
    else if (field.repeated) out[key] = (v as unknown[]).map(one);
    else out[key] = one(v);
  }
  return out;
}

/** Proto3 JSON -> the object a gRPC client method takes. */
export function jsonToProto(typeName: ProtoTypeName, json: Json): Json {
  return convert(lookupType(typeName), json, true);
}

/** What a gRPC client method returned -> proto3 JSON (defaults kept, nulls and oneof case names dropped). */
export function protoToJson(typeName: ProtoTypeName, obj: Json): Json {
  return convert(lookupType(typeName), obj, false);
}
