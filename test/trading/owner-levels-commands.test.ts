/**
 * The core's owner level commands (core.ts ownerMoveTakeProfit / ownerMoveStopLoss / ownerClosePosition)
 * against the ONE owner-levels rule, on groups opened through the core over real Bybit BTCUSDT 1m
 * candles (test/fixtures/trading): the ends of ownerLevelBounds are accepted and just beyond them
 * refused; a moved stop re-prices the reserved risk; a live group with no mark yet or whose exit is
 * decided refuses them.
 */
import { describe, expect, it } from 'vitest';
import {
  applyCandle,
  applyExternalFill,
  applySignal,
  createTradingState,
  ownerClosePosition,
  ownerMoveStopLoss,
  ownerMoveTakeProfit,
  setFillSource,
  type TradingState,
} from '../../shared/trading/core.js';
import { groupMark, ownerLevelBounds, ownerLevelConfig, ownerLevelLimits } from '../../shared/trading/owner-levels.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { reservedRisk } from '../../shared/trading/paper-fills.js';
import type { Candle } from '../../shared/model/market.js';
import type { Position } from '../../shared/trading/model.js';
import { MIN, makerTakerCfg, realBtc1m, signal } from './helpers.js';

const CANDLES = realBtc1m();
const cfg = makerTakerCfg();
const LEVELS = ownerLevelConfig(cfg, { ...DEFAULT_TELEGRAM_CONFIG.dashboard, takeProfitMaxPct: 20 });
const k0 = CANDLES.findIndex((c) => c.openTime === Date.parse('2025-06-11T12:17:00Z'));
const C17 = CANDLES[k0] as Candle;
const TS = C17.openTime + MIN;
/** The LONG of the 12:17 candle the pipeline tests use (limit 109100 under its close, fills during 12:21). */
const LONG = signal({ ts: TS, entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
const G = `tg:${LONG.signalId}`;
const one = (s: TradingState): Position => s.account.positions[0] as Position;

function paperUntil(hhmm: string): TradingState {
  let s = applySignal(createTradingState('main', cfg, TS), LONG, null, cfg, TS).state;
  const end = Date.parse(`2025-06-11T${hhmm}:00Z`);
  for (const c of CANDLES.slice(k0 + 1)) {
    if (c.openTime >= end) break;
    s = applyCandle(s, c, null, cfg, c.openTime + MIN).state;
  }
  return s;
}

describe('owner level commands in the core', () => {
  it('the ends of the bounds are accepted, just beyond them refused (TP and SL), at the core mark', () => {
    const s = paperUntil('12:30'); // filled 12:21; 12:29 closes 109232.5 (12:30 would take profit)
    const p = one(s);
    expect(p.status).toBe('open');
    const mark = groupMark(s.account, p, TS, LEVELS.maxMarkAgeMs)!;
    expect(mark).toBe(109232.5);
    const b = ownerLevelBounds(p, mark, ownerLevelLimits(LEVELS, p, s.account));
    const tp = (x: number) => ownerMoveTakeProfit(s, G, 'BTCUSDT', x, `dash:tp${x}`, TS, LEVELS).outcome;
    const sl = (x: number) => ownerMoveStopLoss(s, G, 'BTCUSDT', x, `dash:sl${x}`, TS, LEVELS).outcome;
    expect([tp(b.takeProfit!.min), tp(b.takeProfit!.max)]).toEqual(['applied', 'applied']);
    expect([tp(b.takeProfit!.min * 0.99999), tp(b.takeProfit!.max * 1.00001)]).toEqual(['invalid_level', 'out_of_bounds']);
    // sized at the whole per-trade risk budget: the stop cannot widen (the far end is the stop itself)
    expect(b.stopLoss!.min).toBeCloseTo(p.stopLoss, 4);
    expect(sl(b.stopLoss!.max)).toBe('applied');
    expect([sl(b.stopLoss!.min * 0.99999), sl(b.stopLoss!.max * 1.00001)]).toEqual(['out_of_bounds', 'invalid_level']);
    expect([sl(p.stopLoss), sl(Number.NaN), sl(-1)]).toEqual(['unchanged', 'invalid_level', 'invalid_level']);
    expect(ownerMoveStopLoss(s, G, 'ETHUSDT', 109000, 'dash:x', TS, LEVELS).outcome).toBe('symbol_mismatch');
    expect(ownerMoveStopLoss(s, 'tg:none', 'BTCUSDT', 109000, 'dash:x', TS, LEVELS).outcome).toBe('unknown_group');
    // the detail (the owner's chat confirmation) reads a slider's float noise as a price
    expect(ownerMoveTakeProfit(s, G, 'BTCUSDT', 109900.12345678901, 'dash:noise', TS, LEVELS).detail).toMatch(/ -> 109900\.1235$/);
  });

  it('a moved stop re-prices the reserved risk, never below 0 once it locks a profit', () => {
    const s = paperUntil('12:30');
    const p = one(s);
    const lower = ownerMoveStopLoss(s, G, 'BTCUSDT', 109000, 'dash:a', TS, LEVELS);
    expect(lower.outcome).toBe('applied');
    const q = one(lower.state);
    expect(q.risk).toBeLessThan(p.risk);
    expect(q.risk).toBe(reservedRisk({ ...p, stopLoss: 109000 }, p.entries));
    // above the fill and its round-trip costs (109100 + maker 0.02 %, a taker stop exit at 0.055 % fee and
    // 0.02 % slippage: break-even about 109203.7), below the mark 109232.5: nothing can be lost at the stop
    const locked = one(ownerMoveStopLoss(s, G, 'BTCUSDT', 109215, 'dash:b', TS, LEVELS).state);
    expect(locked.stopLoss).toBe(109215);
    expect(locked.risk).toBe(0);
    expect(lower.events).toEqual([expect.objectContaining({ type: 'stop_loss_moved', eventId: `${G}:sl:dash:a`, from: 108800, to: 109000 })]);
  });

  it('a live group filled before any candle has no mark: close and stop refused; after a candle the close is decided at the mark, then both are refused', () => {
    let s = applySignal(setFillSource(createTradingState('main', cfg, TS), 'external'), LONG, null, cfg, TS).state;
    const qty = one(s).entries[0]!.qty;
    // the exchange filled the entry (reconcile) before the next candle reached the core
    s = applyExternalFill(s, { groupId: G, leg: 'entry', entryIndex: 0, orderId: `${G}:e0`, cumQty: qty, avgPrice: 109100, cumFee: 109100 * qty * 0.0002, ts: TS + 30_000, orderDone: true }, cfg, TS + 30_000).state;
    expect(one(s)).toMatchObject({ status: 'open', lastCandleOpen: -1 });
    expect(groupMark(s.account, one(s), TS + 30_000, LEVELS.maxMarkAgeMs)).toBeNull();
    expect(ownerClosePosition(s, G, 'BTCUSDT', cfg, TS + 30_000, LEVELS)).toMatchObject({ outcome: 'no_mark', events: [] });
    expect(ownerMoveStopLoss(s, G, 'BTCUSDT', 108900, 'dash:1', TS + 30_000, LEVELS)).toMatchObject({ outcome: 'not_movable', detail: expect.stringMatching(/no mark yet/) });
    // the TP does not need a mark
    expect(ownerMoveTakeProfit(s, G, 'BTCUSDT', 109900, 'dash:2', TS + 30_000, LEVELS).outcome).toBe('applied');

    const c = CANDLES[k0 + 1] as Candle; // 12:18, closes 109112.9
    s = applyCandle(s, c, null, cfg, c.openTime + MIN).state;
    const close = ownerClosePosition(s, G, 'BTCUSDT', cfg, c.openTime + MIN, LEVELS);
    expect(close).toMatchObject({ outcome: 'applied', detail: `close decided at ${c.close}` });
    expect(close.events).toEqual([expect.objectContaining({ type: 'exit_decided', reason: 'manual', price: c.close, qty })]);
    const closing = close.state;
    expect(ownerClosePosition(closing, G, 'BTCUSDT', cfg, c.openTime + MIN, LEVELS)).toMatchObject({ outcome: 'already_closing', events: [] });
    expect(ownerMoveStopLoss(closing, G, 'BTCUSDT', 108900, 'dash:3', c.openTime + MIN, LEVELS)).toMatchObject({ outcome: 'not_movable', detail: expect.stringMatching(/its manual exit is already decided/) });
    expect(ownerMoveTakeProfit(closing, G, 'BTCUSDT', 110000, 'dash:4', c.openTime + MIN, LEVELS).outcome).toBe('not_movable');
  });
});
