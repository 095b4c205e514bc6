/**
 * In-process bus with Pub/Sub semantics, for the embedded default and tests:
 *  - fan-out: every subscription of a topic gets its own copy of each message; a topic without
 *    subscriptions drops the message (counted in `published`/`stats`), as Pub/Sub does;
 *  - at-least-once: a handler that throws is redelivered after an exponential back-off
 *    (minBackoffMs · 2^(attempt-1), capped at maxBackoffMs) measured on the injected Clock;
 *  - dead-lettering: after maxDeliveryAttempts (or at once for a PermanentError) the message is
 *    published on the dead-letter topic (`${topic}-dlq` by default) with Pub/Sub's
 *    `CloudPubSubDeadLetter*` attributes plus the failure reason, and kept in `deadLetters()`;
 *  - ordering keys: per subscription, messages with one key are delivered one at a time in publish
 *    order, and a failing message blocks the later ones of its key until it succeeds or is
 *    dead-lettered;
 *  - a per-subscription concurrency limit on handler invocations;
 *  - `duplicateDelivery` delivers every message a second time after it was acked (idempotency tests).
 *
 * Handlers receive the same CloudEvent envelope as Cloud Functions (envelope.ts).
 */
import {
  type CloudEventHandler,
  type PublishOptions,
  type SubscribableBus,
  type SubscriptionSpec,
} from '../../shared/ports/bus.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { deadLetterTopic as defaultDeadLetterTopic } from '../../shared/topics.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { buildPubsubCloudEvent, LOCAL_PROJECT_ID } from './envelope.js';
import {
  backoffDelayMs,
  checkPublishLimits,
  deadLetterAttributes,
  errorReason,
  isPermanentError,
  payloadBytes,
} from './delivery.js';

/** Handler invocations in flight per subscription when neither the bus nor the spec says. */
export const DEFAULT_SUBSCRIPTION_CONCURRENCY = 32;

export interface DeliveryPolicy {
  maxAttempts: number;
  minBackoffMs: number;
  maxBackoffMs: number;
}

export interface InMemoryBusOptions {
  /** Time source for publish times and back-off sleeps (ManualClock in tests). Default: system clock. */
  clock?: Clock;
  /** Skip back-off waits entirely (local runtime / replays): retries follow immediately. */
  fast?: boolean;
  /** Defaults for subscriptions that do not set their own; default SystemConfig `delivery`. */
  delivery?: Partial<DeliveryPolicy>;
  /** Max concurrent handler invocations per subscription. */
  concurrency?: number;
  /** Deliver every message twice (the second time after the first was acked). */
  duplicateDelivery?: boolean;
  /** Project used in the envelope's source and subscription paths. */
  projectId?: string;
  log?: Logger;
}

export interface InMemorySubscriptionSpec extends SubscriptionSpec {
  /** Overrides the bus-wide concurrency for this subscription. */
  concurrency?: number;
}

export interface DeadLetterRecord {
  subscription: string;
  topic: string;
  deadLetterTopic: string;
  messageId: string;
  /** Id of the copy published on the dead-letter topic. */
  deadLetterMessageId: string;
  attempts: number;
  reason: string;
  permanent: boolean;
  /** Decoded JSON payload. */
  payload: unknown;
  attributes: Record<string, string>;
  orderingKey?: string;
  /** Epoch ms (bus clock) when it was dead-lettered. */
  at: number;
}

export interface SubscriptionStats {
  topic: string;
  /** Handler invocations (every attempt, duplicates included). */
  deliveries: number;
  acked: number;
  /** Failed attempts that were scheduled for redelivery. */
  retried: number;
  deadLettered: number;
  duplicates: number;
}

export interface BusStats {
  topics: Record<string, { published: number; dropped: number }>;
  subscriptions: Record<string, SubscriptionStats>;
  /** Message copies waiting or in flight. */
  pending: number;
}

interface StoredMessage {
  topic: string;
  messageId: string;
  publishTime: string;
  data: string;
  attributes?: Record<string, string>;
  orderingKey?: string;
}

