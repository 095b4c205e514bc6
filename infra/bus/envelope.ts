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
import {
  PermanentError,
  type CloudEventHandler,
  type PubsubCloudEvent,
  type PubsubMessagePublishedData,
} from '../../shared/ports/bus.js';

export const PUBSUB_EVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished' as const;
export const PUBSUB_SERVICE = 'pubsub.googleapis.com';
export const CLOUDEVENT_SPEC_VERSION = '1.0' as const;
export const JSON_CONTENT_TYPE = 'application/json';
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
export type EventarcPubsubMessage = PubsubMessagePublishedData['message'] & {
  message_id: string;
  publish_time: string;
};

export interface EnvelopeInput {
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

/** Decodes the JSON payload of an envelope (no validation; handlers use shared/events.ts). */
export function envelopeJson(event: PubsubCloudEvent): unknown {
  return JSON.parse(Buffer.from(event.data.message.data, 'base64').toString('utf8'));
}

/** Topic name (short) from a CloudEvent source, or undefined when it is not a Pub/Sub source. */
export function topicFromSource(source: string): string | undefined {
  const m = /^\/\/pubsub\.googleapis\.com\/projects\/[^/]+\/topics\/(.+)$/.exec(source);
  return m?.[1];
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
