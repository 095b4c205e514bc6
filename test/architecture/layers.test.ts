/**
 * Guards the layering and the shape of the functions:
 * - `shared/` (domain + ports) knows nothing of GCP, databases, servers, `infra/` or `functions/`;
 *   `infra/` (adapters, the composition root) never imports `functions/` (the entry points); so the
 *   folders stack shared -> infra -> functions, and no import cycle crosses them;
 * - no import cycle between files (static imports: `import type` is erased by the compiler under
 *   `verbatimModuleSyntax` and loads nothing, and a dynamic `import()` runs after both modules are
 *   loaded, so neither can make a module see another half-initialised; both are left out);
 * - every `functions/<name>/index.ts` is a thin entry (at most 40 lines: it binds its handle, no logic);
 * - one router and one message catalog: Pub/Sub functions route with `routeByTopic`
 *   (shared/messages.ts) and nothing else dispatches on a topic (no ROUTES map, no CloudEvent-source
 *   dispatch, no payload-shape guessing); a bus payload is validated only against its topic's schema in
 *   MESSAGE_SCHEMAS, declared in shared/messages.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { tsFilesUnder } from '../source-files.js';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const LAYERS = ['shared', 'infra', 'functions'] as const;
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
/** A function's cloud entry binds its handle (shared/pipeline/<name>.ts) through infra/functions.ts. */
const MAX_ENTRY_LINES = 40;


const rel = (file: string) => relative(ROOT, file);
const source = (file: string) => readFileSync(file, 'utf8');
/** The source without comments (so a doc comment naming a pattern is not a use of it). */
const code = (file: string) => source(file).replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** Every module specifier a file names (static, type-only and dynamic). */
function imports(file: string): string[] {
  return [...source(file).matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2]) as string);
}

