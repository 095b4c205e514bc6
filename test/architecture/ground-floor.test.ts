/**
 * The ground floor: the market and trading vocabulary (shared/model/) imports nothing but zod, and the
 * ports, config and charts take their vocabulary from it, never from the logic that uses it (the
 * trading core and book, the strategies, the pipeline, Telegram, market-data handling).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { tsFilesUnder } from '../source-files.js';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** What ports, config and charts may import: the ground floor, the catalogs, and each other. */
const ALLOWED_FOR_PORTS_CONFIG_CHARTS = [
  'shared/model/',
  'shared/ports/',
  'shared/config/',
  'shared/charts/',
  'shared/state-paths.ts',
  'shared/topics.ts',
  // The message catalog: ConfigService publishes its config alerts through the typed publish.
  'shared/messages.ts',
  'shared/warehouse-schema.ts',
  'shared/alerts.ts',
  'shared/log.ts',
];


/** Import specifiers of a file (static, re-exports and dynamic). */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2]) as string);
}

/** A relative specifier as a repo path (`shared/model/market.ts`); a package name as itself. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
}

describe('ground floor', () => {
  it('shared/model imports nothing but zod and itself', () => {
    const offenders = tsFilesUnder(join(ROOT, 'shared', 'model')).flatMap((f) =>
      imports(f)
        .map((s) => target(f, s))
        .filter((t) => t !== 'zod' && !t.startsWith('shared/model/'))
        .map((t) => `${relative(ROOT, f)} -> ${t}`),
    );
    expect(offenders).toEqual([]);
  });

  it('ports, config and charts import only the ground floor, the catalogs and each other', () => {
    const files = ['ports', 'config', 'charts'].flatMap((d) => tsFilesUnder(join(ROOT, 'shared', d)));
    const offenders = files.flatMap((f) =>
      imports(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => target(f, s))
        .filter((t) => !ALLOWED_FOR_PORTS_CONFIG_CHARTS.some((a) => (a.endsWith('/') ? t.startsWith(a) : t === a)))
        .map((t) => `${relative(ROOT, f)} -> ${t}`),
    );
    expect(offenders).toEqual([]);
  });
});
