/**
 * The local Bybit v5 server (test/servers/bybit-server.ts) speaks the real protocol: control reply
 * shapes equal the recorded ones, book topics start with a snapshot, REST kline rows are Bybit's
 * (newest first, strings, limit/start/end), and the REST adapter pages through them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BybitReplayServer } from '../../infra/replay/bybit-server.js';
import { BybitRestKlines } from '../../infra/bybit/rest-klines.js';
import { klineResponseSchema, pongSchema, subscribeAckSchema } from '../../shared/market/bybit/messages.js';
import { createLogger } from '../../shared/log.js';
import { candleData, fixtureCandles, MINUTE, recorded, recordingData, sameCandle, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function open(server: BybitReplayServer): Promise<{ ws: WebSocket; inbox: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(server.wsUrl);
  const inbox: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => inbox.push(JSON.parse(d.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  cleanups.push(() => ws.terminate());
  return { ws, inbox };
}

async function serve(data = recordingData(), startAt?: number): Promise<BybitReplayServer> {
  const server = new BybitReplayServer(startAt === undefined ? { data } : { data, startAt });
  await server.start();
  cleanups.push(() => server.stop());
  return server;
}

describe('replay server websocket', () => {
  it('subscribe ack and pong have the real shapes; an invalid topic is refused', async () => {
    const server = await serve();
    const { ws, inbox } = await open(server);
    ws.send(JSON.stringify({ op: 'subscribe', args: ['publicTrade.BTCUSDT', 'kline.1.BTCUSDT'], req_id: 'r1' }));
    ws.send(JSON.stringify({ op: 'ping', req_id: 'p1' }));
    ws.send(JSON.stringify({ op: 'subscribe', args: ['orderbook.60.BTCUSDT'], req_id: 'r2' }));
    await waitFor(() => inbox.length >= 3, 'three replies');
    const realAck = recorded('linear_control.jsonl')[0]!.msg;
    expect(Object.keys(inbox[0]!).sort()).toEqual(Object.keys(realAck).sort());
    expect(subscribeAckSchema.parse(inbox[0])).toMatchObject({ success: true, ret_msg: '', req_id: 'r1', op: 'subscribe' });
    expect(pongSchema.parse(inbox[1])).toMatchObject({ ret_msg: 'pong', req_id: 'p1' });
    expect(inbox[2]).toMatchObject({ success: false, req_id: 'r2', op: 'subscribe' });
    expect(String(inbox[2]!.ret_msg)).toContain('orderbook.60.BTCUSDT');
  });

  it('streams recorded messages byte-for-byte in receive order, only for subscribed topics', async () => {
    const server = await serve();
    const { ws, inbox } = await open(server);
    ws.send(JSON.stringify({ op: 'subscribe', args: ['publicTrade.SOLUSDT'], req_id: 'x' }));
    await waitFor(() => inbox.length === 1, 'ack');
    await server.advanceTo(server.range.last);
    const expected = recorded('linear_publicTrade.jsonl').filter((r) => r.msg.topic === 'publicTrade.SOLUSDT').map((r) => r.msg);
    await waitFor(() => inbox.length === 1 + expected.length, 'all SOL trades');
    expect(inbox.slice(1)).toEqual(expected);
  });

  it('orderbook.50 of the recorded 200-level book: a 50-level snapshot on subscribe, then deltas with u + 1', async () => {
    const server = await serve();
    await server.advanceTo(server.range.first + 5_000);
    const { ws, inbox } = await open(server);
    ws.send(JSON.stringify({ op: 'subscribe', args: ['orderbook.50.ETHUSDT'], req_id: 'b' }));
    await waitFor(() => inbox.length >= 2, 'ack + snapshot');
    const snap = inbox[1]!;
    const d = snap.data as { b: string[][]; a: string[][]; u: number };
    expect(snap).toMatchObject({ topic: 'orderbook.50.ETHUSDT', type: 'snapshot' });
    expect(d.b).toHaveLength(50);
    expect(d.a).toHaveLength(50);
    expect(d.b).toEqual(server.bookState('ETHUSDT', 50)!.bids);
    await server.advance(5_000);
    await waitFor(() => server.stats.dataSent === inbox.length - 1, 'deltas delivered');
    const us = inbox.slice(1).map((m) => (m.data as { u: number }).u);
    expect(us.length).toBeGreaterThan(10);
    expect(us.every((u, i) => i === 0 || u === us[i - 1]! + 1)).toBe(true);
  });

  it('refuses connections while not accepting and drops live ones on demand', async () => {
    const server = await serve();
    await open(server);
    expect(server.connectedClients).toBe(1);
    server.dropConnections();
    await waitFor(() => server.connectedClients === 0, 'dropped');
    server.setAccepting(false);
    await expect(open(server)).rejects.toThrow(/503/);
    server.setAccepting(true);
    await open(server);
    expect(server.stats).toMatchObject({ connections: 2, refused: 1 });
  });

  it('play(speed) moves the replay clock in real time x speed', async () => {
    const server = await serve();
    const t0 = server.now();
    server.play(1_000);
    await new Promise((r) => setTimeout(r, 100));
    server.pause();
    expect(server.now() - t0).toBeGreaterThan(20_000);
  });
});

describe('replay server REST /v5/market/kline', () => {
  const real = fixtureCandles('BTCUSDT');
  const T0 = real[0]!.openTime;

  it('answers like Bybit: newest first, strings, start/end/limit, the forming minute included; errors with retCode', async () => {
    const server = await serve(candleData(['BTCUSDT']), T0 + 10 * MINUTE + 30_000);
    const get = async (q: string) => klineResponseSchema.parse(await (await fetch(`${server.restUrl}/v5/market/kline?${q}`)).json());
    const r = await get(`category=linear&symbol=BTCUSDT&interval=1&start=${T0}&end=${T0 + 60 * MINUTE}&limit=5`);
    expect(r.retCode).toBe(0);
    const list = 'list' in r.result ? r.result.list : [];
    expect(list.map((row) => Number(row[0]))).toEqual([10, 9, 8, 7, 6].map((i) => T0 + i * MINUTE));
    // the forming minute 10 holds the trades up to +30 s only; minute 9 is the real candle
    expect(Number(list[0]![5])).toBeLessThan(real[10]!.volume);
    expect(list[1]!.slice(1, 6).map(Number)).toEqual([real[9]!.open, real[9]!.high, real[9]!.low, real[9]!.close, real[9]!.volume]);
    expect((await get('category=linear&symbol=NOPEUSDT&interval=1')).retCode).toBe(10001);
    expect((await get('category=linear&symbol=BTCUSDT&interval=1&limit=5000')).retCode).toBe(10001);
    expect((await get('category=spot&symbol=BTCUSDT&interval=1')).retCode).toBe(10001);
  });

  it('the REST adapter pages backwards and returns closed candles ascending, equal to the real ones', async () => {
    const server = await serve(candleData(['BTCUSDT']), T0 + 100 * MINUTE + 30_000);
    const klines = new BybitRestKlines({ baseUrl: server.restUrl, pageLimit: 7, requestTimeoutMs: 2_000, clock: server.clock, log: createLogger({}, { minSeverity: 'ERROR' }) });
    const got = await klines.closedKlines1m('BTCUSDT', T0 + 3 * MINUTE, T0 + 100 * MINUTE);
    // minute 100 is still forming at the exchange: left out
    expect(got.map((c) => c.openTime)).toEqual(Array.from({ length: 97 }, (_, i) => T0 + (i + 3) * MINUTE));
    expect(got.every((c, i) => sameCandle(c, real[i + 3]!))).toBe(true);
    expect(server.stats.restRequests).toBe(Math.ceil(98 / 7));
    await expect(klines.closedKlines1m('NOPEUSDT', T0, T0 + MINUTE)).rejects.toThrow(/10001/);
  });
});
