import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLockfile, DEFAULT_ADVISORIES, DEFAULT_LOCKFILE } from '../../scripts/check-lockfile.js';
import { AdvisoryListSchema, auditLockfile, packageNameOf, satisfies } from '../../infra/security/lockfile-audit.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-lockfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real lockfile with tar under @mapbox/node-pre-gyp at `version` (as a nested copy). */
function lockfileWithNestedTar(version: string): string {
  const lock = JSON.parse(readFileSync(DEFAULT_LOCKFILE, 'utf8')) as { packages: Record<string, unknown> };
  lock.packages['node_modules/@mapbox/node-pre-gyp/node_modules/tar'] = {
    version,
    resolved: `https://registry.npmjs.org/tar/-/tar-${version}.tgz`,
    license: 'ISC',
  };
  const file = join(dir, `lock-tar-${version}.json`);
  writeFileSync(file, JSON.stringify(lock));
  return file;
}

const advisories = AdvisoryListSchema.parse(JSON.parse(readFileSync(DEFAULT_ADVISORIES, 'utf8'))).advisories;

describe('lockfile check', () => {
  it('the committed lockfile has no package in a known-vulnerable range', () => {
    expect(checkLockfile()).toEqual([]);
  });

  it('fails on tar 6.2.1 nested under @mapbox/node-pre-gyp, naming the 2026 advisories fixed by 7.5.7', () => {
    const findings = checkLockfile(lockfileWithNestedTar('6.2.1'));
    expect(new Set(findings.map((f) => f.path))).toEqual(new Set(['node_modules/@mapbox/node-pre-gyp/node_modules/tar']));
    const ids = findings.map((f) => f.advisory.id);
    expect(ids).toEqual(expect.arrayContaining(['GHSA-8qq5-rm4j-mr97', 'GHSA-34x7-hfp2-rc4v']));
  });

  it('passes with tar 7.5.23 nested there', () => {
    expect(checkLockfile(lockfileWithNestedTar('7.5.23'))).toEqual([]);
  });

  it('the CLI exits 1 listing the finding, 0 on the real lockfile', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'check-lockfile.ts'), ...args], { cwd: ROOT }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    const bad = await run(['--lockfile', lockfileWithNestedTar('6.2.1')]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('tar@6.2.1 at node_modules/@mapbox/node-pre-gyp/node_modules/tar: GHSA-34x7-hfp2-rc4v');
    expect((await run([])).code).toBe(0);
  });

  it('reads aliased entries by their real name and ignores links', () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'x', version: '1.0.0' },
        'node_modules/old-tar': { name: 'tar', version: '4.4.19' },
        'node_modules/re2': { resolved: 'scripts/no-re2', link: true },
        'node_modules/a/node_modules/@s/b': { version: '1.0.0' },
      },
    });
    expect(auditLockfile(lock, advisories).map((f) => f.path)).toContain('node_modules/old-tar');
    expect(packageNameOf('node_modules/a/node_modules/@s/b')).toBe('@s/b');
  });

  it('every advisory is well formed: its fixed version is outside its vulnerable range', () => {
    expect(advisories.length).toBeGreaterThan(0);
    for (const a of advisories) expect(satisfies(a.fixed, a.vulnerable), a.id).toBe(false);
  });
});

describe('semver range matching', () => {
  it.each([
    ['6.2.1', '<7.5.7', true],
    ['7.5.6', '<7.5.7', true],
    ['7.5.7', '<7.5.7', false],
    ['7.5.7', '<=7.5.7', true],
    ['7.5.23', '>=7.0.0 <7.5.7', false],
    ['7.5.3', '>= 7.0.0 < 7.5.7', true],
    ['5.0.9', '<4.4.18 || >=5.0.0 <5.0.10 || >=6.0.0 <6.1.9', true],
    ['5.0.10', '<4.4.18 || >=5.0.0 <5.0.10 || >=6.0.0 <6.1.9', false],
    ['7.9.0', '^7.5.7', true],
    ['8.0.0', '^7.5.7', false],
    ['0.3.9', '^0.3.1', true],
    ['0.4.0', '^0.3.1', false],
    ['7.5.99', '~7.5.7', true],
    ['7.6.0', '~7.5.7', false],
    ['1.2.3', '1.2.3', true],
    // pre-releases inside an advisory's range are in it (node-semver would let them pass)
    ['7.5.7-beta.1', '<7.5.7', true],
    ['7.5.3-rc.1', '<7.5.4', true],
    ['6.0.0-beta.1', '<7.5.7', true],
    ['7.5.8-rc.1', '<7.5.8', true],
    ['7.5.8-rc.1', '<7.5.7', false],
    ['7.5.7-beta.1', '>=7.5.7-alpha <7.5.7', true],
    ['7.5.7-alpha.10', '>7.5.7-alpha.9', true],
  ])('%s in %s: %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it('refuses a range it cannot read instead of passing it', () => {
    expect(() => satisfies('1.0.0', '<7.x')).toThrow(/not a semver version/);
  });
});
