/**
 * The CloudEvent a Cloud Function (gen 2) receives when Eventarc delivers a Pub/Sub message, as
 * functions-framework models it (`CloudEvent<MessagePublishedData>` from the `cloudevents` package;
 * the Pub/Sub source/type strings are those of functions-framework's background→CloudEvent
 * conversion: service `pubsub.googleapis.com`, type `google.cloud.pubsub.topic.v1.messagePublished`).
 *
 * Eventarc's Pub/Sub payload also carries snake_case duplicates of the message id and publish time
 * (`message_id`, `publish_time`) for older clients; they are included so a handler written against
 * either spelling behaves the same here as in the cloud.
 */
import type { CloudEvent, CloudEventFunction } from '@google-cloud/functions-framework';
import { PermanentError, type Bus } from '../../shared/ports/bus.js';
import { decodeMessage, type BusMessage, type RawDelivery } from '../../shared/messages.js';
import type { TopicName } from '../../shared/topics.js';

/** The `data` of a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent. */
interface PubsubMessagePublishedData {
  message: {
    /** base64 of the payload bytes (JSON for this system). */
    data: string;
    attributes?: Record<string, string>;
    messageId: string;
    publishTime: string;
    orderingKey?: string;
  };
  subscription: string;
  /** Delivery attempt number (1-based), present when dead-lettering is configured. */
  deliveryAttempt?: number;
}

/** The CloudEvent envelope (structure of functions-framework's CloudEvent for Pub/Sub). */
export interface PubsubCloudEvent {
  /** '1.0'. Typed as string so functions-framework's CloudEvent is assignable. */
  specversion: string;
  id: string;
  source: string;
  /** 'google.cloud.pubsub.topic.v1.messagePublished' */
  type: string;
  datacontenttype?: string;
  time: string;
  data: PubsubMessagePublishedData;
}

/** What a bus delivers to: one envelope per delivery attempt. */
export type CloudEventHandler = (event: PubsubCloudEvent) => Promise<void> | void;

export interface SubscriptionSpec {
  /** Subscription name, e.g. `candle-ingest--candles-bybit-1m`. */
  name: string;
  topic: string;
  handler: CloudEventHandler;
  /** Deliveries before the message goes to the dead-letter topic (Pub/Sub allows 5-100). */
  maxDeliveryAttempts?: number;
  /** Back-off between redeliveries. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Defaults to `${topic}-dlq`. */
  deadLetterTopic?: string;
}

/** A bus that can also deliver to in-process handlers (embedded default and tests). */
export interface SubscribableBus extends Bus {
  subscribe(spec: SubscriptionSpec): void;
  /** Resolves when every published message has been delivered, retried or dead-lettered. */
  drain(): Promise<void>;
}

/** base64 of a payload's JSON (the `data` of a Pub/Sub message). */
export function encodePayload(data: unknown): string {
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64');
}

const PUBSUB_EVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished' as const;
const PUBSUB_SERVICE = 'pubsub.googleapis.com';
const CLOUDEVENT_SPEC_VERSION = '1.0' as const;
const JSON_CONTENT_TYPE = 'application/json';
/** Project id used by the embedded bus and the emulator workflow when none is configured. */
export const LOCAL_PROJECT_ID = 'local-project';

/** `projects/{project}/topics/{topic}` (a name that is already a path is returned as is). */
export function topicPath(project: string, topic: string): string {
  return topic.startsWith('projects/') ? topic : `projects/${project}/topics/${topic}`;
}

/** `projects/{project}/subscriptions/{subscription}` (a path is returned as is). */
export function subscriptionPath(project: string, subscription: string): string {
  return subscription.startsWith('projects/') ? subscription : `projects/${project}/subscriptions/${subscription}`;
}

/** The CloudEvent `source`: `//pubsub.googleapis.com/projects/{project}/topics/{topic}`. */
export function pubsubSource(project: string, topic: string): string {
  return `//${PUBSUB_SERVICE}/${topicPath(project, topic)}`;
}

/** The message as Eventarc puts it in `data.message` (camelCase fields plus snake_case aliases). */
type EventarcPubsubMessage = PubsubMessagePublishedData['message'] & {
  message_id: string;
  publish_time: string;
};

interface EnvelopeInput {
  projectId: string;
  topic: string;
  subscription: string;
  /** base64 of the payload bytes. */
  data: string;
  attributes?: Record<string, string>;
  messageId: string;
  /** RFC 3339 UTC. */
  publishTime: string;
  orderingKey?: string;
  /** 1-based; omitted when the subscription has no dead-letter policy (as Pub/Sub does). */
  deliveryAttempt?: number;
}

