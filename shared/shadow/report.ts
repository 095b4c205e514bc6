/** The shadow run as plain-text tables: champion vs challengers per period (shared/backtest/text-table.ts). */
import type { ShadowResults } from '../learning/types.js';
import { fmt, table } from '../backtest/text-table.js';
import { CHAMPION } from './variations.js';

/** Human period name: 24 -> 24h, 72 -> 3d, 720 -> 30d. */
export function periodLabel(hours: number): string {
  return hours % 24 === 0 && hours >= 48 ? `${hours / 24}d` : `${hours}h`;
}

/**
 * The significance mark of a challenger's period: `+*` / `-*` when its mean P&L % per trade differs
 * from the champion's with p < significanceP (better / worse), empty otherwise.
 */
export function significanceMark(p: number | null, meanPnlPct: number | null, championMeanPnlPct: number | null, significanceP: number): string {
  if (p === null || !(p < significanceP) || meanPnlPct === null || championMeanPnlPct === null) return '';
  return meanPnlPct > championMeanPnlPct ? '+*' : meanPnlPct < championMeanPnlPct ? '-*' : '';
}

/** One table per period (variations as rows), then the variations that did not run and the notes. */
export function formatShadow(r: ShadowResults): string {
  const iso = (t: number) => `${new Date(t).toISOString().slice(0, 16)}Z`;
  const perScan = r.scans > 0 ? `${(r.wallMs / r.scans).toFixed(3)} ms per scan` : 'no scans';
  const out = [
    `Shadow run ${r.runId}: ${r.symbols.join(', ')} ${iso(r.from)} -> ${iso(r.to)}; ${r.variations.filter((v) => !v.error).length} variations on ${r.scans} champion scans, ${(r.wallMs / 1000).toFixed(1)} s (${perScan})`,
    `p: Welch t-test of the per-trade P&L % against the champion's, two-sided; +* / -* = better / worse at p < ${r.significanceP}. Trades counted by exit time in the last N hours of the window.`,
  ];
  const champion = r.variations.find((v) => v.name === CHAMPION);
  for (const h of r.periodsHours) {
    const key = String(h);
    const c = champion?.periods[key];
    const rows = r.variations
      .filter((v) => v.error === undefined && v.periods[key])
      .map((v) => {
        const p = v.periods[key]!;
        const dPnl = v.name === CHAMPION || !c ? '' : fmt(p.pnl - c.pnl);
        return [
          v.name,
          String(p.trades),
          p.winRate === null ? '-' : fmt(p.winRate * 100, 1),
          fmt(p.profitFactor),
          fmt(p.pnl),
          dPnl,
          fmt(p.meanPnlPct, 3),
          v.name === CHAMPION ? '' : fmt(p.pValue, 3),
          v.name === CHAMPION ? '' : significanceMark(p.pValue, p.meanPnlPct, c?.meanPnlPct ?? null, r.significanceP),
        ];
      });
    out.push(`last ${periodLabel(h)}\n${table(['variation', 'trades', 'win %', 'PF', 'P&L USD', 'vs champ', 'avg P&L %', 'p', 'sig'], rows)}`);
  }
  const failed = r.variations.filter((v) => v.error !== undefined);
  if (failed.length > 0) out.push(`not run:\n${failed.map((v) => `  ${v.name}: ${v.error}`).join('\n')}`);
  const noted = r.variations.filter((v) => v.note !== undefined);
  if (noted.length > 0) out.push(`notes:\n${noted.map((v) => `  ${v.name}: ${v.note}`).join('\n')}`);
  return out.join('\n\n');
}
