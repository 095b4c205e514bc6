/**
 * Backtest metrics (SPEC 7) from the closed trades and the marked-equity curve of a run. Pure.
 *
 * Definitions (every one checkable by hand; see test/backtest/metrics.test.ts):
 * - totalPnl: Σ trade P&L (USD, net of every fee and slippage) of the trades CLOSED in the run;
 *   totalPnlPct = totalPnl / starting equity x 100.
 * - returnOnNotionalPct: Σ pnl / Σ entry notional x 100 (size-weighted, never a sum of percentages).
 * - winRate: trades with pnl > 0 / trades (a trade = a trade group: all its entry lots and its exit).
 * - profitFactor: Σ winning pnl / |Σ losing pnl| (null when there is no losing trade).
 * - expectancy: mean pnl per trade (USD); expectancyPct: mean of the trades' size-weighted pnlPct.
 * - maxDrawdownPct: the largest fall of MARKED equity (realized + unrealized at the last closes) from
 *   its running peak, % of that peak, sampled once per market minute (after every symbol's candle).
 * - sharpe / sortino: on the returns of marked equity over consecutive periods of `periodMs`
 *   (default 1 h: RETURN_PERIOD_MS), annualised by sqrt(periods per 365-day year) (crypto trades
 *   every hour of the year); risk-free rate 0. Sortino's denominator is the downside deviation
 *   sqrt(mean(min(r, 0)^2)) over ALL periods. Both are null with fewer than 2 periods or zero
 *   deviation.
 * - avgDurationMin: mean (exit time - entry time) in minutes.
 * - marketChangePct: per symbol last close / first open of the range - 1 (x 100), and their mean
 *   (an equal-weight buy and hold).
 * - best / worst: the trades with the highest / lowest pnl.
 * - annualReturnPct: the MARKED return over the run (end marked equity / start - 1, %) scaled
 *   linearly to a 365-day year (x YEAR_MS / span, span = last sample - start); linear, not
 *   compounded, so a short window does not explode. Null with a span under one hour.
 * - calmar: annualReturnPct / maxDrawdownPct (null when either is missing or the drawdown is 0).
 * - sqn (Van Tharp's System Quality Number): sqrt(n) x mean(R) / sd(R) over the closed trades, R
 *   being a trade's P&L in units of its risk. The sizer risks the same fraction of equity on every
 *   trade, so R is proportional to the trade's P&L in USD and the ratio (scale-free) is computed on
 *   pnl directly; sample sd (n - 1). Null with fewer than 2 trades or sd 0.
 * - combined: one number in (-1, 1) for ranking (0 = break-even), the mean of four squashed
 *   scores, each 0 at break-even and bounded so no single one dominates:
 *     tanh(totalPnlPct / 10)            return (10 % ~ 0.76)
 *     tanh(calmar / 3)                  return per drawdown
 *     tanh(sqn / 2)                     consistency across trades (SQN 2 ~ 0.76)
 *     (PF^2 - 1) / (PF^2 + 1)           = tanh(ln PF): profit factor, symmetric around 1
 *   A missing part counts 0, except: no losing trade with profit (PF unbounded) counts 1; no trade
 *   at all makes combined null.
 */
import type { ClosedTrade } from '../model/trading.js';

/** Period of the returns behind Sharpe / Sortino. */
export const RETURN_PERIOD_MS = 60 * 60_000;
/** A 365-day year: crypto trades every hour of it. */
export const YEAR_MS = 365 * 24 * 60 * 60_000;
const PCT = 100;

export interface TradeSummary {
  groupId: string;
  symbol: string;
  strategy: string;
  direction: string;
  pnl: number;
  pnlPct: number;
  entryTime: number;
  exitTime: number;
  exitReason: string;
}

export interface BacktestMetrics {
  trades: number;
  wins: number;
  losses: number;
  winRate: number | null;
  totalPnl: number;
  totalPnlPct: number;
  /** Σ fees of the closed trades, USD. */
  fees: number;
  /** Σ slippage cost of the closed trades (|fill - reference| x qty over every fill), USD. */
  slippage: number;
  returnOnNotionalPct: number | null;
  grossProfit: number;
  grossLoss: number;
  profitFactor: number | null;
  expectancy: number | null;
  expectancyPct: number | null;
  maxDrawdownPct: number;
  sharpe: number | null;
  sortino: number | null;
  /** Returns period behind sharpe / sortino, ms. */
  returnPeriodMs: number;
  avgDurationMin: number | null;
  marketChangePct: number | null;
  marketChangeBySymbol: Record<string, number>;
  best: TradeSummary | null;
  worst: TradeSummary | null;
  exitReasons: Record<string, number>;
  startEquity: number;
  endEquityMarked: number;
  annualReturnPct: number | null;
  calmar: number | null;
  sqn: number | null;
  combined: number | null;
}

