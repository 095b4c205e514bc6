/**
 * Horizontal bar chart as an SVG document (pure, deterministic): one labelled bar per row from a zero
 * line, green right of zero and red left of it, a highlighted row (the shadow test's CHAMPION) drawn in
 * the accent colour with a bold label. Each row's value text sits in a right gutter, so it never
 * overlaps a bar. Used for the shadow test's P&L per variation (/shadow, the daily research summary).
 */
import { z } from 'zod';
import { decimalsOf, formatNumber, linearScale, niceStep, niceTicks } from './scale.js';
import { centredBaseline, line, rect, svgDocument, text } from './svg.js';
import { CHART_SIZES, DARK_THEME, LAYOUT, textWidth, type ChartSize, type Theme } from './theme.js';
import type { PlotRect } from './trade-chart.js';

export interface BarChartBar {
  label: string;
  value: number;
  /** Shown in the right gutter (default: the value with 2 decimals). */
  valueText?: string;
  /** Drawn in the accent colour with a bold label (the champion). */
  highlight?: boolean;
}

export interface BarChartInput {
  title: string;
  subtitle?: string;
  bars: readonly BarChartBar[];
  size?: ChartSize;
}

const barChartInputSchema = z.object({
  title: z.string().min(1),
  subtitle: z.string().optional(),
  bars: z
    .array(z.object({ label: z.string().min(1), value: z.number().finite(), valueText: z.string().optional(), highlight: z.boolean().optional() }))
    .min(1, 'a bar chart needs at least one bar')
    .max(40, 'a bar chart shows at most 40 bars'),
  size: z.enum(['alert', 'large']).optional(),
});

/** Base-pixel layout of the bar chart (the large size scales them like the other charts). */
const BAR = {
  rowHeight: 30,
  barShare: 0.62,
  labelFontSize: 12.5,
  valueFontSize: 12,
  labelPad: 10,
  /** Label column width bounds. */
  minLabelWidth: 60,
  maxLabelWidth: 190,
  valueGutter: 86,
  axisGutter: 22,
  ticks: 5,
  minHeight: 200,
} as const;

export interface BarChartSvg {
  svg: string;
  width: number;
  height: number;
  plot: PlotRect;
  /** x of the zero line. */
  zeroX: number;
  /** Each bar's drawn box (in input order), for tests and callers. */
  boxes: Array<{ label: string; x0: number; x1: number; y: number; h: number; fill: string }>;
}

export function buildBarChart(raw: BarChartInput, theme: Theme = DARK_THEME): BarChartSvg {
  const parsed = barChartInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid bar chart input at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const { width: W, scale: s } = CHART_SIZES[raw.size ?? 'alert'];
  const L = LAYOUT;
  const rowH = BAR.rowHeight * s;
  const top = (L.headerHeight + L.plotTopGap) * s;
  const H = Math.max(BAR.minHeight * s, Math.round(top + raw.bars.length * rowH + BAR.axisGutter * s + 4 * s));
  const labelFont = BAR.labelFontSize * s;
  const labelW = Math.min(
    BAR.maxLabelWidth * s,
    Math.max(BAR.minLabelWidth * s, ...raw.bars.map((b) => textWidth(b.label, labelFont, b.highlight) + 2 * BAR.labelPad * s)),
  );
  const plot: PlotRect = { left: labelW, top, right: W - BAR.valueGutter * s, bottom: top + raw.bars.length * rowH };

  const values = raw.bars.map((b) => b.value);
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (lo === hi) hi = 1;
  const pad = (hi - lo) * 0.04;
  lo = lo < 0 ? lo - pad : lo;
  hi = hi > 0 ? hi + pad : hi;
  const x = linearScale(lo, hi, plot.left, plot.right);
  const zeroX = x(0);

  const body: string[] = [rect(0, 0, W, H, { fill: theme.background })];
  // grid and value axis
  const ticks = niceTicks(lo, hi, BAR.ticks);
  const dec = Math.min(2, decimalsOf(niceStep(lo, hi, BAR.ticks)));
  const axisFont = L.axisFontSize * s;
  for (const t of ticks) {
    const tx = x(t);
    body.push(line(tx, plot.top, tx, plot.bottom, { stroke: theme.grid, width: L.gridLineWidth * s }));
    body.push(text(tx, plot.bottom + axisFont + 4 * s, formatNumber(t, dec), { size: axisFont, fill: theme.axisText, anchor: 'middle' }));
  }
  // bars
  const boxes: BarChartSvg['boxes'] = [];
  const valueFont = BAR.valueFontSize * s;
  for (const [i, b] of raw.bars.entries()) {
    const cy = plot.top + i * rowH + rowH / 2;
    const h = rowH * BAR.barShare;
    const x1 = x(b.value);
    const fill = b.highlight ? theme.entry : b.value >= 0 ? theme.win : theme.loss;
    const w = Math.max(Math.abs(x1 - zeroX), 1 * s);
    const x0 = b.value < 0 ? zeroX - w : zeroX;
    if (b.highlight) body.push(rect(0, cy - rowH / 2, W, rowH, { fill: theme.header }));
    body.push(rect(x0, cy - h / 2, w, h, { fill, rx: 2 * s }));
    boxes.push({ label: b.label, x0, x1: x0 + w, y: cy - h / 2, h, fill });
    body.push(text(labelW - BAR.labelPad * s, centredBaseline(cy, labelFont), b.label, { size: labelFont, fill: b.highlight ? theme.titleText : theme.subtleText, anchor: 'end', bold: b.highlight ?? false }));
    const vt = b.valueText ?? formatNumber(b.value, 2);
    body.push(text(W - 8 * s, centredBaseline(cy, valueFont), vt, { size: valueFont, fill: b.value >= 0 ? theme.takeProfit : theme.stopLoss, anchor: 'end', bold: b.highlight ?? false }));
  }
  body.push(line(zeroX, plot.top, zeroX, plot.bottom, { stroke: theme.axisText, width: 1 * s }));
  // header
  body.push(rect(0, 0, W, L.headerHeight * s, { fill: theme.header }));
  body.push(text(10 * s, (L.headerHeight * s) / 2 + (raw.subtitle ? -2 * s : L.titleFontSize * s * 0.36), raw.title, { size: L.titleFontSize * s, fill: theme.titleText, bold: true }));
  if (raw.subtitle) body.push(text(10 * s, L.headerHeight * s - 5 * s, raw.subtitle, { size: L.subtitleFontSize * 0.85 * s, fill: theme.subtleText }));
  return { svg: svgDocument(W, H, body), width: W, height: H, plot, zeroX, boxes };
}
