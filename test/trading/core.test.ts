/** The single decision path (shared/trading/core.ts): checks, limits, protections wired to the book. */
import { describe, expect, it } from 'vitest';
import type { ProtectionEvent } from '../../shared/protection/model.js';
import { applyCandle, applySignal, createTradingState, ownerResume, tick, type TradingEvent, type TradingState } from '../../shared/trading/core.js';
import type { TradingConfig } from '../../shared/trading/model.js';
import { type Signal } from '../../shared/model/trading.js';
import { HOUR, MIN, candle, cfg1m, defaultCfg, signal } from './helpers.js';
import { signalSchema } from '../../shared/messages.js';

const T = Date.UTC(2025, 5, 11, 12, 0);
const kinds = (evs: readonly TradingEvent[]) => evs.filter((e): e is ProtectionEvent => e.type === 'protection').map((e) => e.kind);
const types = (evs: readonly TradingEvent[]) => evs.map((e) => (e.type === 'protection' ? e.kind : e.type));

function scalp(symbol: string, ts: number, over: Partial<Signal> = {}): Signal {
  return signal({ ts, symbol, entries: [100], stopLoss: 99.5, takeProfit: 101, ...over });
}

describe('applySignal checks', () => {
  it('one position per coin per strategy; another strategy on the same coin is fine', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    s = applySignal(s, scalp('BTCUSDT', T), null, cfg, T).state;
    const again = applySignal(s, scalp('BTCUSDT', T + MIN), null, cfg, T + MIN);
    expect(again.decision).toMatchObject({ accepted: false, reason: 'position_exists' });
    expect(again.state.account).toBe(s.account);
    const other = applySignal(s, scalp('BTCUSDT', T + MIN, { strategy: 'levels_exhaustion' }), null, cfg, T + MIN);
    expect(other.decision.accepted).toBe(true);
  });

  it('per-strategy (5) and total (15) position limits', () => {
    const cfg = cfg1m();
    cfg.risk.scalp.totalRiskPct = 10; // take risk (10 scalps x 0.5 %) and the notional caps out of the way
    cfg.risk.maxLeverage = 10;
    cfg.risk.maxTotalLeverage = 20;
    let s = createTradingState('a', cfg, T);
    const coins = Array.from({ length: 8 }, (_, i) => `C${i}USDT`);
    const decisions: string[] = [];
    for (const strategy of ['v52_divergence', 'levels_exhaustion', 'dca', 'swing_breakout'] as const) {
      for (const sym of coins.slice(0, 6)) {
        const engine = strategy === 'dca' || strategy === 'swing_breakout' ? 'SWING' : 'SCALP';
        const r = applySignal(s, scalp(sym, T, { strategy, engine }), null, cfg, T);
        s = r.state;
        decisions.push(r.decision.accepted ? 'ok' : r.decision.reason);
      }
    }
    expect(decisions).toEqual([
      ...['ok', 'ok', 'ok', 'ok', 'ok', 'strategy_position_limit'],
      ...['ok', 'ok', 'ok', 'ok', 'ok', 'strategy_position_limit'],
      ...['ok', 'ok', 'ok', 'ok', 'ok', 'strategy_position_limit'],
      ...['total_position_limit', 'total_position_limit', 'total_position_limit', 'total_position_limit', 'total_position_limit', 'total_position_limit'],
    ]);
    expect(s.account.positions).toHaveLength(15);
  });

  it('rejects log-only, duplicate, stale and inverted-level signals', () => {
    const cfg = defaultCfg();
    const s0 = createTradingState('a', cfg, T);
    expect(applySignal(s0, scalp('BTCUSDT', T, { emit: false }), null, cfg, T).decision).toMatchObject({ reason: 'not_emitting' });
    const s1 = applySignal(s0, scalp('BTCUSDT', T), null, cfg, T).state;
    const dup = applySignal(s1, scalp('BTCUSDT', T), null, cfg, T + 1000);
    expect(dup.decision).toMatchObject({ reason: 'duplicate' });
    expect(dup.state).toBe(s1);
    expect(applySignal(s0, scalp('BTCUSDT', T), null, cfg, T + 5 * MIN).decision).toMatchObject({ reason: 'stale_signal' });
    expect(applySignal(s0, scalp('BTCUSDT', T, { stopLoss: 100.2 }), null, cfg, T).decision).toMatchObject({ reason: 'invalid_levels' });
    expect(applySignal(s0, scalp('BTCUSDT', T, { direction: 'SHORT' }), null, cfg, T).decision).toMatchObject({ reason: 'invalid_levels' });
  });

  it('adaptive stop: the stop is widened by volatility and regime, and sizing uses it', () => {
    const cfg = defaultCfg();
    const s = createTradingState('a', cfg, T);
    s.protections.regime.current = 'CAUTION';
    // base 0.5 % x (1 + 0.3 x 5/10) x 1.3 = 0.7475 %
    const r = applySignal(s, scalp('BTCUSDT', T), { volatility24hPct: 5 }, cfg, T);
    if (!r.decision.accepted) throw new Error(r.decision.reason);
    expect(r.decision.stopLoss).toBeCloseTo(100 * (1 - 0.007475), 10);
    expect(r.decision.risk).toBeCloseTo(25, 9); // CAUTION halves the 50 budget
    // per unit if stopped, costs included: fill 100.02, exit stop x 0.9998, fees 0.06 % per side
    const exit = 100 * (1 - 0.007475) * 0.9998;
    expect(r.decision.qtys[0]).toBeCloseTo(25 / (100.02 - exit + 0.0006 * (100.02 + exit)), 9);
  });
});

