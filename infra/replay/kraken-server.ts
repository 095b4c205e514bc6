/**
 * A local HTTP server speaking Kraken's public REST API over REAL recorded candles, for tests and
 * the offline replay runtime (SPEC 11). Endpoints:
 *
 * - `GET /0/public/OHLC?pair=P&interval=M[&since=S]` — Kraken's semantics as documented and as seen
 *   in the real responses in `test/fixtures/kraken/`:
 *   - only candles with open time <= now() exist; the LAST row returned is the current,
 *     not-yet-committed one and is always present, whatever `since` is;
 *   - at most `maxCandles` (720) committed candles, the most recent ones: older ones cannot be
 *     retrieved whatever `since` is;
 *   - `since` is EXCLUSIVE: committed rows with time > since are returned (Kraken's guide: "return
 *     candles after this time"; `last` is meant to be passed back as `since` when polling, which
 *     only works without repetition if it is exclusive). Clients refetch an overlap anyway, so an
 *     inclusive reading would only add one row;
 *   - `last` = open time (s) of the last committed candle;
 *   - the result key is the pair's canonical key (XBTUSD is answered under XXBTZUSD);
 *   - prices as decimal strings, volume with 8 decimals, vwap "0.0" when unknown (Kraken's value
 *     for intervals without trades), count 0 when unknown.
 *   Recorded Kraken history OMITS intervals without trades, and the live API fills recent ones with
 *   zero-volume rows; this server serves exactly the rows it was given and invents none. So with
 *   sparse history the last row may be a candle that already closed: it is still presented as the
 *   current row (as the live API's last row always is) and a client that drops the last row picks
 *   it up on its next poll.
 * - `GET /0/public/AssetPairs[?pair=A,B]` — minimal entries (altname, wsname, base, quote).
 * - `GET /0/public/Time` — the replay clock.
 *
 * Errors use Kraken's envelope: unknown pair -> `{"error":["EQuery:Unknown asset pair"]}`, bad
 * arguments -> `EGeneral:Invalid arguments`, unknown path -> HTTP 404 `EGeneral:Unknown method`.
 * Faults (5xx, Kraken errors such as `EAPI:Rate limit exceeded`, delays, malformed bodies) can be
 * queued, and an optional per-pair rate limit answers `EAPI:Rate limit exceeded` like Kraken.
 * Every request is recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Candle } from '../../shared/model/market.js';
import type { KrakenOhlcRawRow } from '../../shared/ports/kraken.js';
import { upperBoundBy } from '../../shared/sorted.js';

const KRAKEN_MAX_CANDLES = 720;
const KRAKEN_OHLC_INTERVALS = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
const MS_PER_S = 1000;
const VOLUME_DECIMALS = 8;
const LOOPBACK = '127.0.0.1';

/** A candle as the system and the CSV loaders hold it (open time in ms). */
type KrakenServerCandle = Pick<Candle, 'openTime' | 'open' | 'high' | 'low' | 'close' | 'volume' | 'vwap' | 'trades'>;

interface KrakenServerSeries {
  /** Any name of the pair (key, altname or wsname); rows are answered under the canonical key. */
  pair: string;
  intervalMinutes: number;
  /** Either candles (formatted like Kraken) or raw rows served verbatim (real response excerpts). */
  candles?: KrakenServerCandle[];
  rows?: KrakenOhlcRawRow[];
}

interface KrakenServerPair {
  key: string;
  altname: string;
  wsname?: string;
  base?: string;
  quote?: string;
}

/** Kraken's names of the SPEC 12 pairs (and XBTUSDT, whose real REST excerpt the tests serve). */
const KRAKEN_PAIRS: KrakenServerPair[] = [
  { key: 'XXBTZUSD', altname: 'XBTUSD', wsname: 'XBT/USD', base: 'XXBT', quote: 'ZUSD' },
  { key: 'XETHZUSD', altname: 'ETHUSD', wsname: 'ETH/USD', base: 'XETH', quote: 'ZUSD' },
  { key: 'SOLUSD', altname: 'SOLUSD', wsname: 'SOL/USD', base: 'SOL', quote: 'ZUSD' },
  { key: 'XXRPZUSD', altname: 'XRPUSD', wsname: 'XRP/USD', base: 'XXRP', quote: 'ZUSD' },
  { key: 'XDGUSD', altname: 'XDGUSD', wsname: 'XDG/USD', base: 'XXDG', quote: 'ZUSD' },
  { key: 'LINKUSD', altname: 'LINKUSD', wsname: 'LINK/USD', base: 'LINK', quote: 'ZUSD' },
  { key: 'ADAUSD', altname: 'ADAUSD', wsname: 'ADA/USD', base: 'ADA', quote: 'ZUSD' },
  { key: 'SUIUSD', altname: 'SUIUSD', wsname: 'SUI/USD', base: 'SUI', quote: 'ZUSD' },
  { key: 'SEIUSD', altname: 'SEIUSD', wsname: 'SEI/USD', base: 'SEI', quote: 'ZUSD' },
  { key: 'XBTUSDT', altname: 'XBTUSDT', wsname: 'XBT/USDT', base: 'XXBT', quote: 'USDT' },
];

