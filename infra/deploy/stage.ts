/**
 * The folder every Cloud Function and the Telegram webhook Cloud Run service deploy from
 * (`--source=<dir>`): the compiled `dist/`, the files the code reads at run time, and the manifests,
 * so Google's Node.js buildpack only installs production dependencies.
 *
 * Why a staged folder: the buildpack runs `npm run gcp-build` (else `npm run build`) when package.json
 * has one, and then installs with NODE_ENV=development, i.e. every devDependency (firebase-tools and
 * its native build, vitest, ...) in each of the source builds, before pruning. With no build script
 * it installs with NODE_ENV=production (`npm ci` when a lockfile is there). So the staged package.json
 * has no `scripts` at all (no build step, and no `start` that would run tsx), and the code arrives
 * compiled. The functions buildpack starts `node_modules/.bin/functions-framework` (a dependency) on
 * package.json `main` (dist/functions/index.js) with FUNCTION_TARGET; the webhook service starts
 * GOOGLE_ENTRYPOINT (`node dist/functions/telegram-webhook/server.js`).
 *
 * What the code reads from disk at run time, found from the module upwards (so the same layout works
 * in the repository and here): web/dashboard/* and dist/<shared module>.js (infra/dashboard/assets.ts,
 * project root = the folder with package.json), assets/fonts (infra/charts/fonts.ts, loaded by
 * infra/charts/render.ts), node_modules/lightweight-charts/dist (installed by the buildpack). The
 * lockfile links scripts/no-re2 (package.json overrides: re2), so it is staged too.
 *
 * `sourceHash` is sha256 over the staged files (sorted relative paths, each with its bytes): equal
 * sources give the same hash, and any change of code or runtime file changes it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';

/** Default staging folder, relative to the project root (git-ignored). */
export const FUNCTIONS_STAGE_DIR = '.deploy/functions';

/** Files and folders copied as they are (relative to the project root), besides dist/ and package.json. */
export const STAGED_RUNTIME_PATHS = ['package-lock.json', 'scripts/no-re2', 'web/dashboard', 'assets/fonts', 'scheduler.yaml'] as const;

/** What gcloud must not upload from the staged folder (a node_modules link made to run it locally). */
const STAGED_GCLOUDIGNORE = '# Written by infra/deploy/stage.ts: the buildpack installs node_modules itself.\n.gcloudignore\nnode_modules/\n';

const run = promisify(execFile);

/** Where Google's buildpacks put the application in the image: source maps name the sources under it. */
const DEPLOYED_APP_DIR = '/workspace/';

/** package.json as staged: the same manifest without `scripts` (no build step, no dev-only start). */
export function stagedPackageJson(text: string): string {
  const pkg = JSON.parse(text) as Record<string, unknown>;
  delete pkg.scripts;
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

async function filesUnder(dir: string, base: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path, base)));
    else if (entry.isFile()) out.push(relative(base, path).split(sep).join('/'));
  }
  return out;
}

/** sha256 over the given files of `dir`: sorted relative paths, each followed by its size and bytes. */
export async function hashFiles(dir: string, files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const bytes = await readFile(join(dir, file));
    h.update(`${file}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex');
}

export async function stageFunctionsSource(o: { root: string; outDir?: string; build?: boolean }): Promise<{ dir: string; sourceHash: string }> {
  const root = resolve(o.root);
  const dir = resolve(root, o.outDir ?? FUNCTIONS_STAGE_DIR);
  const up = relative(dir, root);
  if (up === '' || (!up.startsWith('..') && !isAbsolute(up))) throw new Error(`refusing to stage into ${dir}: it contains the project ${root}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });

  if (o.build === false) {
    const dist = join(root, 'dist');
    if (!(await stat(dist).catch(() => null))?.isDirectory()) throw new Error(`no ${dist}: run \`npm run build\` first, or stage with build: true`);
    await cp(dist, join(dir, 'dist'), { recursive: true });
  } else {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      // --sourceRoot: the maps name `functions/x.ts` under the deployed app's folder (/workspace), not a
      // path relative to wherever this folder was staged (the hash would depend on it).
      await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist'), '--sourceRoot', DEPLOYED_APP_DIR], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as Error & { stdout?: string; stderr?: string };
      throw new Error(`compiling the functions (tsc -p tsconfig.build.json) failed; fix the type errors and deploy again:\n${err.stdout ?? ''}${err.stderr ?? err.message}`);
    }
  }

  await writeFile(join(dir, 'package.json'), stagedPackageJson(await readFile(join(root, 'package.json'), 'utf8')));
  for (const path of STAGED_RUNTIME_PATHS) {
    const from = join(root, path);
    if (!(await stat(from).catch(() => null))) throw new Error(`cannot stage the functions: ${from} is missing (the deployed code reads it)`);
    await cp(from, join(dir, path), { recursive: true });
  }
  await writeFile(join(dir, '.gcloudignore'), STAGED_GCLOUDIGNORE);

  const files = (await filesUnder(dir, dir)).filter((f) => !f.startsWith('node_modules/'));
  return { dir, sourceHash: await hashFiles(dir, files) };
}
