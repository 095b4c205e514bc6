/**
 * The vocabulary of the deploy plan (infra/deploy/plan.ts) and its executor (infra/deploy/execute.ts):
 * a resource is described with a read-only command (JSON out; a non-zero exit saying NOT_FOUND when it
 * is missing), created when missing, and updated only when the described JSON differs from the
 * desired state. Pure data and functions: nothing here runs anything.
 */
import type { SecretName } from '../../shared/ports/secrets.js';

/**
 * One command: an argv run without a shell. `{{fact}}` in an argument is replaced by a fact learned
 * earlier in the run (the project number, a trigger's subscription, a service URL); the dry run
 * prints it as is. `{file}` is replaced by the path of a temp file holding `file`.
 */
export interface Command {
  argv: readonly string[];
  /** The secret whose value is written to the command's stdin (never to argv, never printed). */
  stdinSecret?: SecretName;
  /** With no value for `stdinSecret`: skip the command, saying this, instead of stopping the deploy. */
  skipWithoutSecret?: string;
  /** Content of the temp file named by the `{file}` argument. */
  file?: string;
}

export const FILE_ARG = '{file}';

export interface Diff {
  /** What differs, one short phrase each (`label cst-source: a -> b`); empty = unchanged. */
  changes: string[];
  commands: Command[];
}

/** A resource managed with commands (gcloud, bq, firebase). */
export interface CommandResource {
  type: 'command';
  kind: string;
  name: string;
  what: string;
  describe: Command;
  /** Run when describe says NOT_FOUND. Without it, a missing resource stops the deploy with `missing`. */
  create?: Command[];
  missing?: string;
  /**
   * Compares the described JSON with the desired state (`fact` resolves the `{{fact}}`s of a desired
   * value, such as the Pub/Sub service agent's project number). Without it, existing is enough.
   */
  update?: (current: unknown, fact: (s: string) => string) => Diff;
  /** After a create, describe again and apply `update` too (a dataset's access list is set on the made dataset). */
  updateAfterCreate?: boolean;
  /** Facts this resource provides to later ones (read from its described JSON; re-described after a change). */
  facts?: (current: unknown) => Record<string, string>;
  /** The resource must NOT exist: run these when describe finds it (an older form of something replaced). */
  removeWhenFound?: Command[];
  /** The desired state in words, for the dry run (an IAM resource's `role member` lines). */
  desired?: string[];
}

/** A resource managed through a client library or HTTP (the executor's injected clients). */
export interface ApiResource {
  type: 'api';
  kind: 'scheduler-jobs' | 'monitoring' | 'telegram-webhook';
  name: string;
  what: string;
}

export type Resource = CommandResource | ApiResource;

export type Action = 'create' | 'update' | 'delete' | 'unchanged';

// ---------------------------------------------------------------------------------------------
// Helpers for reading described JSON

type Json = Record<string, unknown>;

export function obj(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

export function at(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path) cur = obj(cur)[k];
  return cur;
}

/** JSON with object keys sorted: a described object compares equal whatever order the API lists its keys in. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : stableJson(v);
}

/** `field: "live" -> "desired"` when they differ. */
export function change(field: string, live: unknown, desired: unknown): string[] {
  return str(live) === str(desired) ? [] : [`${field}: ${JSON.stringify(str(live))} -> ${JSON.stringify(str(desired))}`];
}

export interface Binding {
  member: string;
  role: string;
}

/** The bindings of `desired` missing from an IAM policy JSON (`{bindings: [{role, members}]}`). */
export function missingBindings(policy: unknown, desired: readonly Binding[]): Binding[] {
  const have = new Set<string>();
  const bindings = at(policy, 'bindings');
  for (const b of Array.isArray(bindings) ? bindings : []) {
    if (obj(b).condition) continue;
    const members = obj(b).members;
    for (const m of Array.isArray(members) ? members : []) have.add(`${str(obj(b).role)} ${str(m)}`);
  }
  return desired.filter((d) => !have.has(`${d.role} ${d.member}`));
}
