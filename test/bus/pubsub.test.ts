/**
 * PubSubBus, provisionTopology, PubSubPullRunner and the provisioning CLI against fakes of the few
 * client methods they call (and, for provisioning, the REAL @google-cloud/pubsub client with only
 * its transport replaced, so the request bodies Pub/Sub would receive are checked).
 * No Pub/Sub emulator can run on this machine; the real-emulator path is exercised only when
 * PUBSUB_EMULATOR_HOST is set (pubsub-emulator.test.ts).
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { CreateSubscriptionOptions } from '@google-cloud/pubsub';
import {
  PubSubBus,
  PubSubPullRunner,
  createPubSubClient,
  msToDuration,
  provisionTopology,
  type ProvisionClient,
  type PublishMessageInput,
  type PublisherClient,
  type PublisherTopic,
  type PulledMessage,
  type PullClient,
  type TopologySpec,
} from '../../infra/bus/pubsub.js';
import { SUBSCRIBERS, topologySpecs, topologyTopics } from '../../infra/bus/topology.js';
import { DEAD_LETTER_ATTRS } from '../../infra/bus/delivery.js';
import { envelopeJson, LOCAL_PROJECT_ID, type PubsubCloudEvent } from '../../infra/bus/envelope.js';
import { run as runCli, HELP } from '../../scripts/pubsub-provision.js';
import { ALL_TOPICS, TOPICS } from '../../shared/topics.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { PermanentError } from '../../shared/ports/bus.js';
import { captureLog, fixtureCandles, flushAsync } from './helpers.js';

const PROJECT = 'cst-test';
const BTC = fixtureCandles('BTCUSDT');

// ------------------------------------------------------------------------------------------------
// Fakes

class FakeAdmin implements ProvisionClient {
  readonly topics = new Set<string>();
  readonly subs = new Map<string, { topic: string; options: CreateSubscriptionOptions | undefined }>();
  readonly created: string[] = [];
  /** Names that another provisioner creates between our exists() and create(). */
  readonly raceOn = new Set<string>();
  closed = false;

  topic(name: string) {
    return { name: `projects/${PROJECT}/topics/${name}`, exists: async (): Promise<[boolean]> => [this.topics.has(name)] };
  }
  subscription(name: string) {
    return { exists: async (): Promise<[boolean]> => [this.subs.has(name)] };
  }
  async createTopic(name: string) {
    if (this.topics.has(name) || this.raceOn.has(name)) throw Object.assign(new Error('6 ALREADY_EXISTS: Topic already exists'), { code: 6 });
    this.topics.add(name);
    this.created.push(`topic:${name}`);
  }
  async createSubscription(topic: string, name: string, options?: CreateSubscriptionOptions) {
    if (!this.topics.has(topic)) throw Object.assign(new Error(`5 NOT_FOUND: topic ${topic}`), { code: 5 });
    if (this.subs.has(name)) throw Object.assign(new Error('6 ALREADY_EXISTS'), { code: 6 });
    this.subs.set(name, { topic, options });
    this.created.push(`sub:${name}`);
  }
  async close() {
    this.closed = true;
  }
}

class FakeTopic implements PublisherTopic {
  readonly published: PublishMessageInput[] = [];
  flushed = 0;
  resumed: string[] = [];
  failNext?: Error;
  private next = 1000;
  constructor(
    readonly name: string,
    readonly options: { messageOrdering?: boolean } | undefined,
  ) {}
  async publishMessage(m: PublishMessageInput): Promise<string> {
    if (this.failNext) {
      const e = this.failNext;
      delete this.failNext;
      throw e;
    }
    this.published.push(m);
    return String(this.next++);
  }
  async flush() {
    this.flushed++;
  }
  resumePublishing(key: string) {
    this.resumed.push(key);
  }
}

class FakePublisher implements PublisherClient {
  readonly topics: FakeTopic[] = [];
  closed = false;
  topic(name: string, options?: { messageOrdering?: boolean }) {
    const t = new FakeTopic(`projects/${PROJECT}/topics/${name}`, options);
    this.topics.push(t);
    return t;
  }
  async close() {
    this.closed = true;
  }
}

class FakeSubscription extends EventEmitter {
  closed = false;
  constructor(readonly options: unknown) {
    super();
  }
  async close() {
    this.closed = true;
  }
}

