/**
 * CI runs the whole suite once without the data kit (`npm test` in a fresh clone) and then only the
 * test files .ci/kit-tests.mjs lists again with the kit. A test that reads the kit must therefore be
 * listed, or its kit part would never run in CI.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error - a plain .mjs script without types (.ci/kit-tests.mjs)
import { kitTests, readsKit } from '../../.ci/kit-tests.mjs';
import { REPO_ROOT } from '../kit.js';
import { tsFilesUnder } from '../source-files.js';

describe('.ci/kit-tests.mjs', () => {
  const listed = new Set<string>(kitTests(REPO_ROOT) as string[]);

  it('lists every test file whose own code gates on or reads the kit, and only those', () => {
    const tests = tsFilesUnder(join(REPO_ROOT, 'test'))
      .map((f) => relative(REPO_ROOT, f))
      .filter((f) => f.endsWith('.test.ts') && !f.startsWith('test/fixtures/'));
    expect(tests.length).toBeGreaterThan(100);
    for (const f of tests) {
      const src = readFileSync(join(REPO_ROOT, f), 'utf8');
      const usesKit = /\bwithKit\(|\bkitFile\(|\bKIT_DIR\b/.test(src.replace(/\/\*[\s\S]*?\*\//g, ''));
      expect(listed.has(f), f).toBe(usesKit);
    }
    // the month-long replay and the month's caps are kit tests; a slice-only test is not
    expect(listed).toContain('test/pipeline/replay.test.ts');
    expect(listed).toContain('test/trading/caps-month.test.ts');
    expect(listed).not.toContain('test/backtest/parity.test.ts');
  });

  it('reads code, not comments', () => {
    expect(readsKit("const k = withKit('month', 'bybit_linear/BTCUSDT_1m.csv');")).toBe(true);
    expect(readsKit('runReplay({ dataDir: KIT_DIR });')).toBe(true);
    expect(readsKit('// gate on the kit with withKit(...) when you need the month\nconst d = KIT_SLICE_DIR;')).toBe(false);
    expect(readsKit('/** read with kitFile(...) behind withKit */ const d = fixture("kit");')).toBe(false);
  });
});
