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
 *  - `duplicateDelivery` delivers every message a second time after it was acked (idempotency tests);
 *  - durable mode (`file`, the runtime default; infra/bus/store.ts): every message is committed to
 *    SQLite with one delivery per subscription BEFORE `publish` returns; a delivery is deleted when
 *    acked; attempts, next-attempt times and dead letters live there too. Subscriptions are durable
 *    like Pub/Sub's: a restarted bus redelivers, when each subscription re-attaches, every message it
 *    had not acked (in publish order), and a message published before the re-attach is kept for it.
 *    So `kill -9` at any moment loses nothing; what was handled but not yet acked is delivered again
 *    (consumers are idempotent). Dead letters survive restarts and can be replayed
 *    (scripts/deadletters.ts); a replay made while the bus runs is picked up within a second.
 *    Without `file` everything stays in memory (unit tests, throw-away replays).
 *
 * Handlers receive the same CloudEvent envelope as Cloud Functions (envelope.ts).
 */
import type { PublishOptions } from '../../shared/ports/bus.js';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { deadLetterTopic as defaultDeadLetterTopic } from '../../shared/topics.js';
import { createLogger, LOG_EVENTS, type Logger } from '../../shared/log.js';
import { buildPubsubCloudEvent, LOCAL_PROJECT_ID, type CloudEventHandler, type SubscribableBus, type SubscriptionSpec } from './envelope.js';
import {
  backoffDelayMs,
  checkPublishLimits,
  deadLetterAttributes,
  errorReason,
  isPermanentError,
  payloadBytes,
} from './delivery.js';
import { BusJournal, type JournalMessage, type PendingDelivery } from './store.js';

/** After a failed journal write, the lane redelivers its head copy this much later (real time). */
const JOURNAL_RETRY_MS = 1_000;

/** Handler invocations in flight per subscription when neither the bus nor the spec says. */
const DEFAULT_SUBSCRIPTION_CONCURRENCY = 32;

interface DeliveryPolicy {
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
  /**
   * SQLite file for the durable journal (messages, deliveries, dead letters); absent = memory only.
   * The local runtime's embedded default always sets it.
   */
  file?: string;
  /** Durable mode: how long `close()` waits (wall time) for handlers in flight to finish and ack. */
  closeTimeoutMs?: number;
  /** Durable mode: how often (wall time) the bus looks for dead-letter replays made by another process. */
  injectPollMs?: number;
}

interface InMemorySubscriptionSpec extends SubscriptionSpec {
  /** Overrides the bus-wide concurrency for this subscription. */
  concurrency?: number;
}

export interface DeadLetterRecord {
  /** Durable mode: the dead letter's id in the journal (the CLI's `--id`). */
  id?: number;
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
  /** Durable mode: id of the message a replay queued for the subscription, once replayed. */
  replayedMessageId?: string;
}

interface SubscriptionStats {
  topic: string;
  /** Handler invocations (every attempt, duplicates included). */
  deliveries: number;
  acked: number;
  /** Failed attempts that were scheduled for redelivery. */
  retried: number;
  deadLettered: number;
  duplicates: number;
}

interface BusStats {
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
  /** Durable mode: the journal id (messageId is its decimal string). */
  seq?: number;
}

/** One subscription's copy of a message. */
interface Copy {
  msg: StoredMessage;
  /** Attempts already made (restored from the journal after a restart). */
  attempts: number;
  /** Bus-clock time before which the next attempt must not run (0 = now). */
  notBefore: number;
}

interface Lane {
  key: string | undefined;
  queue: Copy[];
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
  /** Durable mode: journal ids of the copies queued or in flight in this process. */
  queued: Set<number>;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Default wall time `close()` waits for handlers in flight (durable mode). */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Default wall-time period of the look for dead-letter replays made by another process. */
const DEFAULT_INJECT_POLL_MS = 1_000;

export class InMemoryBus implements SubscribableBus {
  private readonly clock: Clock;
  private readonly fast: boolean;
  private readonly policy: DeliveryPolicy;
  private readonly concurrency: number;
  private readonly duplicateDelivery: boolean;
  private readonly projectId: string;
  private readonly log: Logger;
  private readonly journal: BusJournal | undefined;
  private readonly closeTimeoutMs: number;

