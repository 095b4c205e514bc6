/**
 * Makes every chart render its text with the BUNDLED fonts in assets/fonts (DejaVu Sans), whatever
 * fonts the machine has: points fontconfig (used by sharp's librsvg/pango) at assets/fonts/fonts.conf,
 * which lists only that folder. Must run before sharp first lays out text in this process; importing
 * infra/charts/render.ts does it at module load.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const FONTS_CONF_RELATIVE = join('assets', 'fonts', 'fonts.conf');
/** How many folders above this module to look for assets/fonts (source tree and dist/ build). */
const MAX_ASCENT = 6;

/** Absolute path of assets/fonts/fonts.conf, found in the folders above `fromDir`. */
export function findFontsConf(fromDir: string = import.meta.dirname): string {
  let dir = resolve(fromDir);
  for (let i = 0; i <= MAX_ASCENT; i++) {
    const candidate = join(dir, FONTS_CONF_RELATIVE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`bundled chart fonts not found: no ${FONTS_CONF_RELATIVE} above ${fromDir}`);
}

let configured: string | null = null;

/**
 * Sets FONTCONFIG_FILE to the bundled config (idempotent) and returns its path. fontconfig reads the
 * variable when it initialises, i.e. on the first text layout in the process.
 */
export function useBundledFonts(): string {
  if (configured) return configured;
  const conf = findFontsConf();
  process.env.FONTCONFIG_FILE = conf;
  configured = conf;
  return conf;
}
