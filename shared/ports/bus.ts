/**
 * Messaging port: Pub/Sub semantics. At-least-once delivery, retries with back-off, dead-lettering
 * after N attempts. Handlers receive the CloudEvent envelope that Cloud Functions (gen 2) receive
 * from Pub/Sub through Eventarc, so the same function code runs in the cloud and locally.
 *
 * Adapters: Google Pub/Sub (`infra/bus/pubsub.ts`, also against PUBSUB_EMULATOR_HOST) and an
 * in-process bus (`infra/bus/memory.ts`) for the embedded default.
 */

export interface PublishOptions {
  attributes?: Record<string, string>;
  /** Messages with the same ordering key are delivered in publish order. */
  orderingKey?: string;
}

export interface Bus {
  /** Publishes a JSON payload; returns the message id. */
  publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string>;
  close(): Promise<void>;
}

/** The `data` of a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent. */
export interface PubsubMessagePublishedData {
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

export function encodePayload(data: unknown): string {
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64');
}

/** Thrown for payloads that can never be processed; buses dead-letter these at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}
