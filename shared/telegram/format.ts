/**
 * Message texts (HTML parse mode; every dynamic value escaped): trade alerts and their edits, system
 * alerts, trade lines for /last and the reports.
 */
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import { escapeHtml, fmtDuration, fmtPct, fmtPrice, fmtTimeUtc, fmtUsd, html, MAX_CAPTION_CHARS, truncateHtml } from './html.js';
import type { Alert } from '../messages.js';
import type { MlPrediction } from '../model/trading.js';
import { mlAlertLine } from './research.js';

/** One trade group's alert, stored at `tg_alerts/{alertKey}` (what edits and buttons work from). */
export interface AlertRecord {
  alertKey: string;
  groupId: string;
  signalId: string;
  symbol: string;
  strategy: string;
  engine: 'SCALP' | 'SWING';
  direction: 'LONG' | 'SHORT';
  entry: number;
  stopLoss: number;
  takeProfit: number;
  confidence: number | null;
  /** Decision time and the open time of its candle. */
  ts: number;
  candleTime: number;
  reasons: string[];
  /** signal: placed, not filled yet; rejected: the core did not take the signal (`rejection` says why). */
  status: 'signal' | 'open' | 'closed' | 'cancelled' | 'rejected';
  fill: { price: number; qty: number; time: number } | null;
  exit: { price: number; time: number; reason: string; pnl: number; pnlPct: number } | null;
  /**
   * How the alert presents the signal: `trade` (what happened to it: opened, later edited; or NOT
   * TAKEN), `signal_only` (the plan only, no trade wording, never edited: config `alerts.signalOnly`).
   * Absent on records written before the choice existed: `trade`.
   */
  view?: 'trade' | 'signal_only';
  /** The signal's entry grid (absent on older records: `entry` only). */
  entries?: number[];
  /** Why the core did not take the signal (status `rejected`). */
  rejection?: { reason: string; detail: string } | null;
  /** The learning loop's prediction for the signal (absent: the strategy has no model). */
  ml?: MlPrediction;
}

/** Edit ranks: a later stage never gets overwritten by an earlier one delivered late. */
export const RANK = { signal: 0, open: 1, cancelled: 2, closed: 3 } as const;

/** The alert follows a trade (edits, Move TP): a trade view whose signal was taken and is not over. */
export function isTradeInProgress(a: AlertRecord): boolean {
  return (a.view ?? 'trade') === 'trade' && (a.status === 'signal' || a.status === 'open');
}

/** Short labels of the trading core's rejection reasons (core.ts RejectReason); others read as their code. */
const REJECT_LABELS: Record<string, string> = {
  not_emitting: 'strategy is log-only',
  owner_paused: 'trading paused by the owner',
  live_unavailable: 'live trading unavailable',
  stale_signal: 'signal too old',
  invalid_levels: 'invalid levels',
  daily_loss_halt: 'daily loss limit reached',
  loss_streak_pause: 'paused after a loss streak',
  regime_reference_missing: 'market regime unknown (no BTC data)',
  regime_reference_stale: 'market regime unknown (BTC data stale)',
  regime_panic: 'BTC regime PANIC',
  strategy_disabled_volatility: 'strategy disabled by volatility',
  symbol_cooldown: 'symbol cooling down',
  macro_bias_filter: 'against the macro bias',
  position_exists: 'position already open',
  opposite_position_live: 'opposite live position on this coin',
  strategy_position_limit: 'strategy position limit',
  total_position_limit: 'total position limit',
  risk_budget_exhausted: 'risk budget used up',
  allocation_exhausted: 'allocation used up',
  notional_cap: 'notional cap',
  ml_filter: 'ML filter: P(win) below the minimum confidence',
  ml_unavailable: 'ML filter: the model could not predict',
};

function rejectLabel(reason: string): string {
  return REJECT_LABELS[reason] ?? reason.replace(/_/g, ' ');
}

const pctFrom = (from: number, to: number) => ((to - from) / from) * 100;

function directionIcon(d: 'LONG' | 'SHORT'): string {
  return d === 'LONG' ? '🟢' : '🔴';
}

function isWin(pnl: number): boolean {
  return pnl > 0;
}

/** The entry line: the first entry (a trade alert, as placed), or the whole grid of the plan. */
function entryText(a: AlertRecord, grid: boolean): string {
  const entries = grid && a.entries && a.entries.length > 1 ? a.entries : [a.entry];
  return entries.length > 1 ? `Entries ${entries.map((e) => html`<code>${fmtPrice(e)}</code>`).join(' / ')}` : html`Entry <code>${fmtPrice(a.entry)}</code>`;
}

/**
 * The caption of a signal's alert: what happened to the signal (a trade in its current stage, or
 * NOT TAKEN with the core's reason), or, in the signal-only view, the plan alone.
 */
