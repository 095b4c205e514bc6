/**
 * The data a BybitReplayServer (infra/replay/bybit-server.ts) serves, kept apart from its protocol
 * code: the replay events (websocket messages at replay times) and the REST kline states, from one of
 * two REAL sources:
 *   (a) `loadRecording()`: the real v5 recording (linear publicTrade, orderbook.200, kline.1,
 *       tickers; jsonl lines `{"recv_ts": s, "msg": {...}}`), replayed in `recv_ts` order, messages
 *       sent byte-for-byte as recorded. REST kline states come from the recorded kline.1 messages.
 *   (b) `tradesFromCandles()`: real 1m candles (`loadCandlesCsv()`: the kit's candle CSV,
 *       shared/data/bybit_linear/*_1m.csv, read by the one candle CSV reader, shared/market/candle-csv.ts,
 *       every row checked and the decimal strings kept exact) turned into a DETERMINISTIC publicTrade
 *       sequence per candle: 4 trades at +1 s, +20 s, +40 s, +59 s of the minute at open, then low/high
 *       (low first when close >= open, high first otherwise), then close, whose sizes split the candle
 *       volume exactly; plus kline.1 updates (the minute's open at +0.1 s with volume 0, one after each
 *       trade) and the `confirm: true` bar 0.1 s after the minute. The prices and volumes are the real
 *       candle's; the trade times, sizes split, ids (`derived-...`) and turnover (sum of price x size)
 *       are DERIVED, not recorded. Aggregating these trades the Bybit way reproduces every candle exactly.
 * `mergeReplayData()` puts several symbols' data on one server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCandleCsv } from '../../shared/market/candle-csv.js';

const MINUTE = 60_000;
/** Derived-trade offsets inside a minute (ms) for open, first extreme, second extreme, close. */
const DERIVED_TRADE_OFFSETS = [1_000, 20_000, 40_000, 59_000] as const;
/** Derived kline.1 updates come this long after the trade they include; the minute's first bar and
 * the confirmed bar this long after the minute starts / ends. */
const DERIVED_KLINE_LAG_MS = 100;

type Msg = Record<string, unknown>;
export type KlineRow = [string, string, string, string, string, string, string];

export interface ReplayEvent {
  /** Replay time (ms) at which the server sends the message. */
  at: number;
  topic: string;
  /** The exchange message, or a function that builds it when it is sent (derived streams are built
   * lazily, so a month of candles for several symbols stays small in memory). */
  msg: Msg | (() => Msg);
}

/** One state of a REST kline row, valid from replay time `at` on. */
export interface KlineState {
  at: number;
  symbol: string;
  /** The bar's open time (ms). */
  start: number;
  /** `[startTime, open, high, low, close, volume, turnover]`, or a function building it. */
  row: KlineRow | (() => KlineRow);
  /** The exchange's final (confirmed) bar: REST returns it as soon as the minute has ended. */
  final: boolean;
}

export function eventMessage(e: ReplayEvent): Msg {
  return typeof e.msg === 'function' ? e.msg() : e.msg;
}

/** The REST row of a kline state (built now when it is derived). */
export function klineRow(k: KlineState): KlineRow {
  return typeof k.row === 'function' ? k.row() : k.row;
}

export interface ReplayData {
  events: ReplayEvent[];
  klines: KlineState[];
}

// loaders

const RECORDING_FILES = ['linear_publicTrade.jsonl', 'linear_orderbook200.jsonl', 'linear_kline1.jsonl', 'linear_tickers.jsonl'];

/**
 * The real Bybit v5 linear recording (jsonl lines `{"recv_ts": s, "msg": {...}}`), all topics, in
 * receive order. REST kline states come from the recorded kline.1 messages.
 */
export function loadRecording(dir: string, opts: { symbols?: string[]; files?: string[] } = {}): ReplayData {
  const events: ReplayEvent[] = [];
  for (const f of opts.files ?? RECORDING_FILES) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const rec = JSON.parse(line) as { recv_ts: number; msg: Record<string, unknown> };
      const topic = rec.msg.topic;
      if (typeof topic !== 'string') continue;
      const symbol = topic.split('.').pop() as string;
      if (opts.symbols && !opts.symbols.includes(symbol)) continue;
      events.push({ at: Math.round(rec.recv_ts * 1000), topic, msg: rec.msg });
    }
  }
  events.sort((a, b) => a.at - b.at);
  const klines: KlineState[] = [];
  for (const e of events) {
    if (!e.topic.startsWith('kline.1.')) continue;
    const symbol = e.topic.slice('kline.1.'.length);
    for (const b of eventMessage(e).data as Array<Record<string, unknown>>) {
      klines.push({
        at: e.at,
        symbol,
        start: Number(b.start),
        row: [String(b.start), String(b.open), String(b.high), String(b.low), String(b.close), String(b.volume), String(b.turnover)],
        final: b.confirm === true,
      });
    }
  }
  return { events, klines };
}