type KrakenFault =
  /** An HTTP error status with a non-JSON body (as Kraken's CDN sends on 5xx). */
  | { kind: 'http'; status: number; body?: string; headers?: Record<string, string> }
  /** HTTP 200 with Kraken's error envelope, e.g. `EAPI:Rate limit exceeded`. */
  | { kind: 'kraken'; error: string }
  /** Answer normally after a real-time delay (timeouts). */
  | { kind: 'delay'; ms: number }
  /** HTTP 200 with this raw body. */
  | { kind: 'raw'; body: string };

interface FaultMatch {
  endpoint?: 'OHLC' | 'AssetPairs' | 'Time';
  /** Matches the `pair` query parameter as sent. */
  pair?: string;
}

interface RecordedRequest {
  endpoint: string;
  params: Record<string, string>;
  /** Server clock (`now()`) at arrival, ms. */
  at: number;
  status: number;
  /** Kraken error string or fault kind, when the answer was not a normal result. */
  error?: string;
}

interface KrakenServerOptions {
  series: KrakenServerSeries[];
  /** The (replay) clock, epoch ms. */
  now: () => number;
  /** Known pairs; defaults to KRAKEN_PAIRS plus any series pair not in it (as its own key). */
  pairs?: KrakenServerPair[];
  /** Committed candles per response (Kraken: 720). */
  maxCandles?: number;
  /** When set, a second request for one pair within this many ms (server clock) is rate-limited. */
  rateLimitMs?: number;
}

interface Faulty {
  fault: KrakenFault;
  remaining: number;
  match: FaultMatch;
}

function fmtPrice(n: number): string {
  return String(n);
}

/** A candle as Kraken's row. */
function candleToKrakenRow(c: KrakenServerCandle): KrakenOhlcRawRow {
  return [
    Math.floor(c.openTime / MS_PER_S),
    fmtPrice(c.open),
    fmtPrice(c.high),
    fmtPrice(c.low),
    fmtPrice(c.close),
    c.vwap !== undefined ? fmtPrice(c.vwap) : '0.0',
    c.volume.toFixed(VOLUME_DECIMALS),
    c.trades ?? 0,
  ];
}

export class KrakenRestServer {
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private readonly pairs: KrakenServerPair[];
  /** `${key}:${minutes}` -> rows ascending by time. */
  private readonly data = new Map<string, KrakenOhlcRawRow[]>();
  private readonly faults: Faulty[] = [];
  private readonly lastByPair = new Map<string, number>();
  readonly requests: RecordedRequest[] = [];
  readonly maxCandles: number;

  constructor(private readonly opts: KrakenServerOptions) {
    this.maxCandles = opts.maxCandles ?? KRAKEN_MAX_CANDLES;
    this.pairs = [...(opts.pairs ?? KRAKEN_PAIRS)];
    for (const s of opts.series) this.setSeries(s);
  }

