/**
 * Regimes fail closed (SPEC 6, issue 8 item 4), through the ONE trading core (shared/trading/core.ts):
 * - the held regime: a series oscillating around the PANIC threshold is ONE PANIC episode of at least
 *   protections.regime.minHoldMs, not one per minute;
 * - while PANIC holds, a pending DCA grid is cancelled (booked like an entry timeout), never filled;
 * - a missing / stale reference symbol stops new entries with exactly one alert per outage;
 * - the held regime and the reference state survive a restart (they live in the account document).
 *
 * Data: REAL Bybit BTCUSDT 1m candles (test/fixtures/trading, 2025-06-11). The kit has no crash (its
 * largest 1h drop is about 2.5 %), so the crash is a TRANSFORM of that real slice: every price of
 * candle i (open, high, low, close alike, so each candle stays a valid candle) is multiplied by a
 * factor f(i) = 1 before CRASH_START, then falls 5 % per hour for CRASH_MINUTES (about -12 % in all)
 * with a +-0.3 % wiggle of period 7 minutes, then stays flat; the real minute-to-minute moves ride on top.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { REGIMES, type Regime } from '../../shared/config/strategy.js';
import type { Candle } from '../../shared/model/market.js';
import type { ProtectionEvent, ProtectionState } from '../../shared/protection/model.js';
import { classifyRegime, regimeInputsAt, stepRegime, updateReference } from '../../shared/protection/regime.js';
import { createProtectionState } from '../../shared/protection/model.js';
import { applyCandle, applySignal, createTradingState, tick, type TradingEvent, type TradingState } from '../../shared/trading/core.js';
import type { TradingConfig } from '../../shared/trading/model.js';
import { TradingStore } from '../../shared/trading/store.js';
import { candle, columns, HOUR, MIN, realBtc1m, referenceCfg, signal } from '../trading/helpers.js';

const CRASH_START = 180; // minutes into the slice (2025-06-11 03:00 UTC)
const CRASH_MINUTES = 150;
const N = 480;
const HOURLY_DROP = 0.05;

function factor(i: number): number {
  if (i < CRASH_START) return 1;
  const k = Math.min(i, CRASH_START + CRASH_MINUTES) - CRASH_START;
  const trend = Math.pow(1 - HOURLY_DROP, k / 60);
  // period 7 min (not a divisor of 60, so the 1h change sees it): +-0.3 %
  const wiggle = i < CRASH_START + CRASH_MINUTES ? 1 + 0.003 * Math.sin((2 * Math.PI * i) / 7) : 1;
  return trend * wiggle;
}

/** The transformed real slice (see the header) and the regime inputs the execution computes on it. */
function crashSlice(): { cs: Candle[]; inputs: ReturnType<typeof regimeInputsAt>[] } {
  const cs = realBtc1m()
    .slice(0, N)
    .map((c, i) => {
      const f = factor(i);
      return { ...c, open: c.open * f, high: c.high * f, low: c.low * f, close: c.close * f };
    });
  const { time, close } = columns(cs);
  return { cs, inputs: cs.map((_, i) => regimeInputsAt(time, close, i)) };
}

/** The production config with swing groups fed by Bybit 1m candles (as the backtester does); reference gate ON. */
function cfg1mRef(): TradingConfig {
  const c = referenceCfg();
  c.feeds = { SCALP: { venue: 'bybit', interval: '1m' }, SWING: { venue: 'bybit', interval: '1m' } };
  return c;
}

const prot = (evs: readonly TradingEvent[]) => evs.filter((e): e is ProtectionEvent => e.type === 'protection');

/** PANIC episodes [start, end) of a regime timeline (end = Infinity while it lasts). */
function panicEpisodes(timeline: Array<[number, Regime]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [t, r] of timeline) {
    const open = out.length > 0 && out[out.length - 1]![1] === Infinity;
    if (r === 'PANIC' && !open) out.push([t, Infinity]);
    else if (r !== 'PANIC' && open) out[out.length - 1]![1] = t;
  }
  return out;
}

