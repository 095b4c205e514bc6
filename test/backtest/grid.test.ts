/**
 * The SPEC grid (72 runs) on real data, in parallel worker processes, ranked by an objective; the
 * ranking is reproducible by a run in this process (same metrics to the last bit: the workers run the
 * same code on the same candles).
 *
 * Data: 12 hours of the kit's BTC/ETH/SOL 1m candles (2025-06-12, with 74 h of history), the
 * levels + exhaustion strategy (the SPEC's grid values match its RSI(7) 80/20 check and EMA20 of
 * volume), MACRO off. The full month runs in `npm run bench -- backtest` (the 60 s goal).
 */
import { formatGrid } from '../../shared/backtest/report.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, selectStrategies } from '../../shared/backtest/config.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { defaultGrid, expandGrid, rankRows, runGrid, valueDimension } from '../../shared/backtest/grid.js';
import { createMarket } from '../../shared/backtest/market.js';
import { objectiveScore } from '../../shared/backtest/metrics.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 12 * HOUR - MIN;

function base() {
  return applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, 'levels_exhaustion'), { 'macro.enabled': false });
}

describe('grid optimisation', () => {
  it('maps the SPEC grid onto the real config keys: 4 x 3 x 3 x 2 = 72 distinct, valid configs', () => {
    const dims = defaultGrid('levels_exhaustion');
    expect(dims.map((d) => [d.name, d.options.length])).toEqual([['ema', 4], ['rsiPeriod', 3], ['rsiThresholds', 3], ['exits', 2]]);
    const combos = expandGrid(dims);
    expect(combos).toHaveLength(72);
    const configs = combos.map((c) => applyOverrides(base(), c.overrides).scalp.levels_exhaustion);
    const keys = new Set(configs.map((c) => JSON.stringify([c.exhaustion.lowVolume.emaPeriod, c.exhaustion.rsi.period, c.exhaustion.rsi.overbought, c.exhaustion.rsi.oversold, c.exits.mode])));
    expect(keys.size).toBe(72);
    const atr = configs.find((c) => c.exits.mode === 'atr');
    expect(atr?.exits.atr).toMatchObject({ takeProfitMultiple: 1.5, stopLossMultiple: 1.0 });
    expect(configs.find((c) => c.exits.mode === 'fixed')?.exits.fixed).toEqual({ takeProfitPct: 0.5, stopLossPct: 0.3 });
    // 'all' moves both strategies' keys together.
    const both = applyOverrides(DEFAULT_STRATEGY_CONFIGS, expandGrid(defaultGrid('all'))[0]!.overrides);
    expect(both.scalp.v52_divergence.volumeSpike.emaPeriod).toBe(10);
    expect(both.scalp.levels_exhaustion.exhaustion.lowVolume.emaPeriod).toBe(10);
  });

  it('rejects an unknown key or an invalid value before any run', async () => {
    expect(() => applyOverrides(base(), { 'scalp.levels_exhaustion.exhaustion.rsi.perod': 7 })).toThrow(/does not exist/);
    expect(() => applyOverrides(base(), { 'scalp.levels_exhaustion.exhaustion.rsi.oversold': 90 })).toThrow(/oversold must be < overbought/);
    await expect(
      runGrid({ series: [slice(kitSeries('BTCUSDT'), FROM, TO)], config: { system: DEFAULT_SYSTEM_CONFIG, strategies: base() }, dims: [valueDimension('x', ['risk.scalp.perTradeRiskPct'], [0.5, 5])], objective: 'totalPnl', workers: 0 }),
    ).rejects.toThrow(/perTradeRiskPct must be <= totalRiskPct/);
  });

  it('runs the 72 combinations on 2 worker processes and ranks them; the best re-runs identically here', async () => {
    const series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
    const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: base() };
    const progress: number[] = [];
    const g = await runGrid({ series, from: FROM, to: TO, config, dims: defaultGrid('levels_exhaustion'), objective: 'totalPnl', workers: 2, onProgress: (d) => progress.push(d) });
    expect(g.runs).toBe(72);
    expect(g.workers).toBe(2);
    expect(g.rows).toHaveLength(72);
    expect(new Set(g.rows.map((r) => r.index)).size).toBe(72);
    expect(progress.at(-1)).toBe(72);
    expect(g.rows.map((r) => r.rank)).toEqual(Array.from({ length: 72 }, (_, k) => k + 1));
    // Rows meeting --min-trades first, each group by score.
    for (let k = 1; k < g.rows.length; k++) {
      const a = g.rows[k - 1]!;
      const b = g.rows[k]!;
      expect(Number(a.eligible)).toBeGreaterThanOrEqual(Number(b.eligible));
      if (a.eligible === b.eligible) expect(a.score).toBeGreaterThanOrEqual(b.score);
    }
    // Not a degenerate grid: the parameters change the outcome.
    expect(new Set(g.rows.map((r) => r.metrics.totalPnl.toFixed(6))).size).toBeGreaterThan(10);
    expect(g.rows.some((r) => r.metrics.trades > 0)).toBe(true);
    const best = g.rows[0]!;
    const again = runBacktest(createMarket({ series, from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: applyOverrides(base(), best.overrides) }, { record: { decisions: false } });
    expect(again.metrics).toEqual(best.metrics);
    // Re-ranking by another objective orders by that objective.
    const bySharpe = rankRows(g.rows, 'sharpe', 0);
    for (let k = 1; k < bySharpe.length; k++) expect(objectiveScore(bySharpe[k - 1]!.metrics, 'sharpe')).toBeGreaterThanOrEqual(objectiveScore(bySharpe[k]!.metrics, 'sharpe'));
  }, 60_000);

  it('never ranks a run below --min-trades above one that meets it (the one-trade winner)', () => {
    const m = (trades: number, totalPnl: number) => ({ trades, totalPnl }) as unknown as import('../../shared/backtest/metrics.js').BacktestMetrics;
    const rows = [
      { index: 0, labels: {}, overrides: {}, wallMs: 0, metrics: m(1, 500) },
      { index: 1, labels: {}, overrides: {}, wallMs: 0, metrics: m(25, -40) },
      { index: 2, labels: {}, overrides: {}, wallMs: 0, metrics: m(12, -10) },
    ];
    expect(rankRows(rows, 'totalPnl', 10).map((r) => [r.index, r.rank, r.eligible])).toEqual([[2, 1, true], [1, 2, true], [0, 3, false]]);
    expect(rankRows(rows, 'totalPnl').map((r) => r.index)).toEqual([2, 1, 0]); // default 10
    expect(rankRows(rows, 'totalPnl', 0).map((r) => r.index)).toEqual([0, 2, 1]);
    // the printed table marks the thin run and says why it ranks last
    const text = formatGrid({ rows: rankRows(rows, 'totalPnl', 10), objective: 'totalPnl', minTrades: 10, runs: 3, workers: 0, wallMs: 0, from: 0, to: 0 });
    expect(text.split('\n').filter((l) => /^3\*\s/.test(l))).toHaveLength(1);
    expect(text).toContain('* 1 run(s) closed fewer than 10 trades (--min-trades): ranked after every run that did');
  });
});