describe('protections through the engine', () => {
  it('PANIC from the regime inputs halts new trades; one event per change', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    const panic = { change1hPct: -5.5, change4hPct: -6, change24hPct: -6, change48hPct: -6 };
    let r = applyCandle(s, candle(T, 100, 100, 100, 100), { regimeInputs: panic }, cfg, T + MIN);
    expect(kinds(r.events)).toEqual(['regime_changed']);
    s = r.state;
    r = applyCandle(s, candle(T + MIN, 100, 100, 100, 100), { regimeInputs: panic }, cfg, T + 2 * MIN);
    expect(r.events).toEqual([]);
    expect(r.state).toBe(s);
    expect(applySignal(s, scalp('ETHUSDT', T + 2 * MIN), null, cfg, T + 2 * MIN).decision).toMatchObject({ reason: 'regime_panic' });
    // a calm reading does not end PANIC at once: it holds minHoldMs (30 min) from its start (T + 1m)
    const changes: number[] = [];
    for (let t = T + 2 * MIN; t <= T + 40 * MIN; t += MIN) {
      r = applyCandle(s, candle(t, 100, 100, 100, 100), { regime: 'NORMAL' }, cfg, t + MIN);
      s = r.state;
      if (kinds(r.events).includes('regime_changed')) changes.push(t + MIN);
      if (s.protections.regime.current === 'PANIC') expect(applySignal(s, scalp('ETHUSDT', t + MIN), null, cfg, t + MIN).decision).toMatchObject({ reason: 'regime_panic' });
    }
    expect(changes).toEqual([T + MIN + cfg.protections.regime.minHoldMs]);
    expect(applySignal(s, scalp('ETHUSDT', T + 41 * MIN), null, cfg, T + 41 * MIN).decision.accepted).toBe(true);
  });

  it('CHANNEL signals are refused while 24h volatility disabled it on that symbol', () => {
    const cfg = cfg1m();
    let s = createTradingState('a', cfg, T);
    s = applyCandle(s, candle(T, 100, 100, 100, 100, 'SOLUSDT'), { volatility24hPct: 8.2 }, cfg, T + MIN).state;
    const ch = (ts: number) => scalp('SOLUSDT', ts, { strategy: 'channel', engine: 'SWING', stopLoss: 98, takeProfit: 103 });
    expect(applySignal(s, ch(T + MIN), null, cfg, T + MIN).decision).toMatchObject({ reason: 'strategy_disabled_volatility' });
    expect(applySignal(s, scalp('SOLUSDT', T + MIN, { strategy: 'dca', engine: 'SWING', stopLoss: 98, takeProfit: 103 }), null, cfg, T + MIN).decision.accepted).toBe(true);
    s = applyCandle(s, candle(T + MIN, 100, 100, 100, 100, 'SOLUSDT'), { volatility24hPct: 6 }, cfg, T + 2 * MIN).state;
    expect(applySignal(s, ch(T + 2 * MIN), null, cfg, T + 2 * MIN).decision.accepted).toBe(true);
  });

  /** Opens a long scalp at 100 (stop 99.5) and runs it into its stop; returns the state after. */
  function stopOut(cfg: TradingConfig, s: TradingState, t: number, symbol = 'BTCUSDT'): { s: TradingState; events: TradingEvent[] } {
    s = applySignal(s, scalp(symbol, t), null, cfg, t).state;
    const events: TradingEvent[] = [];
    for (const c of [candle(t, 100.1, 100.2, 99.9, 100), candle(t + MIN, 100, 100.1, 99.4, 99.6)]) {
      const r = applyCandle(s, { ...c, symbol }, null, cfg, c.openTime + MIN);
      s = r.state;
      events.push(...r.events);
    }
    return { s, events };
  }

  it('3 consecutive stops on a symbol start the large-cap 4h cooldown; it ends with one event', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    const all: TradingEvent[] = [];
    for (let k = 0; k < 3; k++) {
      const r = stopOut(cfg, s, T + k * 10 * MIN);
      s = r.s;
      all.push(...r.events);
    }
    expect(all.filter((e) => e.type === 'position_closed').map((e) => e.type === 'position_closed' && e.trade.exitReason)).toEqual(['stop_loss', 'stop_loss', 'stop_loss']);
    expect(kinds(all)).toEqual(['cooldown_started']);
    const stoppedAt = T + 20 * MIN + 2 * MIN;
    expect(s.protections.limiter['BTCUSDT']?.cooldownUntil).toBe(stoppedAt + 4 * HOUR);
    expect(applySignal(s, scalp('BTCUSDT', T + HOUR), null, cfg, T + HOUR).decision).toMatchObject({ reason: 'symbol_cooldown' });
    expect(applySignal(s, scalp('ETHUSDT', T + HOUR), null, cfg, T + HOUR).decision.accepted).toBe(true);
    const r = tick(s, cfg, stoppedAt + 4 * HOUR);
    expect(kinds(r.events)).toEqual(['cooldown_ended']);
    expect(tick(r.state, cfg, stoppedAt + 4 * HOUR + 1).events).toEqual([]);
  });

  it('a profitable time exit resets the stop count (no cooldown after 2 + 1 stops)', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    s = stopOut(cfg, s, T).s;
    s = stopOut(cfg, s, T + 10 * MIN).s;
    expect(s.protections.limiter['BTCUSDT']?.consecutiveStops).toBe(2);
    const t = T + 20 * MIN;
    s = applySignal(s, scalp('BTCUSDT', t, { maxHoldMs: 2 * MIN }), null, cfg, t).state;
    const evs: TradingEvent[] = [];
    for (const c of [candle(t, 100.1, 100.2, 99.9, 100), candle(t + MIN, 100, 100.2, 100, 100.1), candle(t + 2 * MIN, 100.1, 100.3, 100.1, 100.3)]) {
      const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
      s = r.state;
      evs.push(...r.events);
    }
    expect(types(evs)).toEqual(['entry_filled', 'exit_filled', 'position_closed', 'limiter_reset']);
    s = stopOut(cfg, s, T + 30 * MIN).s;
    expect(s.protections.limiter['BTCUSDT']).toMatchObject({ consecutiveStops: 1, cooldownUntil: null });
  });

  it('trailing activation and a 50 % take-profit reach reset the count', () => {
    const cfg = defaultCfg();
    cfg.paper.costs.scalpSlippagePct = 0;
    let s = createTradingState('a', cfg, T);
    s = stopOut(cfg, s, T).s;
    const t = T + 10 * MIN;
    s = applySignal(s, scalp('BTCUSDT', t, { takeProfit: 102, stopLoss: 99, trailingFraction: 0.005 }), null, cfg, t).state;
    const evs: TradingEvent[] = [];
    for (const c of [candle(t, 100.1, 100.2, 99.9, 100), candle(t + MIN, 100, 100.6, 100, 100.5), candle(t + 2 * MIN, 100.5, 101.1, 100.5, 101)]) {
      const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
      s = r.state;
      evs.push(...r.events);
    }
    // 100.6 >= activation 100.5 -> trailing on (reset); 101.1 >= 100 + 0.5 x 2 -> half TP (nothing left to reset)
    expect(types(evs)).toEqual(['entry_filled', 'trailing_activated', 'limiter_reset', 'half_take_profit']);
    expect(s.protections.limiter['BTCUSDT']?.consecutiveStops).toBe(0);
  });

  it('5 consecutive losses pause new trades (one event each change); the owner can resume', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    const all: TradingEvent[] = [];
    const syms = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'];
    syms.forEach((sym, k) => {
      const r = stopOut(cfg, s, T + k * 10 * MIN, sym);
      s = r.s;
      all.push(...r.events);
    });
    // each stop (no gap) loses exactly its budget, 0.5 % of the equity of the moment, fees and slippage
    // included: 10,000 x (1 - 0.995^5) = 247.51 in all, under the 3 % daily drawdown alert
    expect(-s.account.realizedPnl).toBeCloseTo(10_000 * (1 - 0.995 ** 5), 6);
    expect(kinds(all)).toEqual(['loss_streak_pause']);
    const at = T + HOUR;
    expect(applySignal(s, scalp('DOGEUSDT', at), null, cfg, at).decision).toMatchObject({ reason: 'loss_streak_pause' });
    const resumed = ownerResume(s, at);
    expect(kinds(resumed.events)).toEqual(['trading_resumed']);
    expect(applySignal(resumed.state, scalp('DOGEUSDT', at), null, cfg, at).decision.accepted).toBe(true);
  });

  it('daily loss of 10 % halts new trades until the next UTC day', () => {
    const cfg = defaultCfg();
    cfg.risk.scalp.perTradeRiskPct = 2;
    cfg.protections.accountGuards.maxConsecutiveLosses = 100;
    let s = createTradingState('a', cfg, T);
    // a loss far past the stop: the candle gaps from 100 to 88 -> about -2,400 (24 % of equity)
    s = applySignal(s, scalp('BTCUSDT', T), null, cfg, T).state;
    s = applyCandle(s, candle(T, 100.1, 100.2, 99.9, 100), null, cfg, T + MIN).state;
    const r = applyCandle(s, candle(T + MIN, 88, 88.5, 87.5, 88), null, cfg, T + 2 * MIN);
    expect(kinds(r.events)).toEqual(['daily_drawdown_alert', 'daily_loss_halt']);
    expect(applySignal(r.state, scalp('ETHUSDT', T + 3 * MIN), null, cfg, T + 3 * MIN).decision).toMatchObject({ reason: 'daily_loss_halt' });
    const nextDay = Date.UTC(2025, 5, 12, 0, 1);
    const r2 = applySignal(r.state, scalp('ETHUSDT', nextDay), null, cfg, nextDay);
    expect(kinds(r2.events)).toEqual(['daily_halt_cleared']);
    expect(r2.decision.accepted).toBe(true);
  });
});

