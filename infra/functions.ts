/**
 * The one wrapper between functions-framework and a function's `handle` (shared/pipeline/<name>.ts):
 * - Pub/Sub: envelope -> delivery facts (infra/bus/envelope.ts) -> `decodeMessage` (the topic's schema
 *   from shared/messages.ts) -> `handle(deps, message)`, with a logger per message. A payload that can
 *   never succeed throws PermanentError, which the bus dead-letters with its reason; anything else is
 *   retried. Deployed, a Pub/Sub function is an HTTP function called by its push subscriptions
 *   (`bindPubsubPush`): 204 acks the message, any failure answers non-2xx so Pub/Sub redelivers it
 *   (in order, for an ordered subscription) and dead-letters it after the last attempt. It is not
 *   registered as a CloudEvent function because functions-framework's marshalling of a push body
 *   into a CloudEvent drops the ordering key and the delivery attempt (the execution's last-attempt
 *   rule needs the attempt).
 * - Scheduled (Cloud Scheduler POSTs the job's JSON body): `handle(deps, body)`, its result as the JSON
 *   answer.
 * - HTTP (the Telegram webhook, the dashboard): `handle(deps, request facts)`, its `{ status, headers, body }`
 *   as the answer.
 * `bind*` take the deps explicitly (the local runtime, replays and tests pass their root's);
 * `serve*` register with functions-framework under the function's name, with the deps of the
 * process's root (`processRoot`: built from the environment on the first invocation, once per process).
 */
import type { RequestListener } from 'node:http';
import * as ff from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { decodeMessage, type BusMessage } from '../shared/messages.js';
import { PermanentError } from '../shared/ports/bus.js';
import { deadLetterTopic } from '../shared/topics.js';
import { maxDeliveryAttemptsOf } from './bus/topology.js';
import { traceFromHeaders, type Logger } from '../shared/log.js';
import type { Headers } from '../shared/telegram/webhook.js';
import { pubsubEventFromRequest, rawDelivery, type CloudEventHandler, type PubsubCloudEvent } from './bus/envelope.js';
import { buildRootFromEnv, type Root } from './runtime/root.js';
import type { FunctionDeps, FunctionName } from './runtime/deps.js';

/** What every function's deps carry: the logger the wrapper narrows per message / request. */
export interface WithLog {
  log: Logger;
}

/** A Pub/Sub function's handle (shared/messages.ts `routeByTopic`). */
export type PubsubHandle<D> = (deps: D, msg: never) => Promise<void>;
/** A scheduled function's handle: the job's body in, a JSON-able summary out. */
export type ScheduledHandle<D> = (deps: D, body?: unknown) => Promise<Record<string, unknown>>;
/** The facts of an HTTP request a function decides on. */
interface HttpRequestFacts {
  method: string;
  /** Path and query as the function received them. */
  url: string;
  headers: Headers;
  rawBody: Buffer | undefined;
}
/**
 * An HTTP function's handle: request facts in, the answer out: a JSON body, raw bytes (a Buffer: a
 * static file, its content type in `headers`), or null / undefined for none (304).
 */
export type HttpHandle<D> = (deps: D, req: HttpRequestFacts) => Promise<{ status: number; headers?: Record<string, string>; body: unknown }>;

type DepsSource<D> = () => Promise<D>;

/** A Pub/Sub handle as a CloudEvent handler over `deps`. */
export function bindPubsub<D extends WithLog>(name: string, handle: PubsubHandle<D>, deps: DepsSource<D>): CloudEventHandler {
  return async (event: PubsubCloudEvent) => {
    const d = await deps();
    const log = d.log.child({ function: name, messageId: event?.data?.message?.messageId });
    let msg: BusMessage;
    try {
      msg = decodeMessage(rawDelivery(event));
    } catch (e) {
      log.error('rejected malformed event', { error: e as Error });
      throw e;
    }
    try {
      await handle({ ...d, log }, msg as never);
    } catch (e) {
      const permanent = e instanceof PermanentError;
      // On Google Cloud, Pub/Sub itself dead-letters a message after its last attempt: this ERROR
      // (with the stack, for Error Reporting) is the only trace of why it ended on `<topic>-dlq`.
      const last = msg.deliveryAttempt >= maxDeliveryAttemptsOf(name, msg.topic);
      const fields = { error: e as Error, deliveryAttempt: msg.deliveryAttempt, topic: msg.topic };
      if (permanent) log.error('permanent failure', fields);
      else if (last) log.error(`failed on its last delivery attempt: Pub/Sub dead-letters it to ${deadLetterTopic(msg.topic)}`, fields);
      else log.warn('failed; will be retried', fields);
      throw e;
    }
  };
}

type HttpFn = (req: Request, res: Response) => Promise<void>;