describe('regime hold (stepRegime)', () => {
  const cfg = referenceCfg().protections.regime;
  it('escalates at once; de-escalates only after minHoldMs AND calmConfirmMs of calmer readings', () => {
    const out: ProtectionEvent[] = [];
    let s = createProtectionState(0, 10_000);
    s = stepRegime(s, 'CAUTION', MIN, cfg, out);
    s = stepRegime(s, 'PANIC', 2 * MIN, cfg, out); // more severe: at once
    expect(s.regime.current).toBe('PANIC');
    // calm readings, interrupted by one PANIC reading at 20 min: the calm spell restarts
    for (let t = 3; t <= 60; t++) {
      s = stepRegime(s, t === 20 ? 'PANIC' : 'NORMAL', t * MIN, cfg, out);
      if (s.regime.current !== 'PANIC') {
        // held >= 30 min from 2 min AND 10 min of calm since 21 min -> 32 min
        expect(t).toBe(32);
        break;
      }
    }
    expect(out.map((e) => `${e.details['from']}->${e.details['to']}@${e.ts / MIN}`)).toEqual(['NORMAL->CAUTION@1', 'CAUTION->PANIC@2', 'PANIC->NORMAL@32']);
    const same = stepRegime(s, 'NORMAL', 33 * MIN, cfg, out);
    expect(same).toBe(s);
  });

  it('a real slice oscillating around the PANIC threshold is ONE PANIC episode of at least minHoldMs', () => {
    const { cs, inputs } = crashSlice();
    const c = cfg1mRef();
    // the raw classification really flickers minute to minute around 5 % (the failure the hold fixes)
    const raw = panicEpisodes(inputs.map((x, i) => [cs[i]!.openTime + MIN, classifyRegime(x, c.protections.regime)]));
    expect(raw.length).toBeGreaterThanOrEqual(10);
    let s = createTradingState('a', c, cs[0]!.openTime);
    const held: Array<[number, Regime]> = [];
    let changes = 0;
    for (let i = 0; i < cs.length; i++) {
      const now = cs[i]!.openTime + MIN;
      const r = applyCandle(s, cs[i]!, { regimeInputs: inputs[i]! }, c, now);
      s = r.state;
      changes += prot(r.events).filter((e) => e.kind === 'regime_changed').length;
      held.push([now, s.protections.regime.current]);
    }
    const episodes = panicEpisodes(held);
    expect(episodes).toHaveLength(1);
    const [start, end] = episodes[0]!;
    expect(end).toBeLessThan(Infinity);
    expect(end - start).toBeGreaterThanOrEqual(c.protections.regime.minHoldMs);
    // it covers every raw PANIC reading and ends no sooner than calmConfirmMs after the last one
    expect(start).toBe(raw[0]![0]);
    expect(end - raw[raw.length - 1]![1]).toBeGreaterThanOrEqual(c.protections.regime.calmConfirmMs - MIN);
    expect(changes).toBeLessThanOrEqual(6); // NORMAL/CAUTION -> PANIC -> CAUTION -> NORMAL, not dozens
    expect(new Set(held.map(([, r]) => r))).toContain('NORMAL');
    expect(REGIMES).toContain(held[held.length - 1]![1]);
  });
});

