/**
 * Execution / paper engine (SPEC 1/5/6): Pub/Sub-triggered on scalp signals (`trade-signals-micro`),
 * swing signals (`trade-signals-swing`), closed Bybit 1m candles (`candles-bybit-1m`: scalp fills and
 * exits, volatility, the BTC regime), Kraken candles (`ohlc-data-kraken`: swing fills), macro-bias
 * updates (`macro-bias-updates`) and the owner's Telegram commands (`trade-commands`: pause, resume,
 * move TP, decided suggestions). Thin: validates at the edge and calls shared/pipeline/execution.ts /
 * commands.ts (the one trading core through TradingStore transactions).
 *
 * Live mode (owner switch `trading/mode`): the live source below yields the Bybit v5 private REST
 * client (infra/bybit/trading-client.ts) at `ctx.endpoints.bybitRest` when both keys are configured
 * (Secret Manager `bybit-api-key` / `bybit-api-secret` in the cloud, CST_BYBIT_API_KEY / _SECRET
 * locally); the engine asks it only when live trading is needed. No keys: `unavailable`, the engine
 * rejects signals and alerts once. Paper (the default) never builds it.
 */
import * as ff from '@google-cloud/functions-framework';
import { pubsubHandler } from '../../infra/functions.js';
import { asCloudEventFunction, topicFromSource } from '../../infra/bus/envelope.js';
import type { AppContext } from '../../infra/context.js';
import { candleBatchSchema } from '../../shared/market/schemas.js';
import { macroBiasMessageSchema, swingSignalMessageSchema } from '../../shared/strategies/macro/messages.js';
import { signalSchema } from '../../shared/model/trading.js';
import {
  executeBias,
  executeCandles,
  executeSignal,
  executionCacheFor,
  signalFromSwingMessage,
  type ExecutionDeps,
} from '../../shared/pipeline/execution.js';
import { PermanentError, type CloudEventHandler } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import { executeTradeCommand } from '../../shared/pipeline/execution/owner-commands.js';
import { tradeCommandSchema } from '../../shared/telegram/trade-commands.js';
import { liveVenueFor } from './live.js';

export const EXECUTION = 'execution';
/** The topics this function subscribes to. */
export const EXECUTION_TOPICS = [TOPICS.microSignals, TOPICS.swingSignals, TOPICS.bybitCandles, TOPICS.krakenOhlc, TOPICS.macroBias, TOPICS.tradeCommands] as const;

function deps(ctx: AppContext): ExecutionDeps {
  return { ...ctx, cache: executionCacheFor(ctx.state), liveVenue: () => liveVenueFor(ctx) };
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

const onCommand = pubsubHandler(EXECUTION, tradeCommandSchema, async (ctx, msg) => {
  await executeTradeCommand(deps(ctx), msg.payload);
});

const ROUTES: Record<string, CloudEventHandler> = {
  [TOPICS.tradeCommands]: onCommand,
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
