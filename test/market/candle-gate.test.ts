/**
 * The candle gate's pure layers (shared/market/quality.ts, shared/market/candle-gate.ts) and the
 * backtester's CSV loading through it, on REAL BTCUSDT 1m candles of 2025-06-11 (test/fixtures/trading)
 * and hostile rows derived from them.
 */
import { describe, expect, it } from 'vitest';
import { seriesFromSource } from '../../shared/backtest/data.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { candleViolation, gateCandles, violationContext } from '../../shared/market/candle-gate.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { createLogger } from '../../shared/log.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { EMPTY_SANITY, flagBadData, judgeSanity, type SanityState } from '../../shared/market/quality.js';
import type { Candle } from '../../shared/model/market.js';
import { newBadRowReport } from '../../shared/market/candle-csv.js';
import { realBtc1m } from '../trading/helpers.js';

const Q = DEFAULT_SYSTEM_CONFIG.dataQuality;
const BTC = realBtc1m().slice(0, 40);
const scale = (c: Candle, k: number): Candle => ({ ...c, open: c.open * k, high: c.high * k, low: c.low * k, close: c.close * k });

function judgeAll(candles: Candle[], state: SanityState = EMPTY_SANITY) {
  const verdicts: string[] = [];
  for (const c of candles) {
    const j = judgeSanity(state, c, Q);
    verdicts.push(j.verdict);
    state = j.state;
  }
  return { verdicts, state };
}

describe('sanity band with re-anchoring', () => {
  it('a lone 60 % spike is suspect and moves nothing: the next real candle is good against the old reference', () => {
    const spike = { ...BTC[10]!, high: BTC[10]!.low * 1.6 };
    const { verdicts, state } = judgeAll([...BTC.slice(0, 10), spike, ...BTC.slice(11, 20)]);
    expect(verdicts.filter((v) => v !== 'good')).toEqual(['suspect']);
    expect(verdicts[10]).toBe('suspect');
    expect(state.ref).toEqual({ openTime: BTC[19]!.openTime, close: BTC[19]!.close });
  });

  it('a lasting -55 % step re-anchors after reanchorAfterCandles consistent candles (the producers flag only those before)', () => {
    const step = [...BTC.slice(0, 10), ...BTC.slice(10, 20).map((c) => scale(c, 0.45))];
    const { verdicts, state } = judgeAll(step);
    expect(verdicts.slice(10, 13)).toEqual(['suspect', 'suspect', 'reanchored']);
    expect(verdicts.slice(13)).toEqual(Array(7).fill('good'));
    expect(state.ref?.close).toBeCloseTo(BTC[19]!.close * 0.45, 6);
    // the producers' flagging (Kraken pull, OHLCVT import) uses the same rule: 2 flagged, not 10
    const { flagged } = flagBadData(step.slice(1), step[0]!.close, Q);
    expect(flagged.map((f) => f.candle.openTime)).toEqual([BTC[10]!.openTime, BTC[11]!.openTime]);
  });

  it('an inconsistent run (up, down, up...) never re-anchors', () => {
    const wild = BTC.slice(10, 20).map((c, i) => scale(c, i % 2 === 0 ? 1.7 : 0.4));
    const { verdicts, state } = judgeAll([...BTC.slice(0, 10), ...wild]);
    expect(verdicts.slice(10)).toEqual(Array(10).fill('suspect'));
    expect(state.ref?.close).toBe(BTC[9]!.close);
  });
});

