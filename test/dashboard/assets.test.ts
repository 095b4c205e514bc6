/**
 * The page's own copies of nothing: the modules it imports under `lib/` (the API's routes, the chart
 * theme, the bot's number formatting) are served as browser ES modules compiled from the project's
 * TypeScript source (infra/dashboard/assets.ts): transpiled from the source when the server runs from
 * it, read from `dist/` when it runs compiled. What the browser gets behaves exactly like the module
 * the server and the bot use.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileAssets } from '../../infra/dashboard/assets.js';
import { assetName, SHARED_MODULES } from '../../shared/dashboard/assets.js';
import * as html from '../../shared/telegram/html.js';
import { DARK_THEME } from '../../shared/charts/theme.js';
import { API_ROUTES } from '../../shared/dashboard/api.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Imports served JavaScript the way a browser would: as an ES module of its own. */
async function asModule(body: Buffer): Promise<Record<string, unknown>> {
  return import(`data:text/javascript;base64,${body.toString('base64')}`);
}

describe('shared modules for the page', () => {
  it('names only the listed modules (no other path under lib/)', () => {
    expect(Object.keys(SHARED_MODULES).sort()).toEqual(['lib/api.js', 'lib/html.js', 'lib/theme.js']);
    for (const name of Object.keys(SHARED_MODULES)) expect(assetName(`/${name}`)).toBe(name);
    expect(assetName('/lib/state-paths.js')).toBeNull();
    expect(assetName('/lib/../lib/html.js')).toBeNull();
  });

  it('from the sources: transpiled modules that behave like the TypeScript ones', async () => {
    const assets = fileAssets({ compiled: false });
    const fmt = await asModule((await assets.get('lib/html.js'))!.body);
    for (const p of [0.000123456, 0.5, 1.2345, 167.34149999999997, 109232.5, -3.2]) expect((fmt.fmtPrice as (x: number) => string)(p)).toBe(html.fmtPrice(p));
    for (const ms of [5_000, 3_600_000 * 50]) expect((fmt.fmtDuration as (x: number) => string)(ms)).toBe(html.fmtDuration(ms));
    expect((fmt.fmtUsd as (x: number) => string)(-12.345)).toBe(html.fmtUsd(-12.345));
    expect((await asModule((await assets.get('lib/theme.js'))!.body)).DARK_THEME).toEqual(DARK_THEME);
    const api = await assets.get('lib/api.js');
    expect((await asModule(api!.body)).API_ROUTES).toEqual(API_ROUTES);
    expect(api!.body.toString()).not.toMatch(/import type|: string/); // types erased: plain JavaScript
  });

  it('compiled: read from dist/ next to the running code (the deployed function)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cst-assets-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'dist', 'shared', 'telegram'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'shared', 'telegram', 'html.js'), 'export const built = true;\n');
    const assets = fileAssets({ compiled: true, projectDir: dir });
    expect((await assets.get('lib/html.js'))!.body.toString()).toBe('export const built = true;\n');
    expect(await assets.get('lib/theme.js')).toBeNull(); // not built: not served
  });
});
