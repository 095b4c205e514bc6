/**
 * Kraken's quarterly OHLCVT files: parsing both formats, file-name inference, validation, and the
 * import of the real original/XBTUSD_60.csv (Kraken's headerless format) into DuckDB.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { barsCollection } from '../../shared/state-paths.js';
import { importOhlcvt, parseOhlcvtCsv, parseOhlcvtFileName } from '../../shared/market/kraken/ohlcvt.js';
import { symbolForKrakenPair } from '../../shared/market/kraken/pairs.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { FIXTURES, embeddedEnv, type Env } from './helpers.js';

const H60 = join(FIXTURES, 'original', 'XBTUSD_60.csv');
const h60Text = readFileSync(H60, 'utf8');
const h60Lines = h60Text.trim().split('\n');
const quality = DEFAULT_SYSTEM_CONFIG.dataQuality;
const REPO = join(import.meta.dirname, '..', '..');

let env: Env | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('file names and pairs', () => {
  it('infers pair and interval from Kraken file names', () => {
    expect(parseOhlcvtFileName('XBTUSD_5.csv')).toEqual({ pair: 'XBTUSD', intervalMinutes: 5, interval: '5m' });
    expect(parseOhlcvtFileName('/data/q1/XBTUSD_1440.csv')).toEqual({ pair: 'XBTUSD', intervalMinutes: 1440, interval: '1d' });
    expect(parseOhlcvtFileName('XBTUSD_240_derived_from_60.csv')).toMatchObject({ intervalMinutes: 240, interval: '4h' });
    expect(() => parseOhlcvtFileName('XBTUSD.csv')).toThrow(/expected PAIR_MINUTES.csv/);
    expect(() => parseOhlcvtFileName('XBTUSD_30.csv')).toThrow(/30-minute candles are not an interval this system stores/);
  });

  it('maps Kraken pair names to system symbols, never guessing other quotes', () => {
    expect(symbolForKrakenPair('XBTUSD')).toBe('BTCUSDT');
    expect(symbolForKrakenPair('XXBTZUSD')).toBe('BTCUSDT');
    expect(symbolForKrakenPair('XDGUSD')).toBe('DOGEUSDT');
    expect(symbolForKrakenPair('XBTUSDT')).toBeUndefined();
    expect(symbolForKrakenPair('XBTUSD', DEFAULT_SYSTEM_CONFIG)).toBe('BTCUSDT'); // config says XXBTZUSD
  });
});

describe('parsing', () => {
  it("reads Kraken's headerless format with trade counts", () => {
    const r = parseOhlcvtCsv(h60Text, { symbol: 'BTCUSDT', interval: '1h' });
    expect(r).toMatchObject({ format: 'kraken', rows: 2_160, rejected: 0, duplicates: 0, unsorted: false });
    expect(r.candles[0]).toEqual({
      symbol: 'BTCUSDT', interval: '1h', venue: 'kraken', openTime: 1672531200_000,
      open: 16528.7, high: 16530.0, low: 16505.2, close: 16519.3, volume: 96.61968029, trades: 803,
    });
  });

  it('reads the normalised header format', () => {
    const r = parseOhlcvtCsv(readFileSync(join(FIXTURES, 'XBTUSD_5.csv'), 'utf8'), { symbol: 'BTCUSDT', interval: '5m' });
    expect(r.format).toBe('normalised');
    expect(r.candles[0]).toMatchObject({ openTime: 1675296000000, open: 23735.3, high: 23766.4, low: 23717.2, close: 23718.7, volume: 48.96551429 });
    expect(r.candles[0]!.trades).toBeUndefined();
  });

  it('rejects unusable lines with reasons, sorts, and de-duplicates (real lines, damaged copies)', () => {
    const [a, b, c] = h60Lines as [string, string, string];
    const damaged = [b, a, 'garbage,line', a.replace(/^1672531200/, '1672531260'), c.replace(/,16539\.1,/, ',x,'), c].join('\n');
    const r = parseOhlcvtCsv(damaged, { symbol: 'BTCUSDT', interval: '1h' });
    expect(r.candles.map((x) => x.openTime)).toEqual([1672531200000, 1672534800000, 1672538400000]);
    expect(r).toMatchObject({ rows: 6, rejected: 3, duplicates: 0, unsorted: true });
    expect(r.rejectedSamples.map((x) => [x.line, x.reason])).toEqual([
      [3, 'expected 7 or 6 columns, got 2'],
      [4, 'open time 2023-01-01T00:01:00.000Z is not on the 1h grid'],
      [5, 'non-numeric value'],
    ]);
    expect(() => parseOhlcvtCsv('time,open\n1,2', { symbol: 'BTCUSDT', interval: '1h' })).toThrow(/unknown CSV header/);
  });
});

describe('import', () => {
  it('round-trips original/XBTUSD_60.csv into DuckDB (count equals rows), idempotently', async () => {
    env = await embeddedEnv();
    const deps = { warehouse: env.warehouse, state: env.state, clock: new ManualClock(Date.UTC(2024, 0, 1)), quality };
    const progress: number[] = [];
    const s = await importOhlcvt(deps, { fileName: H60, text: h60Text, hotCandles: 100, batchRows: 500, onProgress: (d) => progress.push(d) });
    expect(s).toMatchObject({ pair: 'XBTUSD', symbol: 'BTCUSDT', interval: '1h', format: 'kraken', rows: 2_160, candles: 2_160, missing: 0, flagged: 0, hotWritten: 100 });
    expect(progress).toEqual([0, 500, 1000, 1500, 2000, 2160]);
    expect(await env.warehouse.count('ohlcv')).toBe(h60Lines.length);
    const back = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '1h', venue: 'kraken' });
    expect(back).toHaveLength(2_160);
    const lastLine = h60Lines[h60Lines.length - 1]!.split(',').map(Number);
    expect(back[back.length - 1]).toMatchObject({ openTime: lastLine[0]! * 1000, open: lastLine[1], close: lastLine[4], volume: lastLine[5], trades: lastLine[6] });
    const hot = await env.state.query(barsCollection('kraken', 'BTCUSDT', '1h'));
    expect(hot).toHaveLength(100);
    expect(Math.min(...hot.map((d) => d.data.openTime as number))).toBe(back[2_060]!.openTime);

    await importOhlcvt(deps, { fileName: H60, text: h60Text });
    expect(await env.warehouse.count('ohlcv')).toBe(2_160);
  });

  it('needs an explicit symbol for pairs that are not aliased', async () => {
    env = await embeddedEnv();
    await expect(
      importOhlcvt({ warehouse: env.warehouse, clock: new ManualClock(0), quality }, { fileName: 'XBTUSDT_5.csv', text: h60Lines[0]! }),
    ).rejects.toThrow(/cannot map Kraken pair XBTUSDT to a system symbol .* pass --symbol/);
  });

  it('flags impossible candles on import (one real line altered) and stores them flagged', async () => {
    env = await embeddedEnv();
    // ALTERED DATA: the second real hour's high set to 3x its open.
    const cols = h60Lines[1]!.split(',');
    cols[2] = String(Number(cols[1]) * 3);
    const text = [h60Lines[0], cols.join(','), h60Lines[2]].join('\n');
    const s = await importOhlcvt({ warehouse: env.warehouse, clock: new ManualClock(0), quality }, { fileName: 'XBTUSD_60.csv', text });
    expect(s.flagged).toBe(1);
    const back = await env.warehouse.candles({ symbol: 'BTCUSDT', interval: '1h' });
    expect(back.map((c) => c.flags ?? [])).toEqual([[], ['bad_data'], []]);
  });
});

describe('CLI scripts/import-ohlcvt.ts', () => {
  it('imports into a DuckDB file and prints the summary table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ohlcvt-'));
    try {
      const db = join(dir, 'w.duckdb');
      const run = promisify(execFile);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/import-ohlcvt.ts', H60, join(FIXTURES, 'XBTUSD_5.csv'), '--duckdb', db], { cwd: REPO });
      expect(stdout).toMatch(/XBTUSD_60\.csv\s+BTCUSDT\s+1h\s+kraken\s+2160/);
      expect(stdout).toMatch(/XBTUSD_5\.csv\s+BTCUSDT\s+5m\s+normalised\s+5817 .* 16\s+2\s+0/);
      expect(stdout).toContain('2023-02-22 00:15 .. 2023-02-22 01:25  (15)');
      const w = new DuckDbWarehouse({ file: db });
      try {
        expect(await w.count('ohlcv')).toBe(2_160 + 5_817);
      } finally {
        await w.close();
      }
      const help = await run(process.execPath, ['--import', 'tsx', 'scripts/import-ohlcvt.ts', '--help'], { cwd: REPO });
      expect(help.stdout).toContain('Usage: npx tsx scripts/import-ohlcvt.ts <files...>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
