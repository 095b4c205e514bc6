/**
 * Cold-start benchmark: for every function, a fresh Node process (through tsx, as `npm start` and the
 * tests run the code) imports what its deployed process imports, timing the import and counting the
 * files it loaded (bench/cold-start-probe.mjs): a Cloud Function loads the package's `main`
 * (functions/index.ts) with FUNCTION_TARGET set to its name; the webhook and the holder are Cloud Run
 * services started from their `server.ts`. Baseline in the same run: importing an empty module the same way
 * (bench/cold-start-empty.ts), so `ratio_vs_empty` is what the function's own closure costs over node
 * + tsx. Median of TIMED runs after one warm-up run (tsx's transform cache). Prints one JSON line per
 * function; `--root DIR` measures another checkout of the repository (the before/after comparison).
 *
 *   npx tsx bench/cold-start.ts [--root DIR] [name ...]
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TIMED = 3;
const PROBE = fileURLToPath(new URL('./cold-start-probe.mjs', import.meta.url));
const EMPTY = fileURLToPath(new URL('./cold-start-empty.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Every deployable and its process entry (the holder is a Cloud Run service with its own server). */
export const COLD_START_ENTRIES: Record<string, string> = {
  'candle-ingest': 'functions/index.ts',
  'tick-archive': 'functions/index.ts',
  'micro-scalp': 'functions/index.ts',
  execution: 'functions/index.ts',
  notifier: 'functions/index.ts',
  'kraken-pull': 'functions/index.ts',
  'macro-analysis': 'functions/index.ts',
  'health-check': 'functions/index.ts',
  'config-check': 'functions/index.ts',
  'retention-cleanup': 'functions/index.ts',
  reports: 'functions/index.ts',
  'telegram-webhook': 'functions/telegram-webhook/server.ts',
  'bybit-holder': 'functions/bybit-holder/server.ts',
};

interface Probe {
  ms: number;
  modules: number;
  project_modules: number;
  heavy: string[];
}

export interface ColdStartResult {
  bench: 'cold_start';
  function: string;
  /** Median ms to import the entry in a fresh process. */
  import_ms: number;
  /** Median ms to import an empty module the same way. */
  baseline_ms: number;
  ratio_vs_empty: number;
  /** Files loaded by the import (project + node_modules), and the project's own among them. */
  modules: number;
  project_modules: number;
  /** Native add-ons and cloud clients among the loaded files. */
  heavy: string[];
}

function probe(cwd: string, file: string, target?: string): Probe {
  const env = { ...process.env, NODE_NO_WARNINGS: '1', ...(target ? { FUNCTION_TARGET: target } : {}) };
  const r = spawnSync(process.execPath, ['--import', TSX, PROBE, pathToFileURL(file).href], { cwd, encoding: 'utf8', env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`cold-start probe of ${file} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Probe;
}

function measure(cwd: string, file: string, target?: string): Probe {
  probe(cwd, file, target);
  const runs = Array.from({ length: TIMED }, () => probe(cwd, file, target));
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[TIMED >> 1]!;
  return { ...runs[runs.length - 1]!, ms };
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export async function runColdStartBench(opts: { print?: boolean; root?: string; only?: string[] } = {}): Promise<ColdStartResult[]> {
  const root = resolve(opts.root ?? join(import.meta.dirname, '..'));
  const baseline = measure(root, EMPTY);
  const out: ColdStartResult[] = [];
  for (const [name, entry] of Object.entries(COLD_START_ENTRIES)) {
    if (opts.only?.length && !opts.only.includes(name)) continue;
    const m = measure(root, join(root, entry), name);
    const r: ColdStartResult = {
      bench: 'cold_start',
      function: name,
      import_ms: round(m.ms),
      baseline_ms: round(baseline.ms),
      ratio_vs_empty: round(m.ms / baseline.ms, 2),
      modules: m.modules - baseline.modules,
      project_modules: m.project_modules,
      heavy: m.heavy,
    };
    if (opts.print) process.stdout.write(`${JSON.stringify(r)}\n`);
    out.push(r);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ options: { root: { type: 'string' } }, allowPositionals: true });
  await runColdStartBench({ print: true, only: positionals, ...(values.root ? { root: values.root } : {}) });
}