class FakePullClient implements PullClient {
  readonly subs = new Map<string, FakeSubscription>();
  readonly dlq: Array<{ topic: string; message: PublishMessageInput }> = [];
  subscription(name: string, options?: unknown) {
    const s = new FakeSubscription(options);
    this.subs.set(name, s);
    return s;
  }
  topic(name: string) {
    return {
      publishMessage: async (message: PublishMessageInput) => {
        this.dlq.push({ topic: name, message });
        return 'dlq-1';
      },
    };
  }
}

function pulled(id: string, payload: unknown, deliveryAttempt: number, extra: Partial<PulledMessage> = {}) {
  const acks = { ack: 0, nack: 0 };
  const m: PulledMessage = {
    id,
    data: Buffer.from(JSON.stringify(payload)),
    attributes: { symbol: 'BTCUSDT' },
    publishTime: new Date('2025-05-29T17:13:00.250Z'),
    orderingKey: 'BTCUSDT',
    deliveryAttempt,
    ack: () => void acks.ack++,
    nack: () => void acks.nack++,
    ...extra,
  };
  return { m, acks };
}

// ------------------------------------------------------------------------------------------------

/** A fixed two-subscriber topology, so these tests do not change whenever a function subscribes somewhere. */
const FIXED_SUBSCRIBERS = {
  [TOPICS.rawTicks]: [{ function: 'tick-archive' }],
  [TOPICS.bybitCandles]: [{ function: 'candle-ingest', enableOrdering: true }],
};

