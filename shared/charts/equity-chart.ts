/**
 * Equity curve chart as an SVG document (pure, deterministic). The drawdown is computed here: the
 * running peak of equity, and the drawdown = equity / peak - 1. The main panel shows the equity line
 * over a soft area, the running peak as a thin line, and the drawdown as an opaque red area between the
 * peak and the equity line wherever equity is below its peak; a lower panel shows the drawdown in %
 * ("underwater" curve). The header carries the return and the maximum drawdown.
 *
 * Equity changes in steps (a trade's P&L lands at its exit), so every curve is drawn as steps: a point's
 * value holds until the next point, then the line moves straight up or down. Lines start at the first
 * point and end at the last; the time axis may span a wider period (`from` / `to`), where nothing is
 * drawn for lack of data.
 */
import { z } from 'zod';
import {
  decimalsOf, formatNumber, formatPct, formatTimeTick, formatUtcDate, linearScale, niceStep, niceTicks, timeTicks,
  type LinearScale,
} from './scale.js';
import { centredBaseline, line, polygon, polyline, rect, svgDocument, text } from './svg.js';
import { CHART_SIZES, DARK_THEME, LAYOUT, textWidth, type ChartSize, type Theme } from './theme.js';
import type { PlotRect } from './trade-chart.js';

export interface EquityPoint {
  t: number;
  equity: number;
}

const equityChartInputSchema = z.object({
  points: z
    .array(z.object({ t: z.number().finite(), equity: z.number().finite() }))
    .min(2, 'an equity chart needs at least two points'),
  title: z.string().min(1),
  subtitle: z.string().optional(),
  size: z.enum(['alert', 'large']).optional(),
  from: z.number().finite().optional(),
  to: z.number().finite().optional(),
});

export interface EquityChartInput {
  points: readonly EquityPoint[];
  title: string;
  /** Second header line; default: the UTC date range. */
  subtitle?: string;
  size?: ChartSize;
  /** Start of the time axis (default: the first point); before the first point nothing is drawn. */
  from?: number;
  /** End of the time axis (default: the last point); after the last point nothing is drawn. */
  to?: number;
}

/**
 * Step vertices through points sorted by time: each value holds until the next point's time, where
 * the line moves vertically to the next value.
 */
export function stepVertices<P extends { t: number }>(pts: readonly P[], x: (t: number) => number, y: (p: P) => number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [i, p] of pts.entries()) {
    if (i > 0) out.push([x(p.t), y(pts[i - 1]!)]);
    out.push([x(p.t), y(p)]);
  }
  return out;
}

interface DrawdownPoint extends EquityPoint {
  /** Running maximum of equity up to and including this point. */
  peak: number;
  /** equity / peak - 1 (<= 0), as a fraction. */
  drawdown: number;
}

interface MaxDrawdown {
  /** Most negative drawdown, as a fraction (0 when equity never fell). */
  drawdown: number;
  peakTime: number;
  peak: number;
  troughTime: number;
  trough: number;
}

/** Running peak and drawdown of an equity series (sorted by time inside). */
export function computeDrawdown(points: readonly EquityPoint[]): { series: DrawdownPoint[]; max: MaxDrawdown } {
  const sorted = [...points].sort((a, b) => a.t - b.t);
  const series: DrawdownPoint[] = [];
  let peak = -Infinity;
  let peakTime = sorted[0]?.t ?? 0;
  let max: MaxDrawdown = { drawdown: 0, peakTime, peak: sorted[0]?.equity ?? 0, troughTime: peakTime, trough: sorted[0]?.equity ?? 0 };
  for (const p of sorted) {
    if (p.equity > peak) {
      peak = p.equity;
      peakTime = p.t;
    }
    const drawdown = peak > 0 ? p.equity / peak - 1 : 0;
    series.push({ t: p.t, equity: p.equity, peak, drawdown });
    if (drawdown < max.drawdown) max = { drawdown, peakTime, peak, troughTime: p.t, trough: p.equity };
  }
  return { series, max };
}

