/**
 * The Bybit websocket holder as a Cloud Run service (SPEC 1: always on, min-instances 1, max 1).
 *
 * Deploy with `--min-instances=1 --max-instances=1 --no-cpu-throttling` (the deploy flags live with
 * the deploy command, not here): exactly one process must hold the stream, otherwise every candle
 * would be published twice and the cursors would race; CPU must stay allocated between requests
 * because the work happens on the websocket, not in HTTP requests.
 *
 * HTTP: `GET /healthz` -> the holder's health JSON (connection state, last-message age per symbol,
 * reconnect count, published counts, book gaps), 200 when connected and fresh, else 503.
 * SIGTERM (Cloud Run scale-down / redeploy): stop accepting HTTP, flush the tick batches, drain the
 * candle queue, close the websocket, exit 0.
 *
 * `startHolder(services, opts)` runs it: in-process (local runtime, tests), or as the process of its
 * Cloud Run service (functions/bybit-holder/server.ts, with the root built from the environment).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Services } from '../runtime/root.js';
import { BybitHolder } from '../../shared/market/bybit/holder.js';
import { holderSettings, type HolderSettings } from '../../shared/market/bybit/holder-config.js';
import type { SystemConfig } from '../../shared/config/system.js';
import type { Logger } from '../../shared/log.js';
import type { BybitStream, KlineSource } from '../../shared/ports/bybit.js';
import { BybitWsStream } from './ws-stream.js';
import { BybitRestKlines } from './rest-klines.js';

const DEFAULT_PORT = 8080;
const HEALTH_PATH = '/healthz';
/** Bybit REST timeout for backfill requests. */
const REST_TIMEOUT_MS = 10_000;

interface StartHolderOptions {
  /** HTTP port; default `PORT` from the environment (Cloud Run) or 8080. 0 picks a free port. */
  port?: number;
  /** false: no HTTP server (an embedding runtime that has its own). Default true. */
  http?: boolean;
  settings?: Partial<HolderSettings>;
  /** Overrides of the adapters (default: bybit-api on `ctx.endpoints`). */
  stream?: BybitStream;
  klines?: KlineSource;
  /** Run the holder's own timer loop (default true). */
  autoTimers?: boolean;
  /** Install SIGTERM/SIGINT handlers that shut down and exit (default false; the service's process sets it). */
  handleSignals?: boolean;
  /** Called with the exit code after a signal-triggered shutdown (default `process.exit`). */
  exit?: (code: number) => void;
}

export interface RunningHolder {
  holder: BybitHolder;
  /** Bound HTTP port (undefined without HTTP). */
  port: number | undefined;
  /** Graceful stop (idempotent). */
  shutdown(reason?: string): Promise<void>;
}

/** The holder's exchange adapters: bybit-api on the root's endpoints unless the options bring their own. */
function exchangeAdapters(ctx: Services, config: SystemConfig, settings: HolderSettings, log: Logger, opts: StartHolderOptions): { stream: BybitStream; klines: KlineSource } {
  const stream =
    opts.stream ??
    new BybitWsStream({
      wsUrl: ctx.endpoints.bybitWs,
      pingIntervalMs: config.bybit.pingIntervalMs,
      pongTimeoutMs: settings.pongTimeoutMs,
      reconnectMinMs: config.bybit.reconnectMinMs,
      reconnectMaxMs: config.bybit.reconnectMaxMs,
      log: log.child({ component: 'bybit-ws' }),
    });
  const klines =
    opts.klines ??
    new BybitRestKlines({
      baseUrl: ctx.endpoints.bybitRest,
      pageLimit: settings.restPageLimit,
      requestTimeoutMs: REST_TIMEOUT_MS,
      clock: ctx.clock,
      log: log.child({ component: 'bybit-rest' }),
    });
  return { stream, klines };
}

/** `GET /healthz` (and `/`): the holder's health JSON, 200 when connected and fresh, else 503. */
async function startHealthServer(holder: BybitHolder, wanted: number, log: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === HEALTH_PATH || path === '/')) {
      const h = holder.health();
      res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info('health endpoint listening', { port, path: HEALTH_PATH });
  return { server, port };
}

/** SIGTERM / SIGINT: shut down, then exit 0 (1 when the shutdown failed). */
function exitOnSignals(shutdown: (reason: string) => Promise<void>, log: Logger, exit: (code: number) => void): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    shutdown(signal).then(
      () => exit(0),
      (e: unknown) => {
        log.error('shutdown failed', { error: e as Error });
        exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

export async function startHolder(ctx: Services, opts: StartHolderOptions = {}): Promise<RunningHolder> {
  const config = await ctx.config.system();
  const settings = holderSettings(opts.settings);
  const log = ctx.log.child({ service: 'bybit-holder' });
  const { stream, klines } = exchangeAdapters(ctx, config, settings, log, opts);
  const holder = new BybitHolder({ stream, klines, bus: ctx.bus, state: ctx.state, clock: ctx.clock, log, config, settings, autoTimers: opts.autoTimers ?? true });

  const http = opts.http === false ? undefined : await startHealthServer(holder, opts.port ?? (process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT), log);
  await holder.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown'): Promise<void> => {
    stopping ??= (async () => {
      log.notice('holder shutting down', { reason });
      const server = http?.server;
      const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      await holder.stop();
      await closed;
      log.notice('holder shut down', { reason, published: holder.health().published });
    })();
    return stopping;
  };
  if (opts.handleSignals) exitOnSignals(shutdown, log, opts.exit ?? ((code: number) => process.exit(code)));
  return { holder, port: http?.port, shutdown };
}