  /** Adds or replaces one (pair, interval) series. */
  setSeries(s: KrakenServerSeries): void {
    if (!KRAKEN_OHLC_INTERVALS.includes(s.intervalMinutes)) throw new Error(`Kraken has no ${s.intervalMinutes}-minute interval`);
    let pair = this.resolvePair(s.pair);
    if (!pair) {
      pair = { key: s.pair.toUpperCase(), altname: s.pair.toUpperCase() };
      this.pairs.push(pair);
    }
    const rows = s.rows ? s.rows.map((r) => [...r] as KrakenOhlcRawRow) : (s.candles ?? []).map(candleToKrakenRow);
    rows.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < rows.length; i++) {
      if (rows[i]![0] === rows[i - 1]![0]) throw new Error(`duplicate candle time ${rows[i]![0]} in series ${s.pair}/${s.intervalMinutes}`);
    }
    this.data.set(`${pair.key}:${s.intervalMinutes}`, rows);
  }

  /** Queues a fault for the next `times` matching requests. */
  failNext(fault: KrakenFault, opts: { times?: number } & FaultMatch = {}): void {
    const { times = 1, ...match } = opts;
    this.faults.push({ fault, remaining: times, match });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Recorded OHLC requests, optionally for one pair name as sent. */
  ohlcRequests(pair?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.endpoint === 'OHLC' && (pair === undefined || r.params.pair === pair));
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('KrakenRestServer not started');
    return this.baseUrl;
  }

  /** Starts listening on 127.0.0.1 (port 0 = any free port); returns the base URL. */
  async start(port = 0): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.json(res, 500, { error: [`EService:Internal error: ${(e as Error).message}`] });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK, () => resolve());
    });
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.baseUrl = `http://${LOOPBACK}:${addr.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.baseUrl = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private resolvePair(name: string): KrakenServerPair | undefined {
    const n = name.toUpperCase();
    return this.pairs.find((p) => p.key === n || p.altname.toUpperCase() === n || p.wsname?.toUpperCase() === n);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private takeFault(endpoint: string, params: Record<string, string>): KrakenFault | undefined {
    const f = this.faults.find(
      (x) => x.remaining > 0 && (!x.match.endpoint || x.match.endpoint === endpoint) && (!x.match.pair || x.match.pair === params.pair),
    );
    if (!f) return undefined;
    f.remaining--;
    if (f.remaining === 0) this.faults.splice(this.faults.indexOf(f), 1);
    return f.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = Object.fromEntries(url.searchParams.entries());
    const m = /^\/0\/public\/([A-Za-z]+)\/?$/.exec(url.pathname);
    const endpoint = m?.[1] ?? url.pathname;
    const rec: RecordedRequest = { endpoint, params, at: this.opts.now(), status: 200 };
    this.requests.push(rec);
    const send = (status: number, body: unknown, error?: string) => {
      rec.status = status;
      if (error) rec.error = error;
      this.json(res, status, body);
    };
    if (req.method !== 'GET' && req.method !== 'POST') return send(405, { error: ['EGeneral:Invalid arguments'] }, 'method');

    const fault = this.takeFault(endpoint, params);
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    else if (fault?.kind === 'http') {
      rec.status = fault.status;
      rec.error = `http ${fault.status}`;
      res.writeHead(fault.status, { 'content-type': 'text/html', ...fault.headers });
      res.end(fault.body ?? `<html><body>${fault.status} Service Unavailable</body></html>`);
      return;
    } else if (fault?.kind === 'kraken') return send(200, { error: [fault.error] }, fault.error);
    else if (fault?.kind === 'raw') {
      rec.error = 'raw';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fault.body);
      return;
    }

    switch (endpoint) {
      case 'Time': {
        const now = this.opts.now();
        return send(200, { error: [], result: { unixtime: Math.floor(now / MS_PER_S), rfc1123: new Date(now).toUTCString() } });
      }
      case 'AssetPairs': {
        const names = params.pair ? params.pair.split(',') : this.pairs.map((p) => p.key);
        const result: Record<string, unknown> = {};
        for (const n of names) {
          const p = this.resolvePair(n);
          if (!p) return send(200, { error: ['EQuery:Unknown asset pair'] }, 'EQuery:Unknown asset pair');
          result[p.key] = { altname: p.altname, wsname: p.wsname, base: p.base, quote: p.quote };
        }
        return send(200, { error: [], result });
      }
      case 'OHLC':
        return this.ohlc(params, send);
      default:
        return send(404, { error: ['EGeneral:Unknown method'] }, 'EGeneral:Unknown method');
    }
  }

  private ohlc(params: Record<string, string>, send: (status: number, body: unknown, error?: string) => void): void {
    if (!params.pair) return send(200, { error: ['EGeneral:Invalid arguments'] }, 'EGeneral:Invalid arguments');
    const pair = this.resolvePair(params.pair);
    if (!pair) return send(200, { error: ['EQuery:Unknown asset pair'] }, 'EQuery:Unknown asset pair');
    const minutes = params.interval === undefined ? 1 : Number(params.interval);
    if (!KRAKEN_OHLC_INTERVALS.includes(minutes)) return send(200, { error: ['EGeneral:Invalid arguments'] }, 'EGeneral:Invalid arguments');
    const since = params.since === undefined ? undefined : Number(params.since);
    if (since !== undefined && !Number.isFinite(since)) return send(200, { error: ['EGeneral:Invalid arguments'] }, 'EGeneral:Invalid arguments');

    const now = this.opts.now();
    if (this.opts.rateLimitMs !== undefined) {
      const prev = this.lastByPair.get(pair.key);
      if (prev !== undefined && now - prev < this.opts.rateLimitMs) {
        return send(200, { error: ['EAPI:Rate limit exceeded'] }, 'EAPI:Rate limit exceeded');
      }
      this.lastByPair.set(pair.key, now);
    }

    const all = this.data.get(`${pair.key}:${minutes}`) ?? [];
    const nowSec = now / MS_PER_S;
    const visibleEnd = upperBoundBy(all, nowSec, (r) => r[0]);
    if (visibleEnd === 0) return send(200, { error: [], result: { [pair.key]: [], last: since ?? 0 } });
    const current = all[visibleEnd - 1]!;
    const committedEnd = visibleEnd - 1;
    const windowStart = Math.max(0, committedEnd - this.maxCandles);
    const committed = all.slice(windowStart, committedEnd).filter((r) => since === undefined || r[0] > since);
    const last = committedEnd > 0 ? all[committedEnd - 1]![0] : (since ?? 0);
    return send(200, { error: [], result: { [pair.key]: [...committed, current], last } });
  }
}
