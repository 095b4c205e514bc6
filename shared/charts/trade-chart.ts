/**
 * Trade chart as an SVG document (pure, deterministic): candles with wicks and optional volume bars,
 * horizontal support/resistance levels, a trend-line segment, entry / take-profit / stop-loss lines with
 * price tags and the TP/SL zones, entry/exit markers, a title bar (symbol, interval, strategy, direction)
 * and an optional WIN/LOSS badge. infra/charts/render.ts turns it into a PNG.
 *
 * Entry/TP/SL lines are opaque rectangles on whole pixel rows drawn last, so `rows` names pixel rows
 * whose colour is exactly the line colour (tests read the PNG there).
 */
import { z } from 'zod';
import { candleSchema, INTERVAL_MS, type Candle } from '../model/market.js';
import {
  decimalsOf, formatNumber, formatPct, formatTimeTick, formatUtcDateTime, linearScale, niceStep, niceTicks, priceDecimals,
  timeTicks,
  type LinearScale,
} from './scale.js';
import { centredBaseline, line, n, polygon, rect, svgDocument, text } from './svg.js';
import { CHART_SIZES, DARK_THEME, LAYOUT, textWidth, type ChartSize, type Theme } from './theme.js';

type ChartLevelKind = 'support' | 'resistance';
type ChartDirection = 'LONG' | 'SHORT';
type ChartBadge = 'WIN' | 'LOSS';

const finitePrice = z.number().finite().positive();

const tradeChartInputSchema = z.object({
  candles: z.array(candleSchema).min(1, 'a trade chart needs at least one candle'),
  levels: z.array(z.object({ price: finitePrice, kind: z.enum(['support', 'resistance']) })).optional(),
  trendLine: z
    .object({ t0: z.number().finite(), p0: finitePrice, t1: z.number().finite(), p1: finitePrice })
    .refine((l) => l.t1 !== l.t0, { message: 'trend line needs two different times' })
    .optional(),
  entry: finitePrice.optional(),
  takeProfit: finitePrice.optional(),
  stopLoss: finitePrice.optional(),
  /** Open time of the candle the trade was entered on: draws the entry marker and starts the TP/SL zones. */
  entryTime: z.number().finite().optional(),
  /** Where the trade left: an exit marker. */
  exit: z.object({ time: z.number().finite(), price: finitePrice }).optional(),
  title: z.object({
    symbol: z.string().min(1),
    interval: z.string().min(1),
    strategy: z.string().min(1).optional(),
    direction: z.enum(['LONG', 'SHORT']).optional(),
  }),
  badge: z.enum(['WIN', 'LOSS']).nullable().optional(),
  size: z.enum(['alert', 'large']).optional(),
  volume: z.boolean().optional(),
});

export interface TradeChartInput {
  candles: readonly Candle[];
  levels?: readonly { price: number; kind: ChartLevelKind }[];
  /** A straight segment from (t0, p0) to (t1, p1); drawn clipped to the plot. */
  trendLine?: { t0: number; p0: number; t1: number; p1: number };
  entry?: number;
  takeProfit?: number;
  stopLoss?: number;
  entryTime?: number;
  exit?: { time: number; price: number };
  title: { symbol: string; interval: string; strategy?: string; direction?: ChartDirection };
  badge?: ChartBadge | null;
  size?: ChartSize;
  /** Volume bars at the bottom of the plot (default true). */
  volume?: boolean;
}

