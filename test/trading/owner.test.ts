/**
 * Owner commands in the trading core (engine.ts ownerPause / ownerResume / ownerMoveTakeProfit) and
 * their persistence (TradingStore pause / resumeCommand / moveTakeProfit, idempotent by command id),
 * plus the store's live gate (live mode without a usable exchange rejects instead of opening a group).
 */
import { describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { ProtectionEvent } from '../../shared/protection/model.js';
import { applyCandle, applySignal, createTradingState, ownerMoveTakeProfit, ownerPause, ownerResume, OWNER_PAUSED_KIND, setFillSource, tick, type TradingEvent } from '../../shared/trading/core.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import type { PositionClosedEvent } from '../../shared/model/trading.js';
import { TradingStore } from '../../shared/trading/store.js';
import { ownerLevelConfig } from '../../shared/trading/owner-levels.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { commandMarkerPath } from '../../shared/state-paths.js';
import { MIN, candle, defaultCfg, signal } from './helpers.js';

const T = Date.UTC(2025, 5, 11, 12, 0);
const kinds = (evs: readonly TradingEvent[]) => evs.filter((e): e is ProtectionEvent => e.type === 'protection').map((e) => e.kind);
const owner = (commandTs: number) => ({ actorId: '42', commandTs });
/** The dashboard's default TP max and the default tier stop caps. */
const LEVELS = ownerLevelConfig(defaultCfg(), { ...DEFAULT_TELEGRAM_CONFIG.dashboard, takeProfitMaxPct: 20 });

describe('owner pause / resume (core)', () => {
  it('pause refuses new entries (owner_paused) while the open group still exits; resume allows them again', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    s = applySignal(s, signal({ ts: T, entries: [100], stopLoss: 99, takeProfit: 101 }), null, cfg, T).state;
    const p = ownerPause(s, owner(T + 1), T + 1);
    expect(p.outcome).toBe('applied');
    expect(kinds(p.events)).toEqual([OWNER_PAUSED_KIND]);
    expect(p.events[0]).toMatchObject({ eventId: `owner_paused:account:${T + 1}`, severity: 'warning', details: { reason: 'owner', actorId: '42' } });
    s = p.state;
    const refused = applySignal(s, signal({ ts: T + MIN, symbol: 'ETHUSDT', entries: [100], stopLoss: 99, takeProfit: 101 }), null, cfg, T + MIN);
    expect(refused.decision).toMatchObject({ accepted: false, reason: 'owner_paused' });
    // the paused account's group still fills and takes profit on candles; ticks keep the pause
    s = applyCandle(s, candle(T, 100, 100.2, 99.8, 100), null, cfg, T + MIN).state;
    const exit = applyCandle(s, candle(T + MIN, 100, 101.5, 99.9, 101.2), null, cfg, T + 2 * MIN);
    expect((exit.events.find((e) => e.type === 'position_closed') as PositionClosedEvent | undefined)?.trade.exitReason).toBe('take_profit');
    s = tick(exit.state, cfg, T + 3 * MIN).state;
    expect(s.control?.paused).toBe(true);
    // pausing again: nothing
    expect(ownerPause(s, owner(T + 4), T + 4 * MIN)).toMatchObject({ events: [], outcome: 'unchanged' });

    const r = ownerResume(s, T + 5 * MIN, owner(T + 5 * MIN));
    expect(kinds(r.events)).toEqual(['trading_resumed']);
    expect(r.events[0]).toMatchObject({ details: { ownerPause: true, lossStreakPause: false, dailyHalt: false } });
    expect(applySignal(r.state, signal({ ts: T + 5 * MIN, symbol: 'ETHUSDT', entries: [100], stopLoss: 99, takeProfit: 101 }), null, cfg, T + 5 * MIN).decision.accepted).toBe(true);
    // a pause issued before that resume, delivered after it: stale, nothing changes
    expect(ownerPause(r.state, owner(T + 4 * MIN), T + 6 * MIN)).toMatchObject({ state: r.state, events: [], outcome: 'stale' });
  });

  it('resume clears the owner pause, the loss-streak pause and the daily halt with ONE event; nothing to clear = no event', () => {
    const cfg = defaultCfg();
    let s = ownerPause(createTradingState('a', cfg, T), owner(T), T).state;
    s = { ...s, protections: { ...s.protections, guards: { ...s.protections.guards, pausedUntil: T + 3_600_000, dailyHalted: true } } };
    const r = ownerResume(s, T + MIN, owner(T + MIN));
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ kind: 'trading_resumed', details: { ownerPause: true, lossStreakPause: true, dailyHalt: true } });
    expect(r.state.protections.guards).toMatchObject({ pausedUntil: null, dailyHalted: false });
    expect(r.state.control).toEqual({ paused: false, pausedAt: null, by: '42', commandTs: T + MIN });
    expect(ownerResume(r.state, T + 2 * MIN, owner(T + 2 * MIN)).events).toEqual([]);
    // the old signature (no command) still resumes the guards
    const legacy = ownerResume({ ...createTradingState('b', cfg, T), protections: s.protections }, T);
    expect(kinds(legacy.events)).toEqual(['trading_resumed']);
    expect(createTradingState('c', cfg, T).control).toBeUndefined();
  });
});

