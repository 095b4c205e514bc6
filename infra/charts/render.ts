/**
 * Chart PNGs (SPEC 9): SVG from shared/charts rendered by sharp (librsvg) with the bundled DejaVu Sans
 * (see fonts.ts). Output is deterministic: the same input gives byte-identical PNGs (sharp writes no
 * time chunk; fonts, rasteriser and zlib all come from the pinned packages).
 */
import sharp from 'sharp';
import { buildBarChart, type BarChartInput, type BarChartSvg } from '../../shared/charts/bar-chart.js';
import { buildEquityChart, type EquityChartInput, type EquityChartSvg } from '../../shared/charts/equity-chart.js';
import { buildTradeChart, type TradeChartInput, type TradeChartSvg } from '../../shared/charts/trade-chart.js';
import { useBundledFonts } from './fonts.js';

useBundledFonts();

/** PNG encoder settings: fixed so output never depends on sharp's defaults changing underfoot. */
export const PNG_OPTIONS = { compressionLevel: 9, adaptiveFiltering: false, palette: false } as const;
/**
 * Shrunk images are quantised to a palette (flat chart colours survive it; anti-aliased resampling
 * alone would make the PNG BIGGER than the full-size one). No dithering: it only adds noise to flat fills.
 */
const SHRINK_PNG_OPTIONS = { compressionLevel: 9, adaptiveFiltering: false, palette: true, colours: 256, dither: 0 } as const;

export interface TradeChartPng extends Omit<TradeChartSvg, 'svg'> {
  png: Buffer;
}

export interface EquityChartPng extends Omit<EquityChartSvg, 'svg'> {
  png: Buffer;
}

/** SVG text -> PNG of exactly the SVG's pixel size. */
export async function svgToPng(svg: string): Promise<Buffer> {
  useBundledFonts();
  return sharp(Buffer.from(svg), { density: 72 }).png(PNG_OPTIONS).toBuffer();
}

/** Candles + S/R + trend line + entry/TP/SL (+ badge) as a PNG; `rows` are the trade lines' pixel rows. */
export async function renderTradeChart(input: TradeChartInput): Promise<TradeChartPng> {
  const { svg, ...rest } = buildTradeChart(input);
  return { ...rest, png: await svgToPng(svg) };
}

/** Equity curve with its drawdown (computed inside) as a PNG. */
export async function renderEquityChart(input: EquityChartInput): Promise<EquityChartPng> {
  const { svg, ...rest } = buildEquityChart(input);
  return { ...rest, png: await svgToPng(svg) };
}

export interface BarChartPng extends Omit<BarChartSvg, 'svg'> {
  png: Buffer;
}

/** Horizontal bar chart (shadow P&L per variation) as a PNG. */
export async function renderBarChart(input: BarChartInput): Promise<BarChartPng> {
  const { svg, ...rest } = buildBarChart(input);
  return { ...rest, png: await svgToPng(svg) };
}

/**
 * Downscales a PNG to at most `maxWidth` px wide (aspect kept; never enlarges) as a palette PNG, for a
 * long outbound queue (a 1280x800 chart shrunk to 640 px is about half the bytes). Deterministic.
 * Returns the input unchanged when it is already narrow enough.
 */
export async function shrink(png: Buffer, maxWidth: number): Promise<{ png: Buffer; width: number; height: number }> {
  if (!Number.isInteger(maxWidth) || maxWidth < 1) throw new Error(`shrink: maxWidth must be a positive integer, got ${maxWidth}`);
  const meta = await sharp(png).metadata();
  if (!meta.width || !meta.height) throw new Error('shrink: input is not a decodable image');
  if (meta.width <= maxWidth) return { png, width: meta.width, height: meta.height };
  const { data, info } = await sharp(png)
    .resize({ width: maxWidth, kernel: 'lanczos3', withoutEnlargement: true })
    .png(SHRINK_PNG_OPTIONS)
    .toBuffer({ resolveWithObject: true });
  return { png: data, width: info.width, height: info.height };
}
