/**
 * The message catalog: every bus topic mapped to the ONE zod schema its messages satisfy, the type a
 * consumer receives, a typed `publish` (the payload is checked against the same schema before it
 * leaves), and the one topic router every multi-topic function uses (`routeByTopic`).
 *
 * Every topic's payload schema is declared HERE and nowhere else; reusable building blocks (a candle,
 * a trade, the book features, the closed trade, the trading vocabulary) come from the model modules
 * below it (shared/model/market.ts, shared/model/trading.ts). This module imports only those, so
 * any module (the notifier, the jobs, a producer) can import the catalog without an import cycle.
 *
 * Producers and consumers both validate against this catalog: a consumer never trusts the producer.
 * Envelope decoding (base64, CloudEvent source -> topic) lives in infra (infra/bus/envelope.ts); what
 * reaches a function's `handle` is a `BusMessage` whose payload already passed its topic's schema.
 */
import { z } from 'zod';
import { bookFeaturesSchema, candleSchema, TIERS, tradeSchema, type Snapshot } from './model/market.js';
import { closedTradeSchema, directionSchema, engineKindSchema, exitReasonSchema, fillLiquiditySchema, mlPredictionSchema, strategyIdSchema, type Signal, type TradeEvent } from './model/trading.js';
import { PermanentError, type Bus, type PublishOptions } from './ports/bus.js';
import { TOPICS, type TopicName } from './topics.js';

const finite = z.number().finite();
const positive = finite.positive();

// ---------- market data: raw-tick-data-bybit, ohlc-data-kraken, candles-bybit-1m, snapshots-bybit-15s ----------

/** One message on `raw-tick-data-bybit`: the trades of one symbol over (at most) one second. */
const tickBatchSchema = z.object({
  symbol: z.string().min(1),
  fromTs: z.number().int(),
  toTs: z.number().int(),
  trades: z.array(tradeSchema).min(1),
});
export type TickBatch = z.infer<typeof tickBatchSchema>;

/** A batch of closed candles on `ohlc-data-kraken` / `candles-bybit-1m`. */
const candleBatchSchema = z.object({
  candles: z.array(candleSchema).min(1),
});
export type CandleBatch = z.infer<typeof candleBatchSchema>;

/**
 * The 15-second snapshot the Bybit holder publishes on `snapshots-bybit-15s` (shared/model/market.ts
 * `Snapshot`): the forming 1m candle as it is at `ts`, and the order-book features.
 */
export const snapshotSchema = z
  .object({
    symbol: z.string().min(1),
    ts: z.number().int().nonnegative(),
    forming: candleSchema.nullable(),
    book: bookFeaturesSchema.nullable(),
  })
  .refine((s) => s.forming === null || (s.forming.symbol === s.symbol && s.forming.interval === '1m'), {
    message: 'forming must be a 1m candle of the snapshot symbol',
  }) satisfies z.ZodType<Snapshot>;
// A forming candle opening after `ts` is NOT rejected here: the holder stamps a snapshot with its
// scheduled boundary, and a late tick can already see the next minute's candle. The engine skips it.

// ---------- macro-bias-updates ----------

const biasComponentSchema = z.object({
  name: z.string().min(1),
  weight: finite.min(0).max(1),
  score: finite.min(-1).max(1),
  detail: z.string(),
  available: z.boolean(),
  inputs: z.record(z.string(), finite.nullable()),
});

/**
 * What the MACRO run publishes on `macro-bias-updates`, one per (symbol, 5-minute slot). Attribute
 * `dedupeId` = `macro-bias:{symbol}:{slotStart}`; a retried run republishes the SAME content with the
 * same `dedupeId`, so subscribers de-duplicate on it.
 */
export const macroBiasMessageSchema = z.object({
  symbol: z.string().min(1),
  bias: z.enum(['LONG', 'SHORT', 'NEUTRAL']),
  confidence: z.number().int().min(0).max(100),
  components: z.array(biasComponentSchema),
  ts: z.number().int(),
  expiresAt: z.number().int(),
  score: finite.min(-1).max(1),
  availableWeight: finite.min(0).max(1),
  reasons: z.array(z.string()),
  /** Start of the 5-minute slot the bias belongs to (= ts). */
  slotStart: z.number().int(),
  dedupeId: z.string().min(1),
});
export type MacroBiasMessage = z.infer<typeof macroBiasMessageSchema>;

// ---------- trade-signals-micro, trade-signals-swing ----------

