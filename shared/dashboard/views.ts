/**
 * The dashboard's read views (shared/dashboard/api.ts shapes), each a plain async function over the
 * bot's deps and `now`, built ONLY from the domain code the bot already uses:
 * - paper: the account (`readAccount`, the trading document's protections and owner control),
 *   `buildReport` (the /stats per-strategy table, the /equity points) and `computeDrawdown` (the
 *   /equity PNG's drawdown), `positionUnrealized` for each position and `ownerLevelBounds` for the
 *   sliders (the same rule the core enforces when the command arrives);
 * - trades: the trade history port (`closedBetween`, the /stats and /last source), filtered and paged.
 * Nothing here computes a P&L, a statistic or a rule of its own.
 */
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import { strategyIdSchema } from '../model/trading.js';
import type { Position } from '../trading/model.js';
import type { TradingDoc } from '../trading/store.js';
import { upgradeTradingDoc } from '../trading/doc-upgrade.js';
import { positionUnrealized } from '../trading/account.js';
import { ownerLevelBounds } from '../trading/owner-levels.js';
import { getTradingMode } from '../trading/live/mode.js';
import { computeDrawdown } from '../charts/equity-chart.js';
import { buildReport } from '../telegram/reports.js';
import { readAccount, type ControlDoc, type TelegramDeps } from '../telegram/deps.js';
import { TG_CONTROL_DOC, tradingDocPath } from '../state-paths.js';
import type { PaperView, PositionView, TradesView } from './api.js';

const PCT = 100;
const HOUR_MS = 3_600_000;

