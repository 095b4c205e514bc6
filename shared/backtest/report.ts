/**
 * Backtest output, pure (text in, text out; the CLI writes the files): console tables, the JSON
 * document, and a self-contained HTML page with an inline SVG chart (marked equity with its running
 * peak, the drawdown panel, and a marker per trade at its exit on the equity curve: green up-triangle
 * = win, red down-triangle = loss; hover shows the trade), the analysis tables (analysis.ts) and the
 * trade list: clicking a trade (or its marker) shows that trade's chart, drawn by the bot's chart code
 * (shared/charts/trade-chart.ts: candles around the trade, entry / planned TP / planned SL lines, entry
 * and exit markers). No script, no external resource: the charts are inline SVGs shown by CSS
 * `:target`. Size: at most TRADE_CHART_MAX_CANDLES candles per chart (a longer trade is drawn on 5m /
 * 15m / 1h / 4h candles resampled from the 1m ones), no volume bars, at most MAX_TRADE_CHARTS charts.
 */
import { escapeXml } from '../charts/svg.js';
import { buildTradeChart } from '../charts/trade-chart.js';
import { formatNumber, priceDecimals } from '../charts/scale.js';
import { INTERVAL_MS, type Interval } from '../model/market.js';
import { resample } from '../strategies/resample.js';
import { candleAt, sliceSeries, type CandleSeries } from '../strategies/series.js';
import { lowerBound, upperBound } from '../sorted.js';
import { BREAKDOWN_HEADERS, breakdownCells, entryFeatures, type Breakdown, type RunAnalysis, type ScanLog } from './analysis.js';
import { stepVertices } from '../charts/equity-chart.js';
import type { ClosedTrade } from '../model/trading.js';
import type { BacktestResult } from './run.js';
import type { GridResult } from './grid.js';
import { DEFAULT_MIN_TRADES, type BacktestMetrics } from './metrics.js';
import type { StressReport } from './stress.js';
import type { WalkForwardResult } from './walk-forward.js';
import { upperBoundBy } from '../sorted.js';
import { fmt, table } from './text-table.js';

/** Equity points kept in the JSON / chart (decimated by time buckets, keeping each bucket's min and max). */
export const MAX_CHART_POINTS = 2_000;

const iso = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

