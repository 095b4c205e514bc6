/**
 * The analysis of a run (shared/backtest/analysis.ts) and the HTML report's trade list and per-trade
 * charts (report.ts), on REAL BTC/ETH/SOL 1m candles (test/fixtures/kit: 2025-06-10 00:00 to
 * 2025-06-11 23:59 UTC, 74 h of history before), both scalp strategies emitting, MACRO off.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult, type BiasUpdate } from '../../shared/backtest/run.js';
import { analyseRun, breakdownRow, checksKey, formatAnalysis, numBucket, weekStart, type Breakdown, type RunAnalysis } from '../../shared/backtest/analysis.js';
import { htmlReport, TRADE_CHART_MAX_CANDLES, tradeWindow } from '../../shared/backtest/report.js';
import type { ClosedTrade } from '../../shared/model/trading.js';
import type { CandleSeries } from '../../shared/strategies/series.js';
import { HOUR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const FROM = Date.UTC(2025, 5, 10, 0, 0);
const TO = Date.UTC(2025, 5, 11, 23, 59);

function strategies() {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  return s;
}

let series: CandleSeries[];
let run: BacktestResult;
let a: RunAnalysis;
const group = (x: RunAnalysis, name: string) => [...x.groups, ...x.features].find((g) => g.name === name) as Breakdown;
const sum = (b: Breakdown, f: (r: Breakdown['rows'][number]) => number) => b.rows.reduce((n, r) => n + f(r), 0);

beforeAll(() => {
  series = SYMBOLS.map((s) => slice(kitSeries(s), FROM - 74 * HOUR, TO));
  run = runBacktest(createMarket({ series, from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() });
  a = analyseRun(run.trades, run);
});

describe('breakdowns of a run', () => {
  it('every group partitions the trades: counts, wins and P&L add up to the run metrics', () => {
    expect(run.trades.length).toBeGreaterThan(30);
    for (const g of a.groups) {
      expect(sum(g, (r) => r.trades), g.name).toBe(run.metrics.trades);
      expect(sum(g, (r) => r.wins), g.name).toBe(run.metrics.wins);
      expect(sum(g, (r) => r.pnl)).toBeCloseTo(run.metrics.totalPnl, 6);
    }
    expect(group(a, 'strategy').rows.map((r) => r.key).sort()).toEqual(['levels_exhaustion', 'v52_divergence']);
    expect(group(a, 'pair').rows.map((r) => r.key).sort()).toEqual(SYMBOLS);
  });

  it('a row is computed by hand from its trades (win %, P&L, avg P&L %, PF, duration)', () => {
    const eth = run.trades.filter((t) => t.symbol === 'ETHUSDT');
    const row = group(a, 'pair').rows.find((r) => r.key === 'ETHUSDT')!;
    const wins = eth.filter((t) => t.pnl > 0);
    const gp = wins.reduce((n, t) => n + t.pnl, 0);
    const gl = -eth.filter((t) => t.pnl <= 0).reduce((n, t) => n + t.pnl, 0);
    expect(row.trades).toBe(eth.length);
    expect(row.wins).toBe(wins.length);
    expect(row.winRate).toBeCloseTo(wins.length / eth.length, 12);
    expect(row.pnl).toBeCloseTo(gp - gl, 9);
    expect(row.profitFactor).toBeCloseTo(gp / gl, 9);
    expect(row.avgPnlPct).toBeCloseTo(eth.reduce((n, t) => n + t.pnlPct, 0) / eth.length, 12);
    expect(row.avgDurationMin).toBeCloseTo(eth.reduce((n, t) => n + t.exitTime - t.entryTime, 0) / eth.length / MIN, 9);
  });

  it('time groups: UTC hour and weekday of the entry, day / Monday week / month of the exit', () => {
    const t0 = run.trades[0] as ClosedTrade;
    const hour = String(new Date(t0.entryTime).getUTCHours()).padStart(2, '0');
    expect(group(a, 'hour').rows.find((r) => r.key === hour)!.trades).toBe(run.trades.filter((t) => new Date(t.entryTime).getUTCHours() === Number(hour)).length);
    // 2025-06-10 is a Tuesday, 2025-06-11 a Wednesday: the weekday rows are in week order.
    expect(group(a, 'weekday').rows.map((r) => r.key)).toEqual(['Tue', 'Wed', 'Thu'].slice(0, group(a, 'weekday').rows.length));
    expect(group(a, 'day').rows.map((r) => r.key)).toEqual(['2025-06-10', '2025-06-11', '2025-06-12'].slice(0, group(a, 'day').rows.length));
    expect(weekStart(Date.UTC(2025, 5, 11, 13))).toBe('2025-06-09');
    expect(weekStart(Date.UTC(2025, 5, 9, 0))).toBe('2025-06-09');
    expect(weekStart(Date.UTC(2025, 5, 15, 23, 59))).toBe('2025-06-09');
    expect(group(a, 'week').rows.map((r) => r.key)).toEqual(['2025-06-09']);
    expect(group(a, 'month').rows.map((r) => r.key)).toEqual(['2025-06']);
  });

  it('the compact text has per pair, per strategy and per exit reason; --analysis adds the rest', () => {
    const compact = formatAnalysis(a, 'compact');
    expect(compact).toMatch(/^per pair\npair +trades +wins +win % +P&L USD +avg P&L % +PF +avg min/);
    expect(compact).toContain('per exit reason');
    expect(compact).not.toContain('by hour');
    const full = formatAnalysis(a, 'full');
    for (const t of ['by hour of entry (UTC)', 'by weekday', 'daily', 'weekly', 'monthly', 'exhaustion checks that fired', 'RSI at entry']) expect(full).toContain(t);
  });
});

describe('entry features against outcome', () => {
  it('each trade is joined to the scan decision that produced its signal (same signalId)', () => {
    expect(a.featureSources).toEqual({ decision: run.trades.length, tradeRow: 0, none: 0 });
    const byId = new Map(run.decisions.map((d) => [d.signalId, d]));
    for (const t of run.trades) expect(byId.get(t.signalId)).toMatchObject({ decision: 'TAKE', strategy: t.strategy, symbol: t.symbol, direction: t.direction });
  });

  it('exhaustion-check buckets count the levels_exhaustion trades by the checks their decision fired', () => {
    const byId = new Map(run.decisions.map((d) => [d.signalId, d]));
    const le = run.trades.filter((t) => t.strategy === 'levels_exhaustion');
    expect(le.length).toBeGreaterThan(3);
    const b = group(a, 'feature:checks');
    const expected = new Map<string, number>();
    for (const t of le) {
      const f = byId.get(t.signalId)!.features;
      const k = [f.checkRsi && 'rsi', f.checkLowVolume && 'lowVolume', f.checkDoubleWick && 'doubleWick'].filter(Boolean).join('+');
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    for (const [k, n] of expected) expect(b.rows.find((r) => r.key === k)?.trades).toBe(n);
    // v52 decisions have no exhaustion checks: n/a.
    expect(b.rows.find((r) => r.key === 'n/a')?.trades).toBe(run.trades.length - le.length);
    expect(sum(group(a, 'feature:level'), (r) => r.trades)).toBe(run.trades.length);
  });

  it('without the scan log the trades\' own feature copy is used; a trade without features falls in n/a', () => {
    const noLog = analyseRun(run.trades);
    expect(noLog.featureSources).toEqual({ decision: 0, tradeRow: run.trades.length, none: 0 });
    expect(noLog.features.find((g) => g.name === 'feature:rsi')).toEqual(a.features.find((g) => g.name === 'feature:rsi'));
    const bare = run.trades.map((t) => ({ ...t, rows: [] }));
    const none = analyseRun(bare);
    expect(none.featureSources.none).toBe(run.trades.length);
    expect(none.features).toEqual([]);
    expect(none.groups).toEqual(noLog.groups);
  });

  it('bias buckets: the bias the execution read for each signal, against the trade direction', () => {
    const mk = (symbol: string, bias: 'LONG' | 'SHORT' | 'NEUTRAL', confidence: number): BiasUpdate => ({ now: FROM, bias: { symbol, bias, confidence, components: [], ts: FROM, expiresAt: TO + HOUR } });
    const r = runBacktest(createMarket({ series, from: FROM, to: TO }), { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() }, { biasUpdates: [mk('BTCUSDT', 'LONG', 70), mk('ETHUSDT', 'SHORT', 30), mk('SOLUSDT', 'NEUTRAL', 10)] });
    const x = analyseRun(r.trades, r);
    const expected = (k: string) =>
      r.trades.filter((t) => {
        const b = t.symbol === 'BTCUSDT' ? 'LONG' : t.symbol === 'ETHUSDT' ? 'SHORT' : 'NEUTRAL';
        return k === (b === 'NEUTRAL' ? 'neutral' : b === t.direction ? 'with bias' : 'against bias');
      }).length;
    const b = group(x, 'feature:bias');
    for (const k of ['with bias', 'against bias', 'neutral']) expect(b.rows.find((row) => row.key === k)?.trades ?? 0, k).toBe(expected(k));
    expect(expected('with bias')).toBeGreaterThan(0);
    expect(expected('against bias')).toBeGreaterThan(0);
    const conf = group(x, 'feature:biasConfidence');
    expect(conf.rows.find((row) => row.key === '60-80')?.trades).toBe(r.trades.filter((t) => t.symbol === 'BTCUSDT').length);
  });

  it('buckets and check keys', () => {
    expect(numBucket(19.99, [20, 30])).toBe('< 20');
    expect(numBucket(20, [20, 30])).toBe('20-30');
    expect(numBucket(30, [20, 30])).toBe('>= 30');
    expect(numBucket(null, [20, 30])).toBe('n/a');
    expect(numBucket(Number.NaN, [20, 30])).toBe('n/a');
    expect(checksKey({ checkRsi: true, checkLowVolume: false, checkDoubleWick: true, checkBookFlip: 'unavailable' })).toBe('rsi+doubleWick');
    expect(checksKey({ checkRsi: false, checkLowVolume: false })).toBe('none');
    expect(checksKey({ divergence: 'bullish' })).toBe('n/a');
    expect(checksKey(null)).toBe('n/a');
    expect(breakdownRow('x', []).winRate).toBeNull();
  });
});

describe('report.html: trade list and per-trade charts', () => {
  it('one row per trade (by entry time) linking to that trade\'s inline chart: candles, entry / TP / SL lines, markers', () => {
    const html = htmlReport({
      title: 't', startingEquity: 10_000, start: FROM, time: run.equityTime, equity: run.equity, samples: run.samples,
      trades: run.trades, metrics: run.metrics, analysis: a, tradeCharts: { series, decisions: run.decisions },
    });
    const rows = [...html.matchAll(/<tr class="trade-row (win|loss)" data-trade="(\d+)"><td><a href="#trade-(\d+)">/g)];
    expect(rows).toHaveLength(run.trades.length);
    const entryOrder = rows.map((m) => run.trades[Number(m[2]) - 1]!.entryTime);
    expect(entryOrder).toEqual([...entryOrder].sort((x, y) => x - y));
    for (const [k, t] of run.trades.entries()) {
      const m = new RegExp(`<div class="chart" id="trade-${k + 1}">.*?(<svg[\\s\\S]*?</svg>)</div>`).exec(html);
      expect(m, `chart of trade ${k + 1}`).not.toBeNull();
      const svg = m![1] as string;
      expect(svg).toContain(t.symbol);
      expect(svg).toContain('ENTRY');
      expect(svg).toContain('TP');
      expect(svg).toContain('SL');
      expect(svg).toContain(`<clipPath id="plot-${k + 1}">`);
      expect(svg).not.toMatch(/id="plot"|url\(#plot\)/);
      expect(svg).toContain(t.pnl > 0 ? 'WIN' : 'LOSS');
    }
    // Equity markers link to the charts too; analysis tables are there; still no script, no external resource.
    expect((html.match(/<a href="#trade-\d+"><polygon class="trade (win|loss)"/g) ?? []).length).toBe(run.trades.length);
    expect(html).toContain('data-name="pair"');
    expect(html).toContain('data-name="feature:checks"');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toMatch(/\.chart:target\{display:block/);
  });

  it('a trade window holds at most TRADE_CHART_MAX_CANDLES candles: a long trade is drawn on resampled candles', () => {
    const s = series[0] as CandleSeries;
    const short = tradeWindow(s, FROM + 60 * MIN, FROM + 70 * MIN)!;
    expect(short.interval).toBe('1m');
    expect(short.candles.length).toBe(30 + 10 + 10 + 1);
    const long = tradeWindow(s, FROM + 60 * MIN, FROM + 10 * HOUR)!;
    expect(long.interval).toBe('15m');
    expect(long.candles.length).toBeLessThanOrEqual(TRADE_CHART_MAX_CANDLES);
    expect(long.candles[0]!.interval).toBe('15m');
  });
});
