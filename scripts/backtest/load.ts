/** Reading candles for the backtest subcommands: CSV files / folders, Kraken OHLCVT files, the DuckDB warehouse, the MACRO (Kraken-venue) series. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../cli.js';

import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { describeCsv, macroSeriesOf, seriesFromSource, seriesFromWarehouse, trimSeries } from '../../shared/backtest/data.js';
import { INTERVAL_MS, type Interval, type Venue } from '../../shared/model/market.js';

const HOUR = INTERVAL_MS['1h'];
import type { CandleSeries } from '../../shared/strategies/series.js';
import { newBadRowReport } from '../../shared/market/candle-csv.js';
import type { MacroSeries } from '../../shared/backtest/macro.js';
import { type WarmupPlan } from '../../shared/backtest/warmup.js';
export { neededWarmup } from '../../shared/backtest/warmup.js';

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const DEFAULT_DATA = '../shared/data/bybit_linear';
/** The Kraken intervals the MACRO engine reads (SystemConfig kraken.intervals). */
const MACRO_INTERVALS = DEFAULT_SYSTEM_CONFIG.kraken.intervals;

/** What a run reads around its range: [from - warm-up, to] (either end open). */
export interface LoadRange {
  from: number | undefined;
  to: number | undefined;
  /** The config's warm-up (shared/backtest/warmup.ts warmupPlan), `scalpMs` replaced by --warmup-hours when given. */
  warmup: Pick<WarmupPlan, 'scalpMs' | 'macroMs'>;
}

/**
 * The history a run needs before --from (shared/backtest/warmup.ts): the largest of the base config's
 * and every grid option's (`overrides`), so each run of a grid is warm.
 */
/** --warmup-hours N overrides the 1m warm-up the config needs (`plan.scalpMs`). */
export function warmupOverride(v: Record<string, unknown>, plan: Pick<WarmupPlan, 'scalpMs' | 'macroMs'>): Pick<WarmupPlan, 'scalpMs' | 'macroMs'> {
  const raw = v['warmup-hours'];
  if (raw === undefined) return plan;
  const h = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(h) || h < 0) fail(`--warmup-hours must be a number of hours >= 0 (got '${String(raw)}')`);
  return { ...plan, scalpMs: Math.round(h * HOUR) };
}

export function csvFiles(paths: string[]): Array<{ file: string; symbol?: string }> {
  const out: Array<{ file: string; symbol?: string }> = [];
  for (const entry of paths) {
    const eq = entry.indexOf('=');
    const symbol = eq > 0 ? entry.slice(0, eq).trim().toUpperCase() : undefined;
    const p = eq > 0 ? entry.slice(eq + 1).trim() : entry;
    const abs = resolve(p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      fail(`--data: ${p} does not exist`);
    }
    if (st.isDirectory()) {
      let dir = abs;
      let names = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.csv'));
      // The kit folder itself (its candles are in bybit_linear/): kept for the old --htf-data form.
      if (names.length === 0 && existsSync(join(dir, 'bybit_linear'))) {
        dir = join(dir, 'bybit_linear');
        names = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.csv'));
      }
      for (const f of names.sort()) out.push({ file: join(dir, f) });
    } else out.push(symbol ? { file: abs, symbol } : { file: abs });
  }
  return out;
}

/**
 * The 1m series of the run: [from - warm-up, to] from the warehouse, or the CSV files cut to the same
 * window (a file that starts later gives what it has: the run's warm-up report says which component
 * could not compute and for how long). Both sources give the same series for the same candles.
 */
