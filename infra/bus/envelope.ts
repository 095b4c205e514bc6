/**
 * What a Pub/Sub function receives, in two forms:
 * - a Pub/Sub PUSH request (how the deployed functions are called: the deploy makes one push
 *   subscription per (function, topic), infra/deploy/plan.ts): the JSON body `{message, subscription,
 *   deliveryAttempt}` POSTed to `<function URL>/projects/<project>/topics/<topic>` (`pushEndpoint`);
 *   `pubsubEventFromPush` turns it into the envelope below, keeping the ordering key and the
 *   delivery attempt (functions-framework's own Pub/Sub marshalling drops both);
 * - the CloudEvent a Cloud Function (gen 2) receives when Eventarc delivers a Pub/Sub message, as
 * functions-framework models it (`CloudEvent<MessagePublishedData>` from the `cloudevents` package;
 * the Pub/Sub source/type strings are those of functions-framework's background→CloudEvent
 * conversion: service `pubsub.googleapis.com`, type `google.cloud.pubsub.topic.v1.messagePublished`).
 *
 * Eventarc's Pub/Sub payload also carries snake_case duplicates of the message id and publish time
 * (`message_id`, `publish_time`) for older clients; they are included so a handler written against
 * either spelling behaves the same here as in the cloud.
 */
import type { CloudEvent, CloudEventFunction } from '@google-cloud/functions-framework';
import { z } from 'zod';
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
    ...(msg.orderingKey ? { orderingKey: msg.orderingKey } : {}),
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

// ---------------------------------------------------------------------------------------------
// Pub/Sub push (the deployed functions' road)

/**
 * The push endpoint of one (function, topic) subscription: the function's URL, then the topic's path.
 * The path names the topic because a push body does not (it names the subscription only), and it is
 * the form functions-framework documents for push endpoints (`projects/PROJECT/topics/TOPIC`).
 */
export function pushEndpoint(functionUrl: string, project: string, topic: string): string {
  return `${functionUrl.replace(/\/+$/, '')}/${topicPath(project, topic)}`;
}

const PUSH_PATH = /(?:^|\/)projects\/([^/?]+)\/topics\/([^/?]+)/;

/**
 * The body Pub/Sub POSTs to a push endpoint (the wrapped form). Unknown fields are ignored, not
 * refused: a field Pub/Sub adds one day must not dead-letter every message.
 */
const pushBodySchema = z.object({
  message: z.object({
    data: z.string().min(1),
    attributes: z.record(z.string(), z.string()).optional(),
    messageId: z.string().min(1),
    /** Always sent by Pub/Sub; a body without it is still delivered (time of receipt, as functions-framework does). */
    publishTime: z.string().min(1).optional(),
    orderingKey: z.string().optional(),
  }),
  subscription: z.string().min(1),
  /** 1-based; absent (or 0 in the CloudEvent form) when the subscription has no dead-letter policy. */
  deliveryAttempt: z.number().int().min(0).optional(),
});

/** Whether a request body has the shape of a Pub/Sub push (not a CloudEvent). */
export function isPushBody(body: unknown): boolean {
  const b = body as { message?: unknown; subscription?: unknown; specversion?: unknown } | null;
  return !!b && typeof b === 'object' && typeof b.subscription === 'string' && !!b.message && b.specversion === undefined;
}

/**
 * One push delivery as the envelope the handlers take: the topic and project from the request path
 * (`pushEndpoint`), the rest from the body. A body or path that is not a push is permanent.
 */
export function pubsubEventFromPush(body: unknown, path: string): PubsubCloudEvent {
  const where = PUSH_PATH.exec(path);
  if (!where) {
    throw new PermanentError(`push request path ${JSON.stringify(path)} names no topic: the push endpoint must end in /projects/<project>/topics/<topic> (pushEndpoint)`);
  }
  const parsed = pushBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new PermanentError(`not a Pub/Sub push body: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const { message: m, subscription, deliveryAttempt } = parsed.data;
  return buildPubsubCloudEvent({
    projectId: decodeURIComponent(where[1]!),
    topic: decodeURIComponent(where[2]!),
    subscription,
    data: m.data,
    messageId: m.messageId,
    publishTime: m.publishTime ?? new Date().toISOString(),
    ...(m.attributes ? { attributes: m.attributes } : {}),
    ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
    ...(deliveryAttempt ? { deliveryAttempt } : {}),
  });
}

/** The facts of an HTTP request a Pub/Sub function is called with. */
export interface PubsubHttpRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body. */
  body: unknown;
}

/**
 * The envelope of a request to a Pub/Sub function: a push (the deployed road), or a CloudEvent in
 * binary mode (`ce-*` headers, as Eventarc and `toBinaryHttp` send it) or structured mode. Anything
 * else is permanent.
 */
export function pubsubEventFromRequest(req: PubsubHttpRequest): PubsubCloudEvent {
  const h = (k: string): string | undefined => {
    const v = req.headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const specversion = h('ce-specversion');
  if (specversion !== undefined) {
    const ce: CloudEvent<unknown> = { specversion, id: h('ce-id') ?? '', source: h('ce-source') ?? '', type: h('ce-type') ?? '', data: req.body };
    const time = h('ce-time');
    if (time !== undefined) ce.time = time;
    const ct = h('content-type');
    if (ct !== undefined) ce.datacontenttype = ct.split(';')[0]!;
    return asPubsubCloudEvent(ce);
  }
  if (isPushBody(req.body)) return pubsubEventFromPush(req.body, req.path);
  const b = req.body as Partial<CloudEvent<unknown>> | null;
  if (b && typeof b === 'object' && typeof b.specversion === 'string') return asPubsubCloudEvent(b as CloudEvent<unknown>);
  throw new PermanentError('neither a Pub/Sub push nor a Pub/Sub CloudEvent');
}
