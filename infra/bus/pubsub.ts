/**
 * Google Cloud Pub/Sub adapter (@google-cloud/pubsub v5). The client honours PUBSUB_EMULATOR_HOST
 * by itself, so the same code talks to the cloud or to the emulator.
 *
 *  - `PubSubBus`: the publishing side of the Bus port (JSON payload, attributes, ordering keys).
 *  - `provisionTopology`: creates the topics, their `-dlq` dead-letter topics (each with a
 *    retention subscription, since messages on a topic without subscriptions are lost) and the
 *    subscriptions with deadLetterPolicy + retryPolicy; dry-run returns the plan only.
 *  - `PubSubPullRunner`: for the emulator workflow, streaming-pulls subscriptions and invokes
 *    CloudEventHandlers with the Eventarc envelope (ack on success, nack on failure). It also
 *    dead-letters client-side (PermanentError at once; after maxDeliveryAttempts otherwise) because
 *    the emulator neither honours retry back-off nor reliably counts delivery attempts.
 *
 * The client types below are the few methods used, so tests can pass small fakes; the real
 * `PubSub` class satisfies them (checked at compile time in `createPubSubClient`).
 */
import { PubSub, type CreateSubscriptionOptions } from '@google-cloud/pubsub';
import type { Bus, PublishOptions } from '../../shared/ports/bus.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { deadLetterTopic as defaultDeadLetterTopic } from '../../shared/topics.js';
import { createLogger, LOG_EVENTS, type Logger } from '../../shared/log.js';
import { buildPubsubCloudEvent, type SubscriptionSpec } from './envelope.js';
import {
  PUBSUB_LIMITS,
  backoffDelayMs,
  checkPublishLimits,
  deadLetterAttributes,
  errorReason,
  isPermanentError,
  payloadBytes,
} from './delivery.js';

// ---------------------------------------------------------------------------------------------
// Minimal client surfaces

export interface PublishMessageInput {
  data: Buffer;
  attributes?: Record<string, string>;
  orderingKey?: string;
}

export interface PublisherTopic {
  /** Full resource name, `projects/{p}/topics/{t}`. */
  name: string;
  publishMessage(message: PublishMessageInput): Promise<string>;
  flush(): Promise<void>;
  resumePublishing(orderingKey: string): void;
}

export interface PublisherClient {
  topic(name: string, options?: { messageOrdering?: boolean }): PublisherTopic;
  close?(): Promise<void>;
}

export interface ProvisionClient {
  topic(name: string): { name: string; exists(): Promise<[boolean]> };
  subscription(name: string): { exists(): Promise<[boolean]> };
  createTopic(name: string): Promise<unknown>;
  createSubscription(topic: string, name: string, options?: CreateSubscriptionOptions): Promise<unknown>;
}

/** The part of a pulled `Message` the runner uses. */
export interface PulledMessage {
  id: string;
  data: Buffer;
  attributes: Record<string, string>;
  publishTime: Date;
  orderingKey?: string;
  /** 0 when the subscription has no dead-letter policy (or the emulator does not count). */
  deliveryAttempt: number;
  ack(): void;
  nack(): void;
}

interface PullSubscription {
  on(event: 'message', listener: (message: PulledMessage) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): Promise<void>;
}

export interface PullClient {
  subscription(name: string, options?: { flowControl?: { maxMessages?: number; allowExcessMessages?: boolean } }): PullSubscription;
  topic(name: string): { publishMessage(message: PublishMessageInput): Promise<string> };
}

/** A real client (emulator when PUBSUB_EMULATOR_HOST is set). */
export function createPubSubClient(projectId?: string): PubSub {
  const client = new PubSub(projectId ? { projectId } : {});
  // Compile-time proof that the real client fits the minimal surfaces used here.
  const surfaces: [PublisherClient, ProvisionClient, PullClient] = [client, client, client];
  void surfaces;
  return client;
}

// ---------------------------------------------------------------------------------------------
// Publisher

