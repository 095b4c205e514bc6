/** Reading candles for the backtest subcommands: CSV files / folders, Kraken OHLCVT files, the DuckDB warehouse, the MACRO (Kraken-venue) series. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../cli.js';
import { HOUR } from './args.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { describeCsv, seriesFromSource, seriesFromWarehouse } from '../../shared/backtest/data.js';
import type { Interval } from '../../shared/model/market.js';
import { seriesFromCandles, type CandleSeries } from '../../shared/strategies/series.js';
import { newBadRowReport } from '../../shared/market/candle-csv.js';
import type { MacroSeries } from '../../shared/backtest/macro.js';
import { krakenCandles } from '../../infra/replay/kit-data.js';

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const DEFAULT_DATA = '../shared/data/bybit_linear';
/** History loaded before --from from the warehouse: the engines' longest look-back (73 h of 1h buckets) + 1 h. */
export const DEFAULT_WARMUP_HOURS = 74;

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
      for (const f of readdirSync(abs).sort()) if (f.toLowerCase().endsWith('.csv')) out.push({ file: join(abs, f) });
    } else out.push(symbol ? { file: abs, symbol } : { file: abs });
  }
  return out;
}

export async function loadSeries(v: Record<string, string | boolean | string[] | undefined>, symbols: string[], from: number | undefined, to: number | undefined): Promise<CandleSeries[]> {
  if (typeof v.warehouse === 'string') {
    const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
    const wh = new DuckDbWarehouse({ file: resolve(v.warehouse) });
    try {
      const warm = Number(v['warmup-hours'] ?? DEFAULT_WARMUP_HOURS) * HOUR;
      const venue = (v.venue as 'bybit' | 'kraken' | undefined) ?? 'bybit';
      const out: CandleSeries[] = [];
      for (const symbol of symbols) {
        const candles = await wh.candles({ symbol, interval: '1m', venue, ...(from !== undefined ? { fromMs: from - warm } : {}), ...(to !== undefined ? { toMs: to } : {}) });
        if (candles.length === 0) fail(`the warehouse has no ${venue} 1m candles of ${symbol} in the range`);
        out.push(seriesFromWarehouse(candles));
      }
      return out;
    } finally {
      await wh.close();
    }
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
    try {
      const gate = { badRows: v['skip-bad-rows'] === true ? ('skip' as const) : ('refuse' as const), report: badRows };
      return seriesFromSource({ name: f.file, text: readFileSync(f.file, 'utf8') }, DEFAULT_SYSTEM_CONFIG, f.symbol ? { symbol: f.symbol, ...gate } : gate);
    } catch (e) {
      const m = (e as Error).message;
      fail(m.startsWith(f.file) ? m : `${f.file}: ${m}`);
    }
  });
}

/** Rows the candle gate refused and --skip-bad-rows skipped (reported on stderr after loading). */
export const badRows = newBadRowReport();

/** The Kraken-venue series of the month replay (infra/replay/kit-data.ts `krakenCandles`: 5m / 15m files, 1h / 4h resampled). */
export function loadMacroSeries(dir: string, symbols: string[]): MacroSeries {
  const abs = resolve(dir);
  // krakenCandles reads {kit}/bybit_linear/{SYMBOL}_{5m,15m}.csv
  const kit = basename(abs) === 'bybit_linear' ? dirname(abs) : abs;
  for (const s of symbols) {
    for (const f of [`${s}_5m.csv`, `${s}_15m.csv`]) {
      if (!existsSync(join(kit, 'bybit_linear', f))) fail(`--htf-data: ${join(kit, 'bybit_linear', f)} does not exist (give the kit's bybit_linear folder or the folder above it)`);
    }
  }
  const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
  for (const s of symbols) {
    const byIv: Partial<Record<Interval, CandleSeries>> = {};
    for (const [iv, list] of krakenCandles(kit, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) if (list.length > 0) byIv[iv] = seriesFromCandles(list);
    out[s] = byIv;
  }
  return out;
}