describe('provisionTopology', () => {
  const specs = topologySpecs({ subscribers: FIXED_SUBSCRIBERS });

  it('dry run reports everything as to-be-created and creates nothing', async () => {
    const admin = new FakeAdmin();
    const plan = await provisionTopology(admin, specs, { dryRun: true, topics: topologyTopics(), log: captureLog().log });
    expect(admin.created).toEqual([]);
    expect(plan.dryRun).toBe(true);
    expect(plan.topics.map((t) => [t.name, t.role, t.action])).toEqual([
      ...ALL_TOPICS.map((t) => [t, 'topic', 'create']),
      ['raw-tick-data-bybit-dlq', 'dead-letter', 'create'],
      ['candles-bybit-1m-dlq', 'dead-letter', 'create'],
    ]);
    expect(plan.subscriptions.map((s) => [s.name, s.topic, s.action])).toEqual([
      ['tick-archive--raw-tick-data-bybit', 'raw-tick-data-bybit', 'create'],
      ['candle-ingest--candles-bybit-1m', 'candles-bybit-1m', 'create'],
      ['dead-letters--raw-tick-data-bybit-dlq', 'raw-tick-data-bybit-dlq', 'create'],
      ['dead-letters--candles-bybit-1m-dlq', 'candles-bybit-1m-dlq', 'create'],
    ]);
  });

  it('creates what is missing with deadLetterPolicy and retryPolicy, keeps what exists, and is idempotent', async () => {
    const admin = new FakeAdmin();
    admin.topics.add(TOPICS.rawTicks);
    admin.topics.add('raw-tick-data-bybit-dlq');
    admin.subs.set('tick-archive--raw-tick-data-bybit', { topic: TOPICS.rawTicks, options: undefined });
    const plan = await provisionTopology(admin, specs, { dryRun: false, topics: topologyTopics(), log: captureLog().log });

    expect(plan.topics.find((t) => t.name === TOPICS.rawTicks)?.action).toBe('exists');
    expect(plan.topics.find((t) => t.name === TOPICS.bybitCandles)?.action).toBe('created');
    expect(plan.subscriptions.find((s) => s.name === 'tick-archive--raw-tick-data-bybit')?.action).toBe('exists');
    expect(admin.created).not.toContain(`topic:${TOPICS.rawTicks}`);
    expect(admin.created).toContain('sub:candle-ingest--candles-bybit-1m');
    for (const t of [...ALL_TOPICS, 'raw-tick-data-bybit-dlq', 'candles-bybit-1m-dlq']) expect(admin.topics.has(t)).toBe(true);

    expect(admin.subs.get('candle-ingest--candles-bybit-1m')).toEqual({
      topic: 'candles-bybit-1m',
      options: {
        deadLetterPolicy: { deadLetterTopic: `projects/${PROJECT}/topics/candles-bybit-1m-dlq`, maxDeliveryAttempts: 5 },
        retryPolicy: { minimumBackoff: { seconds: 10, nanos: 0 }, maximumBackoff: { seconds: 600, nanos: 0 } },
        enableMessageOrdering: true,
      },
    });
    expect(admin.subs.get('dead-letters--candles-bybit-1m-dlq')).toEqual({
      topic: 'candles-bybit-1m-dlq',
      options: { messageRetentionDuration: 7 * 24 * 3600 },
    });

    const before = admin.created.length;
    const again = await provisionTopology(admin, specs, { dryRun: false, topics: topologyTopics(), log: captureLog().log });
    expect(admin.created.length).toBe(before);
    expect([...again.topics, ...again.subscriptions].every((x) => x.action === 'exists')).toBe(true);
  });

  it('treats ALREADY_EXISTS from a concurrent provisioner as existing', async () => {
    const admin = new FakeAdmin();
    admin.raceOn.add(TOPICS.bybitCandles);
    admin.topics.add(TOPICS.rawTicks);
    const raceSpecs = specs.filter((s) => s.topic === TOPICS.rawTicks);
    const plan = await provisionTopology(admin, raceSpecs, { dryRun: false, topics: [TOPICS.bybitCandles], log: captureLog().log });
    expect(plan.topics.find((t) => t.name === TOPICS.bybitCandles)?.action).toBe('exists');
  });

  it('sends push endpoints and custom back-off; rejects values Pub/Sub would reject', async () => {
    const admin = new FakeAdmin();
    const push = topologySpecs({ pushBaseUrl: 'https://cst-run-abc.a.run.app/', delivery: { maxAttempts: 10, minBackoffMs: 1_500, maxBackoffMs: 90_000 } });
    await provisionTopology(admin, push, { dryRun: false, log: captureLog().log });
    expect(admin.subs.get('tick-archive--raw-tick-data-bybit')?.options).toEqual({
      deadLetterPolicy: { deadLetterTopic: `projects/${PROJECT}/topics/raw-tick-data-bybit-dlq`, maxDeliveryAttempts: 10 },
      retryPolicy: { minimumBackoff: { seconds: 1, nanos: 500_000_000 }, maximumBackoff: { seconds: 90, nanos: 0 } },
      enableMessageOrdering: false,
      pushEndpoint: `https://cst-run-abc.a.run.app/tick-archive/projects/${LOCAL_PROJECT_ID}/topics/raw-tick-data-bybit`,
    });
    const base: TopologySpec = { topic: 't', subscription: 's', maxDeliveryAttempts: 5, minBackoffMs: 0, maxBackoffMs: 1 };
    await expect(provisionTopology(admin, [{ ...base, maxDeliveryAttempts: 4 }], { dryRun: true })).rejects.toThrow(/outside Pub\/Sub's 5-100/);
    await expect(provisionTopology(admin, [{ ...base, maxBackoffMs: 600_001 }], { dryRun: true })).rejects.toThrow(/maxBackoffMs <= 600000/);
    await expect(provisionTopology(admin, [base, { ...base, topic: 'u' }], { dryRun: true })).rejects.toThrow(/listed for both t and u/);
    expect(msToDuration(61_250)).toEqual({ seconds: 61, nanos: 250_000_000 });
  });

  it('sends the expected request bodies through the real @google-cloud/pubsub client (transport replaced)', async () => {
    const client = createPubSubClient(PROJECT);
    const requests: Array<{ method: string; reqOpts: Record<string, unknown> }> = [];
    const notFound = () => Object.assign(new Error('5 NOT_FOUND'), { code: 5 });
    const gapic = new Proxy(
      {},
      {
        get: (_t, method: string) => (reqOpts: Record<string, unknown>, _gax: unknown, cb: (err: Error | null, resp?: unknown) => void) => {
          requests.push({ method, reqOpts });
          if (method === 'getTopic' || method === 'getSubscription') cb(notFound());
          else cb(null, reqOpts);
        },
      },
    );
    (client as unknown as { getClient_: (c: unknown, cb: (e: null, g: unknown) => void) => void }).getClient_ = (_c, cb) => cb(null, gapic);
    await provisionTopology(client, specs.filter((s) => s.topic === TOPICS.bybitCandles), { dryRun: false, log: captureLog().log });
    await client.close();

    expect(requests.filter((r) => r.method === 'createTopic').map((r) => r.reqOpts.name)).toEqual([
      `projects/${PROJECT}/topics/candles-bybit-1m`,
      `projects/${PROJECT}/topics/candles-bybit-1m-dlq`,
    ]);
    const subs = requests.filter((r) => r.method === 'createSubscription').map((r) => r.reqOpts);
    expect(subs[0]).toMatchObject({
      name: `projects/${PROJECT}/subscriptions/candle-ingest--candles-bybit-1m`,
      topic: `projects/${PROJECT}/topics/candles-bybit-1m`,
      deadLetterPolicy: { deadLetterTopic: `projects/${PROJECT}/topics/candles-bybit-1m-dlq`, maxDeliveryAttempts: 5 },
      retryPolicy: { minimumBackoff: { seconds: 10, nanos: 0 }, maximumBackoff: { seconds: 600, nanos: 0 } },
      enableMessageOrdering: true,
    });
    expect(subs[1]).toMatchObject({
      name: `projects/${PROJECT}/subscriptions/dead-letters--candles-bybit-1m-dlq`,
      topic: `projects/${PROJECT}/topics/candles-bybit-1m-dlq`,
      messageRetentionDuration: { seconds: 7 * 24 * 3600, nanos: 0 },
    });
  });

  it('covers every topic of shared/topics.ts in the subscriber list', () => {
    expect(Object.keys(SUBSCRIBERS).sort()).toEqual([...ALL_TOPICS].sort());
    const names = topologySpecs().map((s) => s.subscription);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['tick-archive--raw-tick-data-bybit', 'candle-ingest--candles-bybit-1m']));
    for (const spec of topologySpecs()) expect(spec.subscription).toBe(`${spec.subscription.split('--')[0]}--${spec.topic}`);
    expect(topologySpecs({ subscribers: { [TOPICS.alerts]: [{ function: 'notifier', maxDeliveryAttempts: 20 }] } })).toEqual([
      {
        topic: 'system-alerts',
        subscription: 'notifier--system-alerts',
        maxDeliveryAttempts: 20,
        minBackoffMs: DEFAULT_SYSTEM_CONFIG.delivery.minBackoffMs,
        maxBackoffMs: DEFAULT_SYSTEM_CONFIG.delivery.maxBackoffMs,
        enableOrdering: false,
        deadLetterTopic: 'system-alerts-dlq',
      },
    ]);
  });
});