/** At most one min and one max point per pixel column (time order kept), so huge series stay light. */
function decimate(series: readonly DrawdownPoint[], x: (t: number) => number, maxPerColumn = 2): DrawdownPoint[] {
  if (series.length <= maxPerColumn) return [...series];
  const out: DrawdownPoint[] = [];
  let col = Number.NaN;
  let bucket: DrawdownPoint[] = [];
  const flush = () => {
    if (bucket.length === 0) return;
    if (bucket.length <= maxPerColumn) out.push(...bucket);
    else {
      const lo = bucket.reduce((a, b) => (b.drawdown < a.drawdown ? b : a));
      const hi = bucket.reduce((a, b) => (b.equity > a.equity ? b : a));
      const last = bucket[bucket.length - 1]!;
      const keep = new Set([bucket[0]!, lo, hi, last]);
      out.push(...bucket.filter((p) => keep.has(p)));
    }
    bucket = [];
  };
  for (const p of series) {
    const c = Math.floor(x(p.t));
    if (c !== col) {
      flush();
      col = c;
    }
    bucket.push(p);
  }
  flush();
  return out;
}

export interface EquityChartSvg {
  svg: string;
  width: number;
  height: number;
  plot: PlotRect;
  drawdownPanel: PlotRect;
  maxDrawdown: MaxDrawdown;
  /** Pixel positions at the max-drawdown trough: x, and the rows of the peak line and the equity line. */
  marks: { troughX: number; peakY: number; troughY: number };
  totalReturn: number;
}

/** What the drawing steps of the equity chart share: sizes, panels, scales and the (decimated) series. */
interface EquityFrame {
  W: number;
  H: number;
  s: number;
  plot: PlotRect;
  ddPanel: PlotRect;
  /** Time axis span (may be wider than the data). */
  t0: number;
  t1: number;
  x: LinearScale;
  /** Equity axis: data range and its padding. */
  lo: number;
  hi: number;
  pad: number;
  y: LinearScale;
  eqDecimals: number;
  /** Lowest drawdown on the drawdown panel's axis (a fraction, < 0). */
  ddLo: number;
  yd: LinearScale;
  first: DrawdownPoint;
  last: DrawdownPoint;
  max: MaxDrawdown;
  /** The series as drawn (at most a few points per pixel column). */
  pts: DrawdownPoint[];
}

export function buildEquityChart(raw: EquityChartInput, theme: Theme = DARK_THEME): EquityChartSvg {
  const parsed = equityChartInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid equity chart input at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const f = equityFrame(raw);
  const { W, H, max } = f;
  const mark = maxDrawdownMark(f, theme);
  const head = equityHeader(f, raw, theme);
  const body: string[] = [
    rect(0, 0, W, H, { fill: theme.background }),
    ...equityAxes(f, theme),
    ...equityCurves(f, theme),
    ...mark.body,
    ...underwaterPanel(f, theme),
    ...lastEquityTag(f, theme),
    ...head.body,
  ];
  return {
    svg: svgDocument(W, H, body),
    width: W,
    height: H,
    plot: f.plot,
    drawdownPanel: f.ddPanel,
    maxDrawdown: max,
    marks: mark.marks,
    totalReturn: head.totalReturn,
  };
}

/** Panels, time and value scales, and the drawdown series of the chart. */
function equityFrame(raw: EquityChartInput): EquityFrame {
  const { width: W, height: H, scale: s } = CHART_SIZES[raw.size ?? 'alert'];
  const L = LAYOUT;
  const { series, max } = computeDrawdown(raw.points);
  const first = series[0]!;
  const last = series[series.length - 1]!;

  const top = (L.headerHeight + L.plotTopGap) * s;
  const bottom = H - L.timeGutter * s;
  const ddH = Math.round((bottom - top) * L.equityDrawdownShare);
  const plot: PlotRect = { left: L.plotLeft * s, top, right: W - L.priceGutter * s, bottom: bottom - ddH - L.equityPanelGap * s };
  const ddPanel: PlotRect = { left: plot.left, top: bottom - ddH, right: plot.right, bottom };
  const t0 = Math.min(raw.from ?? first.t, first.t);
  const t1 = Math.max(raw.to ?? last.t, last.t, t0 + 1);
  const x = linearScale(t0, t1, plot.left, plot.right);

  let lo = Infinity;
  let hi = -Infinity;
  for (const p of series) {
    lo = Math.min(lo, p.equity);
    hi = Math.max(hi, p.equity);
  }
  const pad = (hi - lo) * L.pricePadShare || Math.abs(hi) * 0.01 || 1;
  const y = linearScale(lo - pad, hi + pad, plot.bottom, plot.top);
  const eqDecimals = Math.min(2, decimalsOf(niceStep(lo - pad, hi + pad, L.priceTicks - 1)));
  const ddLo = Math.min(max.drawdown * 1.1, -0.001);
  const yd = linearScale(ddLo, 0, ddPanel.bottom, ddPanel.top);
  return { W, H, s, plot, ddPanel, t0, t1, x, lo, hi, pad, y, eqDecimals, ddLo, yd, first, last, max, pts: decimate(series, x) };
}

