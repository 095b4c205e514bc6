/**
 * The dashboard page's files from disk (the `DashboardAssets` port of shared/dashboard/assets.ts):
 * `web/dashboard/<name>` of the project, and the chart library's standalone build from
 * `node_modules/lightweight-charts/dist/` (served as `assets/<file>`). The project root is found by
 * walking up to package.json, so the same code serves from the sources (tsx) and from `dist/` (the
 * deployed function ships the repository: `--source=.`). A file is read once and kept while its
 * modification time stays the same (a page edited during `npm start` is served at once).
 *
 * The project's modules the page imports (SHARED_MODULES, `lib/*.js`) are the compiled JavaScript of
 * their TypeScript source: `dist/<module>.js` when this code runs compiled (the deployed function,
 * built by `gcp-build`), else the source transpiled with TypeScript's `transpileModule` (`npm start`
 * and the tests run the sources with tsx, where the dev dependency is installed).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHARTS_ASSET, SHARED_MODULES, type DashboardAssets, type StaticFile } from '../../shared/dashboard/assets.js';

/** Whether this module runs compiled (from `dist/`) rather than from its TypeScript source. */
const RUNS_COMPILED = fileURLToPath(import.meta.url).endsWith('.js');

/** The folder holding package.json above this module. */
export function projectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

interface Options {
  /** The page's folder (default `<project>/web/dashboard`). */
  webDir?: string;
  /** The chart library's dist folder (default `<project>/node_modules/lightweight-charts/dist`). */
  chartsDir?: string;
  /** The project folder the shared modules are read from (default: the one above this module). */
  projectDir?: string;
  /** Read the shared modules compiled from `<project>/dist` (default: when this module runs compiled). */
  compiled?: boolean;
}

/** The browser module of one project module: compiled output, or its source transpiled now. */
async function sharedModule(projectDir: string, module: string, compiled: boolean): Promise<{ path: string; body: () => Promise<Buffer> }> {
  if (compiled) {
    const path = join(projectDir, 'dist', `${module}.js`);
    return { path, body: async () => readFileSync(path) };
  }
  const path = join(projectDir, `${module}.ts`);
  return {
    path,
    body: async () => {
      const ts = (await import('typescript')).default;
      const out = ts.transpileModule(readFileSync(path, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false, removeComments: false },
        fileName: path,
      });
      return Buffer.from(out.outputText);
    },
  };
}

export function fileAssets(opts: Options = {}): DashboardAssets {
  const root = opts.webDir && opts.chartsDir && opts.projectDir ? '' : projectRoot();
  const projectDir = opts.projectDir ?? root;
  const compiled = opts.compiled ?? RUNS_COMPILED;
  const webDir = opts.webDir ?? join(root, 'web', 'dashboard');
  const chartsDir = opts.chartsDir ?? join(root, 'node_modules', 'lightweight-charts', 'dist');
  const cache = new Map<string, { mtimeMs: number; file: StaticFile }>();
  const pathOf = (name: string) => (name === CHARTS_ASSET ? join(chartsDir, name.slice('assets/'.length)) : join(webDir, name));
  return {
    async get(name) {
      const module = Object.hasOwn(SHARED_MODULES, name) ? await sharedModule(projectDir, SHARED_MODULES[name] as string, compiled) : null;
      const path = module?.path ?? pathOf(name);
      let mtimeMs: number;
      try {
        const st = statSync(path);
        if (!st.isFile()) return null;
        mtimeMs = st.mtimeMs;
      } catch {
        return null;
      }
      const hit = cache.get(path);
      if (hit && hit.mtimeMs === mtimeMs) return hit.file;
      const body = module ? await module.body() : readFileSync(path);
      const file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
      cache.set(path, { mtimeMs, file });
      return file;
    },
  };
}