export interface PlotRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Pixel box of one drawn candle body (inclusive-exclusive: x0 <= x < x1, y0 <= y < y1). */
interface CandleBox {
  openTime: number;
  up: boolean;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

interface TradeChartRows {
  entry?: number;
  takeProfit?: number;
  stopLoss?: number;
}

export interface TradeChartSvg {
  svg: string;
  width: number;
  height: number;
  /** Top pixel row of each trade line (the line covers `tradeLineWidth x scale` rows from there). */
  rows: TradeChartRows;
  /** Thickness of the trade lines in pixels. */
  lineThickness: number;
  plot: PlotRect;
  candles: CandleBox[];
  /** Candles dropped from the left because they would not fit at the minimum slot width. */
  droppedCandles: number;
  direction: ChartDirection | null;
}

interface Tag {
  y: number;
  text: string;
  fill: string;
  textFill: string;
}

/** Moves tag centres apart so no two overlap, keeping them inside [lo, hi]. Deterministic. */
export function spreadTags(ys: readonly number[], minGap: number, lo: number, hi: number): number[] {
  const order = ys.map((y, i) => ({ y, i })).sort((a, b) => a.y - b.y || a.i - b.i);
  const placed = order.map((o) => o.y);
  for (let k = 1; k < placed.length; k++) placed[k] = Math.max(placed[k]!, placed[k - 1]! + minGap);
  const overflow = placed.length > 0 ? placed[placed.length - 1]! - hi : 0;
  if (overflow > 0) {
    placed[placed.length - 1] = hi;
    for (let k = placed.length - 2; k >= 0; k--) placed[k] = Math.min(placed[k]!, placed[k + 1]! - minGap);
  }
  for (let k = 0; k < placed.length; k++) placed[k] = Math.max(placed[k]!, lo + (k * minGap));
  const out = new Array<number>(ys.length);
  order.forEach((o, k) => (out[o.i] = placed[k]!));
  return out;
}

function inferDirection(input: TradeChartInput): ChartDirection | null {
  if (input.title.direction) return input.title.direction;
  if (input.entry !== undefined && input.takeProfit !== undefined && input.takeProfit !== input.entry) {
    return input.takeProfit > input.entry ? 'LONG' : 'SHORT';
  }
  if (input.entry !== undefined && input.stopLoss !== undefined && input.stopLoss !== input.entry) {
    return input.stopLoss < input.entry ? 'LONG' : 'SHORT';
  }
  return null;
}

/** Validates the input (zod) and builds the chart. Throws a clear error on bad input. */
export function buildTradeChart(raw: TradeChartInput, theme: Theme = DARK_THEME): TradeChartSvg {
  const parsed = tradeChartInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid trade chart input at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return layoutTradeChart(raw, theme);
}

/**
 * Everything the drawing steps share: the canvas, the plot box, the candles that fit, the time axis
 * (slot width, x of a time) and the price axis (domain, y of a price, whole-pixel rows).
 */
interface TradeFrame {
  W: number;
  H: number;
  /** Pixel scale of the chart size (1 for an alert, 2 for large). */
  s: number;
  plot: PlotRect;
  plotW: number;
  /** The candles drawn (sorted, oldest dropped when they do not fit). */
  candles: readonly Candle[];
  dropped: number;
  intervalMs: number;
  t0: number;
  lastT: number;
  slotW: number;
  /** Centre x of the candle slot whose open time is t (fractional times interpolate). */
  xOfTime: (t: number) => number;
  lo: number;
  hi: number;
  /** S/R levels near enough to the candles to be drawn. */
  levels: readonly { price: number; kind: ChartLevelKind }[];
  showVolume: boolean;
  volumeH: number;
  /** Bottom of the price area (the volume bars sit below it). */
  priceBottom: number;
  y: LinearScale;
  row: (price: number) => number;
  fmt: (price: number) => string;
  bodyW: number;
  wickW: number;
  lineThickness: number;
  /** Top row of a trade line at `price` (the line covers lineThickness rows from there). */
  tradeRow: (price: number) => number;
}

function layoutTradeChart(input: TradeChartInput, theme: Theme): TradeChartSvg {
  const f = tradeFrame(input);
  const { W, H, s, plot } = f;
  const direction = inferDirection(input);
  const grid = gridAndTimeAxis(f, theme);
  const levels = levelLines(f, input, theme);
  const candles = candleBodies(f, theme);
  const trade = tradeLines(f, input, theme);
  const body: string[] = [
    rect(0, 0, W, H, { fill: theme.background }),
    ...grid.lines,
    ...tradeZones(f, input, theme),
    ...volumeBars(f, theme),
    ...levels.lines,
    ...candles.body,
    ...trendLine(f, input, theme),
    ...levels.labels,
    ...trade.body,
    ...markers(f, input, direction, theme),
    ...priceGutter(f, [...trade.tags, lastPriceTag(f, theme)], grid, theme),
    ...grid.timeLabels,
    text(W - 6 * s, H - 7 * s, 'UTC', { size: LAYOUT.axisFontSize * s, fill: theme.axisText, anchor: 'end' }),
    ...header(input, direction, f.candles, theme, W, s),
  ];
  const defs = [
    `<clipPath id="plot"><rect x="${n(plot.left)}" y="${n(plot.top)}" width="${n(f.plotW)}" height="${n(plot.bottom - plot.top)}"/></clipPath>`,
  ];
  return {
    svg: svgDocument(W, H, body, defs),
    width: W,
    height: H,
    rows: trade.rows,
    lineThickness: f.lineThickness,
    plot,
    candles: candles.boxes,
    droppedCandles: f.dropped,
    direction,
  };
}

/** Sizes, candle slots and the price scale of the chart. */
function tradeFrame(input: TradeChartInput): TradeFrame {
  const { width: W, height: H, scale: s } = CHART_SIZES[input.size ?? 'alert'];
  const L = LAYOUT;
  const sorted = [...input.candles].sort((a, b) => a.openTime - b.openTime);
  const intervalMs = INTERVAL_MS[sorted[0]!.interval];
  const plot: PlotRect = {
    left: L.plotLeft * s,
    top: (L.headerHeight + L.plotTopGap) * s,
    right: W - L.priceGutter * s,
    bottom: H - L.timeGutter * s,
  };
  const plotW = plot.right - plot.left;
  const { candles, t0, lastT, slotW } = fitCandles(sorted, intervalMs, plotW, s);
  const xOfTime = (t: number): number => plot.left + ((t - t0) / intervalMs + 0.5) * slotW;
  const { lo, hi, levels } = priceDomain(input, candles);
  const showVolume = input.volume !== false;
  const volumeH = showVolume ? Math.round((plot.bottom - plot.top) * L.volumeShare) : 0;
  const priceBottom = plot.bottom - volumeH;
  const y: LinearScale = linearScale(lo, hi, priceBottom, plot.top);
  const row = (price: number): number => Math.round(y(price));
  const decimals = priceDecimals(candles[candles.length - 1]!.close);
  const lineThickness = L.tradeLineWidth * s;
  return {
    W, H, s, plot, plotW, candles, dropped: sorted.length - candles.length, intervalMs, t0, lastT, slotW, xOfTime,
    lo, hi, levels, showVolume, volumeH, priceBottom, y, row,
    fmt: (p: number) => formatNumber(p, decimals),
    bodyW: Math.max(1, Math.round(slotW * L.bodyShare)),
    wickW: Math.max(1, Math.round(L.wickWidth * s)),
    lineThickness,
    tradeRow: (price: number): number => row(price) - Math.floor(lineThickness / 2),
  };
}

/** Candle slots; drops the oldest candles if slots would be thinner than the minimum. */
function fitCandles(
  sorted: readonly Candle[],
  intervalMs: number,
  plotW: number,
  s: number,
): { candles: readonly Candle[]; t0: number; lastT: number; slotW: number } {
  const L = LAYOUT;
  const maxSlots = Math.floor(plotW / (L.minSlotPx * s));
  let candles = sorted;
  const lastT = sorted[sorted.length - 1]!.openTime;
  while (candles.length > 1 && (lastT - candles[0]!.openTime) / intervalMs + 1 + L.rightPadSlots > maxSlots) {
    candles = candles.slice(1);
  }
  const t0 = candles[0]!.openTime;
  const slots = (lastT - t0) / intervalMs + 1 + L.rightPadSlots;
  return { candles, t0, lastT, slotW: plotW / slots };
}

/** Price domain: candles + trade prices, plus levels that are near the candles; padded. */
function priceDomain(
  input: TradeChartInput,
  candles: readonly Candle[],
): { lo: number; hi: number; levels: readonly { price: number; kind: ChartLevelKind }[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of candles) {
    lo = Math.min(lo, c.low);
    hi = Math.max(hi, c.high);
  }
  const candleRange = Math.max(hi - lo, hi * 1e-6);
  const nearLo = lo - candleRange * 0.5;
  const nearHi = hi + candleRange * 0.5;
  for (const p of [input.entry, input.takeProfit, input.stopLoss, input.exit?.price]) {
    if (p !== undefined) {
      lo = Math.min(lo, p);
      hi = Math.max(hi, p);
    }
  }
  const levels = (input.levels ?? []).filter((l) => l.price >= nearLo && l.price <= nearHi);
  for (const l of levels) {
    lo = Math.min(lo, l.price);
    hi = Math.max(hi, l.price);
  }
  const pad = (hi - lo) * LAYOUT.pricePadShare || hi * 1e-4;
  return { lo: lo - pad, hi: hi + pad, levels };
}

interface GridAxis {
  /** Horizontal grid rows at the price ticks, then vertical grid columns at the time ticks. */
  lines: string[];
  /** Time tick labels (drawn late, over the plot). */
  timeLabels: string[];
  ticks: number[];
  tickDecimals: number;
}

/** Grid at the price and time ticks, and the time labels (price labels are placed once tags are known). */
function gridAndTimeAxis(f: TradeFrame, theme: Theme): GridAxis {
  const L = LAYOUT;
  const { s, plot, lo, hi } = f;
  const lines: string[] = [];
  const ticks = niceTicks(lo, hi, L.priceTicks);
  const tickDecimals = decimalsOf(niceStep(lo, hi, L.priceTicks));
  const gridW = L.gridLineWidth * s;
  for (const p of ticks) {
    const r = f.row(p);
    if (r < plot.top || r >= f.priceBottom) continue;
    lines.push(rect(plot.left, r, f.plotW, gridW, { fill: theme.grid }));
  }
  const tt = timeTicks(f.t0, f.lastT + f.intervalMs * L.rightPadSlots, L.timeTicks);
  const timeLabels: string[] = [];
  for (const t of tt.ticks) {
    const x = Math.round(f.xOfTime(t) - f.slotW / 2);
    if (x < plot.left || x >= plot.right) continue;
    lines.push(rect(x, plot.top, gridW, plot.bottom - plot.top, { fill: theme.grid }));
    const label = formatTimeTick(t, tt.step);
    const half = textWidth(label, L.axisFontSize * s) / 2;
    if (x - half < 0 || x + half > plot.right) continue;
    timeLabels.push(text(x, f.H - 7 * s, label, { size: L.axisFontSize * s, fill: theme.axisText, anchor: 'middle' }));
  }
  return { lines, timeLabels, ticks, tickDecimals };
}

/** TP / SL zones, from the entry candle (or the plot's left edge) to the right edge. */
function tradeZones(f: TradeFrame, input: TradeChartInput, theme: Theme): string[] {
  const { plot } = f;
  if (input.entry === undefined) return [];
  const out: string[] = [];
  const zoneX = input.entryTime !== undefined ? Math.max(plot.left, Math.round(f.xOfTime(input.entryTime) - f.slotW / 2)) : plot.left;
  for (const [p, fill] of [
    [input.takeProfit, theme.takeProfitZone],
    [input.stopLoss, theme.stopLossZone],
  ] as const) {
    if (p === undefined) continue;
    const a = f.row(input.entry);
    const b = f.row(p);
    out.push(rect(zoneX, Math.min(a, b), plot.right - zoneX, Math.abs(a - b), { fill, opacity: theme.zoneOpacity }));
  }
  return out;
}

/** Volume bars at the bottom of the plot, scaled to the largest volume. */
function volumeBars(f: TradeFrame, theme: Theme): string[] {
  if (!f.showVolume) return [];
  const out: string[] = [];
  let maxVol = 0;
  for (const c of f.candles) maxVol = Math.max(maxVol, c.volume);
  for (const c of f.candles) {
    if (maxVol <= 0) break;
    const h = Math.max(1, Math.round((c.volume / maxVol) * (f.volumeH - 2 * f.s)));
    const x0 = Math.round(f.xOfTime(c.openTime) - f.bodyW / 2);
    out.push(rect(x0, f.plot.bottom - h, f.bodyW, h, { fill: c.close >= c.open ? theme.volumeUp : theme.volumeDown }));
  }
  return out;
}

/** S/R levels (dashed, label at the left, on the side of the line away from any trade line). */
function levelLines(f: TradeFrame, input: TradeChartInput, theme: Theme): { lines: string[]; labels: string[] } {
  const L = LAYOUT;
  const { s, plot, lineThickness } = f;
  const levelW = L.levelLineWidth * s;
  const lines: string[] = [];
  const labels: string[] = [];
  const tradeRows = [input.entry, input.takeProfit, input.stopLoss].filter((p): p is number => p !== undefined).map(f.tradeRow);
  for (const l of f.levels) {
    const colour = l.kind === 'support' ? theme.support : theme.resistance;
    const yy = f.row(l.price) + levelW / 2;
    lines.push(line(plot.left, yy, plot.right, yy, { stroke: colour, width: levelW, dash: [6 * s, 4 * s] }));
    const label = `${l.kind === 'support' ? 'S' : 'R'} ${f.fmt(l.price)}`;
    const fs = L.levelFontSize * s;
    const lw = textWidth(label, fs) + 6 * s;
    const boxH = fs + 3 * s;
    const aboveY = yy - boxH - 1 * s;
    const belowY = yy + 2 * s;
    // Distance from a label box to the nearest trade line (0 when it covers one).
    const gap = (top: number) =>
      Math.min(Infinity, ...tradeRows.map((r) => Math.max(0, top - (r + lineThickness), r - (top + boxH))));
    const centredY = yy - boxH / 2;
    // Above the line if clear of trade lines, else below, else centred on its own line; when none is
    // clear, whichever overlaps least.
    const candidates = [aboveY > plot.top ? aboveY : null, belowY, centredY].filter((t): t is number => t !== null);
    const boxY = candidates.find((t) => gap(t) >= 2 * s) ?? candidates.reduce((a, b) => (gap(b) > gap(a) ? b : a));
    labels.push(rect(plot.left + 2 * s, boxY, lw, boxH, { fill: theme.background, opacity: 0.8, rx: 2 * s }));
    labels.push(text(plot.left + 5 * s, centredBaseline(boxY + boxH / 2, fs), label, { size: fs, fill: colour }));
  }
  return { lines, labels };
}

/** Candle wicks and bodies, with the pixel box of each body. */
function candleBodies(f: TradeFrame, theme: Theme): { body: string[]; boxes: CandleBox[] } {
  const { bodyW, wickW } = f;
  const body: string[] = [];
  const boxes: CandleBox[] = [];
  for (const c of f.candles) {
    const up = c.close >= c.open;
    const colour = up ? theme.candleUp : theme.candleDown;
    const x0 = Math.round(f.xOfTime(c.openTime) - bodyW / 2);
    const wickX = x0 + Math.floor((bodyW - wickW) / 2);
    const yHigh = f.row(c.high);
    const yLow = f.row(c.low);
    body.push(rect(wickX, yHigh, wickW, Math.max(1, yLow - yHigh + 1), { fill: colour }));
    const y0 = f.row(Math.max(c.open, c.close));
    const y1 = Math.max(y0 + 1, f.row(Math.min(c.open, c.close)));
    body.push(rect(x0, y0, bodyW, y1 - y0, { fill: colour }));
    boxes.push({ openTime: c.openTime, up, x0, x1: x0 + bodyW, y0, y1 });
  }
  return { body, boxes };
}

/** Trend line (clipped to the plot). */
function trendLine(f: TradeFrame, input: TradeChartInput, theme: Theme): string[] {
  const tl = input.trendLine;
  if (!tl) return [];
  const { xOfTime, y } = f;
  return [
    `<g clip-path="url(#plot)">${line(xOfTime(tl.t0), y(tl.p0), xOfTime(tl.t1), y(tl.p1), {
      stroke: theme.trendLine,
      width: LAYOUT.trendLineWidth * f.s,
      cap: 'round',
    })}</g>`,
  ];
}

interface LineLabel {
  centre: number;
  label: string;
  colour: string;
  width: number;
  boxH: number;
}

/**
 * Trade lines on whole rows, on top of everything in the plot, with their labels (spread apart, clear
 * of the exit marker); returns the rows and the price tags for the gutter.
 */
function tradeLines(f: TradeFrame, input: TradeChartInput, theme: Theme): { body: string[]; rows: TradeChartRows; tags: Tag[] } {
  const L = LAYOUT;
  const { s, plot, lineThickness } = f;
  const body: string[] = [];
  const rows: TradeChartRows = {};
  const tags: Tag[] = [];
  const lineLabels: LineLabel[] = [];
  const trade: [key: keyof TradeChartRows, price: number | undefined, colour: string, name: string][] = [
    ['takeProfit', input.takeProfit, theme.takeProfit, 'TP'],
    ['stopLoss', input.stopLoss, theme.stopLoss, 'SL'],
    ['entry', input.entry, theme.entry, 'ENTRY'],
  ];
  for (const [key, price, colour, name] of trade) {
    if (price === undefined) continue;
    const r = f.tradeRow(price);
    rows[key] = r;
    body.push(rect(plot.left, r, f.plotW, lineThickness, { fill: colour }));
    tags.push({ y: r + lineThickness / 2, text: f.fmt(price), fill: colour, textFill: theme.tagText });
    const pct = key !== 'entry' && input.entry !== undefined ? ` ${formatPct(((price - input.entry) / input.entry) * 100)}` : '';
    const label = `${name}${pct}`;
    const fs = L.tagFontSize * s;
    const lw = textWidth(label, fs, true) + 2 * L.tagPadX * s;
    const boxH = fs + 4 * s;
    // Label on the side of the line facing the entry (inside the zone); the entry label faces the TP.
    const towards = key === 'entry' ? input.takeProfit : input.entry;
    const below = towards !== undefined ? f.row(towards) > r : false;
    const centre = below ? r + lineThickness + 2 * s + boxH / 2 : r - 3 * s - boxH / 2;
    lineLabels.push({ centre, label, colour, width: lw, boxH });
  }
  body.push(...tradeLineLabels(f, input, lineLabels, theme));
  return { body, rows, tags };
}

/** The trade line labels at the right of the plot, spread apart and moved left off the exit marker. */
function tradeLineLabels(f: TradeFrame, input: TradeChartInput, lineLabels: readonly LineLabel[], theme: Theme): string[] {
  const L = LAYOUT;
  const { s, plot } = f;
  const out: string[] = [];
  const exitMark = input.exit ? { x: f.xOfTime(input.exit.time), y: f.y(input.exit.price), r: L.markerSize * s + 2 * s } : null;
  const labelCentres = spreadTags(
    lineLabels.map((l) => l.centre),
    (L.tagFontSize + 5) * s,
    plot.top + (L.tagFontSize * s) / 2 + 4 * s,
    f.priceBottom - (L.tagFontSize * s) / 2 - 4 * s,
  );
  lineLabels.forEach((l, i) => {
    const fs = L.tagFontSize * s;
    const top = labelCentres[i]! - l.boxH / 2;
    let lx = plot.right - l.width - 4 * s;
    // Keep clear of the exit marker when it sits where the label would be.
    if (exitMark && exitMark.x + exitMark.r >= lx && exitMark.x - exitMark.r <= lx + l.width
      && exitMark.y + exitMark.r >= top && exitMark.y - exitMark.r <= top + l.boxH) {
      lx = Math.max(plot.left, exitMark.x - exitMark.r - 4 * s - l.width);
    }
    out.push(rect(lx, top, l.width, l.boxH, { fill: theme.background, opacity: 0.85, rx: 3 * s }));
    out.push(text(lx + L.tagPadX * s, centredBaseline(labelCentres[i]!, fs), l.label, { size: fs, fill: l.colour, bold: true }));
  });
  return out;
}

/** Entry marker (a triangle under a LONG's candle, over a SHORT's) and the exit diamond. */
function markers(f: TradeFrame, input: TradeChartInput, direction: ChartDirection | null, theme: Theme): string[] {
  const { s, candles, xOfTime, y } = f;
  const out: string[] = [];
  const ms = LAYOUT.markerSize * s;
  if (input.entryTime !== undefined) {
    const c = candles.find((k) => k.openTime === input.entryTime);
    const x = xOfTime(input.entryTime);
    const longSide = direction !== 'SHORT';
    const anchorY = c ? (longSide ? y(c.low) + 4 * s : y(c.high) - 4 * s) : y(input.entry ?? candles[candles.length - 1]!.close);
    const pts: [number, number][] = longSide
      ? [[x, anchorY], [x - ms, anchorY + ms * 1.4], [x + ms, anchorY + ms * 1.4]]
      : [[x, anchorY], [x - ms, anchorY - ms * 1.4], [x + ms, anchorY - ms * 1.4]];
    out.push(polygon(pts, theme.entry));
  }
  if (input.exit) {
    const x = xOfTime(input.exit.time);
    const yy = y(input.exit.price);
    const fill = input.badge === 'LOSS' ? theme.loss : input.badge === 'WIN' ? theme.win : theme.titleText;
    out.push(
      `<polygon points="${n(x)},${n(yy - ms)} ${n(x + ms)},${n(yy)} ${n(x)},${n(yy + ms)} ${n(x - ms)},${n(yy)}" fill="${fill}" stroke="${theme.titleText}" stroke-width="${n(s)}"/>`,
    );
  }
  return out;
}

/** Last-price tag, coloured by the last candle. */
function lastPriceTag(f: TradeFrame, theme: Theme): Tag {
  const last = f.candles[f.candles.length - 1]!;
  return {
    y: f.row(last.close),
    text: f.fmt(last.close),
    fill: last.close >= last.open ? theme.candleUp : theme.candleDown,
    textFill: theme.tagText,
  };
}

/** Price gutter: the tags (spread apart) and the tick labels they leave visible. */
function priceGutter(f: TradeFrame, tags: readonly Tag[], grid: GridAxis, theme: Theme): string[] {
  const L = LAYOUT;
  const { W, s, plot } = f;
  const out: string[] = [];
  const tagH = L.tagHeight * s;
  const tagYs = spreadTags(tags.map((t) => t.y), tagH + 1 * s, plot.top + tagH / 2, plot.bottom - tagH / 2);
  const gutterX = plot.right + 4 * s;
  const axisFs = L.axisFontSize * s;
  for (const p of grid.ticks) {
    const r = f.row(p);
    if (r < plot.top + axisFs / 2 || r > f.priceBottom - axisFs / 2) continue;
    if (tagYs.some((ty) => Math.abs(ty - r) < tagH / 2 + L.tagClearance * s)) continue;
    out.push(text(gutterX + 2 * s, centredBaseline(r, axisFs), formatNumber(p, grid.tickDecimals), { size: axisFs, fill: theme.axisText }));
  }
  tags.forEach((t, i) => {
    const ty = tagYs[i]!;
    const tw = W - gutterX - 2 * s;
    out.push(rect(gutterX, ty - tagH / 2, tw, tagH, { fill: t.fill, rx: 3 * s }));
    out.push(text(gutterX + tw / 2, centredBaseline(ty, L.tagFontSize * s), t.text, {
      size: L.tagFontSize * s,
      fill: t.textFill,
      anchor: 'middle',
      bold: true,
    }));
  });
  return out;
}

/** Title bar: "BTCUSDT 1m [LONG]" + strategy/time subtitle, R:R and the WIN/LOSS badge on the right. */
function header(
  input: TradeChartInput,
  direction: ChartDirection | null,
  candles: readonly Candle[],
  theme: Theme,
  W: number,
  s: number,
): string[] {
  const L = LAYOUT;
  const out: string[] = [rect(0, 0, W, L.headerHeight * s, { fill: theme.header })];
  const x0 = 10 * s;
  const titleFs = L.titleFontSize * s;
  const title = `${input.title.symbol}  ${input.title.interval}`;
  out.push(text(x0, 20 * s, title, { size: titleFs, fill: theme.titleText, bold: true }));
  let x = x0 + textWidth(title, titleFs, true) + 8 * s;
  if (direction) {
    const fs = L.badgeFontSize * s * 0.85;
    const w = textWidth(direction, fs, true) + 10 * s;
    out.push(rect(x, 6 * s, w, 18 * s, { fill: direction === 'LONG' ? theme.long : theme.short, rx: 3 * s }));
    out.push(text(x + w / 2, centredBaseline(15 * s, fs), direction, { size: fs, fill: theme.tagText, anchor: 'middle', bold: true }));
    x += w + 8 * s;
  }
  const subFs = L.subtitleFontSize * s;
  const last = candles[candles.length - 1]!;
  const parts = [input.title.strategy, `${formatUtcDateTime(last.openTime)} UTC`].filter((p): p is string => !!p);
  out.push(text(x0, 35 * s, parts.join('  \u00b7  '), { size: subFs, fill: theme.subtleText }));

  let right = W - 10 * s;
  if (input.badge) {
    const fs = L.badgeFontSize * s;
    const w = textWidth(input.badge, fs, true) + 18 * s;
    out.push(rect(right - w, 7 * s, w, 26 * s, { fill: input.badge === 'WIN' ? theme.win : theme.loss, rx: 5 * s }));
    out.push(text(right - w / 2, centredBaseline(20 * s, fs), input.badge, { size: fs, fill: theme.badgeText, anchor: 'middle', bold: true }));
    right -= w + 10 * s;
  }
  const { entry, takeProfit, stopLoss } = input;
  if (entry !== undefined && takeProfit !== undefined && stopLoss !== undefined && stopLoss !== entry) {
    const rr = Math.abs(takeProfit - entry) / Math.abs(entry - stopLoss);
    const rrText = `R:R ${formatNumber(rr, 2)}`;
    const fs = L.subtitleFontSize * s * 1.1;
    if (right - textWidth(rrText, fs, true) > x) {
      out.push(text(right, centredBaseline(20 * s, fs), rrText, { size: fs, fill: theme.titleText, anchor: 'end', bold: true }));
    }
  }
  return out;
}
