/**
 * Holder ingest benchmark on the REAL Bybit v5 recording (test/fixtures/bybit: the linear
 * publicTrade, orderbook.200 and kline.1 messages the holder subscribes to; tickers are not part of
 * the holder's stream and are left out).
 *
 * - `ingest`: the holder's hot path per message, exactly as in production minus the network:
 *   JSON.parse of the wire text + validation + 1m aggregation + tick batching + order-book update
 *   (`BybitHolder.ingest(text)`), in msgs/s, and its ratio to bare `JSON.parse` of the same texts in
 *   the same run (goal: ratio >= 0.5).
 * - `orderbook_deltas`: order-book deltas applied per second (pre-parsed messages, book only).
 *
 * The recording is 45 s long; to measure steady state it is repeated with every time field shifted
 * by whole hours per copy (so trades keep moving forward and minutes keep closing), and the texts
 * are built once, before timing. Each figure is the median of several timed repetitions.
 * Prints one JSON line per benchmark; `runIngestBench()` returns the same objects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BybitHolder } from '../shared/market/bybit/holder.js';
import { OrderBook } from '../shared/market/bybit/orderbook.js';
import type { BookData } from '../shared/market/bybit/messages.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../shared/config/system.js';
import { createLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports/clock.js';
import type { Bus } from '../shared/ports/bus.js';
import type { StateStore } from '../shared/ports/state.js';
import type { BybitStream, KlineSource } from '../shared/ports/bybit.js';

const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'bybit');
const FILES = ['linear_publicTrade.jsonl', 'linear_orderbook200.jsonl', 'linear_kline1.jsonl'];
const HOUR = 3_600_000;
/** Copies of the recording per timed pass (each shifted by one more hour). */
const COPIES = 20;
const WARMUP_REPS = 2;
const TIMED_REPS = 7;
export const INGEST_GOAL_RATIO = 0.5;

export interface IngestBenchResult {
  bench: 'ingest';
  msgs_per_s: number;
  json_parse_msgs_per_s: number;
  ratio_vs_json_parse: number;
  goal_ratio: number;
  goal_met: boolean;
  messages_per_pass: number;
  reps: number;
}
export interface BookBenchResult {
  bench: 'orderbook_deltas';
  deltas_per_s: number;
  deltas_per_pass: number;
  reps: number;
}

interface Rec {
  recv: number;
  msg: Record<string, unknown>;
}