  private readonly subsByTopic = new Map<string, Sub[]>();
  private readonly subsByName = new Map<string, Sub>();
  /** Durable mode: every subscription the journal knows (attached or not), by topic. */
  private readonly durableSubsByTopic = new Map<string, Set<string>>();
  private readonly topicStats = new Map<string, { published: number; dropped: number }>();
  private readonly dead: DeadLetterRecord[] = [];
  private nextId = 1;
  private pending = 0;
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private injectTimer: NodeJS.Timeout | undefined;
  /** No new handler invocation starts (close() in progress or done). */
  private closing = false;
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
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    if (opts.file !== undefined) {
      this.journal = new BusJournal(opts.file);
      this.journal.clearInjected();
      for (const s of this.journal.subscriptions()) this.addDurable(s.topic, s.name);
      const backlog = this.journal.pendingCounts();
      if (Object.keys(backlog).length > 0) this.log.notice('bus journal has unacked messages; they are redelivered as subscriptions attach', { file: opts.file, backlog });
      this.injectTimer = setInterval(() => this.pollInjected(), opts.injectPollMs ?? DEFAULT_INJECT_POLL_MS);
      this.injectTimer.unref();
    }
  }

  /** true when messages, deliveries and dead letters are kept in a SQLite journal. */
  get durable(): boolean {
    return this.journal !== undefined;
  }

