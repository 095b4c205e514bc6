/** Sizing rules (shared/trading/sizing.ts) and their use by the engine: risk cap, conflict, regime, swing allocation. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RISK_CONFIG } from '../../shared/config/strategy.js';
import { openRisk } from '../../shared/trading/book.js';
import { applySignal, createTradingState, type SignalResult, type TradingState } from '../../shared/trading/engine.js';
import { qtysForNotional, qtysForRisk, scalpRiskBudget, swingNotionalBudget } from '../../shared/trading/sizing.js';
import { MIN, cfg1m, defaultCfg, signal } from './helpers.js';

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

  it('quantities: risk |entry - stop| x qty equals the budget; grid entries get equal notional', () => {
    expect(qtysForRisk([100], 99, 50)).toEqual([50]);
    const q = qtysForRisk([100, 98], 95, 30);
    expect(q[0]! * 100).toBeCloseTo(q[1]! * 98, 10);
    expect(q[0]! * 5 + q[1]! * 3).toBeCloseTo(30, 10);
    const n = qtysForNotional([100, 99, 98], 300);
    expect(n.map((x, i) => x * [100, 99, 98][i]!)).toEqual([100, 100, 100].map((v) => expect.closeTo(v, 10)));
  });

  it('engine: 4 full trades fill the 2 % cap, the 5th is rejected; a partial remainder is taken', () => {
    const cfg = defaultCfg();
    let s: TradingState = createTradingState('a', cfg, NOW);
    const syms = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'];
    const results = syms.map((symbol, i) => {
      const strategy = i % 2 ? 'levels_exhaustion' : 'v52_divergence';
      const r = applySignal(s, signal({ ts: NOW, symbol, strategy, entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, cfg, NOW);
      s = r.state;
      return r;
    });
    expect(results.slice(0, 4).map((r) => accepted(r).risk)).toEqual([50, 50, 50, 50].map((v) => expect.closeTo(v, 9)));
    expect(accepted(results[0]!).qtys[0]).toBeCloseTo(100, 9); // 50 / 0.5
    expect(results[4]!.decision).toMatchObject({ accepted: false, reason: 'risk_budget_exhausted' });
    expect(openRisk(s.account)).toBeCloseTo(200, 9);

    // free 30 of the budget by starting from 170 used: the next trade takes exactly the 30 left
    let s2 = createTradingState('b', cfg, NOW);
    for (const [i, sym] of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].entries()) {
      s2 = applySignal(s2, signal({ ts: NOW, symbol: sym, entries: [100], stopLoss: 99.5, takeProfit: 101, signalId: `x${i}` }), null, cfg, NOW).state;
    }
    const halfCfg = defaultCfg();
    halfCfg.risk.scalp.perTradeRiskPct = 0.2; // 20 per trade, cap still 200
    s2 = applySignal(s2, signal({ ts: NOW, symbol: 'XRPUSDT', entries: [100], stopLoss: 99.5, takeProfit: 101 }), null, halfCfg, NOW).state; // 170 used
    const r = applySignal(s2, signal({ ts: NOW, symbol: 'ADAUSDT', strategy: 'levels_exhaustion', entries: [10], stopLoss: 9.9, takeProfit: 10.2 }), null, cfg, NOW);
    expect(accepted(r).risk).toBeCloseTo(30, 9);
    expect(accepted(r).qtys[0]).toBeCloseTo(300, 9); // 30 / 0.1
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