describe('PANIC cancels pending entries (a DCA grid), never fills them', () => {
  it('the grid placed before the crash gets no fill while PANIC holds; its unfilled entries end like a timeout', () => {
    const { cs, inputs } = crashSlice();
    const c = cfg1mRef();
    let s = createTradingState('a', c, cs[0]!.openTime);
    const step = (i: number): readonly TradingEvent[] => {
      const r = applyCandle(s, cs[i]!, { regimeInputs: inputs[i]! }, c, cs[i]!.openTime + MIN);
      s = r.state;
      return r.events;
    };
    for (let i = 0; i < CRASH_START - 10; i++) step(i);
    // a DCA grid on BTC 20 minutes before the crash: 5 buys 4.5 % .. 8.5 % below the price
    const t = cs[CRASH_START - 10]!.openTime;
    const p = cs[CRASH_START - 11]!.close;
    const entries = [0.955, 0.945, 0.935, 0.925, 0.915].map((k) => p * k);
    const dca = signal({ ts: t, strategy: 'dca', engine: 'SWING', symbol: 'BTCUSDT', entries, stopLoss: p * 0.88, takeProfit: p * 1.02, maxHoldMs: 48 * HOUR });
    const placed = applySignal(s, dca, null, c, t);
    expect(placed.decision.accepted).toBe(true);
    s = placed.state;

    const fills: Array<{ at: number; regime: Regime; price: number }> = [];
    const cancels: TradingEvent[] = [];
    let panicSeen = false;
    for (let i = CRASH_START - 10; i < N; i++) {
      const evs = step(i);
      for (const e of evs) {
        if (e.type === 'entry_filled') fills.push({ at: e.ts, regime: s.protections.regime.current, price: e.price });
        if (e.type === 'entry_timeout') cancels.push(e);
      }
      if (s.protections.regime.current === 'PANIC') panicSeen = true;
    }
    expect(panicSeen).toBe(true);
    // the crash (-8 % and more from the grid's reference price) trades through every level of the grid ...
    const lowest = Math.min(...cs.slice(CRASH_START).map((x) => x.low));
    expect(lowest).toBeLessThan(entries[4]! * 0.99);
    // ... but no entry fills while PANIC holds: the first level filled on the way down (before the
    // 1h drop passed 5 %), the other four were cancelled when PANIC began
    expect(fills.every((f) => f.regime !== 'PANIC')).toBe(true);
    expect(fills.map((f) => f.price / (entries[0]! * (1 + c.swingSlippagePct.large_cap / 100)))).toEqual([1]);
    expect(cancels).toHaveLength(1);
    expect(cancels[0]).toMatchObject({ type: 'entry_timeout', reason: 'regime_panic', positionRemains: true, cancelledOrderIds: ['tg:' + dca.signalId + ':e1', 'tg:' + dca.signalId + ':e2', 'tg:' + dca.signalId + ':e3', 'tg:' + dca.signalId + ':e4'].map((x) => x) });
    expect(s.account.counters.entryTimeouts).toBe(1);
  });

  it('a grid with no fill yet leaves the book when PANIC begins; a stored PANIC state cancels before any candle fills', () => {
    const c = cfg1mRef();
    const T = Date.UTC(2025, 5, 11, 12, 0);
    let s = createTradingState('a', c, T);
    s = applyCandle(s, candle(T, 100, 100, 100, 100), { regime: 'NORMAL' }, c, T + MIN).state;
    const dca = signal({ ts: T + MIN, strategy: 'dca', engine: 'SWING', symbol: 'ETHUSDT', entries: [95, 94], stopLoss: 90, takeProfit: 101 });
    s = applySignal(s, dca, null, c, T + MIN).state;
    expect(s.account.positions).toHaveLength(1);
    // PANIC stored (e.g. by an earlier run) with the grid pending: the ETH candle trading through it fills nothing
    const stored: TradingState = { ...s, protections: { ...s.protections, regime: { current: 'PANIC', since: T + MIN, calmSince: null } } };
    const r = applyCandle(stored, candle(T + MIN, 96, 96, 90.5, 91, 'ETHUSDT'), null, c, T + 2 * MIN);
    expect(r.events.map((e) => e.type)).toEqual(['entry_timeout']);
    expect(r.events[0]).toMatchObject({ reason: 'regime_panic', positionRemains: false });
    expect(r.state.account.positions).toHaveLength(0);
    // the sweep does the same without a candle
    expect(tick(stored, c, T + 2 * MIN).events.map((e) => e.type)).toEqual(['entry_timeout']);
  });
});