describe('PubSubBus', () => {
  it('publishes JSON with attributes on a cached topic without ordering', async () => {
    const client = new FakePublisher();
    const bus = new PubSubBus(client, { log: captureLog().log });
    const id1 = await bus.publish(TOPICS.bybitCandles, { candles: [BTC[0]] }, { attributes: { symbol: 'BTCUSDT' } });
    const id2 = await bus.publish(TOPICS.bybitCandles, { candles: [BTC[1]] });
    expect([id1, id2]).toEqual(['1000', '1001']);
    expect(client.topics).toHaveLength(1);
    const [t] = client.topics;
    expect(t?.options).toBeUndefined();
    expect(t?.published.map((m) => JSON.parse(m.data.toString('utf8')))).toEqual([{ candles: [BTC[0]] }, { candles: [BTC[1]] }]);
    expect(t?.published[0]?.attributes).toEqual({ symbol: 'BTCUSDT' });
    expect(t?.published[1]).not.toHaveProperty('attributes');
    expect(t?.published[0]).not.toHaveProperty('orderingKey');
  });

  it('enables message ordering on the publisher when an ordering key is used, and resumes the key after a failure', async () => {
    const client = new FakePublisher();
    const bus = new PubSubBus(client, { log: captureLog().log });
    await bus.publish(TOPICS.bybitCandles, { candles: [BTC[0]] }, { orderingKey: 'BTCUSDT' });
    await bus.publish(TOPICS.bybitCandles, { candles: [BTC[1]] }, { orderingKey: 'BTCUSDT' });
    expect(client.topics).toHaveLength(1);
    const ordered = client.topics[0]!;
    expect(ordered.options).toEqual({ messageOrdering: true });
    expect(ordered.published.map((m) => m.orderingKey)).toEqual(['BTCUSDT', 'BTCUSDT']);

    ordered.failNext = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    await expect(bus.publish(TOPICS.bybitCandles, { candles: [BTC[2]] }, { orderingKey: 'BTCUSDT' })).rejects.toThrow('UNAVAILABLE');
    expect(ordered.resumed).toEqual(['BTCUSDT']);
  });

  it('rejects oversize attributes before calling Pub/Sub; close() flushes every topic and closes an owned client', async () => {
    const client = new FakePublisher();
    const bus = new PubSubBus(client, { ownsClient: true, log: captureLog().log });
    await expect(bus.publish(TOPICS.alerts, { kind: 'x' }, { attributes: { k: 'v'.repeat(2000) } })).rejects.toThrow(/exceeds 1024/);
    expect(client.topics).toHaveLength(0);
    await bus.publish(TOPICS.alerts, { kind: 'stale' });
    await bus.publish(TOPICS.bybitCandles, { candles: [BTC[0]] }, { orderingKey: 'BTCUSDT' });
    await bus.close();
    expect(client.topics.map((t) => t.flushed)).toEqual([1, 1]);
    expect(client.closed).toBe(true);
    await expect(bus.publish(TOPICS.alerts, { kind: 'late' })).rejects.toThrow(/closed/);

    const shared = new FakePublisher();
    const bus2 = new PubSubBus(shared, { log: captureLog().log });
    await bus2.close();
    expect(shared.closed).toBe(false);
  });
});

