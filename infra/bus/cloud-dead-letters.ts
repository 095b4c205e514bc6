/**
 * Dead letters on Google Cloud: every subscription of topic T dead-letters to `T-dlq`, whose retention
 * subscription `dead-letters--T-dlq` keeps them (infra/bus/topology.ts). Pub/Sub adds
 * `CloudPubSubDeadLetterSource*` attributes (the source subscription's resource name, the delivery
 * count, the first publish time). Listing pulls and releases them (ack deadline 0: nothing is lost);
 * replaying publishes each again on T, with its data, its own attributes and its ordering key, and
 * acknowledges it on the retention subscription only after the publish succeeded (a crash in between
 * replays it twice: every consumer is idempotent). A replay reaches every subscriber of T, not only the
 * one that failed: they all dedupe by the message's own keys.
 */
import { deadLetterTopic } from '../../shared/topics.js';
import { deadLetterRetentionSubscription } from './pubsub.js';

/** Attributes Pub/Sub adds to a dead-lettered message. */
export const DEAD_LETTER_ATTRIBUTES = {
  subscription: 'CloudPubSubDeadLetterSourceSubscription',
  subscriptionProject: 'CloudPubSubDeadLetterSourceSubscriptionProject',
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  publishTime: 'CloudPubSubDeadLetterSourceTopicPublishTime',
} as const;
/** Set on a replayed message: the dead letter's message id (for the logs; consumers ignore it). */
export const REPLAYED_FROM_ATTRIBUTE = 'cstReplayedFrom';

export interface CloudDeadLetter {
  ackId: string;
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey?: string;
  publishTime?: string;
}

/** The Pub/Sub calls this needs (the v1 SubscriberClient + a publisher; a fake in tests). */
export interface DeadLetterPort {
  pull(subscription: string, maxMessages: number): Promise<CloudDeadLetter[]>;
  acknowledge(subscription: string, ackIds: string[]): Promise<void>;
  /** Releases pulled messages for redelivery (ack deadline 0). */
  release(subscription: string, ackIds: string[]): Promise<void>;
  /** Keeps pulled messages leased for `seconds` more. */
  extend(subscription: string, ackIds: string[], seconds: number): Promise<void>;
  publish(topic: string, m: { data: Buffer; attributes: Record<string, string>; orderingKey?: string }): Promise<string>;
}

export interface DeadLetterSelection {
  /** Source topic T (its `T-dlq` is read). */
  topic: string;
  /** Only those a subscription of this name dead-lettered (e.g. `execution--candles-bybit-1m`). */
  subscription?: string;
  /** At most this many (default 100). */
  max?: number;
}

function sourceSubscription(d: CloudDeadLetter): string {
  const full = d.attributes[DEAD_LETTER_ATTRIBUTES.subscription] ?? '';
  return full.slice(full.lastIndexOf('/') + 1);
}

function matches(d: CloudDeadLetter, sel: DeadLetterSelection): boolean {
  return sel.subscription === undefined || sourceSubscription(d) === sel.subscription;
}

export interface CloudDeadLetterSummary {
  messageId: string;
  subscription: string;
  deliveryCount: string | undefined;
  firstPublished: string | undefined;
  orderingKey: string | null;
  bytes: number;
}

function summary(d: CloudDeadLetter): CloudDeadLetterSummary {
  return {
    messageId: d.messageId,
    subscription: sourceSubscription(d),
    deliveryCount: d.attributes[DEAD_LETTER_ATTRIBUTES.deliveryCount],
    firstPublished: d.attributes[DEAD_LETTER_ATTRIBUTES.publishTime],
    orderingKey: d.orderingKey ?? null,
    bytes: d.data.length,
  };
}

/** Pulls up to `max` dead letters of `topic` and releases them all at once: a look, nothing taken. */
export async function listCloudDeadLetters(port: DeadLetterPort, sel: DeadLetterSelection): Promise<CloudDeadLetterSummary[]> {
  const sub = deadLetterRetentionSubscription(deadLetterTopic(sel.topic));
  const pulled = await port.pull(sub, sel.max ?? 100);
  if (pulled.length > 0) await port.release(sub, pulled.map((d) => d.ackId));
  return pulled.filter((d) => matches(d, sel)).map(summary);
}