describe('candleViolation (the stateless layer every consumer applies)', () => {
  const c = BTC[5]!;
  const ctx = violationContext(DEFAULT_SYSTEM_CONFIG, c.openTime + 60_000);
  it('accepts a real closed candle at its close', () => expect(candleViolation(c, ctx)).toBeNull());
  it.each([
    ['1e300 is schema-valid but out of order here', { ...c, close: 1e300 }, /OHLC out of order/],
    ['NaN', { ...c, close: Number.NaN }, /non-finite price/],
    ['negative', { ...c, low: -1 }, /non-positive/],
    ['high < low', { ...c, high: c.low - 1 }, /OHLC out of order/],
    ['negative volume', { ...c, volume: -1 }, /volume/],
    ['unknown symbol', { ...c, symbol: 'FOOUSDT' }, /unknown symbol FOOUSDT/],
    ['misaligned', { ...c, openTime: c.openTime + 1_000 }, /not aligned to 1m/],
    ['still open', { ...c, openTime: c.openTime + 60_000 }, /closes after now/],
    ['a month ahead', { ...c, openTime: c.openTime + 30 * 86_400_000 }, /closes after now/],
  ])('refuses %s', (_name, bad, reason) => {
    expect(candleViolation(bad as Candle, ctx)).toMatch(reason);
  });
  it('allows the configured clock skew', () => {
    expect(candleViolation(c, { ...ctx, now: c.openTime + 60_000 - 4_000 })).toBeNull();
    expect(candleViolation(c, { ...ctx, now: c.openTime + 60_000 - 6_000 })).toMatch(/closes after now/);
  });
});

describe('backtester CSV loading through the gate', () => {
  const header = 'ts_ms,open,high,low,close,volume';
  const rows = BTC.slice(0, 20).map((c) => `${c.openTime},${c.open},${c.high},${c.low},${c.close},${c.volume}`);
  const bad = [...rows];
  const b = BTC[7]!;
  bad[7] = `${b.openTime},${b.open},${b.low - 5},${b.low},${b.close},${b.volume}`; // high < low (line 9)
  bad[12] = `${BTC[12]!.openTime},-1,${BTC[12]!.high},${BTC[12]!.low},${BTC[12]!.close},1`; // line 14
  const text = [header, ...bad].join('\n');

  it('refuses by default, naming file and line', () => {
    expect(() => seriesFromSource({ name: 'data/BTCUSDT_1m.csv', text }, DEFAULT_SYSTEM_CONFIG)).toThrow(/^data\/BTCUSDT_1m\.csv:9: OHLC out of order/);
  });

  it('skips and counts with badRows skip (--skip-bad-rows)', () => {
    const report = newBadRowReport();
    const s = seriesFromSource({ name: 'data/BTCUSDT_1m.csv', text }, DEFAULT_SYSTEM_CONFIG, { badRows: 'skip', report });
    expect(s.length).toBe(18);
    expect(report.skipped).toBe(2);
    expect(report.samples.map((r) => `${r.source}:${r.line}`)).toEqual(['data/BTCUSDT_1m.csv:9', 'data/BTCUSDT_1m.csv:14']);
  });

  it('the clean file loads whole', () => {
    expect(seriesFromSource({ name: 'BTCUSDT_1m.csv', text: [header, ...rows].join('\n') }, DEFAULT_SYSTEM_CONFIG).length).toBe(20);
  });
});

describe('gateCandles: one message with two versions of one candle', () => {
  it('trusts no copy (whichever consumer came first would decide what is traded and what is stored); identical copies pass', async () => {
    const c = BTC[5]!;
    const clock = new ManualClock(c.openTime + 60_000);
    const state = new SqliteStateStore({ file: ':memory:', clock });
    const bus = new InMemoryBus({ clock, fast: true, log: createLogger({}, { minSeverity: 'CRITICAL' }) });
    const deps = { state, bus, clock, log: createLogger({}, { minSeverity: 'CRITICAL' }) };
    try {
      const other = { ...c, close: c.close + 1, high: Math.max(c.high, c.close + 1) };
      for (const consumer of ['execution', 'candle-ingest']) {
        const v = await gateCandles(deps, DEFAULT_SYSTEM_CONFIG, consumer === 'execution' ? [c, other] : [other, c], consumer);
        expect(v.map((x) => x.status)).toEqual(['rejected', 'rejected']);
        expect(v[0]!.reason).toMatch(/conflicting copies/);
      }
      const same = await gateCandles(deps, DEFAULT_SYSTEM_CONFIG, [c, { ...c }], 'micro-scalp');
      expect(same.map((x) => x.status)).toEqual(['accepted', 'accepted']);
    } finally {
      await bus.close();
      await state.close();
    }
  });
});