interface PubSubBusOptions {
  log?: Logger;
  /** close() also closes the client (true when the bus created it). */
  ownsClient?: boolean;
}

export class PubSubBus implements Bus {
  private readonly topics = new Map<string, PublisherTopic>();
  private readonly log: Logger;
  private readonly ownsClient: boolean;
  private closed = false;

  constructor(
    private readonly client: PublisherClient,
    opts: PubSubBusOptions = {},
  ) {
    this.log = opts.log ?? createLogger({ component: 'bus.pubsub' });
    this.ownsClient = opts.ownsClient ?? false;
  }

  /** A bus over a new client for `projectId` (or the ambient project); close() closes the client. */
  static create(projectId?: string, opts: Omit<PubSubBusOptions, 'ownsClient'> = {}): PubSubBus {
    return new PubSubBus(createPubSubClient(projectId), { ...opts, ownsClient: true });
  }

  async publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string> {
    if (this.closed) throw new Error(`bus is closed: cannot publish to ${topic}`);
    const bytes = payloadBytes(topic, data);
    checkPublishLimits(topic, bytes, opts);
    const orderingKey = opts?.orderingKey || undefined;
    const t = this.topicFor(topic, orderingKey !== undefined);
    const message: PublishMessageInput = { data: bytes };
    if (opts?.attributes && Object.keys(opts.attributes).length > 0) message.attributes = { ...opts.attributes };
    if (orderingKey !== undefined) message.orderingKey = orderingKey;
    try {
      return await t.publishMessage(message);
    } catch (e) {
      // A failed publish pauses its ordering key; resume so the caller's retry can go through.
      if (orderingKey !== undefined) t.resumePublishing(orderingKey);
      this.log.warn('publish failed', { topic, orderingKey, reason: errorReason(e) });
      throw e;
    }
  }

  /** Flushes every topic's pending batch, then closes the client if this bus owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.topics.values()].map((t) => t.flush()));
    if (this.ownsClient) await this.client.close?.();
  }

  /** Cached Topic objects: one with message ordering enabled (used with keys), one without. */
  private topicFor(name: string, ordered: boolean): PublisherTopic {
    const cacheKey = `${ordered ? 'ordered' : 'plain'}:${name}`;
    let t = this.topics.get(cacheKey);
    if (!t) {
      t = ordered ? this.client.topic(name, { messageOrdering: true }) : this.client.topic(name);
      this.topics.set(cacheKey, t);
    }
    return t;
  }
}

// ---------------------------------------------------------------------------------------------
// Provisioning

export interface TopologySpec {
  topic: string;
  subscription: string;
  /** Push subscription (e.g. a Cloud Run URL); pull when absent. */
  pushEndpoint?: string;
  maxDeliveryAttempts: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  enableOrdering?: boolean;
  /** Defaults to `${topic}-dlq`. */
  deadLetterTopic?: string;
  ackDeadlineSeconds?: number;
}

type ProvisionAction = 'exists' | 'create' | 'created';

interface TopicPlan {
  name: string;
  role: 'topic' | 'dead-letter';
  action: ProvisionAction;
}

interface SubscriptionPlan {
  name: string;
  topic: string;
  role: 'handler' | 'dead-letter-retention';
  action: ProvisionAction;
  /** What is (or would be) sent to createSubscription. */
  options: CreateSubscriptionOptions;
}

export interface ProvisionPlan {
  dryRun: boolean;
  topics: TopicPlan[];
  subscriptions: SubscriptionPlan[];
}

/** Retention of messages on dead-letter retention subscriptions: Pub/Sub's maximum, 7 days. */
const DEAD_LETTER_RETENTION_SECONDS = 7 * 24 * 3600;
const MS_PER_S = 1000;
const NS_PER_MS = 1_000_000;
/** gRPC status ALREADY_EXISTS (a concurrent provisioner won the race). */
const GRPC_ALREADY_EXISTS = 6;

/** Subscription that keeps dead letters readable (`dead-letters--{dlqTopic}`). */
export function deadLetterRetentionSubscription(dlqTopic: string): string {
  return `dead-letters--${dlqTopic}`;
}

