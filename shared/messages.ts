/**
 * The message catalog: every bus topic mapped to the ONE zod schema its messages satisfy, the type a
 * consumer receives, a typed `publish` (the payload is checked against the same schema before it
 * leaves), and the one topic router every multi-topic function uses (`routeByTopic`).
 *
 * Producers and consumers both validate against this catalog: a consumer never trusts the producer.
 * Envelope decoding (base64, CloudEvent source -> topic) lives in infra (infra/bus/envelope.ts); what
 * reaches a function's `handle` is a `BusMessage` whose payload already passed its topic's schema.
 */
import type { z } from 'zod';
import { alertSchema } from './alerts.js';
import { candleBatchSchema, tickBatchSchema } from './market/schemas.js';
import { snapshotSchema } from './model/market.js';
import { PermanentError, type Bus, type PublishOptions } from './ports/bus.js';
import { macroBiasMessageSchema, swingSignalMessageSchema } from './strategies/macro/messages.js';
import { tradeCommandSchema } from './telegram/trade-commands.js';
import { telegramJobSchema } from './telegram/jobs.js';
import { notifierTradeEventSchema } from './telegram/notifier.js';
import { TOPICS, type TopicName } from './topics.js';
import { signalSchema } from './model/trading.js';

/** Topic -> the schema of its payload. One entry per topic; nothing else declares a topic's schema. */
export const MESSAGE_SCHEMAS = {
  [TOPICS.rawTicks]: tickBatchSchema,
  [TOPICS.krakenOhlc]: candleBatchSchema,
  [TOPICS.macroBias]: macroBiasMessageSchema,
  [TOPICS.microSignals]: signalSchema,
  [TOPICS.bybitCandles]: candleBatchSchema,
  [TOPICS.snapshots]: snapshotSchema,
  [TOPICS.swingSignals]: swingSignalMessageSchema,
  [TOPICS.tradeEvents]: notifierTradeEventSchema,
  [TOPICS.tradeCommands]: tradeCommandSchema,
  [TOPICS.alerts]: alertSchema,
  [TOPICS.telegramJobs]: telegramJobSchema,
} as const satisfies Record<TopicName, z.ZodType>;

/** The payload type of a topic's messages. */
export type MessageOf<T extends TopicName> = z.output<(typeof MESSAGE_SCHEMAS)[T]>;

export function isTopic(topic: string): topic is TopicName {
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
}

/** A message from any of `Ts`, discriminated by `topic`. */
export type InboundMessage<Ts extends TopicName> = { [T in Ts]: BusMessage<T> }[Ts];

/** The facts of a delivery before its payload is validated (what infra decodes from an envelope). */
export interface RawDelivery {
  topic: string;
  json: unknown;
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  deliveryAttempt: number;
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
  return { topic: raw.topic, payload: parsed.data, messageId: raw.messageId, publishTime: raw.publishTime, attributes: raw.attributes, deliveryAttempt: raw.deliveryAttempt } as BusMessage;
}

/** Publishes a payload on a topic after checking it against the topic's schema (a producer bug fails here, loudly, not at every consumer). */
export async function publish<T extends TopicName>(bus: Bus, topic: T, payload: MessageOf<T>, opts?: PublishOptions): Promise<string> {
  const parsed = MESSAGE_SCHEMAS[topic].safeParse(payload);
  if (!parsed.success) throw new Error(`refusing to publish an invalid ${topic} message: ${issuesOf(parsed.error)}`);
  return bus.publish(topic, payload, opts);
}

/** One handler per topic a function subscribes to. */
export type TopicHandlers<D, Ts extends TopicName> = { [T in Ts]: (deps: D, msg: BusMessage<T>) => Promise<void> };

/** The function a multi-topic function exports as its `handle`. */
export type MessageHandler<D, Ts extends TopicName> = ((deps: D, msg: InboundMessage<Ts>) => Promise<void>) & { readonly topics: readonly Ts[] };

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
