/**
 * Chart benchmark (SPEC 9): warm render time of the 640 px alert chart (SVG build + librsvg raster with
 * the bundled font + PNG encode) on REAL candles (test/fixtures/charts: the BTCUSDT 1m LONG scenario with
 * S/R, trend line, entry/TP/SL), median over TIMED renders after WARMUP renders. Baseline in the same run:
 * a bare sharp PNG encode of a blank image of the same size with the same encoder settings.
 * Prints one JSON line; `runChartBench()` returns the same object. Run: `npx tsx bench/charts.ts`.
 */
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { CHART_SIZES, DARK_THEME } from '../shared/charts/theme.js';
import { PNG_OPTIONS, renderTradeChart } from '../infra/charts/render.js';
import { longScenario } from '../test/charts/fixtures.js';

const WARMUP = 3;
const TIMED = 20;

export interface ChartBenchResult {
  bench: 'chart_render';
  /** Median ms of one warm alert-chart render (input -> PNG buffer). */
  warm_ms: number;
  /** Median ms of a bare PNG encode of a blank 640x400 image. */
  baseline_png_ms: number;
  ratio_vs_blank_png: number;
  /** Median ms of the large (1280x800) chart, for reference. */
  large_warm_ms: number;
  png_bytes: number;
  width: number;
  height: number;
  renders: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < TIMED; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

export async function runChartBench(opts: { print?: boolean } = {}): Promise<ChartBenchResult> {
  const input = longScenario('alert');
  const large = longScenario('large');
  const { width, height } = CHART_SIZES.alert;
  let bytes = 0;
  const warm = await timeIt(async () => {
    bytes = (await renderTradeChart(input)).png.length;
  });
  const blank = await timeIt(() =>
    sharp({ create: { width, height, channels: 4, background: DARK_THEME.background } }).png(PNG_OPTIONS).toBuffer(),
  );
  const largeMs = await timeIt(() => renderTradeChart(large));
  const result: ChartBenchResult = {
    bench: 'chart_render',
    warm_ms: round(warm),
    baseline_png_ms: round(blank),
    ratio_vs_blank_png: round(warm / blank, 2),
    large_warm_ms: round(largeMs),
    png_bytes: bytes,
    width,
    height,
    renders: TIMED,
  };
  if (opts.print) process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runChartBench({ print: true });
}