/**
 * A `Signal` (shared/model/trading.ts): what both engines publish, the scalps on
 * `trade-signals-micro` (MICRO-SCALP) and the swings on `trade-signals-swing` (MACRO), attribute
 * `dedupeId` = the signal id. One shape for both: execution and the notifier read them alike.
 */
export const signalSchema = z.object({
  signalId: z.string().min(1),
  strategy: strategyIdSchema,
  engine: engineKindSchema,
  symbol: z.string().min(1),
  ts: z.number().int(),
  candleTime: z.number().int(),
  decision: z.literal('TAKE'),
  direction: directionSchema,
  price: positive,
  reasons: z.array(z.string()),
  features: z.record(z.string(), z.union([z.number(), z.boolean(), z.string(), z.null()])),
  tier: z.enum(TIERS),
  entries: z.array(positive).min(1).max(50),
  stopLoss: positive,
  takeProfit: positive,
  trailingFraction: z.number().positive().lt(1).nullable(),
  maxHoldMs: z.number().int().positive(),
  confidence: z.number().min(0).max(100),
  emit: z.boolean(),
  ml: mlPredictionSchema.optional(),
}) satisfies z.ZodType<Signal>;

// ---------- trade-events ----------

/** Fields every trade event carries (shared/trading/model.ts EventBase). */
const eventBase = {
  eventId: z.string().min(1),
  accountId: z.string().min(1),
  ts: z.number().int(),
  groupId: z.string().min(1),
  signalId: z.string().min(1),
  symbol: z.string().min(1),
  strategy: strategyIdSchema,
  direction: directionSchema,
};

/** A signal's plan as its outcome carries it (shared/trading/model.ts SignalPlan). */
const signalPlanSchema = z.object({
  engine: engineKindSchema,
  ts: z.number().int(),
  candleTime: z.number().int(),
  price: positive,
  entries: z.array(positive).min(1),
  stopLoss: positive,
  takeProfit: positive,
  confidence: z.number().min(0).max(100),
  reasons: z.array(z.string()),
  ml: mlPredictionSchema.optional(),
});

/**
 * The trade events execution publishes on `trade-events` (shared/trading/model.ts `TradeEvent`, one
 * member per event type; attribute `dedupeId` = the event id, ordering key = the trade group). A new
 * event type is one more member here and in `TradeEvent` (the check below fails until both agree).
 */
const tradeEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...eventBase,
    type: z.literal('order_placed'),
    entries: z.array(z.object({ orderId: z.string().min(1), price: positive, qty: finite })).min(1),
    stopLoss: positive,
    takeProfit: positive,
    risk: finite,
    notional: finite,
    signal: signalPlanSchema.optional(),
  }),
  z.object({ ...eventBase, type: z.literal('signal_rejected'), reason: z.string().min(1), detail: z.string(), signal: signalPlanSchema }),
  z.object({ ...eventBase, type: z.literal('take_profit_moved'), from: finite, to: finite, commandId: z.string().min(1) }),
  z.object({ ...eventBase, type: z.literal('stop_loss_moved'), from: finite, to: finite, commandId: z.string().min(1) }),
  z.object({ ...eventBase, type: z.literal('entry_filled'), orderId: z.string().min(1), price: positive, qty: finite, fee: finite, liquidity: fillLiquiditySchema.optional(), slippage: finite.optional(), avgEntry: positive, filledQty: finite }),
  z.object({
    ...eventBase,
    type: z.literal('entry_timeout'),
    cancelledOrderIds: z.array(z.string()),
    positionRemains: z.boolean(),
    reason: z.literal('regime_panic').optional(),
  }),
  z.object({ ...eventBase, type: z.literal('trailing_activated'), trailStop: finite }),
  z.object({ ...eventBase, type: z.literal('half_take_profit'), price: finite }),
  z.object({ ...eventBase, type: z.literal('exit_filled'), reason: exitReasonSchema, price: finite, qty: finite, fee: finite, liquidity: fillLiquiditySchema.optional(), slippage: finite.optional() }),
  z.object({ ...eventBase, type: z.literal('position_closed'), trade: closedTradeSchema }),
  z.object({ ...eventBase, type: z.literal('exit_decided'), reason: exitReasonSchema, price: finite, qty: finite }),
  z.object({
    ...eventBase,
    type: z.literal('entry_cancel_decided'),
    reason: z.enum(['entry_timeout', 'regime_panic', 'manual']),
    orderIds: z.array(z.string()),
  }),
]) satisfies z.ZodType<TradeEvent>;

/** True only when A and B are the same type (both ways assignable). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time: the schema covers every `TradeEvent` member and field, and nothing else. */
const tradeEventsMatch: Same<z.output<typeof tradeEventSchema>, TradeEvent> = true;
void tradeEventsMatch;

