/**
 * The staged source of every Cloud Function and of the telegram-webhook Cloud Run service (deployed
 * `--source=<dir>`): the compiled `dist/` and what runs beside it, with a package.json whose scripts
 * carry no build step (so the Node buildpack installs production dependencies only).
 *
 * Minimal version written by the `deploy` helper of issue 13 to the signature the `artefacts` helper
 * owns; the artefacts version replaces this file.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const FUNCTIONS_STAGE_DIR = '.deploy/functions';

/** What runs next to dist/ (read at run time). */
const RUNTIME_FILES = ['web', 'assets', 'scheduler.yaml', 'package-lock.json', 'scripts/no-re2'];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

export async function stageFunctionsSource(o: { root: string; outDir?: string; build?: boolean }): Promise<{ dir: string; sourceHash: string }> {
  const root = resolve(o.root);
  const dir = resolve(root, o.outDir ?? FUNCTIONS_STAGE_DIR);
  if (o.build !== false) execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(root, 'dist'))) cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  for (const f of RUNTIME_FILES) if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; devDependencies?: unknown };
  delete pkg.devDependencies;
  pkg.scripts = {};
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  const h = createHash('sha256');
  for (const p of files(dir).sort()) {
    if (!statSync(p).isFile()) continue;
    h.update(relative(dir, p).split('\\').join('/')).update('\0').update(readFileSync(p)).update('\0');
  }
  return { dir, sourceHash: h.digest('hex') };
}
