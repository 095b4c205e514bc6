/**
 * shared/market/candle-csv.ts, the one candle CSV reader, on REAL rows (the Bybit fixture of
 * 2025-06-01 and Kraken's original XBTUSD_60 export) and hostile copies of them; and its consumers
 * that used to read CSV their own way: the replay server's loader refuses a bad row naming file and
 * line (it read anything before), and the strategy series refuses an empty field (it read it as 0).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { badRow, newBadRowReport, readCandleCsv, type CandleCsvRow } from '../../shared/market/candle-csv.js';
import { seriesFromCsv } from '../../shared/strategies/series.js';
import { loadCandlesCsv } from '../../infra/replay/bybit-replay-data.js';

const BYBIT = join(import.meta.dirname, '..', 'fixtures', 'bybit', 'BTCUSDT_1m_2025-06-01T00-03.csv');
const text = readFileSync(BYBIT, 'utf8');
const lines = text.trim().split('\n');
const meta = { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit' } as const;

function read(t: string, formats: 'normalised' | 'any' = 'normalised') {
  const rows: CandleCsvRow[] = [];
  const bad: Array<[number, string]> = [];
  const r = readCandleCsv(t, meta, { formats, source: 'x.csv', onBadRow: (line, reason) => bad.push([line, reason]) }, (row) => rows.push(row));
  return { ...r, rows, bad };
}

describe('readCandleCsv', () => {
  it("reads the kit's format: candles, line numbers and the exact decimal strings", () => {
    const r = read(text);
    expect(r.format).toBe('normalised');
    expect(r.rows).toHaveLength(lines.length - 1);
    expect(r.bad).toEqual([]);
    const [first] = r.rows;
    expect(first).toEqual({
      line: 2,
      candle: { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit', openTime: 1748736000000, open: 104566.1, high: 104611.4, low: 104566.0, close: 104611.4, volume: 55.036 },
      fields: ['1748736000000', '104566.1', '104611.4', '104566.0', '104611.4', '55.036'],
    });
  });

  it('hands every bad row to onBadRow with its line and reason, and keeps reading', () => {
    const [h, a, b, c, d, e] = lines as [string, string, string, string, string, string];
    const damaged = [h, a, 'garbage,line', b.replace(/,[^,]*$/, ','), c.replace(/^1748736120000/, '1748736120001'), d.replace(/^(\d+),([^,]+),([^,]+),([^,]+)/, '$1,$2,$4,$3'), '', e].join('\r\n');
    const r = read(damaged);
    expect(r.rows.map((x) => x.line)).toEqual([2, 8]);
    expect(r.bad).toEqual([
      [3, 'expected 6 columns, got 2'],
      [4, 'non-numeric value'],
      [5, 'open time 2025-06-01T00:02:00.001Z is not on the 1m grid'],
      [6, 'OHLC out of order (need low <= open,close <= high)'],
    ]);
  });

  it("the kit's format only unless told otherwise: a missing header names the source", () => {
    expect(() => read(lines.slice(1).join('\n'))).toThrow(/^x\.csv: expected header 'ts_ms,open,high,low,close,volume', got '1748736000000,/);
    expect(() => read('time,open\n1,2', 'any')).toThrow(/unknown CSV header/);
    expect(() => read('\n\n', 'any')).toThrow(/^x\.csv: empty CSV$/);
  });

  it("reads Kraken's headerless export (seconds, trade counts) with formats 'any'", () => {
    const r = read('1748736000,104566.1,104611.4,104566.0,104611.4,55.036,42\n1748736060,104611.4,104611.4,104555.0,104570.0,32.88', 'any');
    expect(r.format).toBe('kraken');
    expect(r.rows.map((x) => [x.candle.openTime, x.candle.trades])).toEqual([[1748736000000, 42], [1748736060000, undefined]]);
  });
});

describe('the bad-row policy', () => {
  it('refuses naming file and line, or skips and counts', () => {
    expect(() => badRow({ source: 'd/BTCUSDT_1m.csv' }, 7, 'non-numeric value', 'a,b')).toThrow(/^d\/BTCUSDT_1m\.csv:7: non-numeric value: a,b \(refused; --skip-bad-rows/);
    const report = newBadRowReport();
    badRow({ source: 'f.csv', badRows: 'skip', report }, 3, 'why', 'row');
    expect(report).toEqual({ skipped: 1, samples: [{ source: 'f.csv', line: 3, reason: 'why' }] });
  });
});

describe('consumers', () => {
  it('the replay server loader refuses a bad row, naming file and line (it used to read anything)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'candle-csv-'));
    const file = join(dir, 'BTCUSDT_1m.csv');
    const bad = [...lines];
    bad[3] = (bad[3] as string).replace(/,[^,]*$/, ',-1');
    writeFileSync(file, bad.join('\n'));
    expect(() => loadCandlesCsv(file)).toThrow(`${file}:4: negative or non-finite volume`);
    writeFileSync(file, [lines[0], lines[2], lines[1]].join('\n'));
    expect(() => loadCandlesCsv(file)).toThrow(`${file}:3: open times must strictly increase`);
    expect(loadCandlesCsv(BYBIT)).toHaveLength(lines.length - 1);
  });

  it('a strategy series refuses an empty field (it used to read it as 0)', () => {
    const t = [lines[0], (lines[1] as string).replace(/,[^,]*$/, ',')].join('\n');
    expect(() => seriesFromCsv(t, meta, { source: 'e.csv' })).toThrow(/^e\.csv:2: non-numeric value/);
  });
});