describe('PubSubPullRunner', () => {
  function runner(opts: { clock?: ManualClock; localBackoff?: boolean } = {}) {
    const client = new FakePullClient();
    const events: PubsubCloudEvent[] = [];
    const logs = captureLog();
    let behaviour: (ev: PubsubCloudEvent) => void = () => {};
    const r = new PubSubPullRunner(client, { projectId: PROJECT, log: logs.log, localBackoff: opts.localBackoff ?? false, ...(opts.clock ? { clock: opts.clock } : {}) });
    r.add({
      subscription: 'candle-ingest--candles-bybit-1m',
      topic: TOPICS.bybitCandles,
      maxDeliveryAttempts: 3,
      minBackoffMs: 1_000,
      maxBackoffMs: 4_000,
      handler: (ev) => {
        events.push(ev);
        behaviour(ev);
      },
    });
    r.start();
    const sub = client.subs.get('candle-ingest--candles-bybit-1m')!;
    return { client, r, sub, events, logs, setBehaviour: (b: typeof behaviour) => (behaviour = b) };
  }

  it('invokes the handler with the Eventarc envelope and acks on success', async () => {
    const { sub, events, r } = runner();
    const { m, acks } = pulled('9001', { candles: [BTC[0]] }, 2);
    sub.emit('message', m);
    await flushAsync();
    expect(acks).toEqual({ ack: 1, nack: 0 });
    const ev = events[0]!;
    expect(ev).toMatchObject({
      id: '9001',
      source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/candles-bybit-1m`,
      time: '2025-05-29T17:13:00.250Z',
      data: {
        subscription: `projects/${PROJECT}/subscriptions/candle-ingest--candles-bybit-1m`,
        deliveryAttempt: 2,
        message: { attributes: { symbol: 'BTCUSDT' }, orderingKey: 'BTCUSDT', messageId: '9001' },
      },
    });
    expect(envelopeJson(ev)).toEqual({ candles: [BTC[0]] });
    expect(r.stats()).toEqual({ deliveries: 1, acked: 1, nacked: 0, deadLettered: 0 });
    await r.stop();
    expect(sub.closed).toBe(true);
  });

  it('nacks failures, counts attempts itself when the emulator does not, and dead-letters after maxDeliveryAttempts', async () => {
    const { sub, events, client, r, setBehaviour } = runner();
    setBehaviour(() => {
      throw new Error('state store unavailable');
    });
    const all: Array<{ ack: number; nack: number }> = [];
    for (let i = 0; i < 3; i++) {
      const { m, acks } = pulled('9002', { candles: [BTC[1]] }, 0);
      all.push(acks);
      sub.emit('message', m);
      await flushAsync();
    }
    expect(events.map((e) => e.data.deliveryAttempt)).toEqual([1, 2, 3]);
    expect(all).toEqual([
      { ack: 0, nack: 1 },
      { ack: 0, nack: 1 },
      { ack: 1, nack: 0 },
    ]);
    expect(client.dlq).toHaveLength(1);
    const d = client.dlq[0]!;
    expect(d.topic).toBe('candles-bybit-1m-dlq');
    expect(JSON.parse(d.message.data.toString('utf8'))).toEqual({ candles: [BTC[1]] });
    expect(d.message.attributes).toMatchObject({
      symbol: 'BTCUSDT',
      [DEAD_LETTER_ATTRS.deliveryCount]: '3',
      [DEAD_LETTER_ATTRS.reason]: 'state store unavailable',
      [DEAD_LETTER_ATTRS.subscription]: 'candle-ingest--candles-bybit-1m',
      [DEAD_LETTER_ATTRS.permanent]: 'false',
    });
    expect(r.stats()).toEqual({ deliveries: 3, acked: 0, nacked: 2, deadLettered: 1 });
  });

  it('dead-letters a PermanentError on the first delivery', async () => {
    const { sub, client, setBehaviour } = runner();
    setBehaviour(() => {
      throw new PermanentError('payload failed validation: candles: Too small');
    });
    const { m, acks } = pulled('9003', { candles: [] }, 1);
    sub.emit('message', m);
    await flushAsync();
    expect(acks).toEqual({ ack: 1, nack: 0 });
    expect(client.dlq[0]?.message.attributes).toMatchObject({
      [DEAD_LETTER_ATTRS.deliveryCount]: '1',
      [DEAD_LETTER_ATTRS.permanent]: 'true',
      [DEAD_LETTER_ATTRS.reason]: 'payload failed validation: candles: Too small',
    });
  });

  it('with localBackoff, holds the nack for the back-off (the emulator redelivers at once)', async () => {
    const clock = new ManualClock(0);
    const { sub, setBehaviour } = runner({ clock, localBackoff: true });
    setBehaviour(() => {
      throw new Error('down');
    });
    const { m, acks } = pulled('9004', { candles: [BTC[2]] }, 2);
    sub.emit('message', m);
    await flushAsync();
    expect(acks.nack).toBe(0);
    await clock.advance(1_999); // attempt 2 -> 1000 * 2
    await flushAsync();
    expect(acks.nack).toBe(0);
    await clock.advance(1);
    await flushAsync();
    expect(acks.nack).toBe(1);
  });
});

describe('scripts/pubsub-provision.ts', () => {
  it('prints help, rejects unknown flags and needs a target', async () => {
    const out: string[] = [];
    expect(await runCli(['--help'], { env: {}, out: (s) => out.push(s) })).toBe(0);
    expect(out.join('')).toBe(HELP);
    expect(await runCli(['--frobnicate'], { env: {}, out: (s) => out.push(s) })).toBe(2);
    expect(await runCli([], { env: {}, out: (s) => out.push(s) })).toBe(2);
    expect(out.at(-1)).toMatch(/set PUBSUB_EMULATOR_HOST/);
  });

  it('dry-runs against the emulator target, then provisions, reporting the plan', async () => {
    const admin = new FakeAdmin();
    const out: string[] = [];
    const deps = { env: { PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' }, out: (s: string) => out.push(s), client: () => admin, probe: async () => {} };
    expect(await runCli(['--dry-run', '--json'], deps)).toBe(0);
    const plan = JSON.parse(out.join('')) as { project: string; dryRun: boolean; subscriptions: Array<{ name: string; action: string }> };
    expect(plan.project).toBe('local-project');
    expect(plan.dryRun).toBe(true);
    const all = topologySpecs();
    const dlqs = new Set(all.map((x) => x.deadLetterTopic));
    expect(plan.subscriptions.map((s) => s.action)).toEqual(Array(all.length + dlqs.size).fill('create'));
    expect(admin.created).toEqual([]);
    expect(admin.closed).toBe(true);

    out.length = 0;
    expect(await runCli(['--project', 'cst-prod'], deps)).toBe(0);
    const expected = ALL_TOPICS.length + 2 * dlqs.size + all.length;
    expect(admin.created).toHaveLength(expected);
    expect(out.join('')).toMatch(/created\s+candle-ingest--candles-bybit-1m <- candles-bybit-1m {2}\[maxDeliveryAttempts=5 backoff=10s\.\.600s ordered pull\]/);
    expect(out.join('')).toContain(`${expected} resource(s) created.`);
  });

  it('reports an unreachable emulator instead of hanging', async () => {
    const out: string[] = [];
    const code = await runCli(['--dry-run'], {
      env: { PUBSUB_EMULATOR_HOST: '127.0.0.1:1' },
      out: (s) => out.push(s),
      client: () => new FakeAdmin(),
    });
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/not reachable/);
  });
});
