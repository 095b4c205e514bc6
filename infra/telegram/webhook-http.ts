/**
 * The HTTP front of the Telegram webhook, on the raw Node request: the secret header first, then the
 * body size cap (declared length, then counted bytes while reading), then parsing; only an admitted,
 * parsed update reaches the functions-framework app. functions-framework itself buffers and parses
 * every body (up to 1 GB) before the function runs, so the webhook is served through this front
 * everywhere: the local functions server of `npm start`, its deployed Cloud Run service
 * (functions/telegram-webhook/server.ts; not a Cloud Function, whose framework would read the body
 * first) and the tests. Refusals are fixed plain answers with
 * `Connection: close`; an unread body is never read.
 *
 * The app sees `req.body` (the parsed update) and `req.rawBody` (its bytes) already set and the stream
 * finished, so its body parsers skip the request.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { FUNCTION_NAME, handle } from '../../shared/pipeline/telegram-webhook.js';
import { bindHttp, httpFunctionListener } from '../functions.js';
import type { Root } from '../runtime/root.js';
import { admitHeaders, parseWebhookBody, REFUSALS, type WebhookResponse } from '../../shared/telegram/webhook.js';
import type { Logger } from '../../shared/log.js';

interface WebhookFrontOptions {
  /** Secret and body cap, looked up per request (the runtime is built once). */
  settings(): Promise<{ secret: string | undefined; maxBodyBytes: number; log: Logger }>;
}

function refuse(res: ServerResponse, r: WebhookResponse): void {
  if (res.headersSent) return;
  res.writeHead(r.status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify(r.body));
}

/** Reads at most `max` bytes; resolves null (and stops reading) as soon as the body is larger. */
function readCapped(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (v: Buffer | null) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.pause();
        finish(null);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks, n)));
    req.once('error', (e) => (done ? undefined : ((done = true), reject(e))));
  });
}

/** Wraps the webhook's functions-framework app with the front. */
function webhookFront(app: RequestListener, opts: WebhookFrontOptions): RequestListener {
  return (req, res) => {
    void (async () => {
      let log: Logger | undefined;
      try {
        if (req.method !== 'POST') return refuse(res, { status: 405, body: REFUSALS[405] });
        const s = await opts.settings();
        log = s.log;
        const refused = admitHeaders(req.headers, s.secret, s.maxBodyBytes);
        if (refused) {
          s.log.warn('telegram webhook: refused before reading the body', { status: refused.status, declaredBytes: req.headers['content-length'] ?? null });
          refuse(res, refused);
          // Do not read (nor let Node drain) what an unauthenticated or oversized caller keeps sending.
          res.once('finish', () => req.socket.destroy());
          return;
        }
        const raw = await readCapped(req, s.maxBodyBytes);
        if (!raw) {
          s.log.warn('telegram webhook: body over the cap', { maxBodyBytes: s.maxBodyBytes });
          refuse(res, { status: 413, body: REFUSALS[413] });
          res.once('finish', () => req.socket.destroy());
          return;
        }
        const parsed = parseWebhookBody(raw, s.maxBodyBytes);
        if (!parsed.ok) {
          s.log.warn('telegram webhook: malformed body', { status: parsed.refusal.status, bytes: raw.length });
          return refuse(res, parsed.refusal);
        }
        Object.assign(req, { body: parsed.body, rawBody: raw });
        app(req, res);
      } catch (e) {
        log?.error('telegram webhook front failed', { error: e as Error });
        refuse(res, { status: 500, body: REFUSALS[500] });
      }
    })();
  };
}

/**
 * The webhook as served everywhere (`npm start`'s functions server, its Cloud Run service, tests): the
 * front around the functions-framework app of its handle, both with the deps of `root`.
 */
export function webhookListener(root: () => Promise<Root>): RequestListener {
  const app = httpFunctionListener(FUNCTION_NAME, bindHttp(FUNCTION_NAME, handle, async () => (await root()).deps(FUNCTION_NAME)));
  return webhookFront(app, {
    async settings() {
      const r = await root();
      const rt = await r.telegram();
      return { secret: rt.webhookSecret, maxBodyBytes: rt.deps.tg.webhook.maxBodyBytes, log: r.log.child({ function: FUNCTION_NAME }) };
    },
  });
}
