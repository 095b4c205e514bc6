/**
 * Thin-handler wrappers shared by every function: get the context, validate the event at the edge,
 * log with the message id, call the domain. A payload that can never succeed throws PermanentError,
 * which the bus dead-letters with its reason; anything else is retried.
 */
import type { RequestListener } from 'node:http';
import type { z } from 'zod';
import type { Request, Response } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { decodeEvent, type DecodedMessage } from '../shared/events.js';
import { PermanentError, type CloudEventHandler, type PubsubCloudEvent } from '../shared/ports/bus.js';
import { traceFromHeaders } from '../shared/log.js';
import { getContext, type AppContext } from './context.js';

export type PubsubDomainFn<T> = (ctx: AppContext, msg: DecodedMessage<T>) => Promise<void>;

/** Wraps a domain function as a Pub/Sub CloudEvent handler. */
export function pubsubHandler<T>(name: string, schema: z.ZodType<T>, fn: PubsubDomainFn<T>): CloudEventHandler {
  return async (event: PubsubCloudEvent) => {
    const ctx = await getContext();
    const log = ctx.log.child({ function: name, messageId: event?.data?.message?.messageId });
    let msg: DecodedMessage<T>;
    try {
      msg = decodeEvent(event, schema);
    } catch (e) {
      log.error('rejected malformed event', { reason: (e as Error).message });
      throw e;
    }
    try {
      await fn({ ...ctx, log }, msg);
    } catch (e) {
      const permanent = e instanceof PermanentError;
      log[permanent ? 'error' : 'warn'](permanent ? 'permanent failure' : 'failed; will be retried', {
        error: e as Error,
        deliveryAttempt: msg.deliveryAttempt,
      });
      throw e;
    }
  };
}

export type HttpDomainFn = (ctx: AppContext, req: Request, res: Response) => Promise<void>;

/** Wraps a domain function as an HTTP handler (Scheduler targets, Telegram webhook). */
export function httpHandler(name: string, fn: HttpDomainFn): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const ctx = await getContext();
    const log = ctx.log.child({ function: name, trace: traceFromHeaders(req.headers) });
    try {
      await fn({ ...ctx, log }, req, res);
    } catch (e) {
      log.error('handler failed', { error: e as Error });
      // The caller never sees internal error text (paths, stacks, store messages): the log has it.
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    }
  };
}

/** Scheduled jobs: Cloud Scheduler POSTs to the function; the local runtime calls `run` directly. */
export interface ScheduledJob {
  name: string;
  /** `body` is the job's JSON body from scheduler.yaml (Cloud Scheduler POSTs it; the local runner passes it). */
  run(ctx: AppContext, body?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export function scheduledHttpHandler(job: ScheduledJob) {
  return httpHandler(job.name, async (ctx, req, res) => {
    const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : undefined;
    const result = await job.run(ctx, body);
    ctx.log.info(`${job.name} done`, result);
    res.status(200).json(result);
  });
}

/**
 * A front runs on the raw Node request before functions-framework reads the body (which it does for
 * every request, up to 1 GB, before the function runs): the Telegram webhook checks its secret and
 * size cap there (infra/telegram/webhook-http.ts). A function with a front is deployed as a Cloud Run
 * service whose server serves `httpFunctionListener(name)` (functions/telegram-webhook/server.ts).
 */
export type HttpFront = (app: RequestListener) => RequestListener;
const fronts = new Map<string, HttpFront>();

export function registerHttpFront(name: string, front: HttpFront): void {
  fronts.set(name, front);
}

/** The request listener that serves a registered HTTP function (locally, and in its Cloud Run service): its front (if any), then its functions-framework app. */
export function httpFunctionListener(name: string): RequestListener {
  const server = getTestServer(name);
  const app: RequestListener = (req, res) => void server.emit('request', req, res);
  return fronts.get(name)?.(app) ?? app;
}
