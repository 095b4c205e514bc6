/**
 * Guards the layering: `shared/` (domain + ports) knows nothing of GCP, databases or servers, and
 * every function under `functions/` stays a thin entry point.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const FORBIDDEN_IN_SHARED = [
  /^@google-cloud\//,
  /^firebase/,
  /^better-sqlite3$/,
  /^@duckdb\//,
  /^ws$/,
  /^bybit-api$/,
  /^node:http$/,
  /\/infra\//,
  /\/functions\//,
];
/** A thin handler parses, calls the domain and returns: generous, but not a place for logic. */
const MAX_HANDLER_LINES = 120;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
}

describe('layers', () => {
  it('shared/ imports no GCP client, database, server or adapter', () => {
    const offenders: string[] = [];
    for (const file of walk(join(ROOT, 'shared'))) {
      for (const spec of imports(file)) {
        if (FORBIDDEN_IN_SHARED.some((re) => re.test(spec))) offenders.push(`${relative(ROOT, file)} -> ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('function entry points are thin', () => {
    const fat: string[] = [];
    for (const name of readdirSync(join(ROOT, 'functions'))) {
      const entry = join(ROOT, 'functions', name, 'index.ts');
      try {
        const lines = readFileSync(entry, 'utf8').split('\n').length;
        if (lines > MAX_HANDLER_LINES) fat.push(`${name}: ${lines} lines`);
      } catch {
        /* not a function folder (e.g. functions/index.ts) */
      }
    }
    expect(fat).toEqual([]);
  });
});
