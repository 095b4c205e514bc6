/**
 * Kraken market-data port (SPEC 2). The adapter is a small typed fetch client
 * (`infra/kraken/client.ts`); `kraken-api` is deprecated by its own README.
 *
 * Wire format of `GET /0/public/OHLC?pair=P&interval=M&since=S` (real excerpts in
 * `test/fixtures/kraken/`):
 *
 *   {"error": [], "result": {"XBTUSDT": [[1762820040, "105899.4", "105899.4", "105899.4", "105899.4",
 *                                          "0.0", "0.00000000", 0], ...], "last": 1762820160}}
 *
 * Each row is `[time_s, open, high, low, close, vwap, volume, count]` (prices and volumes as decimal
 * strings, `time_s` the candle OPEN time in seconds). The LAST row is the still-open candle of the
 * current timeframe and is always present; `last` is the open time (s) of the last committed candle,
 * to be used as `since` when polling. At most the 720 most recent committed candles are served. The
 * result key is Kraken's canonical pair name, which may differ from the requested one (`XBTUSD` is
 * answered under `XXBTZUSD`).
 *
 * Errors come as `{"error": ["EQuery:Unknown asset pair"]}` (HTTP 200); adapters surface them as
 * `KrakenApiError`.
 */

/** A raw OHLC row exactly as Kraken sends it. */
export type KrakenOhlcRawRow = [
  time: number,
  open: string,
  high: string,
  low: string,
  close: string,
  vwap: string,
  volume: string,
  count: number,
];

/** The raw `/0/public/OHLC` response body. */
export interface KrakenOhlcResponse {
  error: string[];
  result?: { [pairKey: string]: KrakenOhlcRawRow[] | number; last: number };
}

/** One parsed OHLC row. */
export interface KrakenOhlcRow {
  /** Candle open time, epoch SECONDS (as Kraken sends it). */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  vwap: number;
  /** Base-asset volume. */
  volume: number;
  /** Number of trades. */
  count: number;
}

export interface KrakenOhlcResult {
  /** The result key Kraken answered under (canonical pair name, e.g. XXBTZUSD for XBTUSD). */
  pairKey: string;
  /** Ascending by time; the last row is the still-open candle. */
  rows: KrakenOhlcRow[];
  /** Open time (s) of the last committed candle. */
  last: number;
}

/** One entry of `/0/public/AssetPairs` (the fields this system reads). */
export interface KrakenAssetPair {
  /** Canonical key, e.g. XXBTZUSD. */
  key: string;
  altname: string;
  wsname?: string;
  base?: string;
  quote?: string;
}

export interface KrakenMarketData {
  /** `sinceSec` is exclusive on Kraken's side (rows strictly after it, plus the open candle). */
  ohlc(pair: string, intervalMinutes: number, sinceSec?: number): Promise<KrakenOhlcResult>;
  /** Resolves pair names (any of key / altname / wsname) to Kraken's canonical entries. */
  assetPairs?(pairs: string[]): Promise<KrakenAssetPair[]>;
}

/**
 * Kraken's rate-limit answers (HTTP 200 with the error envelope): `EAPI:Rate limit exceeded`, and
 * `EGeneral:Too many requests`, which the public endpoints send when one IP asks too often.
 */
const KRAKEN_RATE_LIMIT_ERRORS = ['EAPI:Rate limit exceeded', 'EGeneral:Too many requests'] as const;

/** Kraken error strings that mean "try again later" rather than "this request is wrong". */
const KRAKEN_RETRYABLE_ERRORS = [
  ...KRAKEN_RATE_LIMIT_ERRORS,
  'EService:Unavailable',
  'EService:Busy',
  'EService:Market in cancel_only mode',
  'EGeneral:Temporary lockout',
] as const;

/** Base of every error the Kraken adapter throws. */
export class KrakenError extends Error {
  override readonly name: string = 'KrakenError';
  constructor(
    message: string,
    /** Whether retrying the same request later can succeed. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Kraken answered with a non-empty `error` array, e.g. `EQuery:Unknown asset pair`. */
export class KrakenApiError extends KrakenError {
  override readonly name = 'KrakenApiError';
  constructor(
    readonly errors: string[],
    readonly endpoint: string,
    readonly params: Record<string, string>,
  ) {
    const retryable = errors.some((e) => KRAKEN_RETRYABLE_ERRORS.some((r) => e.startsWith(r)));
    const where = Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    super(`Kraken ${endpoint} (${where}) returned error: ${errors.join('; ')}`, retryable);
  }

  /** Kraken asked this client to slow down (a rate-limit answer in a 200 body). */
  get rateLimited(): boolean {
    return this.errors.some((e) => KRAKEN_RATE_LIMIT_ERRORS.some((r) => e.startsWith(r)));
  }

  /** The first error string, e.g. `EQuery:Unknown asset pair`. */
  get code(): string {
    return this.errors[0] ?? '';
  }
}

/** Non-2xx HTTP status, network failure or timeout. 5xx, 429 and transport failures are retryable. */
export class KrakenHttpError extends KrakenError {
  override readonly name = 'KrakenHttpError';
  constructor(
    message: string,
    /** HTTP status, or undefined for network failures and timeouts. */
    readonly status: number | undefined,
    retryable: boolean,
    /** The wait the server asked for (`Retry-After`), ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message, retryable);
  }
}

/** The body did not have the documented shape (never retried: it would fail the same way). */
export class KrakenResponseError extends KrakenError {
  override readonly name = 'KrakenResponseError';
  constructor(message: string) {
    super(message, false);
  }
}
