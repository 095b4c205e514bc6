/**
 * The Cloud Run service around the holder (functions/bybit-holder/server.ts): `/healthz` JSON and
 * status codes, and a graceful stop on a real SIGTERM (child process running the real `main()`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHolder, type RunningHolder } from '../../infra/bybit/holder-service.js';
import type { Services } from '../../infra/runtime/root.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { staticConfig } from '../../shared/config/source.js';
import { createLogger } from '../../shared/log.js';
import type { Warehouse } from '../../shared/ports/warehouse.js';
import type { HolderHealth } from '../../shared/market/bybit/holder.js';
import { BybitReplayServer } from '../../infra/replay/bybit-server.js';
import { CaptureBus, recorded, recordingData, RECORDING_SYMBOLS, stepReplay, testConfig, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const unused = (): never => {
  throw new Error('the holder does not use the warehouse');
};
const warehouse: Warehouse = { ensureSchema: unused, insert: unused, candles: unused, count: unused, strategyRows: unused, close: async () => undefined };

async function replayServer(): Promise<BybitReplayServer> {
  const server = new BybitReplayServer({ data: recordingData() });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

async function getHealth(port: number): Promise<{ status: number; body: HolderHealth }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: res.status, body: (await res.json()) as HolderHealth };
}

describe('bybit-holder service', () => {
  it('/healthz: connection state, per-symbol last-message age, reconnects, published counts; 200 when fresh, 503 when stale', async () => {
    const server = await replayServer();
    const bus = new CaptureBus(server.clock);
    const state = new SqliteStateStore({ file: ':memory:' });
    cleanups.push(() => state.close());
    const ctx: Services = {
      state,
      bus: bus.bus,
      warehouse,
      clock: server.clock,
      log: createLogger({}, { minSeverity: 'ERROR' }),
      config: staticConfig(testConfig(RECORDING_SYMBOLS, { bookDepth: 200 })),
      endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: server.restUrl, bybitWs: server.wsUrl },
    };
    const running: RunningHolder = await startHolder(ctx, { port: 0, autoTimers: false });
    cleanups.push(() => running.shutdown('test end'));
    const port = running.port!;

    await stepReplay(server, running.holder, bus, server.range.first + 20_000, 250);
    let h = await getHealth(port);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ healthy: true, connection: 'connected', reconnects: 0, disconnects: 0 });
    for (const symbol of RECORDING_SYMBOLS) {
      const s = h.body.symbols[symbol]!;
      expect(s.lastMessageAgeMs).toBeGreaterThanOrEqual(0);
      expect(s.lastMessageAgeMs).toBeLessThan(2_000);
      expect(s.book).toBe('ok');
      expect(s.bookGaps).toBe(0);
    }
    expect(h.body.published.tickBatches).toBeGreaterThan(0);
    expect(h.body.published.snapshots).toBeGreaterThan(0);
    expect(h.body.published.candles).toBe(4); // 21:26 of each symbol, from REST

    // the recording ends; > 60 s later without a message every symbol is stale
    await stepReplay(server, running.holder, bus, server.range.last + 70_000, 5_000);
    h = await getHealth(port);
    expect(h.status).toBe(503);
    expect(h.body.healthy).toBe(false);
    expect(h.body.connection).toBe('connected');
    expect(h.body.symbols.BTCUSDT!.lastMessageAgeMs).toBeGreaterThan(60_000);

    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('SIGTERM: stops accepting, flushes the tick batches, closes the websocket, exits 0', async () => {
    const server = await replayServer();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'holder-child.ts')], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, BYBIT_WS: server.wsUrl, BYBIT_REST: server.restUrl, PORT: '0', LOG_LEVEL: 'INFO' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    await waitFor(() => lines.some((l) => l.message === 'holder started'), `child holder started (stderr: ${stderr})`, 20_000);
    let childTrades = 0;
    const poll = setInterval(() => {
      const p = lines.find((l) => l.message === 'health endpoint listening')?.port as number | undefined;
      if (p === undefined) return;
      fetch(`http://127.0.0.1:${p}/healthz`)
        .then((r) => r.json() as Promise<HolderHealth>)
        .then((h) => (childTrades = Object.values(h.symbols).reduce((n, s) => n + s.trades, 0)))
        .catch(() => undefined);
    }, 20);
    cleanups.push(() => clearInterval(poll));
    await waitFor(() => server.connectedClients === 1 && server.stats.subscribeRequests >= 1, 'child subscribed');
    // stream 10 s of the recording, trades included, and stop right after the last message
    await server.advanceTo(server.range.first + 10_000);
    const trades = recorded('linear_publicTrade.jsonl')
      .filter((r) => r.recv <= server.range.first + 10_000)
      .reduce((n, r) => n + (r.msg.data as unknown[]).length, 0);
    expect(trades).toBeGreaterThan(20);
    // the child's own /healthz tells when it has received them
    const port = lines.find((l) => l.message === 'health endpoint listening')!.port as number;
    await waitFor(() => childTrades >= trades, 'child received the trades');

    clearInterval(poll);
    const before = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect([200, 503]).toContain(before.status);
    child.kill('SIGTERM');
    const code = await exited;
    expect(code).toBe(0);
    const messages = lines.map((l) => l.message);
    expect(messages).toContain('holder shutting down');
    const done = lines.find((l) => l.message === 'holder shut down')!;
    expect(done.reason).toBe('SIGTERM');
    // every trade received before the signal left in a tick batch
    expect((done.published as { ticks: number }).ticks).toBe(trades);
    await waitFor(() => server.connectedClients === 0, 'websocket closed by the child');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