describe('edge validation', () => {
  it('signalSchema accepts a Signal and rejects a malformed payload with the field named', () => {
    const ok = scalp('BTCUSDT', T);
    expect(signalSchema.parse(ok)).toEqual(ok);
    const bad = signalSchema.safeParse({ ...ok, entries: [], stopLoss: -1 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['entries', 'stopLoss']);
  });
});

describe('hot path', () => {
  it('a candle with nothing to do returns the same state and the shared empty event list', () => {
    const cfg = defaultCfg();
    const s = createTradingState('a', cfg, T);
    const r = applyCandle(s, candle(T, 1, 1, 1, 1), null, cfg, T + MIN);
    expect(r.state).toBe(s);
    expect(r.events).toHaveLength(0);
  });
});

describe('the ML filter (config/ml mode filter) inside the core', () => {
  const ml = (probability: number | null) => ({ probability, modelVersion: 'v52_divergence@3', featureVersion: 'v52_divergence/1', ...(probability === null ? { error: 'feature rsi is null' } : {}) });

  it('advisory mode never refuses, whatever the prediction', () => {
    const cfg = defaultCfg();
    expect(cfg.ml.mode).toBe('advisory');
    const s0 = createTradingState('a', cfg, T);
    expect(applySignal(s0, scalp('BTCUSDT', T, { ml: ml(0.1) }), null, cfg, T).decision.accepted).toBe(true);
    expect(applySignal(s0, scalp('BTCUSDT', T, { ml: ml(null) }), null, cfg, T).decision.accepted).toBe(true);
  });

  it('filter mode: below minConfidence refused, at it accepted, no model not filtered, a failed prediction fails closed', () => {
    const cfg = { ...defaultCfg(), ml: { mode: 'filter' as const, minConfidence: 0.6 } };
    const s0 = createTradingState('a', cfg, T);
    const low = applySignal(s0, scalp('BTCUSDT', T, { ml: ml(0.59) }), null, cfg, T);
    expect(low.decision).toMatchObject({ accepted: false, reason: 'ml_filter' });
    expect(low.state.account).toBe(s0.account);
    expect(applySignal(s0, scalp('BTCUSDT', T, { ml: ml(0.6) }), null, cfg, T).decision.accepted).toBe(true);
    expect(applySignal(s0, scalp('BTCUSDT', T), null, cfg, T).decision.accepted).toBe(true);
    expect(applySignal(s0, scalp('BTCUSDT', T, { ml: ml(null) }), null, cfg, T).decision).toMatchObject({ accepted: false, reason: 'ml_unavailable' });
  });

  it('a signal message carrying a prediction validates; an impossible probability is refused at the boundary', () => {
    const sig = scalp('BTCUSDT', T, { ml: ml(0.7) });
    expect(signalSchema.safeParse(sig).success).toBe(true);
    expect(signalSchema.safeParse({ ...sig, ml: { ...ml(0.7), probability: 1.5 } }).success).toBe(false);
    expect(signalSchema.safeParse({ ...sig, ml: { ...ml(0.7), extra: 1 } }).success).toBe(false);
  });
});