/** Grid and axis labels of both panels (equity values, drawdown %), the time axis and "UTC". */
function equityAxes(f: EquityFrame, theme: Theme): string[] {
  const L = LAYOUT;
  const { W, H, s, plot, ddPanel } = f;
  const body: string[] = [];
  const gridW = L.gridLineWidth * s;
  const axisFs = L.axisFontSize * s;
  const gutterX = plot.right + 6 * s;

  // Grid and axis labels: equity panel.
  const eqTicks = niceTicks(f.lo - f.pad, f.hi + f.pad, L.priceTicks - 1);
  for (const v of eqTicks) {
    const r = Math.round(f.y(v));
    if (r < plot.top || r >= plot.bottom) continue;
    body.push(rect(plot.left, r, plot.right - plot.left, gridW, { fill: theme.grid }));
    if (r > plot.top + axisFs / 2 && r < plot.bottom - axisFs / 2) {
      body.push(text(gutterX, centredBaseline(r, axisFs), formatNumber(v, f.eqDecimals), { size: axisFs, fill: theme.axisText }));
    }
  }
  // Drawdown panel grid: 0 % and a couple of nice negative levels.
  const ddTicks = niceTicks(f.ddLo * 100, 0, 3);
  const ddDecimals = Math.min(2, decimalsOf(niceStep(f.ddLo * 100, 0, 3)));
  for (const v of ddTicks) {
    const r = Math.round(f.yd(v / 100));
    if (r < ddPanel.top || r >= ddPanel.bottom) continue;
    body.push(rect(ddPanel.left, r, ddPanel.right - ddPanel.left, gridW, { fill: theme.grid }));
    if (r > ddPanel.top + axisFs / 2 - 1 && r < ddPanel.bottom - axisFs / 2) {
      body.push(text(gutterX, centredBaseline(r, axisFs), `${formatNumber(v, ddDecimals)}%`, { size: axisFs, fill: theme.axisText }));
    }
  }
  const tt = timeTicks(f.t0, f.t1, L.timeTicks);
  for (const t of tt.ticks) {
    const xx = Math.round(f.x(t));
    body.push(rect(xx, plot.top, gridW, plot.bottom - plot.top, { fill: theme.grid }));
    body.push(rect(xx, ddPanel.top, gridW, ddPanel.bottom - ddPanel.top, { fill: theme.grid }));
    const label = formatTimeTick(t, tt.step);
    const half = textWidth(label, axisFs) / 2;
    if (xx - half < 0 || xx + half > plot.right) continue;
    body.push(text(xx, H - 7 * s, label, { size: axisFs, fill: theme.axisText, anchor: 'middle' }));
  }
  body.push(text(W - 6 * s, H - 7 * s, 'UTC', { size: axisFs, fill: theme.axisText, anchor: 'end' }));
  return body;
}

/** Equity panel: soft area under the curve, drawdown between peak and equity, peak line, equity line. */
function equityCurves(f: EquityFrame, theme: Theme): string[] {
  const { s, plot, x, y, pts } = f;
  const eqLine = stepVertices(pts, x, (p) => y(p.equity));
  const peakLine = stepVertices(pts, x, (p) => y(p.peak));
  return [
    polygon([[x(f.first.t), plot.bottom], ...eqLine, [x(f.last.t), plot.bottom]], theme.equityFill),
    polygon([...peakLine, ...[...eqLine].reverse()], theme.drawdownFill),
    polyline(peakLine, { stroke: theme.peakLine, width: 1 * s }),
    polyline(eqLine, { stroke: theme.equityLine, width: 2 * s }),
  ];
}

