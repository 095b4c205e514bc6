/**
 * `npm run check:lockfile [-- --lockfile FILE] [--advisories FILE]` (also run by `npm test`): fails
 * when package-lock.json holds any package, nested ones included, at a version inside a known
 * vulnerable range of security/advisories.json (infra/security/lockfile-audit.ts). Run with --help.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail } from './cli.js';
import { AdvisoryListSchema, auditLockfile, formatFindings, type Finding } from '../infra/security/lockfile-audit.js';

const ROOT = join(import.meta.dirname, '..');
export const DEFAULT_LOCKFILE = join(ROOT, 'package-lock.json');
export const DEFAULT_ADVISORIES = join(ROOT, 'security', 'advisories.json');

const HELP = `Check package-lock.json against the committed advisory list.

Usage: npm run check:lockfile -- [--lockfile FILE] [--advisories FILE]

Every entry of the lockfile's "packages" (nested node_modules included) is matched against the
vulnerable range of each advisory of security/advisories.json. Exit 0 when none matches; exit 1 with
one line per finding (package, version, where it sits, advisory, fixed version) otherwise.
Fix a finding by upgrading the package that pulls it in, or, when the fix is upstream's, with a
package.json "overrides" pin (e.g. "@mapbox/node-pre-gyp": { "tar": "^7.5.23" }) and \`npm install\`.

Options:
  --lockfile FILE     lockfile to check (default package-lock.json)
  --advisories FILE   advisory list (default security/advisories.json)
  -h, --help          this help
`;

/** The findings of one lockfile against one advisory list file (both read from disk). */
export function checkLockfile(lockfile: string = DEFAULT_LOCKFILE, advisories: string = DEFAULT_ADVISORIES): Finding[] {
  const list = AdvisoryListSchema.parse(JSON.parse(readFileSync(advisories, 'utf8')));
  return auditLockfile(readFileSync(lockfile, 'utf8'), list.advisories);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: { lockfile: { type: 'string' }, advisories: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const lockfile = values.lockfile ? resolve(values.lockfile) : DEFAULT_LOCKFILE;
  const advisories = values.advisories ? resolve(values.advisories) : DEFAULT_ADVISORIES;
  let findings: Finding[];
  try {
    findings = checkLockfile(lockfile, advisories);
  } catch (e) {
    process.stderr.write(`check-lockfile: cannot read ${lockfile} or ${advisories}: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (findings.length > 0) {
    process.stderr.write(`check-lockfile: ${findings.length} package(s) in a known-vulnerable range in ${lockfile}:\n${formatFindings(findings)}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-lockfile: no package of ${lockfile} is in a known-vulnerable range (${advisories})\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) main();