export interface MetricsInput {
  trades: readonly ClosedTrade[];
  startingEquity: number;
  /** Marked equity samples, ascending time (market minute close times). */
  equityTime: ArrayLike<number>;
  equity: ArrayLike<number>;
  /** Start of the curve (the range's first open time): equity = startingEquity there. */
  start: number;
  /** Number of valid samples (default the array length). */
  samples?: number;
  marketChangeBySymbol: Record<string, number>;
  periodMs?: number;
}

export function summariseTrade(t: ClosedTrade): TradeSummary {
  return {
    groupId: t.groupId,
    symbol: t.symbol,
    strategy: t.strategy,
    direction: t.direction,
    pnl: t.pnl,
    pnlPct: t.pnlPct,
    entryTime: t.entryTime,
    exitTime: t.exitTime,
    exitReason: t.exitReason,
  };
}

/** Largest peak-to-trough fall of `equity`, % of the peak (0 when it never fell). */
export function maxDrawdownPct(equity: ArrayLike<number>, n: number = equity.length): number {
  let peak = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (let k = 0; k < n; k++) {
    const e = equity[k] as number;
    if (e > peak) peak = e;
    const dd = peak > 0 ? (peak - e) / peak : 0;
    if (dd > worst) worst = dd;
  }
  return worst * PCT;
}

/**
 * Period returns of an equity curve: the equity at the END of each period [start + k x p, start +
 * (k+1) x p) is the last sample with time < the period end (the curve starts at `start` with
 * `startEquity`). Periods with no sample carry the previous value (return 0).
 */
export function periodReturns(time: ArrayLike<number>, equity: ArrayLike<number>, n: number, start: number, startEquity: number, periodMs: number): number[] {
  if (n === 0) return [];
  const last = time[n - 1] as number;
  const out: number[] = [];
  let prev = startEquity;
  let k = 0;
  for (let end = start + periodMs; end - periodMs < last; end += periodMs) {
    let e = prev;
    while (k < n && (time[k] as number) <= end) {
      e = equity[k] as number;
      k++;
    }
    out.push(prev > 0 ? e / prev - 1 : 0);
    prev = e;
  }
  return out;
}

/** Annualised Sharpe and Sortino of period returns (risk-free 0). */
export function sharpeSortino(returns: readonly number[], periodMs: number): { sharpe: number | null; sortino: number | null } {
  const n = returns.length;
  if (n < 2) return { sharpe: null, sortino: null };
  let mean = 0;
  for (const r of returns) mean += r;
  mean /= n;
  let v = 0;
  let down = 0;
  for (const r of returns) {
    v += (r - mean) ** 2;
    if (r < 0) down += r * r;
  }
  const sd = Math.sqrt(v / (n - 1));
  const dd = Math.sqrt(down / n);
  const annual = Math.sqrt(YEAR_MS / periodMs);
  return { sharpe: sd > 0 ? (mean / sd) * annual : null, sortino: dd > 0 ? (mean / dd) * annual : null };
}

export function computeMetrics(x: MetricsInput): BacktestMetrics {
  const trades = x.trades;
  const n = x.samples ?? x.equity.length;
  const periodMs = x.periodMs ?? RETURN_PERIOD_MS;
  let wins = 0;
  let losses = 0;
  let pnl = 0;
  let fees = 0;
  let slippage = 0;
  let gp = 0;
  let gl = 0;
  let notional = 0;
  let pctSum = 0;
  let durSum = 0;
  let best: ClosedTrade | null = null;
  let worst: ClosedTrade | null = null;
  const exitReasons: Record<string, number> = {};
  for (const t of trades) {
    pnl += t.pnl;
    fees += t.fees;
    slippage += t.slippage ?? 0;
    if (t.pnl > 0) {
      wins++;
      gp += t.pnl;
    } else {
      losses++;
      gl += -t.pnl;
    }
    for (const r of t.rows) notional += (r.entry_price as number) * (r.qty as number);
    pctSum += t.pnlPct;
    durSum += t.exitTime - t.entryTime;
    if (!best || t.pnl > best.pnl) best = t;
    if (!worst || t.pnl < worst.pnl) worst = t;
    exitReasons[t.exitReason] = (exitReasons[t.exitReason] ?? 0) + 1;
  }
  const count = trades.length;
  const rets = periodReturns(x.equityTime, x.equity, n, x.start, x.startingEquity, periodMs);
  const { sharpe, sortino } = sharpeSortino(rets, periodMs);
  const changes = Object.values(x.marketChangeBySymbol);
  const endEquityMarked = n > 0 ? (x.equity[n - 1] as number) : x.startingEquity;
  const span = n > 0 ? (x.equityTime[n - 1] as number) - x.start : 0;
  const annualReturnPct = span >= RETURN_PERIOD_MS ? (endEquityMarked / x.startingEquity - 1) * PCT * (YEAR_MS / span) : null;
  const maxDd = maxDrawdownPct(prepend(x.startingEquity, x.equity, n), n + 1);
  const calmar = annualReturnPct !== null && maxDd > 0 ? annualReturnPct / maxDd : null;
  const sqn = systemQuality(trades.map((t) => t.pnl));
  const profitFactor = profitFactorOf(gp, gl);
  return {
    trades: count,
    wins,
    losses,
    winRate: count > 0 ? wins / count : null,
    totalPnl: pnl,
    totalPnlPct: (pnl / x.startingEquity) * PCT,
    fees,
    slippage,
    returnOnNotionalPct: notional > 0 ? (pnl / notional) * PCT : null,
    grossProfit: gp,
    grossLoss: gl,
    profitFactor,
    expectancy: count > 0 ? pnl / count : null,
    expectancyPct: count > 0 ? pctSum / count : null,
    maxDrawdownPct: maxDd,
    sharpe,
    sortino,
    returnPeriodMs: periodMs,
    avgDurationMin: count > 0 ? durSum / count / 60_000 : null,
    marketChangePct: changes.length > 0 ? changes.reduce((a, b) => a + b, 0) / changes.length : null,
    marketChangeBySymbol: x.marketChangeBySymbol,
    best: best ? summariseTrade(best) : null,
    worst: worst ? summariseTrade(worst) : null,
    exitReasons,
    startEquity: x.startingEquity,
    endEquityMarked,
    annualReturnPct,
    calmar,
    sqn,
    combined: combinedScore({ trades: count, totalPnlPct: (pnl / x.startingEquity) * PCT, calmar, sqn, profitFactor, grossProfit: gp }),
  };
}