// ---------- trade-commands ----------

const commandBase = {
  commandId: z.string().min(1),
  actorId: z.string().min(1),
  ts: z.number().int(),
  /**
   * Where the owner acted (absent: Telegram). A `dashboard` command's outcome is confirmed in the
   * owner's chat by the execution (an `owner_command` alert); Telegram answers its own in place.
   */
  origin: z.enum(['telegram', 'dashboard']).optional(),
};

/**
 * Owner commands the bot publishes on `trade-commands` for execution to apply: pause / resume new
 * trades, move a trade group's take profit, a decided ML suggestion. `commandId` is deterministic
 * (`tg:{update_id}`), so a redelivered command is recognisable.
 */
const tradeCommandSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pause'), ...commandBase }),
  z.object({ type: z.literal('resume'), ...commandBase }),
  z.object({ type: z.literal('move_tp'), ...commandBase, groupId: z.string().min(1), symbol: z.string().min(1), takeProfit: positive }),
  /** The owner moves a group's stop loss (within shared/trading bounds: never past the mark, never beyond the tier's stop cap). */
  z.object({ type: z.literal('move_sl'), ...commandBase, groupId: z.string().min(1), symbol: z.string().min(1), stopLoss: positive }),
  /** The owner closes a group at the market (paper: at the account's mark; live: a manual exit decided at the mark). */
  z.object({ type: z.literal('close_position'), ...commandBase, groupId: z.string().min(1), symbol: z.string().min(1) }),
  z.object({ type: z.literal('suggestion_decided'), ...commandBase, suggestionId: z.string().min(1), approved: z.boolean() }),
  /** The owner's answer on an applied suggestion: roll it back (rollBack true) or keep it (the rollback trigger's "Keep"). */
  z.object({ type: z.literal('suggestion_rollback'), ...commandBase, suggestionId: z.string().min(1), rollBack: z.boolean() }),
]);
export type TradeCommand = z.infer<typeof tradeCommandSchema>;

// ---------- system-alerts ----------

const ALERT_KINDS = [
  'data_stale',
  'data_fresh',
  'bad_data',
  'config_rejected',
  'config_applied',
  'holder_disconnected',
  'holder_reconnected',
  'protection_changed',
  'trading_mode_changed',
  'live_order_issue',
  /** Threshold adjustments (owner only, shared/telegram/suggestions.ts renders them with their buttons). */
  'adjustment_applied',
  'adjustment_refused',
  'adjustment_rolled_back',
  'rollback_proposed',
  /** The outcome of an owner command sent from the dashboard (applied / refused with the reason), for the owner's chat. */
  'owner_command',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/**
 * A system alert on `system-alerts`. Each state CHANGE raises one alert (not one per evaluation):
 * producers keep the current state in the state store and publish only on transitions, with a
 * deterministic `alertId`, so a redelivered or retried publish is recognisable downstream. The
 * builders of the alerts that have one live in shared/alerts.ts.
 */
export const alertSchema = z.object({
  alertId: z.string().min(1),
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(['info', 'warning', 'critical']),
  /** Symbol or config name the alert is about, when there is one. */
  subject: z.string().optional(),
  message: z.string().min(1),
  ts: z.number().int(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type Alert = z.infer<typeof alertSchema>;

// ---------- telegram-jobs ----------

const chatJob = { chatId: z.number().int(), threadId: z.number().int().nullable(), requestKey: z.string().min(1) };

/**
 * Heavy Telegram work the webhook hands off on `telegram-jobs` (the notifier renders it,
 * shared/telegram/jobs.ts), and outbox drains. Outbox keys derive from `requestKey` (the update id).
 */
const telegramJobSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('drain') }),
  z.object({ kind: z.literal('chart'), ...chatJob, alertKey: z.string().min(1) }),
  z.object({ kind: z.literal('last'), ...chatJob, n: z.number().int().min(1).max(10) }),
  z.object({ kind: z.literal('equity'), ...chatJob, periodLabel: z.string(), periodMs: z.number().int().positive() }),
  z.object({ kind: z.literal('analyze'), ...chatJob, symbol: z.string().min(1) }),
  z.object({ kind: z.literal('shadow'), ...chatJob, periodHours: z.number().int().positive() }),
]);
export type TelegramJob = z.infer<typeof telegramJobSchema>;

// ---------- the catalog ----------

