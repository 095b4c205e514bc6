/**
 * Pure order helpers on Bybit's REAL instrument rules (test/live/fixtures, recorded instruments-info):
 * tick / step rounding in the non-crossing direction, minimum checks with their reasons, deterministic
 * client order ids.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { InstrumentRules } from '../../shared/ports/trading-venue.js';
import { boundedExitPrice, clientOrderId, MAX_CLIENT_ORDER_ID_LENGTH, prepareLimitOrder, roundPrice, roundQty } from '../../shared/trading/live/orders.js';
import { INSTRUMENTS_FILE } from './helpers.js';

interface Row {
  symbol: string;
  status: string;
  priceFilter: { minPrice: string; maxPrice: string; tickSize: string };
  lotSizeFilter: { maxOrderQty: string; minOrderQty: string; qtyStep: string; postOnlyMaxOrderQty: string; minNotionalValue: string };
}
const recorded = JSON.parse(readFileSync(INSTRUMENTS_FILE, 'utf8')) as { result: { list: Row[] } };
function rules(symbol: string): InstrumentRules {
  const r = recorded.result.list.find((x) => x.symbol === symbol)!;
  return {
    symbol,
    status: r.status,
    tickSize: r.priceFilter.tickSize,
    qtyStep: r.lotSizeFilter.qtyStep,
    minOrderQty: r.lotSizeFilter.minOrderQty,
    maxOrderQty: r.lotSizeFilter.maxOrderQty,
    postOnlyMaxOrderQty: r.lotSizeFilter.postOnlyMaxOrderQty,
    minNotionalValue: r.lotSizeFilter.minNotionalValue,
    minPrice: r.priceFilter.minPrice,
    maxPrice: r.priceFilter.maxPrice,
  };
}
const BTC = rules('BTCUSDT');
const ETH = rules('ETHUSDT');
const SOL = rules('SOLUSDT');

describe('real instrument rules', () => {
  it('are the recorded Bybit values', () => {
    expect([BTC.tickSize, BTC.qtyStep, BTC.minOrderQty, BTC.minNotionalValue]).toEqual(['0.10', '0.001', '0.001', '5']);
    expect([ETH.tickSize, ETH.qtyStep, ETH.minOrderQty]).toEqual(['0.01', '0.01', '0.01']);
    expect([SOL.tickSize, SOL.qtyStep, SOL.minOrderQty]).toEqual(['0.010', '0.1', '0.1']);
  });
});

describe('rounding', () => {
  it('buy rounds DOWN, sell rounds UP to the tick, formatted with the tick decimals', () => {
    expect(roundPrice(109123.37, 'Buy', BTC)).toEqual({ value: 109123.3, text: '109123.30' });
    expect(roundPrice(109123.31, 'Sell', BTC)).toEqual({ value: 109123.4, text: '109123.40' });
    expect(roundPrice(2421.237, 'Buy', ETH).text).toBe('2421.23');
    expect(roundPrice(2421.231, 'Sell', ETH).text).toBe('2421.24');
    expect(roundPrice(141.7845, 'Sell', SOL).text).toBe('141.790');
    expect(roundPrice(141.7845, 'Buy', SOL).text).toBe('141.780');
  });

  it('keeps a price already on the grid (no float-noise step)', () => {
    // 109100.3 / 0.1 = 1091002.9999999999 in floating point: must stay 109100.3, not drop a tick
    expect(roundPrice(109100.3, 'Buy', BTC).text).toBe('109100.30');
    expect(roundPrice(0.3, 'Sell', ETH).text).toBe('0.30');
    expect(roundQty(0.7, SOL).text).toBe('0.7');
  });

  it('quantities round DOWN to the step', () => {
    expect(roundQty(1 / 6, BTC)).toEqual({ value: 0.166, text: '0.166' });
    expect(roundQty(2.0649, ETH).text).toBe('2.06');
    expect(roundQty(35.27, SOL).text).toBe('35.2');
  });
});

describe('prepareLimitOrder checks', () => {
  it('accepts and rounds a normal order', () => {
    expect(prepareLimitOrder(BTC, 'Buy', 109100.07, 1 / 6, true)).toEqual({ ok: true, side: 'Buy', price: '109100.00', qty: '0.166', priceValue: 109100, qtyValue: 0.166, notional: 109100 * 0.166 });
  });

  it('rejects below the minimum qty with the numbers in the reason', () => {
    const r = prepareLimitOrder(BTC, 'Buy', 109100, 0.0004, true);
    expect(r).toEqual({ ok: false, reason: 'qty_below_min', detail: 'qty 0.0004 rounds down to 0.000 (step 0.001), below the minimum order qty 0.001 of BTCUSDT' });
  });

  it('rejects below the 5 USDT minimum order value', () => {
    const r = prepareLimitOrder(SOL, 'Sell', 40, 0.1, true);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('notional_below_min');
      expect(r.detail).toContain('below the minimum order value 5 of SOLUSDT');
    }
  });

  it('rejects a non-trading instrument and a price outside the band', () => {
    expect(prepareLimitOrder({ ...ETH, status: 'Settling' }, 'Buy', 2400, 1, true)).toMatchObject({ ok: false, reason: 'instrument_not_trading' });
    expect(prepareLimitOrder(ETH, 'Sell', 250000, 1, true)).toMatchObject({ ok: false, reason: 'price_out_of_range' });
    expect(prepareLimitOrder(ETH, 'Sell', Number.NaN, 1, true)).toMatchObject({ ok: false, reason: 'invalid_input' });
  });
});

describe('client order ids', () => {
  it('are deterministic per (group, leg), distinct across legs and groups, Bybit-valid', () => {
    const g = 'tg:v52_divergence:BTCUSDT:1749644220000:snap:1749644235000';
    const a = clientOrderId(g, 'e0');
    expect(clientOrderId(g, 'e0')).toBe(a);
    expect(clientOrderId(g, 't0')).not.toBe(a);
    expect(clientOrderId(`${g}x`, 'e0')).not.toBe(a);
    for (const leg of ['e0', 'e49', 't12', 'g3', 'x2']) {
      const id = clientOrderId(g, leg);
      expect(id.length).toBeLessThanOrEqual(MAX_CLIENT_ORDER_ID_LENGTH);
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(() => clientOrderId(g, 'bad leg')).toThrow(/invalid order leg/);
  });
});

describe('bounded exit price', () => {
  it('moves the reference against the position by the slippage bound', () => {
    expect(boundedExitPrice('LONG', 108800, 0.5)).toBeCloseTo(108256, 6);
    expect(boundedExitPrice('SHORT', 109330, 0.5)).toBeCloseTo(109876.65, 6);
    // rounding keeps the bound: a SELL rounds up (less slippage), a BUY rounds down
    expect(roundPrice(boundedExitPrice('SHORT', 109330, 0.5), 'Buy', BTC).text).toBe('109876.60');
  });
});
