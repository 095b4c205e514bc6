/**
 * Costs as they happen (SPEC 5, shared/trading/costs.ts, the fill model in paper-fills.ts), hand-checked.
 *
 * maker_taker (the default): Bybit linear 0.02 % maker / 0.055 % taker, scalp slippage 0.02 % on taker
 * fills only; Kraken spot 0.25 % / 0.40 %, swing slippage by tier (mid_cap 0.25 %). conservative: the
 * flat figures on every fill (scalps 0.06 % per side, swings 0.3 %) plus slippage on every fill.
 *
 * The first test replays the REAL-candle scenario of scenario.test.ts (Bybit BTCUSDT 1m, 2025-06-11,
 * test/fixtures/trading/) under both profiles; the rule tests after it use candles built with exact
 * levels around the order prices (the rules are about which side of a price a candle opened).
 */
import { describe, expect, it } from 'vitest';
import { applyCandle, applySignal, createTradingState, type TradingEvent, type TradingState } from '../../shared/trading/core.js';
import { createAccount } from '../../shared/trading/account.js';
import { closeManually, onCandle, submitSignal } from '../../shared/trading/book.js';
import { costRates, stoppedLossPerUnit } from '../../shared/trading/costs.js';
import { TradingStore } from '../../shared/trading/store.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import type { AccountState, TradingConfig } from '../../shared/trading/model.js';
import type { PositionClosedEvent, Signal, TradeEvent } from '../../shared/model/trading.js';
import type { DocData } from '../../shared/ports/state.js';
import { MIN, HOUR, candle, conservative, makerTakerCfg, realBtc1m, signal } from './helpers.js';

const at = (hhmm: string) => Date.parse(`2025-06-11T${hhmm}:00Z`);
const T = Date.UTC(2025, 5, 11, 12, 0); // decision candle open
const TS = T + MIN; // decision time = its close

const closedOf = (evs: readonly TradingEvent[]) => evs.filter((e): e is PositionClosedEvent => e.type === 'position_closed').map((e) => e.trade);
const filled = (evs: readonly TradingEvent[], type: 'entry_filled' | 'exit_filled') =>
  evs.filter((e): e is Extract<TradeEvent, { type: typeof type }> => e.type === type);

function place(cfg: TradingConfig, sig: Signal, qtys: number[], acc: AccountState = createAccount('acc', 10_000)): AccountState {
  return submitSignal(acc, sig, { qtys, stopLoss: sig.stopLoss, takeProfit: sig.takeProfit }, cfg, sig.ts).account;
}

function run(cfg: TradingConfig, acc: AccountState, cs: ReturnType<typeof candle>[]): { acc: AccountState; events: TradeEvent[] } {
  const events: TradeEvent[] = [];
  for (const c of cs) {
    const r = onCandle(acc, c, cfg, c.openTime + MIN);
    acc = r.account;
    events.push(...r.events);
  }
  return { acc, events };
}

/** The scenario of scenario.test.ts (LONG limit 109100, SHORT limit 109030) through the engine; its events and final state. */
function scenario(cfg: TradingConfig): { events: TradingEvent[]; state: TradingState; risks: number[] } {
  const candles = realBtc1m().filter((c) => c.openTime >= at('12:15') && c.openTime <= at('12:31'));
  const long = signal({ ts: at('12:18'), strategy: 'levels_exhaustion', entries: [109100], stopLoss: 108800, takeProfit: 109650, maxHoldMs: 60 * MIN });
  const short = signal({ ts: at('12:22'), strategy: 'v52_divergence', direction: 'SHORT', entries: [109030], stopLoss: 109330, takeProfit: 108500, maxHoldMs: 60 * MIN });
  const pending = [long, short];
  let s = createTradingState('paper', cfg, at('12:15'));
  const events: TradingEvent[] = [];
  const risks: number[] = [];
  for (const c of candles) {
    while (pending[0] && pending[0].ts <= c.openTime) {
      const sig = pending.shift()!;
      const r = applySignal(s, sig, null, cfg, sig.ts);
      expect(r.decision.accepted).toBe(true);
      if (r.decision.accepted) risks.push(r.decision.risk);
      s = r.state;
      events.push(...r.events);
    }
    const r = applyCandle(s, c, null, cfg, c.openTime + MIN);
    s = r.state;
    events.push(...r.events);
  }
  return { events, state: s, risks };
}

