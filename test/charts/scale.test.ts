import { describe, expect, it } from 'vitest';
import {
  decimalsOf, formatNumber, formatPct, formatTimeTick, formatUtcDateTime, linearScale, niceStep, niceTicks, priceDecimals,
  timeTicks,
} from '../../shared/charts/scale.js';
import { spreadTags } from '../../shared/charts/trade-chart.js';
import { escapeXml } from '../../shared/charts/svg.js';
import { textWidth } from '../../shared/charts/theme.js';

describe('chart scales and formatting', () => {
  it('maps prices to pixels with y growing downwards', () => {
    const y = linearScale(100_000, 102_000, 300, 100);
    expect(y(100_000)).toBe(300);
    expect(y(102_000)).toBe(100);
    expect(y(101_000)).toBe(200);
    expect(linearScale(5, 5, 0, 10)(5)).toBe(5);
  });

  it('picks nice 1/2/2.5/5 steps and ticks inside the range', () => {
    expect(niceStep(99_450, 102_650, 6)).toBe(500);
    expect(niceTicks(99_450, 102_650, 6)).toEqual([99_500, 100_000, 100_500, 101_000, 101_500, 102_000, 102_500]);
    expect(niceStep(0.1612, 0.1655, 5)).toBeCloseTo(0.001, 12);
    expect(niceTicks(0.1612, 0.1655, 5)).toEqual([0.162, 0.163, 0.164, 0.165]);
    expect(decimalsOf(0.0025)).toBe(4);
    expect(decimalsOf(500)).toBe(0);
  });

  it('formats prices without locale: separators, decimals by magnitude, real minus sign', () => {
    expect(formatNumber(106_688.4, priceDecimals(106_688.4))).toBe('106,688.4');
    expect(formatNumber(2431.256, priceDecimals(2431.256))).toBe('2,431.26');
    expect(formatNumber(0.1623456, priceDecimals(0.1623456))).toBe('0.16235');
    expect(formatNumber(-1234.5, 1)).toBe('\u22121,234.5');
    expect(formatNumber(-0.001, 1)).toBe('0.0');
    expect(formatPct(0.6)).toBe('+0.60%');
    expect(formatPct(-10.348)).toBe('\u221210.35%');
    expect(formatPct(0)).toBe('0.00%');
  });

  it('puts time ticks on UTC boundaries and labels them in UTC', () => {
    const t0 = Date.UTC(2025, 5, 23, 16, 10);
    const t1 = Date.UTC(2025, 5, 23, 17, 42);
    const { step, ticks } = timeTicks(t0, t1, 5);
    expect(step).toBe(30 * 60_000);
    expect(ticks.map((t) => formatTimeTick(t, step))).toEqual(['16:30', '17:00', '17:30']);
    expect(formatTimeTick(Date.UTC(2025, 5, 24), step)).toBe('Jun 24');
    expect(formatUtcDateTime(Date.UTC(2025, 0, 2, 3, 4))).toBe('2025-01-02 03:04');
  });

  it('spreads overlapping price tags apart and keeps them inside the gutter', () => {
    expect(spreadTags([100, 105, 300], 17, 0, 400)).toEqual([100, 117, 300]);
    // Pushed back up from the bottom edge, order kept.
    expect(spreadTags([395, 390], 17, 0, 400)).toEqual([400, 383]);
    const many = spreadTags([10, 10, 10, 10], 20, 8, 400);
    expect([...many].sort((a, b) => a - b)).toEqual([10, 30, 50, 70]);
    // Too many for the space: the lower bound wins over the upper one, none overlap.
    expect(spreadTags([5, 5, 5], 20, 8, 30)).toEqual([8, 28, 48]);
  });

  it('escapes text for SVG and estimates DejaVu Sans widths', () => {
    expect(escapeXml('<BTC & "ETH">')).toBe('&lt;BTC &amp; &quot;ETH&quot;&gt;');
    // DejaVu Sans digits are 0.636 em: "106,688.4" at 11 px is about 54 px.
    expect(textWidth('106,688.4', 11)).toBeCloseTo(7 * 0.636 * 11 + 2 * 0.318 * 11, 6);
    expect(textWidth('WIN', 13, true)).toBeGreaterThan(textWidth('WIN', 13));
  });
});
