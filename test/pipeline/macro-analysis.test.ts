/**
 * runMacro end to end on the embedded adapters (SQLite state, in-memory bus, DuckDB warehouse) with
 * REAL Kraken XBTUSD candles written into the hot store as the Kraken pull would have written them
 * (only candles closed by the clock's time).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { INTERVAL_MS, type Interval } from '../../shared/model/market.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { PermanentError, type Bus, type PublishOptions } from '../../shared/ports/bus.js';
import { regimeAt } from '../../shared/protection/regime.js';
import { TOPICS } from '../../shared/topics.js';
import { fromRows } from '../../shared/strategies/macro/columns.js';
import { computeBias } from '../../shared/strategies/macro/bias.js';
import { candlesNeeded, FUNCTION_NAME, handle, runMacro, type MacroDeps, type StoredBias } from '../../shared/pipeline/macro-analysis.js';
import { FILES, HOUR, MIN, aggregate, loadRows, quietLogger, toCandles, ts, type Row } from '../macro/helpers.js';
import { createRoot } from '../../infra/runtime/root.js';
import { UNREACHABLE } from '../root.js';
import { biasPath, swingPublishedPath } from '../../shared/state-paths.js';
import { MESSAGE_SCHEMAS } from '../../shared/messages.js';

const SYSTEM: SystemConfig = {
  ...DEFAULT_SYSTEM_CONFIG,
  symbols: [
    { symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap', enabled: true },
    { symbol: 'ETHUSDT', krakenPair: 'XETHZUSD', tier: 'large_cap', enabled: true },
    { symbol: 'SOLUSDT', krakenPair: null, tier: 'mid_cap', enabled: true },
    { symbol: 'XRPUSDT', krakenPair: 'XXRPZUSD', tier: 'mid_cap', enabled: false },
  ],
};

const SERIES: Array<[Interval, () => Row[]]> = [
  ['4h', () => loadRows(FILES.btc4h)],
  ['1h', () => loadRows(FILES.btc1h)],
  ['5m', () => loadRows(FILES.btc5mMarch)],
  ['15m', () => aggregate(loadRows(FILES.btc5mMarch), '15m')],
];

interface Received {
  data: unknown;
  attributes: Record<string, string>;
}

/** A bus whose publish can be made to fail (a crash between storing and publishing). */
class FlakyBus implements Bus {
  failNext = 0;
  constructor(readonly inner: InMemoryBus) {}
  async publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('publish failed (simulated)');
    }
    return this.inner.publish(topic, data, opts);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function setup(startIso: string) {
  const clock = new ManualClock(ts(startIso));
  const state = new SqliteStateStore({ file: ':memory:' });
  const inner = new InMemoryBus({ fast: true, clock, log: quietLogger() });
  const bus = new FlakyBus(inner);
  const warehouse = new DuckDbWarehouse({ file: ':memory:' });
  await warehouse.ensureSchema();
  cleanup.push(() => state.close(), () => inner.close(), () => warehouse.close());
  const received: Record<string, Received[]> = { [TOPICS.macroBias]: [], [TOPICS.swingSignals]: [] };
  for (const topic of Object.keys(received)) {
    inner.subscribe({
      name: `test--${topic}`,
      topic,
      handler: (ev) => {
        received[topic]!.push({ data: JSON.parse(Buffer.from(ev.data.message.data, 'base64').toString('utf8')), attributes: ev.data.message.attributes ?? {} });
      },
    });
  }
  const deps: MacroDeps = { state, bus, warehouse, clock, log: quietLogger(), config: staticConfig(SYSTEM, DEFAULT_STRATEGY_CONFIGS) };
  /** Writes the BTC candles that have closed by the clock's time (what the Kraken pull stores). */
  const feed = async () => {
    for (const [interval, rows] of SERIES) {
      const closed = rows().filter((r) => r.openTime + INTERVAL_MS[interval] <= clock.now());
      await writeHotCandles(state, toCandles(closed.slice(-SYSTEM.hotWindowCandles), 'BTCUSDT', interval));
    }
  };
  const snapshot = async () => ({
    btc: await state.get<StoredBias>(biasPath('BTCUSDT')),
    eth: await state.get<StoredBias>(biasPath('ETHUSDT')),
    rows: await warehouse.rows('signals'),
    published: { bias: inner.published(TOPICS.macroBias), swing: inner.published(TOPICS.swingSignals) },
  });
  return { clock, state, inner, bus, warehouse, deps, received, feed, snapshot };
}

