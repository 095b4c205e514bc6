/**
 * The bybit-api based stream adapter against the local Bybit v5 server: heartbeat pings, exponential
 * reconnect back-off while the server refuses, re-subscription after the reconnect, back-off reset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BybitWsStream } from '../../infra/bybit/ws-stream.js';
import { createLogger } from '../../shared/log.js';
import { BybitReplayServer } from '../../infra/replay/bybit-server.js';
import { recordingData, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const MIN = 40;
const MAX = 320;

describe('BybitWsStream (bybit-api WebsocketClient)', () => {
  it('pings on the configured interval, reconnects with doubling back-off, re-subscribes, resets the back-off', async () => {
    const server = new BybitReplayServer({ data: recordingData() });
    await server.start();
    cleanups.push(() => server.stop());
    const stream = new BybitWsStream({ wsUrl: server.wsUrl, pingIntervalMs: 50, pongTimeoutMs: 1_000, reconnectMinMs: MIN, reconnectMaxMs: MAX, log: createLogger({}, { minSeverity: 'ERROR' }) });
    cleanups.push(() => stream.close());
    const events: string[] = [];
    let messages = 0;
    stream.setHandlers({
      onOpen: () => events.push('open'),
      onDisconnect: () => events.push('disconnect'),
      onReconnected: () => events.push('reconnected'),
      onMessage: () => messages++,
    });
    await stream.connect();
    await stream.subscribe(['publicTrade.BTCUSDT', 'orderbook.200.BTCUSDT']);
    expect(stream.state()).toBe('connected');
    await waitFor(() => server.stats.pings >= 3, 'pings answered with pongs');
    expect(stream.state()).toBe('connected'); // pongs arrive: no pong-timeout reconnects
    expect(server.stats.connections).toBe(1);

    server.setAccepting(false);
    server.dropConnections();
    await waitFor(() => server.refusedAt.length >= 6, 'six refused attempts', 10_000);
    const gaps = server.refusedAt.slice(1).map((t, i) => t - server.refusedAt[i]!);
    // 2*MIN, 4*MIN, ... capped at MAX (timer jitter tolerated)
    expect(gaps[0]!).toBeGreaterThanOrEqual(2 * MIN - 10);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]! * 2.5);
    expect(gaps[4]!).toBeGreaterThanOrEqual(MAX - 10);
    expect(gaps[4]!).toBeLessThan(MAX * 2);
    expect(stream.state()).toBe('reconnecting');

    server.setAccepting(true);
    await waitFor(() => stream.state() === 'connected', 'reconnected', 5_000);
    await waitFor(() => server.stats.subscribeRequests >= 2, 'topics re-subscribed by the client');
    expect(events).toEqual(['open', 'disconnect', 'reconnected']);
    await server.advance(3_000);
    await waitFor(() => messages > 0, 'data flows after the reconnect');

    // after a success the back-off starts again from the minimum
    const t = Date.now();
    server.dropConnections();
    await waitFor(() => events.length === 5, 'second reconnect');
    expect(Date.now() - t).toBeLessThan(MAX);
    expect(events.slice(3)).toEqual(['disconnect', 'reconnected']);
  });
});
