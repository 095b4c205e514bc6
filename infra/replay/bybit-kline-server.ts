/**
 * A local HTTP server speaking Bybit v5 REST `GET /v5/market/kline` over REAL candles (the kit's
 * Bybit klines), for `download-data` tests: any interval, category linear or spot, a fixed (or
 * moving) clock. The replay server (bybit-server.ts) serves 1m klines up to its replay clock for the
 * holder; this one serves history as the exchange does:
 *
 * - query: `category` (linear default, spot), `symbol`, `interval` (1,3,5,15,30,60,120,240,360,720,D,W,M),
 *   `start`/`end` (ms, inclusive bounds on the candle start), `limit` (1..1000, default 200);
 * - answer: `{retCode:0, retMsg:"OK", result:{category, symbol, list}, retExtInfo:{}, time}`, `list`
 *   NEWEST FIRST, at most `limit` rows, the ones nearest `end` (default now): each
 *   `[startTime, open, high, low, close, volume, turnover]` as strings; candles that started at or
 *   before now only, the still-forming one included (as Bybit does);
 * - errors as Bybit's envelope: `retCode 10001` params error (unknown symbol, bad interval or limit).
 * The kit has no turnover: it is served as volume x close (the downloader does not store it).
 *
 * Faults, queued for the next requests: Bybit's rate limit (`retCode 10006 "Too many visits!"` with
 * `X-Bapi-Limit-Status: 0` and `X-Bapi-Limit-Reset-Timestamp`), an HTTP status with headers (429 with
 * `Retry-After`, 5xx), and a tampered row (a malformed or impossible row served in place of a real one).
 * Every request is recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Candle, Interval } from '../../shared/model/market.js';
import { BYBIT_KLINE_INTERVAL } from '../../shared/market/download-plan.js';

const KLINE_PATH = '/v5/market/kline';
const DEFAULT_LIMIT = 200;
const MAX_LIMIT = 1000;
const LOOPBACK = '127.0.0.1';
const RATE_LIMIT_PER_S = 600;

type ServedCandle = Pick<Candle, 'openTime' | 'open' | 'high' | 'low' | 'close' | 'volume'>;

interface BybitKlineSeries {
  category?: 'linear' | 'spot';
  symbol: string;
  interval: Interval;
  candles: ServedCandle[];
}

type BybitKlineFault =
  | { kind: 'rateLimit'; resetInMs: number }
  | { kind: 'http'; status: number; headers?: Record<string, string>; body?: string };

interface RecordedKlineRequest {
  params: Record<string, string>;
  at: number;
  status: number;
  retCode?: number;
  rows: number;
}

export class BybitKlineRestServer {
  private server: Server | undefined;
  private baseUrl: string | undefined;
  /** `${category}:${symbol}:${bybitInterval}` -> candles ascending. */
  private readonly data = new Map<string, ServedCandle[]>();
  private readonly faults: BybitKlineFault[] = [];
  /** `${symbol}:${bybitInterval}:${openTime}` -> the row served instead of the real one. */
  private readonly tampered = new Map<string, unknown[]>();
  readonly requests: RecordedKlineRequest[] = [];

  constructor(private readonly opts: { series: BybitKlineSeries[]; now: () => number }) {
    for (const s of opts.series) {
      const sorted = [...s.candles].sort((a, b) => a.openTime - b.openTime);
      this.data.set(`${s.category ?? 'linear'}:${s.symbol}:${BYBIT_KLINE_INTERVAL[s.interval]}`, sorted);
    }
  }

  failNext(fault: BybitKlineFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  /** Serves `row` instead of the real candle at `openTime` of a series. */
  tamper(symbol: string, interval: Interval, openTime: number, row: unknown[]): void {
    this.tampered.set(`${symbol}:${BYBIT_KLINE_INTERVAL[interval]}:${openTime}`, row);
  }

  /** Drops queued faults and tampered rows. */
  clearFaults(): void {
    this.faults.length = 0;
    this.tampered.clear();
  }

  /** Requests answered with data (not faults). */
  get dataRequests(): RecordedKlineRequest[] {
    return this.requests.filter((r) => r.status === 200 && r.retCode === 0);
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('BybitKlineRestServer not started');
    return this.baseUrl;
  }

  async start(port = 0): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK, () => resolve());
    });
    this.server = server;
    this.baseUrl = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
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

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = Object.fromEntries(url.searchParams.entries());
    const now = this.opts.now();
    const rec: RecordedKlineRequest = { params, at: now, status: 200, rows: 0 };
    this.requests.push(rec);
    const headers = { 'content-type': 'application/json', 'x-bapi-limit': String(RATE_LIMIT_PER_S), 'x-bapi-limit-status': String(RATE_LIMIT_PER_S - 1), 'x-bapi-limit-reset-timestamp': String(now) };
    const send = (body: { retCode: number; retMsg: string; result: unknown }, extra: Record<string, string> = {}) => {
      rec.retCode = body.retCode;
      res.writeHead(200, { ...headers, ...extra });
      res.end(JSON.stringify({ ...body, retExtInfo: {}, time: now }));
    };
    if (req.method !== 'GET' || url.pathname !== KLINE_PATH) {
      rec.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    const fault = this.faults.shift();
    if (fault?.kind === 'rateLimit') {
      return send({ retCode: 10006, retMsg: 'Too many visits!', result: {} }, { 'x-bapi-limit-status': '0', 'x-bapi-limit-reset-timestamp': String(now + fault.resetInMs) });
    }
    if (fault?.kind === 'http') {
      rec.status = fault.status;
      res.writeHead(fault.status, { 'content-type': 'text/html', ...fault.headers });
      res.end(fault.body ?? `<html><body>${fault.status}</body></html>`);
      return;
    }
    const err = (msg: string) => send({ retCode: 10001, retMsg: msg, result: {} });
    const category = params.category ?? 'linear';
    if (category !== 'linear' && category !== 'spot') return err('params error: category invalid');
    const symbol = params.symbol ?? '';
    const interval = params.interval ?? '';
    const candles = this.data.get(`${category}:${symbol}:${interval}`);
    if (!Object.values(BYBIT_KLINE_INTERVAL).includes(interval)) return err('params error: interval invalid');
    if (!candles) return err('params error: symbol invalid');
    const limit = params.limit === undefined ? DEFAULT_LIMIT : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return err('params error: limit invalid');
    const start = params.start === undefined ? Number.NEGATIVE_INFINITY : Number(params.start);
    const end = Math.min(params.end === undefined ? now : Number(params.end), now);
    if (Number.isNaN(start) || Number.isNaN(end)) return err('params error: start/end invalid');
    const list: unknown[][] = [];
    for (let i = candles.length - 1; i >= 0 && list.length < limit; i--) {
      const c = candles[i]!;
      if (c.openTime > end) continue;
      if (c.openTime < start) break;
      const row = this.tampered.get(`${symbol}:${interval}:${c.openTime}`) ?? [
        String(c.openTime),
        String(c.open),
        String(c.high),
        String(c.low),
        String(c.close),
        String(c.volume),
        String(Number((c.volume * c.close).toPrecision(12))),
      ];
      list.push(row);
    }
    rec.rows = list.length;
    send({ retCode: 0, retMsg: 'OK', result: { category, symbol, list } });
  }
}

