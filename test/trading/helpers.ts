/** Test helpers for the trading core: default config, signal and candle builders, the real-data fixture. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import type { Candle } from '../../shared/model/market.js';
import { tradingConfigFrom, type TradingConfig } from '../../shared/trading/model.js';
import type { Signal } from '../../shared/model/trading.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/**
 * The default trading config for rule tests. They feed no regime-reference (BTC regime) candles, so
 * the reference gate (fail closed when the reference is missing / stale) is opted out as the
 * backtester's `allowMissingReference` does; the gate's own tests use `referenceCfg()`.
 */
export function defaultCfg(): TradingConfig {
  return { ...referenceCfg(), allowMissingReference: true };
}

/**
 * The production trading config (the regime-reference gate on), under the `conservative` cost
 * profile: the rule tests here are about fills, exits, sizing and protections, and their hand numbers
 * use the flat costs (0.06 % per side + 0.02 % slippage on every scalp fill; swings 0.3 % + the tier's
 * slippage). The maker/taker profile (the default) has its own hand-checked tests in costs.test.ts.
 */
export function referenceCfg(): TradingConfig {
  return conservative(structuredClone(tradingConfigFrom(DEFAULT_STRATEGY_CONFIGS)));
}

/** `c` under the conservative cost profile (mutates and returns it). */
export function conservative(c: TradingConfig): TradingConfig {
  c.paper = { ...c.paper, costs: { ...c.paper.costs, profile: 'conservative' } };
  return c;
}

/** The production trading config with the default maker/taker costs (reference gate off, as defaultCfg). */
export function makerTakerCfg(): TradingConfig {
  return { ...structuredClone(tradingConfigFrom(DEFAULT_STRATEGY_CONFIGS)), allowMissingReference: true };
}

/** Config where swing groups are fed by Bybit 1m candles too (as the backtester does). */
export function cfg1m(): TradingConfig {
  const c = defaultCfg();
  c.feeds = { SCALP: { venue: 'bybit', interval: '1m' }, SWING: { venue: 'bybit', interval: '1m' } };
  return c;
}

export function signal(over: Partial<Signal> & Pick<Signal, 'ts'>): Signal {
  const direction = over.direction ?? 'LONG';
  const entry = over.entries?.[0] ?? 100;
  return {
    signalId: over.signalId ?? `${over.strategy ?? 'v52_divergence'}:${over.symbol ?? 'BTCUSDT'}:${over.ts - MIN}`,
    strategy: 'v52_divergence',
    engine: 'SCALP',
    symbol: 'BTCUSDT',
    candleTime: over.ts - MIN,
    decision: 'TAKE',
    direction,
    price: entry,
    reasons: ['test'],
    features: { rsi: 25 },
    tier: 'large_cap',
    entries: [entry],
    stopLoss: direction === 'LONG' ? entry * 0.99 : entry * 1.01,
    takeProfit: direction === 'LONG' ? entry * 1.02 : entry * 0.98,
    trailingFraction: null,
    maxHoldMs: 4 * HOUR,
    confidence: 70,
    emit: true,
    ...over,
  };
}

/** A 1m Bybit candle (rule tests need exact levels around the order prices). */
export function candle(openTime: number, o: number, h: number, l: number, c: number, symbol = 'BTCUSDT', over: Partial<Candle> = {}): Candle {
  return { symbol, interval: '1m', venue: 'bybit', openTime, open: o, high: h, low: l, close: c, volume: 1, ...over };
}

export const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'trading');

/** Real Bybit BTCUSDT 1m candles (see test/fixtures/trading/README.md). */
export function realBtc1m(): Candle[] {
  const lines = readFileSync(join(FIXTURE_DIR, 'BTCUSDT_1m_20250611_0000_20250613_0600.csv'), 'utf8').trim().split('\n');
  lines.shift();
  return lines.map((line) => {
    const [t, o, h, l, c, v] = line.split(',').map(Number) as [number, number, number, number, number, number];
    return { symbol: 'BTCUSDT', interval: '1m', venue: 'bybit', openTime: t, open: o, high: h, low: l, close: c, volume: v };
  });
}

export function columns(cs: Candle[]) {
  return {
    time: Float64Array.from(cs, (c) => c.openTime),
    high: Float64Array.from(cs, (c) => c.high),
    low: Float64Array.from(cs, (c) => c.low),
    close: Float64Array.from(cs, (c) => c.close),
  };
}
