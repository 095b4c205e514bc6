/**
 * The lockfile check (scripts/check-lockfile.ts, part of `npm test`): every package entry of
 * package-lock.json (lockfileVersion 2/3 `packages`, nested `node_modules/a/node_modules/b` included)
 * against a committed list of advisories (security/advisories.json). A package at a version inside an
 * advisory's vulnerable range is a finding, with the path that pulls it in.
 *
 * Range matching is a small exact implementation of the semver forms the list uses (the `semver`
 * package is only a transitive dependency here): comparators `<`, `<=`, `>`, `>=`, `=`, a bare version,
 * `^x.y.z`, `~x.y.z`; comparators separated by spaces must all hold; `||` separates alternatives. A
 * pre-release is compared like any version (7.5.3-rc.1 < 7.5.4): an advisory's range covers the
 * pre-releases inside it, unlike node-semver's install-time rule, which would let them pass.
 */
import { z } from 'zod';

export const AdvisorySchema = z
  .object({
    id: z.string().regex(/^(GHSA(-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d{4,})$/),
    cve: z.string().regex(/^CVE-\d{4}-\d{4,}$/).optional(),
    package: z.string().min(1),
    vulnerable: z.string().min(1),
    fixed: z.string().min(1),
    summary: z.string().min(1),
    url: z.string().url(),
  })
  .strict();
export type Advisory = z.infer<typeof AdvisorySchema>;

export const AdvisoryListSchema = z.object({ $comment: z.string().optional(), advisories: z.array(AdvisorySchema) }).strict();

const LockfileSchema = z
  .object({
    lockfileVersion: z.number().int().min(2),
    packages: z.record(z.string(), z.object({ version: z.string().optional(), name: z.string().optional(), link: z.boolean().optional() }).passthrough()),
  })
  .passthrough();

interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
}

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(text: string): Version {
  const m = VERSION.exec(text.trim());
  if (!m) throw new Error(`not a semver version: '${text}'`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

interface Comparator {
  op: '<' | '<=' | '>' | '>=' | '=';
  v: Version;
}

/** One comparator token as one or two primitive comparators. */
function comparators(token: string): Comparator[] {
  const m = /^(<=|>=|<|>|=|\^|~)?\s*(.+)$/.exec(token);
  if (!m) throw new Error(`unreadable range part '${token}'`);
  const op = m[1] ?? '=';
  const v = parseVersion(m[2] as string);
  if (op === '^') {
    const upper = v.major > 0 ? { major: v.major + 1, minor: 0, patch: 0 } : v.minor > 0 ? { major: 0, minor: v.minor + 1, patch: 0 } : { major: 0, minor: 0, patch: v.patch + 1 };
    return [{ op: '>=', v }, { op: '<', v: { ...upper, pre: ['0'] } }];
  }
  if (op === '~') return [{ op: '>=', v }, { op: '<', v: { major: v.major, minor: v.minor + 1, patch: 0, pre: ['0'] } }];
  return [{ op: op as Comparator['op'], v }];
}

function holds(c: Comparator, v: Version): boolean {
  const d = compareVersions(v, c.v);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    case '=':
      return d === 0;
  }
}

/** Whether `version` is inside `range` (see the module comment for the forms). */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  return range.split('||').some((alt) => {
    // `>= 1.2.3` and `>=1.2.3` both read as one comparator.
    const tokens = alt.trim().replace(/(<=|>=|<|>|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (tokens.length === 0) throw new Error(`empty range alternative in '${range}'`);
    const set = tokens.flatMap(comparators);
    // An advisory range includes pre-releases (unlike npm's install-time rule): 7.5.3-rc.1 is < 7.5.4
    // and carries the flaw the release fixes later.
    return set.every((c) => holds(c, v));
  });
}

export interface Finding {
  advisory: Advisory;
  /** The lockfile key, e.g. `node_modules/@mapbox/node-pre-gyp/node_modules/tar`. */
  path: string;
  version: string;
}

/** The package name a `packages` key installs (`node_modules/a/node_modules/@s/b` -> `@s/b`). */
export function packageNameOf(key: string): string | null {
  const i = key.lastIndexOf('node_modules/');
  return i < 0 ? null : key.slice(i + 'node_modules/'.length);
}

/** Every lockfile entry inside an advisory's vulnerable range. */
export function auditLockfile(lockfileText: string, advisories: readonly Advisory[]): Finding[] {
  const lock = LockfileSchema.parse(JSON.parse(lockfileText));
  const out: Finding[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const name = entry.name ?? packageNameOf(path);
    if (!name || entry.link || !entry.version) continue;
    for (const a of advisories) if (a.package === name && satisfies(entry.version, a.vulnerable)) out.push({ advisory: a, path, version: entry.version });
  }
  return out;
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => `${f.advisory.package}@${f.version} at ${f.path}: ${f.advisory.id}${f.advisory.cve ? ` (${f.advisory.cve})` : ''}, vulnerable ${f.advisory.vulnerable}, fixed in ${f.advisory.fixed}: ${f.advisory.summary} ${f.advisory.url}`)
    .join('\n');
}