export function alertCaption(a: AlertRecord): string {
  const lines: string[] = [];
  const signalOnly = a.view === 'signal_only';
  lines.push(`${directionIcon(a.direction)} <b>${escapeHtml(a.direction)} ${escapeHtml(a.symbol)}</b> · ${escapeHtml(a.strategy)} (${escapeHtml(a.engine)})`);
  if (signalOnly) lines.push('📡 <b>Signal only</b>');
  lines.push(
    `${entryText(a, signalOnly || a.status === 'rejected')}${html` · TP <code>${fmtPrice(a.takeProfit)}</code> (${fmtPct(pctFrom(a.entry, a.takeProfit))}) · SL <code>${fmtPrice(a.stopLoss)}</code> (${fmtPct(pctFrom(a.entry, a.stopLoss))})`}`,
  );
  const conf = a.confidence !== null ? html`Confidence ${a.confidence.toFixed(0)} · ` : '';
  lines.push(`${conf}${escapeHtml(fmtTimeUtc(a.ts))}`);
  if (a.reasons.length) lines.push(`<i>${escapeHtml(a.reasons.slice(0, 3).join('; '))}</i>`);
  const ml = mlAlertLine(a.ml, a.rejection?.reason);
  if (ml) lines.push(ml);
  if (signalOnly) return truncateHtml(lines.join('\n'), MAX_CAPTION_CHARS);
  if (a.status === 'rejected') {
    const r = a.rejection;
    lines.push(`🚫 <b>NOT TAKEN</b>${r ? html`: ${rejectLabel(r.reason)}` : ''}`);
    if (r?.detail) lines.push(html`<i>${r.detail}</i>`);
  }
  if (a.status === 'open' && a.fill) lines.push(html`✅ <b>Opened</b> at <code>${fmtPrice(a.fill.price)}</code> · qty ${a.fill.qty}`);
  if (a.status === 'cancelled') lines.push('⌛ <b>Cancelled</b>: the entry was not filled in time');
  if (a.status === 'closed' && a.exit) {
    const win = isWin(a.exit.pnl);
    lines.push(
      `${win ? '🏆 <b>WIN</b>' : '❌ <b>LOSS</b>'} ${escapeHtml(fmtPct(a.exit.pnlPct))} (${escapeHtml(fmtUsd(a.exit.pnl))}) · ${escapeHtml(a.exit.reason.replace(/_/g, ' '))} at <code>${escapeHtml(fmtPrice(a.exit.price))}</code>`,
    );
    if (a.fill) lines.push(html`Held ${fmtDuration(a.exit.time - a.fill.time)}`);
  }
  return truncateHtml(lines.join('\n'), MAX_CAPTION_CHARS);
}

const SEVERITY_ICON: Record<Alert['severity'], string> = { info: 'ℹ️', warning: '⚠️', critical: '🚨' };

export function systemAlertText(a: Alert): string {
  const head = `${SEVERITY_ICON[a.severity]} <b>${escapeHtml(a.kind.replace(/_/g, ' ').toUpperCase())}</b>${a.subject ? ` · ${escapeHtml(a.subject)}` : ''}`;
  return truncateHtml(`${head}\n${escapeHtml(a.message)}\n<i>${escapeHtml(fmtTimeUtc(a.ts))}</i>`, 4096);
}

/** One closed trade on one line, with its win/loss badge. */
export function tradeLine(t: ClosedTradeRecord): string {
  const badge = isWin(t.pnl) ? '🏆 WIN' : '❌ LOSS';
  return html`${badge} ${t.direction} ${t.symbol} ${fmtPct(t.pnlPct)} (${fmtUsd(t.pnl)}) · ${t.strategy} · ${t.exitReason.replace(/_/g, ' ')} · ${fmtTimeUtc(t.exitTime)}`;
}

export function tradeCaption(t: ClosedTradeRecord): string {
  const badge = isWin(t.pnl) ? '🏆 <b>WIN</b>' : '❌ <b>LOSS</b>';
  return truncateHtml(
    [
      `${badge} ${directionIcon(t.direction)} <b>${escapeHtml(t.direction)} ${escapeHtml(t.symbol)}</b> · ${escapeHtml(t.strategy)}`,
      html`Entry <code>${fmtPrice(t.avgEntry)}</code> → exit <code>${fmtPrice(t.exitPrice)}</code> (${t.exitReason.replace(/_/g, ' ')})`,
      html`P&amp;L ${fmtPct(t.pnlPct)} (${fmtUsd(t.pnl)}) · held ${fmtDuration(t.exitTime - t.entryTime)}`,
      html`${fmtTimeUtc(t.exitTime)}`,
    ].join('\n'),
    MAX_CAPTION_CHARS,
  );
}
