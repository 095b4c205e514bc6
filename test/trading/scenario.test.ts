/**
 * A hand-computed paper-trading scenario on REAL candles: Bybit BTCUSDT 1m, 2025-06-11 12:15-12:31 UTC
 * (test/fixtures/trading/). Two scalps through the same engine the live pipeline and the backtester use.
 *
 *  time  open      high      low       close      what happens
 *  12:17 109191.5  109191.6  109087.2  109123.3   decision candle of LONG #1 (its low is below 109100: no fill, it is the decision candle)
 *  12:18 109123.3  109123.3  109102.6  109112.9   LONG placed at 12:18:00 (limit 109100); low 109102.6 > 109100: no fill
 *  12:19 109112.9  109119.9  109110.0  109110.1
 *  12:20 109110.1  109142.6  109110.0  109119.0
 *  12:21 109119.0  109119.0  109002.1  109026.8   LONG fills (109002.1 < 109100; stop 108800 not touched); decision candle of SHORT #2
 *  12:22 109026.8  109033.7  109002.0  109002.1   SHORT placed at 12:22:00 (limit 109030) fills: high 109033.7 > 109030
 *  12:23 109002.1  109090.0  108967.0  109081.1   SHORT TP 108500 not reached
 *  ...   (12:24-12:29 drift up to 109235.6)
 *  12:30 109232.5  109850.0  109232.5  109739.9   LONG take profit (high > 109650); SHORT stop (high >= 109330)
 *
 * Equity 10,000: per-trade risk budget 0.5 % = 50, the loss if stopped INCLUDING costs (SPEC 4).
 * Costs (scalp): fee 0.06 % per side, slippage 0.02 % per fill (the conservative profile the rule tests pin,
 * test/trading/helpers.ts; the same two trades under maker_taker are hand-computed in costs.test.ts).
 * LONG:  entry 109100 x 1.0002 = 109121.82; stopped: exit 108800 x 0.9998 = 108778.24
 *        loss per BTC = 343.58 + 0.0006 x (109121.82 + 108778.24) = 343.58 + 130.740036 = 474.320036
 *        qty = 50 / 474.320036 = 0.10541406 BTC (notional 11,500.67: 1.15x equity, inside the 2x cap)
 *        entry fee 109121.82 x qty x 0.0006 = 6.901784
 *        exit (TP) 109650 x 0.9998 = 109628.07; fee 109628.07 x qty x 0.0006 = 6.933804
 *        per BTC (109628.07 - 109121.82) - 0.0006 x (109121.82 + 109628.07) = 506.25 - 131.249934 = 375.000066
 *        pnl = 375.000066 x qty = 39.530279; pnl % = 375.000066 / 109121.82 x 100 = 0.343653 %
 * SHORT: entry 109030 x 0.9998 = 109008.194; stopped: exit 109330 x 1.0002 = 109351.866
 *        loss per BTC = 343.672 + 0.0006 x (109008.194 + 109351.866) = 343.672 + 131.016036 = 474.688036
 *        qty = 50 / 474.688036 = 0.10533234 BTC (open risk 50 of the 200 cap: the full budget remains)
 *        entry fee 6.889253, exit fee 6.910973; it IS stopped (open 109232.5 below the stop: no gap), so
 *        pnl = -474.688036 x qty = -50 exactly (its budget); pnl % = -474.688036 / 109008.194 x 100 = -0.435460 %
 * Realized: 39.530279 - 50 = -10.469721. The SHORT's stop is the first stop counted on BTCUSDT.
 */
import { describe, expect, it } from 'vitest';
import { applyCandle, applySignal, createTradingState, type TradingEvent, type TradingState } from '../../shared/trading/core.js';
import type { PositionClosedEvent } from '../../shared/model/trading.js';
import { MIN, defaultCfg, realBtc1m, signal } from './helpers.js';

const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
/** Quantities of the hand computation above (risk 50 with costs). */
const QL = 50 / 474.320036;
const QS = 50 / 474.688036;