export interface ReplayOutcome {
  messageId: string;
  subscription: string;
  replayedAs?: string;
  /** Not published: left on the dead-letter topic. */
  error?: string;
  /** Published, but its dead letter could not be acknowledged: it will be offered again (replaying it twice is harmless). */
  ackError?: string;
}

/** Seconds a replay keeps the pulled dead letters leased while it publishes them. */
export const REPLAY_ACK_DEADLINE_S = 600;

/**
 * Publishes the selected dead letters of `topic` again on `topic` and acknowledges each on the
 * retention subscription once published; the others are released untouched. A failed publish leaves
 * its dead letter where it was (released) and is reported.
 */
export async function replayCloudDeadLetters(port: DeadLetterPort, sel: DeadLetterSelection): Promise<ReplayOutcome[]> {
  const sub = deadLetterRetentionSubscription(deadLetterTopic(sel.topic));
  const pulled = await port.pull(sub, sel.max ?? 100);
  // the default ack deadline (10 s) is shorter than publishing a hundred messages one by one
  if (pulled.length > 0) await port.extend(sub, pulled.map((d) => d.ackId), REPLAY_ACK_DEADLINE_S);
  const out: ReplayOutcome[] = [];
  const release: string[] = [];
  for (const d of pulled) {
    if (!matches(d, sel)) {
      release.push(d.ackId);
      continue;
    }
    const attributes = Object.fromEntries(Object.entries(d.attributes).filter(([k]) => !k.startsWith('CloudPubSubDeadLetter')));
    attributes[REPLAYED_FROM_ATTRIBUTE] = d.messageId;
    let id: string;
    try {
      id = await port.publish(sel.topic, { data: d.data, attributes, ...(d.orderingKey ? { orderingKey: d.orderingKey } : {}) });
    } catch (e) {
      release.push(d.ackId);
      out.push({ messageId: d.messageId, subscription: sourceSubscription(d), error: e instanceof Error ? e.message : String(e) });
      continue;
    }
    try {
      await port.acknowledge(sub, [d.ackId]);
      out.push({ messageId: d.messageId, subscription: sourceSubscription(d), replayedAs: id });
    } catch (e) {
      // published: consumers are idempotent, so a second replay of it later is harmless
      out.push({ messageId: d.messageId, subscription: sourceSubscription(d), replayedAs: id, ackError: e instanceof Error ? e.message : String(e) });
    }
  }
  if (release.length > 0) await port.release(sub, release);
  return out;
}

/** The real port: synchronous pull on the v1 SubscriberClient, publishing with message ordering on. */
export async function cloudDeadLetterPort(project: string): Promise<DeadLetterPort & { close(): Promise<void> }> {
  const { PubSub, v1 } = await import('@google-cloud/pubsub');
  const subscriber = new v1.SubscriberClient({ projectId: project });
  const pubsub = new PubSub({ projectId: project });
  const path = (s: string) => `projects/${project}/subscriptions/${s}`;
  return {
    async pull(subscription, maxMessages) {
      const [res] = await subscriber.pull({ subscription: path(subscription), maxMessages });
      return (res.receivedMessages ?? []).map((r) => ({
        ackId: r.ackId ?? '',
        messageId: r.message?.messageId ?? '',
        data: Buffer.from(r.message?.data ?? []),
        attributes: { ...(r.message?.attributes ?? {}) },
        ...(r.message?.orderingKey ? { orderingKey: r.message.orderingKey } : {}),
      }));
    },
    async acknowledge(subscription, ackIds) {
      await subscriber.acknowledge({ subscription: path(subscription), ackIds });
    },
    async release(subscription, ackIds) {
      await subscriber.modifyAckDeadline({ subscription: path(subscription), ackIds, ackDeadlineSeconds: 0 });
    },
    async extend(subscription, ackIds, seconds) {
      await subscriber.modifyAckDeadline({ subscription: path(subscription), ackIds, ackDeadlineSeconds: seconds });
    },
    async publish(topic, m) {
      const t = pubsub.topic(topic, { messageOrdering: true });
      return t.publishMessage({ data: m.data, attributes: m.attributes, ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}) });
    },
    async close() {
      await subscriber.close();
      await pubsub.close();
    },
  };
}
