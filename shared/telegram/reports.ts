/**
 * Reports (SPEC 9): at 07:00 and 19:00 America/Los_Angeles (the last 24 h) and weekly on Sunday 19:00
 * (the last 7 days), from scheduler.yaml. Realized P&L of the trades closed in the period, unrealized
 * P&L of the open positions, win rate, a per-strategy table, best and worst trades, open positions and
 * an equity PNG. Also the text of /stats and the points of /equity.
 */
import type { StrategyStatsRow } from '../dashboard/api.js';
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import type { AccountState, Position } from '../trading/model.js';
import { accountEquity, markedEquity, positionUnrealized, unrealizedPnl } from '../trading/account.js';
import type { EquityPoint } from '../charts/equity-chart.js';
import { profitFactorOf } from '../backtest/metrics.js';
import type { TelegramDeps } from './deps.js';
import { readAccount } from './deps.js';
import { escapeHtml, fmtPct, fmtPrice, fmtTimeIn, fmtUsd, fmtUsdPlain, html, MAX_CAPTION_CHARS, MAX_MESSAGE_CHARS, truncateHtml } from './html.js';
import { tradeLine } from './format.js';
import { enqueue, type EnqueueItem } from './outbox.js';

const REPORT_PERIODS = { daily: 24 * 3_600_000, weekly: 7 * 24 * 3_600_000 } as const;
type ReportPeriod = keyof typeof REPORT_PERIODS;

/** One strategy's line of a report: the same row the dashboard's per-strategy table shows (profitFactor: metrics.ts profitFactorOf, null when nothing was lost). */
type StrategyRow = StrategyStatsRow;

export interface ReportData {
  title: string;
  from: number;
  to: number;
  trades: ClosedTradeRecord[];
  realized: number;
  unrealized: number;
  wins: number;
  losses: number;
  winRatePct: number | null;
  byStrategy: StrategyRow[];
  best: ClosedTradeRecord[];
  worst: ClosedTradeRecord[];
  positions: Array<{ p: Position; mark: number | null; unrealized: number | null }>;
  equityStart: number;
  equityNow: number;
  points: EquityPoint[];
}

function strategyTable(trades: readonly ClosedTradeRecord[]): StrategyRow[] {
  const by = new Map<string, StrategyRow & { gross: [number, number] }>();
  for (const t of trades) {
    const r = by.get(t.strategy) ?? { strategy: t.strategy, trades: 0, wins: 0, winRatePct: 0, pnl: 0, profitFactor: null, gross: [0, 0] };
    r.trades++;
    if (t.pnl > 0) r.wins++;
    r.pnl += t.pnl;
    if (t.pnl > 0) r.gross[0] += t.pnl;
    else r.gross[1] -= t.pnl;
    by.set(t.strategy, r);
  }
  return [...by.values()]
    .map(({ gross, ...r }) => ({ ...r, winRatePct: (r.wins / r.trades) * 100, profitFactor: profitFactorOf(gross[0], gross[1]) }))
    .sort((a, b) => b.pnl - a.pnl);
}

/**
 * Equity over [from, now]: realized equity before the period, a step at every exit in it, and the
 * marked equity (realized + unrealized) now. A chart draws these as steps (the value holds until the
 * next point), never as lines between them.
 */
export function equityPoints(account: AccountState, tradesInPeriod: readonly ClosedTradeRecord[], from: number, now: number): EquityPoint[] {
  const realizedNow = accountEquity(account);
  const periodPnl = tradesInPeriod.reduce((s, t) => s + t.pnl, 0);
  let e = realizedNow - periodPnl;
  const pts: EquityPoint[] = [{ t: from, equity: e }];
  for (const t of [...tradesInPeriod].sort((a, b) => a.exitTime - b.exitTime)) {
    e += t.pnl;
    pts.push({ t: t.exitTime, equity: e });
  }
  pts.push({ t: now, equity: markedEquity(account) });
  return pts;
}

