/**
 * `npm run download-data -- --venue bybit --symbols BTCUSDT --intervals 1m --from 2025-06-01 --to 2025-06-02`
 * Fills the warehouse from Bybit v5 REST klines or Kraken OHLC (logic: infra/market-data/download.ts,
 * planning: shared/market/download-plan.ts). Run with --help for every option.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_WAREHOUSE, fail, parseTime } from './cli.js';
import { table } from '../shared/backtest/text-table.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports/clock.js';
import { INTERVALS, type Interval, type Venue } from '../shared/model/market.js';
import { DEFAULT_DOWNLOAD_CONFIG, downloadConfigSchema, type DownloadConfig } from '../shared/market/download-plan.js';
import { downloadData, type DownloadSummary, type DownloadTarget } from '../infra/market-data/download.js';
import { BybitKlinePager } from '../infra/bybit/rest-klines.js';
import { KrakenRestClient } from '../infra/kraken/client.js';
import { DuckDbWarehouse } from '../infra/warehouse/duckdb.js';

const D = DEFAULT_DOWNLOAD_CONFIG;

const HELP = `Download candles into the warehouse (DuckDB table ohlcv) from Bybit v5 REST or Kraken REST.

Usage: npm run download-data -- --venue bybit|kraken --symbols BTCUSDT,ETHUSDT --intervals 1m,5m,1h
                                 --from 2025-01-01 --to 2025-02-01 [options]

Resumable and idempotent: a re-run downloads only what the warehouse does not hold yet (the range
minus the candles already stored) and never duplicates a candle; each page is written at once, so an
interrupted run (Ctrl-C, network loss) keeps what it wrote. Only CLOSED candles are stored; every
candle passes the candle gate (a refused row is reported, never stored). Missing candles inside the
range are reported per series (Bybit normally has none).

Kraken: REST /0/public/OHLC returns only the 720 most recent candles of an interval (12 h of 1m,
2.5 days of 5m, 30 days of 1h), whatever --from says: older history cannot be downloaded this way.
Get it from Kraken's quarterly OHLCVT files with  npm run import:ohlcvt -- <files>  (same warehouse).
Minutes without trades come as zero-volume rows in REST and are absent from the quarterly files:
they are not stored (no trades = no candle, whichever way the series was filled) and count as gaps.

Options:
  --venue bybit|kraken    the exchange (required)
  --symbols LIST          system symbols, comma-separated (required). Kraken: the configured pair of each
                          symbol is asked for (BTCUSDT -> XXBTZUSD); SYMBOL=PAIR names the pair
                          (BTCUSDT=XBTUSDT)
  --intervals LIST        ${INTERVALS.join(',')} (default 1m)
  --from DATE             first candle open time, ISO (required), inclusive
  --to DATE               end, ISO, exclusive (default now); only closed candles are stored
  --warehouse FILE        DuckDB warehouse file (default ${DEFAULT_WAREHOUSE})
  --category linear|spot  Bybit market (default linear). The warehouse key has no category: keep spot
                          in its own --warehouse file
  --bybit-url URL         Bybit REST base (default $BYBIT_REST_URL or ${DEFAULT_SYSTEM_CONFIG.bybit.restUrl})
  --kraken-url URL        Kraken REST base (default $KRAKEN_REST_URL or ${DEFAULT_SYSTEM_CONFIG.kraken.baseUrl})
  --rps N                 requests per second (default bybit ${D.bybit.requestsPerSecond}, kraken ${D.kraken.requestsPerSecond}; Bybit allows
                          600 per 5 s per IP, Kraken about 1/s on public endpoints)
  --max-retries N         retries of a page on rate limits, 5xx, timeouts (default ${D.maxRetries}); 429 / Retry-After,
                          Bybit retCode 10006 and X-Bapi-Limit-* headers are honoured, with back-off + jitter
  --backoff-ms N          first retry's back-off, doubling up to ${D.backoffMaxMs} ms (default ${D.backoffBaseMs})
  --gaps N                gap ranges listed per series (default ${D.gapsListed}; --json lists all)
  --json                  print the summary as JSON on stdout
  -h, --help              this help

Progress bars go to stderr. Exit code: 0 done, 1 a series failed (re-run to resume), 130 interrupted.
`;

function parseList(v: string | undefined, name: string): string[] {
  const out = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (out.length === 0) fail(`${name} needs at least one value`);
  return out;
}

function positive(v: string | undefined, name: string, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) fail(`${name} must be a positive ${int ? 'integer' : 'number'} (got '${v}')`);
  return n;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

function krakenTargets(symbols: string[]): DownloadTarget[] {
  return symbols.map((entry) => {
    const [sym, pair] = entry.split('=').map((s) => s.trim()) as [string, string | undefined];
    const symbol = sym.toUpperCase();
    if (pair) return { symbol, pair: pair.toUpperCase() };
    const configured = DEFAULT_SYSTEM_CONFIG.symbols.find((s) => s.symbol === symbol)?.krakenPair;
    if (!configured) fail(`--symbols: ${symbol} has no configured Kraken pair; name it as ${symbol}=PAIR (e.g. BTCUSDT=XBTUSDT)`);
    return { symbol, pair: configured };
  });
}

function report(s: DownloadSummary, file: string, gapsListed: number): string {
  const out: string[] = [];
  out.push(`Downloaded ${s.venue}${s.category ? ` ${s.category}` : ''} ${iso(s.fromMs)} -> ${iso(s.toMs)} into DuckDB ${file}`);
  out.push(
    table(
      ['symbol', 'interval', 'expected', 'held before', 'stored', 'held', 'pages', 'rejected', 'flagged', 'missing', 'gaps', 'status'],
      s.series.map((r) => [r.pair && r.pair !== r.symbol ? `${r.symbol} (${r.pair})` : r.symbol, r.interval, String(r.expected), String(r.heldBefore), String(r.stored), String(r.held), String(r.pages), String(r.rejected), String(r.flagged), String(r.missing), String(r.gaps.length), r.status]),
    ),
  );
  out.push(`requests ${s.requests}, retries ${s.retries} (rate-limited ${s.rateLimited})`);
  for (const r of s.series) {
    const name = `${r.symbol} ${r.interval}`;
    if (r.error) out.push(`${name}: ${r.status.toUpperCase()}: ${r.error}`);
    if (r.rejected > 0) {
      out.push(`${name}: ${r.rejected} row(s) refused by the candle gate (never stored):`);
      for (const x of r.rejectedSamples.slice(0, gapsListed || 1)) out.push(`  ${x.openTime === null ? '(no time)' : iso(x.openTime)}  ${x.reason}`);
    }
    if (r.notServedBefore !== undefined && r.range && r.notServedBefore > r.range.toMs) {
      out.push(`${name}: Kraken REST served no candle of the range (it keeps only the 720 most recent candles of an interval); import older history with npm run import:ohlcvt`);
    } else if (r.notServedBefore !== undefined && r.range && r.notServedBefore > r.range.fromMs) {
      out.push(`${name}: Kraken REST served nothing before ${iso(r.notServedBefore)} (it keeps only the 720 most recent candles); import older history with npm run import:ohlcvt`);
    }
    if (r.emptyIntervals > 0) out.push(`${name}: ${r.emptyIntervals} zero-volume row(s) (no trades) not stored`);
    if (r.gaps.length > 0 && r.status === 'ok') {
      out.push(`${name}: ${r.missing} missing candle(s) in ${r.gaps.length} gap(s):`);
      for (const g of r.gaps.slice(0, gapsListed)) out.push(`  ${iso(g.fromMs)} .. ${iso(g.toMs)}  (${g.missing})`);
      if (r.gaps.length > gapsListed) out.push(`  ... ${r.gaps.length - gapsListed} more (--json lists all)`);
    }
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        venue: { type: 'string' },
        symbols: { type: 'string' },
        intervals: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        warehouse: { type: 'string' },
        category: { type: 'string' },
        'bybit-url': { type: 'string' },
        'kraken-url': { type: 'string' },
        rps: { type: 'string' },
        'max-retries': { type: 'string' },
        'backoff-ms': { type: 'string' },
        gaps: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.venue !== 'bybit' && v.venue !== 'kraken') fail(`--venue must be bybit or kraken (got '${v.venue ?? ''}')`);
  const venue: Venue = v.venue;
  const category = v.category ?? 'linear';
  if (category !== 'linear' && category !== 'spot') fail(`--category must be linear or spot (got '${category}')`);
  if (venue === 'kraken' && v.category !== undefined) fail('--category is a Bybit option');
  const symbols = parseList(v.symbols, '--symbols');
  const intervals = parseList(v.intervals ?? '1m', '--intervals').map((i) => {
    if (!(INTERVALS as readonly string[]).includes(i)) fail(`--intervals: unknown interval '${i}' (one of ${INTERVALS.join(', ')})`);
    return i as Interval;
  });
  if (v.from === undefined) fail('--from is required (ISO date, e.g. 2025-01-01)');
  const fromMs = parseTime(v.from, '--from') as number;
  const toMs = parseTime(v.to, '--to') ?? Date.now();
  if (toMs <= fromMs) fail('--to must be after --from');
  const rps = positive(v.rps, '--rps', false);
  let cfg: DownloadConfig;
  try {
    cfg = downloadConfigSchema.parse({
      ...D,
      ...(venue === 'bybit' && rps !== undefined ? { bybit: { ...D.bybit, requestsPerSecond: rps } } : {}),
      ...(venue === 'kraken' && rps !== undefined ? { kraken: { ...D.kraken, requestsPerSecond: rps } } : {}),
      ...(v['max-retries'] !== undefined ? { maxRetries: Number(v['max-retries']) } : {}),
      ...(v['backoff-ms'] !== undefined ? { backoffBaseMs: positive(v['backoff-ms'], '--backoff-ms', true) } : {}),
      ...(v.gaps !== undefined ? { gapsListed: Number(v.gaps) } : {}),
    });
  } catch (e) {
    fail(`bad option value: ${(e as Error).message}`);
  }
  const url = (flag: string | undefined, env: string | undefined, dflt: string, name: string) => {
    const u = flag ?? env ?? dflt;
    if (!URL.canParse(u)) fail(`${name} must be a URL (got '${u}')`);
    return u;
  };
  const log = createLogger({ component: 'download-data' }, { minSeverity: 'ERROR' });
  const file = resolve(v.warehouse ?? DEFAULT_WAREHOUSE);
  const warehouse = new DuckDbWarehouse({ file, log });
  const targets = venue === 'kraken' ? krakenTargets(symbols) : symbols.map((s) => ({ symbol: s.toUpperCase() }));
  const bybit =
    venue === 'bybit'
      ? new BybitKlinePager({
          baseUrl: url(v['bybit-url'], process.env.BYBIT_REST_URL, DEFAULT_SYSTEM_CONFIG.bybit.restUrl, '--bybit-url'),
          minRequestIntervalMs: Math.ceil(1000 / cfg.bybit.requestsPerSecond),
          requestTimeoutMs: cfg.bybit.requestTimeoutMs,
          maxRetries: cfg.maxRetries,
          backoff: cfg,
          clock: systemClock,
          log,
        })
      : undefined;
  // The client spaces every request to the host (Kraken's public limit is per IP): one line for the run.
  const kraken =
    venue === 'kraken'
      ? new KrakenRestClient(
          {
            baseUrl: url(v['kraken-url'], process.env.KRAKEN_REST_URL, DEFAULT_SYSTEM_CONFIG.kraken.baseUrl, '--kraken-url'),
            requestTimeoutMs: cfg.kraken.requestTimeoutMs,
            minRequestIntervalMs: Math.ceil(1000 / cfg.kraken.requestsPerSecond),
            maxRetries: cfg.maxRetries,
            retryBaseMs: cfg.backoffBaseMs,
            retryMaxMs: cfg.backoffMaxMs,
            jitter: cfg.jitter,
          },
          systemClock,
          log,
        )
      : undefined;

  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: stopping after the current page (Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  const multi = new cliProgress.MultiBar(
    { format: '{series} [{bar}] {percentage}% | {value}/{total} candles | eta {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  let summary: DownloadSummary;
  try {
    await warehouse.ensureSchema();
    summary = await downloadData(
      {
        warehouse,
        ...(bybit ? { bybit } : {}),
        ...(kraken ? { kraken } : {}),
        clock: systemClock,
        log,
        quality: DEFAULT_SYSTEM_CONFIG.dataQuality,
        bybitPageLimit: cfg.bybit.pageLimit,
        signal: ac.signal,
        onProgress: (s, done, total) => {
          const key = `${s.symbol} ${s.interval}`;
          let bar = bars.get(key);
          if (!bar) {
            bar = multi.create(total, 0, { series: key.padEnd(14) });
            bars.set(key, bar);
          }
          bar.setTotal(Math.max(total, 1));
          bar.update(done);
        },
      },
      { venue, category, targets, intervals, fromMs, toMs },
    );
  } finally {
    multi.stop();
    process.off('SIGINT', onSigint);
    await warehouse.close();
  }
  process.stdout.write((v.json ? JSON.stringify(summary, null, 2) : report(summary, file, cfg.gapsListed)) + '\n');
  if (summary.series.some((s) => s.status === 'aborted')) return 130;
  return summary.series.some((s) => s.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`download-data: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