export function msToDuration(ms: number): { seconds: number; nanos: number } {
  const whole = Math.floor(ms);
  return { seconds: Math.floor(whole / MS_PER_S), nanos: (whole % MS_PER_S) * NS_PER_MS };
}

/** Rejects specs Pub/Sub itself would reject, with a clear message. */
function validateTopologySpec(s: TopologySpec): void {
  const where = `subscription ${s.subscription}`;
  if (!s.topic || !s.subscription) throw new Error(`${where}: topic and subscription names are required`);
  if (
    !Number.isInteger(s.maxDeliveryAttempts) ||
    s.maxDeliveryAttempts < PUBSUB_LIMITS.minDeliveryAttempts ||
    s.maxDeliveryAttempts > PUBSUB_LIMITS.maxDeliveryAttempts
  ) {
    throw new RangeError(
      `${where}: maxDeliveryAttempts ${s.maxDeliveryAttempts} outside Pub/Sub's ${PUBSUB_LIMITS.minDeliveryAttempts}-${PUBSUB_LIMITS.maxDeliveryAttempts}`,
    );
  }
  if (!(s.minBackoffMs >= 0) || !(s.maxBackoffMs <= PUBSUB_LIMITS.maxBackoffMs) || !(s.minBackoffMs <= s.maxBackoffMs)) {
    throw new RangeError(`${where}: back-off must satisfy 0 <= minBackoffMs <= maxBackoffMs <= ${PUBSUB_LIMITS.maxBackoffMs}`);
  }
  const dlq = s.deadLetterTopic ?? defaultDeadLetterTopic(s.topic);
  if (dlq === s.topic) throw new Error(`${where}: dead-letter topic must differ from the topic`);
}

function subscriptionOptions(s: TopologySpec, deadLetterTopicName: string): CreateSubscriptionOptions {
  const options: CreateSubscriptionOptions = {
    deadLetterPolicy: { deadLetterTopic: deadLetterTopicName, maxDeliveryAttempts: s.maxDeliveryAttempts },
    retryPolicy: { minimumBackoff: msToDuration(s.minBackoffMs), maximumBackoff: msToDuration(s.maxBackoffMs) },
    enableMessageOrdering: s.enableOrdering ?? false,
  };
  if (s.pushEndpoint) options.pushEndpoint = s.pushEndpoint;
  if (s.ackDeadlineSeconds !== undefined) options.ackDeadlineSeconds = s.ackDeadlineSeconds;
  return options;
}

/**
 * Creates what is missing (topics, dead-letter topics with a retention subscription, handler
 * subscriptions with deadLetterPolicy + retryPolicy). Existing resources are left as they are.
 * With `dryRun` nothing is created; the plan says what would be.
 */
