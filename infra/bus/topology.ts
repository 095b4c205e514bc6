/**
 * Which function subscribes to which topic: the single list from which Pub/Sub subscriptions are
 * provisioned (the deploy's push subscriptions, infra/deploy/plan.ts; scripts/pubsub-provision.ts for
 * the emulator) and in-process subscriptions wired (local runtime).
 *
 * Keyed by every topic in shared/topics.ts so a new topic cannot be forgotten; a topic with no
 * subscriber yet has an empty list (it is still created, publishers need it). To subscribe a new
 * function, add an entry under its topic. Subscription name: `{function}--{topic}`.
 * Every subscription dead-letters to `${topic}-dlq` (shared/topics.ts `deadLetterTopic`).
 */
import { ALL_TOPICS, TOPICS, deadLetterTopic, type TopicName } from '../../shared/topics.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { LOCAL_PROJECT_ID, pushEndpoint } from './envelope.js';
import type { TopologySpec } from './pubsub.js';

interface SubscriberEntry {
  /** Function name (folder under functions/). */
  function: string;
  /** Deliver messages of one ordering key in order (the publisher must set the key). */
  enableOrdering?: boolean;
  /** Overrides of SystemConfig `delivery` for this subscription. */
  maxDeliveryAttempts?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Path appended to the push base URL when provisioning push subscriptions. */
  pushPath?: string;
}

export const SUBSCRIBERS: Record<TopicName, SubscriberEntry[]> = {
  [TOPICS.rawTicks]: [{ function: 'tick-archive' }],
  // Kraken batches carry orderingKey `kraken:{symbol}:{interval}`: swing fills in candle order.
  [TOPICS.krakenOhlc]: [{ function: 'execution', enableOrdering: true }],
  // Published with orderingKey `macro-bias:{symbol}`: the bias filter sees the updates in order.
  [TOPICS.macroBias]: [{ function: 'execution', enableOrdering: true }],
  // Signals go to the execution only: a signal reaches Telegram as its outcome on trade-events (one road).
  [TOPICS.microSignals]: [{ function: 'execution' }],
  // Closed candles are published with orderingKey = symbol; ingest, the scalp evaluation (its candle
  // window) and the execution (fills, exits, watermarks) must each see them in order.
  [TOPICS.bybitCandles]: [
    { function: 'candle-ingest', enableOrdering: true },
    { function: 'micro-scalp', enableOrdering: true },
    { function: 'execution', enableOrdering: true },
  ],
  // Snapshots carry orderingKey = symbol (book history in time order).
  [TOPICS.snapshots]: [{ function: 'micro-scalp', enableOrdering: true }],
  [TOPICS.swingSignals]: [{ function: 'execution' }],
  // Published with orderingKey = trade group: an exit never edits an alert before its entry. Every
  // signal's ONE outcome comes here too (order_placed or signal_rejected): the notifier's only road.
  [TOPICS.tradeEvents]: [{ function: 'notifier', enableOrdering: true }],
  // Owner commands from the Telegram bot (pause, resume, move TP, decided suggestions): idempotent by
  // commandId; pause / resume carry their own time, so no ordering key is needed.
  [TOPICS.tradeCommands]: [{ function: 'execution' }],
  [TOPICS.alerts]: [{ function: 'notifier' }],
  [TOPICS.telegramJobs]: [{ function: 'notifier' }],
};

export function subscriptionName(fn: string, topic: string): string {
  return `${fn}--${topic}`;
}

interface TopologyOptions {
  /** Delivery defaults (SystemConfig `delivery`). */
  delivery?: SystemConfig['delivery'];
  /**
   * When set, subscriptions are push subscriptions to `${pushBaseUrl}/${pushPath ?? function}` followed
   * by the topic's path (envelope.ts `pushEndpoint`: the function reads the topic from it).
   */
  pushBaseUrl?: string;
  /** The project in the push endpoints' topic paths (default the local project). */
  project?: string;
  /** A different subscriber list (tests, extensions); default SUBSCRIBERS. */
  subscribers?: Partial<Record<string, SubscriberEntry[]>>;
}

/** One TopologySpec per (topic, subscriber), ready for provisionTopology. */
export function topologySpecs(opts: TopologyOptions = {}): TopologySpec[] {
  const delivery = opts.delivery ?? DEFAULT_SYSTEM_CONFIG.delivery;
  const subscribers = opts.subscribers ?? SUBSCRIBERS;
  const specs: TopologySpec[] = [];
  for (const [topic, entries] of Object.entries(subscribers)) {
    for (const e of entries ?? []) {
      const spec: TopologySpec = {
        topic,
        subscription: subscriptionName(e.function, topic),
        maxDeliveryAttempts: e.maxDeliveryAttempts ?? delivery.maxAttempts,
        minBackoffMs: e.minBackoffMs ?? delivery.minBackoffMs,
        maxBackoffMs: e.maxBackoffMs ?? delivery.maxBackoffMs,
        enableOrdering: e.enableOrdering ?? false,
        deadLetterTopic: deadLetterTopic(topic),
      };
      if (opts.pushBaseUrl) spec.pushEndpoint = pushEndpoint(`${opts.pushBaseUrl.replace(/\/+$/, '')}/${e.pushPath ?? e.function}`, opts.project ?? LOCAL_PROJECT_ID, topic);
      specs.push(spec);
    }
  }
  return specs;
}

/**
 * The delivery attempts of the subscription of `fn` to `topic` (its topology entry, else SystemConfig
 * delivery's default): what the deploy gives the subscription, so what Pub/Sub counts to before it
 * dead-letters.
 */
export function maxDeliveryAttemptsOf(fn: string, topic: string): number {
  const e = SUBSCRIBERS[topic as TopicName]?.find((x) => x.function === fn);
  return e?.maxDeliveryAttempts ?? DEFAULT_SYSTEM_CONFIG.delivery.maxAttempts;
}

/** Every topic publishers use, with or without subscribers. */
export function topologyTopics(): string[] {
  return [...ALL_TOPICS];
}