describe('move take profit (core)', () => {
  it('SHORT: must stay below the entries and the fill; the next candles exit at the new level; live groups move too', () => {
    const cfg = defaultCfg();
    let s = createTradingState('a', cfg, T);
    s = applySignal(s, signal({ ts: T, direction: 'SHORT', entries: [100], stopLoss: 101, takeProfit: 98 }), null, cfg, T).state;
    const g = s.account.positions[0]!.groupId;
    s = applyCandle(s, candle(T, 100, 100.3, 99.9, 100.1), null, cfg, T + MIN).state; // fills (high 100.3 > 100)
    expect(ownerMoveTakeProfit(s, g, 'BTCUSDT', 100.5, 'tg:1', T + MIN, LEVELS)).toMatchObject({ outcome: 'invalid_level', events: [] });
    expect(ownerMoveTakeProfit(s, g, 'ETHUSDT', 99, 'tg:1', T + MIN, LEVELS)).toMatchObject({ outcome: 'symbol_mismatch', events: [] });
    expect(ownerMoveTakeProfit(s, 'tg:none', 'BTCUSDT', 99, 'tg:1', T + MIN, LEVELS).outcome).toBe('unknown_group');
    const m = ownerMoveTakeProfit(s, g, 'BTCUSDT', 99.5, 'tg:2', T + MIN, LEVELS);
    expect(m.outcome).toBe('applied');
    expect(m.events).toEqual([expect.objectContaining({ type: 'take_profit_moved', from: 98, to: 99.5, commandId: 'tg:2', eventId: `${g}:tp:tg:2` })]);
    expect(ownerMoveTakeProfit(m.state, g, 'BTCUSDT', 99.5, 'tg:3', T + MIN, LEVELS).outcome).toBe('unchanged');
    const exit = applyCandle(m.state, candle(T + MIN, 100, 100.1, 99.4, 99.6), null, cfg, T + 2 * MIN);
    const closed = exit.events.find((e) => e.type === 'position_closed') as PositionClosedEvent;
    expect(closed.trade.exitReason).toBe('take_profit');
    expect(closed.trade.exitPrice).toBeCloseTo(99.5 * (1 + cfg.paper.costs.scalpSlippagePct / 100), 9);

    const live = applySignal(setFillSource(createTradingState('b', cfg, T), 'external'), signal({ ts: T, entries: [100], stopLoss: 99, takeProfit: 101 }), null, cfg, T).state;
    // a live group moves too (the live executor re-places its resting take-profit orders on the event)
    const lg = live.account.positions[0]!.groupId;
    const lm = ownerMoveTakeProfit(live, lg, 'BTCUSDT', 102, 'tg:4', T, LEVELS);
    expect(lm).toMatchObject({ outcome: 'applied', events: [expect.objectContaining({ type: 'take_profit_moved', groupId: lg, from: 101, to: 102, commandId: 'tg:4' })] });
    expect(lm.state.account.positions[0]!.takeProfit).toBe(102);
  });
});

describe('TradingStore owner commands and live gate', () => {
  it('commands are idempotent by command id; the live gate rejects in live mode only', async () => {
    const state = new SqliteStateStore({ file: ':memory:' });
    try {
      let asked = 0;
      const store = new TradingStore(state, {
        accountId: 'main',
        config: defaultCfg(),
        liveGate: async () => {
          asked++;
          return 'no keys';
        },
      });
      const ref = { commandId: 'tg:7', actorId: '42', ts: T };
      const first = await store.pause(ref, T);
      expect(first).toMatchObject({ applied: true, outcome: 'applied' });
      expect(kinds(first.events)).toEqual([OWNER_PAUSED_KIND]);
      const again = await store.pause(ref, T + MIN);
      expect(again).toMatchObject({ applied: false, outcome: 'applied' });
      expect(again.events).toEqual(first.events);
      expect(await state.get(commandMarkerPath('main', 'tg:7'))).toMatchObject({ commandId: 'tg:7', outcome: 'applied' });
      const res = await store.resumeCommand({ commandId: 'tg:8', actorId: '42', ts: T + MIN }, T + MIN);
      expect(kinds(res.events)).toEqual(['trading_resumed']);

      // paper: the gate is not asked
      expect((await store.applySignal(signal({ ts: T + MIN, entries: [100], stopLoss: 99, takeProfit: 101 }), null, T + MIN)).decision.accepted).toBe(true);
      expect(asked).toBe(0);
      await setTradingMode(state, { actor: 'owner', actorId: '42', mode: 'live' }, T + MIN);
      const r = await store.applySignal(signal({ ts: T + MIN, symbol: 'ETHUSDT', entries: [100], stopLoss: 99, takeProfit: 101 }), null, T + MIN);
      expect(r.decision).toEqual({ accepted: false, reason: 'live_unavailable', detail: 'no keys' });
      expect(r.state.account.positions.map((p) => p.symbol)).toEqual(['BTCUSDT']);
      expect(asked).toBe(1);
    } finally {
      await state.close();
    }
  });
});
