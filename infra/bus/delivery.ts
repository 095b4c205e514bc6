/**
 * Delivery rules shared by the bus adapters: exponential back-off, dead-letter attributes, the
 * permanent-error test and Pub/Sub's publish limits (so a message the cloud would reject is rejected
 * locally too).
 */
import { PermanentError, type PublishOptions } from '../../shared/ports/bus.js';

/** Pub/Sub limits (https://cloud.google.com/pubsub/quotas#resource_limits). */
export const PUBSUB_LIMITS = {
  maxMessageBytes: 10_000_000,
  maxAttributes: 100,
  maxAttributeKeyBytes: 256,
  maxAttributeValueBytes: 1024,
  maxOrderingKeyBytes: 1024,
  /** deadLetterPolicy.maxDeliveryAttempts bounds. */
  minDeliveryAttempts: 5,
  maxDeliveryAttempts: 100,
  /** retryPolicy minimum/maximum back-off bounds. */
  maxBackoffMs: 600_000,
} as const;

/** Back-off multiplier between consecutive redeliveries. */
const BACKOFF_FACTOR = 2;

/**
 * Delay before redelivering after failed attempt `attempt` (1-based):
 * min(maxMs, minMs * BACKOFF_FACTOR^(attempt-1)).
 */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number): number {
  const exp = Math.max(0, attempt - 1);
  const raw = minMs * BACKOFF_FACTOR ** exp;
  return Math.min(maxMs, Number.isFinite(raw) ? raw : maxMs);
}

/**
 * Attributes on a dead-lettered message. The `CloudPubSubDeadLetter*` names are the ones Pub/Sub
 * itself adds when it forwards a message to a dead-letter topic; the `deadLetter*` ones are this
 * system's additions (Pub/Sub does not record why a message failed; our buses do).
 */
export const DEAD_LETTER_ATTRS = {
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  subscription: 'CloudPubSubDeadLetterSourceSubscription',
  subscriptionProject: 'CloudPubSubDeadLetterSourceSubscriptionProject',
  topicPublishTime: 'CloudPubSubDeadLetterSourceTopicPublishTime',
  reason: 'deadLetterReason',
  permanent: 'deadLetterPermanent',
  sourceTopic: 'deadLetterSourceTopic',
  sourceMessageId: 'deadLetterSourceMessageId',
} as const;

interface DeadLetterInfo {
  projectId: string;
  /** Short subscription name. */
  subscription: string;
  topic: string;
  messageId: string;
  publishTime: string;
  attempts: number;
  reason: string;
  permanent: boolean;
}

export function deadLetterAttributes(original: Record<string, string> | undefined, info: DeadLetterInfo): Record<string, string> {
  return {
    ...(original ?? {}),
    [DEAD_LETTER_ATTRS.deliveryCount]: String(info.attempts),
    [DEAD_LETTER_ATTRS.subscription]: info.subscription,
    [DEAD_LETTER_ATTRS.subscriptionProject]: info.projectId,
    [DEAD_LETTER_ATTRS.topicPublishTime]: info.publishTime,
    [DEAD_LETTER_ATTRS.reason]: truncateUtf8(info.reason, PUBSUB_LIMITS.maxAttributeValueBytes),
    [DEAD_LETTER_ATTRS.permanent]: String(info.permanent),
    [DEAD_LETTER_ATTRS.sourceTopic]: info.topic,
    [DEAD_LETTER_ATTRS.sourceMessageId]: info.messageId,
  };
}

/** PermanentError, also across duplicated module instances (matched by name). */
export function isPermanentError(e: unknown): boolean {
  return e instanceof PermanentError || (e instanceof Error && e.name === 'PermanentError');
}

export function errorReason(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  const ellipsis = '…';
  const room = maxBytes - Buffer.byteLength(ellipsis);
  // Cut on a character boundary.
  let cut = buf.subarray(0, room).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + ellipsis;
}

/** Serialises a payload as Pub/Sub message bytes (JSON), with a clear error for non-JSON values. */
export function payloadBytes(topic: string, data: unknown): Buffer {
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`publish to ${topic}: payload is not JSON-serialisable (${typeof data})`);
  return Buffer.from(json, 'utf8');
}

/** Throws the error Pub/Sub would return for a message over its limits. */
export function checkPublishLimits(topic: string, bytes: Buffer, opts: PublishOptions | undefined): void {
  if (bytes.length > PUBSUB_LIMITS.maxMessageBytes) {
    throw new RangeError(`publish to ${topic}: message of ${bytes.length} bytes exceeds ${PUBSUB_LIMITS.maxMessageBytes}`);
  }
  const attrs = opts?.attributes;
  if (attrs) {
    const entries = Object.entries(attrs);
    if (entries.length > PUBSUB_LIMITS.maxAttributes) {
      throw new RangeError(`publish to ${topic}: ${entries.length} attributes exceed ${PUBSUB_LIMITS.maxAttributes}`);
    }
    for (const [k, v] of entries) {
      if (typeof v !== 'string') throw new TypeError(`publish to ${topic}: attribute ${k} must be a string`);
      if (Buffer.byteLength(k) > PUBSUB_LIMITS.maxAttributeKeyBytes) {
        throw new RangeError(`publish to ${topic}: attribute key ${k.slice(0, 32)}… exceeds ${PUBSUB_LIMITS.maxAttributeKeyBytes} bytes`);
      }
      if (Buffer.byteLength(v) > PUBSUB_LIMITS.maxAttributeValueBytes) {
        throw new RangeError(`publish to ${topic}: attribute ${k} exceeds ${PUBSUB_LIMITS.maxAttributeValueBytes} bytes`);
      }
    }
  }
  if (opts?.orderingKey !== undefined && Buffer.byteLength(opts.orderingKey) > PUBSUB_LIMITS.maxOrderingKeyBytes) {
    throw new RangeError(`publish to ${topic}: ordering key exceeds ${PUBSUB_LIMITS.maxOrderingKeyBytes} bytes`);
  }
}