export { table };

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
  // A run below --min-trades ranks after every run that meets it: its rank is marked `*`.
  const rows = g.rows.slice(0, top).map((r) => [`${r.rank}${r.eligible === false ? '*' : ''}`, ...dims.map((d) => r.labels[d] ?? ''), ...metricCells(r.metrics)]);
  const thin = g.rows.filter((r) => r.eligible === false).length;
  return [
    `Grid: ${g.runs} runs on ${g.workers || 1} ${g.workers ? 'worker thread(s)' : 'thread (inline)'}, ${(g.wallMs / 1000).toFixed(1)} s, ranked by ${g.objective} (top ${Math.min(top, g.rows.length)})`,
    table(['#', ...dims, ...METRIC_HEADERS], rows),
    ...(thin > 0 ? [`* ${thin} run(s) closed fewer than ${g.minTrades ?? DEFAULT_MIN_TRADES} trades (--min-trades): ranked after every run that did`] : []),
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
  /** Breakdown and entry-feature tables (analysis.ts analyseRun). */
  analysis?: RunAnalysis;
  /**
   * The run's 1m candles (every symbol traded): with them each trade gets its chart. `decisions`
   * (the scan log) gives the planned TP / SL when the trade's own feature copy does not.
   */
  tradeCharts?: { series: readonly CandleSeries[]; decisions?: ScanLog['decisions'] };
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
  for (const [k, t] of x.trades.entries()) {
    const cx = X(t.exitTime);
    const cy = Y(equityAt(pts, t.exitTime));
    const win = t.pnl > 0;
    const s = 5;
    const shape = win ? `${f(cx)},${f(cy - s)} ${f(cx - s)},${f(cy + s)} ${f(cx + s)},${f(cy + s)}` : `${f(cx)},${f(cy + s)} ${f(cx - s)},${f(cy - s)} ${f(cx + s)},${f(cy - s)}`;
    const tip = `${t.symbol} ${t.direction} ${t.strategy}: ${iso(t.entryTime)} -> ${iso(t.exitTime)} ${t.exitReason}, P&L ${t.pnl.toFixed(2)} USD (${t.pnlPct.toFixed(3)} %)`;
    body.push(`<a href="#trade-${k + 1}"><polygon class="trade ${win ? 'win' : 'loss'}" points="${shape}" fill="${win ? '#089981' : '#f23645'}"><title>${escapeXml(tip)}</title></polygon></a>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${body.join('')}</svg>`;
}

/** Candles per trade chart at most (the window is resampled to a coarser interval past it). */
export const TRADE_CHART_MAX_CANDLES = 90;
/** Candles shown before the entry and after the exit (of the chart's interval). */
const TRADE_CHART_BEFORE = 30;
const TRADE_CHART_AFTER = 10;
/** Trade charts embedded at most (the trade list goes on without charts past it, and says so). */
export const MAX_TRADE_CHARTS = 1_000;
const CHART_INTERVALS: readonly Interval[] = ['1m', '5m', '15m', '1h', '4h', '1d'];

/** Open time of the `iv` candle in which a fill at `t` (a candle close time) happened. */
const candleOf = (t: number, iv: number) => Math.floor((t - 1) / iv) * iv;

/**
 * The candles around a trade: TRADE_CHART_BEFORE before the entry to TRADE_CHART_AFTER after the exit,
 * on the finest interval that keeps them within TRADE_CHART_MAX_CANDLES (1m, else resampled).
 */
export function tradeWindow(s: CandleSeries, entryTime: number, exitTime: number): { interval: Interval; candles: ReturnType<typeof candleAt>[] } | null {
  const baseMs = INTERVAL_MS[s.interval];
  for (const iv of CHART_INTERVALS) {
    const ms = INTERVAL_MS[iv];
    if (ms < baseMs) continue;
    const a = candleOf(entryTime, ms) - TRADE_CHART_BEFORE * ms;
    const b = candleOf(exitTime, ms) + TRADE_CHART_AFTER * ms;
    if ((b - a) / ms + 1 > TRADE_CHART_MAX_CANDLES && iv !== '1d') continue;
    const lo = lowerBound(s.openTime, a);
    const hi = upperBound(s.openTime, b + ms - baseMs);
    if (hi <= lo) return null;
    const view = sliceSeries(s, lo, hi);
    const src = ms === baseMs ? view : resample(view, iv).series;
    return { interval: iv, candles: Array.from({ length: src.length }, (_, i) => candleAt(src, i)) };
  }
  return null;
}

/** One trade's chart (inline SVG, ids made unique by `k`), or null without candles for it. */
export function tradeChartSvg(t: ClosedTrade, s: CandleSeries | undefined, k: number, planned: { takeProfit?: number; stopLoss?: number } = {}): string | null {
  if (!s) return null;
  const w = tradeWindow(s, t.entryTime, t.exitTime);
  if (!w || w.candles.length === 0) return null;
  const ms = INTERVAL_MS[w.interval];
  const svg = buildTradeChart({
    candles: w.candles,
    entry: t.avgEntry,
    ...(planned.takeProfit !== undefined ? { takeProfit: planned.takeProfit } : {}),
    ...(planned.stopLoss !== undefined ? { stopLoss: planned.stopLoss } : {}),
    entryTime: candleOf(t.entryTime, ms),
    exit: { time: candleOf(t.exitTime, ms), price: t.exitPrice },
    title: { symbol: t.symbol, interval: w.interval, strategy: t.strategy, direction: t.direction },
    badge: t.pnl > 0 ? 'WIN' : 'LOSS',
    size: 'alert',
    volume: false,
  }).svg;
  return svg.replace(/id="plot"/g, `id="plot-${k}"`).replace(/url\(#plot\)/g, `url(#plot-${k})`);
}

function plannedExits(t: ClosedTrade, decisions: ReadonlyMap<string, Record<string, unknown>>): { takeProfit?: number; stopLoss?: number } {
  const f = entryFeatures(t, decisions).features;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;
  return { ...(ok(f?.takeProfit) ? { takeProfit: f.takeProfit } : {}), ...(ok(f?.stopLoss) ? { stopLoss: f.stopLoss } : {}) };
}

function breakdownHtml(b: Breakdown): string {
  const head = [b.name.replace(/^feature:/, ''), ...BREAKDOWN_HEADERS].map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const rows = b.rows.map((r) => `<tr><td class="k">${escapeXml(r.key)}</td>${breakdownCells(r).map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('');
  return `<table class="breakdown" data-name="${escapeXml(b.name)}"><caption>${escapeXml(b.title)}</caption><tr>${head}</tr>${rows}</table>`;
}

function analysisHtml(a: RunAnalysis): string {
  if (a.trades === 0) return '';
  const s = a.featureSources;
  return `<h2 id="analysis">Breakdowns</h2>
<div class="grid">${a.groups.map(breakdownHtml).join('\n')}</div>
<h2>Entry features against outcome</h2>
<p>${s.decision} trade(s) joined to their scan decision, ${s.tradeRow} from the trade's own feature copy, ${s.none} without features; n/a = the decision did not record that feature.</p>
<div class="grid">${a.features.map(breakdownHtml).join('\n')}</div>`;
}

/** The trade list (ordered by entry) and, per trade, its chart shown on click (CSS :target). */
function tradesHtml(x: HtmlChartInput): string {
  if (x.trades.length === 0) return '';
  const bySymbol = new Map((x.tradeCharts?.series ?? []).map((s) => [s.symbol, s]));
  const decisions = new Map((x.tradeCharts?.decisions ?? []).map((d) => [d.signalId, d.features]));
  const order = x.trades.map((t, k) => ({ t, k })).sort((a, b) => a.t.entryTime - b.t.entryTime || a.k - b.k);
  const rows: string[] = [];
  const charts: string[] = [];
  let charted = 0;
  const price = (p: number) => formatNumber(p, priceDecimals(p));
  for (const [n, { t, k }] of order.entries()) {
    const id = `trade-${k + 1}`;
    const svg = x.tradeCharts && charted < MAX_TRADE_CHARTS ? tradeChartSvg(t, bySymbol.get(t.symbol), k + 1, plannedExits(t, decisions)) : null;
    if (svg) {
      charted++;
      charts.push(`<div class="chart" id="${id}"><a class="close" href="#trades">close</a>${svg}</div>`);
    }
    const cls = t.pnl > 0 ? 'win' : 'loss';
    const cells = [
      iso(t.entryTime), t.symbol, t.strategy, t.direction, price(t.avgEntry), iso(t.exitTime), price(t.exitPrice), t.exitReason,
      t.pnl.toFixed(2), t.pnlPct.toFixed(3), ((t.exitTime - t.entryTime) / 60_000).toFixed(0),
    ];
    // Numbered in entry order; the anchor is the trade's index in the run (the equity markers link to it too).
    const first = svg ? `<a href="#${id}">${n + 1}</a>` : String(n + 1);
    rows.push(`<tr class="trade-row ${cls}" data-trade="${k + 1}"><td>${first}</td>${cells.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`);
  }
  const head = ['#', 'entry (UTC)', 'pair', 'strategy', 'dir', 'entry price', 'exit (UTC)', 'exit price', 'exit reason', 'P&L USD', 'P&L %', 'min'].map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const note = !x.tradeCharts
    ? '<p>No candles were given: trades without charts.</p>'
    : charted < x.trades.length
      ? `<p>${charted} of ${x.trades.length} trades have a chart${x.trades.length > MAX_TRADE_CHARTS ? ` (at most ${MAX_TRADE_CHARTS})` : ''}.</p>`
      : '<p>Click a trade number (or a marker on the equity chart) for its chart: candles around the trade, entry, planned take profit / stop loss, entry and exit markers.</p>';
  return `<h2 id="trades">Trades (${x.trades.length}, by entry time)</h2>
${note}
<table class="trades"><tr>${head}</tr>${rows.join('\n')}</table>
${charts.join('\n')}`;
}

/** The whole self-contained page. */
export function htmlReport(x: HtmlChartInput): string {
  const m = x.metrics;
  const cells = metricCells(m);
  const rows = METRIC_HEADERS.map((h, k) => `<tr><th>${escapeXml(h)}</th><td>${escapeXml(cells[k] ?? '')}</td></tr>`).join('');
  const notes = (x.notes ?? []).map((n) => `<li>${escapeXml(n)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(x.title)}</title>
<style>body{background:#0b0e14;color:#d1d4dc;font:14px sans-serif;margin:24px}table{border-collapse:collapse}th,td{padding:3px 10px;text-align:right}th{color:#b2b5be;text-align:left}.trade{cursor:pointer}
a{color:#6ea8fe}caption{text-align:left;color:#b2b5be;padding:6px 0}.grid{display:flex;flex-wrap:wrap;gap:8px 32px;align-items:flex-start}td.k{text-align:left}
.trades tr.win td:nth-child(10){color:#089981}.trades tr.loss td:nth-child(10){color:#f23645}.trades tr:hover{background:#1e222d}
.chart{display:none}.chart:target{display:block;position:fixed;right:16px;bottom:16px;background:#131722;border:1px solid #2a2e39;padding:6px;box-shadow:0 4px 24px #000}.chart .close{display:block;text-align:right;padding:0 4px 4px}</style>
</head><body>
<h1>${escapeXml(x.title)}</h1>
${x.subtitle ? `<p>${escapeXml(x.subtitle)}</p>` : ''}
${equitySvg(x)}
<p>Blue: marked equity; grey: running peak; red: drawdown; triangles: trades at their exit (green up = win, red down = loss; hover for details).</p>
<table>${rows}</table>
${notes ? `<ul>${notes}</ul>` : ''}
${x.analysis ? analysisHtml(x.analysis) : ''}
${tradesHtml(x)}
</body></html>
`;
}