export async function loadSeries(v: Record<string, string | boolean | string[] | undefined>, symbols: string[], range: LoadRange): Promise<CandleSeries[]> {
  const { from, to } = range;
  const start = from === undefined ? undefined : from - range.warmup.scalpMs;
  if (typeof v.warehouse === 'string') {
    const venue = venueOf(v.venue, '--venue', 'bybit');
    const byIv = await readWarehouse(v.warehouse, symbols, ['1m'], venue, () => ({ ...(start !== undefined ? { fromMs: start } : {}), ...(to !== undefined ? { toMs: to } : {}) }));
    return symbols.map((symbol) => {
      const s = byIv.get(symbol)?.[0];
      if (!s) fail(`the warehouse ${v.warehouse} has no ${venue} 1m candles of ${symbol}${start !== undefined || to !== undefined ? ' in the range' : ''} (fill it with download-data)`);
      return s;
    });
  }
  const files = csvFiles(String(v.data ?? DEFAULT_DATA).split(',').map((s) => s.trim()).filter(Boolean));
  const bySymbol = new Map<string, { file: string; symbol?: string }>();
  for (const f of files) {
    let d;
    try {
      d = describeCsv(f.file, DEFAULT_SYSTEM_CONFIG, f.symbol);
    } catch (e) {
      if (f.symbol) fail((e as Error).message);
      continue; // a folder's file that is not a candle file of a known symbol
    }
    if (d.interval !== '1m' || !symbols.includes(d.symbol)) continue;
    const prev = bySymbol.get(d.symbol);
    if (prev) fail(`two 1m files for ${d.symbol}: ${prev.file} and ${f.file}`);
    bySymbol.set(d.symbol, f);
  }
  return symbols.map((s) => {
    const f = bySymbol.get(s);
    if (!f) fail(`no 1m CSV for ${s} in --data (expected ${s}_1m.csv, a Kraken PAIR_1.csv or ${s}=FILE)`);
    const series = readCsv(f, v['skip-bad-rows'] === true);
    const cut = trimSeries(series, start, to);
    if (cut.length === 0) fail(`${f.file} has no candles in ${iso(start)} .. ${iso(to)}`);
    return cut;
  });
}

function iso(t: number | undefined): string {
  return t === undefined ? '(open)' : new Date(t).toISOString();
}

function venueOf(raw: unknown, flag: string, dflt: Venue): Venue {
  const venue = raw === undefined ? dflt : String(raw);
  if (venue !== 'bybit' && venue !== 'kraken') fail(`${flag} must be bybit or kraken (got '${venue}')`);
  return venue;
}

/** One CSV file as a series through the candle gate (a bad row: its file and line, or skipped with --skip-bad-rows). */
function readCsv(f: { file: string; symbol?: string }, skipBadRows: boolean): CandleSeries {
  try {
    const gate = { badRows: skipBadRows ? ('skip' as const) : ('refuse' as const), report: badRows };
    return seriesFromSource({ name: f.file, text: readFileSync(f.file, 'utf8') }, DEFAULT_SYSTEM_CONFIG, f.symbol ? { symbol: f.symbol, ...gate } : gate);
  } catch (e) {
    const m = (e as Error).message;
    fail(m.startsWith(f.file) ? m : `${f.file}: ${m}`);
  }
}

/** Series per symbol and interval from a DuckDB warehouse file (table ohlcv), read only. */
async function readWarehouse(
  file: string,
  symbols: readonly string[],
  intervals: readonly Interval[],
  venue: Venue,
  range: (iv: Interval) => { fromMs?: number; toMs?: number },
): Promise<Map<string, CandleSeries[]>> {
  const abs = resolve(file);
  if (!existsSync(abs)) fail(`warehouse ${file} does not exist (fill one with download-data)`);
  const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
  const wh = new DuckDbWarehouse({ file: abs });
  const out = new Map<string, CandleSeries[]>();
  try {
    for (const symbol of symbols) {
      const list: CandleSeries[] = [];
      for (const interval of intervals) {
        const candles = await wh.candles({ symbol, interval, venue, ...range(interval) });
        if (candles.length > 0) list.push(seriesFromWarehouse(candles));
      }
      out.set(symbol, list);
    }
  } finally {
    await wh.close();
  }
  return out;
}

/** Rows the candle gate refused and --skip-bad-rows skipped (reported on stderr after loading). */
export const badRows = newBadRowReport();

/**
 * The MACRO engine's Kraken-venue series (--htf-data), from ANY source:
 * - a DuckDB warehouse file (`*.duckdb`): venue `--htf-venue` (default kraken), intervals 5m / 15m /
 *   1h / 4h, each read over [from - its warm-up, to];
 * - CSV folders and/or files, comma-separated, whatever the folder is called: per symbol its
 *   SYMBOL_5m.csv / SYMBOL_15m.csv (and 60m / 240m, or Kraken PAIR_5 / 15 / 60 / 240 OHLCVT files);
 *   the kit folder itself (holding bybit_linear/) still works. Per interval, the file's own candles or
 *   complete buckets resampled from a finer file, whichever reaches further back
 *   (shared/backtest/data.ts `macroSeriesOf`: on the kit, what the month replay uses).
 * Every series is then cut to [from - the interval's warm-up - 1 interval, to] (all of it without --from).
 */
