/**
 * Where the tests find real market data: the ONE place that knows.
 *
 * Two sources, both real exchange data (nothing synthetic):
 * - the repository's own slices, `test/fixtures/` (always there: a fresh clone tests itself).
 *   `KIT_SLICE_DIR` (= test/fixtures/kit) mirrors the kit's layout (`bybit_linear/{SYM}_{1m,5m,15m}.csv`,
 *   `kraken_ohlcvt/original/XBTUSD_5.csv`), cut to the windows the tests use; see its README.
 * - the data kit, `../shared/data` beside the repository (CI has it), or wherever `CST_KIT_DIR`
 *   points (CI sets it to a missing path once to prove the standalone promise). Only tests that
 *   need more than the slices hold (the whole month, the macro engine's 83 days of 15m history,
 *   the 3.4 MB sparse Kraken file) read it, and they SKIP, saying what is missing, when it is absent.
 *
 * Usage:
 *
 *   import { fixture, KIT_SLICE_DIR, kitFile, withKit } from '../kit.js';
 *
 *   const csv = fixture('trading', 'BTCUSDT_1m_20250611_0000_20250613_0600.csv'); // test/fixtures/...
 *   runReplay({ dataDir: KIT_SLICE_DIR, ... });                                    // kit layout, sliced
 *
 *   // A suite (or a single test) that needs the kit: skipped, with a console line and the reason in
 *   // its title, when one of the named kit files is missing. Read the kit only inside the tests /
 *   // hooks (vitest still runs the body of a skipped describe to collect its tests).
 *   const kit = withKit('parity over 12 h', 'bybit_linear/BTCUSDT_1m.csv', 'bybit_linear/BTCUSDT_15m.csv');
 *   describe.skipIf(kit.skip)(kit.title, () => {
 *     beforeAll(() => { data = readFileSync(kitFile('bybit_linear/BTCUSDT_1m.csv'), 'utf8'); });
 *     ...
 *   });
 *   // or: it.skipIf(kit.skip)(kit.title, () => { ... });
 *
 * CI runs `npm test` once with no kit, then again only the test files whose OWN code calls `withKit(` /
 * `kitFile(` or names `KIT_DIR` (.ci/kit-tests.mjs): call them in the test file itself, not only in a
 * helper, or the kit part of the test never runs with the kit.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The repository root. */
export const REPO_ROOT = join(import.meta.dirname, '..');

/** The repository's real-data fixtures. */
export const FIXTURES_DIR = join(REPO_ROOT, 'test', 'fixtures');

/** A path inside test/fixtures. */
export function fixture(...parts: string[]): string {
  return join(FIXTURES_DIR, ...parts);
}

/** The kit-shaped slice of real data bundled with the repository (test/fixtures/kit, see its README). */
export const KIT_SLICE_DIR = fixture('kit');

/** The environment variable that points the tests at the data kit (default `../shared/data`). */
export const KIT_ENV = 'CST_KIT_DIR';

/** The data kit's folder: `$CST_KIT_DIR` when set (relative to the repo root), else `../shared/data`. */
export const KIT_DIR: string = (() => {
  const env = process.env[KIT_ENV];
  if (env !== undefined && env !== '') return isAbsolute(env) ? env : resolve(REPO_ROOT, env);
  return join(REPO_ROOT, '..', 'shared', 'data');
})();

/** A path inside the data kit (`rel` as in the kit, e.g. `bybit_linear/BTCUSDT_1m.csv`). */
export function kitFile(rel: string): string {
  return join(KIT_DIR, rel);
}

/** Kit paths of the Bybit linear klines: `bybit_linear/{SYMBOL}_{INTERVAL}.csv` for every pair. */
export function bybitLinearFiles(symbols: readonly string[], intervals: readonly string[]): string[] {
  return symbols.flatMap((s) => intervals.map((iv) => `bybit_linear/${s}_${iv}.csv`));
}

/** The named kit files (paths relative to the kit) that are not there. */
export function kitMissing(...rels: string[]): string[] {
  return rels.filter((r) => !existsSync(kitFile(r)));
}

/** True when every named kit file is there. */
export function hasKit(...rels: string[]): boolean {
  return kitMissing(...rels).length === 0;
}

export interface KitGate {
  /** True when a named kit file is missing: pass to `describe.skipIf` / `it.skipIf`. */
  skip: boolean;
  /** The title, with the skip reason appended when skipped (reporters show it). */
  title: string;
  /** Why it is skipped ('' when it runs). */
  reason: string;
}

/**
 * Gates a suite or test on kit files. When one is missing it prints one line (stderr, shown by
 * vitest under the file's name) naming the missing files, where they were looked for and how to
 * provide them, and appends the reason to the title.
 */
export function withKit(title: string, ...rels: string[]): KitGate {
  if (rels.length === 0) throw new Error('withKit: name the kit files the test needs');
  const missing = kitMissing(...rels);
  if (missing.length === 0) return { skip: false, title, reason: '' };
  const named = missing.length > 3 ? `${missing.slice(0, 3).join(', ')} and ${missing.length - 3} more` : missing.join(', ');
  const where = existsSync(KIT_DIR) ? `not found in ${KIT_DIR}` : `not found: there is no kit at ${KIT_DIR}`;
  const reason = `needs the data kit: ${named} ${where} (put the kit at ../shared/data or set ${KIT_ENV})`;
  console.warn(`[kit] SKIPPED "${title}": ${reason}`);
  return { skip: true, title: `${title} [skipped: ${reason}]`, reason };
}
