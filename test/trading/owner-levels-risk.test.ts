/**
 * The owner-levels rule (shared/trading/owner-levels.ts) against money it must not create or lose, on
 * groups opened through the core over real Bybit BTCUSDT 1m candles (test/fixtures/trading,
 * 2025-06-11; a LONG limit 109100 filled during 12:21, stop 108800, sized to the 0.5 % risk budget):
 * - a moved stop never reserves more than max(its risk, the sizing rules' allowance) (sizing.ts
 *   groupRiskCap: the per-trade budget, the scalp total cap);
 * - a moved take profit stays beyond the mark (a TP the market is already past would book a fill that
 *   never traded);
 * - the close and the stop refuse a stale mark, and a group's mark is the close of ITS feed.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import type { Candle } from '../../shared/model/market.js';
import { accountEquity, openRisk } from '../../shared/trading/account.js';
import { applyCandle, applyExternalFill, applySignal, createTradingState, ownerClosePosition, ownerMoveStopLoss, ownerMoveTakeProfit, setFillSource, type TradingState } from '../../shared/trading/core.js';
import type { Position, TradingConfig } from '../../shared/trading/model.js';
import { atStopLoss, groupLevelBounds, groupMark, groupRiskCapOf, LEVEL_GAP_PCT, ownerLevelConfig } from '../../shared/trading/owner-levels.js';
import { MIN, makerTakerCfg, realBtc1m, signal } from './helpers.js';

const CANDLES = realBtc1m();
const cfg = makerTakerCfg();
const LEVELS = ownerLevelConfig(cfg, { ...DEFAULT_TELEGRAM_CONFIG.dashboard, takeProfitMaxPct: 20 });
const AGE = LEVELS.maxMarkAgeMs;
const k0 = CANDLES.findIndex((c) => c.openTime === Date.parse('2025-06-11T12:17:00Z'));
const TS = (CANDLES[k0] as Candle).openTime + MIN;
const LONG = signal({ ts: TS, entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
const G = `tg:${LONG.signalId}`;
const at = (hhmm: string): number => Date.parse(`2025-06-11T${hhmm}:00Z`);
const group = (s: TradingState, id = G): Position => s.account.positions.find((p) => p.groupId === id) as Position;

/** The core after the signal and every candle opening before `hhmm` (each applied at its close). */
function paperUntil(hhmm: string, c: TradingConfig = cfg, signals = [LONG]): TradingState {
  let s = createTradingState('main', c, TS);
  for (const sig of signals) s = applySignal(s, sig, null, c, TS).state;
  for (const x of CANDLES.slice(k0 + 1)) {
    if (x.openTime >= at(hhmm)) break;
    s = applyCandle(s, x, null, c, x.openTime + MIN).state;
  }
  return s;
}

