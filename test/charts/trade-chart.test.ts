import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTradeChart, type TradeChartInput } from '../../shared/charts/trade-chart.js';
import { CHART_SIZES, DARK_THEME, LAYOUT } from '../../shared/charts/theme.js';
import { renderBarChart, renderEquityChart, renderTradeChart, shrink, type TradeChartPng } from '../../infra/charts/render.js';
import type { ChartRenderer } from '../../shared/ports/charts.js';
import { longScenario, shortScenario } from './fixtures.js';
import { colourDistance, decode, rgb, type Raster } from './pixels.js';

/** Rendered samples land here so a person can look at them. */
const SAMPLE_DIR = join(tmpdir(), 'cst-chart-samples');

function save(name: string, png: Buffer): void {
  mkdirSync(SAMPLE_DIR, { recursive: true });
  writeFileSync(join(SAMPLE_DIR, name), png);
}

/** Share of plot columns on `row` whose pixel is exactly `hex`. */
function rowCoverage(img: Raster, r: TradeChartPng, row: number, hex: string): number {
  let hit = 0;
  let total = 0;
  for (let x = r.plot.left; x < r.plot.right; x++) {
    total++;
    if (img.hex(x, row) === hex) hit++;
  }
  return hit / total;
}

describe('trade chart PNG (real BTCUSDT 1m candles)', () => {
  let long: TradeChartPng;
  let longImg: Raster;
  let short: TradeChartPng;
  let shortImg: Raster;

  beforeAll(async () => {
    long = await renderTradeChart(longScenario());
    longImg = await decode(long.png);
    short = await renderTradeChart(shortScenario());
    shortImg = await decode(short.png);
    save('long-alert.png', long.png);
    save('short-win-alert.png', short.png);
  });

  it('decodes to exactly 640x400 for an alert and 1280x800 for the large size', async () => {
    const meta = await sharp(long.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 640, 400]);
    expect([long.width, long.height]).toEqual([640, 400]);

    const large = await renderTradeChart(longScenario('large'));
    save('long-large.png', large.png);
    const lmeta = await sharp(large.png).metadata();
    expect([lmeta.width, lmeta.height]).toEqual([CHART_SIZES.large.width, CHART_SIZES.large.height]);
    expect([lmeta.width, lmeta.height]).toEqual([1280, 800]);
    // The large chart has the same layout at twice the scale: its rows are the alert rows doubled (+-2 px).
    for (const k of ['entry', 'takeProfit', 'stopLoss'] as const) {
      expect(Math.abs(large.rows[k]! - 2 * long.rows[k]!)).toBeLessThanOrEqual(2);
    }
  });

  it('draws entry, TP and SL in their own colours exactly on the reported rows (LONG)', () => {
    const x = long.plot.left + 3;
    for (const [key, colour] of [
      ['entry', DARK_THEME.entry],
      ['takeProfit', DARK_THEME.takeProfit],
      ['stopLoss', DARK_THEME.stopLoss],
    ] as const) {
      const row = long.rows[key]!;
      expect(longImg.hex(x, row), key).toBe(colour);
      expect(longImg.hex(x, row + long.lineThickness - 1), key).toBe(colour);
      // The line is exactly lineThickness rows thick.
      expect(longImg.hex(x, row - 1), key).not.toBe(colour);
      expect(longImg.hex(x, row + long.lineThickness), key).not.toBe(colour);
      // And it spans the plot (markers and labels may cover a little of it).
      expect(rowCoverage(longImg, long, row, colour), key).toBeGreaterThan(0.75);
    }
    // LONG: TP above entry above SL (smaller y is higher on the image).
    expect(long.rows.takeProfit!).toBeLessThan(long.rows.entry!);
    expect(long.rows.entry!).toBeLessThan(long.rows.stopLoss!);
    expect(long.direction).toBe('LONG');
  });

  it('orders the rows the other way for a SHORT (SL above entry above TP)', () => {
    expect(short.direction).toBe('SHORT');
    expect(short.rows.stopLoss!).toBeLessThan(short.rows.entry!);
    expect(short.rows.entry!).toBeLessThan(short.rows.takeProfit!);
    const x = short.plot.left + 3;
    expect(shortImg.hex(x, short.rows.entry!)).toBe(DARK_THEME.entry);
    expect(shortImg.hex(x, short.rows.takeProfit!)).toBe(DARK_THEME.takeProfit);
    expect(shortImg.hex(x, short.rows.stopLoss!)).toBe(DARK_THEME.stopLoss);
  });

  it('maps prices to rows linearly: the TP-entry and entry-SL gaps follow the price distances', () => {
    const s = longScenario();
    const pxPerPrice = (long.rows.stopLoss! - long.rows.takeProfit!) / (s.takeProfit! - s.stopLoss!);
    const expectedEntryRow = long.rows.takeProfit! + (s.takeProfit! - s.entry!) * pxPerPrice;
    expect(Math.abs(long.rows.entry! - expectedEntryRow)).toBeLessThanOrEqual(1);
    // TP is 0.6 % away and SL 0.3 %: the TP gap is twice the SL gap (+-1 px rounding each).
    const tpGap = long.rows.entry! - long.rows.takeProfit!;
    const slGap = long.rows.stopLoss! - long.rows.entry!;
    expect(Math.abs(tpGap - 2 * slGap)).toBeLessThanOrEqual(2);
  });

  it('fills candle bodies with the up / down colours', () => {
    const s = longScenario();
    expect(long.candles).toHaveLength(s.candles.length);
    const tallest = (up: boolean) =>
      long.candles.filter((c) => c.up === up).reduce((m, c) => (c.y1 - c.y0 > m.y1 - m.y0 ? c : m));
    for (const [up, colour] of [
      [true, DARK_THEME.candleUp],
      [false, DARK_THEME.candleDown],
    ] as const) {
      const box = tallest(up);
      expect(box.y1 - box.y0).toBeGreaterThan(4);
      const candle = s.candles.find((c) => c.openTime === box.openTime)!;
      expect(candle.close >= candle.open).toBe(up);
      // A body pixel not on a trade line.
      const tradeRows = Object.values(long.rows).flatMap((r) => [r, r + 1]);
      const y = [box.y0 + 1, Math.floor((box.y0 + box.y1) / 2), box.y1 - 2].find((yy) => !tradeRows.includes(yy))!;
      expect(longImg.hex(Math.floor((box.x0 + box.x1) / 2), y)).toBe(colour);
    }
  });

  it('renders readable text in the title bar (bundled font) and a WIN badge on the right', () => {
    // Title text pixels: bright pixels in the left part of the header.
    const header = rgb(DARK_THEME.header);
    let bright = 0;
    for (let y = 4; y < 24; y++) {
      for (let x = 8; x < 130; x++) {
        const [r, g, b] = longImg.at(x, y);
        if (r > 180 && g > 180 && b > 180) bright++;
      }
    }
    expect(bright).toBeGreaterThan(150);
    // Subtitle row also has text.
    let subtitle = 0;
    for (let y = 26; y < 39; y++) for (let x = 8; x < 200; x++) if (colourDistance(longImg.at(x, y), header) > 60) subtitle++;
    expect(subtitle).toBeGreaterThan(100);
    // Badge: the short trade won; the header's right end shows the WIN colour (no badge on the long).
    const badgeProbe = [short.width - 14, 10] as const;
    expect(shortImg.hex(...badgeProbe)).toBe(DARK_THEME.win);
    expect(longImg.hex(...badgeProbe)).toBe(DARK_THEME.header);
  });

  it('draws a LOSS badge in the loss colour', async () => {
    const lost = await renderTradeChart({ ...shortScenario(), badge: 'LOSS' });
    const img = await decode(lost.png);
    expect(img.hex(lost.width - 14, 10)).toBe(DARK_THEME.loss);
  });

  it('draws the trend line and the S/R levels where their prices are', () => {
    const s = longScenario();
    const tl = s.trendLine!;
    // Midpoint of the trend line: interpolate with the candle boxes (x) and the trade rows (y scale).
    const box0 = long.candles.find((c) => c.openTime === tl.t0)!;
    const box1 = long.candles.find((c) => c.openTime === tl.t1)!;
    const pxPerPrice = (long.rows.stopLoss! - long.rows.takeProfit!) / (s.takeProfit! - s.stopLoss!);
    const yOf = (p: number) => long.rows.takeProfit! + 1 + (s.takeProfit! - p) * pxPerPrice;
    const mx = ((box0.x0 + box0.x1) / 2 + (box1.x0 + box1.x1) / 2) / 2;
    const my = (yOf(tl.p0) + yOf(tl.p1)) / 2;
    let best = Infinity;
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) best = Math.min(best, colourDistance(longImg.at(mx + dx, my + dy), rgb(DARK_THEME.trendLine)));
    }
    expect(best).toBeLessThan(40);

    // Support: a dashed line on its row, in the support colour, over a good part of the plot width.
    const support = s.levels!.find((l) => l.kind === 'support')!;
    const row = Math.round(yOf(support.price) - 0.5);
    let hits = 0;
    for (const r of [row - 1, row, row + 1]) hits = Math.max(hits, rowCoverage(longImg, long, r, DARK_THEME.support));
    expect(hits).toBeGreaterThan(0.35);
  });

  it('is deterministic: the same input renders byte-identical PNGs', async () => {
    const again = await renderTradeChart(longScenario());
    expect(again.png.equals(long.png)).toBe(true);
    expect(buildTradeChart(longScenario()).svg).toBe(buildTradeChart(longScenario()).svg);
    expect(long.png.includes(Buffer.from('tIME'))).toBe(false);
  });

  it('keeps TP/SL far outside the candle range on the chart', async () => {
    const s = longScenario();
    const wide: TradeChartInput = { ...s, takeProfit: s.entry! * 1.05, stopLoss: s.entry! * 0.97 };
    const r = await renderTradeChart(wide);
    for (const k of ['entry', 'takeProfit', 'stopLoss'] as const) {
      expect(r.rows[k]!).toBeGreaterThanOrEqual(r.plot.top);
      expect(r.rows[k]!).toBeLessThan(r.plot.bottom);
    }
    const img = await decode(r.png);
    expect(img.hex(r.plot.left + 3, r.rows.takeProfit!)).toBe(DARK_THEME.takeProfit);
    expect(img.hex(r.plot.left + 3, r.rows.stopLoss!)).toBe(DARK_THEME.stopLoss);
  });

  it('drops the oldest candles rather than drawing slivers when given too many', () => {
    const s = longScenario();
    const many = { ...s, candles: [...s.candles, ...s.candles.map((c) => ({ ...c, openTime: c.openTime + 90 * 60_000 }))].concat(
      s.candles.map((c) => ({ ...c, openTime: c.openTime + 180 * 60_000 })),
    ) };
    const built = buildTradeChart(many);
    expect(built.droppedCandles).toBeGreaterThan(0);
    const slot = built.candles[1]!.x0 - built.candles[0]!.x0;
    expect(slot).toBeGreaterThanOrEqual(LAYOUT.minSlotPx - 1);
    expect(built.candles[built.candles.length - 1]!.openTime).toBe(many.candles[many.candles.length - 1]!.openTime);
  });

  it('rejects bad input with a clear message', () => {
    const s = longScenario();
    expect(() => buildTradeChart({ ...s, candles: [] })).toThrow(/candles: a trade chart needs at least one candle/);
    expect(() => buildTradeChart({ ...s, entry: Number.NaN })).toThrow(/entry/);
    expect(() => buildTradeChart({ ...s, candles: [{ ...s.candles[0]!, high: 1 }] })).toThrow(/OHLC out of order/);
  });

  it('shrinks a large chart for a long send queue, keeping the aspect ratio', async () => {
    const large = await renderTradeChart(longScenario('large'));
    const small = await shrink(large.png, 640);
    const meta = await sharp(small.png).metadata();
    expect([meta.width, meta.height, small.width, small.height]).toEqual([640, 400, 640, 400]);
    expect(small.png.length).toBeLessThan(large.png.length * 0.6);
    expect((await shrink(large.png, 640)).png.equals(small.png)).toBe(true);
    save('long-large-shrunk-640.png', small.png);
    const same = await shrink(long.png, 1280);
    expect(same.png).toBe(long.png);
    await expect(shrink(long.png, 0)).rejects.toThrow(/maxWidth/);
  });

  it('implements the ChartRenderer port (shared/ports/charts.ts)', async () => {
    const renderer: ChartRenderer = { renderTradeChart, renderEquityChart, renderBarChart, shrink };
    const out = await renderer.renderTradeChart(shortScenario('large'));
    expect([out.width, out.height]).toEqual([1280, 800]);
    const small = await renderer.shrink(out.png, 640);
    expect([small.width, small.height]).toEqual([640, 400]);
  });
});