/** A 1m candle as the CSV stores it (strings kept exact). */
/** A 1m candle as the CSV stores it (strings kept exact). */
interface CsvCandle {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/**
 * Reads the kit's candle CSV (`ts_ms,open,high,low,close,volume`) rows with `from <= ts_ms < to`. Every
 * row is checked (shared/market/candle-csv.ts; the open time on the 1m grid) and open times must
 * strictly increase: a bad row throws, naming file and line.
 */
export function loadCandlesCsv(path: string, range: { from?: number; to?: number } = {}): CsvCandle[] {
  const out: CsvCandle[] = [];
  const refuse = (line: number, reason: string, text: string): never => {
    throw new Error(`${path}:${line}: ${reason}: ${text}`);
  };
  let prev = Number.NEGATIVE_INFINITY;
  const meta = { symbol: '', interval: '1m', venue: 'bybit' } as const;
  readCandleCsv(readFileSync(path, 'utf8'), meta, { source: path, onBadRow: refuse }, ({ line, candle, fields }) => {
    const openTime = candle.openTime;
    if (!(openTime > prev)) refuse(line, 'open times must strictly increase', fields.join(','));
    prev = openTime;
    if (range.from !== undefined && openTime < range.from) return;
    if (range.to !== undefined && openTime >= range.to) return;
    const [, open, high, low, close, volume] = fields as [string, string, string, string, string, string];
    out.push({ openTime, open, high, low, close, volume });
  });
  return out;
}

function decimals(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function toUnits(s: string, d: number): bigint {
  const [int, frac = ''] = s.split('.');
  return BigInt((int as string) + frac.padEnd(d, '0'));
}

function fromUnits(u: bigint, d: number): string {
  if (d === 0) return u.toString();
  const s = u.toString().padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
}

/** What the derived messages of one real candle are built from (on demand). */
interface DerivedCandle {
  symbol: string;
  c: CsvCandle;
  /** Open = the previous close (Bybit convention, true on every CSV row). */
  open: string;
  /** Trade prices: open, first extreme, second extreme, close. */
  prices: string[];
  /** Trade sizes in units of 10^-d (0 = no trade). */
  sizes: bigint[];
  d: number;
  /** Price of the trade before this candle's first one (tick direction). */
  prevPrice: number | undefined;
  /** `seq` of this candle's first trade. */
  seq0: number;
}

/** The candle's state after its trades 0..k (k = -1: the minute's first bar, no trade yet). */
function derivedState(dc: DerivedCandle, k: number): { high: string; low: string; close: string; volume: string; turnover: string } {
  let hi = dc.open;
  let lo = dc.open;
  let close = dc.open;
  let volU = 0n;
  let turnover = 0;
  for (let i = 0; i <= k; i++) {
    const sz = dc.sizes[i] as bigint;
    if (sz === 0n) continue;
    const p = dc.prices[i] as string;
    if (Number(p) > Number(hi)) hi = p;
    if (Number(p) < Number(lo)) lo = p;
    close = p;
    volU += sz;
    turnover += Number(p) * Number(fromUnits(sz, dc.d));
  }
  return { high: hi, low: lo, close, volume: fromUnits(volU, dc.d), turnover: k < 0 ? '0' : turnover.toFixed(4) };
}

function derivedKlineRow(dc: DerivedCandle, k: number, final: boolean): KlineRow {
  const m = String(dc.c.openTime);
  const st = derivedState(dc, k);
  if (final) return [m, dc.open, dc.c.high, dc.c.low, dc.c.close, dc.c.volume, st.turnover];
  return [m, dc.open, st.high, st.low, st.close, st.volume, st.turnover];
}

function derivedKlineMsg(dc: DerivedCandle, k: number, final: boolean, at: number): Msg {
  const [, open, high, low, close, volume, turnover] = derivedKlineRow(dc, k, final);
  const m = dc.c.openTime;
  const topic = `kline.1.${dc.symbol}`;
  const bar = { start: m, end: m + MINUTE - 1, interval: '1', open, close, high, low, volume, turnover, confirm: final, timestamp: at };
  return { topic, data: [bar], ts: at, type: 'snapshot' };
}

function derivedTradeMsg(dc: DerivedCandle, k: number): Msg {
  const T = dc.c.openTime + (DERIVED_TRADE_OFFSETS[k] as number);
  let prev = dc.prevPrice;
  let seq = dc.seq0;
  for (let i = 0; i < k; i++) {
    if (dc.sizes[i] === 0n) continue;
    prev = Number(dc.prices[i]);
    seq++;
  }
  const p = dc.prices[k] as string;
  const pn = Number(p);
  const tick = prev === undefined || pn === prev ? 'ZeroPlusTick' : pn > prev ? 'PlusTick' : 'MinusTick';
  const trade = {
    T,
    s: dc.symbol,
    S: tick === 'MinusTick' ? 'Sell' : 'Buy',
    v: fromUnits(dc.sizes[k] as bigint, dc.d),
    p,
    L: tick,
    i: `derived-${dc.symbol}-${dc.c.openTime}-${k}`,
    BT: false,
    RPI: false,
    seq,
  };
  return { topic: `publicTrade.${dc.symbol}`, type: 'snapshot', ts: T + 1, data: [trade] };
}

/** A derived message, built when it is sent (a few numbers per event instead of a message object). */
class DerivedEvent implements ReplayEvent {
  constructor(
    readonly at: number,
    readonly topic: string,
    private readonly dc: DerivedCandle,
    /** Trade index; for klines the last trade included (-1: none). */
    private readonly k: number,
    private readonly kind: 'trade' | 'kline' | 'final',
  ) {}
  get msg(): Msg {
    return this.kind === 'trade' ? derivedTradeMsg(this.dc, this.k) : derivedKlineMsg(this.dc, this.k, this.kind === 'final', this.at);
  }
}

class DerivedKlineState implements KlineState {
  constructor(
    readonly at: number,
    readonly symbol: string,
    readonly start: number,
    private readonly dc: DerivedCandle,
    private readonly k: number,
    readonly final: boolean,
  ) {}
  get row(): KlineRow {
    return derivedKlineRow(this.dc, this.k, this.final);
  }
}

/**
 * Turns real 1m candles of one symbol into Bybit publicTrade + kline.1 messages and REST kline
 * states (see the file header for the exact, deterministic rule). Messages are built when sent.
 */
export function tradesFromCandles(symbol: string, candles: CsvCandle[]): ReplayData {
  const events: ReplayEvent[] = [];
  const klines: KlineState[] = [];
  const tradeTopic = `publicTrade.${symbol}`;
  const klineTopic = `kline.1.${symbol}`;
  let seq = 1;
  let prevPrice: number | undefined;
  let prevClose: string | undefined;
  for (const c of candles) {
    const m = c.openTime;
    const bull = Number(c.close) >= Number(c.open);
    const prices = bull ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
    let d = decimals(c.volume);
    let units = toUnits(c.volume, d);
    while (units < BigInt(prices.length) && units > 0n) {
      d++;
      units *= 10n;
    }
    const part = units / BigInt(prices.length);
    const sizes = prices.map((_, i) => (i === prices.length - 1 ? units - part * BigInt(prices.length - 1) : part));
    const dc: DerivedCandle = { symbol, c, open: prevClose ?? c.open, prices, sizes, d, prevPrice, seq0: seq };
    const first = m + DERIVED_KLINE_LAG_MS;
    events.push(new DerivedEvent(first, klineTopic, dc, -1, 'kline'));
    klines.push(new DerivedKlineState(first, symbol, m, dc, -1, false));
    for (let k = 0; k < prices.length; k++) {
      if (sizes[k] === 0n) continue; // a zero-volume candle has no trades
      const T = m + (DERIVED_TRADE_OFFSETS[k] as number);
      events.push(new DerivedEvent(T, tradeTopic, dc, k, 'trade'));
      events.push(new DerivedEvent(T + DERIVED_KLINE_LAG_MS, klineTopic, dc, k, 'kline'));
      klines.push(new DerivedKlineState(T + DERIVED_KLINE_LAG_MS, symbol, m, dc, k, false));
      prevPrice = Number(prices[k]);
      seq++;
    }
    const confirmAt = m + MINUTE + DERIVED_KLINE_LAG_MS;
    events.push(new DerivedEvent(confirmAt, klineTopic, dc, prices.length - 1, 'final'));
    klines.push(new DerivedKlineState(confirmAt, symbol, m, dc, prices.length - 1, true));
    prevClose = c.close;
  }
  events.sort((a, b) => a.at - b.at);
  return { events, klines };
}

export function mergeReplayData(...parts: ReplayData[]): ReplayData {
  const events = parts.flatMap((p) => p.events).sort((a, b) => a.at - b.at);
  const klines = parts.flatMap((p) => p.klines);
  return { events, klines };
}

