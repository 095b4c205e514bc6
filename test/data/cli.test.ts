/**
 * The download-data and list-data commands end to end: a local Bybit v5 REST server and a local
 * Kraken REST server over real candles (test/fixtures), a temp DuckDB warehouse, then the backtester
 * reading what was downloaded (`backtest --warehouse FILE --venue bybit`).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BybitKlineRestServer } from '../../infra/replay/bybit-kline-server.js';
import { KrakenRestServer } from '../../infra/replay/kraken-server.js';
import { parseOhlcvtCsv } from '../../shared/market/kraken/ohlcvt.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { fixture, KIT_SLICE_DIR } from '../kit.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cst-download-cli-'));
const run = promisify(execFile);

async function cli(script: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

const csv = (file: string, symbol: string, venue: 'bybit' | 'kraken', interval: '1m' | '5m') => parseOhlcvtCsv(readFileSync(file, 'utf8'), { symbol, interval, venue }).candles;

describe('download-data / list-data CLI', () => {
  let bybit: BybitKlineRestServer;
  let kraken: KrakenRestServer;
  const warehouse = join(dir, 'warehouse.duckdb');

  beforeAll(async () => {
    // Servers on the real clock: every fixture candle is long closed.
    bybit = new BybitKlineRestServer({ now: () => Date.now(), series: [{ symbol: 'BTCUSDT', interval: '1m', candles: csv(join(KIT_SLICE_DIR, 'bybit_linear', 'BTCUSDT_1m.csv'), 'BTCUSDT', 'bybit', '1m') }] });
    await bybit.start();
    // Kraken on its own clock: the fixture's last candle (2023-02-22 06:00) is the still-open one.
    kraken = new KrakenRestServer({ now: () => Date.UTC(2023, 1, 22, 6, 2), series: [{ pair: 'XBTUSD', intervalMinutes: 5, candles: csv(fixture('kraken', 'XBTUSD_5.csv'), 'BTCUSDT', 'kraken', '5m') }] });
    await kraken.start();
  });
  afterAll(async () => {
    await bybit.stop();
    await kraken.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help explains both; bad arguments are usage errors (exit 2, no stack trace)', async () => {
    const h = await cli('download-data.ts', ['--help']);
    expect(h.status).toBe(0);
    for (const s of ['--venue', '--symbols', '--intervals', '--from', '--to', '--warehouse', '--category', '--bybit-url', '--kraken-url', '--rps', '--json', 'import:ohlcvt', '720 most recent']) expect(h.stdout).toContain(s);
    const bad = await cli('download-data.ts', ['--venue', 'binance', '--symbols', 'BTCUSDT', '--from', '2025-01-01']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--venue must be bybit or kraken');
    expect(bad.stderr).not.toContain('    at ');
    const iv = await cli('download-data.ts', ['--venue', 'bybit', '--symbols', 'BTCUSDT', '--intervals', '2m', '--from', '2025-01-01']);
    expect(iv.status).toBe(2);
    expect(iv.stderr).toContain("unknown interval '2m'");
    const lh = await cli('list-data.ts', ['--help']);
    expect(lh.status).toBe(0);
    expect(lh.stdout).toContain('--warehouse');
    const none = await cli('list-data.ts', ['--warehouse', join(dir, 'nothing.duckdb')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no warehouse at');
  }, 60_000);

  it('a download killed (SIGKILL) mid-way keeps whole pages; the same command resumes to exactly the kit candles', async () => {
    const file = join(dir, 'killed.duckdb');
    const args = ['--import', 'tsx', join(ROOT, 'scripts', 'download-data.ts'), '--venue', 'bybit', '--symbols', 'BTCUSDT', '--from', '2025-06-07T00:00Z', '--to', '2025-06-12T00:00Z', '--warehouse', file, '--bybit-url', bybit.url];
    const seen = bybit.requests.length;
    const child = spawn(process.execPath, [...args, '--rps', '2'], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // kill it hard once the server has answered its second page (the first is written by then)
    while (bybit.requests.length < seen + 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGKILL');
    await exited;
    let wh = new DuckDbWarehouse({ file });
    const kept = await wh.count('ohlcv');
    await wh.close();
    expect(kept).toBeGreaterThanOrEqual(1000);
    expect(kept % 1000).toBe(0); // whole pages only
    expect(kept).toBeLessThan(7200);
    const r = await cli('download-data.ts', args.slice(3).concat(['--rps', '50', '--json']));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ series: [{ heldBefore: kept, stored: 7200 - kept, held: 7200, missing: 0 }] });
    wh = new DuckDbWarehouse({ file });
    try {
      const stored = await wh.candles({ symbol: 'BTCUSDT', interval: '1m', venue: 'bybit' });
      const want = csv(join(KIT_SLICE_DIR, 'bybit_linear', 'BTCUSDT_1m.csv'), 'BTCUSDT', 'bybit', '1m').filter((c) => c.openTime >= Date.UTC(2025, 5, 7) && c.openTime < Date.UTC(2025, 5, 12));
      expect(stored.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume])).toEqual(want.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume]));
    } finally {
      await wh.close();
    }
  }, 120_000);

  it('downloads Bybit 1m (env base URL) and Kraken 5m with its real gap, lists them, and the backtester reads the download', async () => {
    const b = await cli('download-data.ts', ['--venue', 'bybit', '--symbols', 'BTCUSDT', '--intervals', '1m', '--from', '2025-06-11T00:00Z', '--to', '2025-06-12T06:00Z', '--warehouse', warehouse], { BYBIT_REST_URL: bybit.url });
    expect(b.stderr).not.toContain('download-data:');
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/BTCUSDT\s+1m\s+1800\s+0\s+1800\s+1800\s+2\s+0\s+0\s+0\s+0\s+ok/);
    expect(b.stderr).toContain('BTCUSDT 1m'); // progress bar on stderr

    const again = await cli('download-data.ts', ['--venue', 'bybit', '--symbols', 'BTCUSDT', '--from', '2025-06-11T00:00Z', '--to', '2025-06-12T06:00Z', '--warehouse', warehouse, '--bybit-url', bybit.url, '--json']);
    expect(again.status).toBe(0);
    const j = JSON.parse(again.stdout) as { requests: number; series: Array<{ heldBefore: number; stored: number; gaps: unknown[] }> };
    expect(j).toMatchObject({ requests: 0, series: [{ heldBefore: 1800, stored: 0, gaps: [] }] });

    const k = await cli('download-data.ts', ['--venue', 'kraken', '--symbols', 'BTCUSDT=XBTUSD', '--intervals', '5m', '--from', '2023-02-21T00:00Z', '--to', '2023-02-22T06:00Z', '--warehouse', warehouse, '--kraken-url', kraken.url]);
    expect(k.status).toBe(0);
    expect(k.stdout).toContain('BTCUSDT 5m: 15 missing candle(s) in 1 gap(s):');
    expect(k.stdout).toContain('2023-02-22 00:15 .. 2023-02-22 01:25  (15)');

    const l = await cli('list-data.ts', ['--warehouse', warehouse]);
    expect(l.status).toBe(0);
    expect(l.stdout).toMatch(/bybit\s+BTCUSDT\s+1m\s+2025-06-11 00:00\s+2025-06-12 05:59\s+1800\s+1800\s+0\s+0/);
    expect(l.stdout).toMatch(/kraken\s+BTCUSDT\s+5m\s+2023-02-21 00:00\s+2023-02-22 05:55\s+345\s+360\s+15\s+1/);
    const lj = await cli('list-data.ts', ['--warehouse', warehouse, '--json', '--venue', 'kraken']);
    expect(JSON.parse(lj.stdout)).toEqual([expect.objectContaining({ venue: 'kraken', symbol: 'BTCUSDT', interval: '5m', count: 345, expected: 360, missing: 15, gapRanges: 1, first: '2023-02-21T00:00:00.000Z' })]);

    const bt = await cli('backtest.ts', ['--warehouse', warehouse, '--venue', 'bybit', '--symbols', 'BTCUSDT', '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T05:59Z', '--warmup-hours', '24', '--set', 'macro.enabled=false', '--workers', '0']);
    expect(bt.stderr).not.toContain('failed');
    expect(bt.status).toBe(0);
    expect(bt.stdout).toMatch(/BTCUSDT/);
  }, 120_000);
});