  subscribe(spec: InMemorySubscriptionSpec): void {
    if (this.subsByName.has(spec.name)) throw new Error(`subscription ${spec.name} already exists`);
    if (this.closing) throw new Error(`bus is closed: cannot subscribe ${spec.name}`);
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
      queued: new Set(),
    };
    if (sub.deadLetterTopic === sub.topic) throw new Error(`${spec.name}: dead-letter topic must differ from the topic`);
    this.subsByName.set(sub.name, sub);
    const list = this.subsByTopic.get(sub.topic) ?? [];
    list.push(sub);
    this.subsByTopic.set(sub.topic, list);
    if (this.journal) {
      this.journal.saveSubscription({ name: sub.name, topic: sub.topic, deadLetterTopic: sub.deadLetterTopic });
      this.addDurable(sub.topic, sub.name);
      // What this subscription had not acked before (a restart, or published while it was detached).
      const backlog = this.journal.pending(sub.name);
      for (const p of backlog) this.enqueue(sub, this.restore(p));
      if (backlog.length > 0) this.log.notice('redelivering unacked messages', { subscription: sub.name, messages: backlog.length });
    }
  }

  async publish(topic: string, data: unknown, opts?: PublishOptions): Promise<string> {
    if (this.closed) throw new Error(`bus is closed: cannot publish to ${topic}`);
    const bytes = payloadBytes(topic, data);
    checkPublishLimits(topic, bytes, opts);
    const id = this.publishRaw(topic, bytes, opts?.attributes, opts?.orderingKey || undefined);
    // Durable mode: returns only once the message is committed to the journal.
    if (this.journal) await this.journal.committed();
    return id;
  }

  /** Messages published to `topic` since start (delivered or dropped). */
  published(topic: string): number {
    return this.topicStats.get(topic)?.published ?? 0;
  }

  /**
   * Dead-lettered messages, oldest first; optionally only those of one subscription or source topic.
   * Durable mode: every dead letter in the journal (earlier runs too), replayed ones included.
   */
  deadLetters(filter: { subscription?: string; topic?: string } = {}): DeadLetterRecord[] {
    if (this.journal) {
      if (!this.journal.open) return [];
      return this.journal.deadLetters(filter).map((d) => {
        const r: DeadLetterRecord = {
          id: d.id,
          subscription: d.subscription,
          topic: d.topic,
          deadLetterTopic: d.deadLetterTopic,
          messageId: d.messageId,
          deadLetterMessageId: d.deadLetterMessageId,
          attempts: d.attempts,
          reason: d.reason,
          permanent: d.permanent,
          payload: decodePayload(d.data),
          attributes: d.attributes,
          at: d.at,
        };
        if (d.orderingKey !== undefined) r.orderingKey = d.orderingKey;
        if (d.replayedMessageId !== undefined) r.replayedMessageId = d.replayedMessageId;
        return r;
      });
    }
    return this.dead.filter(
      (r) => (filter.subscription === undefined || r.subscription === filter.subscription) && (filter.topic === undefined || r.topic === filter.topic),
    );
  }

  /** How many dead letters there are (durable mode: in the journal, earlier runs included). */
  deadLetterCount(): number {
    if (this.journal) return this.journal.open ? this.journal.deadLetterCount() : 0;
    return this.dead.length;
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

  /**
   * Stops delivery: no new handler invocation starts and waiting retries are abandoned (logged);
   * later publishes throw. Durable mode: handlers in flight are given up to `closeTimeoutMs` to finish
   * (their acks and what they publish are recorded), then the journal is closed; everything not acked
   * is delivered again by the next bus on the same file.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.injectTimer) clearInterval(this.injectTimer);
    if (this.journal && this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.closeTimeoutMs);
      });
      await Promise.race([idle, timeout]);
      clearTimeout(timer);
      if (this.inFlight > 0) this.log.warn('bus closed with handlers still running; their messages are redelivered at the next start', { inFlight: this.inFlight });
    }
    this.closed = true;
    if (this.pending > 0) {
      this.log.warn(this.journal ? 'bus closed with undelivered messages; kept in the journal for the next start' : 'bus closed with undelivered messages', {
        abandoned: this.pending,
      });
    }
    this.pending = 0;
    this.journal?.close();
    this.resolveDrainers();
  }

  // ---------------------------------------------------------------------------------------------

  private addDurable(topic: string, name: string): void {
    const set = this.durableSubsByTopic.get(topic) ?? new Set<string>();
    set.add(name);
    this.durableSubsByTopic.set(topic, set);
  }

  private restore(p: PendingDelivery): Copy {
    return { msg: fromJournal(p.message), attempts: p.attempts, notBefore: p.nextAttemptAt };
  }

  private publishRaw(topic: string, bytes: Buffer, attributes: Record<string, string> | undefined, orderingKey: string | undefined): string {
    const publishTime = new Date(this.clock.now()).toISOString();
    const ts = this.topicStats.get(topic) ?? { published: 0, dropped: 0 };
    ts.published++;
    this.topicStats.set(topic, ts);
    const subs = this.subsByTopic.get(topic) ?? [];
    const durableSubs = this.journal ? [...(this.durableSubsByTopic.get(topic) ?? [])] : [];
    if (subs.length === 0 && durableSubs.length === 0) {
      ts.dropped++;
      const messageId = this.journal ? `dropped-${this.nextId++}` : String(this.nextId++);
      this.log.debug('published to a topic without subscriptions; dropped', { topic, messageId });
      return messageId;
    }
    const attrs = attributes && Object.keys(attributes).length > 0 ? { ...attributes } : undefined;
    let seq: number | undefined;
    if (this.journal) {
      // Committed before publish returns: a crash from here on loses nothing.
      seq = this.journal.publish({ topic, data: bytes, attributes: attrs, orderingKey, publishTime }, durableSubs);
    }
    const messageId = seq !== undefined ? String(seq) : String(this.nextId++);
    const msg: StoredMessage = { topic, messageId, publishTime, data: bytes.toString('base64') };
    if (attrs) msg.attributes = attrs;
    if (orderingKey) msg.orderingKey = orderingKey;
    if (seq !== undefined) msg.seq = seq;
    if (!this.closing) for (const sub of subs) this.enqueue(sub, { msg, attempts: 0, notBefore: 0 });
    return messageId;
  }

  private enqueue(sub: Sub, copy: Copy): void {
    const msg = copy.msg;
    if (msg.seq !== undefined) {
      if (sub.queued.has(msg.seq)) return; // already queued here (a replay seen twice)
      sub.queued.add(msg.seq);
    }
    this.pending++;
    if (msg.orderingKey === undefined) {
      void this.runLane(sub, { key: undefined, queue: [copy], running: true });
      return;
    }
    let lane = sub.orderedLanes.get(msg.orderingKey);
    if (!lane) {
      lane = { key: msg.orderingKey, queue: [], running: false };
      sub.orderedLanes.set(msg.orderingKey, lane);
    }
    lane.queue.push(copy);
    if (!lane.running) {
      lane.running = true;
      void this.runLane(sub, lane);
    }
  }

  private async runLane(sub: Sub, lane: Lane): Promise<void> {
    // Never deliver inside the publisher's call stack (Pub/Sub delivery is asynchronous).
    await nextTurn();
    for (;;) {
      const copy = lane.queue[0];
      if (!copy || this.closing) break;
      try {
        await this.deliver(sub, copy);
      } catch (e) {
        // A journal write failed (e.g. the database stayed locked past its busy timeout). Nothing is
        // lost: the delivery is still in the journal. The lane tries the same copy again shortly (an
        // at-least-once redelivery) instead of an unhandled rejection ending the process.
        this.log.error('bus journal write failed; redelivering shortly', { subscription: sub.name, topic: sub.topic, messageId: copy.msg.messageId, error: e as Error });
        setTimeout(() => void this.runLane(sub, lane), JOURNAL_RETRY_MS).unref();
        return;
      }
      lane.queue.shift();
      if (copy.msg.seq !== undefined) sub.queued.delete(copy.msg.seq);
      if (!this.closed) this.settleOne();
    }
    lane.running = false;
    if (lane.key !== undefined && lane.queue.length === 0) sub.orderedLanes.delete(lane.key);
  }

  /** Delivers one message copy until acked or dead-lettered. */
  private async deliver(sub: Sub, copy: Copy): Promise<void> {
    const msg = copy.msg;
    const copies = this.duplicateDelivery ? 2 : 1;
    let attempt = copy.attempts;
    if (copy.notBefore > 0 && !this.fast) {
      // A retry restored from the journal: keep its back-off (never longer than the policy's maximum).
      const wait = Math.min(copy.notBefore - this.clock.now(), sub.policy.maxBackoffMs);
      if (wait > 0) await this.clock.sleep(wait);
    }
    for (let copyNo = 0; copyNo < copies; copyNo++) {
      if (copyNo > 0) sub.stats.duplicates++;
      for (;;) {
        if (this.closing) return;
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
        if (msg.seq !== undefined) this.journal?.retry(sub.name, msg.seq, attempt, this.clock.now() + delayMs);
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
    if (msg.seq !== undefined) this.journal?.ack(sub.name, msg.seq);
  }

  /** Runs the handler once inside the subscription's concurrency limit; returns the error, if any. */
  private async invoke(sub: Sub, msg: StoredMessage, attempt: number): Promise<unknown> {
    await this.acquire(sub);
    sub.stats.deliveries++;
    this.inFlight++;
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
      this.inFlight--;
      if (this.inFlight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
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
    const bytes = Buffer.from(msg.data, 'base64');
    const deadLetterMessageId = this.publishRaw(sub.deadLetterTopic, bytes, attributes, undefined);
    const record: DeadLetterRecord = {
      subscription: sub.name,
      topic: msg.topic,
      deadLetterTopic: sub.deadLetterTopic,
      messageId: msg.messageId,
      deadLetterMessageId,
      attempts,
      reason,
      permanent,
      payload: decodePayload(bytes),
      attributes: msg.attributes ? { ...msg.attributes } : {},
      at: this.clock.now(),
    };
    if (msg.orderingKey) record.orderingKey = msg.orderingKey;
    if (this.journal && msg.seq !== undefined) {
      record.id = this.journal.deadLetter(
        {
          subscription: record.subscription,
          topic: record.topic,
          deadLetterTopic: record.deadLetterTopic,
          messageId: record.messageId,
          deadLetterMessageId,
          attempts,
          reason,
          permanent,
          data: bytes,
          attributes: record.attributes,
          orderingKey: record.orderingKey,
          at: record.at,
        },
        msg.seq,
      );
    } else this.dead.push(record);
    sub.stats.deadLettered++;
    this.log.error('message dead-lettered', {
      event: LOG_EVENTS.deadLettered,
      subscription: sub.name,
      topic: msg.topic,
      deadLetterTopic: sub.deadLetterTopic,
      messageId: msg.messageId,
      orderingKey: msg.orderingKey,
      deliveryAttempts: attempts,
      permanent,
      reason,
      ...(record.id !== undefined ? { deadLetterId: record.id } : {}),
    });
  }

  /** Dead-letter replays another process (scripts/deadletters.ts) wrote into the journal. */
  private pollInjected(): void {
    if (!this.journal || this.closing || !this.journal.open) return;
    try {
      for (const { subscription, delivery } of this.journal.claimInjected()) {
        const sub = this.subsByName.get(subscription);
        // Not attached here: the delivery stays in the journal until the subscription attaches.
        if (sub) this.enqueue(sub, this.restore(delivery));
      }
    } catch (e) {
      this.log.warn('could not read dead-letter replays from the bus journal', { error: e as Error });
    }
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

function fromJournal(m: JournalMessage): StoredMessage {
  const msg: StoredMessage = { topic: m.topic, messageId: String(m.id), publishTime: m.publishTime, data: m.data.toString('base64'), seq: m.id };
  if (m.attributes && Object.keys(m.attributes).length > 0) msg.attributes = m.attributes;
  if (m.orderingKey) msg.orderingKey = m.orderingKey;
  return msg;
}

function decodePayload(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes.toString('base64');
  }
}

function checkPolicy(what: string, p: DeliveryPolicy): void {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError(`${what}: maxDeliveryAttempts must be an integer >= 1`);
  if (!(p.minBackoffMs >= 0) || !(p.maxBackoffMs >= p.minBackoffMs)) {
    throw new RangeError(`${what}: back-off must satisfy 0 <= minBackoffMs <= maxBackoffMs`);
  }
}