/**
 * A Pub/Sub handle as the HTTP function its push subscriptions call (or Eventarc, with a CloudEvent):
 * 204 when handled; 400 when the request or its payload can never succeed (PermanentError), 500 on
 * any other failure: both non-2xx, so Pub/Sub retries with back-off and then dead-letters.
 */
export function bindPubsubPush<D extends WithLog>(name: string, handle: PubsubHandle<D>, deps: DepsSource<D>): HttpFn {
  const deliver = bindPubsub(name, handle, deps);
  return async (req, res) => {
    let event: PubsubCloudEvent;
    try {
      event = pubsubEventFromRequest({ path: req.path, headers: req.headers, body: req.body });
    } catch (e) {
      (await deps()).log.child({ function: name }).error('rejected a request that is not a Pub/Sub delivery', { error: e as Error, path: req.path });
      res.status(400).json({ error: 'not a Pub/Sub delivery' });
      return;
    }
    try {
      await deliver(event);
    } catch (e) {
      // bindPubsub logged it; the caller never sees internal error text.
      const permanent = e instanceof PermanentError;
      res.status(permanent ? 400 : 500).json({ error: permanent ? 'permanent failure' : 'failed; retry' });
      return;
    }
    res.status(204).end();
  };
}

function httpWrapper<D extends WithLog>(name: string, deps: DepsSource<D>, fn: (d: D, req: Request, res: Response) => Promise<void>): HttpFn {
  return async (req, res) => {
    const d = await deps();
    const log = d.log.child({ function: name, trace: traceFromHeaders(req.headers) });
    try {
      await fn({ ...d, log }, req, res);
    } catch (e) {
      log.error('handler failed', { error: e as Error });
      // The caller never sees internal error text (paths, stacks, store messages): the log has it.
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    }
  };
}

/** A scheduled handle as an HTTP handler (Cloud Scheduler POSTs the job's body). */
export function bindScheduled<D extends WithLog>(name: string, handle: ScheduledHandle<D>, deps: DepsSource<D>): HttpFn {
  return httpWrapper(name, deps, async (d, req, res) => {
    const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : undefined;
    const result = await handle(d, body);
    d.log.info(`${name} done`, result);
    res.status(200).json(result);
  });
}

/** An HTTP handle as an HTTP handler: the request's facts in (the raw body as received), its answer out. */
export function bindHttp<D extends WithLog>(name: string, handle: HttpHandle<D>, deps: DepsSource<D>): HttpFn {
  return httpWrapper(name, deps, async (d, req, res) => {
    const r = await handle(d, { method: req.method, url: req.originalUrl ?? req.url, headers: req.headers, rawBody: (req as { rawBody?: Buffer }).rawBody });
    if (r.headers) res.set(r.headers);
    res.status(r.status);
    if (r.body === null || r.body === undefined) res.end();
    else if (Buffer.isBuffer(r.body)) res.send(r.body);
    else res.json(r.body);
  });
}

let rootOfProcess: Promise<Root> | undefined;

/** The process's root, from the environment, built on first use (the cloud entries only). */
function processRoot(): Promise<Root> {
  if (!rootOfProcess) {
    const building = buildRootFromEnv();
    rootOfProcess = building;
    building.catch(() => {
      if (rootOfProcess === building) rootOfProcess = undefined;
    });
  }
  return rootOfProcess;
}

const processDeps = <N extends FunctionName>(name: N) => async () => (await processRoot()).deps(name);

/**
 * Registers a Pub/Sub function with functions-framework (its cloud entry) as the HTTP function its
 * push subscriptions call. `deps` is the process's root unless given (tests).
 */
export function servePubsub<N extends FunctionName>(name: N, handle: PubsubHandle<FunctionDeps[N]>, deps: DepsSource<FunctionDeps[N]> = processDeps(name)): void {
  ff.http(name, bindPubsubPush(name, handle, deps));
}

/** Registers a scheduled function with functions-framework (its cloud entry). */
export function serveScheduled<N extends FunctionName>(name: N, handle: ScheduledHandle<FunctionDeps[N]>): void {
  ff.http(name, bindScheduled(name, handle, processDeps(name)));
}

/** Registers an HTTP function with functions-framework (its cloud entry). */
export function serveHttp<N extends FunctionName>(name: N, handle: HttpHandle<FunctionDeps[N]>): void {
  ff.http(name, bindHttp(name, handle, processDeps(name)));
}

let apps = 0;

/**
 * The functions-framework app of an HTTP handler, as a Node request listener (the local functions
 * server, the webhook's Cloud Run service, tests): the same body parsing and error handling as a
 * deployed function. Registered under a private name, so a process can serve several roots.
 */
export function httpFunctionListener(name: string, handler: HttpFn): RequestListener {
  const key = `${name}-app${++apps}`;
  ff.http(key, handler);
  const server = getTestServer(key);
  return (req, res) => void server.emit('request', req, res);
}
