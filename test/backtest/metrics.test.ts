/**
 * Metrics on a hand-checkable list of four trades and a short equity curve (arithmetic only: the
 * trades are made-up numbers, not market data).
 *
 *   trade  pnl    fees  lots (entry price x qty)        pnlPct   duration
 *   A     +30     2     100 x 10 = 1000                 +3.0     10 min
 *   B     -10     1     50 x 10 = 500                   -2.0     20 min
 *   C     +20     2     200 x 5 = 1000                  +2.0     30 min
 *   D     -40     3     100 x 10 + 100 x 10 = 2000      -2.0     60 min
 * total P&L 0 (0 % of 10,000); wins 2 / 4 = 50 %; gross profit 50, gross loss 50, PF 1.0;
 * expectancy 0 USD, expectancy % = (3 - 2 + 2 - 2) / 4 = 0.25 %; return on notional 0 / 4500 = 0 %;
 * fees 8; avg duration (10 + 20 + 30 + 60) / 4 = 30 min; best A, worst D.
 * Equity (hourly samples from 10,000 at t0): 10,100 / 9,595 / 10,074.75 / 9,814.5 ->
 *   hourly returns +1 %, -5 %, +5 %, -2.583... % ; max drawdown from the 10,100 peak to 9,595 = 5 %.
 */
import { describe, expect, it } from 'vitest';
import { combinedScore, compareRuns, computeMetrics, maxDrawdownPct, objectiveScore, periodReturns, sharpeSortino, systemQuality, YEAR_MS } from '../../shared/backtest/metrics.js';
import type { ClosedTrade, PaperTradeRow } from '../../shared/model/trading.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 5, 1);

function trade(id: string, pnl: number, fees: number, lots: Array<[number, number]>, pnlPct: number, minutes: number): ClosedTrade {
  const rows = lots.map(([price, qty], k) => ({ trade_id: `${id}:e${k}`, entry_price: price, qty }) as unknown as PaperTradeRow);
  return { groupId: id, signalId: id, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'BTCUSDT', tier: 'large_cap', direction: 'LONG', entryTime: T0, exitTime: T0 + minutes * 60_000, avgEntry: 0, exitPrice: 0, qty: 0, fees, pnl, pnlPct, exitReason: pnl > 0 ? 'take_profit' : 'stop_loss', rows };
}

const trades = [trade('A', 30, 2, [[100, 10]], 3, 10), trade('B', -10, 1, [[50, 10]], -2, 20), trade('C', 20, 2, [[200, 5]], 2, 30), trade('D', -40, 3, [[100, 10], [100, 10]], -2, 60)];
const eqT = [T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 4 * H];
const eqV = [10_100, 9_595, 10_074.75, 9_814.5];

