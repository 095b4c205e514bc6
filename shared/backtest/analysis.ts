/**
 * Breakdowns of a run's closed trades, the way traders read a backtest (Freqtrade's per-pair /
 * exit-reason tables and its `backtesting-analysis` groups). Pure: trades (and the run's scan log) in,
 * tables out.
 *
 * Every row's figures come from `computeMetrics` (metrics.ts) over the trades of that row, so win
 * rate, profit factor, average P&L % and duration have ONE definition:
 *   trades, wins, win % (pnl > 0), P&L USD (net), avg P&L % (mean of the trades' size-weighted pnlPct),
 *   profit factor (Σ wins / |Σ losses|; null = no losing trade), avg duration (minutes, entry -> exit).
 *
 * Groups:
 * - pair, strategy, exit reason, direction;
 * - hour of day (UTC) and weekday (UTC) of the ENTRY (when the setup fired);
 * - day / ISO week (Monday start) / month of the EXIT (when the P&L was realised, as Freqtrade's
 *   daily / weekly / monthly breakdowns).
 * - entry features: each trade joined to the scan decision that produced its signal (the trade's
 *   `signalId` IS the decision's `signalId`: `${strategy}:${symbol}:${candleOpenTime}`), falling back to
 *   the features its warehouse rows carry (`paper_trades.features`, a copy of the signal's), and to the
 *   macro bias the execution read when the signal was applied (the run's `signals`, with `bias`).
 *   A feature a decision does not have lands in the bucket `n/a` (swing trades, older logs).
 */
import type { ClosedTrade } from '../model/trading.js';
import { computeMetrics } from './metrics.js';
import { fmt, table } from './text-table.js';

export interface BreakdownRow {
  key: string;
  trades: number;
  wins: number;
  /** 0..1, null without trades. */
  winRate: number | null;
  pnl: number;
  avgPnlPct: number | null;
  profitFactor: number | null;
  /** No losing trade but a profit: profit factor unbounded. */
  pfInfinite: boolean;
  avgDurationMin: number | null;
}

export interface Breakdown {
  /** Machine name (`pair`, `exitReason`, `feature:checks`...). */
  name: string;
  /** What the rows are, for a table title. */
  title: string;
  rows: BreakdownRow[];
}

export interface RunAnalysis {
  trades: number;
  groups: Breakdown[];
  /** Entry-feature buckets against outcome. */
  features: Breakdown[];
  /** Trades joined to a recorded scan decision / to warehouse-row features only / to nothing. */
  featureSources: { decision: number; tradeRow: number; none: number };
}

type Features = Record<string, unknown>;

/** The scan-log parts `analyseRun` reads (a BacktestResult has them). */
export interface ScanLog {
  decisions?: ReadonlyArray<{ signalId: string; features: Features }>;
  signals?: ReadonlyArray<{ signalId: string; bias?: { bias: string; confidence: number } | null }>;
}

/** One row over a group of trades, its figures from computeMetrics. */
export function breakdownRow(key: string, trades: readonly ClosedTrade[]): BreakdownRow {
  const m = computeMetrics({ trades, startingEquity: 1, equityTime: [], equity: [], start: 0, marketChangeBySymbol: {} });
  return {
    key,
    trades: m.trades,
    wins: m.wins,
    winRate: m.winRate,
    pnl: m.totalPnl,
    avgPnlPct: m.expectancyPct,
    profitFactor: m.profitFactor,
    pfInfinite: m.profitFactor === null && m.trades > 0 && m.grossProfit > 0,
    avgDurationMin: m.avgDurationMin,
  };
}

/** Trades grouped by `keyOf` (null key: left out), rows ordered by `order` (default: P&L descending). */
export function breakdown(name: string, title: string, trades: readonly ClosedTrade[], keyOf: (t: ClosedTrade) => string | null, order: 'pnl' | 'key' = 'pnl', keyOrder?: readonly string[]): Breakdown {
  const groups = new Map<string, ClosedTrade[]>();
  for (const t of trades) {
    const k = keyOf(t);
    if (k === null) continue;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(t);
  }
  const rows = [...groups].map(([k, g]) => breakdownRow(k, g));
  if (keyOrder) rows.sort((a, b) => rank(keyOrder, a.key) - rank(keyOrder, b.key) || a.key.localeCompare(b.key));
  else if (order === 'key') rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  else rows.sort((a, b) => b.pnl - a.pnl || a.key.localeCompare(b.key));
  return { name, title, rows };
}

function rank(order: readonly string[], k: string): number {
  const i = order.indexOf(k);
  return i < 0 ? order.length : i;
}

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const DAY_MS = 86_400_000;