export async function provisionTopology(
  pubsub: ProvisionClient,
  specs: readonly TopologySpec[],
  opts: {
    dryRun: boolean;
    log?: Logger;
    /** Topics to create even when nothing subscribes to them yet (publishers need them). */
    topics?: readonly string[];
    /**
     * false: topics, dead-letter topics and their retention subscriptions only, no handler
     * subscriptions (on Google Cloud, npm run deploy makes the push subscriptions).
     */
    handlerSubscriptions?: boolean;
  },
): Promise<ProvisionPlan> {
  const log = opts.log ?? createLogger({ component: 'bus.provision' });
  const bySub = new Map<string, TopologySpec>();
  for (const s of specs) {
    validateTopologySpec(s);
    const prev = bySub.get(s.subscription);
    if (prev && prev.topic !== s.topic) throw new Error(`subscription ${s.subscription} listed for both ${prev.topic} and ${s.topic}`);
    bySub.set(s.subscription, s);
  }

  const topicRoles = new Map<string, TopicPlan['role']>();
  for (const t of opts.topics ?? []) topicRoles.set(t, 'topic');
  for (const s of bySub.values()) topicRoles.set(s.topic, 'topic');
  for (const s of bySub.values()) {
    const dlq = s.deadLetterTopic ?? defaultDeadLetterTopic(s.topic);
    if (!topicRoles.has(dlq)) topicRoles.set(dlq, 'dead-letter');
  }

  const plan: ProvisionPlan = { dryRun: opts.dryRun, topics: [], subscriptions: [] };
  for (const [name, role] of topicRoles) {
    const [exists] = await pubsub.topic(name).exists();
    let action: ProvisionAction = exists ? 'exists' : 'create';
    if (!exists && !opts.dryRun) {
      action = (await createIgnoringAlreadyExists(() => pubsub.createTopic(name))) ? 'created' : 'exists';
      log.info(action === 'created' ? 'topic created' : 'topic already existed', { topic: name, role });
    }
    plan.topics.push({ name, role, action });
  }

  const subs: Array<Omit<SubscriptionPlan, 'action'>> = [];
  for (const s of opts.handlerSubscriptions === false ? [] : bySub.values()) {
    const dlq = s.deadLetterTopic ?? defaultDeadLetterTopic(s.topic);
    subs.push({ name: s.subscription, topic: s.topic, role: 'handler', options: subscriptionOptions(s, pubsub.topic(dlq).name) });
  }
  for (const [name, role] of topicRoles) {
    if (role !== 'dead-letter') continue;
    subs.push({
      name: deadLetterRetentionSubscription(name),
      topic: name,
      role: 'dead-letter-retention',
      options: { messageRetentionDuration: DEAD_LETTER_RETENTION_SECONDS },
    });
  }

  for (const sub of subs) {
    const [exists] = await pubsub.subscription(sub.name).exists();
    let action: ProvisionAction = exists ? 'exists' : 'create';
    if (!exists && !opts.dryRun) {
      action = (await createIgnoringAlreadyExists(() => pubsub.createSubscription(sub.topic, sub.name, sub.options)))
        ? 'created'
        : 'exists';
      log.info(action === 'created' ? 'subscription created' : 'subscription already existed', { subscription: sub.name, topic: sub.topic });
    }
    plan.subscriptions.push({ ...sub, action });
  }
  return plan;
}

async function createIgnoringAlreadyExists(create: () => Promise<unknown>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === GRPC_ALREADY_EXISTS) return false;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Pull runner (emulator workflow)

/** A subscription's delivery policy (as the in-process bus takes it), pulled from Pub/Sub by name. */
interface PullHandlerSpec extends Omit<SubscriptionSpec, 'name'> {
  subscription: string;
  /** Max messages in flight for this subscription (flow control). */
  maxMessages?: number;
}

interface PubSubPullRunnerOptions {
  /** Project used in the envelope's source and subscription paths. */
  projectId: string;
  clock?: Clock;
  log?: Logger;
  /**
   * Wait the back-off before nacking. The emulator redelivers a nacked message at once (it ignores
   * retryPolicy), so the runner waits itself; default true.
   */
  localBackoff?: boolean;
}

interface PullRunnerStats {
  deliveries: number;
  acked: number;
  nacked: number;
  deadLettered: number;
}

/** Messages in flight per subscription when the spec does not say. */
const DEFAULT_PULL_MAX_MESSAGES = 16;