describe('maker / taker on real candles (BTCUSDT 1m 2025-06-11 12:15-12:31, the scenario of scenario.test.ts)', () => {
  it('maker_taker: PostOnly entries traded through and the take profit are maker at their price; the stop is taker with slippage; risk = booked loss', () => {
    // LONG limit 109100 placed 12:18 (12:18 opens 109123.3 above it: resting, not crossing), traded through at 12:21
    // (low 109002.1): MAKER at 109100, no slippage. Sizing: stopped exit 108800 x 0.9998 = 108778.24 (taker);
    //   loss per BTC = (109100 - 108778.24) + 0.0002 x 109100 + 0.00055 x 108778.24 = 321.76 + 21.82 + 59.828032 = 403.408032
    //   qty = 50 / 403.408032 = 0.1239439873 BTC; entry fee 109100 x qty x 0.0002 = 2.704457803
    // TP 109650 traded through at 12:30 (high 109850): MAKER at 109650, fee 109650 x qty x 0.0002 = 2.718091642
    //   pnl per BTC = 550 - 21.82 - 21.93 = 506.25; pnl = 62.746643577; pnl % = 506.25 / 109100 x 100 = 0.464023831
    // SHORT limit 109030 placed 12:22 (12:22 opens 109026.8 below it: a resting sell, not crossing), high 109033.7:
    //   MAKER at 109030. Stop 109330 at 12:30 (open 109232.5 below it: no gap): TAKER 109330 x 1.0002 = 109351.866
    //   loss per BTC = 321.866 + 0.0002 x 109030 + 0.00055 x 109351.866 = 321.866 + 21.806 + 60.1435263 = 403.8155263
    //   qty = 50 / 403.8155263 = 0.1238189142; fees 2.699995243 + 7.446906122; slippage (109351.866 - 109330) x qty = 2.707424378
    //   pnl = -50 exactly: the booked loss at the stop IS the risk it was sized with.
    const { events, state, risks } = scenario(makerTakerCfg());
    const QL = 50 / 403.408032;
    const QS = 50 / 403.8155263;
    expect(risks).toEqual([expect.closeTo(50, 9), expect.closeTo(50, 9)]);
    expect(filled(events, 'entry_filled').map((e) => [e.price, e.qty, e.fee, e.liquidity, e.slippage])).toEqual([
      [109100, expect.closeTo(QL, 12), expect.closeTo(2.704457803, 8), 'maker', 0],
      [109030, expect.closeTo(QS, 12), expect.closeTo(2.699995243, 8), 'maker', 0],
    ]);
    expect(filled(events, 'exit_filled').map((e) => [e.type === 'exit_filled' && e.reason, e.price, e.liquidity, e.slippage])).toEqual([
      ['take_profit', 109650, 'maker', 0],
      ['stop_loss', expect.closeTo(109351.866, 6), 'taker', expect.closeTo(2.707424378, 8)],
    ]);
    const [tl, ts] = closedOf(events);
    expect(tl).toMatchObject({
      exitReason: 'take_profit',
      avgEntry: 109100,
      exitPrice: 109650,
      fees: expect.closeTo(2.704457803 + 2.718091642, 8),
      slippage: 0,
      pnl: expect.closeTo(62.746643577, 8),
      pnlPct: expect.closeTo(0.464023831, 8),
    });
    expect(ts).toMatchObject({ exitReason: 'stop_loss', fees: expect.closeTo(2.699995243 + 7.446906122, 8), slippage: expect.closeTo(2.707424378, 8), pnl: expect.closeTo(-50, 9) });
    expect(ts?.rows[0]).toMatchObject({ fees: expect.closeTo(10.146901365, 8), slippage: expect.closeTo(2.707424378, 8) });
    expect(state.account.realizedPnl).toBeCloseTo(12.746643577, 8);
  });

  it('conservative: the same trades give the numbers of scenario.test.ts (flat 0.06 % + 0.02 % slippage on every fill)', () => {
    // see scenario.test.ts: LONG entry 109121.82, TP exit 109628.07, pnl 39.530279; SHORT entry 109008.194, stop exit
    // 109351.866, pnl -50. Slippage: LONG (109121.82 - 109100 + 109650 - 109628.07) x QL = 43.75 x 50 / 474.320036 = 4.611865;
    // SHORT (109030 - 109008.194 + 109351.866 - 109330) x QS = 43.672 x 50 / 474.688036 = 4.600074
    const { events, state, risks } = scenario(conservative(makerTakerCfg()));
    expect(risks).toEqual([expect.closeTo(50, 9), expect.closeTo(50, 9)]);
    expect(filled(events, 'entry_filled').map((e) => [e.price, e.fee, e.liquidity])).toEqual([
      [expect.closeTo(109121.82, 6), expect.closeTo(6.901784, 6), 'maker'],
      [expect.closeTo(109008.194, 6), expect.closeTo(6.889253, 6), 'maker'],
    ]);
    const [tl, ts] = closedOf(events);
    expect(tl).toMatchObject({ exitPrice: expect.closeTo(109628.07, 6), fees: expect.closeTo(6.9017843 + 6.9338039, 6), pnl: expect.closeTo(39.530279, 6), slippage: expect.closeTo(4.611865, 6) });
    expect(ts).toMatchObject({ exitPrice: expect.closeTo(109351.866, 6), pnl: expect.closeTo(-50, 6), slippage: expect.closeTo(4.600074, 6) });
    expect(state.account.realizedPnl).toBeCloseTo(-10.469721, 6);
  });
});