const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);
const isoMonth = (t: number) => new Date(t).toISOString().slice(0, 7);
/** Weekday 0 = Monday (UTC). */
const weekdayOf = (t: number) => (new Date(t).getUTCDay() + 6) % 7;
/** The Monday (UTC) starting the week of t, as YYYY-MM-DD. */
export function weekStart(t: number): string {
  const d = Math.floor(t / DAY_MS) * DAY_MS;
  return isoDay(d - weekdayOf(t) * DAY_MS);
}

/** A trade's entry features: its scan decision's, else its warehouse rows' copy, else null. */
export function entryFeatures(t: ClosedTrade, decisions: ReadonlyMap<string, Features>): { features: Features | null; source: 'decision' | 'tradeRow' | 'none' } {
  const d = decisions.get(t.signalId);
  if (d) return { features: d, source: 'decision' };
  const raw = t.rows[0]?.features;
  if (typeof raw === 'string' && raw.length > 0) {
    try {
      const f = JSON.parse(raw) as unknown;
      if (f !== null && typeof f === 'object' && !Array.isArray(f)) return { features: f as Features, source: 'tradeRow' };
    } catch {
      // not JSON: no features
    }
  }
  return { features: null, source: 'none' };
}

const NA = 'n/a';

/** A number into labelled buckets [edge_k, edge_k+1) (`< a`, `a-b`, `>= z`); not a finite number: n/a. */
export function numBucket(x: unknown, edges: readonly number[]): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return NA;
  if (x < (edges[0] as number)) return `< ${edges[0]}`;
  for (let k = 1; k < edges.length; k++) if (x < (edges[k] as number)) return `${edges[k - 1]}-${edges[k]}`;
  return `>= ${edges[edges.length - 1]}`;
}

function bucketOrder(edges: readonly number[]): string[] {
  return [`< ${edges[0]}`, ...edges.slice(1).map((e, k) => `${edges[k]}-${e}`), `>= ${edges[edges.length - 1]}`, NA];
}

const RSI_EDGES = [20, 30, 45, 55, 70, 80] as const;
const VOLUME_EDGES = [0.5, 1, 1.5, 2, 3] as const;
const CONFIDENCE_EDGES = [40, 60, 80] as const;
const TOUCH_EDGES = [2, 3, 5] as const;

/** Which exhaustion checks fired (levels_exhaustion): e.g. `rsi+lowVolume`; none recorded: n/a. */
export function checksKey(f: Features | null): string {
  if (!f) return NA;
  const names: Array<[string, string]> = [['checkRsi', 'rsi'], ['checkLowVolume', 'lowVolume'], ['checkDoubleWick', 'doubleWick'], ['checkBookFlip', 'bookFlip']];
  if (!names.some(([k]) => k in f)) return NA;
  const hit = names.filter(([k]) => f[k] === true).map(([, n]) => n);
  return hit.length > 0 ? hit.join('+') : 'none';
}

function str(x: unknown): string {
  return typeof x === 'string' && x.length > 0 ? x : typeof x === 'boolean' ? String(x) : NA;
}

/** The bias the execution read for the signal, relative to the trade's direction. */
function biasAlignment(t: ClosedTrade, b: { bias: string } | null | undefined): string {
  if (b === undefined) return NA;
  if (b === null) return 'no bias';
  if (b.bias === 'NEUTRAL') return 'neutral';
  return b.bias === t.direction ? 'with bias' : 'against bias';
}

