/**
 * A backtest without the regime reference (BTCUSDT) in its data is fail-closed like live: it opens
 * nothing and says why (notes, rejections, one protection alert); `allowMissingReference`
 * (CLI --allow-missing-reference) opts out and the notes say so. Data: the REAL 16 ETH candles of the
 * hand-computed scenario (test/backtest/scenario.test.ts), whose V5.2 short trades when allowed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { selectStrategies } from '../../shared/backtest/config.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { createMarket } from '../../shared/backtest/market.js';
import { formatRun } from '../../shared/backtest/report.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { seriesFromCsv } from '../../shared/strategies/series.js';
import { SCENARIO_CSV, scenarioSeries, scenarioStrategies } from './helpers.js';

function run(allowMissingReference: boolean) {
  const series = scenarioSeries();
  const strategies = scenarioStrategies();
  return runBacktest(createMarket({ series: [series] }), { system: DEFAULT_SYSTEM_CONFIG, strategies, ...(allowMissingReference ? { allowMissingReference } : {}) }, { record: { events: true } });
}

describe('backtest without the regime reference (BTCUSDT) in the data', () => {
  it('opens nothing and says why: a note, the rejection reason, one regime_reference_lost alert', () => {
    const r = run(false);
    expect(r.trades).toHaveLength(0);
    expect(r.events.filter((e) => e.type === 'order_placed')).toHaveLength(0);
    expect(r.accepted).toBe(0);
    expect(r.rejected).toEqual({ regime_reference_missing: 1 });
    const alerts = r.events.filter((e) => e.type === 'protection');
    expect(alerts.map((e) => (e.type === 'protection' ? e.kind : ''))).toEqual(['regime_reference_lost']);
    expect(r.notes.join('\n')).toMatch(/regime reference BTCUSDT is not in the data: .*opens nothing.*--allow-missing-reference/);
    // the console report carries the note
    expect(formatRun(r)).toMatch(/note: regime reference BTCUSDT is not in the data/);
  });

  it('--allow-missing-reference trades (the hand-computed V5.2 short) and the notes say the regime stayed NORMAL', () => {
    const r = run(true);
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]!.pnl).toBeCloseTo(36.9807093445, 6); // the hand-computed trade of scenario.test.ts (cost-inclusive sizing)
    expect(r.events.filter((e) => e.type === 'protection')).toHaveLength(0);
    expect(r.notes.join('\n')).toMatch(/regime reference BTCUSDT is not in the data: allowed by --allow-missing-reference, the regime stays NORMAL/);
  });
});

describe('backtest over candles the live gate would hold back', () => {
  it('says how many candles were out of the live sanity band (live holds them back; a candle backtest trades them)', () => {
    const csv = readFileSync(SCENARIO_CSV, 'utf8');
    const clean = seriesFromCsv(csv, { symbol: 'ETHUSDT', interval: '1m', venue: 'bybit' });
    const market = (s: typeof clean) => createMarket({ series: [s] });
    const cfg = { system: DEFAULT_SYSTEM_CONFIG, strategies: selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'v52_divergence'), allowMissingReference: true };
    expect(runBacktest(market(clean), cfg).notes.join('\n')).not.toMatch(/sanity band/);
    // one real candle printed 60 % higher (a lone spike)
    const spiked = seriesFromCsv(csv, { symbol: 'ETHUSDT', interval: '1m', venue: 'bybit' });
    for (const col of [spiked.open, spiked.high, spiked.low, spiked.close]) col[8] = (col[8] as number) * 1.6;
    expect(runBacktest(market(spiked), cfg).notes.join('\n')).toMatch(/ETHUSDT: 1 candle\(s\) out of the live sanity band .*this backtest traded them/);
  });
});