describe('the regime reference (BTC) missing or stale stops new entries, with one alert', () => {
  const T = Date.UTC(2025, 5, 11, 12, 0);
  const eth = (i: number) => candle(T + i * MIN, 100, 100, 100, 100, 'ETHUSDT');
  const btc = (i: number) => candle(T + i * MIN, 100, 100, 100, 100);
  const scalp = (ts: number) => signal({ ts, symbol: 'ETHUSDT', entries: [100], stopLoss: 99.5, takeProfit: 101, signalId: `v52_divergence:ETHUSDT:${ts}` });

  it('missing: no BTC candle at all -> every signal refused, ONE alert once the grace (referenceMaxAgeMs) has passed', () => {
    const c = referenceCfg();
    let s = createTradingState('a', c, T);
    const alerts: ProtectionEvent[] = [];
    const reasons = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const r = applyCandle(s, eth(i), { volatility24hPct: null }, c, T + (i + 1) * MIN);
      alerts.push(...prot(r.events));
      const d = applySignal(r.state, scalp(T + (i + 1) * MIN), null, c, T + (i + 1) * MIN);
      alerts.push(...prot(d.events));
      s = d.state;
      expect(d.decision.accepted).toBe(false);
      if (!d.decision.accepted) reasons.add(d.decision.reason);
    }
    expect([...reasons]).toEqual(['regime_reference_missing']);
    expect(alerts.map((e) => e.kind)).toEqual(['regime_reference_lost']);
    // grace: the state was created at T; the first evaluation more than referenceMaxAgeMs later alerts
    expect(alerts[0]!.ts).toBe(T + c.protections.regime.referenceMaxAgeMs + MIN);
    expect(alerts[0]!.message).toMatch(/BTCUSDT missing.*new entries stopped/);
    expect(s.account.positions).toHaveLength(0);
  });

  it('stale: BTC stops for 30 minutes -> refused with exactly one alert; back -> one restore, entries allowed', () => {
    const c = referenceCfg();
    let s = createTradingState('a', c, T);
    const alerts: ProtectionEvent[] = [];
    const decisions: string[] = [];
    for (let i = 0; i < 60; i++) {
      const now = T + (i + 1) * MIN;
      const btcFlows = i < 10 || i >= 40;
      if (btcFlows) {
        const r = applyCandle(s, btc(i), { regimeInputs: { change1hPct: 0, change4hPct: 0, change24hPct: 0, change48hPct: 0 } }, c, now);
        s = r.state;
        alerts.push(...prot(r.events));
      }
      const r = applyCandle(s, eth(i), null, c, now);
      s = r.state;
      alerts.push(...prot(r.events));
      const t = tick(s, c, now);
      s = t.state;
      alerts.push(...prot(t.events));
      if (i % 5 === 4) {
        const d = applySignal(s, scalp(now), null, c, now);
        alerts.push(...prot(d.events));
        decisions.push(d.decision.accepted ? 'ok' : d.decision.reason);
        // keep the book empty so each probe is judged on the reference alone
        s = { ...d.state, account: s.account };
      }
    }
    // last BTC candle closes at T + 10 min; stale from T + 15 min + 1 ms; back with the candle of minute 40
    expect(decisions).toEqual([
      'ok',
      'ok',
      'ok',
      'regime_reference_stale',
      'regime_reference_stale',
      'regime_reference_stale',
      'regime_reference_stale',
      'regime_reference_stale',
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
    expect(alerts.map((e) => `${e.kind}@${(e.ts - T) / MIN}`)).toEqual(['regime_reference_lost@16', 'regime_reference_restored@41']);
  });

  it('the held regime and the reference state survive a restart (account document, same transactions)', async () => {
    const c = referenceCfg();
    const file = join(mkdtempSync(join(tmpdir(), 'regime-')), 'state.sqlite');
    const db = new SqliteStateStore({ file });
    const panic = { change1hPct: -6, change4hPct: -6, change24hPct: -6, change48hPct: -6 };
    const calm = { change1hPct: 0, change4hPct: 0, change24hPct: 0, change48hPct: 0 };
    const a = new TradingStore(db, { accountId: 'paper', config: c });
    await a.applyCandle(btc(0), { regimeInputs: panic }, T + MIN);
    await a.applyCandle(btc(1), { regimeInputs: calm }, T + 2 * MIN);
    // restart: the database closed and opened again by a new store
    await db.close();
    const db2 = new SqliteStateStore({ file });
    const b = new TradingStore(db2, { accountId: 'paper', config: c });
    const r = await b.applyCandle(btc(2), { regimeInputs: calm }, T + 3 * MIN);
    expect(r.events).toEqual([]);
    expect(r.state.protections.regime).toEqual({ current: 'PANIC', since: T + MIN, calmSince: T + 2 * MIN });
    expect(r.state.protections.reference).toMatchObject({ lastAt: T + 3 * MIN, status: 'ok' });
    const d = await b.applySignal(scalp(T + 3 * MIN), null, T + 3 * MIN);
    expect(d.decision).toMatchObject({ accepted: false, reason: 'regime_panic' });
    await db2.close();
  });
});

describe('updateReference keeps the rest of the protection state', () => {
  // It builds its result field by field (speed, issue 10): the result must be `{ ...s, reference }`.
  const cfg = referenceCfg().protections.regime;
  it('every other field is the same object, none added or lost, the input untouched (also a state stored before `reference` existed)', () => {
    const full = createProtectionState(0, 10_000);
    full.limiter = { BTCUSDT: { consecutiveStops: 1, cooldownUntil: null } };
    full.nextCooldownEnd = 5 * MIN;
    const { reference: _dropped, ...old } = createProtectionState(0, 10_000);
    for (const s0 of [full, old] as ProtectionState[]) {
      const before = structuredClone(s0);
      let s = s0;
      const events: ProtectionEvent[] = [];
      // ok, ok, silent for longer than referenceMaxAgeMs (stale, alert), back (restored)
      for (const [close, now] of [[MIN, MIN], [2 * MIN, 2 * MIN], [null, 2 * MIN + cfg.referenceMaxAgeMs + MIN], [cfg.referenceMaxAgeMs + 4 * MIN, cfg.referenceMaxAgeMs + 4 * MIN]] as Array<[number | null, number]>) {
        const prev = s;
        s = updateReference(prev, close, now, cfg, events);
        expect(s).toStrictEqual({ ...prev, reference: s.reference });
        expect(Object.keys(s).sort()).toEqual(Object.keys({ ...prev, reference: s.reference }).sort());
        for (const k of ['regime', 'volDisabled', 'limiter', 'guards'] as const) expect(s[k]).toBe(prev[k]);
      }
      expect(s0).toStrictEqual(before);
      expect(events.map((e) => e.kind)).toEqual(['regime_reference_lost', 'regime_reference_restored']);
      expect(s.reference).toMatchObject({ status: 'ok', alerted: false, lastAt: cfg.referenceMaxAgeMs + 4 * MIN });
    }
  });
});