export async function buildReport(d: TelegramDeps, title: string, periodMs: number, now: number): Promise<ReportData> {
  const from = now - periodMs;
  const [account, trades] = await Promise.all([readAccount(d), d.trades.closedBetween(from, now + 1)]);
  const wins = trades.filter((t) => t.pnl > 0).length;
  const sorted = [...trades].sort((a, b) => b.pnlPct - a.pnlPct);
  const n = d.tg.reports.bestWorst;
  const open = account.positions.filter((p) => p.status === 'open');
  const points = equityPoints(account, trades, from, now);
  return {
    title,
    from,
    to: now,
    trades,
    realized: trades.reduce((s, t) => s + t.pnl, 0),
    unrealized: unrealizedPnl(account),
    wins,
    losses: trades.length - wins,
    winRatePct: trades.length ? (wins / trades.length) * 100 : null,
    byStrategy: strategyTable(trades),
    best: sorted.filter((t) => t.pnl > 0).slice(0, n),
    worst: [...sorted].reverse().filter((t) => t.pnl <= 0).slice(0, n),
    positions: open.map((p) => {
      const mark = account.marks[p.symbol] ?? null;
      return { p, mark, unrealized: mark === null ? null : positionUnrealized(p, mark) };
    }),
    equityStart: points[0]!.equity,
    equityNow: points[points.length - 1]!.equity,
    points,
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

export function reportText(r: ReportData, timeZone: string): string {
  const lines: string[] = [];
  lines.push(`📊 <b>${escapeHtml(r.title)}</b>`);
  lines.push(html`<i>${fmtTimeIn(r.from, timeZone)} → ${fmtTimeIn(r.to, timeZone)}</i>`);
  lines.push('');
  lines.push(html`Realized P&amp;L: <b>${fmtUsd(r.realized)}</b>`);
  lines.push(html`Unrealized P&amp;L: <b>${fmtUsd(r.unrealized)}</b>`);
  const change = r.equityStart !== 0 ? ((r.equityNow - r.equityStart) / r.equityStart) * 100 : 0;
  lines.push(html`Equity: ${fmtUsdPlain(r.equityNow)} (${fmtPct(change)})`);
  lines.push(
    r.winRatePct === null
      ? 'Trades: 0'
      : html`Trades: ${r.trades.length} · ${r.wins} W / ${r.losses} L · win rate ${r.winRatePct.toFixed(1)}%`,
  );
  if (r.byStrategy.length) {
    lines.push('');
    const rows = [`${pad('strategy', 18)} ${pad('n', 4)} ${pad('win%', 6)} P&L`];
    for (const s of r.byStrategy) rows.push(`${pad(s.strategy, 18)} ${pad(String(s.trades), 4)} ${pad(s.winRatePct.toFixed(0), 6)} ${fmtUsd(s.pnl)}`);
    lines.push(`<pre>${escapeHtml(rows.join('\n'))}</pre>`);
  }
  if (r.best.length) {
    lines.push('<b>Best</b>');
    for (const t of r.best) lines.push(tradeLine(t));
  }
  if (r.worst.length) {
    lines.push('<b>Worst</b>');
    for (const t of r.worst) lines.push(tradeLine(t));
  }
  lines.push('');
  lines.push(html`<b>Open positions</b> (${r.positions.length})`);
  for (const { p, mark, unrealized } of r.positions) {
    lines.push(
      html`${p.direction} ${p.symbol} · ${p.strategy} · entry ${fmtPrice(p.avgEntry)}` +
        (mark !== null && unrealized !== null ? html` · mark ${fmtPrice(mark)} · ${fmtUsd(unrealized)}` : ''),
    );
  }
  return truncateHtml(lines.join('\n'), MAX_MESSAGE_CHARS);
}

/** Caption of the equity PNG. */
export function equityCaption(title: string, points: readonly EquityPoint[]): string {
  const a = points[0]!.equity;
  const b = points[points.length - 1]!.equity;
  return truncateHtml(html`📈 <b>${title}</b>\nEquity ${fmtUsdPlain(b)} (${fmtPct(a !== 0 ? ((b - a) / a) * 100 : 0)})`, MAX_CAPTION_CHARS);
}

/**
 * Builds one report and queues it (equity PNG + text) for every broadcast chat. `slot` makes the keys:
 * a retried scheduler call for the same slot queues nothing new.
 */
export async function queueReport(d: TelegramDeps, period: ReportPeriod, slot: string): Promise<{ queued: number; trades: number }> {
  const now = d.clock.now();
  const title = period === 'weekly' ? 'Weekly report' : 'Daily report';
  const r = await buildReport(d, title, REPORT_PERIODS[period], now);
  const png = await d.charts.renderEquityChart({ points: r.points, title: `${title} · equity`, size: 'alert', from: r.from, to: r.to });
  const photo = { source: png.png, filename: `equity-${period}.png`, contentType: 'image/png' };
  const text = reportText(r, d.tg.reports.timeZone);
  const caption = equityCaption(title, r.points);
  const items: EnqueueItem[] = [];
  for (const c of await d.access.broadcastChats()) {
    items.push({ key: `report:${period}:${slot}:${c.chatId}:png`, chatId: c.chatId, op: { type: 'photo', fileId: '', caption }, photo });
    items.push({ key: `report:${period}:${slot}:${c.chatId}:text`, chatId: c.chatId, op: { type: 'text', text } });
  }
  return { queued: (await enqueue(d.state, items, now)).length, trades: r.trades.length };
}

/** `2025-06-22T14` (UTC hour): one report per scheduled run. */
export function reportSlot(now: number): string {
  return new Date(now).toISOString().slice(0, 13);
}