describe('real-candle scenario (BTCUSDT 1m, 2025-06-11 12:15-12:31 UTC)', () => {
  it('fills, fees and P&L match the hand computation', () => {
    const cfg = defaultCfg();
    const candles = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
    expect(candles).toHaveLength(17);
    expect(candles.find((c) => c.openTime === at('12:30'))).toMatchObject({ open: 109232.5, high: 109850, low: 109232.5, close: 109739.9 });

    const long = signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
    const short = signal({ ts: at('12:22'), strategy: 'v52_divergence', direction: 'SHORT', entries: [109030], stopLoss: 109330, takeProfit: 108500, maxHoldMs: 60 * MIN });
    const pending = [long, short];
    let s: TradingState = createTradingState('paper', cfg, at('12:15'));
    const log: Array<[string, string]> = [];
    const events: TradingEvent[] = [];
    for (const c of candles) {
      while (pending[0] && pending[0].ts <= c.openTime) {
        const sig = pending.shift()!;
        const r = applySignal(s, sig, null, cfg, sig.ts);
        expect(r.decision).toMatchObject({ accepted: true, risk: expect.closeTo(50, 9), qtys: [expect.closeTo(sig === long ? QL : QS, 12)], cappedBy: null });
        s = r.state;
        events.push(...r.events);
      }
      const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
      s = r.state;
      for (const e of r.events) log.push([new Date(c.openTime).toISOString().slice(11, 16), e.type === 'protection' ? e.kind : `${e.type}:${e.direction}`]);
      events.push(...r.events);
    }
    expect(log).toEqual([
      ['12:21', 'entry_filled:LONG'],
      ['12:22', 'entry_filled:SHORT'],
      ['12:30', 'exit_filled:LONG'],
      ['12:30', 'position_closed:LONG'],
      ['12:30', 'exit_filled:SHORT'],
      ['12:30', 'position_closed:SHORT'],
    ]);
    const fills = events.filter((e) => e.type === 'entry_filled');
    expect(fills.map((e) => e.type === 'entry_filled' && [e.price, e.fee])).toEqual([
      [expect.closeTo(109121.82, 6), expect.closeTo(6.901784, 6)],
      [expect.closeTo(109008.194, 6), expect.closeTo(6.889253, 6)],
    ]);
    const [tl, ts] = events.filter((e): e is PositionClosedEvent => e.type === 'position_closed').map((e) => e.trade);
    expect(tl).toMatchObject({
      direction: 'LONG',
      exitReason: 'take_profit',
      entryTime: at('12:22'),
      exitTime: at('12:31'),
      avgEntry: expect.closeTo(109121.82, 6),
      exitPrice: expect.closeTo(109628.07, 6),
      fees: expect.closeTo(6.9017843 + 6.9338039, 6),
      pnl: expect.closeTo(39.530279, 6),
      pnlPct: expect.closeTo(0.343653, 6),
    });
    expect(ts).toMatchObject({
      direction: 'SHORT',
      exitReason: 'stop_loss',
      exitPrice: expect.closeTo(109351.866, 6),
      fees: expect.closeTo(6.8892527 + 6.9109725, 6),
      pnl: expect.closeTo(-50, 6),
      pnlPct: expect.closeTo(-0.43546, 5),
    });
    expect(s.account.realizedPnl).toBeCloseTo(-10.469721, 6);
    expect(s.account.positions).toEqual([]);
    expect(s.account.counters).toMatchObject({ ordersPlaced: 2, entriesFilled: 2, tradesClosed: 2, wins: 1, losses: 1 });
    expect(s.protections.limiter['BTCUSDT']).toEqual({ consecutiveStops: 1, cooldownUntil: null });
    expect(s.protections.guards.consecutiveLosses).toBe(1);
    expect(tl?.rows[0]).toMatchObject({ trade_group_id: `tg:${long.signalId}`, mode: 'paper', exit_reason: 'take_profit' });
  });
});
