/**
 * The registered functions (infra/runtime/registry.ts) bound to an explicit root: what the local
 * runtime and the replays subscribe and serve. Each function's module loads on its first message or
 * request; its deps are the root's (built once per root).
 */
import type { SubscribableBus, CloudEventHandler } from '../bus/envelope.js';
import { subscriptionName } from '../bus/topology.js';
import { bindHttp, bindPubsub, bindScheduled, type PubsubHandle, type WithLog } from '../functions.js';
import type { Request, Response } from '@google-cloud/functions-framework';
import { pubsubBindings, type HttpFunction, type PubsubFunction, type ScheduledFunction } from './registry.js';
import type { Root } from './root.js';

/** A function's CloudEvent handler over `root`'s deps. */
export function pubsubHandlerFor(root: Root, fn: PubsubFunction): CloudEventHandler {
  let bound: Promise<CloudEventHandler> | undefined;
  return async (event) => {
    // The registry pairs each name with its module's handle: `root.deps(fn.name)` is that handle's deps.
    bound ??= fn.load().then((m) => bindPubsub(fn.name, m.handle as PubsubHandle<WithLog>, () => root.deps(fn.name)));
    await (await bound)(event);
  };
}

/** Subscribes every Pub/Sub function to its topics (infra/bus/topology.ts) on an in-process bus. */
export function subscribeFunctions(bus: SubscribableBus, root: Root): void {
  for (const b of pubsubBindings()) bus.subscribe({ name: subscriptionName(b.function, b.topic), topic: b.topic, handler: pubsubHandlerFor(root, b.spec) });
}

/** A scheduled function's handle, run directly with `root`'s deps (the local scheduler, replays). */
export async function runScheduled(root: Root, fn: ScheduledFunction, body?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const [{ handle }, deps] = await Promise.all([fn.load(), root.deps(fn.name)]);
  // The registry pairs each name with its module's handle: `root.deps(fn.name)` is that handle's deps.
  return handle({ ...deps, log: deps.log.child({ function: fn.name }) } as never, body);
}

/** A scheduled function as an HTTP handler over `root`'s deps (the local functions server). */
export function scheduledHandlerFor(root: Root, fn: ScheduledFunction): (req: Request, res: Response) => Promise<void> {
  return bindScheduled<WithLog>(fn.name, async (deps, body) => (await fn.load()).handle(deps as never, body), () => root.deps(fn.name));
}

/** A public HTTP function as an HTTP handler over `root`'s deps (the local functions server). */
export function httpHandlerFor(root: Root, fn: HttpFunction): (req: Request, res: Response) => Promise<void> {
  // The registry pairs each name with its module's handle: `root.deps(fn.name)` is that handle's deps.
  return bindHttp<WithLog>(fn.name, async (deps, req) => (await fn.load()).handle(deps as never, req), () => root.deps(fn.name));
}
