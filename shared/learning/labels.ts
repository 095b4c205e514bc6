/**
 * Labelled data for the learning loop (SPEC 8): each completed trade linked to the scan decision
 * that produced it (its `signalId`), with its outcome after costs.
 *
 * Label: TIMEOUT for a time exit, else WIN when the P&L after fees and slippage is > 0, else LOSS.
 * The classifier's target is WIN vs not-WIN by P&L after costs: a time exit that made money counts as
 * a positive (`isPositive`), because the question the model answers is "does taking this setup pay",
 * not "does it reach its take profit"; its label stays TIMEOUT for the reports.
 *
 * Where the decision comes from:
 * - a ClosedTrade of a run that recorded its scans (backtest, shadow): the scan itself;
 * - `paper_trades` rows (production paper and live): the row carries a copy of the signal's
 *   `features` (book.ts `features: signal.features`) and `signal_id`, but NOT the decision time or
 *   price (scanDecisionRow adds `candleTime` / `engine` only to the `signals` row). They are derived:
 *   decision time from the signal id (`{strategy}:{symbol}:{candleOpenTime}` is a closed candle, decided
 *   at its close = open + interval: the swing setups log their `interval`, the scalps evaluate 1m;
 *   `...:snap:{ts}` is a snapshot decided at `ts`), decision price = the swing's logged `close` / the
 *   scalp's logged `entry` (a scalp TAKE enters at the decision price).
 */
import { z } from 'zod';
import { INTERVAL_MS, INTERVALS, type Interval } from '../model/market.js';
import {
  closedTradeSchema,
  directionSchema,
  exitReasonSchema,
  strategyIdSchema,
  type ClosedTrade,
  type Direction,
  type ExitReason,
  type PaperTradeRow,
  type ScanDecision,
  type StrategyId,
} from '../model/trading.js';
import type { OutcomeLabel } from './types.js';
import type { FeatureInput } from './features.js';

export type LabelSource = 'live' | 'paper' | 'shadow';

export interface LabelledTrade {
  signalId: string;
  strategy: StrategyId;
  symbol: string;
  direction: Direction;
  /** The scan decision's time (epoch ms): what the model may know at prediction. */
  decisionTs: number;
  /** First fill and exit (epoch ms): the outcome is known from exitTime on. */
  entryTime: number;
  exitTime: number;
  /** The decision price. */
  price: number;
  features: ScanDecision['features'];
  /** P&L after fees and slippage, USD, and in % of the entry notional (size-weighted over the lots). */
  pnl: number;
  pnlPct: number;
  exitReason: ExitReason;
  outcome: OutcomeLabel;
  source: LabelSource;
}

export function outcomeOf(t: { pnl: number; exitReason: ExitReason }): OutcomeLabel {
  if (t.exitReason === 'time_exit') return 'TIMEOUT';
  return t.pnl > 0 ? 'WIN' : 'LOSS';
}

/** The classifier's target: 1 when the trade made money after costs (a profitable TIMEOUT included), else 0. */
export function isPositive(t: Pick<LabelledTrade, 'pnl'>): 0 | 1 {
  return t.pnl > 0 ? 1 : 0;
}

/** The labelled trade of a closed trade group and the scan decision it came from. */
export function labelledFromClosedTrade(t: ClosedTrade, scan: FeatureInput, source: LabelSource): LabelledTrade {
  return {
    signalId: t.signalId,
    strategy: t.strategy,
    symbol: t.symbol,
    direction: t.direction,
    decisionTs: scan.ts,
    entryTime: t.entryTime,
    exitTime: t.exitTime,
    price: scan.price,
    features: scan.features,
    pnl: t.pnl,
    pnlPct: t.pnlPct,
    exitReason: t.exitReason,
    outcome: outcomeOf(t),
    source,
  };
}

const paperRowSchema = closedTradeSchema.shape.rows.element;
const featuresSchema = z.record(z.string(), z.union([z.number(), z.boolean(), z.string(), z.null()]));

/** A trade group (or row) that could not be labelled, and why. */
export interface RefusedRow {
  /** trade_group_id (or trade_id / the row's index when the row is not even a row). */
  key: string;
  reason: string;
}

/** Decision time and price of a `paper_trades` group (see the module comment). */
function decisionOf(signalId: string, strategy: StrategyId, symbol: string, f: ScanDecision['features']): { ts: number; price: number } | string {
  const prefix = `${strategy}:${symbol}:`;
  if (!signalId.startsWith(prefix)) return `signal_id ${signalId} does not start with ${prefix}`;
  const rest = signalId.slice(prefix.length).split(':');
  const candleTime = Number(rest[0]);
  if (!Number.isInteger(candleTime)) return `signal_id ${signalId}: no candle open time`;
  let ts: number;
  if (rest.length === 3 && rest[1] === 'snap') {
    ts = Number(rest[2]);
    if (!Number.isInteger(ts)) return `signal_id ${signalId}: bad snapshot time`;
  } else if (rest.length === 1) {
    const swing = strategy === 'dca' || strategy === 'swing_breakout' || strategy === 'channel';
    const interval = swing ? f.interval : '1m';
    if (typeof interval !== 'string' || !(INTERVALS as readonly string[]).includes(interval)) return `features.interval ${String(interval)} is not a candle interval`;
    ts = candleTime + INTERVAL_MS[interval as Interval];
  } else {
    return `signal_id ${signalId} is not {strategy}:{symbol}:{candleOpenTime}[:snap:{ts}]`;
  }
  const priceKey = strategy === 'v52_divergence' || strategy === 'levels_exhaustion' ? 'entry' : 'close';
  const price = f[priceKey];
  if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0) return `features.${priceKey} (the decision price) is missing or not a positive number`;
  return { ts, price };
}