describe('metrics', () => {
  const m = computeMetrics({ trades, startingEquity: 10_000, equityTime: eqT, equity: eqV, start: T0, marketChangeBySymbol: { BTCUSDT: 2, ETHUSDT: -1 } });

  it('counts, P&L, win rate, profit factor, expectancy, fees, duration, best / worst', () => {
    expect(m).toMatchObject({ trades: 4, wins: 2, losses: 2, winRate: 0.5, totalPnl: 0, totalPnlPct: 0, fees: 8, grossProfit: 50, grossLoss: 50, profitFactor: 1, expectancy: 0, returnOnNotionalPct: 0, avgDurationMin: 30 });
    expect(m.expectancyPct).toBeCloseTo(0.25, 12);
    expect(m.best?.groupId).toBe('A');
    expect(m.worst?.groupId).toBe('D');
    expect(m.exitReasons).toEqual({ take_profit: 2, stop_loss: 2 });
    expect(m.marketChangePct).toBe(0.5);
    expect(m.endEquityMarked).toBe(9_814.5);
  });

  it('max drawdown on marked equity, % of the running peak', () => {
    expect(m.maxDrawdownPct).toBeCloseTo(5, 12);
    expect(maxDrawdownPct([100, 120, 90, 130, 117])).toBeCloseTo(25, 12);
    expect(maxDrawdownPct([1, 2, 3])).toBe(0);
  });

  it('Sharpe / Sortino on hourly returns, annualised by sqrt(8760)', () => {
    const r = periodReturns(eqT, eqV, 4, T0, 10_000, H);
    expect(r.map((x) => Number(x.toFixed(10)))).toEqual([0.01, -0.05, 0.05, Number((9_814.5 / 10_074.75 - 1).toFixed(10))]);
    const mean = r.reduce((a, b) => a + b, 0) / 4;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    const dd = Math.sqrt(((-0.05) ** 2 + (r[3] as number) ** 2) / 4);
    expect(m.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(8760), 9);
    expect(m.sortino).toBeCloseTo((mean / dd) * Math.sqrt(8760), 9);
    expect(YEAR_MS / H).toBe(8760);
    expect(sharpeSortino([0.01], H)).toEqual({ sharpe: null, sortino: null });
  });

  it('periods without a sample carry the last equity (return 0)', () => {
    expect(periodReturns([T0 + 30 * 60_000, T0 + 150 * 60_000], [10_100, 10_201], 2, T0, 10_000, H).map((x) => Number(x.toFixed(12)))).toEqual([0.01, 0, 0.01]);
  });

  it('no trades: nulls, not zeros or NaN; objectives rank missing values last', () => {
    const e = computeMetrics({ trades: [], startingEquity: 10_000, equityTime: [T0 + H], equity: [10_000], start: T0, marketChangeBySymbol: {} });
    expect(e).toMatchObject({ trades: 0, winRate: null, profitFactor: null, expectancy: null, avgDurationMin: null, best: null, worst: null, marketChangePct: null, totalPnl: 0 });
    expect(objectiveScore(e, 'sharpe')).toBe(Number.NEGATIVE_INFINITY);
    expect(objectiveScore(m, 'maxDrawdownPct')).toBeCloseTo(-5, 12);
    const allWins = computeMetrics({ trades: [trades[0]!], startingEquity: 10_000, equityTime: eqT, equity: eqV, start: T0, marketChangeBySymbol: {} });
    expect(allWins.profitFactor).toBeNull();
    expect(objectiveScore(allWins, 'profitFactor')).toBe(Number.MAX_VALUE);
  });

  it('Calmar: marked return annualised linearly over the span, divided by max drawdown', () => {
    // end 9,814.5 -> -1.855 % over 4 h -> x 8760 / 4 = -4,062.45 % a year; / 5 % drawdown = -812.49
    expect(m.annualReturnPct).toBeCloseTo(-1.855 * 2190, 9);
    expect(m.calmar).toBeCloseTo((-1.855 * 2190) / 5, 9);
    expect(objectiveScore(m, 'calmar')).toBeCloseTo(-812.49, 9);
    const flat = computeMetrics({ trades: [], startingEquity: 10_000, equityTime: [T0 + 1_000], equity: [10_000], start: T0, marketChangeBySymbol: {} });
    expect(flat.annualReturnPct).toBeNull(); // under one hour
    expect(flat.calmar).toBeNull();
  });

  it('SQN: sqrt(n) x mean / sample sd of the trades P&L', () => {
    // pnl 30, -10, 20, -40: mean 0 -> SQN 0
    expect(m.sqn).toBe(0);
    // 1, 2, 3, 4: mean 2.5, sd sqrt(5/3) = 1.290994; 2 x 2.5 / 1.290994 = 3.872983
    expect(systemQuality([1, 2, 3, 4])).toBeCloseTo(3.872983346, 8);
    expect(systemQuality([5])).toBeNull();
    expect(systemQuality([2, 2])).toBeNull();
  });

  it('combined: the mean of tanh(return % / 10), tanh(Calmar / 3), tanh(SQN / 2) and (PF^2 - 1) / (PF^2 + 1)', () => {
    // return 0 -> 0; Calmar -812 -> -1; SQN 0 -> 0; PF 1 -> 0: (0 - 1 + 0 + 0) / 4
    expect(m.combined).toBeCloseTo(-0.25, 12);
    // return 5 %, Calmar 3, SQN 2, PF 2: (tanh 0.5 + tanh 1 + tanh 1 + 3/5) / 4
    expect(combinedScore({ trades: 20, totalPnlPct: 5, calmar: 3, sqn: 2, profitFactor: 2, grossProfit: 1 })).toBeCloseTo((Math.tanh(0.5) + 2 * Math.tanh(1) + 0.6) / 4, 12);
    // no losing trade: PF part 1; no trade: null
    expect(combinedScore({ trades: 1, totalPnlPct: 0, calmar: null, sqn: null, profitFactor: null, grossProfit: 5 })).toBe(0.25);
    expect(combinedScore({ trades: 0, totalPnlPct: 0, calmar: null, sqn: null, profitFactor: null, grossProfit: 0 })).toBeNull();
  });

  it('--min-trades: a run below it never ranks above one that meets it, whatever its score', () => {
    const one = { score: 1e9, metrics: { trades: 1 } };
    const ten = { score: -5, metrics: { trades: 10 } };
    expect(compareRuns(one, ten, 10)).toBeGreaterThan(0);
    expect(compareRuns(ten, one, 10)).toBeLessThan(0);
    expect(compareRuns(one, ten, 0)).toBeLessThan(0);
  });
});
