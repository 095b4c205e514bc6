/**
 * Speed guard for the backtester's hot path: applyCandle with no open position must stay around a
 * microsecond (measured ~0.1-0.25 us on the dev box; the bound is loose so a busy CI box does not flake).
 */
import { describe, expect, it } from 'vitest';
import { regimeFromCode, regimeSeries } from '../../shared/protection/regime.js';
import { volatilitySeries } from '../../shared/protection/volatility.js';
import { applyCandle, createTradingState, type CandleMarket } from '../../shared/trading/engine.js';
import { columns, defaultCfg, MIN, realBtc1m } from './helpers.js';

const MAX_NS_PER_CANDLE = 5_000;

describe('applyCandle speed', () => {
  it(`no open position, with regime + volatility inputs: < ${MAX_NS_PER_CANDLE} ns per candle`, () => {
    const cfg = defaultCfg();
    const cs = realBtc1m();
    const { time, high, low, close } = columns(cs);
    const reg = regimeSeries(time, close, cfg.protections.regime);
    const vol = volatilitySeries(time, high, low, 24 * 60 * MIN);
    const market: CandleMarket = { regime: null, volatility24hPct: null };
    let s = createTradingState('bench', cfg, cs[0]!.openTime);
    const reps = 20;
    let events = 0;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < cs.length; i++) {
        market.regime = regimeFromCode(reg[i]!);
        market.volatility24hPct = vol[i]!;
        const c = cs[i]!;
        const res = applyCandle(s, c, market, cfg, c.openTime + MIN);
        s = res.state;
        events += res.events.length;
      }
    }
    const ns = ((performance.now() - t0) * 1e6) / (reps * cs.length);
    expect(ns).toBeLessThan(MAX_NS_PER_CANDLE);
    // the real window moves NORMAL -> CAUTION (and back): regime events happen, once per change
    expect(s.protections.regime.current).toBe(regimeFromCode(reg[cs.length - 1]!));
    expect(events).toBeGreaterThan(0);
  });
});
