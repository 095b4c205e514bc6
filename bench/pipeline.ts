/**
 * Replay throughput of the FULL pipeline (infra/runtime/month-replay.ts `runReplay`: candle-ingest,
 * micro-scalp, execution, the Kraken-venue writes and macro-analysis every 5 minutes, on the
 * in-process bus with SQLite state and DuckDB warehouse) on a slice of the kit's REAL 1m candles
 * (../shared/data/bybit_linear, BTC/ETH/SOL), in candles per second of wall time, as a ratio to a
 * bare loop measured in the same run that only parses the same CSV rows into candles and publishes
 * them on an InMemoryBus (one no-op subscriber, drained after each candle as the replay does).
 * Prints one JSON line {"bench":"pipeline_replay","candles_per_s":...,"ratio_vs_bus_only":...};
 * `runPipelineBench()` returns the same object.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InMemoryBus } from '../infra/bus/memory.js';
import { createLogger } from '../shared/log.js';
import { candleKey, type Candle } from '../shared/model/market.js';
import { readCandleCsv } from '../shared/market/candle-csv.js';
import { TOPICS } from '../shared/topics.js';
import { DEFAULT_SYMBOLS, runReplay } from '../infra/runtime/month-replay.js';

export const DATA_DIR = join(import.meta.dirname, '..', '..', 'shared', 'data');
/** Slice: 6 hours of market time from this open time, after a 74-hour warm-up (the engines' look-back). */
const SLICE_FROM = Date.UTC(2025, 5, 10, 0, 0);
const SLICE_MINUTES = 360;
const WARMUP_MS = 74 * 60 * 60_000;
const MINUTE = 60_000;

export interface PipelineBenchResult {
  bench: 'pipeline_replay';
  candles: number;
  candles_per_s: number;
  bus_only_candles_per_s: number;
  ratio_vs_bus_only: number;
  macro_runs: number;
}

/** The bare loop: parse the CSV rows of the slice and publish each candle as the replay does. */
async function busOnly(dataDir: string, symbols: string[], from: number, to: number): Promise<{ candles: number; ms: number }> {
  const texts = symbols.map((s) => readFileSync(join(dataDir, 'bybit_linear', `${s}_1m.csv`), 'utf8'));
  const bus = new InMemoryBus({ fast: true, log: createLogger({}, { minSeverity: 'ERROR' }) });
  bus.subscribe({ name: 'noop--candles', topic: TOPICS.bybitCandles, handler: () => undefined });
  const start = performance.now();
  const rows = texts.map((text, k) => {
    const out: Candle[] = [];
    const meta = { symbol: symbols[k] as string, interval: '1m', venue: 'bybit' } as const;
    const onBadRow = (line: number, reason: string): never => {
      throw new Error(`${symbols[k]}_1m.csv:${line}: ${reason}`);
    };
    readCandleCsv(text, meta, { onBadRow }, ({ candle }) => {
      if (candle.openTime >= from && candle.openTime <= to) out.push(candle);
    });
    return out;
  });
  let n = 0;
  for (let m = 0; m <= (to - from) / MINUTE; m++) {
    for (const list of rows) {
      const c = list[m];
      if (!c) continue;
      await bus.publish(TOPICS.bybitCandles, { candles: [c] }, { orderingKey: c.symbol, attributes: { symbol: c.symbol, candleKey: candleKey(c) } });
      await bus.drain();
      n++;
    }
  }
  const ms = performance.now() - start;
  await bus.close();
  return { candles: n, ms };
}

export async function runPipelineBench(opts: { print?: boolean; minutes?: number; dataDir?: string } = {}): Promise<PipelineBenchResult> {
  const dataDir = opts.dataDir ?? DATA_DIR;
  const to = SLICE_FROM + ((opts.minutes ?? SLICE_MINUTES) - 1) * MINUTE;
  const r = await runReplay({ dataDir, symbols: DEFAULT_SYMBOLS, from: SLICE_FROM, to, warmupMs: WARMUP_MS });
  if (r.deadLetters.length > 0) throw new Error(`pipeline bench: ${r.deadLetters.length} dead letters (${r.deadLetters[0]?.reason})`);
  const bare = await busOnly(dataDir, DEFAULT_SYMBOLS, SLICE_FROM, to);
  if (bare.candles !== r.candlesPublished) throw new Error(`pipeline bench: bus-only loop published ${bare.candles} candles, the pipeline ${r.candlesPublished}`);
  const cps = r.candlesPublished / (r.loopMs / 1000);
  const busCps = bare.candles / (bare.ms / 1000);
  const result: PipelineBenchResult = {
    bench: 'pipeline_replay',
    candles: r.candlesPublished,
    candles_per_s: Math.round(cps * 10) / 10,
    bus_only_candles_per_s: Math.round(busCps),
    ratio_vs_bus_only: Math.round((cps / busCps) * 1e5) / 1e5,
    macro_runs: r.macroRuns,
  };
  if (opts.print) process.stdout.write(JSON.stringify(result) + '\n');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runPipelineBench({ print: true });
}