/** Builds the messagePublished CloudEvent for one delivery of one message to one subscription. */
export function buildPubsubCloudEvent(input: EnvelopeInput): PubsubCloudEvent {
  const message: EventarcPubsubMessage = {
    data: input.data,
    messageId: input.messageId,
    message_id: input.messageId,
    publishTime: input.publishTime,
    publish_time: input.publishTime,
  };
  if (input.attributes && Object.keys(input.attributes).length > 0) message.attributes = { ...input.attributes };
  if (input.orderingKey) message.orderingKey = input.orderingKey;
  const data: PubsubMessagePublishedData = {
    message,
    subscription: subscriptionPath(input.projectId, input.subscription),
  };
  if (input.deliveryAttempt !== undefined) data.deliveryAttempt = input.deliveryAttempt;
  return {
    specversion: CLOUDEVENT_SPEC_VERSION,
    id: input.messageId,
    source: pubsubSource(input.projectId, input.topic),
    type: PUBSUB_EVENT_TYPE,
    datacontenttype: JSON_CONTENT_TYPE,
    time: input.publishTime,
    data,
  };
}

/** Decodes the JSON payload of an envelope (no validation; handlers get it through `decodeEnvelope`). */
export function envelopeJson(event: PubsubCloudEvent): unknown {
  return JSON.parse(Buffer.from(event.data.message.data, 'base64').toString('utf8'));
}

/** Topic name (short) from a CloudEvent source, or undefined when it is not a Pub/Sub source. */
export function topicFromSource(source: string): string | undefined {
  const m = /^\/\/pubsub\.googleapis\.com\/projects\/[^/]+\/topics\/(.+)$/.exec(source);
  return m?.[1];
}

/**
 * The facts of one delivery (topic from the event's source, JSON payload, ids, attempt), not yet
 * validated. An envelope without a message or with a payload that is not JSON is permanent: it would
 * fail identically on every retry, so the bus dead-letters it at once with the reason.
 */
export function rawDelivery(event: PubsubCloudEvent): RawDelivery {
  const msg = event?.data?.message;
  if (!msg || typeof msg.data !== 'string') {
    throw new PermanentError('not a Pub/Sub messagePublished CloudEvent (data.message.data missing)');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(msg.data, 'base64').toString('utf8'));
  } catch (e) {
    throw new PermanentError(`payload is not JSON: ${(e as Error).message}`);
  }
  return {
    topic: topicFromSource(event.source) ?? String(event.source),
    json,
    messageId: msg.messageId,
    publishTime: msg.publishTime,
    attributes: msg.attributes ?? {},
    deliveryAttempt: event.data.deliveryAttempt ?? 1,
  };
}

/**
 * An envelope as the message its topic's schema (shared/messages.ts MESSAGE_SCHEMAS) admits: the topic
 * from the event's source, or `topic` when the caller subscribed to one topic and says which (taps,
 * tests). An invalid payload is a PermanentError with the reason.
 */
export function decodeEnvelope<T extends TopicName>(event: PubsubCloudEvent, topic?: T): BusMessage<T> {
  const raw = rawDelivery(event);
  return decodeMessage(topic === undefined ? raw : { ...raw, topic }) as BusMessage<T>;
}

/**
 * The HTTP request Eventarc sends for this event (CloudEvents binary content mode: attributes as
 * `ce-*` headers, `data` as the JSON body). Lets the local runtime POST events to a
 * functions-framework server exactly as the cloud does.
 */
export function toBinaryHttp(event: PubsubCloudEvent): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      'content-type': event.datacontenttype ?? JSON_CONTENT_TYPE,
      'ce-specversion': event.specversion,
      'ce-id': event.id,
      'ce-source': event.source,
      'ce-type': event.type,
      'ce-time': event.time,
    },
    body: JSON.stringify(event.data),
  };
}

/**
 * Narrows functions-framework's generic CloudEvent to the Pub/Sub envelope. A non-Pub/Sub event
 * (wrong trigger wiring) is a PermanentError: it can never be processed.
 */
export function asPubsubCloudEvent(ce: CloudEvent<unknown>): PubsubCloudEvent {
  const data = ce.data as PubsubMessagePublishedData | undefined;
  if (ce.type !== PUBSUB_EVENT_TYPE || !data || typeof data !== 'object' || typeof data.message?.data !== 'string') {
    throw new PermanentError(`expected a ${PUBSUB_EVENT_TYPE} CloudEvent, got type ${String(ce.type)} from ${String(ce.source)}`);
  }
  const time = ce.time ?? data.message.publishTime;
  const event: PubsubCloudEvent = {
    specversion: CLOUDEVENT_SPEC_VERSION,
    id: ce.id,
    source: ce.source,
    type: PUBSUB_EVENT_TYPE,
    time: typeof time === 'string' ? time : new Date(time as unknown as number).toISOString(),
    data,
  };
  if (ce.datacontenttype) event.datacontenttype = ce.datacontenttype;
  return event;
}

/**
 * Adapts a CloudEventHandler for `ff.cloudEvent(name, ...)`. The port's PubsubCloudEvent is an
 * interface with literal `specversion`/`type`, which functions-framework's CloudEvent<T> (strings,
 * index signature) is not assignable to; this narrows at runtime instead of casting.
 */
export function asCloudEventFunction(handler: CloudEventHandler): CloudEventFunction<unknown> {
  return (ce) => handler(asPubsubCloudEvent(ce));
}