describe('runMacro end to end (Kraken XBTUSD, 2023-03-17 breakout)', () => {
  it('stores and publishes the bias once per slot, logs every scan, publishes the TAKE; a re-run changes nothing', async () => {
    const env = await setup('2023-03-17T02:01:30Z');
    await env.feed();
    const slot = ts('2023-03-17T02:00:00Z');

    const summary = await runMacro(env.deps);
    await env.inner.drain();
    expect(summary.slotStart).toBe(slot);
    expect(summary.failed).toEqual([]);
    // Only enabled symbols with a Kraken pair: SOL has none, XRP is disabled.
    expect(summary.symbols.map((s) => s.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);

    // Regime from the BTC 15m hot candles, as shared/protection/regime.ts computes it.
    const c15 = fromRows(aggregate(loadRows(FILES.btc5mMarch), '15m').filter((r) => r.openTime + 15 * MIN <= slot), '15m');
    expect(summary.regime).toBe(regimeAt(c15.openTime, c15.close, c15.length - 1, DEFAULT_STRATEGY_CONFIGS.protections.regime));

    // Bias document with its components.
    const first = await env.snapshot();
    const btc = first.btc!;
    expect(btc.symbol).toBe('BTCUSDT');
    expect(btc.ts).toBe(slot);
    expect(btc.slotStart).toBe(slot);
    expect(btc.expiresAt).toBe(slot + 4 * HOUR);
    expect(btc.published).toBe(true);
    expect(btc.dedupeId).toBe(`macro-bias:BTCUSDT:${slot}`);
    expect(btc.components.map((c) => c.name)).toEqual(['trend4h', 'momentum4h', 'structure5m', 'volume']);
    expect(btc.components.every((c) => c.available && c.detail.length > 20)).toBe(true);
    expect(btc.bias).toBe('LONG');
    // The same bias as computed directly from the candles the engine reads (the last N closed per interval).
    const need = candlesNeeded(DEFAULT_STRATEGY_CONFIGS.macro, SYSTEM.hotWindowCandles);
    const direct = computeBias(
      DEFAULT_STRATEGY_CONFIGS.macro,
      'BTCUSDT',
      Object.fromEntries(
        SERIES.filter(([iv]) => need[iv] !== undefined).map(([iv, rows]) => [
          iv,
          fromRows(rows().filter((r) => r.openTime + INTERVAL_MS[iv] <= slot).slice(-need[iv]!), iv),
        ]),
      ),
      slot,
    );
    expect(btc.confidence).toBe(direct.confidence);
    expect(btc.components).toEqual(direct.components);
    expect(btc.confidence).toBeGreaterThanOrEqual(DEFAULT_STRATEGY_CONFIGS.macro.bias.minDirectionalConfidence);
    // ETH has no candles: NEUTRAL with the reason, no crash, no scans.
    const eth = first.eth!;
    expect(eth.bias).toBe('NEUTRAL');
    expect(eth.confidence).toBe(0);
    expect(eth.reasons[0]).toMatch(/^insufficient data/);

    // One macro-bias message per symbol, valid, equal to the stored document.
    const biasMsgs = env.received[TOPICS.macroBias]!;
    expect(biasMsgs).toHaveLength(2);
    const btcMsg = biasMsgs.find((m) => (m.data as { symbol: string }).symbol === 'BTCUSDT')!;
    const parsed = MESSAGE_SCHEMAS[TOPICS.macroBias].parse(btcMsg.data);
    const { published: _p, computedAt: _c, ...stored } = btc;
    expect(parsed).toEqual(stored);
    expect(btcMsg.attributes).toEqual({ symbol: 'BTCUSDT', bias: 'LONG', dedupeId: btc.dedupeId, slotStart: String(slot) });

    // Every scan decision in `signals`: DCA on the 01:55 5m candle, breakout and channel on the 01:00 1h candle.
    const rows = first.rows;
    expect(rows.map((r) => r.signal_id).sort()).toEqual(
      [`channel:BTCUSDT:${slot - HOUR}`, `dca:BTCUSDT:${slot - 5 * MIN}`, `swing_breakout:BTCUSDT:${slot - HOUR}`].sort(),
    );
    const brk = rows.find((r) => r.strategy === 'swing_breakout')!;
    expect(brk.decision).toBe('TAKE');
    expect(brk.direction).toBe('LONG');
    expect(brk.price).toBe(25732.3);
    const features = JSON.parse(brk.features as string) as Record<string, unknown>;
    expect(features.entries).toEqual([25732.3]);
    expect(features.resistance).toBe(25300);
    expect(features.maxHoldMs).toBe(48 * HOUR);
    expect(JSON.parse(brk.reasons as string)).toHaveLength(4);
    for (const r of rows.filter((x) => x.strategy !== 'swing_breakout')) expect(['SKIP', 'NEAR_MISS']).toContain(r.decision);

    // The TAKE on trade-signals-swing, once, with its marker.
    const swing = env.received[TOPICS.swingSignals]!;
    expect(swing).toHaveLength(1);
    const sig = MESSAGE_SCHEMAS[TOPICS.swingSignals].parse(swing[0]!.data);
    expect(sig.signalId).toBe(`swing_breakout:BTCUSDT:${slot - HOUR}`);
    expect(sig.stopLoss).toBeCloseTo(25732.3 * 0.98, 6);
    expect(swing[0]!.attributes.dedupeId).toBe(sig.signalId);
    expect(await env.state.get(swingPublishedPath(sig.signalId))).toMatchObject({ signalId: sig.signalId });
    expect(summary).toMatchObject({ scansLogged: 3, biasPublished: 2, signalsPublished: 1 });

    // Same slot again (a retry or a duplicate trigger): same state, no new messages, no new rows.
    env.clock.set(ts('2023-03-17T02:04:59Z'));
    const again = await runMacro(env.deps);
    await env.inner.drain();
    expect(await env.snapshot()).toEqual(first);
    expect(again).toMatchObject({ slotStart: slot, biasPublished: 0, signalsPublished: 0 });
    expect(env.received[TOPICS.macroBias]).toHaveLength(2);
    expect(env.received[TOPICS.swingSignals]).toHaveLength(1);

    // The next slot: a new bias per symbol, one new DCA scan (new 5m candle); the 1h scans and the TAKE are not repeated.
    env.clock.set(ts('2023-03-17T02:05:20Z'));
    await env.feed();
    const next = await runMacro(env.deps);
    await env.inner.drain();
    const later = await env.snapshot();
    expect(next.slotStart).toBe(slot + 5 * MIN);
    expect(later.btc!.ts).toBe(slot + 5 * MIN);
    expect(later.published).toEqual({ bias: 4, swing: 1 });
    expect(later.rows).toHaveLength(4);
    expect(later.rows.map((r) => r.signal_id)).toContain(`dca:BTCUSDT:${slot}`);
  });

  it('a run that failed after storing the bias republishes the SAME content on retry', async () => {
    const env = await setup('2023-03-17T02:01:30Z');
    await env.feed();
    env.bus.failNext = 1; // the first publish (BTC bias) fails
    await expect(runMacro(env.deps, { symbols: ['BTCUSDT'] })).rejects.toThrow(/macro run failed for BTCUSDT/);
    const stored = (await env.state.get<StoredBias>(biasPath('BTCUSDT')))!;
    expect(stored.published).toBe(false);

    env.clock.set(ts('2023-03-17T02:03:00Z'));
    const retry = await runMacro(env.deps, { symbols: ['BTCUSDT'] });
    await env.inner.drain();
    expect(retry.biasPublished).toBe(1);
    const msgs = env.received[TOPICS.macroBias]!;
    expect(msgs).toHaveLength(1);
    const { published: _p, ...content } = stored;
    const { computedAt: _c, ...message } = content;
    expect(msgs[0]!.data).toEqual(message);
    const after = (await env.state.get<StoredBias>(biasPath('BTCUSDT')))!;
    expect(after).toEqual({ ...stored, published: true });
  });

  it('an explicit regime input reaches DCA; PANIC blocks it', async () => {
    const env = await setup('2023-03-17T02:01:30Z');
    await env.feed();
    const s = await runMacro(env.deps, { symbols: ['BTCUSDT'], regime: async () => 'PANIC' });
    await env.inner.drain();
    expect(s.regime).toBe('PANIC');
    const dca = (await env.warehouse.rows('signals')).find((r) => r.strategy === 'dca')!;
    expect(JSON.parse(dca.reasons as string)).toContain('FAIL: BTC regime PANIC is blocked');
  });

  it('macro disabled in config: nothing stored or published', async () => {
    const env = await setup('2023-03-17T02:01:30Z');
    await env.feed();
    const off = { ...DEFAULT_STRATEGY_CONFIGS, macro: { ...DEFAULT_STRATEGY_CONFIGS.macro, enabled: false } };
    const s = await runMacro({ ...env.deps, config: staticConfig(SYSTEM, off) });
    expect(s.skipped).toBe('macro disabled in config');
    expect(await env.state.get(biasPath('BTCUSDT'))).toBeUndefined();
    expect(env.inner.published(TOPICS.macroBias)).toBe(0);
  });
});

describe('macro-analysis scheduled job', () => {
  it('runs runMacro with the root\'s deps and rejects a bad body', async () => {
    const env = await setup('2023-03-17T02:01:30Z');
    await env.feed();
    const root = createRoot({
      state: env.state,
      bus: env.bus,
      warehouse: env.warehouse,
      clock: env.clock,
      log: quietLogger(),
      config: staticConfig(SYSTEM, DEFAULT_STRATEGY_CONFIGS),
      endpoints: UNREACHABLE,
    });
    expect(FUNCTION_NAME).toBe('macro-analysis');
    const out = await handle(await root.deps(FUNCTION_NAME), { symbols: ['BTCUSDT'] });
    expect(out).toMatchObject({ slotStart: ts('2023-03-17T02:00:00Z'), biasPublished: 1, scansLogged: 3, signalsPublished: 1 });
    await expect(handle(await root.deps(FUNCTION_NAME), { symbols: 'BTCUSDT' })).rejects.toBeInstanceOf(PermanentError);
    await env.inner.drain();
  });
});