/** The periods the page offers (the /stats syntax; `all` = everything the history holds). */
export const DASHBOARD_PERIODS = ['24h', '7d', '30d', 'all'] as const;
export type DashboardPeriod = (typeof DASHBOARD_PERIODS)[number];
const PERIOD_MS: Record<DashboardPeriod, number> = { '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS, all: 366 * 24 * HOUR_MS };

export const TRADE_OUTCOMES = ['win', 'loss', 'timeout'] as const;
export type TradeOutcome = (typeof TRADE_OUTCOMES)[number];

/** What a closed trade counts as on the page: a time exit whatever its P&L, else a win (pnl > 0, as /stats) or a loss. */
export function outcomeOf(t: Pick<ClosedTradeRecord, 'pnl' | 'exitReason'>): TradeOutcome {
  if (t.exitReason === 'time_exit') return 'timeout';
  return t.pnl > 0 ? 'win' : 'loss';
}

async function tradingDoc(d: Pick<TelegramDeps, 'state' | 'tg'>): Promise<TradingDoc | undefined> {
  return upgradeTradingDoc(await d.state.get<TradingDoc>(tradingDocPath(d.tg.accountId)));
}

/** One position as the page shows it (the /positions row plus the owner's slider bounds). */
export function positionView(p: Position, mark: number | null, now: number, limits: { takeProfitMaxPct: number; stopLossMaxPct: number }): PositionView {
  const filled = p.status === 'open';
  const unrealized = filled && mark !== null ? positionUnrealized(p, mark) : null;
  const notional = p.avgEntry * p.filledQty;
  return {
    groupId: p.groupId,
    symbol: p.symbol,
    strategy: p.strategy,
    direction: p.direction,
    status: p.status,
    live: p.external !== null,
    avgEntry: p.avgEntry,
    entries: p.entries.map((e) => ({ price: e.fillPrice ?? e.price, qty: e.qty, status: e.status, filledAt: e.fillTime })),
    qty: p.filledQty,
    takeProfit: p.takeProfit,
    stopLoss: p.stopLoss,
    mark,
    unrealizedPnl: unrealized,
    unrealizedPct: unrealized !== null && notional > 0 ? (unrealized / notional) * PCT : null,
    openedAt: p.openedAt,
    placedAt: p.placedAt,
    ageMs: Math.max(0, now - (p.openedAt ?? p.placedAt)),
    bounds: ownerLevelBounds(p, mark, limits),
  };
}

/** Holds on new entries, as /status words them. */
function holdsOf(doc: TradingDoc | undefined, ownerPaused: boolean, now: number): string[] {
  const out: string[] = [];
  if (ownerPaused) out.push('Paused by the owner');
  const prot = doc?.state.protections;
  if (!prot) return out;
  if (prot.regime.current === 'PANIC') out.push('Regime PANIC: no new entries');
  if (prot.guards.dailyHalted) out.push('Daily loss halt');
  if (prot.guards.pausedUntil !== null && prot.guards.pausedUntil > now) out.push(`Loss-streak pause until ${new Date(prot.guards.pausedUntil).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  if (prot.reference && prot.reference.status !== 'ok') out.push(`Regime reference ${prot.reference.status}: no new entries`);
  return out;
}

/** `GET /api/paper?period=`: account, open positions, the per-strategy table and equity over the period. */
export async function paperView(d: TelegramDeps, now: number, period: DashboardPeriod): Promise<PaperView> {
  const [doc, account, report, mode, control, strategies] = await Promise.all([
    tradingDoc(d),
    readAccount(d),
    buildReport(d, 'Dashboard', PERIOD_MS[period], now),
    getTradingMode(d.state),
    d.state.get<ControlDoc>(TG_CONTROL_DOC),
    d.config.strategies(),
  ]);
  const paused = doc?.state.control?.paused ?? control?.paused ?? false;
  const { series, max } = computeDrawdown(report.points);
  const last = series[series.length - 1];
  const caps = strategies.protections.adaptiveStops.capPct;
  const positions = account.positions.map((p) =>
    positionView(p, account.marks[p.symbol] ?? null, now, { takeProfitMaxPct: d.tg.dashboard.takeProfitMaxPct, stopLossMaxPct: caps[p.tier] }),
  );
  return {
    asOf: now,
    accountId: account.accountId,
    mode,
    paused,
    holds: holdsOf(doc, paused, now),
    account: {
      startingEquity: account.startingEquity,
      realizedPnl: account.realizedPnl,
      unrealizedPnl: report.unrealized,
      equity: report.equityNow,
      drawdownPct: last ? -last.drawdown * PCT : 0,
      maxDrawdownPct: -max.drawdown * PCT,
    },
    positions,
    perStrategy: report.byStrategy,
    period: { label: period, fromMs: report.from, toMs: report.to },
    equity: series.map((p) => ({ t: p.t, equity: p.equity, drawdownPct: -p.drawdown * PCT })),
  };
}

/**
 * What identifies a paper view's content for its ETag: the view without what moves with the clock
 * alone (the period's bounds, the times of the equity curve's first and last points: the period
 * start and now; the positions' ages), so polling an unchanged book costs a 304.
 */
export function paperValidator(v: PaperView): unknown {
  const last = v.equity.length - 1;
  return {
    ...v,
    asOf: null,
    period: v.period.label,
    positions: v.positions.map((p) => ({ ...p, ageMs: null })),
    equity: v.equity.map((p, i) => (i === 0 || i === last ? { equity: p.equity, drawdownPct: p.drawdownPct } : p)),
  };
}

export interface TradesQuery {
  strategy?: string;
  symbol?: string;
  outcome?: TradeOutcome;
  period: DashboardPeriod;
  page: number;
}

/** `GET /api/trades`: the period's closed trades (newest first), filtered, one page of them. */
export async function tradesView(d: TelegramDeps, now: number, q: TradesQuery): Promise<TradesView> {
  const [all, system] = await Promise.all([d.trades.closedBetween(now - PERIOD_MS[q.period], now + 1), d.config.system()]);
  const newestFirst = [...all].reverse();
  const hits = newestFirst.filter(
    (t) => (q.strategy === undefined || t.strategy === q.strategy) && (q.symbol === undefined || t.symbol === q.symbol) && (q.outcome === undefined || outcomeOf(t) === q.outcome),
  );
  const pageSize = d.tg.dashboard.tradesPageSize;
  const pages = Math.max(1, Math.ceil(hits.length / pageSize));
  const page = Math.min(q.page, pages - 1);
  const strategies = new Set<string>([...strategyIdSchema.options, ...all.map((t) => t.strategy)]);
  const symbols = new Set<string>([...system.symbols.map((s) => s.symbol), ...all.map((t) => t.symbol)]);
  return {
    trades: hits.slice(page * pageSize, page * pageSize + pageSize),
    page,
    pages,
    total: hits.length,
    pageSize,
    options: { strategies: [...strategies].sort(), symbols: [...symbols].sort(), outcomes: [...TRADE_OUTCOMES], periods: [...DASHBOARD_PERIODS] },
  };
}
