/**
 * ownerLevelBounds (shared/trading/owner-levels.ts): the ONE rule for how far the owner may move a
 * group's take profit and stop loss, on groups opened through the trading core over real Bybit
 * BTCUSDT 1m candles (test/fixtures/trading).
 */
import { describe, expect, it } from 'vitest';
import { applyCandle, applySignal, createTradingState, setFillSource, type TradingState } from '../../shared/trading/core.js';
import { groupMark as groupMarkAt, LEVEL_GAP_PCT, levelBreach, ownerLevelBounds, ownerLevelConfig, ownerLevelLimits, referenceEntry, type OwnerLevelLimits } from '../../shared/trading/owner-levels.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import type { Candle } from '../../shared/model/market.js';
import type { Position, TradingConfig } from '../../shared/trading/model.js';
import { MIN, cfg1m, defaultCfg, realBtc1m, signal } from './helpers.js';

const CANDLES = realBtc1m();
const GAP = LEVEL_GAP_PCT / 100;
const TP_MAX_PCT = 20;
const AGE = DEFAULT_TELEGRAM_CONFIG.dashboard.maxMarkAgeMs;
/** The group's mark a minute after its last candle closed (fresh). */
const groupMark = (a: TradingState['account'], p: Position): number | null => groupMarkAt(a, p, p.lastCandleOpen + 2 * MIN, AGE);

/** Index of the candle opening at `iso`. */
function at(iso: string): number {
  const t = Date.parse(iso);
  const k = CANDLES.findIndex((c) => c.openTime === t);
  if (k < 0) throw new Error(`no candle at ${iso}`);
  return k;
}

interface Run {
  state: TradingState;
  cfg: TradingConfig;
  /** Candles applied after the signal. */
  applied: Candle[];
}

/** A signal decided at the close of candle k (levels around that close), then the next `n` real candles. */
function run(k: number, n: number, over: { direction: 'LONG' | 'SHORT'; entries: (close: number) => number[]; external?: boolean; swing?: boolean }): Run {
  const cfg = over.swing ? cfg1m() : defaultCfg();
  const c = CANDLES[k] as Candle;
  const ts = c.openTime + MIN;
  const long = over.direction === 'LONG';
  const entries = over.entries(c.close);
  const first = entries[0] as number;
  let state = createTradingState('main', cfg, ts);
  if (over.external) state = setFillSource(state, 'external');
  const sig = signal({ ts, ...(over.swing ? { strategy: 'dca' as const, engine: 'SWING' as const } : {}), direction: over.direction, entries, stopLoss: long ? Math.min(...entries) * 0.99 : Math.max(...entries) * 1.01, takeProfit: long ? first * 1.02 : first * 0.98 });
  const placed = applySignal(state, sig, null, cfg, ts);
  expect(placed.decision.accepted).toBe(true);
  state = placed.state;
  const applied = CANDLES.slice(k + 1, k + 1 + n);
  for (const x of applied) state = applyCandle(state, x, null, cfg, x.openTime + MIN).state;
  return { state, cfg, applied };
}

const only = (s: TradingState): Position => {
  expect(s.account.positions).toHaveLength(1);
  return s.account.positions[0] as Position;
};