/** Σ winning P&L / |Σ losing P&L| (gross amounts, both >= 0); null when nothing was lost (the definition above). */
export function profitFactorOf(grossProfit: number, grossLoss: number): number | null {
  return grossLoss > 0 ? grossProfit / grossLoss : null;
}

/** SQN: sqrt(n) x mean / sample sd of the per-trade R values (null with n < 2 or sd 0). */
export function systemQuality(r: readonly number[]): number | null {
  const n = r.length;
  if (n < 2) return null;
  let mean = 0;
  for (const v of r) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of r) ss += (v - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return sd > 0 ? (Math.sqrt(n) * mean) / sd : null;
}

/** The `combined` objective (see the module comment). */
export function combinedScore(m: { trades: number; totalPnlPct: number; calmar: number | null; sqn: number | null; profitFactor: number | null; grossProfit: number }): number | null {
  if (m.trades === 0) return null;
  const pf = m.profitFactor === null ? (m.grossProfit > 0 ? 1 : 0) : (m.profitFactor ** 2 - 1) / (m.profitFactor ** 2 + 1);
  const parts = [Math.tanh(m.totalPnlPct / 10), m.calmar === null ? 0 : Math.tanh(m.calmar / 3), m.sqn === null ? 0 : Math.tanh(m.sqn / 2), pf];
  return parts.reduce((a, b) => a + b, 0) / parts.length;
}

function prepend(first: number, rest: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n + 1);
  out[0] = first;
  for (let k = 0; k < n; k++) out[k + 1] = rest[k] as number;
  return out;
}

/** Objectives a grid can rank by (higher is better; maxDrawdownPct is ranked lowest-first). */
export const OBJECTIVES = ['totalPnl', 'sharpe', 'sortino', 'profitFactor', 'calmar', 'sqn', 'combined', 'expectancy', 'winRate', 'maxDrawdownPct'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** A comparable score for ranking: larger is better; a missing value ranks last. */
export function objectiveScore(m: BacktestMetrics, objective: Objective): number {
  const v = m[objective];
  if (v === null || !Number.isFinite(v)) {
    // No losing trade: an unbounded profit factor ranks first among finite ones only when it has trades.
    if (objective === 'profitFactor' && m.trades > 0 && m.grossLoss === 0 && m.grossProfit > 0) return Number.MAX_VALUE;
    // No drawdown at all with a positive return: unbounded Calmar, first among finite ones.
    if (objective === 'calmar' && m.maxDrawdownPct === 0 && (m.annualReturnPct ?? 0) > 0) return Number.MAX_VALUE;
    return Number.NEGATIVE_INFINITY;
  }
  return objective === 'maxDrawdownPct' ? -v : v;
}

/**
 * Runs below this many closed trades are never ranked above a run that has them (grid, walk-forward,
 * hyperopt; CLI --min-trades). 10 because under about ten trades every objective is decided by one
 * or two trades (one lucky win gives an unbounded profit factor, a huge Sharpe and no SQN at all),
 * while a 7-day train window of the seeds' scalps has a few dozen trades, so 10 rarely excludes a
 * real candidate. Van Tharp asks 30+ for SQN; raise it for longer ranges.
 */
export const DEFAULT_MIN_TRADES = 10;

/** Orders two runs: one meeting `minTrades` first, then the higher objective score. Negative = a first. */
export function compareRuns(a: { score: number; metrics: { trades: number } }, b: { score: number; metrics: { trades: number } }, minTrades: number): number {
  const ea = a.metrics.trades >= minTrades ? 1 : 0;
  const eb = b.metrics.trades >= minTrades ? 1 : 0;
  if (ea !== eb) return eb - ea;
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  return 0;
}