describe('a moved stop stays within the risk budget and caps', () => {
  it('a group sized to the whole per-trade budget cannot widen its stop: the old far end (the 10 % cap) would reserve 27x the budget', () => {
    const s = paperUntil('12:30'); // filled 12:21; 12:29 closes 109232.5
    const now = at('12:30');
    const p = group(s);
    const equity = accountEquity(s.account);
    const perTrade = (equity * cfg.risk.scalp.perTradeRiskPct) / 100;
    expect(p.risk).toBeCloseTo(perTrade, 6);
    const wide = ownerMoveStopLoss(s, G, 'BTCUSDT', p.avgEntry * 0.9, 'dash:wide', now, LEVELS);
    expect(wide).toMatchObject({ outcome: 'out_of_bounds', events: [] });
    expect(wide.detail).toMatch(/would reserve 136\d\.\d\d of risk, cap 50\.00/);
    expect(group(wide.state).risk).toBe(p.risk);
    // the slider's far end is the stop itself; widening by a dollar is refused
    const b = groupLevelBounds(s.account, G, LEVELS, now)!;
    expect(b.stopLoss!.min).toBeCloseTo(108800, 4);
    expect(b.stopLoss!.min).toBeGreaterThan(p.avgEntry * 0.9);
    expect(ownerMoveStopLoss(s, G, 'BTCUSDT', 108799, 'dash:1', now, LEVELS).outcome).toBe('out_of_bounds');
  });

  it('a tightened stop may widen again up to the per-trade budget, no further', () => {
    const s0 = paperUntil('12:30');
    const now = at('12:30');
    const equity = accountEquity(s0.account);
    const perTrade = (equity * cfg.risk.scalp.perTradeRiskPct) / 100;
    const tight = ownerMoveStopLoss(s0, G, 'BTCUSDT', 109000, 'dash:t', now, LEVELS);
    expect(tight.outcome).toBe('applied');
    const s = tight.state;
    expect(group(s).risk).toBeLessThan(perTrade * 0.6);
    expect(groupRiskCapOf(LEVELS, group(s), s.account)).toMatchObject({ cap: perTrade, binding: 'per_trade' });
    const b = groupLevelBounds(s.account, G, LEVELS, now)!;
    const far = b.stopLoss!.min;
    // where the re-priced risk reaches the budget: the signal's own stop (sized to it exactly)
    expect(far).toBeCloseTo(108800, 3);
    expect(atStopLoss(group(s), far).risk).toBeLessThanOrEqual(perTrade);
    expect(atStopLoss(group(s), far).risk).toBeCloseTo(perTrade, 6);
    const back = ownerMoveStopLoss(s, G, 'BTCUSDT', far, 'dash:back', now, LEVELS);
    expect(back.outcome).toBe('applied');
    expect(group(back.state).risk).toBeLessThanOrEqual(perTrade);
    expect(openRisk(back.state.account, 'SCALP')).toBeLessThanOrEqual((equity * cfg.risk.scalp.totalRiskPct) / 100);
    const beyond = ownerMoveStopLoss(s, G, 'BTCUSDT', far - 0.5, 'dash:beyond', now, LEVELS);
    expect(beyond).toMatchObject({ outcome: 'out_of_bounds', detail: expect.stringMatching(/would reserve 50\.\d\d of risk, cap 50\.00/) });
  });

  it('the scalp total risk cap binds: a group sized to what remained cannot widen to the per-trade budget', () => {
    const tot: TradingConfig = { ...cfg, risk: { ...cfg.risk, scalp: { perTradeRiskPct: 0.5, totalRiskPct: 0.7 } } };
    const levels = ownerLevelConfig(tot, LEVELS);
    const SECOND = signal({ ts: TS, strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
    const G2 = `tg:${SECOND.signalId}`;
    const s0 = paperUntil('12:30', tot, [LONG, SECOND]);
    const now = at('12:30');
    expect(group(s0).risk).toBeCloseTo(50, 6);
    expect(group(s0, G2).risk).toBeCloseTo(20, 6); // 70 cap - 50 used
    // tighten the second, then try to widen it back past what the total cap leaves it
    const s = ownerMoveStopLoss(s0, G2, 'BTCUSDT', 109000, 'dash:t2', now, levels).state;
    const cap = groupRiskCapOf(levels, group(s, G2), s.account);
    expect(cap).toMatchObject({ binding: 'total_risk' });
    expect(cap.cap).toBeCloseTo(20, 6);
    const far = groupLevelBounds(s.account, G2, levels, now)!.stopLoss!.min;
    expect(far).toBeCloseTo(108800, 3);
    expect(ownerMoveStopLoss(s, G2, 'BTCUSDT', 108700, 'dash:w2', now, levels)).toMatchObject({ outcome: 'out_of_bounds', detail: expect.stringMatching(/cap 20\.00/) });
    const ok = ownerMoveStopLoss(s, G2, 'BTCUSDT', far, 'dash:ok2', now, levels);
    expect(ok.outcome).toBe('applied');
    expect(openRisk(ok.state.account, 'SCALP')).toBeLessThanOrEqual(70 + 1e-9);
    // without the other group the per-trade budget (50) would have allowed a wider stop
    const alone = { ...s.account, positions: [group(s, G2)] };
    expect(groupLevelBounds(alone, G2, levels, now)!.stopLoss!.min).toBeLessThan(108700);
  });

  it('a live (external) group is bounded the same way (its risk re-priced from its exchange fill)', () => {
    let s = applySignal(setFillSource(createTradingState('main', cfg, TS), 'external'), LONG, null, cfg, TS).state;
    const qty = group(s).entries[0]!.qty;
    s = applyExternalFill(s, { groupId: G, leg: 'entry', entryIndex: 0, orderId: `${G}:e0`, cumQty: qty, avgPrice: 109100, cumFee: 109100 * qty * 0.0002, ts: TS + 30_000, orderDone: true }, cfg, TS + 30_000).state;
    for (const c of CANDLES.filter((x) => x.openTime >= at('12:18') && x.openTime < at('12:25'))) s = applyCandle(s, c, null, cfg, c.openTime + MIN).state;
    const now = at('12:25');
    const p = group(s);
    expect(p.external).not.toBeNull();
    const b = groupLevelBounds(s.account, G, LEVELS, now)!;
    expect(b.stopLoss!.min).toBeGreaterThan(p.avgEntry * 0.9);
    expect(atStopLoss(p, b.stopLoss!.min).risk).toBeLessThanOrEqual(groupRiskCapOf(LEVELS, p, s.account).cap);
    expect(ownerMoveStopLoss(s, G, 'BTCUSDT', p.avgEntry * 0.9, 'dash:live-wide', now, LEVELS)).toMatchObject({ outcome: 'out_of_bounds', detail: expect.stringMatching(/would reserve/) });
    expect(ownerMoveStopLoss(s, G, 'BTCUSDT', b.stopLoss!.min, 'dash:live-ok', now, LEVELS).outcome).toMatch(/^(applied|unchanged)$/);
  });
});

describe('a moved take profit stays beyond the mark', () => {
  it('a TP between the fill and the mark is refused (it would book an exit the market never traded); the bound is the mark', () => {
    const s = paperUntil('12:29'); // 12:28 closes 109178.6, above the fill 109100
    const now = at('12:29');
    const p = group(s);
    const mark = groupMark(s.account, p, now, AGE)!;
    expect(mark).toBe(109178.6);
    expect(p.avgEntry).toBe(109100);
    const r = ownerMoveTakeProfit(s, G, 'BTCUSDT', 109115, 'dash:tp-under-mark', now, LEVELS);
    expect(r).toMatchObject({ outcome: 'invalid_level', events: [], detail: expect.stringMatching(/must be above every entry, the average fill and the mark/) });
    const b = groupLevelBounds(s.account, G, LEVELS, now)!;
    expect(b.takeProfit!.min).toBeCloseTo(mark * (1 + LEVEL_GAP_PCT / 100), 6);
    // at the bound: the next candle (12:29, 109178.6 .. 109235.6) trades through it and books a profit
    const ok = ownerMoveTakeProfit(s, G, 'BTCUSDT', b.takeProfit!.min, 'dash:tp-at-mark', now, LEVELS);
    expect(ok.outcome).toBe('applied');
    const c = CANDLES.find((x) => x.openTime === at('12:29')) as Candle;
    const closed = applyCandle(ok.state, c, null, cfg, c.openTime + MIN).events.find((e) => e.type === 'position_closed');
    expect(closed).toMatchObject({ trade: { exitReason: 'take_profit', exitPrice: b.takeProfit!.min } });
    expect((closed as { trade: { pnl: number } }).trade.pnl).toBeGreaterThan(0);
  });
});

describe('the mark: fresh, and from the group\'s own feed', () => {
  it('a close or a stop move on a mark older than its interval + dashboard.maxMarkAgeMs is refused (no phantom fill after a feed outage)', () => {
    const s = paperUntil('12:30'); // the last candle 12:29 closed at 12:30 at 109232.5
    const closeTime = at('12:30');
    expect(AGE).toBe(10 * MIN);
    const latest = closeTime + MIN + AGE;
    expect(ownerClosePosition(s, G, 'BTCUSDT', cfg, latest, LEVELS)).toMatchObject({ outcome: 'applied', detail: 'closed at 109232.5' });
    const stale = ownerClosePosition(s, G, 'BTCUSDT', cfg, latest + 1, LEVELS);
    expect(stale).toMatchObject({ outcome: 'no_mark', events: [] });
    expect(stale.detail).toMatch(/close of BTCUSDT is 11 min old \(max 11 min\)/);
    // six hours later (the review's case: the real close then was 108496.4, the book would have taken 109232.5)
    const later = closeTime + 6 * 60 * MIN;
    expect(ownerClosePosition(s, G, 'BTCUSDT', cfg, later, LEVELS)).toMatchObject({ outcome: 'no_mark', detail: expect.stringMatching(/360 min old/) });
    expect(ownerMoveStopLoss(s, G, 'BTCUSDT', 109000, 'dash:late', later, LEVELS)).toMatchObject({ outcome: 'not_movable', detail: expect.stringMatching(/360 min old/) });
    expect(groupLevelBounds(s.account, G, LEVELS, later)).toMatchObject({ mark: null, stopLoss: null });
  });

  it('a swing on 5m candles reads its own 5m close, not the 1m close a scalp of the same symbol left in the account', () => {
    const mixed: TradingConfig = { ...cfg, feeds: { SCALP: { venue: 'bybit', interval: '1m' }, SWING: { venue: 'bybit', interval: '5m' } } };
    const SWING = signal({ ts: TS, strategy: 'dca', engine: 'SWING', entries: [108000], stopLoss: 107000, takeProfit: 110000, maxHoldMs: 24 * 60 * MIN });
    const GS = `tg:${SWING.signalId}`;
    // the scalp's TP far enough that it stays open through 12:33
    const SCALP = signal({ ts: TS, entries: [109100], stopLoss: 108800, takeProfit: 111000, maxHoldMs: 60 * MIN });
    let s = createTradingState('main', mixed, TS);
    for (const sig of [SCALP, SWING]) s = applySignal(s, sig, null, mixed, TS).state;
    expect(group(s, GS).feedInterval).toBe('5m');
    // the real 1m candles 12:18 .. 12:33, and each 5m candle built from its five (at its close)
    const ones = CANDLES.filter((c) => c.openTime >= at('12:18') && c.openTime < at('12:34'));
    for (const c of ones) {
      s = applyCandle(s, c, null, mixed, c.openTime + MIN).state;
      const end = c.openTime + MIN;
      if (end % (5 * MIN) === 0) {
        const five = CANDLES.filter((x) => x.openTime >= end - 5 * MIN && x.openTime < end);
        expect(five).toHaveLength(5);
        const bar: Candle = { ...five[0]!, interval: '5m', close: five[4]!.close, high: Math.max(...five.map((x) => x.high)), low: Math.min(...five.map((x) => x.low)), volume: five.reduce((v, x) => v + x.volume, 0) };
        s = applyCandle(s, bar, null, mixed, end).state;
      }
    }
    const now = at('12:34');
    const c1233 = ones[ones.length - 1]!;
    const c1229 = CANDLES.find((c) => c.openTime === at('12:29'))!;
    expect(s.account.marks.BTCUSDT).toBe(c1233.close);
    expect(c1233.close).not.toBe(c1229.close);
    expect(groupMark(s.account, group(s, GS), now, AGE)).toBe(c1229.close); // the 12:25-12:30 bar's close
    expect(groupMark(s.account, group(s, `tg:${SCALP.signalId}`), now, AGE)).toBe(c1233.close);
    // and the swing's stop range is drawn at its own mark
    expect(groupLevelBounds(s.account, GS, LEVELS, now)!.mark).toBe(c1229.close);
  });
});