describe('ownerLevelBounds on real candles', () => {
  // the distance rules alone (the risk cap is tested in owner-levels-risk.test.ts)
  const limits: OwnerLevelLimits = { takeProfitMaxPct: TP_MAX_PCT, stopLossMaxPct: defaultCfg().protections.adaptiveStops.capPct.large_cap, maxRisk: Infinity };

  it('limits come from the dashboard TP max and the tier adaptive-stop cap', () => {
    const cfg = defaultCfg();
    const { state } = run(at('2025-06-11T12:17:00Z'), 0, { direction: 'LONG', entries: (c) => [c * 0.999] });
    const p = only(state);
    for (const tier of ['large_cap', 'mid_cap', 'small_cap', 'memecoin'] as const) {
      const l = ownerLevelLimits(ownerLevelConfig(cfg, { takeProfitMaxPct: 7, maxMarkAgeMs: AGE }), { ...p, tier }, state.account);
      expect(l).toEqual({ takeProfitMaxPct: 7, stopLossMaxPct: cfg.protections.adaptiveStops.capPct[tier], maxRisk: expect.any(Number) });
      // a group sized to the whole per-trade budget: the cap is its own risk (within float noise)
      expect(l.maxRisk).toBeCloseTo(p.risk, 9);
    }
  });

  it('pending LONG: TP beyond the entry up to the max; no stop range before the group has a mark', () => {
    const k = at('2025-06-11T12:17:00Z');
    const { state } = run(k, 0, { direction: 'LONG', entries: (c) => [c * 0.999] });
    const p = only(state);
    expect(p.status).toBe('pending');
    expect(groupMark(state.account, p)).toBeNull();
    const entry = p.entries[0]!.price;
    expect(referenceEntry(p)).toBe(entry);
    const b = ownerLevelBounds(p, groupMark(state.account, p), limits);
    expect(b.stopLoss).toBeNull();
    expect(b.takeProfit!.min).toBeCloseTo(entry * (1 + GAP), 6);
    expect(b.takeProfit!.max).toBeCloseTo(entry * 1.2, 6);
    // with a mark (after a candle) a pending group's stop stays below its working entry
    const one = run(k, 1, { direction: 'LONG', entries: (c) => [c * 0.99] });
    const q = only(one.state);
    expect(q.status).toBe('pending');
    const mark = groupMark(one.state.account, q);
    expect(mark).toBe(one.applied[0]!.close);
    const b1 = ownerLevelBounds(q, mark, limits);
    expect(b1.stopLoss!.max).toBeCloseTo(Math.min(mark!, q.entries[0]!.price) * (1 - GAP), 6);
    expect(b1.stopLoss!.min).toBeCloseTo(q.entries[0]!.price * (1 - limits.stopLossMaxPct / 100), 6);
  });

  it('open LONG: TP from the fill up to 20 %, stop from the tier cap up to just below the mark (past the entry when the mark is above it)', () => {
    const k = at('2025-06-11T12:17:00Z');
    // find a run length where the group is open and the mark sits above the average fill
    let found: { state: TradingState; p: Position; mark: number } | null = null;
    for (let n = 1; n < 120 && !found; n++) {
      const r = run(k, n, { direction: 'LONG', entries: (c) => [c] });
      if (r.state.account.positions.length !== 1) break;
      const p = only(r.state);
      const mark = groupMark(r.state.account, p);
      if (p.status === 'open' && mark !== null && mark > p.avgEntry) found = { state: r.state, p, mark };
    }
    expect(found).not.toBeNull();
    const { p, mark } = found!;
    const b = ownerLevelBounds(p, mark, limits);
    // the TP stays above the mark too (here above the fill)
    const side = Math.max(p.entries[0]!.price, p.avgEntry, mark);
    expect(side).toBe(mark);
    expect(b.takeProfit).toEqual({ min: side * (1 + GAP), max: p.avgEntry * (1 + TP_MAX_PCT / 100) });
    expect(b.stopLoss).toEqual({ min: p.avgEntry * (1 - limits.stopLossMaxPct / 100), max: mark * (1 - GAP) });
    // the stop may be raised above the entry (break-even / locked profit) while the mark is above it
    expect(b.stopLoss!.max).toBeGreaterThan(p.avgEntry);
    // the current levels are inside their ranges
    expect(levelBreach('take_profit', true, b.takeProfit!, p.takeProfit)).toBeNull();
    expect(levelBreach('stop_loss', true, b.stopLoss!, p.stopLoss)).toBeNull();
    // which end a level breaks
    expect(levelBreach('take_profit', true, b.takeProfit!, p.avgEntry)).toBe('side');
    expect(levelBreach('take_profit', true, b.takeProfit!, p.avgEntry * 1.3)).toBe('distance');
    expect(levelBreach('stop_loss', true, b.stopLoss!, mark)).toBe('side');
    expect(levelBreach('stop_loss', true, b.stopLoss!, p.avgEntry * 0.5)).toBe('distance');
  });

  it('open SHORT mirrors: TP below the entry down to 20 %, stop above the mark up to the cap', () => {
    const k = at('2025-06-12T14:00:00Z');
    let found: { p: Position; mark: number } | null = null;
    for (let n = 1; n < 240 && !found; n++) {
      const r = run(k, n, { direction: 'SHORT', entries: (c) => [c] });
      if (r.state.account.positions.length !== 1) break;
      const p = only(r.state);
      const mark = groupMark(r.state.account, p);
      if (p.status === 'open' && mark !== null) found = { p, mark };
    }
    expect(found).not.toBeNull();
    const { p, mark } = found!;
    const b = ownerLevelBounds(p, mark, limits);
    const side = Math.min(p.entries[0]!.price, p.avgEntry, mark);
    expect(b.takeProfit).toEqual({ min: p.avgEntry * (1 - TP_MAX_PCT / 100), max: side * (1 - GAP) });
    expect(b.stopLoss).toEqual({ min: mark * (1 + GAP), max: p.avgEntry * (1 + limits.stopLossMaxPct / 100) });
    expect(levelBreach('take_profit', false, b.takeProfit!, p.avgEntry)).toBe('side');
    expect(levelBreach('take_profit', false, b.takeProfit!, p.avgEntry * 0.7)).toBe('distance');
    expect(levelBreach('stop_loss', false, b.stopLoss!, mark * 0.999)).toBe('side');
    expect(levelBreach('stop_loss', false, b.stopLoss!, p.avgEntry * 1.5)).toBe('distance');
  });

  it('a DCA grid (swing) partly filled: the stop stays below the entry still working; the TP above the highest entry', () => {
    const k = at('2025-06-12T14:00:00Z');
    let found: { p: Position; mark: number } | null = null;
    for (let n = 1; n < 600 && !found; n++) {
      const r = run(k, n, { direction: 'LONG', entries: (c) => [c, c * 0.97], swing: true });
      if (r.state.account.positions.length !== 1) break;
      const p = only(r.state);
      const mark = groupMark(r.state.account, p);
      if (p.status === 'open' && mark !== null && p.entries[1]!.status === 'pending') found = { p, mark };
    }
    expect(found).not.toBeNull();
    const { p, mark } = found!;
    const b = ownerLevelBounds(p, mark, limits);
    expect(p.entries[0]!.status).toBe('filled');
    expect(b.stopLoss!.max).toBeCloseTo(Math.min(mark, p.entries[1]!.price) * (1 - GAP), 6);
    expect(b.stopLoss!.max).toBeLessThan(p.entries[1]!.price);
    expect(b.takeProfit!.min).toBeCloseTo(Math.max(p.entries[0]!.price, p.avgEntry, mark) * (1 + GAP), 6);
  });

  it('null when the level cannot move: a live group whose protective exit is decided, an empty range', () => {
    const k = at('2025-06-12T14:00:00Z');
    // a live (external) group: candles only decide, and with no exchange its entry never fills: once
    // the entry timeout passes the core decides the cancel, the group holds nothing: nothing movable
    const r0 = run(k, 0, { direction: 'LONG', entries: (c) => [c], external: true });
    const working = { p: only(r0.state) };
    expect(ownerLevelBounds(working.p, null, limits).takeProfit).not.toBeNull();
    const timeoutCandles = r0.cfg.paper.entryTimeoutMs.scalp / MIN + 1;
    const last = only(run(k, timeoutCandles, { direction: 'LONG', entries: (c) => [c], external: true }).state);
    expect(last.external!.cancelDecidedAt).not.toBeNull();
    expect(ownerLevelBounds(last, CANDLES[k]!.close, limits)).toEqual({ takeProfit: null, stopLoss: null });

    // a protective decision on a held live group: both levels frozen
    const held: Position = {
      ...last,
      status: 'open',
      filledQty: last.entries[0]!.qty,
      avgEntry: last.entries[0]!.price,
      external: { ...last.external!, cancelDecidedAt: null, decision: { reason: 'stop_loss', reference: last.stopLoss, at: last.placedAt } },
    };
    expect(ownerLevelBounds(held, CANDLES[k]!.close, limits)).toEqual({ takeProfit: null, stopLoss: null });
    // a take-profit decision (the resting TP may not have filled) still lets the owner move both
    const tpDecided: Position = { ...held, external: { ...held.external!, decision: { reason: 'take_profit', reference: held.takeProfit, at: held.placedAt } } };
    const bt = ownerLevelBounds(tpDecided, held.avgEntry * 1.001, limits);
    expect(bt.takeProfit).not.toBeNull();
    expect(bt.stopLoss).not.toBeNull();

    // a TP max so small the range is empty; a mark at/below the cap floor leaves no stop range
    const tight = ownerLevelBounds(working.p, null, { takeProfitMaxPct: LEVEL_GAP_PCT / 2, stopLossMaxPct: 10, maxRisk: Infinity });
    expect(tight.takeProfit).toBeNull();
    const under = ownerLevelBounds(working.p, working.p.entries[0]!.price * 0.85, limits);
    expect(under.stopLoss).toBeNull();
    expect(under.takeProfit).not.toBeNull();
  });
});
