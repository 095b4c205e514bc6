/**
 * The Telegram webhook as its own Cloud Run service (deployed from source by scripts/deploy.ts; the
 * Node.js buildpack runs `gcp-build` and starts `node dist/functions/telegram-webhook/server.js`).
 *
 * Why not a Cloud Function: functions-framework buffers and parses every request body (up to far more
 * than our cap) before the function runs, so a deployed function could not check the secret before
 * reading the body. Here a plain Node HTTP server owns the raw request and serves the SAME listener as
 * `npm start` (infra/telegram/webhook-http.ts `webhookListener`): the webhook's front (secret header,
 * then the body size cap, then parsing) around the functions-framework app of the one handle
 * (shared/pipeline/telegram-webhook.ts). Every path is the webhook (Telegram POSTs to the service URL);
 * anything but POST gets 405 from the front.
 *
 * `startWebhookService(root, opts)` runs it in-process (tests); `main()` builds the composition root
 * from the environment (the gcp backend on Cloud Run) when this file is the process entry point.
 * SIGTERM (Cloud Run scale-down / redeploy): stop accepting connections, let requests in flight
 * finish, close the root's adapters, exit 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { buildRootFromEnv, type Root } from '../../infra/runtime/root.js';
import { webhookListener } from '../../infra/telegram/webhook-http.js';
import type { Logger } from '../../shared/log.js';
import { FUNCTION_NAME } from '../../shared/pipeline/telegram-webhook.js';

const DEFAULT_PORT = 8080;

interface StartWebhookServiceOptions {
  /** Port; default `PORT` from the environment (Cloud Run) or 8080. 0 picks a free port. */
  port?: number;
  /** Interface to bind; default all (Cloud Run). */
  host?: string;
  log?: Logger;
  /** Install SIGTERM/SIGINT handlers that close the server and exit (default false; `main()` sets it). */
  handleSignals?: boolean;
  /** Called with the exit code after a signal-triggered shutdown (default `process.exit`). */
  exit?: (code: number) => void;
  /** Runs once the server is closed (main: close the root's adapters). */
  afterClose?: () => Promise<void>;
}

interface RunningWebhookService {
  server: Server;
  port: number;
  /** Stops accepting connections and resolves when the requests in flight are answered (idempotent). */
  close(reason?: string): Promise<void>;
}

export async function startWebhookService(root: Root, opts: StartWebhookServiceOptions = {}): Promise<RunningWebhookService> {
  const server = createServer(webhookListener(async () => root));
  const wanted = opts.port ?? (process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.host) server.listen(wanted, opts.host, () => resolve());
    else server.listen(wanted, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.log?.notice('telegram webhook listening', { port });

  let closing: Promise<void> | undefined;
  const close = (reason = 'close'): Promise<void> => {
    closing ??= (async () => {
      opts.log?.notice('telegram webhook shutting down', { reason });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await opts.afterClose?.();
    })();
    return closing;
  };

  if (opts.handleSignals) {
    const exit = opts.exit ?? ((code: number) => process.exit(code));
    const onSignal = (signal: NodeJS.Signals): void =>
      void close(signal).then(
        () => exit(0),
        (e: unknown) => {
          opts.log?.error('shutdown failed', { error: e as Error });
          exit(1);
        },
      );
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { server, port, close };
}

/** Process entry point (Cloud Run): the root from the environment, signals handled. */
async function main(): Promise<RunningWebhookService> {
  const root = await buildRootFromEnv();
  return startWebhookService(root, { log: root.log.child({ service: FUNCTION_NAME }), handleSignals: true, afterClose: () => root.close() });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${FUNCTION_NAME} failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
