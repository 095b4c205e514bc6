/**
 * Chart look: the dark theme palette, the output sizes and the typography, as named constants.
 * Every geometric constant is in "base pixels" of the 640 px alert chart; the large size multiplies them
 * all by its `scale`, so both sizes have the same layout (the large one is simply sharper).
 */

/** Dark theme (colours as #rrggbb so the PNG pixels can be compared exactly in tests). */
export const DARK_THEME = {
  background: '#131722',
  /** Title bar behind the headline. */
  header: '#1b2030',
  grid: '#232a3b',
  axisText: '#8f98ad',
  titleText: '#eef1f6',
  subtleText: '#aab2c5',
  candleUp: '#26a69a',
  candleDown: '#ef5350',
  volumeUp: '#1d4f4c',
  volumeDown: '#5a2a2e',
  entry: '#3d8bff',
  takeProfit: '#00d26a',
  stopLoss: '#ff3b5c',
  /** Translucent zones between entry and TP / SL (drawn under the candles). */
  takeProfitZone: '#00d26a',
  stopLossZone: '#ff3b5c',
  zoneOpacity: 0.13,
  support: '#f5a623',
  resistance: '#e879f9',
  trendLine: '#ffd54f',
  /** Text drawn on coloured tags. */
  tagText: '#0b0e14',
  long: '#00d26a',
  short: '#ff3b5c',
  win: '#00b25a',
  loss: '#e5334f',
  badgeText: '#ffffff',
  equityLine: '#3d8bff',
  equityFill: '#1a2d4f',
  peakLine: '#56607a',
  drawdownFill: '#8e1f33',
  drawdownLine: '#ff3b5c',
} as const;

export type Theme = typeof DARK_THEME;

/** Font family names as fontconfig knows the bundled fonts (assets/fonts). */
export const FONT_FAMILY = 'DejaVu Sans';

export type ChartSize = 'alert' | 'large';

interface ChartDimensions {
  width: number;
  height: number;
  /** Multiplier applied to every base-pixel constant (line widths, fonts, margins). */
  scale: number;
}

/** Alert charts are 640 px wide (SPEC 9); the large size is for "Chart" button / on-request views. */
export const CHART_SIZES: Record<ChartSize, ChartDimensions> = {
  alert: { width: 640, height: 400, scale: 1 },
  large: { width: 1280, height: 800, scale: 2 },
};

/** Base-pixel layout constants shared by the trade and equity charts. */
export const LAYOUT = {
  headerHeight: 40,
  titleFontSize: 18,
  subtitleFontSize: 12.5,
  axisFontSize: 12,
  tagFontSize: 12,
  levelFontSize: 11,
  badgeFontSize: 13,
  /** Gap between the header and the top of the plot. */
  plotTopGap: 8,
  plotLeft: 8,
  /** Right gutter for the price axis and price tags. */
  priceGutter: 84,
  /** Bottom gutter for the time axis. */
  timeGutter: 22,
  /** Share of the plot height used by the volume bars at its bottom. */
  volumeShare: 0.16,
  /** Empty candle slots kept right of the last candle. */
  rightPadSlots: 3,
  /** Candle body width as a share of its slot. */
  bodyShare: 0.7,
  /** A candle slot narrower than this drops the oldest candles instead of drawing slivers. */
  minSlotPx: 3,
  wickWidth: 1,
  tradeLineWidth: 2,
  levelLineWidth: 1,
  trendLineWidth: 2,
  gridLineWidth: 1,
  /** Target number of price ticks (nice ticks may give a few more or fewer). */
  priceTicks: 6,
  /** Target number of time ticks. */
  timeTicks: 5,
  tagHeight: 18,
  tagPadX: 5,
  /** Tick labels closer than this to a price tag are hidden (the tag wins). */
  tagClearance: 10,
  /** Extra room above and below the price range, as a share of it. */
  pricePadShare: 0.06,
  markerSize: 6,
  equityDrawdownShare: 0.28,
  equityPanelGap: 10,
} as const;

/**
 * Advance widths of DejaVu Sans glyphs in em (from the font's hmtx table), used to size tags and keep
 * labels inside the image. Characters not listed count as `DEFAULT_EM`.
 */
const GLYPH_EM: Record<string, number> = {
  ' ': 0.318, ',': 0.318, '.': 0.318, ':': 0.337, '%': 0.95, '+': 0.838, '-': 0.361, '\u2212': 0.838,
  '/': 0.337, '(': 0.39, ')': 0.39, '\u00b7': 0.318, '$': 0.636, '\u2022': 0.59,
};
const DIGIT_EM = 0.636;
const UPPER_EM = 0.7;
const LOWER_EM = 0.6;
const DEFAULT_EM = 0.65;
/** Bold DejaVu Sans is wider than Book. */
const BOLD_WIDTH_FACTOR = 1.1;

/** Estimated rendered width (px) of `text` in DejaVu Sans at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    const known = GLYPH_EM[ch];
    if (known !== undefined) em += known;
    else if (ch >= '0' && ch <= '9') em += DIGIT_EM;
    else if (ch >= 'A' && ch <= 'Z') em += UPPER_EM;
    else if (ch >= 'a' && ch <= 'z') em += LOWER_EM;
    else em += DEFAULT_EM;
  }
  return em * fontSize * (bold ? BOLD_WIDTH_FACTOR : 1);
}