/**
 * One labelled trade per trade GROUP of `paper_trades` rows (a DCA group has one row per filled lot:
 * P&L summed, pnl_pct size-weighted by entry notional, earliest entry, latest exit). Every row is
 * validated with the `paper_trades` row schema; a bad row refuses its whole group, with the reason.
 * `source` defaults to each group's `mode` column (live / paper).
 */
export function labelledFromPaperRows(rows: readonly unknown[], source?: LabelSource): { trades: LabelledTrade[]; refused: RefusedRow[] } {
  const refused: RefusedRow[] = [];
  const groups = new Map<string, PaperTradeRow[]>();
  const bad = new Set<string>();
  rows.forEach((raw, i) => {
    const p = paperRowSchema.safeParse(raw);
    if (!p.success) {
      const g = raw !== null && typeof raw === 'object' && typeof (raw as Record<string, unknown>).trade_group_id === 'string' ? ((raw as Record<string, unknown>).trade_group_id as string) : `row ${i}`;
      refused.push({ key: g, reason: `not a paper_trades row: ${p.error.issues.map((x) => `${x.path.join('.') || '(row)'}: ${x.message}`).join('; ')}` });
      bad.add(g);
      return;
    }
    const list = groups.get(p.data.trade_group_id) ?? [];
    list.push(p.data);
    groups.set(p.data.trade_group_id, list);
  });
  const trades: LabelledTrade[] = [];
  for (const [key, lots] of groups) {
    if (bad.has(key)) {
      refused.push({ key, reason: 'another row of the group is not a valid paper_trades row' });
      continue;
    }
    const r = groupToLabelled(lots, source);
    if (typeof r === 'string') refused.push({ key, reason: r });
    else trades.push(r);
  }
  return { trades, refused };
}

function groupToLabelled(lots: readonly PaperTradeRow[], source: LabelSource | undefined): LabelledTrade | string {
  const first = lots[0] as PaperTradeRow;
  const strategy = strategyIdSchema.safeParse(first.strategy);
  if (!strategy.success) return `strategy ${first.strategy} is not a strategy id`;
  const direction = directionSchema.safeParse(first.direction);
  if (!direction.success) return `direction ${first.direction} is not LONG / SHORT`;
  const exitReason = exitReasonSchema.safeParse(first.exit_reason);
  if (!exitReason.success) return `exit_reason ${first.exit_reason} is not an exit reason`;
  if (first.signal_id === null || first.signal_id === '') return 'no signal_id: the trade cannot be linked to its scan';
  for (const l of lots) {
    if (l.signal_id !== first.signal_id || l.strategy !== first.strategy || l.symbol !== first.symbol || l.direction !== first.direction) {
      return `lot ${l.trade_id} disagrees with lot ${first.trade_id} on signal, strategy, symbol or direction`;
    }
  }
  if (first.features === null) return 'no features: the scan copy is missing';
  let features: ScanDecision['features'];
  try {
    const f = featuresSchema.safeParse(JSON.parse(first.features));
    if (!f.success) return `features are not a flat object of numbers, booleans, strings: ${f.error.issues[0]?.message ?? ''}`;
    features = f.data;
  } catch {
    return 'features are not JSON';
  }
  const d = decisionOf(first.signal_id, strategy.data, first.symbol, features);
  if (typeof d === 'string') return d;
  let pnl = 0;
  let notional = 0;
  let weighted = 0;
  for (const l of lots) {
    const n = l.entry_price * l.qty;
    pnl += l.pnl;
    notional += n;
    weighted += l.pnl_pct * n;
  }
  if (!(notional > 0)) return 'entry notional is not positive';
  const mode = first.mode === 'live' ? 'live' : 'paper';
  return {
    signalId: first.signal_id,
    strategy: strategy.data,
    symbol: first.symbol,
    direction: direction.data,
    decisionTs: d.ts,
    entryTime: Math.min(...lots.map((l) => l.entry_time)),
    exitTime: Math.max(...lots.map((l) => l.exit_time)),
    price: d.price,
    features,
    pnl,
    pnlPct: weighted / notional,
    exitReason: exitReason.data,
    outcome: outcomeOf({ pnl, exitReason: exitReason.data }),
    source: source ?? mode,
  };
}

const SOURCE_RANK: Record<LabelSource, number> = { live: 0, paper: 1, shadow: 2 };

/** One labelled trade per signal (live over paper over shadow; first seen on a tie), ordered by decisionTs then signalId. */
export function dedupeBySignal(rows: readonly LabelledTrade[]): LabelledTrade[] {
  const best = new Map<string, LabelledTrade>();
  for (const r of rows) {
    const cur = best.get(r.signalId);
    if (!cur || SOURCE_RANK[r.source] < SOURCE_RANK[cur.source]) best.set(r.signalId, r);
  }
  return [...best.values()].sort((a, b) => a.decisionTs - b.decisionTs || (a.signalId < b.signalId ? -1 : a.signalId > b.signalId ? 1 : 0));
}