function loadMessages(): Rec[] {
  const out: Rec[] = [];
  for (const f of FILES) {
    for (const line of readFileSync(join(FIXTURES, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const r = JSON.parse(line) as { recv_ts: number; msg: Record<string, unknown> };
      out.push({ recv: r.recv_ts, msg: r.msg });
    }
  }
  return out.sort((a, b) => a.recv - b.recv);
}

/** Shifts every exchange time field of a message by `dt` ms (deep copy). */
function shifted(msg: Record<string, unknown>, dt: number): Record<string, unknown> {
  const m = structuredClone(msg);
  if (typeof m.ts === 'number') m.ts += dt;
  if (typeof m.cts === 'number') m.cts += dt;
  const data = m.data;
  if (Array.isArray(data)) {
    for (const d of data as Array<Record<string, number>>) {
      for (const k of ['T', 'start', 'end', 'timestamp']) if (typeof d[k] === 'number') d[k] += dt;
    }
  }
  return m;
}

const nullBus: Bus = { publish: async () => 'bench', close: async () => undefined };
const nullStream: BybitStream = {
  setHandlers: () => undefined,
  connect: async () => undefined,
  subscribe: async () => undefined,
  unsubscribe: async () => undefined,
  close: async () => undefined,
  state: () => 'connected',
};
const nullKlines: KlineSource = { closedKlines1m: async () => [] };
const nullState = {
  get: async () => undefined,
  runTransaction: async <T>(fn: (tx: unknown) => Promise<T>) =>
    fn({ get: async () => undefined, set: () => undefined, merge: () => undefined, delete: () => undefined, query: async () => [] }),
} as unknown as StateStore;

function benchConfig(symbols: string[]): SystemConfig {
  return {
    ...DEFAULT_SYSTEM_CONFIG,
    symbols: symbols.map((symbol) => ({ symbol, krakenPair: null, tier: 'large_cap' as const, enabled: true })),
    bybit: { ...DEFAULT_SYSTEM_CONFIG.bybit, bookDepth: 200 },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function runIngestBench(opts: { print?: boolean } = {}): Promise<[IngestBenchResult, BookBenchResult]> {
  const recs = loadMessages();
  const symbols = [...new Set(recs.map((r) => (r.msg.topic as string).split('.').pop() as string))];
  const texts: string[] = [];
  for (let k = 0; k < COPIES; k++) for (const r of recs) texts.push(JSON.stringify(k === 0 ? r.msg : shifted(r.msg, k * HOUR)));
  const log = createLogger({}, { minSeverity: 'ERROR' });

  let sink = 0;
  const bare = (): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < texts.length; i++) {
      const o = JSON.parse(texts[i] as string) as { ts?: number };
      sink += o.ts ?? 0;
    }
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const ingest = (): number => {
    const holder = new BybitHolder({ stream: nullStream, klines: nullKlines, bus: nullBus, state: nullState, clock: systemClock, log, config: benchConfig(symbols), autoTimers: false });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < texts.length; i++) holder.ingest(texts[i] as string);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const h = holder.health();
    if (h.malformed > 0 || Object.values(h.symbols).some((x) => x.bookGaps + x.bookInvalid + x.bookCrossed > 0)) {
      throw new Error('bench input was not ingested cleanly');
    }
    sink += h.messages;
    return s;
  };

  for (let i = 0; i < WARMUP_REPS; i++) {
    bare();
    ingest();
  }
  const bareT: number[] = [];
  const ingestT: number[] = [];
  for (let i = 0; i < TIMED_REPS; i++) {
    bareT.push(bare());
    ingestT.push(ingest());
    await new Promise((r) => setImmediate(r)); // let the holders' queued async work run between passes
  }
  const jsonRate = texts.length / median(bareT);
  const ingestRate = texts.length / median(ingestT);
  const ratio = ingestRate / jsonRate;
  const ingestResult: IngestBenchResult = {
    bench: 'ingest',
    msgs_per_s: Math.round(ingestRate),
    json_parse_msgs_per_s: Math.round(jsonRate),
    ratio_vs_json_parse: Math.round(ratio * 1000) / 1000,
    goal_ratio: INGEST_GOAL_RATIO,
    goal_met: ratio >= INGEST_GOAL_RATIO,
    messages_per_pass: texts.length,
    reps: TIMED_REPS,
  };

  // order-book deltas alone, pre-parsed
  const bookMsgs = recs.filter((r) => (r.msg.topic as string).startsWith('orderbook.')).map((r) => r.msg);
  const deltas = bookMsgs.filter((m) => m.type === 'delta').length;
  const bookPass = (): number => {
    const books = new Map(symbols.map((s) => [s, new OrderBook(s)]));
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < COPIES; k++) {
      for (const m of bookMsgs) {
        const d = m.data as BookData;
        if (books.get(d.s)!.apply(m.type, d, m.ts as number) !== 'ok') throw new Error('bench book input not clean');
      }
    }
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  for (let i = 0; i < WARMUP_REPS; i++) bookPass();
  const bookT: number[] = [];
  for (let i = 0; i < TIMED_REPS; i++) bookT.push(bookPass());
  const bookResult: BookBenchResult = {
    bench: 'orderbook_deltas',
    deltas_per_s: Math.round((deltas * COPIES) / median(bookT)),
    deltas_per_pass: deltas * COPIES,
    reps: TIMED_REPS,
  };
  if (sink === Number.MIN_VALUE) process.stdout.write('');
  if (opts.print) {
    process.stdout.write(JSON.stringify(ingestResult) + '\n');
    process.stdout.write(JSON.stringify(bookResult) + '\n');
  }
  return [ingestResult, bookResult];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runIngestBench({ print: true }).catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
