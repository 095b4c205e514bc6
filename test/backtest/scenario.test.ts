/**
 * A hand-computed scenario: 16 REAL ETHUSDT 1m candles (test/fixtures/backtest, 2025-06-03 13:53 to
 * 14:08 UTC), one V5.2 trade whose fills, fees and P&L are worked out below by hand from the SPEC
 * defaults (fixed exits TP 0.5 % / SL 0.3 %, fee 0.06 % per side, scalp slippage 0.02 % per fill,
 * risk 0.5 % of 10,000 USD equity per trade) and compared with the backtest to 1e-9.
 *
 * Config: V5.2 alone (emitting), with windows small enough for 16 candles: RSI(3), pivots of
 * strength 1 within 8 candles, volume spike >= 1.5 x EMA3(volume); MACRO off. Everything else default.
 *
 * The candles (index: open time UTC, open, high, low, close, volume):
 *   0 13:53 2624.51 2624.97 2621.64 2622.09 1025.43      8 14:01 2628.02 2628.75 2624.72 2625.15 1943.90
 *   1 13:54 2622.09 2625.64 2621.39 2624.17 1027.35      9 14:02 2625.15 2627.11 2621.65 2625.92 1889.36
 *   2 13:55 2624.17 2626.00 2622.01 2622.89 1739.64     10 14:03 2625.92 2627.26 2623.01 2623.01 1215.13
 *   3 13:56 2622.89 2625.32 2622.44 2625.32  822.38     11 14:04 2623.01 2623.82 2620.14 2621.29 2063.94
 *   4 13:57 2625.32 2629.22 2625.32 2627.81 1597.37     12 14:05 2621.29 2622.34 2618.75 2619.31 2767.06
 *   5 13:58 2627.81 2627.81 2626.10 2627.40  589.37     13 14:06 2619.31 2620.63 2615.03 2619.49 2311.08
 *   6 13:59 2627.40 2627.40 2625.23 2625.57  975.16     14 14:07 2619.49 2620.00 2615.37 2616.57 1215.46
 *   7 14:00 2625.57 2631.41 2625.57 2628.02 7500.20     15 14:08 2616.57 2616.57 2612.30 2614.85 2503.24
 *
 * Decision (closed candle 7, decided at its close 14:01): candle 4 is a swing high (2629.22 above
 * 2625.32 before and 2627.40 after), candle 7 makes a higher high (2631.41) with a lower RSI(3), and
 * its volume 7500.2 is a spike -> SHORT, limit entry at the close 2628.02.
 *   TP = 2628.02 x (1 - 0.005) = 2614.8799        SL = 2628.02 x (1 + 0.003) = 2635.90406
 * Size: risk budget = 0.5 % x 10,000 = 50 USD = the loss if stopped INCLUDING costs. Per USD of notional:
 *   entry fill x 0.9998, stop exit x 1.003 x 1.0002 = 1.0032006 -> move 0.0034006, fees 0.0006 x (0.9998 +
 *   1.0032006) = 0.00120180036; together 0.00460240036. Notional = 50 / 0.00460240036 = 10,863.896 USD
 *   (1.09x equity, inside the 2x cap), qty = 10,863.896 / 2628.02 = 4.1338712214 ETH.
 * Entry fill: candle 8 (the NEXT one; the decision candle itself is never used) trades through the
 *   short limit (high 2628.75 > 2628.02); fill = 2628.02 x (1 - 0.0002) = 2627.494396 (slippage
 *   against us), at the close of candle 8 (14:02). Entry fee = 2627.494396 x qty x 0.0006
 *   = 10,863.896 x 0.9998 x 0.0006 = 6.5170341 USD. The stop (high >= 2635.90406) is never touched
 *   (highest high after the fill: 2627.26).
 * Exit: the take profit needs a low BELOW 2614.8799: candle 13 (2615.03) and 14 (2615.37) miss it,
 *   candle 15 (low 2612.30) hits it -> exit at 2614.8799 x (1 + 0.0002) = 2615.40287598 at 14:09.
 *   Exit fee = 2615.40287598 x qty x 0.0006 = 10,863.896 x 0.995 x 1.0002 x 0.0006 = 6.4870432 USD.
 * P&L = (2627.494396 - 2615.40287598) x qty - 6.5170341 - 6.4870432
 *     = 10,863.896 x (0.9998 - 0.995 x 1.0002) - 13.0040773 = 10,863.896 x 0.004601 - 13.0040773
 *     = 49.9847866 - 13.0040773 = 36.9807093 USD (0.370 % of equity); duration 7 minutes.
 * (All of the above is the `conservative` cost profile: flat fee + slippage on every fill.)
 *
 * The same trade under the default maker_taker profile (Bybit 0.02 % maker / 0.055 % taker, slippage
 * only on taker fills): candle 8 opens AT the limit 2628.02 (not through it: the order rests), its high
 * trades through -> MAKER fill at 2628.02, no slippage. Size per USD of notional: entry 1, stop exit
 * 1.003 x 1.0002 = 1.0032006 (taker) -> move 0.0032006, fees 0.0002 + 0.00055 x 1.0032006 = 0.00075176033;
 * together 0.00395236033 -> notional = 50 / 0.00395236033 = 12,650.668417 USD, qty 4.8137641331 ETH.
 * Entry fee 12,650.668417 x 0.0002 = 2.5301336834. TP at candle 15: MAKER at 2614.8799, fee
 * 12,650.668417 x 0.995 x 0.0002 = 2.5174830150; slippage 0.
 * P&L = 12,650.668417 x (0.005 - 0.0002 - 0.000199) = 12,650.668417 x 0.004601 = 58.2057253874 USD.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { createMarket } from '../../shared/backtest/market.js';
import { scenarioSeries, scenarioStrategies } from './helpers.js';
import type { CostProfile } from '../../shared/config/strategy.js';

const SIGNAL_CANDLE = Date.UTC(2025, 5, 3, 14, 0);
const MIN = 60_000;

function run(profile: CostProfile = 'conservative') {
  const series = scenarioSeries();
  const strategies = scenarioStrategies(profile);
  // ETH only: the run opts out of the BTC regime-reference gate (test/backtest/reference.test.ts shows the default)
  return runBacktest(createMarket({ series: [series] }), { system: DEFAULT_SYSTEM_CONFIG, strategies, allowMissingReference: true }, { record: { events: true } });
}

describe('hand-computed scenario: 16 real ETH candles, one V5.2 short to its take profit', () => {
  const r = run();
  const entry = 2628.02;
  const tp = entry * (1 - 0.005);
  const sl = entry * (1 + 0.003);
  // the loss if stopped per USD of notional, costs included (see the header)
  const notional = 50 / ((sl / entry) * 1.0002 - 0.9998 + 0.0006 * (0.9998 + (sl / entry) * 1.0002));
  const qty = notional / entry;
  const fill = entry * (1 - 0.0002);
  const exit = tp * (1 + 0.0002);
  const entryFee = fill * qty * 0.0006;
  const exitFee = exit * qty * 0.0006;
  const pnl = (fill - exit) * qty - entryFee - exitFee;

  it('decides once, on the close of candle 7, SHORT at its close with the fixed exits', () => {
    expect(r.decisions).toHaveLength(1);
    const d = r.decisions[0]!;
    expect(d).toMatchObject({ signalId: `v52_divergence:ETHUSDT:${SIGNAL_CANDLE}`, decision: 'TAKE', direction: 'SHORT', price: entry, ts: SIGNAL_CANDLE + MIN });
    expect(d.proposal?.takeProfit).toBeCloseTo(2614.8799, 9);
    expect(d.proposal?.stopLoss).toBeCloseTo(2635.90406, 9);
  });

  it('places 50 USD of risk (qty 4.1338712 ETH) and fills on the NEXT candle at the limit minus slippage, fee 6.5170341', () => {
    const placed = r.events.find((e) => e.type === 'order_placed');
    expect(placed).toMatchObject({ ts: SIGNAL_CANDLE + MIN, risk: 50 });
    const filled = r.events.find((e) => e.type === 'entry_filled') as { ts: number; price: number; qty: number; fee: number };
    expect(filled.ts).toBe(SIGNAL_CANDLE + 2 * MIN); // the close of candle 8, the first candle after the decision
    expect(filled.price).toBeCloseTo(2627.494396, 9);
    expect(filled.qty).toBeCloseTo(4.1338712214, 9);
    expect(filled.qty).toBeCloseTo(qty, 12);
    expect(filled.fee).toBeCloseTo(6.5170340809, 9);
  });

  it('exits at the take profit on candle 15 (not 13 or 14, whose lows only touch near it): P&L 36.9807093 USD', () => {
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    expect(t.exitReason).toBe('take_profit');
    expect(t.entryTime).toBe(SIGNAL_CANDLE + 2 * MIN);
    expect(t.exitTime).toBe(SIGNAL_CANDLE + 9 * MIN);
    expect(t.avgEntry).toBeCloseTo(fill, 9);
    expect(t.exitPrice).toBeCloseTo(2615.40287598, 9);
    expect(t.fees).toBeCloseTo(6.5170340809 + 6.4870432089, 9);
    expect(t.pnl).toBeCloseTo(pnl, 9);
    expect(t.pnl).toBeCloseTo((50 / 0.00460240036) * 0.0034040006, 9);
    expect(t.pnl).toBeCloseTo(36.9807093445, 9);
  });

  it('reports the run metrics from that one trade', () => {
    const m = r.metrics;
    expect(m).toMatchObject({ trades: 1, wins: 1, losses: 0, winRate: 1, profitFactor: null, avgDurationMin: 7, exitReasons: { take_profit: 1 } });
    expect(m.totalPnl).toBeCloseTo(36.9807093445, 9);
    expect(m.totalPnlPct).toBeCloseTo(0.369807093445, 9);
    expect(m.fees).toBeCloseTo(13.0040772898, 9);
    // market change: last close 2614.85 / first open 2624.51 - 1
    expect(m.marketChangePct).toBeCloseTo((2614.85 / 2624.51 - 1) * 100, 12);
    // Marked equity after candle k while short = 10,000 + (fill - close_k) x qty - entry fee:
    //   c8 2625.15 -> 10,003.174 (a peak), c9 2625.92 -> 9,999.991, then c10..c12 new peaks, c13 dips
    //   0.74 USD below c12's, c14 and the exit are new peaks. The largest fall is c8 -> c9:
    //   (2625.92 - 2625.15) x qty = 0.77 x 4.1338712 = 3.1831 USD, / 10,003.174 = 0.03182 %.
    expect(m.endEquityMarked).toBeCloseTo(10_000 + pnl, 9);
    const e8 = 10_000 + (fill - 2625.15) * qty - entryFee;
    expect(m.maxDrawdownPct).toBeCloseTo(((0.77 * qty) / e8) * 100, 9);
    expect(m.maxDrawdownPct).toBeCloseTo(0.0318207, 6);
    expect(r.openAtEnd).toBe(0);
  });

  it('maker_taker: the same short fills maker at its limit and exits maker at the TP: P&L 58.2057253874 USD, no slippage', () => {
    const mt = run('maker_taker');
    expect(mt.events.find((e) => e.type === 'order_placed')).toMatchObject({ risk: expect.closeTo(50, 9) });
    const filled = mt.events.find((e) => e.type === 'entry_filled');
    expect(filled).toMatchObject({ price: entry, qty: expect.closeTo(4.8137641331, 9), fee: expect.closeTo(2.5301336834, 9), liquidity: 'maker', slippage: 0 });
    expect(mt.trades).toHaveLength(1);
    expect(mt.trades[0]).toMatchObject({ exitReason: 'take_profit', exitPrice: expect.closeTo(tp, 9), fees: expect.closeTo(2.5301336834 + 2.517483015, 9), slippage: 0, pnl: expect.closeTo(58.2057253874, 9) });
    expect(mt.metrics).toMatchObject({ fees: expect.closeTo(5.0476166984, 9), slippage: 0 });
    expect(mt.fills).toEqual({ entry: { maker: 1, taker: 0 }, exit: { maker: 1, taker: 0 } });
    // conservative: slippage (2628.02 - 2627.494396 + 2615.40287598 - 2614.8799) x qty = (0.525604 + 0.52297598) x 4.1338712214
    expect(r.metrics.slippage).toBeCloseTo(1.04858 * 4.1338712214, 4);
  });
});
