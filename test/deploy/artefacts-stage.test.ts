/**
 * The staged function source (infra/deploy/stage.ts): what every Cloud Function and the Telegram
 * webhook service deploy with `--source`. Staged into a temp folder with the real compile; the staged
 * package.json has no build step (so Google's buildpack installs production dependencies only), the
 * cloud entry loads from the staged folder alone (node_modules linked to the repository's: the
 * buildpack installs them there), and the hash is deterministic and follows the sources.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_STAGE_DIR, STAGED_RUNTIME_PATHS, stageFunctionsSource, stagedPackageJson } from '../../infra/deploy/stage.js';
import { CLOUD_FUNCTIONS, publicServiceEntry, TELEGRAM_WEBHOOK_SERVICE } from '../../infra/runtime/registry.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'cst-stage-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a module script with `cwd` = the staged folder; resolves with its stdout. */
async function runIn(dir: string, script: string, env: Record<string, string> = {}): Promise<string> {
  const file = join(dir, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  const { FUNCTION_TARGET: _drop, ...base } = process.env;
  const r = await promisify(execFile)(process.execPath, ['--enable-source-maps', file], { cwd: dir, env: { ...base, ...env } });
  rmSync(file);
  return r.stdout;
}

describe('staged function source (real compile)', () => {
  let staged: { dir: string; sourceHash: string };

  beforeAll(async () => {
    staged = await stageFunctionsSource({ root: ROOT, outDir: join(tmp, 'real') });
    // The buildpack installs node_modules into the staged folder; here the repository's stand in.
    symlinkSync(join(ROOT, 'node_modules'), join(staged.dir, 'node_modules'), 'dir');
  }, 240_000);

  it('stages where asked, with the compiled entry, the files read at run time and the manifests', () => {
    expect(staged.dir).toBe(join(tmp, 'real'));
    expect(FUNCTIONS_STAGE_DIR).toBe('.deploy/functions');
    const pkg = JSON.parse(readFileSync(join(staged.dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(existsSync(join(staged.dir, pkg.main as string))).toBe(true);
    expect(existsSync(join(staged.dir, publicServiceEntry(TELEGRAM_WEBHOOK_SERVICE)))).toBe(true);
    for (const p of STAGED_RUNTIME_PATHS) expect(existsSync(join(staged.dir, p)), p).toBe(true);
    expect(readFileSync(join(staged.dir, '.gcloudignore'), 'utf8')).toMatch(/^node_modules\/$/m);
    // Only what runs: no TypeScript sources, tests or CLIs.
    for (const p of ['shared', 'infra', 'functions', 'test', 'scripts/deploy.ts', 'dist/scripts', 'dist/test']) expect(existsSync(join(staged.dir, p)), p).toBe(false);
  });

  it('the staged package.json has no build step (the buildpack would install every devDependency for it) and the same dependencies', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const pkg = JSON.parse(readFileSync(join(staged.dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    expect(pkg.scripts).toBeUndefined();
    // The repository's own package.json has no gcp-build either (a `--source=.` deploy would run it).
    expect(root.scripts?.['gcp-build']).toBeUndefined();
    // The lockfile must stay in sync for the buildpack's `npm ci`: dependencies, devDependencies, overrides unchanged.
    expect(pkg.dependencies).toEqual(root.dependencies);
    expect(pkg.devDependencies).toEqual(root.devDependencies);
    expect(pkg.overrides).toEqual(root.overrides);
    expect(pkg.dependencies?.['@google-cloud/functions-framework']).toBeDefined();
    expect(readFileSync(join(staged.dir, 'package-lock.json'))).toEqual(readFileSync(join(ROOT, 'package-lock.json')));
  });

  it.each([CLOUD_FUNCTIONS.find((f) => f === 'reports')!, CLOUD_FUNCTIONS.find((f) => f === 'notifier')!, 'dashboard'])(
    'the cloud entry registers %s from the staged folder with FUNCTION_TARGET',
    async (target) => {
      const out = await runIn(
        staged.dir,
        `await import('./dist/functions/index.js');
         const { getTestServer } = await import('@google-cloud/functions-framework/testing');
         getTestServer(${JSON.stringify(target)});
         let other = 'absent';
         try { getTestServer(${JSON.stringify(target === 'notifier' ? 'reports' : 'notifier')}); other = 'present'; } catch {}
         process.stdout.write('registered ' + other);`,
        { FUNCTION_TARGET: target },
      );
      // Only the target's entry is loaded (functions/index.ts).
      expect(out).toBe('registered absent');
    },
    60_000,
  );

  it('the dashboard serves its page, the compiled shared modules and the chart library from the staged folder; the chart fonts are found there', async () => {
    const out = await runIn(
      staged.dir,
      `const { fileAssets } = await import('./dist/infra/dashboard/assets.js');
       const { CHARTS_ASSET } = await import('./dist/shared/dashboard/assets.js');
       const { findFontsConf } = await import('./dist/infra/charts/fonts.js');
       const a = fileAssets();
       const sizes = {};
       for (const n of ['index.html', 'lib/api.js', 'lib/theme.js', 'lib/html.js', CHARTS_ASSET]) sizes[n] = (await a.get(n))?.body.length ?? 0;
       process.stdout.write(JSON.stringify({ sizes, api: String((await a.get('lib/api.js')).body), fonts: findFontsConf() }));`,
    );
    const r = JSON.parse(out) as { sizes: Record<string, number>; api: string; fonts: string };
    for (const [name, size] of Object.entries(r.sizes)) expect(size, name).toBeGreaterThan(0);
    expect(r.api).toBe(readFileSync(join(staged.dir, 'dist', 'shared', 'dashboard', 'api.js'), 'utf8'));
    expect(r.fonts).toBe(join(staged.dir, 'assets', 'fonts', 'fonts.conf'));
  }, 60_000);

  it('refuses to stage over the project itself', async () => {
    await expect(stageFunctionsSource({ root: ROOT, outDir: '.', build: false })).rejects.toThrow(/refusing to stage/);
    await expect(stageFunctionsSource({ root: join(ROOT, 'infra'), outDir: '..', build: false })).rejects.toThrow(/refusing to stage/);
  });
});

describe('staged source hash', () => {
  /** A minimal project laid out like the real one (compiled with the repository's TypeScript). */
  const project = join(tmp, 'project');
  beforeAll(() => {
    for (const p of ['package.json', 'package-lock.json', 'scheduler.yaml']) cpSync(join(ROOT, p), join(project, p));
    for (const p of ['scripts/no-re2', 'assets/fonts']) cpSync(join(ROOT, p), join(project, p), { recursive: true });
    mkdirSync(join(project, 'web', 'dashboard'), { recursive: true });
    writeFileSync(join(project, 'web', 'dashboard', 'index.html'), '<!doctype html><title>t</title>\n');
    mkdirSync(join(project, 'functions'), { recursive: true });
    writeFileSync(join(project, 'functions', 'index.ts'), 'export const answer: number = 42;\n');
    writeFileSync(
      join(project, 'tsconfig.build.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', target: 'ES2022', rootDir: '.', outDir: 'dist', types: [], sourceMap: true, strict: true }, include: ['functions'] }),
    );
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
  });

  it('is the same for the same sources wherever staged, and changes when a source or a runtime file changes', async () => {
    const a = await stageFunctionsSource({ root: project, outDir: join(tmp, 'h1') });
    const b = await stageFunctionsSource({ root: project, outDir: join(tmp, 'deeper', 'still', 'h2') });
    expect(a.sourceHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.sourceHash).toBe(a.sourceHash);
    // Staging again into the same folder replaces it (nothing stale) and gives the same hash.
    writeFileSync(join(a.dir, 'stale.js'), 'x');
    expect((await stageFunctionsSource({ root: project, outDir: join(tmp, 'h1') })).sourceHash).toBe(a.sourceHash);
    expect(existsSync(join(a.dir, 'stale.js'))).toBe(false);

    writeFileSync(join(project, 'functions', 'index.ts'), 'export const answer: number = 43;\n');
    const c = await stageFunctionsSource({ root: project, outDir: join(tmp, 'h3') });
    expect(c.sourceHash).not.toBe(a.sourceHash);
    expect(readFileSync(join(c.dir, 'dist', 'functions', 'index.js'), 'utf8')).toContain('43');

    writeFileSync(join(project, 'web', 'dashboard', 'index.html'), '<!doctype html><title>u</title>\n');
    const d = await stageFunctionsSource({ root: project, outDir: join(tmp, 'h4') });
    expect(d.sourceHash).not.toBe(c.sourceHash);
  }, 120_000);

  it('a compile error fails the staging with what to do', async () => {
    writeFileSync(join(project, 'functions', 'broken.ts'), 'export const x: number = "nope";\n');
    await expect(stageFunctionsSource({ root: project, outDir: join(tmp, 'h5') })).rejects.toThrow(/fix the type errors[\s\S]*broken\.ts/);
    rmSync(join(project, 'functions', 'broken.ts'));
  }, 60_000);

  it('stagedPackageJson drops every script and keeps the rest', () => {
    const out = JSON.parse(stagedPackageJson(JSON.stringify({ name: 'x', main: 'dist/i.js', scripts: { build: 'tsc', 'gcp-build': 'tsc', start: 'tsx s.ts' }, dependencies: { a: '1' } })));
    expect(out).toEqual({ name: 'x', main: 'dist/i.js', dependencies: { a: '1' } });
  });
});
