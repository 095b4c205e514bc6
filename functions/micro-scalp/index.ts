/**
 * MICRO-SCALP evaluation (SPEC 1/4): Pub/Sub-triggered on `candles-bybit-1m` (evaluation on every
 * closed 1m candle) and `snapshots-bybit-15s` (evaluation of the forming candle with the book). Thin:
 * validates the payload at the edge and calls shared/pipeline/micro-scalp.ts, which logs every decision to
 * the warehouse `signals` table and publishes emitting TAKEs on `trade-signals-micro`.
 * The instance keeps recent candles and book samples in memory (`microCacheFor`).
 */
import * as ff from '@google-cloud/functions-framework';
import { pubsubHandler } from '../../infra/functions.js';
import { asCloudEventFunction, topicFromSource } from '../../infra/bus/envelope.js';
import type { AppContext } from '../../infra/context.js';
import { candleBatchSchema } from '../../shared/market/schemas.js';
import { snapshotSchema } from '../../shared/model/market.js';
import { evaluateMicro, evaluateMicroCandles, microCacheFor, type MicroDeps } from '../../shared/pipeline/micro-scalp.js';
import { PermanentError, type CloudEventHandler } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';

export const MICRO_SCALP = 'micro-scalp';
/** The topics this function subscribes to. */
export const MICRO_SCALP_TOPICS = [TOPICS.bybitCandles, TOPICS.snapshots] as const;

function deps(ctx: AppContext): MicroDeps {
  return { ...ctx, cache: microCacheFor(ctx.state) };
}

const onCandles = pubsubHandler(MICRO_SCALP, candleBatchSchema, async (ctx, msg) => {
  await evaluateMicroCandles(deps(ctx), msg.payload.candles);
});

const onSnapshot = pubsubHandler(MICRO_SCALP, snapshotSchema, async (ctx, msg) => {
  await evaluateMicro(deps(ctx), { kind: 'snapshot', snapshot: msg.payload });
});

const ROUTES: Record<string, CloudEventHandler> = {
  [TOPICS.bybitCandles]: onCandles,
  [TOPICS.snapshots]: onSnapshot,
};

/** One entry point for both topics: routed by the event's source topic. */
export const microScalp: CloudEventHandler = async (event) => {
  const topic = topicFromSource(event.source);
  const handler = topic === undefined ? undefined : ROUTES[topic];
  if (!handler) throw new PermanentError(`${MICRO_SCALP}: no handler for events from ${event.source}`);
  await handler(event);
};

ff.cloudEvent(MICRO_SCALP, asCloudEventFunction(microScalp));
