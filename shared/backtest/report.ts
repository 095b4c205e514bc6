/**
 * Backtest output, pure (text in, text out; the CLI writes the files): console tables, the JSON
 * document, and a self-contained HTML page with an inline SVG chart (marked equity with its running
 * peak, the drawdown panel, and a marker per trade at its exit on the equity curve: green up-triangle
 * = win, red down-triangle = loss; hover shows the trade). No script, no external resource.
 */
import { escapeXml } from '../charts/svg.js';
import { stepVertices } from '../charts/equity-chart.js';
import type { ClosedTrade } from '../model/trading.js';
import type { BacktestResult } from './run.js';
import type { GridResult } from './grid.js';
import type { BacktestMetrics } from './metrics.js';
import type { StressReport } from './stress.js';
import type { WalkForwardResult } from './walk-forward.js';
import { upperBoundBy } from '../sorted.js';

/** Equity points kept in the JSON / chart (decimated by time buckets, keeping each bucket's min and max). */
export const MAX_CHART_POINTS = 2_000;

const iso = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

function fmt(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

/** A plain-text table (right-aligned numbers, left-aligned first column). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = headers.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, k) => (k === 0 ? c.padEnd(w[k] as number) : c.padStart(w[k] as number))).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export const METRIC_HEADERS = ['trades', 'win %', 'P&L USD', 'P&L %', 'max DD %', 'PF', 'expect USD', 'Sharpe', 'Sortino', 'avg min', 'market %', 'best', 'worst'] as const;

export function metricCells(m: BacktestMetrics): string[] {
  return [
    String(m.trades),
    m.winRate === null ? '-' : fmt(m.winRate * 100, 1),
    fmt(m.totalPnl),
    fmt(m.totalPnlPct),
    fmt(m.maxDrawdownPct),
    m.profitFactor === null ? (m.trades > 0 && m.grossLoss === 0 ? 'inf' : '-') : fmt(m.profitFactor),
    fmt(m.expectancy),
    fmt(m.sharpe),
    fmt(m.sortino),
    fmt(m.avgDurationMin, 1),
    fmt(m.marketChangePct),
    m.best ? fmt(m.best.pnl) : '-',
    m.worst ? fmt(m.worst.pnl) : '-',
  ];
}

export function formatRun(r: BacktestResult): string {
  const out: string[] = [];
  out.push(`Backtest ${iso(r.from)} -> ${iso(r.to)} UTC, ${r.symbols.join(', ')}, ${r.steps} candles, indicators: ${r.indicators}, ${(r.wallMs / 1000).toFixed(2)} s`);
  out.push(`strategies: ${r.strategies.map((s) => `${s.id}${s.emit ? '' : ' (log-only)'}`).join(', ') || 'none'}`);
  out.push('');
  out.push(table(['run', ...METRIC_HEADERS], [['result', ...metricCells(r.metrics)]]));
  out.push('');
  const rej = Object.entries(r.rejected).map(([k, n]) => `${k} ${n}`).join(', ');
  out.push(`signals: ${r.accepted} accepted${rej ? `, rejected: ${rej}` : ''}; open at end ${r.openAtEnd} (unrealized ${fmt(r.unrealizedAtEnd)} USD)`);
  out.push(`costs (${r.costProfile}): fees ${fmt(r.metrics.fees)} USD, slippage ${fmt(r.metrics.slippage)} USD; fills: entries ${r.fills.entry.maker} maker / ${r.fills.entry.taker} taker, exits ${r.fills.exit.maker} maker / ${r.fills.exit.taker} taker`);
  out.push(`exit reasons: ${Object.entries(r.metrics.exitReasons).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; Sharpe/Sortino on ${r.metrics.returnPeriodMs / 60_000}-minute returns, annualised`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

export function formatGrid(g: GridResult, top = 10): string {
  const dims = Object.keys(g.rows[0]?.labels ?? {});
  const rows = g.rows.slice(0, top).map((r) => [String(r.rank), ...dims.map((d) => r.labels[d] ?? ''), ...metricCells(r.metrics)]);
  return [
    `Grid: ${g.runs} runs on ${g.workers || 1} ${g.workers ? 'worker thread(s)' : 'thread (inline)'}, ${(g.wallMs / 1000).toFixed(1)} s, ranked by ${g.objective} (top ${Math.min(top, g.rows.length)})`,
    table(['#', ...dims, ...METRIC_HEADERS], rows),
  ].join('\n');
}

export function formatWalkForward(w: WalkForwardResult): string {
  const rows = w.windows.map((x, k) => [
    String(k + 1),
    `${iso(x.trainFrom)} .. ${iso(x.trainTo)}`,
    `${iso(x.testFrom)} .. ${iso(x.testTo)}`,
    Object.values(x.chosen.labels).join(' | '),
    fmt(x.chosen.metrics.totalPnl),
    ...metricCells(x.test),
  ]);
  return [
    `Walk-forward: ${w.windows.length} windows, ${(w.wallMs / 1000).toFixed(1)} s (params chosen on train, P&L on test)`,
    table(['#', 'train', 'test', 'chosen', 'train P&L', ...METRIC_HEADERS], rows),
    table(['out of sample', ...METRIC_HEADERS], [['all tests', ...metricCells(w.outOfSample)]]),
  ].join('\n');
}

export function formatStress(s: StressReport): string {
  const rows = s.rows.map((r) => [String(r.rank), `${iso(r.from)} .. ${iso(r.to)}`, fmt(r.volatilityPct), ...metricCells(r.metrics)]);
  return [`Stress: the ${s.rows.length} most volatile ${s.windowMs / 3_600_000} h windows`, table(['vol rank', 'window', 'range %', ...METRIC_HEADERS], rows)].join('\n');
}

/** Equity points decimated to at most `max` (per time bucket: first, min, max, last kept in order). */
export function decimateEquity(time: ArrayLike<number>, equity: ArrayLike<number>, n: number, max: number = MAX_CHART_POINTS): Array<{ t: number; equity: number }> {
  if (n <= max) return Array.from({ length: n }, (_, k) => ({ t: time[k] as number, equity: equity[k] as number }));
  const buckets = Math.max(1, Math.floor(max / 4));
  const per = n / buckets;
  const out: Array<{ t: number; equity: number }> = [];
  for (let b = 0; b < buckets; b++) {
    const a = Math.floor(b * per);
    const e = Math.min(n, Math.floor((b + 1) * per));
    let lo = a;
    let hi = a;
    for (let k = a; k < e; k++) {
      if ((equity[k] as number) < (equity[lo] as number)) lo = k;
      if ((equity[k] as number) > (equity[hi] as number)) hi = k;
    }
    for (const k of [...new Set([a, lo, hi, e - 1])].sort((x, y) => x - y)) out.push({ t: time[k] as number, equity: equity[k] as number });
  }
  return out;
}

/** Equity marked at a time: the last sample at or before t. */
function equityAt(points: ReadonlyArray<{ t: number; equity: number }>, t: number): number {
  if (points.length === 0) return 0;
  const k = Math.max(0, upperBoundBy(points, t, (p) => p.t) - 1);
  return (points[k] as { equity: number }).equity;
}

export interface HtmlChartInput {
  title: string;
  subtitle?: string;
  startingEquity: number;
  start: number;
  time: ArrayLike<number>;
  equity: ArrayLike<number>;
  samples: number;
  trades: readonly ClosedTrade[];
  metrics: BacktestMetrics;
  notes?: readonly string[];
}

const W = 1200;
const H = 640;
const PAD = { left: 80, right: 20, top: 20, bottom: 40 };
const DD_SHARE = 0.28;
const GAP = 24;

/** The SVG chart alone (equity + peak, drawdown panel, trade markers). */
export function equitySvg(x: HtmlChartInput): string {
  const pts = [{ t: x.start, equity: x.startingEquity }, ...decimateEquity(x.time, x.equity, x.samples)];
  const last = pts[pts.length - 1] as { t: number };
  const t0 = x.start;
  const t1 = Math.max(last.t, t0 + 1);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const p of pts) {
    lo = Math.min(lo, p.equity);
    hi = Math.max(hi, p.equity);
  }
  const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.01 || 1;
  lo -= pad;
  hi += pad;
  const plotH = (H - PAD.top - PAD.bottom - GAP) * (1 - DD_SHARE);
  const ddTop = PAD.top + plotH + GAP;
  const ddH = (H - PAD.top - PAD.bottom - GAP) * DD_SHARE;
  const X = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const Y = (e: number) => PAD.top + (1 - (e - lo) / (hi - lo)) * plotH;
  let peak = Number.NEGATIVE_INFINITY;
  const dd = pts.map((p) => {
    peak = Math.max(peak, p.equity);
    return { t: p.t, peak, dd: peak > 0 ? p.equity / peak - 1 : 0 };
  });
  const ddMin = Math.min(-0.001, ...dd.map((d) => d.dd)) * 1.1;
  const YD = (v: number) => ddTop + (v / ddMin) * ddH;
  const f = (v: number) => v.toFixed(1);
  // Steps (equity changes at fills and exits, and holds between samples), from the first sample to the last.
  const path = (v: Array<[number, number]>) => v.map(([a, b], k) => `${k === 0 ? 'M' : 'L'}${f(a)},${f(b)}`).join('');
  const eqPath = path(stepVertices(pts, X, (p) => Y(p.equity)));
  const peakPath = path(stepVertices(dd, X, (p) => Y(p.peak)));
  const ddVerts = stepVertices(dd, X, (p) => YD(p.dd));
  const ddPath = `M${f(X(pts[0]!.t))},${f(YD(0))}` + ddVerts.map(([a, b]) => `L${f(a)},${f(b)}`).join('') + `L${f(X(last.t))},${f(YD(0))}Z`;
  const body: string[] = [];
  body.push(`<rect width="${W}" height="${H}" fill="#131722"/>`);
  // y axis labels (5 ticks) and time labels (6 ticks)
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const y = Y(v);
    body.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(y)}" y2="${f(y)}" stroke="#2a2e39"/>`);
    body.push(`<text x="${PAD.left - 6}" y="${f(y + 4)}" fill="#b2b5be" font-size="11" text-anchor="end">${v.toFixed(0)}</text>`);
  }
  for (let k = 0; k <= 5; k++) {
    const t = t0 + ((t1 - t0) * k) / 5;
    body.push(`<text x="${f(X(t))}" y="${H - 14}" fill="#b2b5be" font-size="11" text-anchor="middle">${escapeXml(iso(t))}</text>`);
  }
  body.push(`<text x="${PAD.left - 6}" y="${f(ddTop + 10)}" fill="#b2b5be" font-size="11" text-anchor="end">0 %</text>`);
  body.push(`<text x="${PAD.left - 6}" y="${f(ddTop + ddH)}" fill="#b2b5be" font-size="11" text-anchor="end">${(ddMin * 100).toFixed(1)} %</text>`);
  body.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(Y(x.startingEquity))}" y2="${f(Y(x.startingEquity))}" stroke="#787b86" stroke-dasharray="4 4"/>`);
  body.push(`<path d="${peakPath}" fill="none" stroke="#787b86" stroke-width="1"/>`);
  body.push(`<path d="${eqPath}" fill="none" stroke="#2962ff" stroke-width="2"/>`);
  body.push(`<path d="${ddPath}" fill="rgba(242,54,69,0.45)" stroke="#f23645" stroke-width="1"/>`);
  for (const t of x.trades) {
    const cx = X(t.exitTime);
    const cy = Y(equityAt(pts, t.exitTime));
    const win = t.pnl > 0;
    const s = 5;
    const shape = win ? `${f(cx)},${f(cy - s)} ${f(cx - s)},${f(cy + s)} ${f(cx + s)},${f(cy + s)}` : `${f(cx)},${f(cy + s)} ${f(cx - s)},${f(cy - s)} ${f(cx + s)},${f(cy - s)}`;
    const tip = `${t.symbol} ${t.direction} ${t.strategy}: ${iso(t.entryTime)} -> ${iso(t.exitTime)} ${t.exitReason}, P&L ${t.pnl.toFixed(2)} USD (${t.pnlPct.toFixed(3)} %)`;
    body.push(`<polygon class="trade ${win ? 'win' : 'loss'}" points="${shape}" fill="${win ? '#089981' : '#f23645'}"><title>${escapeXml(tip)}</title></polygon>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${body.join('')}</svg>`;
}

/** The whole self-contained page. */
export function htmlReport(x: HtmlChartInput): string {
  const m = x.metrics;
  const cells = metricCells(m);
  const rows = METRIC_HEADERS.map((h, k) => `<tr><th>${escapeXml(h)}</th><td>${escapeXml(cells[k] ?? '')}</td></tr>`).join('');
  const notes = (x.notes ?? []).map((n) => `<li>${escapeXml(n)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(x.title)}</title>
<style>body{background:#0b0e14;color:#d1d4dc;font:14px sans-serif;margin:24px}table{border-collapse:collapse}th,td{padding:3px 10px;text-align:right}th{color:#b2b5be;text-align:left}.trade{cursor:pointer}</style>
</head><body>
<h1>${escapeXml(x.title)}</h1>
${x.subtitle ? `<p>${escapeXml(x.subtitle)}</p>` : ''}
${equitySvg(x)}
<p>Blue: marked equity; grey: running peak; red: drawdown; triangles: trades at their exit (green up = win, red down = loss; hover for details).</p>
<table>${rows}</table>
${notes ? `<ul>${notes}</ul>` : ''}
</body></html>
`;
}