export class PubSubPullRunner {
  private readonly specs: PullHandlerSpec[] = [];
  private readonly open: PullSubscription[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly localBackoff: boolean;
  private readonly counters: PullRunnerStats = { deliveries: 0, acked: 0, nacked: 0, deadLettered: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;

  constructor(
    private readonly client: PullClient,
    private readonly opts: PubSubPullRunnerOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? createLogger({ component: 'bus.pull' });
    this.localBackoff = opts.localBackoff ?? true;
  }

  add(spec: PullHandlerSpec): this {
    if (this.running) throw new Error('add() subscriptions before start()');
    this.specs.push(spec);
    return this;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const spec of this.specs) {
      const sub = this.client.subscription(spec.subscription, {
        flowControl: { maxMessages: spec.maxMessages ?? DEFAULT_PULL_MAX_MESSAGES, allowExcessMessages: false },
      });
      sub.on('message', (m) => {
        const p = this.handle(spec, m).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      });
      sub.on('error', (e) => this.log.error('subscription stream error', { subscription: spec.subscription, error: e }));
      this.open.push(sub);
    }
  }

  /** Waits for in-flight handlers, then closes the streams. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled([...this.inFlight]);
    await Promise.all(this.open.splice(0).map((s) => s.close()));
  }

  stats(): PullRunnerStats {
    return { ...this.counters };
  }

  private async handle(spec: PullHandlerSpec, m: PulledMessage): Promise<void> {
    const d = DEFAULT_SYSTEM_CONFIG.delivery;
    const maxAttempts = spec.maxDeliveryAttempts ?? d.maxAttempts;
    const countKey = `${spec.subscription}\u0000${m.id}`;
    const attempt = m.deliveryAttempt > 0 ? m.deliveryAttempt : (this.attempts.get(countKey) ?? 0) + 1;
    this.attempts.set(countKey, attempt);
    this.counters.deliveries++;

    const event = buildPubsubCloudEvent({
      projectId: this.opts.projectId,
      topic: spec.topic,
      subscription: spec.subscription,
      data: m.data.toString('base64'),
      messageId: m.id,
      publishTime: m.publishTime.toISOString(),
      deliveryAttempt: attempt,
      ...(m.attributes && Object.keys(m.attributes).length > 0 ? { attributes: m.attributes } : {}),
      ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
    });

    let error: unknown;
    try {
      await spec.handler(event);
    } catch (e) {
      error = e ?? new Error('handler threw a nullish value');
    }
    if (error === undefined) {
      this.attempts.delete(countKey);
      this.counters.acked++;
      m.ack();
      return;
    }

    const reason = errorReason(error);
    const permanent = isPermanentError(error);
    if (permanent || attempt >= maxAttempts) {
      await this.deadLetter(spec, m, { attempt, reason, permanent, publishTime: event.time, countKey });
      return;
    }

    const backoffMs = backoffDelayMs(attempt, spec.minBackoffMs ?? d.minBackoffMs, spec.maxBackoffMs ?? d.maxBackoffMs);
    this.log.warn('delivery failed; will redeliver', {
      subscription: spec.subscription,
      messageId: m.id,
      deliveryAttempt: attempt,
      maxDeliveryAttempts: maxAttempts,
      backoffMs: this.localBackoff ? backoffMs : undefined,
      reason,
    });
    if (this.localBackoff) await this.clock.sleep(backoffMs);
    this.counters.nacked++;
    m.nack();
  }

  /** Publishes a failed message to its dead-letter topic and acks it; nacks it when that publish fails. */
  private async deadLetter(
    spec: PullHandlerSpec,
    m: PulledMessage,
    f: { attempt: number; reason: string; permanent: boolean; publishTime: string; countKey: string },
  ): Promise<void> {
    const dlq = spec.deadLetterTopic ?? defaultDeadLetterTopic(spec.topic);
    try {
      const attributes = deadLetterAttributes(m.attributes, {
        projectId: this.opts.projectId,
        subscription: spec.subscription,
        topic: spec.topic,
        messageId: m.id,
        publishTime: f.publishTime,
        attempts: f.attempt,
        reason: f.reason,
        permanent: f.permanent,
      });
      await this.client.topic(dlq).publishMessage({ data: m.data, attributes });
    } catch (e) {
      this.log.error('dead-letter publish failed; nacking', { subscription: spec.subscription, messageId: m.id, error: e as Error });
      this.counters.nacked++;
      m.nack();
      return;
    }
    this.attempts.delete(f.countKey);
    this.counters.deadLettered++;
    this.log.error('message dead-lettered', {
      event: LOG_EVENTS.deadLettered,
      subscription: spec.subscription,
      topic: spec.topic,
      deadLetterTopic: dlq,
      messageId: m.id,
      deliveryAttempts: f.attempt,
      permanent: f.permanent,
      reason: f.reason,
    });
    m.ack();
  }
}
