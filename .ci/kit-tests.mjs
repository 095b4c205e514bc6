#!/usr/bin/env node
/**
 * Prints the test files whose behaviour depends on the data kit (../shared/data or $CST_KIT_DIR): by
 * test/kit.ts's rule, a test that reads the kit gates itself with `withKit(...)` in its own file and
 * reads it through `kitFile(...)` / `KIT_DIR`; these are the files whose code (comments removed) names
 * one of them. .ci/run runs the whole suite once with no kit beside a fresh clone (the standalone
 * promise: `npm test`), then only these files again with the kit.
 *
 *   node .ci/kit-tests.mjs            # one path per line, relative to the repository root
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
/** Code (comments removed) that reads or gates on the kit. */
const KIT_MARKER = /\b(withKit|kitFile)\s*\(|\bKIT_DIR\b/;

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Whether a test file's own code reads or gates on the kit. */
export function readsKit(source) {
  return KIT_MARKER.test(stripComments(source));
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : testFiles(p);
    return /\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

export function kitTests(root = ROOT) {
  return testFiles(join(root, 'test'))
    .filter((f) => readsKit(readFileSync(f, 'utf8')))
    .map((f) => relative(root, f))
    .sort();
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.stdout.write(kitTests().join('\n') + '\n');
}