/** Max-drawdown annotation: a dashed drop from the peak level to the trough, with its size. */
function maxDrawdownMark(f: EquityFrame, theme: Theme): { body: string[]; marks: EquityChartSvg['marks'] } {
  const L = LAYOUT;
  const { s, plot, max } = f;
  const body: string[] = [];
  const troughX = f.x(max.troughTime);
  const peakY = f.y(max.peak);
  const troughY = f.y(max.trough);
  if (max.drawdown < 0) {
    body.push(line(troughX, peakY, troughX, troughY, { stroke: theme.drawdownLine, width: 1 * s, dash: [3 * s, 3 * s] }));
    const label = `max DD ${formatPct(max.drawdown * 100)}`;
    const fs = L.tagFontSize * s;
    const w = textWidth(label, fs, true) + 2 * L.tagPadX * s;
    const lx = Math.min(Math.max(plot.left + 2 * s, troughX - w / 2), plot.right - w - 2 * s);
    const ly = Math.min(troughY + 6 * s, plot.bottom - fs - 6 * s);
    body.push(rect(lx, ly, w, fs + 5 * s, { fill: theme.background, opacity: 0.85, rx: 3 * s }));
    body.push(text(lx + L.tagPadX * s, ly + fs + 1 * s, label, { size: fs, fill: theme.drawdownLine, bold: true }));
  }
  return { body, marks: { troughX, peakY, troughY } };
}

/** Drawdown panel ("underwater"): the drawdown area and line, and its label. */
function underwaterPanel(f: EquityFrame, theme: Theme): string[] {
  const { s, ddPanel, x, yd } = f;
  const axisFs = LAYOUT.axisFontSize * s;
  const ddLine = stepVertices(f.pts, x, (p) => yd(p.drawdown));
  const ddLabel = 'Drawdown';
  return [
    polygon([[x(f.first.t), yd(0)], ...ddLine, [x(f.last.t), yd(0)]], theme.drawdownFill),
    polyline(ddLine, { stroke: theme.drawdownLine, width: 1.5 * s }),
    rect(ddPanel.left + 2 * s, ddPanel.bottom - axisFs - 7 * s, textWidth(ddLabel, axisFs) + 6 * s, axisFs + 5 * s, {
      fill: theme.background,
      opacity: 0.85,
      rx: 2 * s,
    }),
    text(ddPanel.left + 5 * s, ddPanel.bottom - 5 * s, ddLabel, { size: axisFs, fill: theme.subtleText }),
  ];
}

/** Last-equity tag in the gutter, kept inside the equity panel. */
function lastEquityTag(f: EquityFrame, theme: Theme): string[] {
  const L = LAYOUT;
  const { W, s, plot } = f;
  const tagH = L.tagHeight * s;
  const ly = Math.min(Math.max(f.y(f.last.equity), plot.top + tagH / 2), plot.bottom - tagH / 2);
  return [
    rect(plot.right + 4 * s, ly - tagH / 2, W - plot.right - 6 * s, tagH, { fill: theme.equityLine, rx: 3 * s }),
    text((plot.right + 4 * s + W - 2 * s) / 2, centredBaseline(ly, L.tagFontSize * s), formatNumber(f.last.equity, f.eqDecimals), {
      size: L.tagFontSize * s,
      fill: theme.tagText,
      anchor: 'middle',
      bold: true,
    }),
  ];
}

/** Header: title, subtitle (default the UTC date range), total return and max drawdown. */
function equityHeader(f: EquityFrame, raw: EquityChartInput, theme: Theme): { body: string[]; totalReturn: number } {
  const L = LAYOUT;
  const { W, s, first, last, max } = f;
  const totalReturn = first.equity !== 0 ? last.equity / first.equity - 1 : 0;
  const subtitle = raw.subtitle ?? `${formatUtcDate(f.t0)} \u2013 ${formatUtcDate(f.t1)} UTC`;
  const statFs = L.subtitleFontSize * s * 1.1;
  const ret = `Return ${formatPct(totalReturn * 100)}`;
  const dd = `Max DD ${formatPct(max.drawdown * 100)}`;
  const body = [
    rect(0, 0, W, L.headerHeight * s, { fill: theme.header }),
    text(10 * s, 20 * s, raw.title, { size: L.titleFontSize * s, fill: theme.titleText, bold: true }),
    text(10 * s, 35 * s, subtitle, { size: L.subtitleFontSize * s, fill: theme.subtleText }),
    text(W - 10 * s, 18 * s, ret, { size: statFs, fill: totalReturn >= 0 ? theme.long : theme.short, anchor: 'end', bold: true }),
    text(W - 10 * s, 34 * s, dd, { size: statFs, fill: theme.drawdownLine, anchor: 'end', bold: true }),
  ];
  return { body, totalReturn };
}
