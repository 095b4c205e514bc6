/** Sizing rules (shared/trading/sizing.ts) and their use by the engine: risk cap, conflict, regime, swing allocation. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RISK_CONFIG, riskConfigSchema } from '../../shared/config/strategy.js';
import { openRisk } from '../../shared/trading/account.js';
import { stoppedLossPerUnit } from '../../shared/trading/costs.js';
import { applyCandle, applySignal, createTradingState, type SignalResult, type TradingState } from '../../shared/trading/core.js';
import { capToRoom, notionalRoom, qtysForNotional, qtysForRisk, scalpRiskBudget, swingNotionalBudget } from '../../shared/trading/sizing.js';
import { MIN, candle, cfg1m, defaultCfg, signal } from './helpers.js';

const NOW = Date.UTC(2025, 5, 11, 12, 0);

function accepted(r: SignalResult) {
  if (!r.decision.accepted) throw new Error(`rejected: ${r.decision.reason}`);
  return r.decision;
}

describe('scalp risk budget', () => {
  it('per trade 0.5 % of equity, capped by what remains of the 2 % total', () => {
    expect(scalpRiskBudget(10_000, 0, 1, DEFAULT_RISK_CONFIG)).toMatchObject({ perTrade: 50, cap: 200, remaining: 200, budget: 50 });
    expect(scalpRiskBudget(10_000, 170, 1, DEFAULT_RISK_CONFIG)).toMatchObject({ remaining: 30, budget: 30 });
    expect(scalpRiskBudget(10_000, 200, 1, DEFAULT_RISK_CONFIG).budget).toBe(0);
    // float dust left over is "nothing remains"
    expect(scalpRiskBudget(10_000, 200 - 1e-9, 1, DEFAULT_RISK_CONFIG).budget).toBe(0);
    // multipliers scale the per-trade budget before the min
    expect(scalpRiskBudget(10_000, 180, 0.5, DEFAULT_RISK_CONFIG).budget).toBe(20);
    expect(scalpRiskBudget(10_000, 0, 0.5 * 0.7, DEFAULT_RISK_CONFIG).budget).toBeCloseTo(17.5, 12);
  });

  it('quantities: the cost-inclusive risk stoppedLossPerUnit x qty equals the budget; grid entries get equal notional', () => {
    // conservative: 0.06 % per side on every fill, 0.02 % slippage on every fill
    const rates = { profile: 'conservative', makerFeeRate: 0.0006, takerFeeRate: 0.0006, slippageRate: 0.0002 } as const;
    // LONG 100 -> stop 99.5: fill 100.02, exit 99.5 x 0.9998 = 99.48010; 0.53990 + 0.0006 x (100.02 + 99.4801) = 0.65960006
    expect(stoppedLossPerUnit('LONG', 100, 99.5, rates)).toBeCloseTo(0.65960006, 12);
    // SHORT 100 -> stop 100.5: fill 99.98, exit 100.5 x 1.0002 = 100.5201; 0.5401 + 0.0006 x (99.98 + 100.5201) = 0.66040006
    expect(stoppedLossPerUnit('SHORT', 100, 100.5, rates)).toBeCloseTo(0.66040006, 12);
    expect(qtysForRisk('LONG', [100], 99.5, 50, rates)[0]).toBeCloseTo(50 / 0.65960006, 9);
    const q = qtysForRisk('LONG', [100, 98], 95, 30, rates);
    expect(q[0]! * 100).toBeCloseTo(q[1]! * 98, 10);
    expect(q[0]! * stoppedLossPerUnit('LONG', 100, 95, rates) + q[1]! * stoppedLossPerUnit('LONG', 98, 95, rates)).toBeCloseTo(30, 10);
    // without costs it is the old price-only risk
    expect(qtysForRisk('LONG', [100], 99, 50, { profile: 'maker_taker', makerFeeRate: 0, takerFeeRate: 0, slippageRate: 0 })).toEqual([50]);
    // maker_taker (Bybit 0.02 % maker / 0.055 % taker, 0.02 % slippage on the taker stop only):
    // LONG 100 -> stop 99.5: maker fill 100 (no slippage), exit 99.5 x 0.9998 = 99.4801;
    // 0.5199 + 100 x 0.0002 + 99.4801 x 0.00055 = 0.5199 + 0.02 + 0.054714055 = 0.594614055
    const mt = { profile: 'maker_taker', makerFeeRate: 0.0002, takerFeeRate: 0.00055, slippageRate: 0.0002 } as const;
    expect(stoppedLossPerUnit('LONG', 100, 99.5, mt)).toBeCloseTo(0.594614055, 12);
    // SHORT 100 -> stop 100.5: exit 100.5 x 1.0002 = 100.5201; 0.5201 + 0.02 + 100.5201 x 0.00055 = 0.595386055
    expect(stoppedLossPerUnit('SHORT', 100, 100.5, mt)).toBeCloseTo(0.595386055, 12);
    expect(qtysForRisk('LONG', [100], 99.5, 50, mt)[0]).toBeCloseTo(50 / 0.594614055, 9);
    const n = qtysForNotional([100, 99, 98], 300);
    expect(n.map((x, i) => x * [100, 99, 98][i]!)).toEqual([100, 100, 100].map((v) => expect.closeTo(v, 10)));
  });

  it('engine: scalps fill the 2 % risk cap until the 3x total notional cap binds; the next is rejected notional_cap', () => {
    const cfg = defaultCfg();
    let s: TradingState = createTradingState('a', cfg, NOW);
    const syms = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'];
    const results = syms.map((symbol, i) => {
      const strategy = i % 2 ? 'levels_exhaustion' : 'v52_divergence';
      const r = applySignal(s, signal({ ts: NOW, symbol, strategy, entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, cfg, NOW);
      s = r.state;
      return r;
    });
    // each wants 50 / 0.65960006 = 75.80 units = 7,580.35 notional (0.76x): three fit, the 4th is cut to
    // what is left of 3 x (10,000 - 150 open risk) with its own risk: (29,550 - 22,741.05) / (1 + 3 x rho)
    const rho = 0.65960006 / 100;
    expect(results.slice(0, 3).map((r) => accepted(r).risk)).toEqual([50, 50, 50].map((v) => expect.closeTo(v, 9)));
    expect(accepted(results[0]!).qtys[0]).toBeCloseTo(50 / 0.65960006, 9);
    const cut = (3 * (10_000 - 150) - 3 * (5_000 / 0.65960006)) / (1 + 3 * rho);
    expect(accepted(results[3]!)).toMatchObject({ cappedBy: 'total', notional: expect.closeTo(cut, 6), risk: expect.closeTo(cut * rho, 6) });
    expect(results[4]!.decision).toMatchObject({ accepted: false, reason: 'notional_cap', detail: expect.stringMatching(/^no notional room/) });
    // at 3x of equity minus every open stop: had all four stopped, 3x would still hold
    let total = 0;
    for (const p of s.account.positions) total += p.notional;
    expect(total).toBeCloseTo(3 * (10_000 - openRisk(s.account, null)), 6);

    // the 2 % risk cap still binds first when the notional fits: 3 x 50 used, 20 per trade, 30 left
    const halfCfg = defaultCfg();
    halfCfg.risk.scalp.perTradeRiskPct = 0.2;
    let s2 = createTradingState('b', cfg, NOW);
    for (const [i, sym] of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].entries()) {
      s2 = applySignal(s2, signal({ ts: NOW, symbol: sym, entries: [100], stopLoss: 99, takeProfit: 101, signalId: `x${i}` }), null, cfg, NOW).state;
    }
    s2 = applySignal(s2, signal({ ts: NOW, symbol: 'XRPUSDT', entries: [100], stopLoss: 99, takeProfit: 101 }), null, halfCfg, NOW).state; // 170 used
    const r = applySignal(s2, signal({ ts: NOW, symbol: 'ADAUSDT', strategy: 'levels_exhaustion', entries: [10], stopLoss: 9.5, takeProfit: 10.2 }), null, cfg, NOW);
    expect(accepted(r)).toMatchObject({ risk: expect.closeTo(30, 9), cappedBy: null });
  });

  it('the issue case: a tight ATR stop on BTC wants 25x; it is cut to 2x and a stop loses its (smaller) risk', () => {
    const cfg = defaultCfg();
    const s = createTradingState('a', cfg, NOW);
    // LONG 100,000, stop 99,980 (20 USD). Per BTC if stopped: fill 100,020, exit 99,980 x 0.9998 = 99,960.004;
    // 59.996 + 0.0006 x (100,020 + 99,960.004) = 59.996 + 119.9880024 = 179.9840024. Price-only sizing took
    // 50 / 20 = 2.5 BTC (250,000 = 25x); with costs 50 / 179.984 = 0.2778 BTC = 27,780 (2.8x) is still over
    // 2 x (10,000 - 200 of scalp headroom) = 19,600: cut to 19,600, risk 19,600 x 179.9840024 / 100,000.
    const sig = signal({ ts: NOW, entries: [100_000], stopLoss: 99_980, takeProfit: 100_030, maxHoldMs: 60 * MIN });
    const r = applySignal(s, sig, null, cfg, NOW);
    const d = accepted(r);
    const perBtc = 179.9840024;
    expect(d).toMatchObject({ cappedBy: 'position', notional: expect.closeTo(19_600, 6), qtys: [expect.closeTo(0.196, 12)], risk: expect.closeTo(0.196 * perBtc, 9) });
    // filled, then stopped (no gap): the loss is exactly the reserved risk, 35.28 (budget 50)
    let st = applyCandle(r.state, candle(NOW, 100_010, 100_015, 99_990, 100_000), null, cfg, NOW + MIN).state;
    const out = applyCandle(st, candle(NOW + MIN, 100_000, 100_005, 99_970, 99_975), null, cfg, NOW + 2 * MIN);
    st = out.state;
    const closedEv = out.events.find((e) => e.type === 'position_closed');
    expect(closedEv && closedEv.type === 'position_closed' && closedEv.trade).toMatchObject({ exitReason: 'stop_loss', pnl: expect.closeTo(-0.196 * perBtc, 9) });
    expect(-st.account.realizedPnl).toBeLessThanOrEqual(50);
  });

  it('capped sizes: notionalRoom by hand; a cut below minCappedNotionalPct of equity is rejected', () => {
    const risk = DEFAULT_RISK_CONFIG;
    const none = { risk: 0, scalpRisk: 0, notional: 0, largest: 0 };
    // fresh 10,000: a scalp's own risk comes out of the 200 headroom -> 2 x 9,800; total 30,000 / (1 + 3 x 0.01)
    expect(notionalRoom(10_000, none, 0.01, true, risk)).toMatchObject({ basis: 10_000, headroom: 200, position: 19_600, existing: Infinity, total: expect.closeTo(30_000 / 1.03, 9), room: 19_600, binding: 'position' });
    // a swing's risk is not in the scalp budget: 2 x (10,000 - 200) / (1 + 2 x 0.05)
    expect(notionalRoom(10_000, none, 0.05, false, risk).position).toBeCloseTo(19_600 / 1.1, 9);
    // an open 19,600 group (risk 100): a new swing may risk at most what keeps it <= 2 x (equity - all risk)
    const open = { risk: 100, scalpRisk: 100, notional: 19_600, largest: 19_600 };
    expect(notionalRoom(10_000, open, 0.05, false, risk)).toMatchObject({ existing: expect.closeTo((9_900 - 9_800) / 0.05, 9), room: expect.closeTo(2_000, 9), binding: 'existing' });
    // the room is 300 but the minimum is 1 % of 10,000 = 100 -> cut; with a 5 % minimum -> rejected
    const big = { risk: 0, scalpRisk: 0, notional: 29_700, largest: 10_000 };
    const rho = 0.0001;
    const room = (30_000 - 29_700) / (1 + 3 * rho);
    expect(capToRoom([100], [100], rho, true, 10_000, big, risk)).toMatchObject({ ok: true, notional: expect.closeTo(room, 9), cappedBy: 'total', qtys: [expect.closeTo(room / 100, 12)] });
    const strict = { ...risk, minCappedNotionalPct: 5 };
    expect(capToRoom([100], [100], rho, true, 10_000, big, strict)).toMatchObject({ ok: false, detail: expect.stringMatching(/^capped size below the minimum 500\.00 \(5 % of equity\): wants 10000\.00 notional, room 299\.91 \(total cap/) });
    // fits: unchanged
    expect(capToRoom([100], [10], rho, true, 10_000, none, risk)).toEqual({ ok: true, qtys: [10], notional: 1_000, cappedBy: null });
  });

  it('halves the scalp size when a SWING position is open on the same pair', () => {
    const cfg = cfg1m();
    let s = createTradingState('a', cfg, NOW);
    const swing = applySignal(s, signal({ ts: NOW, strategy: 'swing_breakout', engine: 'SWING', entries: [100], stopLoss: 98, takeProfit: 104 }), null, cfg, NOW);
    s = swing.state;
    const r = applySignal(s, signal({ ts: NOW, entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, cfg, NOW);
    expect(accepted(r)).toMatchObject({ sizeMultiplier: 0.5, risk: expect.closeTo(25, 9) });
    // other pairs are not affected
    const o = applySignal(s, signal({ ts: NOW, symbol: 'ETHUSDT', entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, cfg, NOW);
    expect(accepted(o)).toMatchObject({ sizeMultiplier: 1, risk: expect.closeTo(50, 9) });
  });

  it('regime size multipliers: CAUTION x0.5, EUPHORIA x0.7, NORMAL x1', () => {
    const cfg = cfg1m();
    for (const [regime, m] of [['CAUTION', 0.5], ['EUPHORIA', 0.7], ['NORMAL', 1]] as const) {
      const s = createTradingState('a', cfg, NOW);
      s.protections.regime.current = regime;
      const r = applySignal(s, signal({ ts: NOW, entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, cfg, NOW);
      // adaptive stops widen the stop by the regime multiplier (1.3 / 1.2) but the RISK stays budget x m
      expect(accepted(r).risk).toBeCloseTo(50 * m, 9);
      expect(accepted(r).sizeMultiplier).toBe(m);
    }
  });
});

describe('swing allocation', () => {
  it('DCA 40 / SWING 30 / CHANNEL 30 of the 80 % not in reserve, split over maxPerStrategy positions', () => {
    const b = swingNotionalBudget(10_000, 'DCA', 0, 1, DEFAULT_RISK_CONFIG);
    expect(b.allocation).toBeCloseTo(3200, 9); // 10,000 x 0.8 x 0.4
    expect(b.perPosition).toBeCloseTo(640, 9); // / 5
    expect(swingNotionalBudget(10_000, 'SWING', 0, 1, DEFAULT_RISK_CONFIG).allocation).toBeCloseTo(2400, 9);
    expect(swingNotionalBudget(10_000, 'CHANNEL', 2000, 1, DEFAULT_RISK_CONFIG).budget).toBeCloseTo(400, 9); // 2400 - 2000 left
    expect(swingNotionalBudget(10_000, 'CHANNEL', 2400, 1, DEFAULT_RISK_CONFIG).budget).toBe(0);
  });

  it('engine: a DCA grid of 5 equal-notional limit buys worth 640 USD', () => {
    const cfg = cfg1m();
    const s = createTradingState('a', cfg, NOW);
    const entries = [100, 99, 98, 97, 96];
    const r = applySignal(s, signal({ ts: NOW, strategy: 'dca', engine: 'SWING', entries, stopLoss: 90, takeProfit: 105, maxHoldMs: 72 * 60 * MIN }), null, cfg, NOW);
    const d = accepted(r);
    expect(d.notional).toBeCloseTo(640, 9);
    expect(d.qtys.map((q, i) => q * entries[i]!)).toEqual(entries.map(() => expect.closeTo(128, 9)));
    expect(r.events).toMatchObject([{ type: 'order_placed', entries: entries.map((price) => ({ price })) }]);
  });
});

describe('risk config: the notional caps', () => {
  it('defaults 2x / 3x / 1 %; a document without them still parses; bounds and order are enforced', () => {
    const { maxLeverage: _a, maxTotalLeverage: _b, minCappedNotionalPct: _c, ...older } = DEFAULT_RISK_CONFIG;
    expect(riskConfigSchema.parse(older)).toMatchObject({ maxLeverage: 2, maxTotalLeverage: 3, minCappedNotionalPct: 1 });
    for (const bad of [{ maxLeverage: 0 }, { maxLeverage: 11 }, { maxTotalLeverage: 25 }, { maxLeverage: 4 }, { minCappedNotionalPct: 300 }, { maxLeverage: 0.1, minCappedNotionalPct: 10 }]) {
      expect(riskConfigSchema.safeParse({ ...DEFAULT_RISK_CONFIG, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