interface Lane {
  key: string | undefined;
  queue: StoredMessage[];
  running: boolean;
}

interface Sub {
  name: string;
  topic: string;
  handler: CloudEventHandler;
  policy: DeliveryPolicy;
  deadLetterTopic: string;
  concurrency: number;
  inFlight: number;
  slotWaiters: Array<() => void>;
  orderedLanes: Map<string, Lane>;
  stats: SubscriptionStats;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class InMemoryBus implements SubscribableBus {
  private readonly clock: Clock;
  private readonly fast: boolean;
  private readonly policy: DeliveryPolicy;
  private readonly concurrency: number;
  private readonly duplicateDelivery: boolean;
  private readonly projectId: string;
  private readonly log: Logger;

  private readonly subsByTopic = new Map<string, Sub[]>();
  private readonly subsByName = new Map<string, Sub>();
  private readonly topicStats = new Map<string, { published: number; dropped: number }>();
  private readonly dead: DeadLetterRecord[] = [];
  private nextId = 1;
  private pending = 0;
  private drainWaiters: Array<() => void> = [];
  private closed = false;

  constructor(opts: InMemoryBusOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.fast = opts.fast ?? false;
    const d = DEFAULT_SYSTEM_CONFIG.delivery;
    this.policy = {
      maxAttempts: opts.delivery?.maxAttempts ?? d.maxAttempts,
      minBackoffMs: opts.delivery?.minBackoffMs ?? d.minBackoffMs,
      maxBackoffMs: opts.delivery?.maxBackoffMs ?? d.maxBackoffMs,
    };
    checkPolicy('bus default', this.policy);
    this.concurrency = opts.concurrency ?? DEFAULT_SUBSCRIPTION_CONCURRENCY;
    if (!(this.concurrency >= 1)) throw new RangeError(`concurrency must be >= 1, got ${this.concurrency}`);
    this.duplicateDelivery = opts.duplicateDelivery ?? false;
    this.projectId = opts.projectId ?? process.env.GOOGLE_CLOUD_PROJECT ?? LOCAL_PROJECT_ID;
    this.log = opts.log ?? createLogger({ component: 'bus.memory' });
  }

  subscribe(spec: InMemorySubscriptionSpec): void {
    if (this.subsByName.has(spec.name)) throw new Error(`subscription ${spec.name} already exists`);
    const policy: DeliveryPolicy = {
      maxAttempts: spec.maxDeliveryAttempts ?? this.policy.maxAttempts,
      minBackoffMs: spec.minBackoffMs ?? this.policy.minBackoffMs,
      maxBackoffMs: spec.maxBackoffMs ?? this.policy.maxBackoffMs,
    };
    checkPolicy(spec.name, policy);
    const concurrency = spec.concurrency ?? this.concurrency;
    if (!(concurrency >= 1)) throw new RangeError(`${spec.name}: concurrency must be >= 1, got ${concurrency}`);
    const sub: Sub = {
      name: spec.name,
      topic: spec.topic,
      handler: spec.handler,
      policy,
      deadLetterTopic: spec.deadLetterTopic ?? defaultDeadLetterTopic(spec.topic),
      concurrency,
      inFlight: 0,
      slotWaiters: [],
      orderedLanes: new Map(),
      stats: { topic: spec.topic, deliveries: 0, acked: 0, retried: 0, deadLettered: 0, duplicates: 0 },
    };
    if (sub.deadLetterTopic === sub.topic) throw new Error(`${spec.name}: dead-letter topic must differ from the topic`);
    this.subsByName.set(sub.name, sub);
    const list = this.subsByTopic.get(sub.topic) ?? [];
    list.push(sub);
    this.subsByTopic.set(sub.topic, list);
  }

  async publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string> {
    if (this.closed) throw new Error(`bus is closed: cannot publish to ${topic}`);
    const bytes = payloadBytes(topic, data);
    checkPublishLimits(topic, bytes, opts);
    return this.publishRaw(topic, bytes.toString('base64'), opts?.attributes, opts?.orderingKey || undefined);
  }

  /** Messages published to `topic` since start (delivered or dropped). */
  published(topic: string): number {
    return this.topicStats.get(topic)?.published ?? 0;
  }

  /** Dead-lettered messages, oldest first; optionally only those of one subscription or source topic. */
  deadLetters(filter: { subscription?: string; topic?: string } = {}): DeadLetterRecord[] {
    return this.dead.filter(
      (r) => (filter.subscription === undefined || r.subscription === filter.subscription) && (filter.topic === undefined || r.topic === filter.topic),
    );
  }

  stats(): BusStats {
    return {
      topics: Object.fromEntries([...this.topicStats].map(([t, s]) => [t, { ...s }])),
      subscriptions: Object.fromEntries([...this.subsByName].map(([n, s]) => [n, { ...s.stats }])),
      pending: this.pending,
    };
  }

  /**
   * Resolves when no message copy is waiting, in back-off or in flight (messages that handlers
   * publish count too). Back-off waits run on the bus clock: with a ManualClock, advance it (or
   * use `fast`), otherwise a pending retry keeps drain() waiting.
   */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stops delivery: later publishes throw; waiting retries are abandoned (logged). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pending > 0) this.log.warn('bus closed with undelivered messages', { abandoned: this.pending });
    this.pending = 0;
    this.resolveDrainers();
  }

  // ---------------------------------------------------------------------------------------------

  private publishRaw(topic: string, data: string, attributes: Record<string, string> | undefined, orderingKey: string | undefined): string {
    const messageId = String(this.nextId++);
    const msg: StoredMessage = { topic, messageId, publishTime: new Date(this.clock.now()).toISOString(), data };
    if (attributes && Object.keys(attributes).length > 0) msg.attributes = { ...attributes };
    if (orderingKey) msg.orderingKey = orderingKey;

    const ts = this.topicStats.get(topic) ?? { published: 0, dropped: 0 };
    ts.published++;
    this.topicStats.set(topic, ts);
    const subs = this.subsByTopic.get(topic) ?? [];
    if (subs.length === 0) {
      ts.dropped++;
      this.log.debug('published to a topic without subscriptions; dropped', { topic, messageId });
      return messageId;
    }
    for (const sub of subs) this.enqueue(sub, msg);
    return messageId;
  }

  private enqueue(sub: Sub, msg: StoredMessage): void {
    this.pending++;
    if (msg.orderingKey === undefined) {
      void this.runLane(sub, { key: undefined, queue: [msg], running: true });
      return;
    }
    let lane = sub.orderedLanes.get(msg.orderingKey);
    if (!lane) {
      lane = { key: msg.orderingKey, queue: [], running: false };
      sub.orderedLanes.set(msg.orderingKey, lane);
    }
    lane.queue.push(msg);
    if (!lane.running) {
      lane.running = true;
      void this.runLane(sub, lane);
    }
  }

  private async runLane(sub: Sub, lane: Lane): Promise<void> {
    // Never deliver inside the publisher's call stack (Pub/Sub delivery is asynchronous).
    await nextTurn();
    for (;;) {
      const msg = lane.queue[0];
      if (!msg || this.closed) break;
      await this.deliver(sub, msg);
      lane.queue.shift();
      if (!this.closed) this.settleOne();
    }
    lane.running = false;
    if (lane.key !== undefined && lane.queue.length === 0) sub.orderedLanes.delete(lane.key);
  }

  /** Delivers one message copy until acked or dead-lettered. */
  private async deliver(sub: Sub, msg: StoredMessage): Promise<void> {
    const copies = this.duplicateDelivery ? 2 : 1;
    let attempt = 0;
    for (let copy = 0; copy < copies; copy++) {
      if (copy > 0) sub.stats.duplicates++;
      for (;;) {
        if (this.closed) return;
        attempt++;
        const error = await this.invoke(sub, msg, attempt);
        if (this.closed) return;
        if (error === undefined) {
          sub.stats.acked++;
          break;
        }
        const permanent = isPermanentError(error);
        if (permanent || attempt >= sub.policy.maxAttempts) {
          this.deadLetter(sub, msg, attempt, errorReason(error), permanent);
          return;
        }
        const delayMs = backoffDelayMs(attempt, sub.policy.minBackoffMs, sub.policy.maxBackoffMs);
        sub.stats.retried++;
        this.log.warn('delivery failed; will redeliver', {
          subscription: sub.name,
          topic: sub.topic,
          messageId: msg.messageId,
          orderingKey: msg.orderingKey,
          deliveryAttempt: attempt,
          maxDeliveryAttempts: sub.policy.maxAttempts,
          backoffMs: delayMs,
          reason: errorReason(error),
        });
        if (this.fast) await nextTurn();
        else await this.clock.sleep(delayMs);
      }
    }
  }

  /** Runs the handler once inside the subscription's concurrency limit; returns the error, if any. */
  private async invoke(sub: Sub, msg: StoredMessage, attempt: number): Promise<unknown> {
    await this.acquire(sub);
    sub.stats.deliveries++;
    const event = buildPubsubCloudEvent({
      projectId: this.projectId,
      topic: msg.topic,
      subscription: sub.name,
      data: msg.data,
      messageId: msg.messageId,
      publishTime: msg.publishTime,
      deliveryAttempt: attempt,
      ...(msg.attributes ? { attributes: msg.attributes } : {}),
      ...(msg.orderingKey ? { orderingKey: msg.orderingKey } : {}),
    });
    try {
      await sub.handler(event);
      return undefined;
    } catch (e) {
      return e ?? new Error('handler threw a nullish value');
    } finally {
      this.release(sub);
    }
  }

  private deadLetter(sub: Sub, msg: StoredMessage, attempts: number, reason: string, permanent: boolean): void {
    const attributes = deadLetterAttributes(msg.attributes, {
      projectId: this.projectId,
      subscription: sub.name,
      topic: msg.topic,
      messageId: msg.messageId,
      publishTime: msg.publishTime,
      attempts,
      reason,
      permanent,
    });
    const deadLetterMessageId = this.publishRaw(sub.deadLetterTopic, msg.data, attributes, undefined);
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(msg.data, 'base64').toString('utf8'));
    } catch {
      payload = msg.data;
    }
    const record: DeadLetterRecord = {
      subscription: sub.name,
      topic: msg.topic,
      deadLetterTopic: sub.deadLetterTopic,
      messageId: msg.messageId,
      deadLetterMessageId,
      attempts,
      reason,
      permanent,
      payload,
      attributes: msg.attributes ? { ...msg.attributes } : {},
      at: this.clock.now(),
    };
    if (msg.orderingKey) record.orderingKey = msg.orderingKey;
    this.dead.push(record);
    sub.stats.deadLettered++;
    this.log.error('message dead-lettered', {
      subscription: sub.name,
      topic: msg.topic,
      deadLetterTopic: sub.deadLetterTopic,
      messageId: msg.messageId,
      orderingKey: msg.orderingKey,
      deliveryAttempts: attempts,
      permanent,
      reason,
    });
  }

  private acquire(sub: Sub): Promise<void> {
    if (sub.inFlight < sub.concurrency) {
      sub.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => sub.slotWaiters.push(resolve));
  }

  private release(sub: Sub): void {
    const next = sub.slotWaiters.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else sub.inFlight--;
  }

  private settleOne(): void {
    this.pending--;
    if (this.pending === 0) this.resolveDrainers();
  }

  private resolveDrainers(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

function checkPolicy(what: string, p: DeliveryPolicy): void {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError(`${what}: maxDeliveryAttempts must be an integer >= 1`);
  if (!(p.minBackoffMs >= 0) || !(p.maxBackoffMs >= p.minBackoffMs)) {
    throw new RangeError(`${what}: back-off must satisfy 0 <= minBackoffMs <= maxBackoffMs`);
  }
}
