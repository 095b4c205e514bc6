/**
 * Persistence shell (shared/trading/store.ts) on the real embedded StateStore (SQLite file, two store
 * instances = two connections): transactions keep the risk cap under concurrent signals, and signals
 * and candles applied twice change nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { StateStore, Transaction } from '../../shared/ports/state.js';
import { openRisk } from '../../shared/trading/account.js';
import { closedTradeRows, signalMarkerPath, TradingStore, tradingDocPath } from '../../shared/trading/store.js';
import type { Signal } from '../../shared/trading/types.js';
import { MIN, candle, defaultCfg, signal } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trading-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function stores(): [SqliteStateStore, SqliteStateStore] {
  const file = join(dir, `state-${n++}.db`);
  return [new SqliteStateStore({ file, maxTransactionAttempts: 500 }), new SqliteStateStore({ file, maxTransactionAttempts: 500 })];
}

const T = Date.UTC(2025, 5, 11, 12, 0);

/** Counts transaction attempts (retries included) to show the test really contends. */
function counting(store: SqliteStateStore, counter: { attempts: number }): StateStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'runTransaction') {
        return <R>(fn: (tx: Transaction) => Promise<R>) =>
          target.runTransaction((tx) => {
            counter.attempts++;
            return fn(tx);
          });
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('TradingStore', () => {
  it('50 concurrent signals through two connections: open risk never exceeds 2 %, accepted = what the budget allows', async () => {
    const [a, b] = stores();
    const cfg = defaultCfg();
    cfg.risk.scalp.perTradeRiskPct = 0.3; // 30 per trade, cap 200 -> 6 full trades (180) + one taking the 20 left
    const counter = { attempts: 0 };
    const ta = new TradingStore(counting(a, counter), { accountId: 'paper', config: cfg });
    const tb = new TradingStore(counting(b, counter), { accountId: 'paper', config: () => cfg });
    const sigs: Signal[] = Array.from({ length: 50 }, (_, i) =>
      signal({ ts: T, symbol: `C${i}USDT`, strategy: i % 2 ? 'levels_exhaustion' : 'v52_divergence', entries: [100], stopLoss: 99, takeProfit: 102 }),
    );
    cfg.risk.positions = { maxPerStrategy: 50, maxTotal: 50, maxPerCoinPerStrategy: 1 };
    const results = await Promise.all(sigs.map((s, i) => (i % 2 ? tb : ta).applySignal(s, null, T + i)));
    expect(counter.attempts).toBeGreaterThan(50); // transactions really conflicted and were retried
    expect(results.every((r) => r.applied)).toBe(true);
    const accepted = results.filter((r) => r.decision.accepted);
    expect(accepted).toHaveLength(7);
    expect(results.filter((r) => !r.decision.accepted).every((r) => !r.decision.accepted && r.decision.reason === 'risk_budget_exhausted')).toBe(true);
    const risks = accepted.map((r) => (r.decision.accepted ? r.decision.risk : 0)).sort((x, y) => x - y);
    expect(risks).toEqual([20, 30, 30, 30, 30, 30, 30].map((v) => expect.closeTo(v, 9)));
    const state = await tb.read(T + 100);
    expect(state.account.positions).toHaveLength(7);
    expect(openRisk(state.account)).toBeLessThanOrEqual(200 + 1e-9);
    expect(openRisk(state.account)).toBeCloseTo(200, 9);
    // every applied signal left its marker
    for (const s of sigs) expect(await a.get(signalMarkerPath('paper', s.signalId))).toBeDefined();
    await a.close();
    await b.close();
  });

  it('the same signal applied twice (concurrently and again later) -> one position, same decision', async () => {
    const [a, b] = stores();
    const cfg = defaultCfg();
    const sig = signal({ ts: T, entries: [100], stopLoss: 99, takeProfit: 102 });
    const ta = new TradingStore(a, { accountId: 'paper', config: cfg });
    const tb = new TradingStore(b, { accountId: 'paper', config: cfg });
    const [r1, r2] = await Promise.all([ta.applySignal(sig, null, T), tb.applySignal(sig, null, T)]);
    expect([r1.applied, r2.applied].sort()).toEqual([false, true]);
    expect(r1.decision).toEqual(r2.decision);
    const first = r1.applied ? r1 : r2;
    const again = r1.applied ? r2 : r1;
    expect(again.events).toEqual(first.events); // stored events, for an idempotent re-publish
    const r3 = await ta.applySignal(sig, null, T + MIN);
    expect(r3.applied).toBe(false);
    const state = await ta.read(T + MIN);
    expect(state.account.positions).toHaveLength(1);
    expect(state.account.counters.ordersPlaced).toBe(1);
    await a.close();
    await b.close();
  });

  it('candles are applied once per feed (watermark); a redelivery returns the stored events', async () => {
    const [a] = stores();
    const cfg = defaultCfg();
    const ts = new TradingStore(a, { accountId: 'paper', config: cfg });
    await ts.applySignal(signal({ ts: T + MIN, entries: [100], stopLoss: 99, takeProfit: 102 }), null, T + MIN);
    const fillCandle = candle(T + MIN, 100.2, 100.3, 99.9, 100.1);
    const r1 = await ts.applyCandle(fillCandle, null, T + 2 * MIN);
    expect(r1.applied).toBe(true);
    expect(r1.events.map((e) => e.type)).toEqual(['entry_filled']);
    const r2 = await ts.applyCandle(fillCandle, null, T + 2 * MIN + 5);
    expect(r2.applied).toBe(false);
    expect(r2.events).toEqual(r1.events);
    const older = await ts.applyCandle(candle(T, 100, 100, 99, 100), null, T + 3 * MIN);
    expect(older).toMatchObject({ applied: false, events: [] });
    const tp = await ts.applyCandle(candle(T + 2 * MIN, 100.1, 102.5, 100, 102.2), null, T + 3 * MIN);
    expect(tp.events.map((e) => e.type)).toEqual(['exit_filled', 'position_closed']);
    expect(closedTradeRows(tp.events)).toHaveLength(1);
    const state = await ts.read(T + 3 * MIN);
    expect(state.account.positions).toEqual([]);
    expect(state.account.counters.entriesFilled).toBe(1);
    expect(state).toEqual(tp.state);
    const doc = await a.get(tradingDocPath('paper'));
    expect(doc?.['candleWatermarks']).toEqual({ 'bybit:BTCUSDT:1m': T + 2 * MIN });
    await a.close();
  });

  it('bias updates, owner resume and ticks go through transactions and are idempotent', async () => {
    const [a] = stores();
    const cfg = defaultCfg();
    const ts = new TradingStore(a, { accountId: 'paper', config: cfg });
    const bias = { symbol: 'BTCUSDT', bias: 'SHORT' as const, confidence: 90, components: [], ts: T, expiresAt: T + 4 * 60 * MIN };
    const r1 = await ts.applyBias(bias, T);
    expect(r1.events.map((e) => e.type === 'protection' && e.kind)).toEqual(['bias_filter_engaged']);
    const r2 = await ts.applyBias(bias, T + 1);
    expect(r2).toMatchObject({ applied: false, events: [] });
    const d = await ts.applySignal(signal({ ts: T + MIN, entries: [100], stopLoss: 99, takeProfit: 102 }), null, T + MIN);
    expect(d.decision).toMatchObject({ accepted: false, reason: 'macro_bias_filter' });
    expect((await ts.resume(T + 2 * MIN)).applied).toBe(false);
    const tick = await ts.tick(T + 4 * 60 * MIN);
    expect(tick.events.map((e) => e.type === 'protection' && e.kind)).toEqual(['bias_filter_released']);
    await a.close();
  });
});