describe('maker / taker rules (built candles)', () => {
  const long100 = () => signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102 });

  it('a PostOnly LONG entry traded through by a later candle: maker at its limit, no slippage; the TP: maker at the TP', () => {
    const cfg = makerTakerCfg();
    // T+1m opens 100.2 (above the buy limit: the order rests), low 99.9 < 100: maker fill at 100
    let r = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 100.2, 100.3, 99.9, 100.1)]);
    // fee 100 x 10 x 0.0002 = 0.2
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: 100, fee: expect.closeTo(0.2, 12), liquidity: 'maker', slippage: 0 }]);
    r = run(cfg, r.acc, [candle(T + 2 * MIN, 100.1, 102.01, 100.05, 101.8)]);
    // TP 102: fee 102 x 10 x 0.0002 = 0.204; pnl = (102 - 100) x 10 - 0.2 - 0.204 = 19.596
    expect(closedOf(r.events)[0]).toMatchObject({ exitReason: 'take_profit', exitPrice: 102, fees: expect.closeTo(0.404, 12), slippage: 0, pnl: expect.closeTo(19.596, 10) });
  });

  it('a gapped stop: taker plus slippage at the worse price (the open); conservative: flat fee, slippage on both fills', () => {
    const gap = [candle(T + MIN, 100.2, 100.3, 99.9, 100.1), candle(T + 2 * MIN, 98.5, 98.9, 98.2, 98.6)];
    // maker_taker: entry maker 100, fee 0.2. The stop 99 gapped: reference min(99, open 98.5) = 98.5 (the worse),
    // taker 98.5 x 0.9998 = 98.4803, fee 98.4803 x 10 x 0.00055 = 0.541641650, slippage (98.5 - 98.4803) x 10 = 0.197
    // pnl = (98.4803 - 100) x 10 - 0.2 - 0.54164165 = -15.93864165
    let cfg = makerTakerCfg();
    let r = run(cfg, place(cfg, long100(), [10]), gap);
    expect(filled(r.events, 'exit_filled')).toMatchObject([{ reason: 'stop_loss', price: expect.closeTo(98.4803, 10), liquidity: 'taker', slippage: expect.closeTo(0.197, 10) }]);
    expect(closedOf(r.events)[0]).toMatchObject({ exitPrice: expect.closeTo(98.4803, 10), fees: expect.closeTo(0.74164165, 10), slippage: expect.closeTo(0.197, 10), pnl: expect.closeTo(-15.93864165, 9) });
    // conservative: entry 100 x 1.0002 = 100.02 (fee 0.60012, slippage 0.2); exit 98.4803 (fee 98.4803 x 10 x 0.0006 = 0.5908818)
    // pnl = (98.4803 - 100.02) x 10 - 0.60012 - 0.5908818 = -15.397 - 1.1910018 = -16.5880018; slippage 0.2 + 0.197 = 0.397
    cfg = conservative(makerTakerCfg());
    r = run(cfg, place(cfg, long100(), [10]), gap);
    expect(closedOf(r.events)[0]).toMatchObject({ exitPrice: expect.closeTo(98.4803, 10), fees: expect.closeTo(1.1910018, 10), slippage: expect.closeTo(0.397, 10), pnl: expect.closeTo(-16.5880018, 9) });
  });

  it('an entry whose first candle opens through its limit crossed the book: taker at the open + slippage, never worse than the limit', () => {
    const cfg = makerTakerCfg();
    // first eligible candle opens 99.8 < 100: taker min(99.8 x 1.0002, 100) = 99.81996; fee 99.81996 x 10 x 0.00055 = 0.549009780;
    // slippage (99.81996 - 99.8) x 10 = 0.1996 (the open is its reference)
    let r = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 99.8, 99.9, 99.7, 99.85)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: expect.closeTo(99.81996, 10), fee: expect.closeTo(0.54900978, 10), liquidity: 'taker', slippage: expect.closeTo(0.1996, 10) }]);
    // its reserved risk follows the taker fill: stop exit 99 x 0.9998 = 98.9802;
    // (99.81996 - 98.9802) + 0.00055 x 99.81996 + 0.00055 x 98.9802 = 0.83976 + 0.054900978 + 0.05443911 = 0.949100088 per BTC
    expect(r.acc.positions[0]?.risk).toBeCloseTo(9.49100088, 9);
    // opens 99.99: 99.99 x 1.0002 = 100.009998 would be worse than the limit: filled AT the limit (taker), slippage (100 - 99.99) x 10 = 0.1
    r = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 99.99, 100.05, 99.9, 100)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: 100, fee: expect.closeTo(0.55, 12), liquidity: 'taker', slippage: expect.closeTo(0.1, 10) }]);
    // a SHORT sell limit 100 whose first candle opens 100.3 above it: taker max(100.3 x 0.9998, 100) = 100.27994
    const short = signal({ ts: TS, direction: 'SHORT', entries: [100], stopLoss: 101, takeProfit: 98 });
    r = run(cfg, place(cfg, short, [10]), [candle(T + MIN, 100.3, 100.4, 100.1, 100.2)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: expect.closeTo(100.27994, 10), liquidity: 'taker', slippage: expect.closeTo(0.2006, 10) }]);
    // a LATER candle gapping through the resting limit: maker at the limit (the first candle did not reach it)
    r = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 100.2, 100.3, 100.1, 100.2), candle(T + 2 * MIN, 99.5, 99.6, 99.4, 99.5)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: 100, fee: expect.closeTo(0.2, 12), liquidity: 'maker', slippage: 0 }]);
    // conservative: the crossing entry fills at its limit plus slippage as before: 100.02
    const c = conservative(makerTakerCfg());
    r = run(c, place(c, long100(), [10]), [candle(T + MIN, 99.8, 99.9, 99.7, 99.85)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: expect.closeTo(100.02, 10), fee: expect.closeTo(0.60012, 10) }]);
  });

  it('time exit and owner close are taker fills with slippage', () => {
    const cfg = makerTakerCfg();
    const sig = signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102, maxHoldMs: 2 * MIN });
    let r = run(cfg, place(cfg, sig, [10]), [candle(T + MIN, 100.2, 100.3, 99.9, 100.1), candle(T + 2 * MIN, 100.1, 100.5, 100, 100.4)]);
    // filled at the end of T+2m; the candle ending at T+4m = fill + 2 min: time exit at its close 100.4 x 0.9998 = 100.37992,
    // fee 100.37992 x 10 x 0.00055 = 0.552089560, slippage 0.0200800
    r = run(cfg, r.acc, [candle(T + 3 * MIN, 100.4, 100.6, 100.2, 100.4)]);
    expect(closedOf(r.events)[0]).toMatchObject({ exitReason: 'time_exit', exitPrice: expect.closeTo(100.37992, 10), fees: expect.closeTo(0.2 + 0.55208956, 10), slippage: expect.closeTo(0.2008, 10) });
    const open = run(cfg, place(cfg, long100(), [10]), [candle(T + MIN, 100.2, 100.3, 99.9, 100.1)]).acc;
    // owner close at 101: 101 x 0.9998 = 100.9798, fee 100.9798 x 10 x 0.00055 = 0.55538890
    const m = closeManually(open, `tg:${long100().signalId}`, 101, T + 5 * MIN);
    expect(closedOf(m.events)[0]).toMatchObject({ exitReason: 'manual', exitPrice: expect.closeTo(100.9798, 10), fees: expect.closeTo(0.2 + 0.5553889, 10), slippage: expect.closeTo(0.202, 10) });
  });

  it('sizing risk equals the loss booked at an ungapped stop, under both profiles', () => {
    for (const cfg of [makerTakerCfg(), conservative(makerTakerCfg())]) {
      const sig = signal({ ts: TS, entries: [100], stopLoss: 99.5, takeProfit: 101 });
      const a = applySignal(createTradingState('a', cfg, T), sig, null, cfg, TS);
      expect(a.decision).toMatchObject({ accepted: true, risk: expect.closeTo(50, 9) });
      // maker_taker 0.594614055 per unit (sizing.test.ts), conservative 0.65960006
      const perUnit = cfg.paper.costs.profile === 'maker_taker' ? 0.594614055 : 0.65960006;
      expect(stoppedLossPerUnit('LONG', 100, 99.5, costRates('SCALP', 'large_cap', cfg))).toBeCloseTo(perUnit, 12);
      let s = applyCandle(a.state, candle(T + MIN, 100.2, 100.3, 99.9, 100.1), null, cfg, T + 2 * MIN).state;
      const stop = applyCandle(s, candle(T + 2 * MIN, 100, 100.1, 99.4, 99.6), null, cfg, T + 3 * MIN);
      s = stop.state;
      expect(closedOf(stop.events)[0]).toMatchObject({ exitReason: 'stop_loss', pnl: expect.closeTo(-50, 9) });
      expect(s.account.realizedPnl).toBeCloseTo(-50, 9);
    }
  });

  it('a Kraken swing pays the Kraken rates (0.25 % maker / 0.40 % taker, mid_cap slippage 0.25 % on the taker stop)', () => {
    const cfg = makerTakerCfg();
    expect(cfg.feeds.SWING).toEqual({ venue: 'kraken', interval: '5m' });
    expect(costRates('SWING', 'mid_cap', cfg)).toEqual({ profile: 'maker_taker', makerFeeRate: 0.0025, takerFeeRate: 0.004, slippageRate: 0.0025 });
    const k = (openTime: number, o: number, h: number, l: number, c: number) => candle(openTime, o, h, l, c, 'SOLUSDT', { venue: 'kraken', interval: '5m' });
    const sig = signal({ ts: TS, symbol: 'SOLUSDT', strategy: 'swing_breakout', engine: 'SWING', tier: 'mid_cap', entries: [50], stopLoss: 48, takeProfit: 52, maxHoldMs: 72 * HOUR });
    const five = 5 * MIN;
    const feed = (acc: AccountState, cs: ReturnType<typeof k>[]) => {
      const events: TradeEvent[] = [];
      for (const c of cs) {
        const r = onCandle(acc, c, cfg, c.openTime + five);
        acc = r.account;
        events.push(...r.events);
      }
      return { acc, events };
    };
    // maker entry at 50: fee 50 x 2 x 0.0025 = 0.25; TP 52 maker: fee 52 x 2 x 0.0025 = 0.26; pnl = 4 - 0.51 = 3.49
    let r = feed(place(cfg, sig, [2]), [k(TS, 50.2, 50.3, 49.9, 50.1), k(TS + five, 50.1, 52.1, 50, 52)]);
    expect(filled(r.events, 'entry_filled')).toMatchObject([{ price: 50, fee: expect.closeTo(0.25, 12), liquidity: 'maker' }]);
    expect(closedOf(r.events)[0]).toMatchObject({ exitPrice: 52, fees: expect.closeTo(0.51, 12), slippage: 0, pnl: expect.closeTo(3.49, 10) });
    // stopped at 48 (no gap): taker 48 x 0.9975 = 47.88, fee 47.88 x 2 x 0.004 = 0.38304, slippage 0.12 x 2 = 0.24
    // pnl = (47.88 - 50) x 2 - 0.25 - 0.38304 = -4.87304 = -(its reserved risk)
    const placed = place(cfg, sig, [2]);
    expect(placed.positions[0]?.risk).toBeCloseTo(4.87304, 10);
    r = feed(placed, [k(TS, 50.2, 50.3, 49.9, 50.1), k(TS + five, 49, 49.2, 47.9, 48.1)]);
    expect(closedOf(r.events)[0]).toMatchObject({ exitReason: 'stop_loss', exitPrice: expect.closeTo(47.88, 10), fees: expect.closeTo(0.63304, 10), slippage: expect.closeTo(0.24, 10), pnl: expect.closeTo(-4.87304, 10) });
  });
});

