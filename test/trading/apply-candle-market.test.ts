/**
 * applyCandle fed the market inputs the backtester computes (regime and 24h volatility series) over a
 * real BTC window, many passes: the held regime follows the series and changes are evented. Its speed
 * is measured by `npm run bench -- backtest` (a ratio against a bare indicator pass), never timed here.
 */
import { describe, expect, it } from 'vitest';
import { regimeFromCode, regimeSeries } from '../../shared/protection/regime.js';
import { volatilitySeries } from '../../shared/protection/volatility.js';
import { applyCandle, createTradingState, type CandleMarket } from '../../shared/trading/core.js';
import { columns, defaultCfg, MIN, realBtc1m } from './helpers.js';

describe('applyCandle with market inputs', () => {
  it('no open position, with regime + volatility inputs: the regime follows the series, changes are evented', () => {
    const cfg = defaultCfg();
    const cs = realBtc1m();
    const { time, high, low, close } = columns(cs);
    const reg = regimeSeries(time, close, cfg.protections.regime);
    const vol = volatilitySeries(time, high, low, 24 * 60 * MIN);
    const market: CandleMarket = { regime: null, volatility24hPct: null };
    let s = createTradingState('bench', cfg, cs[0]!.openTime);
    const reps = 20;
    let events = 0;
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
    // the real window moves NORMAL -> CAUTION (and back): regime events happen, once per change
    expect(s.protections.regime.current).toBe(regimeFromCode(reg[cs.length - 1]!));
    expect(events).toBeGreaterThan(0);
  });
});