export async function loadMacroSeries(spec: string, symbols: string[], range: LoadRange, v: Record<string, unknown> = {}): Promise<MacroSeries> {
  const { from, to } = range;
  const startOf = (iv: Interval) => (from === undefined ? undefined : from - (range.warmup.macroMs[iv] ?? 0) - INTERVAL_MS[iv]);
  const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
  const paths = spec.split(',').map((x) => x.trim()).filter(Boolean);
  if (paths.length === 1 && /\.duckdb$/i.test(paths[0] as string)) {
    const venue = venueOf(v['htf-venue'], '--htf-venue', 'kraken');
    // Every interval over the longest warm-up, so a missing 1h / 4h can be resampled from 15m.
    const longest = Math.min(...MACRO_INTERVALS.map((iv) => startOf(iv) ?? Number.POSITIVE_INFINITY));
    const byIv = await readWarehouse(paths[0] as string, symbols, MACRO_INTERVALS, venue, () => ({ ...(Number.isFinite(longest) ? { fromMs: longest } : {}), ...(to !== undefined ? { toMs: to } : {}) }));
    for (const s of symbols) {
      const series = macroSeriesOf(byIv.get(s) ?? [], MACRO_INTERVALS);
      if (!series['5m'] || !series['15m']) fail(`--htf-data: the warehouse ${paths[0]} has no ${venue} 5m and 15m candles of ${s}${from !== undefined ? ' before --to' : ''} (fill it with download-data, or give --htf-venue)`);
      out[s] = cut(series, startOf, to);
    }
    return out;
  }
  if (v['htf-venue'] !== undefined) fail('--htf-venue applies to a warehouse file (--htf-data FILE.duckdb) only');
  const files = csvFiles(paths);
  const bySymbol = new Map<string, Array<{ file: string; symbol?: string; interval: Interval }>>();
  for (const f of files) {
    let d;
    try {
      d = describeCsv(f.file, DEFAULT_SYSTEM_CONFIG, f.symbol);
    } catch (e) {
      if (f.symbol) fail(`--htf-data: ${(e as Error).message}`);
      continue;
    }
    if (d.interval === '1m' || !symbols.includes(d.symbol) || !MACRO_INTERVALS.some((iv) => INTERVAL_MS[iv] % INTERVAL_MS[d.interval] === 0)) continue;
    const list = bySymbol.get(d.symbol) ?? [];
    const twin = list.find((x) => x.interval === d.interval);
    if (twin) fail(`--htf-data: two ${d.interval} files for ${d.symbol}: ${twin.file} and ${f.file}`);
    list.push({ ...f, interval: d.interval });
    bySymbol.set(d.symbol, list);
  }
  for (const s of symbols) {
    const list = bySymbol.get(s) ?? [];
    for (const iv of ['5m', '15m'] as const) {
      if (!list.some((x) => x.interval === iv)) fail(`--htf-data: no ${iv} candles of ${s} in ${spec} (expected ${s}_${iv}.csv or a Kraken PAIR_${INTERVAL_MS[iv] / 60_000}.csv in the folder)`);
    }
    out[s] = cut(macroSeriesOf(list.map((f) => readCsv(f, v['skip-bad-rows'] === true)), MACRO_INTERVALS), startOf, to);
  }
  return out;
}

function cut(series: Partial<Record<Interval, CandleSeries>>, startOf: (iv: Interval) => number | undefined, to: number | undefined): Partial<Record<Interval, CandleSeries>> {
  const out: Partial<Record<Interval, CandleSeries>> = {};
  for (const [iv, s] of Object.entries(series) as Array<[Interval, CandleSeries]>) {
    const c = trimSeries(s, startOf(iv), to);
    if (c.length > 0) out[iv] = c;
  }
  return out;
}