/** Every breakdown of a run's closed trades (and, with the scan log, the entry-feature buckets). */
export function analyseRun(trades: readonly ClosedTrade[], log: ScanLog = {}): RunAnalysis {
  const groups: Breakdown[] = [
    breakdown('pair', 'per pair', trades, (t) => t.symbol),
    breakdown('strategy', 'per strategy', trades, (t) => t.strategy),
    breakdown('exitReason', 'per exit reason', trades, (t) => t.exitReason),
    breakdown('direction', 'per direction', trades, (t) => t.direction),
    breakdown('hour', 'by hour of entry (UTC)', trades, (t) => String(new Date(t.entryTime).getUTCHours()).padStart(2, '0'), 'key'),
    breakdown('weekday', 'by weekday of entry (UTC)', trades, (t) => WEEKDAYS[weekdayOf(t.entryTime)] as string, 'key', WEEKDAYS),
    breakdown('day', 'daily (exit day, UTC)', trades, (t) => isoDay(t.exitTime), 'key'),
    breakdown('week', 'weekly (exit week from Monday, UTC)', trades, (t) => weekStart(t.exitTime), 'key'),
    breakdown('month', 'monthly (exit month, UTC)', trades, (t) => isoMonth(t.exitTime), 'key'),
  ];
  const decisions = new Map<string, Features>();
  for (const d of log.decisions ?? []) decisions.set(d.signalId, d.features);
  const bias = new Map<string, { bias: string; confidence: number } | null>();
  for (const s of log.signals ?? []) if (s.bias !== undefined) bias.set(s.signalId, s.bias);
  const sources = { decision: 0, tradeRow: 0, none: 0 };
  const feats = new Map<ClosedTrade, Features | null>();
  for (const t of trades) {
    const joined = entryFeatures(t, decisions);
    sources[joined.source]++;
    feats.set(t, joined.features);
  }
  const f = (t: ClosedTrade) => feats.get(t) ?? null;
  const fb = (name: string, title: string, keyOf: (t: ClosedTrade) => string, keyOrder?: readonly string[]) => breakdown(`feature:${name}`, title, trades, keyOf, 'key', keyOrder);
  const features: Breakdown[] = [
    fb('checks', 'exhaustion checks that fired', (t) => checksKey(f(t))),
    fb('checksHit', 'number of exhaustion checks hit', (t) => {
      const v = f(t)?.checksHit;
      return typeof v === 'number' ? String(v) : NA;
    }),
    fb('level', 'level at entry (source / kind)', (t) => {
      const x = f(t);
      return x && (x.levelSource !== undefined || x.levelKind !== undefined) ? `${str(x.levelSource)} / ${str(x.levelKind)}` : NA;
    }),
    fb('levelTouches', 'level touches', (t) => numBucket(f(t)?.levelTouches, TOUCH_EDGES), bucketOrder(TOUCH_EDGES)),
    fb('divergence', 'RSI divergence (v52)', (t) => str(f(t)?.divergence)),
    fb('bias', 'macro bias at the signal vs the trade direction', (t) => biasAlignment(t, bias.has(t.signalId) ? bias.get(t.signalId) : undefined), ['with bias', 'neutral', 'against bias', 'no bias', NA]),
    fb('biasDirection', 'macro bias direction at the signal', (t) => {
      const b = bias.get(t.signalId);
      return b === undefined ? NA : b === null ? 'no bias' : b.bias;
    }),
    fb('biasConfidence', 'macro bias confidence at the signal', (t) => {
      const b = bias.get(t.signalId);
      return b ? numBucket(b.confidence, CONFIDENCE_EDGES) : NA;
    }, bucketOrder(CONFIDENCE_EDGES)),
    fb('volume', 'volume / its EMA at entry', (t) => numBucket(f(t)?.volumeRatio, VOLUME_EDGES), bucketOrder(VOLUME_EDGES)),
    fb('rsi', 'RSI at entry', (t) => numBucket(f(t)?.rsi, RSI_EDGES), bucketOrder(RSI_EDGES)),
  ].filter((b) => b.rows.some((r) => r.key !== NA));
  return { trades: trades.length, groups, features, featureSources: sources };
}

// ---------- text ----------

export const BREAKDOWN_HEADERS = ['trades', 'wins', 'win %', 'P&L USD', 'avg P&L %', 'PF', 'avg min'] as const;

export function breakdownCells(r: BreakdownRow): string[] {
  return [
    String(r.trades),
    String(r.wins),
    r.winRate === null ? '-' : fmt(r.winRate * 100, 1),
    fmt(r.pnl),
    fmt(r.avgPnlPct, 3),
    r.profitFactor === null ? (r.pfInfinite ? 'inf' : '-') : fmt(r.profitFactor),
    fmt(r.avgDurationMin, 1),
  ];
}

export function formatBreakdown(b: Breakdown): string {
  return `${b.title}\n${table([b.name.replace(/^feature:/, ''), ...BREAKDOWN_HEADERS], b.rows.map((r) => [r.key, ...breakdownCells(r)]))}`;
}

/** Breakdowns printed by default (Freqtrade prints per pair and per exit reason with every backtest). */
export const COMPACT_GROUPS = ['pair', 'strategy', 'exitReason'] as const;

/**
 * The analysis as text: `compact` prints per pair, per strategy and per exit reason; `full` every
 * group, the entry-feature buckets and how the trades were joined to their decisions.
 */
export function formatAnalysis(a: RunAnalysis, mode: 'compact' | 'full'): string {
  if (a.trades === 0) return 'analysis: no closed trades';
  const groups = mode === 'compact' ? a.groups.filter((g) => (COMPACT_GROUPS as readonly string[]).includes(g.name)) : a.groups;
  const out = groups.map(formatBreakdown);
  if (mode === 'full') {
    const s = a.featureSources;
    out.push(`entry features: ${s.decision} trade(s) joined to their scan decision, ${s.tradeRow} from the trade's own feature copy, ${s.none} without features`);
    out.push(...a.features.map(formatBreakdown));
  } else out.push('(more: --analysis prints hour / weekday / daily / weekly / monthly breakdowns and the entry-feature buckets)');
  return out.join('\n\n');
}