/** The project files a file loads when it is loaded: static imports and re-exports, minus `import type` / `export type`. */
function loads(file: string): string[] {
  const out: string[] = [];
  for (const m of code(file).matchAll(/^\s*(import|export)(\s+type)?\s[^'";]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue;
    const spec = (m[3] ?? m[4]) as string;
    if (!spec.startsWith('.')) continue;
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

const FILES = [...LAYERS, 'scripts'].flatMap((d) => tsFilesUnder(join(ROOT, d)));
const layerOf = (file: string) => rel(file).split('/')[0] as string;

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
function cycles(files: string[], edges: (f: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || edges(v).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

describe('layers', () => {
  it('shared/ imports no GCP client, database, server, adapter or entry point', () => {
    const offenders: string[] = [];
    for (const file of tsFilesUnder(join(ROOT, 'shared'))) {
      for (const spec of imports(file)) {
        if (FORBIDDEN_IN_SHARED.some((re) => re.test(spec))) offenders.push(`${rel(file)} -> ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('infra/ never imports functions/ (entry points import infra and shared, never the reverse)', () => {
    const offenders: string[] = [];
    for (const file of tsFilesUnder(join(ROOT, 'infra'))) {
      for (const spec of imports(file)) if (/(^|\/)functions\//.test(spec)) offenders.push(`${rel(file)} -> ${spec}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the folders stack shared -> infra -> functions: no import points up', () => {
    const up: string[] = [];
    for (const file of FILES.filter((f) => (LAYERS as readonly string[]).includes(layerOf(f)))) {
      const mine = LAYERS.indexOf(layerOf(file) as (typeof LAYERS)[number]);
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const target = layerOf(resolve(dirname(file), spec));
        const theirs = LAYERS.indexOf(target as (typeof LAYERS)[number]);
        if (theirs > mine || target === 'scripts' || target === 'test' || target === 'bench') up.push(`${rel(file)} -> ${spec}`);
      }
    }
    expect(up).toEqual([]);
  });

  it('the cycle finder finds cycles (a self-check of this test)', () => {
    const g: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a', 'd'], d: ['d'], e: ['a'] };
    expect(cycles(Object.keys(g), (v) => g[v] ?? [])).toEqual([['d'], ['a', 'b', 'c']]);
  });

  it('no import cycle between files', () => {
    const known = new Set(FILES);
    const found = cycles(FILES, (f) => loads(f).filter((t) => known.has(t))).map((scc) => scc.map(rel).join(' <-> '));
    expect(found).toEqual([]);
  });
});

describe('functions', () => {
  const entries = readdirSync(join(ROOT, 'functions'))
    .map((name) => join(ROOT, 'functions', name, 'index.ts'))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false; // not a function folder (functions/index.ts, the holder's service)
      }
    });

  it(`every functions/<name>/index.ts is a thin entry (<= ${MAX_ENTRY_LINES} lines)`, () => {
    expect(entries.length).toBeGreaterThanOrEqual(12);
    const fat = entries.map((e) => [rel(e), source(e).split('\n').length] as const).filter(([, lines]) => lines > MAX_ENTRY_LINES);
    expect(fat).toEqual([]);
  });

  it('each entry binds the handle of its own module under shared/pipeline and nothing else', () => {
    const off: string[] = [];
    for (const e of entries) {
      const name = rel(e).split('/')[1]!;
      const specs = imports(e);
      const expected = ['../../infra/functions.js', `../../shared/pipeline/${name}.js`];
      if (specs.length !== expected.length || !expected.every((s) => specs.includes(s))) off.push(`${rel(e)}: ${specs.join(', ')}`);
    }
    expect(off).toEqual([]);
  });
});

describe('one router, one message catalog', () => {
  const SOURCES = tsFilesUnder(join(ROOT, 'shared')).concat(tsFilesUnder(join(ROOT, 'infra')), tsFilesUnder(join(ROOT, 'functions')));
  const MESSAGES = join(ROOT, 'shared', 'messages.ts');
  const ENVELOPE = join(ROOT, 'infra', 'bus', 'envelope.ts');

  it('nothing but shared/messages.ts routes by topic (no ROUTES map, no CloudEvent-source dispatch, no payload-shape guessing)', () => {
    const rules: Array<[RegExp, string]> = [
      [/\bROUTES\b/, 'a ROUTES map'],
      [/\bclassifyPayload\b/, 'payload-shape classification'],
      [/\btopicFromSource\s*\(/, 'dispatch on the CloudEvent source'],
      [/\b(?:event|ev|ce|e)\.source\b/, 'dispatch on the CloudEvent source'],
      [/switch\s*\(\s*(?:msg\.|message\.|m\.)?topic\s*\)/, 'a switch over topics'],
      [/function\s+routeByTopic\b/, 'a second routeByTopic'],
    ];
    const off: string[] = [];
    for (const file of SOURCES) {
      if (file === MESSAGES) continue;
      const text = code(file);
      for (const [re, what] of rules) {
        // The envelope module owns the source -> topic mapping (one delivery's topic, not a route).
        if (file === ENVELOPE && what === 'dispatch on the CloudEvent source') continue;
        if (re.test(text)) off.push(`${rel(file)}: ${what}`);
      }
    }
    expect(off).toEqual([]);
  });

  it('every Pub/Sub function handles its messages through routeByTopic', () => {
    const off: string[] = [];
    for (const e of tsFilesUnder(join(ROOT, 'functions')).filter((f) => f.endsWith('index.ts') && /servePubsub\(/.test(code(f)))) {
      const name = rel(e).split('/')[1]!;
      const mod = join(ROOT, 'shared', 'pipeline', `${name}.ts`);
      if (!/export const handle = routeByTopic\(/.test(code(mod))) off.push(rel(mod));
    }
    expect(off).toEqual([]);
  });

  it('bus payloads are decoded only against MESSAGE_SCHEMAS (no decoder takes its own schema)', () => {
    const off: string[] = [];
    for (const file of SOURCES) {
      const text = code(file);
      // A decoder of envelopes or deliveries that is handed a zod schema is a second catalog.
      if (/\([^)]*(?:PubsubCloudEvent|RawDelivery)[^)]*z\.ZodType/.test(text)) off.push(`${rel(file)}: a decoder taking a schema`);
      if (file !== MESSAGES && /MESSAGE_SCHEMAS\s*=/.test(text)) off.push(`${rel(file)}: a second MESSAGE_SCHEMAS`);
    }
    expect(off).toEqual([]);
  });

  it("each topic's schema is declared in shared/messages.ts (not imported into the catalog from elsewhere)", () => {
    const text = code(MESSAGES);
    const block = /MESSAGE_SCHEMAS\s*=\s*\{([\s\S]*?)\}\s*as const/.exec(text)?.[1] ?? '';
    const values = [...block.matchAll(/\]\s*:\s*([A-Za-z_$][\w$]*)/g)].map((m) => m[1] as string);
    expect(values.length).toBeGreaterThan(0);
    const declaredHere = (id: string) => new RegExp(`(?:const|let)\\s+${id}\\b`).test(text);
    expect(values.filter((v) => !declaredHere(v))).toEqual([]);
  });
});
