/**
 * Execution / paper engine (SPEC 1/5/6): Pub/Sub-triggered on scalp signals (`trade-signals-micro`),
 * swing signals (`trade-signals-swing`), closed Bybit 1m candles (`candles-bybit-1m`: scalp fills and
 * exits, volatility, the BTC regime), Kraken candles (`ohlc-data-kraken`: swing fills) and macro-bias
 * updates (`macro-bias-updates`). Thin: validates at the edge and calls shared/engine/execution.ts
 * (the one trading core through TradingStore transactions; paper mode).
 */
import * as ff from '@google-cloud/functions-framework';
import { pubsubHandler } from '../../infra/functions.js';
import { asCloudEventFunction, topicFromSource } from '../../infra/bus/envelope.js';
import type { AppContext } from '../../infra/context.js';
import { candleBatchSchema } from '../../shared/market/schemas.js';
import { macroBiasMessageSchema, swingSignalMessageSchema } from '../../shared/strategies/macro/messages.js';
import { signalSchema } from '../../shared/trading/model.js';
import {
  executeBias,
  executeCandles,
  executeSignal,
  executionCacheFor,
  signalFromSwingMessage,
  type ExecutionDeps,
} from '../../shared/engine/execution.js';
import { PermanentError, type CloudEventHandler } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';

export const EXECUTION = 'execution';
/** The topics this function subscribes to. */
export const EXECUTION_TOPICS = [TOPICS.microSignals, TOPICS.swingSignals, TOPICS.bybitCandles, TOPICS.krakenOhlc, TOPICS.macroBias] as const;

function deps(ctx: AppContext): ExecutionDeps {
  return { ...ctx, cache: executionCacheFor(ctx.state) };
}

async function delivery(ctx: AppContext, attempt: number) {
  return { attempt, maxAttempts: (await ctx.config.system()).delivery.maxAttempts };
}

const onMicroSignal = pubsubHandler(EXECUTION, signalSchema, async (ctx, msg) => {
  if (msg.payload.engine !== 'SCALP') throw new PermanentError(`a ${msg.payload.engine} signal on ${TOPICS.microSignals}`);
  await executeSignal(deps(ctx), msg.payload, await delivery(ctx, msg.deliveryAttempt));
});

const onSwingSignal = pubsubHandler(EXECUTION, swingSignalMessageSchema, async (ctx, msg) => {
  await executeSignal(deps(ctx), signalFromSwingMessage(msg.payload), await delivery(ctx, msg.deliveryAttempt));
});

const onCandles = pubsubHandler(EXECUTION, candleBatchSchema, async (ctx, msg) => {
  await executeCandles(deps(ctx), msg.payload.candles);
});

const onBias = pubsubHandler(EXECUTION, macroBiasMessageSchema, async (ctx, msg) => {
  await executeBias(deps(ctx), msg.payload);
});

const ROUTES: Record<string, CloudEventHandler> = {
  [TOPICS.microSignals]: onMicroSignal,
  [TOPICS.swingSignals]: onSwingSignal,
  [TOPICS.bybitCandles]: onCandles,
  [TOPICS.krakenOhlc]: onCandles,
  [TOPICS.macroBias]: onBias,
};

/** One entry point for every topic: routed by the event's source topic. */
export const execution: CloudEventHandler = async (event) => {
  const topic = topicFromSource(event.source);
  const handler = topic === undefined ? undefined : ROUTES[topic];
  if (!handler) throw new PermanentError(`${EXECUTION}: no handler for events from ${event.source}`);
  await handler(event);
};

ff.cloudEvent(EXECUTION, asCloudEventFunction(execution));
