/**
 * The whole pipeline offline, as `npm start` runs it: the local Bybit v5 and Kraken REST servers
 * replay the bundled REAL candles (test/fixtures/replay), the holder publishes closed 1m candles,
 * candle-ingest writes them to state and the warehouse, the scheduler runs kraken-pull, health-check
 * and config-check on scheduler.yaml's cadence, all on the embedded default.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { recentHotCandles } from '../../shared/market/hot-store.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { probeLive, startLocalRuntime, type LocalRuntime, type RunSummary } from '../../infra/runtime/local.js';

const REPLAY_DIR = join(import.meta.dirname, '..', 'fixtures', 'replay');
const MINUTES = 12;
const MINUTE = 60_000;
/** First open time in the bundled 1m files: 2025-06-28 00:00 UTC. */
const START = Date.UTC(2025, 5, 28, 0, 0);

function realCloses(symbol: string, n: number): number[] {
  return readFileSync(join(REPLAY_DIR, `${symbol}_1m.csv`), 'utf8')
    .trim()
    .split('\n')
    .slice(1, n + 1)
    .map((l) => Number(l.split(',')[4]));
}

describe('local runtime: offline replay end to end', () => {
  let rt: LocalRuntime;
  let summary: RunSummary;
  let dir: string;
  const lines: string[] = [];
  const http: { health?: Response; missing?: Response; pull?: Response } = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cst-runtime-'));
    rt = await startLocalRuntime({
      backend: 'embedded',
      market: 'replay',
      replayData: REPLAY_DIR,
      speed: 60,
      durationMs: MINUTES * MINUTE,
      port: 0,
      dataDir: dir,
      log: createLogger({}, { sink: (l) => lines.push(l) }),
    });
    // While the market plays (a function waiting on its rate limiter needs market time to move).
    http.health = await fetch(`${rt.functionsUrl}/healthz`);
    http.missing = await fetch(`${rt.functionsUrl}/no-such-function`);
    http.pull = await fetch(`${rt.functionsUrl}/kraken-pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await rt.finished;
    summary = await rt.summary();
  }, 120_000);

  afterAll(async () => {
    await rt?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every closed minute of every replayed symbol exactly once, in order, with the real values', async () => {
    expect(summary.market).toBe('replay');
    expect(summary.perSymbol.map((p) => p.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    for (const p of summary.perSymbol) {
      const candles = await recentHotCandles(rt.root.state, 'bybit', p.symbol, '1m', 10_000);
      const closedMinutes = Math.floor((summary.to - START) / MINUTE) - 1;
      expect(candles.length).toBeGreaterThanOrEqual(MINUTES - 1);
      expect(candles.length).toBeLessThanOrEqual(closedMinutes + 1);
      candles.forEach((c, i) => expect(c.openTime).toBe(START + i * MINUTE));
      expect(candles.map((c) => c.close)).toEqual(realCloses(p.symbol, candles.length));
    }
  });

  it('pulls Kraken candles on the schedule and never stores the open candle', async () => {
    for (const p of summary.perSymbol) {
      for (const interval of ['5m', '15m', '1h', '4h'] as const) expect(p.kraken[interval]).toBeGreaterThan(0);
      const fiveMin = await recentHotCandles(rt.root.state, 'kraken', p.symbol, '5m', 1);
      expect(fiveMin[0]!.openTime + 5 * MINUTE).toBeLessThanOrEqual(summary.to);
    }
    // Fired every market minute; a pull still running when the next minute comes is skipped, not overlapped
    // (the first one loads up to 720 candles per series).
    expect(summary.jobs.krakenPull!.runs).toBeGreaterThanOrEqual(2);
    expect(summary.jobs.krakenPull!.errors).toBe(0);
    expect(summary.jobs.healthCheck!.errors).toBe(0);
  });

  it('archives ticks and candles in the warehouse and dead-letters nothing', async () => {
    expect(summary.warehouse.ticks).toBeGreaterThan(0);
    expect(summary.warehouse.ohlcv).toBeGreaterThan(3 * (MINUTES - 1));
    expect(summary.deadLetters).toEqual([]);
    expect(summary.published['candles-bybit-1m']).toBeGreaterThan(0);
    expect(summary.published['snapshots-bybit-15s']).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('"severity":"ERROR"'))).toEqual([]);
  });

  it('serves the HTTP functions and the holder health like the cloud', async () => {
    const body = (await http.health!.json()) as { connection: string; symbols: Record<string, unknown> };
    expect(body.connection).toBe('connected');
    expect(Object.keys(body.symbols)).toContain('BTCUSDT');
    expect(http.missing!.status).toBe(404);
    expect(http.pull!.status).toBe(200);
    expect(await http.pull!.json()).toMatchObject({ errors: 0 });
  });
});

describe('live probe', () => {
  it('names the exchange it cannot reach', async () => {
    const closed = 'http://127.0.0.1:9';
    const reason = await probeLive({
      ...DEFAULT_SYSTEM_CONFIG,
      kraken: { ...DEFAULT_SYSTEM_CONFIG.kraken, baseUrl: closed },
    });
    expect(reason).toMatch(/^Kraken cannot be reached at http:\/\/127\.0\.0\.1:9\/0\/public\/Time/);
  });
});
