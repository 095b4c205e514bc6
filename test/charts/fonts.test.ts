/**
 * Chart text uses the BUNDLED DejaVu Sans whatever the machine's fonts: the renderer points fontconfig
 * at assets/fonts/fonts.conf. Proven in fresh processes whose environment points fontconfig at a config
 * with NO fonts at all (what a bare container looks like): text then renders as empty boxes for plain
 * sharp, but the chart renderer still produces the very same bytes as here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { findFontsConf, useBundledFonts } from '../../infra/charts/fonts.js';
import { renderTradeChart, svgToPng } from '../../infra/charts/render.js';
import { longScenario } from './fixtures.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'render-child.ts');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const NO_FONTS_CONF = `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig></fontconfig>
`;
const TEXT_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="40"><rect width="220" height="40" fill="#000"/>' +
  '<text x="8" y="28" font-family="DejaVu Sans" font-size="20" fill="#fff">BTCUSDT 1m</text></svg>';

async function child(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, env });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>;
}

describe('bundled chart font', () => {
  let noFontsEnv: NodeJS.ProcessEnv;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'cst-nofonts-'));
    const conf = join(dir, 'fonts.conf');
    writeFileSync(conf, NO_FONTS_CONF);
    noFontsEnv = { ...process.env, FONTCONFIG_FILE: conf, FONTCONFIG_PATH: dir };
  });

  it('ships DejaVu Sans (regular + bold), its licence and a fontconfig file listing only that folder', () => {
    const conf = findFontsConf();
    expect(conf).toBe(join(REPO, 'assets', 'fonts', 'fonts.conf'));
    // The built module (dist/infra/charts) finds the same folder at the repository root.
    expect(findFontsConf(join(REPO, 'dist', 'infra', 'charts'))).toBe(conf);
    expect(() => findFontsConf(tmpdir())).toThrow(/bundled chart fonts not found/);
    const xml = readFileSync(conf, 'utf8');
    expect(xml).toContain('<dir prefix="relative">.</dir>');
    expect(xml.match(/<dir[\s>]/g)).toHaveLength(1);
    for (const f of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) {
      const ttf = readFileSync(join(REPO, 'assets', 'fonts', f));
      expect(ttf.subarray(0, 4).toString('hex')).toBe('00010000'); // TrueType sfnt version
      expect(ttf.length).toBeGreaterThan(500_000);
    }
    expect(readFileSync(join(REPO, 'assets', 'fonts', 'LICENSE'), 'utf8')).toContain('Bitstream Vera');
    // Importing the renderer pointed fontconfig at it.
    expect(process.env.FONTCONFIG_FILE).toBe(conf);
    expect(useBundledFonts()).toBe(conf);
  });

  it('renders chart text identically in a process whose fontconfig has no fonts', async () => {
    const here = await renderTradeChart(longScenario());
    const fresh = await child(['chart'], noFontsEnv);
    expect(fresh.fontconfigFile).toBe(findFontsConf());
    expect(fresh.sha256).toBe(sha(here.png));
  });

  it('control: without the bundled config the same text comes out different (missing-glyph boxes)', async () => {
    const withBundled = sha(await sharp(await svgToPng(TEXT_SVG)).raw().toBuffer());
    const bare = await child(['raw', TEXT_SVG], noFontsEnv);
    expect(bare.sha256).not.toBe(withBundled);
    // And sharp pointed at the bundled config by hand gives exactly what the renderer gives.
    const byHand = await child(['raw', TEXT_SVG], { ...process.env, FONTCONFIG_FILE: findFontsConf() });
    expect(byHand.sha256).toBe(withBundled);
  });
});
