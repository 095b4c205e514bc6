/**
 * The dashboard page's files from disk (the `DashboardAssets` port of shared/dashboard/assets.ts):
 * `web/dashboard/<name>` of the project, and the chart library's standalone build from
 * `node_modules/lightweight-charts/dist/` (served as `assets/<file>`). The project root is found by
 * walking up to package.json, so the same code serves from the sources (tsx) and from `dist/` (the
 * deployed function ships the repository: `--source=.`). A file is read once and kept while its
 * modification time stays the same (a page edited during `npm start` is served at once).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHARTS_ASSET, type DashboardAssets, type StaticFile } from '../../shared/dashboard/assets.js';

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
}

export function fileAssets(opts: Options = {}): DashboardAssets {
  const root = opts.webDir && opts.chartsDir ? '' : projectRoot();
  const webDir = opts.webDir ?? join(root, 'web', 'dashboard');
  const chartsDir = opts.chartsDir ?? join(root, 'node_modules', 'lightweight-charts', 'dist');
  const cache = new Map<string, { mtimeMs: number; file: StaticFile }>();
  const pathOf = (name: string) => (name === CHARTS_ASSET ? join(chartsDir, name.slice('assets/'.length)) : join(webDir, name));
  return {
    async get(name) {
      const path = pathOf(name);
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
      const body = readFileSync(path);
      const file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
      cache.set(path, { mtimeMs, file });
      return file;
    },
  };
}