describe('positions stored before the maker/taker split (trading document version 1)', () => {
  it('an old-shaped position (feeRate / slippageRate) still loads and fills as before: flat fee, slippage on every fill', async () => {
    const store = new SqliteStateStore({ file: ':memory:' });
    const cfg = makerTakerCfg(); // the config in force is maker_taker: the old group keeps its own (flat) rates
    // the version-1 document: a LONG 100 x 10 group that filled at 100 x 1.0002 = 100.02 (fee 0.60012) under the flat rule
    const acc = place(cfg, long100v1(), [10]);
    const opened = run(cfg, acc, [candle(T + MIN, 100.2, 100.3, 99.9, 100.1)]).acc;
    const v1 = structuredClone(opened) as unknown as { positions: Array<Record<string, unknown> & { entries: Array<Record<string, unknown>> }> };
    for (const p of v1.positions) {
      delete p.costs;
      p.feeRate = 0.0006;
      p.slippageRate = 0.0002;
      for (const e of p.entries) {
        e.fillPrice = 100.02;
        e.fee = 0.60012;
        delete e.slippage;
        delete e.liquidity;
      }
      p.avgEntry = 100.02;
    }
    const state = { ...createTradingState('paper', cfg, T), account: v1 as unknown as AccountState };
    await store.set(tradingDocPath('paper'), { schemaVersion: 1, state, candleWatermarks: {}, lastCandleEvents: {}, updatedAt: T } as unknown as DocData);
    const ts = new TradingStore(store, { accountId: 'paper', config: cfg });
    const read = await ts.read(T + 3 * MIN);
    expect(read.account.positions[0]).toMatchObject({ costs: { profile: 'conservative', makerFeeRate: 0.0006, takerFeeRate: 0.0006, slippageRate: 0.0002 } });
    expect(read.account.positions[0]?.entries[0]).toMatchObject({ slippage: expect.closeTo(0.2, 10), liquidity: null });
    // TP 102 under the flat rule (book.test.ts): exit 101.9796, fee 0.6118776, pnl 18.3840024; slippage 0.2 + 0.204
    const r = await ts.applyCandle(candle(T + 2 * MIN, 100.1, 102.01, 100.05, 101.8), null, T + 3 * MIN);
    const t = closedOf(r.events)[0];
    expect(t).toMatchObject({ exitReason: 'take_profit', exitPrice: expect.closeTo(101.9796, 10), fees: expect.closeTo(1.2119976, 10), pnl: expect.closeTo(18.3840024, 9), slippage: expect.closeTo(0.404, 10) });
    expect((await store.get<{ schemaVersion: number }>(tradingDocPath('paper')))?.schemaVersion).toBe(2);
  });
});

function long100v1(): Signal {
  return signal({ ts: TS, entries: [100], stopLoss: 99, takeProfit: 102 });
}
