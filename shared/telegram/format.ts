/**
 * Message texts (HTML parse mode; every dynamic value escaped): trade alerts and their edits, system
 * alerts, trade lines for /last and the reports.
 */
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import { escapeHtml, fmtDuration, fmtPct, fmtPrice, fmtTimeUtc, fmtUsd, html, MAX_CAPTION_CHARS, truncateHtml } from './html.js';
import type { Alert } from '../messages.js';

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
  status: 'signal' | 'open' | 'closed' | 'cancelled';
  fill: { price: number; qty: number; time: number } | null;
  exit: { price: number; time: number; reason: string; pnl: number; pnlPct: number } | null;
}

/** Edit ranks: a later stage never gets overwritten by an earlier one delivered late. */
export const RANK = { signal: 0, open: 1, cancelled: 2, closed: 3 } as const;

const pctFrom = (from: number, to: number) => ((to - from) / from) * 100;

export function directionIcon(d: 'LONG' | 'SHORT'): string {
  return d === 'LONG' ? '🟢' : '🔴';
}

export function isWin(pnl: number): boolean {
  return pnl > 0;
}

/** The caption of a trade alert in its current stage. */
export function alertCaption(a: AlertRecord): string {
  const lines: string[] = [];
  lines.push(`${directionIcon(a.direction)} <b>${escapeHtml(a.direction)} ${escapeHtml(a.symbol)}</b> · ${escapeHtml(a.strategy)} (${escapeHtml(a.engine)})`);
  lines.push(
    html`Entry <code>${fmtPrice(a.entry)}</code> · TP <code>${fmtPrice(a.takeProfit)}</code> (${fmtPct(pctFrom(a.entry, a.takeProfit))}) · SL <code>${fmtPrice(a.stopLoss)}</code> (${fmtPct(pctFrom(a.entry, a.stopLoss))})`,
  );
  const conf = a.confidence !== null ? html`Confidence ${a.confidence.toFixed(0)} · ` : '';
  lines.push(`${conf}${escapeHtml(fmtTimeUtc(a.ts))}`);
  if (a.reasons.length) lines.push(`<i>${escapeHtml(a.reasons.slice(0, 3).join('; '))}</i>`);
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