/** Topic -> the schema of its payload. One entry per topic; nothing else declares a topic's schema. */
export const MESSAGE_SCHEMAS = {
  [TOPICS.rawTicks]: tickBatchSchema,
  [TOPICS.krakenOhlc]: candleBatchSchema,
  [TOPICS.macroBias]: macroBiasMessageSchema,
  [TOPICS.microSignals]: signalSchema,
  [TOPICS.bybitCandles]: candleBatchSchema,
  [TOPICS.snapshots]: snapshotSchema,
  [TOPICS.swingSignals]: signalSchema,
  [TOPICS.tradeEvents]: tradeEventSchema,
  [TOPICS.tradeCommands]: tradeCommandSchema,
  [TOPICS.alerts]: alertSchema,
  [TOPICS.telegramJobs]: telegramJobSchema,
} as const satisfies Record<TopicName, z.ZodType>;

/** The payload type of a topic's messages. */
export type MessageOf<T extends TopicName> = z.output<(typeof MESSAGE_SCHEMAS)[T]>;

function isTopic(topic: string): topic is TopicName {
  return Object.hasOwn(MESSAGE_SCHEMAS, topic);
}

/** A delivered message: its topic, the validated payload and the delivery facts. */
export interface BusMessage<T extends TopicName = TopicName> {
  topic: T;
  payload: MessageOf<T>;
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  /** 1-based delivery attempt. */
  deliveryAttempt: number;
  /** The publisher's ordering key, when it set one (the subscription delivers one key's messages in order). */
  orderingKey?: string;
}

/** A message from any of `Ts`, discriminated by `topic`. */
type InboundMessage<Ts extends TopicName> = { [T in Ts]: BusMessage<T> }[Ts];

/** The facts of a delivery before its payload is validated (what infra decodes from an envelope). */
export interface RawDelivery {
  topic: string;
  json: unknown;
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  deliveryAttempt: number;
  orderingKey?: string;
}

function issuesOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validates a delivery against its topic's schema; an unknown topic or an invalid payload is permanent (dead-lettered with the reason). */
export function decodeMessage(raw: RawDelivery): BusMessage {
  if (!isTopic(raw.topic)) throw new PermanentError(`no message schema for topic '${raw.topic}'`);
  const parsed = MESSAGE_SCHEMAS[raw.topic].safeParse(raw.json);
  if (!parsed.success) throw new PermanentError(`payload failed validation for ${raw.topic}: ${issuesOf(parsed.error)}`);
  const msg = { topic: raw.topic, payload: parsed.data, messageId: raw.messageId, publishTime: raw.publishTime, attributes: raw.attributes, deliveryAttempt: raw.deliveryAttempt } as BusMessage;
  if (raw.orderingKey) msg.orderingKey = raw.orderingKey;
  return msg;
}

/**
 * Publishes a payload on a topic after checking it against the topic's schema: a producer bug fails
 * here, loudly, and nothing is published. What goes out is the validated payload, so a field the
 * catalog does not declare (e.g. a swing signal's grid weights) never travels.
 */
export async function publish<T extends TopicName>(bus: Bus, topic: T, payload: MessageOf<T>, opts?: PublishOptions): Promise<string> {
  const parsed = MESSAGE_SCHEMAS[topic].safeParse(payload);
  if (!parsed.success) throw new Error(`refusing to publish an invalid ${topic} message: ${issuesOf(parsed.error)}`);
  return bus.publish(topic, parsed.data, opts);
}

/** One handler per topic a function subscribes to. */
type TopicHandlers<D, Ts extends TopicName> = { [T in Ts]: (deps: D, msg: BusMessage<T>) => Promise<void> };

/** The function a multi-topic function exports as its `handle`. */
type MessageHandler<D, Ts extends TopicName> = ((deps: D, msg: InboundMessage<Ts>) => Promise<void>) & { readonly topics: readonly Ts[] };

/**
 * The one topic router: dispatches a validated message to its topic's handler. A message from a topic
 * the function does not subscribe to is a permanent error (a wiring mistake, dead-lettered with why).
 */
export function routeByTopic<D, Ts extends TopicName>(name: string, handlers: TopicHandlers<D, Ts>): MessageHandler<D, Ts> {
  const topics = Object.keys(handlers) as Ts[];
  const handle = async (deps: D, msg: InboundMessage<Ts>): Promise<void> => {
    const h = (handlers as unknown as Record<string, ((d: D, m: BusMessage) => Promise<void>) | undefined>)[msg.topic];
    if (!h) throw new PermanentError(`${name}: no handler for messages on ${msg.topic}`);
    await h(deps, msg as BusMessage);
  };
  return Object.assign(handle, { topics });
}
