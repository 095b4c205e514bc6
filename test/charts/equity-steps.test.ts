/**
 * Equity changes in steps (issue 8): a trade's P&L lands at its exit. The report / `/equity` PNG and the
 * backtest HTML draw steps from the first data point, never a diagonal from the period start to the
 * first exit nor lines between exits, and draw nothing where there is no data.
 */
import { describe, expect, it } from 'vitest';
import { renderEquityChart } from '../../infra/charts/render.js';
import { DARK_THEME } from '../../shared/charts/theme.js';
import { createAccount } from '../../shared/trading/account.js';
import { equityPoints } from '../../shared/telegram/reports.js';
import { equitySvg, type HtmlChartInput } from '../../shared/backtest/report.js';
import type { ClosedTradeRecord } from '../../shared/ports/trade-history.js';
import { colourDistance, decode, rgb, type Raster } from './pixels.js';

const H = 3_600_000;
const DAY = Date.UTC(2025, 5, 22);
const LINE = rgb(DARK_THEME.equityLine);

/** The one trade of the day: a SOL short stopped out in 8 minutes, closed at 18:00 UTC. */
const trade: ClosedTradeRecord = {
  groupId: 'g1', strategy: 'v52_divergence', symbol: 'SOLUSDT', direction: 'SHORT',
  entryTime: DAY + 17 * H + 52 * 60_000, exitTime: DAY + 18 * H, avgEntry: 132.26, exitPrice: 135.5, qty: 90, fees: 8.4, pnl: -300, pnlPct: -2.45, exitReason: 'stop_loss',
};

/** Rows of column x (within [top, bottom)) painted in the equity line colour. */
function lineRows(img: Raster, x: number, top: number, bottom: number): number[] {
  const rows: number[] = [];
  for (let y = Math.ceil(top); y < Math.floor(bottom); y++) if (colourDistance(img.at(x, y), LINE) < 40) rows.push(y);
  return rows;
}

describe('equity charts draw steps', () => {
  it('a day whose only trade closed at 18:00 is flat until 18:00, then steps down and stays flat (pixel check)', async () => {
    const account = { ...createAccount('paper', 10_000), realizedPnl: -300 };
    const from = DAY;
    const now = DAY + 24 * H;
    const points = equityPoints(account, [trade], from, now);
    const chart = await renderEquityChart({ points, title: 'Daily report · equity', size: 'alert', from, to: now });
    const img = await decode(chart.png);
    const { plot } = chart;
    const x = (t: number) => plot.left + ((t - from) / (now - from)) * (plot.right - plot.left);
    // The chart's own rows of 10,000 (the peak) and 9,700 (the trough).
    const { peakY, troughY } = chart.marks;
    expect(troughY - peakY).toBeGreaterThan(100);
    const near = (rows: number[], y: number) => rows.length > 0 && rows.every((r) => Math.abs(r - y) <= 2);

    // 00:00 -> 18:00: the line sits on 10,000 in every column (a diagonal would be half-way down at 09:00).
    for (let t = from + H; t <= DAY + 17.5 * H; t += H / 2) {
      const rows = lineRows(img, Math.round(x(t)), plot.top, plot.bottom);
      expect(near(rows, peakY), `at ${new Date(t).toISOString()} line rows ${rows.join(',')} vs ${peakY}`).toBe(true);
    }
    // At 18:00 the line drops vertically through the fall (its lowest rows sit under the "max DD" tag).
    const xe = Math.round(x(trade.exitTime));
    const drop = [xe - 1, xe, xe + 1].flatMap((c) => lineRows(img, c, plot.top, plot.bottom));
    expect(Math.min(...drop)).toBeLessThanOrEqual(peakY + 2);
    expect(Math.max(...drop)).toBeGreaterThanOrEqual(peakY + 0.9 * (troughY - peakY));
    // 18:00 -> 24:00: flat on 9,700.
    // (Right after 18:00 the "max DD" tag sits on the line: looked at from 21:00.)
    for (let t = DAY + 21 * H; t < now - H / 4; t += H / 2) {
      const rows = lineRows(img, Math.round(x(t)), plot.top, plot.bottom);
      expect(near(rows, troughY), `at ${new Date(t).toISOString()} line rows ${rows.join(',')} vs ${troughY}`).toBe(true);
    }
  });

  it('draws nothing before the first data point when the axis starts earlier', async () => {
    const from = DAY;
    const now = DAY + 24 * H;
    const points = [
      { t: DAY + 6 * H, equity: 10_000 },
      { t: DAY + 18 * H, equity: 9_700 },
      { t: now, equity: 9_700 },
    ];
    const chart = await renderEquityChart({ points, title: 'Equity', size: 'alert', from, to: now });
    const img = await decode(chart.png);
    const { plot } = chart;
    const x = (t: number) => plot.left + ((t - from) / (now - from)) * (plot.right - plot.left);
    const fills = new Set<string>([DARK_THEME.equityFill, DARK_THEME.drawdownFill]);
    for (let t = from + H / 2; t < DAY + 5.5 * H; t += H / 2) {
      const c = Math.round(x(t));
      expect(lineRows(img, c, plot.top, plot.bottom)).toEqual([]);
      for (let y = Math.ceil(plot.top) + 2; y < plot.bottom - 2; y += 3) expect(fills.has(img.hex(c, y))).toBe(false);
    }
    // From 06:00 on it is drawn (area under the curve).
    const c = Math.round(x(DAY + 12 * H));
    expect(lineRows(img, c, plot.top, plot.bottom).length).toBeGreaterThan(0);
    expect(img.hex(c, Math.round(plot.bottom) - 5)).toBe(DARK_THEME.equityFill);
  });

  it('the backtest HTML chart is steps too: every segment of the equity path is horizontal or vertical', () => {
    const time = [DAY + 6 * H, DAY + 9 * H, DAY + 18 * H, DAY + 23 * H];
    const equity = [10_000, 10_120, 9_820, 9_820];
    const svg = equitySvg({ title: 't', startingEquity: 10_000, start: DAY, time, equity, samples: time.length, trades: [] } as unknown as HtmlChartInput);
    const paths = [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="#2962ff"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(1);
    const pts = [...paths[0]!.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pts.length).toBeGreaterThanOrEqual(2 * 5 - 1);
    for (let i = 1; i < pts.length; i++) {
      const [x0, y0] = pts[i - 1]!;
      const [x1, y1] = pts[i]!;
      expect(x0 === x1 || y0 === y1, `segment ${i}: (${x0},${y0}) -> (${x1},${y1})`).toBe(true);
    }
  });
});
