/**
 * TradingStore in live mode (shared/trading/store.ts) on the real embedded StateStore: the stored
 * trading mode selects the fill source of new groups, exchange fills and ended entries go through
 * transactions and are idempotent (also concurrently, through two connections).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { setTradingMode } from '../../shared/trading/live/mode.js';
import type { ExternalFill } from '../../shared/trading/model.js';
import { TradingStore } from '../../shared/trading/store.js';
import { externalMarkerPath, tradingDocPath } from '../../shared/state-paths.js';
import { MIN, defaultCfg, signal } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trading-store-ext-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function stores(): [SqliteStateStore, SqliteStateStore] {
  const file = join(dir, `state-${n++}.db`);
  return [new SqliteStateStore({ file, maxTransactionAttempts: 500 }), new SqliteStateStore({ file, maxTransactionAttempts: 500 })];
}

const T = Date.UTC(2025, 5, 11, 12, 0);
const longSig = () => signal({ ts: T, strategy: 'levels_exhaustion', entries: [100], stopLoss: 99, takeProfit: 102 });
const shortSig = () => signal({ ts: T + MIN, strategy: 'v52_divergence', direction: 'SHORT', entries: [100.5], stopLoss: 101.5, takeProfit: 98.5 });
const fill = (over: Partial<ExternalFill> = {}): ExternalFill => ({
  groupId: `tg:${longSig().signalId}`,
  leg: 'entry',
  entryIndex: 0,
  orderId: 'c0123-e0',
  cumQty: 49.9,
  avgPrice: 100,
  cumFee: 0.998,
  ts: T + MIN,
  orderDone: true,
  ...over,
});

describe('TradingStore fill source', () => {
  it('paper (no mode stored) places simulated groups; live places external ones', async () => {
    const [a] = stores();
    const ts = new TradingStore(a, { accountId: 'main', config: defaultCfg() });
    const paper = await ts.applySignal(longSig(), null, T);
    expect(paper.state.account.fillSource).toBe('simulated');
    expect(paper.state.account.positions[0]!.external).toBeNull();
    await setTradingMode(a, { actor: 'owner', actorId: 'o', mode: 'live' }, T);
    const live = await ts.applySignal(signal({ ts: T, symbol: 'ETHUSDT', entries: [2400], stopLoss: 2390, takeProfit: 2420 }), null, T);
    expect(live.state.account.fillSource).toBe('external');
    expect(live.state.account.positions.map((p) => p.external !== null)).toEqual([false, true]);
    await a.close();
  });

  it('live: a SHORT against an open live LONG on the coin is rejected (opposite_position_live); a paper account accepts it', async () => {
    const [a] = stores();
    const ts = new TradingStore(a, { accountId: 'main', config: defaultCfg() });
    await setTradingMode(a, { actor: 'owner', actorId: 'o', mode: 'live' }, T);
    await ts.applySignal(longSig(), null, T);
    const f = await ts.applyExternalFill(fill(), T + MIN);
    expect(f.state.account.positions[0]).toMatchObject({ status: 'open', filledQty: 49.9, direction: 'LONG' });
    const r = await ts.applySignal(shortSig(), null, T + MIN);
    expect(r.decision).toMatchObject({ accepted: false, reason: 'opposite_position_live' });
    expect(r.state.account.positions).toHaveLength(1);

    const [b] = stores();
    const paper = new TradingStore(b, { accountId: 'main', config: defaultCfg() });
    await paper.applySignal(longSig(), null, T);
    expect((await paper.applySignal(shortSig(), null, T + MIN)).decision.accepted).toBe(true);
    await a.close();
    await b.close();
  });
});

describe('TradingStore external fills', () => {
  it('the same fill twice (also concurrently, two connections) is applied once; the repeat returns the stored events', async () => {
    const [a, b] = stores();
    const ta = new TradingStore(a, { accountId: 'main', config: defaultCfg() });
    const tb = new TradingStore(b, { accountId: 'main', config: () => defaultCfg() });
    await setTradingMode(a, { actor: 'owner', actorId: 'o', mode: 'live' }, T);
    await ta.applySignal(longSig(), null, T);
    const [r1, r2] = await Promise.all([ta.applyExternalFill(fill(), T + MIN), tb.applyExternalFill(fill(), T + MIN)]);
    expect([r1.applied, r2.applied].sort()).toEqual([false, true]);
    expect(r1.events).toEqual(r2.events);
    expect(r1.events.map((e) => e.type)).toEqual(['entry_filled']);
    const state = await ta.read(T + 2 * MIN);
    expect(state.account.positions[0]).toMatchObject({ filledQty: 49.9, avgEntry: 100 });
    expect(state.account.counters.entriesFilled).toBe(1);
    expect(await a.get(externalMarkerPath('main', `fill:${fill().groupId}:c0123-e0:49.9:done`))).toBeDefined();
    // an older report (no marker for it) changes nothing and writes nothing
    const before = await a.get(tradingDocPath('main'));
    const old = await ta.applyExternalFill(fill({ cumQty: 20, orderDone: false }), T + 3 * MIN);
    expect(old).toMatchObject({ applied: false, outcome: 'duplicate', events: [] });
    expect(await a.get(tradingDocPath('main'))).toEqual(before);
    await a.close();
    await b.close();
  });

  it('take profit fill closes the group; cancelEntry is idempotent; a malformed fill is refused at the edge', async () => {
    const [a] = stores();
    const ts = new TradingStore(a, { accountId: 'main', config: defaultCfg() });
    await setTradingMode(a, { actor: 'owner', actorId: 'o', mode: 'live' }, T);
    const sig = signal({ ts: T, strategy: 'dca', engine: 'SWING', entries: [100, 98], stopLoss: 95, takeProfit: 104 });
    const placed = await ts.applySignal(sig, null, T);
    expect(placed.decision.accepted).toBe(true);
    const g = `tg:${sig.signalId}`;
    await ts.applyExternalFill(fill({ groupId: g, cumQty: 3, orderId: 'dca-e0' }), T + MIN);
    await ts.applyExternalFill({ groupId: g, leg: 'exit', orderId: 'dca-t0', cumQty: 3, avgPrice: 104, cumFee: 0.0624, ts: T + 2 * MIN, reason: 'take_profit' }, T + 2 * MIN);
    expect((await ts.read(T + 2 * MIN)).account.positions).toHaveLength(1); // e1 still works
    const c1 = await ts.cancelEntry(g, 1, T + 3 * MIN);
    expect(c1.events.map((e) => e.type)).toEqual(['entry_timeout', 'position_closed']);
    const c2 = await ts.cancelEntry(g, 1, T + 4 * MIN);
    expect(c2).toMatchObject({ applied: false, events: c1.events });
    const st = await ts.read(T + 5 * MIN);
    expect(st.account.positions).toEqual([]);
    expect(st.account.realizedPnl).toBeCloseTo((104 - 100) * 3 - 0.998 - 0.0624, 9);
    await expect(ts.applyExternalFill({ ...fill({ groupId: g }), entryIndex: undefined }, T)).rejects.toThrow(/entryIndex/);
    await expect(ts.applyExternalFill(fill({ cumQty: -1 }), T)).rejects.toThrow();
    await a.close();
  });
});
