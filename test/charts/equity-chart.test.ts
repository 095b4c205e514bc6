import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEquityChart, computeDrawdown } from '../../shared/charts/equity-chart.js';
import { DARK_THEME } from '../../shared/charts/theme.js';
import { renderEquityChart, type EquityChartPng } from '../../infra/charts/render.js';
import { holdOneBtcEquity } from './fixtures.js';
import { decode, type Raster } from './pixels.js';

const SAMPLE_DIR = join(tmpdir(), 'cst-chart-samples');

/** Independent O(n^2) max drawdown: worst later/earlier ratio. */
function bruteMaxDrawdown(values: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) worst = Math.min(worst, values[j]! / values[i]! - 1);
  }
  return worst;
}

describe('equity chart (holding 1 BTC over the real Bybit hourly closes, 2025-05-29 -> 06-29)', () => {
  const points = holdOneBtcEquity();
  let chart: EquityChartPng;
  let img: Raster;

  beforeAll(async () => {
    chart = await renderEquityChart({ points, title: 'Equity \u00b7 hold 1 BTC' });
    img = await decode(chart.png);
    mkdirSync(SAMPLE_DIR, { recursive: true });
    writeFileSync(join(SAMPLE_DIR, 'equity-alert.png'), chart.png);
  });

  it('computes the running peak and the maximum drawdown', () => {
    const { series, max } = computeDrawdown(points);
    expect(series).toHaveLength(points.length);
    expect(max.drawdown).toBeCloseTo(bruteMaxDrawdown(points.map((p) => p.equity)), 12);
    // The real numbers: BTC peaked at 110,227.5 (2025-06-10 23:00 UTC) and bottomed at 98,821.1
    // (2025-06-22 19:00 UTC) on the hourly closes: -10.35 %.
    expect([max.peak, max.trough]).toEqual([110_227.5, 98_821.1]);
    expect(new Date(max.peakTime).toISOString()).toBe('2025-06-10T23:00:00.000Z');
    expect(new Date(max.troughTime).toISOString()).toBe('2025-06-22T19:00:00.000Z');
    expect(max.drawdown * 100).toBeCloseTo(-10.348, 2);
    for (const p of series) {
      expect(p.peak).toBeGreaterThanOrEqual(p.equity);
      expect(p.drawdown).toBeLessThanOrEqual(0);
    }
    const flat = computeDrawdown([{ t: 1, equity: 100 }, { t: 2, equity: 101 }]);
    expect(flat.max.drawdown).toBe(0);
  });

  it('decodes to exactly 640x400 and 1280x800', async () => {
    expect(await sharp(chart.png).metadata()).toMatchObject({ format: 'png', width: 640, height: 400 });
    const large = await renderEquityChart({ points, title: 'Equity \u00b7 hold 1 BTC', size: 'large' });
    writeFileSync(join(SAMPLE_DIR, 'equity-large.png'), large.png);
    expect(await sharp(large.png).metadata()).toMatchObject({ width: 1280, height: 800 });
  });

  it('fills the drawdown in red between the peak line and the equity line where equity fell', () => {
    const { troughX, peakY, troughY } = chart.marks;
    expect(troughY - peakY).toBeGreaterThan(100); // a -10 % fall is most of the panel height
    // A pixel column between the peak and the trough where equity sat at 30-70 % of the fall (from the data,
    // with the chart's own linear maps).
    const { max } = computeDrawdown(points);
    const first = points[0]!.t;
    const last = points[points.length - 1]!.t;
    const xOf = (t: number) => chart.plot.left + ((t - first) / (last - first)) * (chart.plot.right - chart.plot.left);
    const yOf = (v: number) => peakY + ((max.peak - v) / (max.peak - max.trough)) * (troughY - peakY);
    const depth = max.peak - max.trough;
    const inBand = (v: number) => v >= max.trough + 0.3 * depth && v <= max.trough + 0.7 * depth;
    let x = -1;
    let near: typeof points = [];
    for (let c = Math.ceil(xOf(max.peakTime)) + 10; c < troughX - 10 && x < 0; c++) {
      // Equity is drawn in steps: at a point's column the line also spans the value held before it.
      const i0 = points.findIndex((p) => Math.abs(xOf(p.t) - c) <= 1.5);
      const ps = i0 < 0 ? [] : points.filter((p, i) => Math.abs(xOf(p.t) - c) <= 1.5 || i === i0 - 1);
      if (ps.length > 0 && ps.every((p) => inBand(p.equity))) {
        x = c;
        near = ps;
      }
    }
    expect(x).toBeGreaterThan(0);
    const equityTop = Math.min(...near.map((p) => yOf(p.equity)));
    expect(equityTop - peakY).toBeGreaterThan(60);
    let red = 0;
    let span = 0;
    for (let y = Math.ceil(peakY) + 3; y < equityTop - 3; y++) {
      span++;
      if (img.hex(x, y) === DARK_THEME.drawdownFill) red++;
    }
    expect(span).toBeGreaterThan(50);
    expect(red / span).toBeGreaterThan(0.97);
    // Below the equity line: no drawdown red down to the panel bottom, mostly the equity area colour.
    let fill = 0;
    let below = 0;
    for (let y = Math.round(Math.max(...near.map((p) => yOf(p.equity)))) + 4; y < chart.plot.bottom; y++) {
      below++;
      expect(img.hex(x, y)).not.toBe(DARK_THEME.drawdownFill);
      if (img.hex(x, y) === DARK_THEME.equityFill) fill++;
    }
    expect(below).toBeGreaterThan(40);
    expect(fill / below).toBeGreaterThan(0.6);
  });

  it('draws no drawdown red above the equity line at the all-time high', () => {
    const { max } = computeDrawdown(points);
    const first = points[0]!.t;
    const last = points[points.length - 1]!.t;
    const x = Math.round(chart.plot.left + ((max.peakTime - first) / (last - first)) * (chart.plot.right - chart.plot.left));
    for (let y = Math.round(chart.plot.top) + 1; y < Math.round(chart.marks.peakY) - 4; y++) {
      expect(img.hex(x, y)).not.toBe(DARK_THEME.drawdownFill);
    }
  });

  it('shows the underwater curve in the drawdown panel, deepest at the trough', () => {
    const p = chart.drawdownPanel;
    const x = Math.round(chart.marks.troughX) - 4;
    let red = 0;
    for (let y = Math.round(p.top) + 2; y < Math.round(p.top + (p.bottom - p.top) * 0.6); y++) {
      if (img.hex(x, y) === DARK_THEME.drawdownFill) red++;
    }
    expect(red).toBeGreaterThan(30);
    // Near the start, where equity is at its first peak, the panel is nearly empty.
    let early = 0;
    for (let y = Math.round(p.top) + 6; y < p.bottom - 2; y++) if (img.hex(Math.round(p.left) + 1, y) === DARK_THEME.drawdownFill) early++;
    expect(early).toBeLessThan(5);
  });

  it('puts the return and the max drawdown in the header, and is deterministic', async () => {
    const built = buildEquityChart({ points, title: 'Equity' });
    expect(built.svg).toContain('Max DD \u221210.35%');
    const ret = points[points.length - 1]!.equity / points[0]!.equity - 1;
    expect(built.totalReturn).toBeCloseTo(ret, 12);
    expect(built.svg).toContain(`Return +${(ret * 100).toFixed(2)}%`);
    const again = await renderEquityChart({ points, title: 'Equity \u00b7 hold 1 BTC' });
    expect(again.png.equals(chart.png)).toBe(true);
  });

  it('rejects a curve with fewer than two points', () => {
    expect(() => buildEquityChart({ points: [points[0]!], title: 'x' })).toThrow(/at least two points/);
  });
});
