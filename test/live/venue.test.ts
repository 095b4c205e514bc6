/**
 * The Bybit v5 private REST adapter (bybit-api RestClientV5) against the local server that speaks
 * the same protocol: HMAC signature round trip, typed errors with Bybit's codes and messages,
 * duplicate orderLinkId as "already placed", PostOnly cross cancel, partial fills, and a market
 * order refused loudly.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RestClientV5 } from 'bybit-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BybitTradingClient } from '../../infra/bybit/trading-client.js';
import { BybitTradeServer, bybitSign } from '../../infra/replay/bybit-trade-server.js';
import { createLogger } from '../../shared/log.js';
import { OrderRejectedError, VenueAuthError } from '../../shared/ports/trading-venue.js';
import { API_KEY, API_SECRET, INSTRUMENTS_FILE, startVenue, type Venue } from './helpers.js';

let v: Venue;
beforeEach(async () => {
  v = await startVenue();
});
afterEach(async () => {
  await v.stop();
});

const order = (over: Partial<Parameters<BybitTradingClient['placeLimitOrder']>[0]> = {}) => ({
  symbol: 'BTCUSDT',
  side: 'Buy' as const,
  price: '109100.00',
  qty: '0.166',
  postOnly: true,
  reduceOnly: false,
  clientOrderId: 'c-test-e0',
  ...over,
});

describe('v5 signature', () => {
  it('the client signs exactly HMAC_SHA256(timestamp + apiKey + recvWindow + payload) and the server accepts it', async () => {
    await v.client.placeLimitOrder(order());
    await v.client.getOrder('BTCUSDT', 'c-test-e0');
    const signed = v.server.requests.filter((r) => r.auth);
    expect(signed.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v5/order/create', 'GET /v5/order/realtime']);
    for (const r of signed) {
      const a = r.auth!;
      expect(r.authenticated).toBe(true);
      expect(a.apiKey).toBe(API_KEY);
      expect(a.recvWindow).toBe('5000');
      // independent computation with node:crypto over the raw payload the server received
      const mine = createHmac('sha256', API_SECRET).update(`${a.timestamp}${API_KEY}5000${a.payload}`).digest('hex');
      expect(a.sign).toBe(mine);
    }
    const [post, get] = signed;
    expect(JSON.parse(post!.auth!.payload)).toMatchObject({ category: 'linear', orderType: 'Limit', orderLinkId: 'c-test-e0' });
    expect(get!.auth!.payload).toBe('category=linear&symbol=BTCUSDT&orderLinkId=c-test-e0');
  });

  it('a wrong secret is refused with retCode 10004 and Bybit message, typed as an auth error', async () => {
    const bad = new BybitTradingClient({ baseUrl: v.baseUrl, apiKey: API_KEY, apiSecret: 'not-the-secret-123', recvWindowMs: 5000, requestTimeoutMs: 5000 });
    const err = await bad.placeLimitOrder(order()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VenueAuthError);
    expect(err).toMatchObject({ code: 10004, venueMessage: 'Error sign, please check your signature generation algorithm.' });
    expect(v.server.allOrders()).toHaveLength(0);
  });

  it('an unknown key gets 10003; a timestamp outside recv_window gets 10002', async () => {
    const other = new BybitTradingClient({ baseUrl: v.baseUrl, apiKey: 'someone-else-key', apiSecret: API_SECRET, recvWindowMs: 5000, requestTimeoutMs: 5000 });
    await expect(other.getOrder('BTCUSDT', 'x')).rejects.toMatchObject({ code: 10003, venueMessage: 'API key is invalid.' });
    // server clock 10 s ahead of the client's: the request is older than the 5 s window
    const ahead = new BybitTradeServer({ apiKey: API_KEY, apiSecret: API_SECRET, instrumentsFile: INSTRUMENTS_FILE, clock: { now: () => Date.now() + 10_000, sleep: async () => {} } });
    const url = await ahead.start();
    try {
      const c = new BybitTradingClient({ baseUrl: url, apiKey: API_KEY, apiSecret: API_SECRET, recvWindowMs: 5000, requestTimeoutMs: 5000 });
      const err = await c.getOrder('BTCUSDT', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VenueAuthError);
      expect(err).toMatchObject({ code: 10002 });
    } finally {
      await ahead.stop();
    }
  });

  it('a tampered body does not verify (signature covers the exact payload)', () => {
    const ts = '1749644280000';
    const body = '{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.166","price":"109100.00"}';
    const sign = bybitSign(API_SECRET, ts, API_KEY, '5000', body);
    expect(bybitSign(API_SECRET, ts, API_KEY, '5000', body.replace('0.166', '1.660'))).not.toBe(sign);
    expect(sign).toMatch(/^[0-9a-f]{64}$/);
  });

  it('never logs the credentials', () => {
    const lines: string[] = [];
    const log = createLogger({}, { sink: (l) => lines.push(l) });
    log.info('bybit client config', { note: `key ${API_KEY} secret ${API_SECRET}` });
    expect(lines[0]).not.toContain(API_KEY);
    expect(lines[0]).not.toContain(API_SECRET);
    expect(lines[0]).toContain('[REDACTED]');
  });
});

describe('orders', () => {
  it('places a PostOnly limit, reports status, partial and full fills with avg price and fee', async () => {
    const placed = await v.client.placeLimitOrder(order());
    expect(placed).toMatchObject({ clientOrderId: 'c-test-e0', status: 'New', alreadyPlaced: false });
    expect(v.server.orderCreates()[0]).toEqual({
      category: 'linear',
      symbol: 'BTCUSDT',
      side: 'Buy',
      orderType: 'Limit',
      qty: '0.166',
      price: '109100.00',
      timeInForce: 'PostOnly',
      orderLinkId: 'c-test-e0',
      reduceOnly: false,
    });
    v.server.trade('BTCUSDT', 109150); // above the buy limit: no fill
    expect(await v.client.getOrder('BTCUSDT', 'c-test-e0')).toMatchObject({ status: 'New', filledQty: 0 });
    v.server.trade('BTCUSDT', 109100, 0.1); // touches it, 0.1 BTC trades
    const part = await v.client.getOrder('BTCUSDT', 'c-test-e0');
    expect(part).toMatchObject({ status: 'PartiallyFilled', filledQty: 0.1, avgPrice: 109100, postOnly: true });
    expect(part!.fee).toBeCloseTo(0.1 * 109100 * 0.0002, 9);
    v.server.trade('BTCUSDT', 109050);
    const full = await v.client.getOrder('BTCUSDT', 'c-test-e0');
    expect(full).toMatchObject({ status: 'Filled', filledQty: 0.166, avgPrice: 109100 });
    expect(full!.fee).toBeCloseTo(0.166 * 109100 * 0.0002, 9);
  });

  it('a retried placement (same orderLinkId) creates no second order: 110072 resolves to the existing one', async () => {
    const first = await v.client.placeLimitOrder(order());
    const again = await v.client.placeLimitOrder(order());
    expect(again).toMatchObject({ orderId: first.orderId, alreadyPlaced: true, status: 'New' });
    expect(v.server.allOrders()).toHaveLength(1);
    const creates = v.server.requests.filter((r) => r.path === '/v5/order/create');
    expect(creates.map((r) => [r.retCode, r.retMsg])).toEqual([
      [0, 'OK'],
      [110072, 'OrderLinkedID is duplicate'],
    ]);
  });

  it('PostOnly that would cross is accepted then cancelled with EC_PostOnlyWillTakeLiquidity', async () => {
    v.server.setPrice('BTCUSDT', 109000);
    await v.client.placeLimitOrder(order());
    expect(await v.client.getOrder('BTCUSDT', 'c-test-e0')).toMatchObject({ status: 'Cancelled', filledQty: 0, rejectReason: 'EC_PostOnlyWillTakeLiquidity' });
  });

  it('cancel: open -> Cancelled; already finished -> 110001 handled, final status returned; unknown -> null', async () => {
    await v.client.placeLimitOrder(order());
    expect(await v.client.cancelOrder('BTCUSDT', 'c-test-e0')).toMatchObject({ status: 'Cancelled' });
    expect(await v.client.cancelOrder('BTCUSDT', 'c-test-e0')).toMatchObject({ status: 'Cancelled' });
    expect(v.server.requests.filter((r) => r.path === '/v5/order/cancel').map((r) => r.retCode)).toEqual([0, 110001]);
    expect(await v.client.cancelOrder('BTCUSDT', 'never-placed')).toBeNull();
  });

  it('exchange refusals are OrderRejectedError with Bybit code and message', async () => {
    const err = await v.client.placeLimitOrder(order({ side: 'Sell', reduceOnly: true, postOnly: false })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrderRejectedError);
    expect(err).toMatchObject({ code: 110017, venueMessage: 'Reduce-only rule not satisfied' });
    await expect(v.client.placeLimitOrder(order({ price: '109100.05' }))).rejects.toMatchObject({ code: 10001 });
  });

  it('instrument rules come from the real instruments-info response', async () => {
    expect(await v.client.instrument('SOLUSDT')).toEqual({
      symbol: 'SOLUSDT',
      status: 'Trading',
      tickSize: '0.010',
      qtyStep: '0.1',
      minOrderQty: '0.1',
      maxOrderQty: '96000.0',
      postOnlyMaxOrderQty: '96000.0',
      minNotionalValue: '5',
      minPrice: '0.010',
      maxPrice: '199999.980',
    });
    await v.client.instrument('SOLUSDT');
    expect(v.server.requests.filter((r) => r.path === '/v5/market/instruments-info')).toHaveLength(1); // cached
  });

  it('the server refuses a market order loudly (so one anywhere would fail the tests)', async () => {
    const raw = new RestClientV5({ key: API_KEY, secret: API_SECRET, baseUrl: v.baseUrl });
    const res = await raw.submitOrder({ category: 'linear', symbol: 'BTCUSDT', side: 'Buy', orderType: 'Market', qty: '0.001', orderLinkId: 'mkt-1' });
    expect(res.retCode).toBe(10001);
    expect(res.retMsg).toContain('orderType Market refused');
    expect(v.server.violations).toHaveLength(1);
    expect(v.server.allOrders()).toHaveLength(0);
  });
});

describe('no market order in the code', () => {
  it('the adapter and the live executor only ever build Limit orders', () => {
    const root = join(import.meta.dirname, '..', '..');
    const files = ['infra/bybit/trading-client.ts', 'shared/ports/trading-venue.ts', ...readdirSync(join(root, 'shared/trading/live')).map((f) => `shared/trading/live/${f}`)];
    for (const f of files) {
      const src = readFileSync(join(root, f), 'utf8');
      expect(src, f).not.toMatch(/orderType:\s*['"](?!Limit)/);
    }
    expect(readFileSync(join(root, 'infra/bybit/trading-client.ts'), 'utf8')).toMatch(/orderType: 'Limit'/);
  });
});
