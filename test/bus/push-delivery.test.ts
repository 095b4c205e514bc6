/**
 * The deployed road of a Pub/Sub message, offline: the real functions-framework server of a Pub/Sub
 * function registered the way functions/<name>/index.ts does it (`servePubsub`), called with the raw
 * body Pub/Sub POSTs to a push endpoint (`pushEndpoint`, the URL the deploy gives the subscription).
 * The message is a real candles-bybit-1m message: real candles, validated and encoded by the real
 * publisher path (shared/messages.ts `publish` through the Pub/Sub bus adapter).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PubSubBus, type PublisherClient } from '../../infra/bus/pubsub.js';
import { asCloudEventFunction, buildPubsubCloudEvent, pubsubEventFromPush, pushEndpoint, toBinaryHttp, type PubsubCloudEvent } from '../../infra/bus/envelope.js';
import { servePubsub } from '../../infra/functions.js';
import type { FunctionDeps } from '../../infra/runtime/deps.js';
import { publish, type BusMessage } from '../../shared/messages.js';
import { PermanentError } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import { captureLog, fixtureCandles } from './helpers.js';

const FN = 'candle-ingest';
const PROJECT = 'p1';
const TOPIC = TOPICS.bybitCandles;
const candles = fixtureCandles('BTCUSDT').slice(0, 2);

interface Published {
  data: Buffer;
  attributes?: Record<string, string>;
  orderingKey?: string;
}

/** The bytes, attributes and ordering key the Pub/Sub adapter hands to the client library. */
async function realMessage(): Promise<Published> {
  const sent: Published[] = [];
  const client: PublisherClient = {
    topic: (name) => ({
      name: `projects/${PROJECT}/topics/${name}`,
      flush: async () => undefined,
      publishMessage: async (m: Published) => {
        sent.push(m);
        return 'server-id';
      },
      resumePublishing: () => undefined,
    }),
  };
  const bus = new PubSubBus(client, { log: captureLog().log });
  await publish(bus, TOPIC, { candles }, { orderingKey: 'BTCUSDT', attributes: { symbol: 'BTCUSDT', kind: 'live' } });
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

/** The JSON body Pub/Sub POSTs to a push endpoint (wrapped form, dead-lettering on: deliveryAttempt present). */
function pushBody(m: Published, o: { messageId: string; deliveryAttempt: number; data?: string }) {
  return {
    message: {
      data: o.data ?? m.data.toString('base64'),
      attributes: m.attributes,
      messageId: o.messageId,
      message_id: o.messageId,
      publishTime: '2025-05-29T17:08:00.123Z',
      publish_time: '2025-05-29T17:08:00.123Z',
      orderingKey: m.orderingKey,
    },
    subscription: `projects/${PROJECT}/subscriptions/${FN}--${TOPIC}`,
    deliveryAttempt: o.deliveryAttempt,
  };
}

describe('Pub/Sub push to a deployed Pub/Sub function (real functions-framework server)', () => {
  const received: BusMessage[] = [];
  const failWith = new Map<string, Error>();
  const logs = captureLog();
  let server: Server;
  let base: string;
  let message: Published;

  beforeAll(async () => {
    message = await realMessage();
    const handle = async (_d: FunctionDeps[typeof FN], msg: never): Promise<void> => {
      const m = msg as BusMessage;
      received.push(m);
      const e = failWith.get(m.messageId);
      if (e) throw e;
    };
    servePubsub(FN, handle, async () => ({ log: logs.log }) as unknown as FunctionDeps[typeof FN]);
    server = getTestServer(FN);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** POSTs to the function's push endpoint for `topic`, as the deploy configures it. */
  const push = (body: unknown, url = pushEndpoint(base, PROJECT, TOPIC)) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('hands the handle the decoded message with its topic, attributes, ordering key and delivery attempt; 2xx acks it', async () => {
    expect(pushEndpoint(base, PROJECT, TOPIC)).toBe(`${base}/projects/p1/topics/candles-bybit-1m`);
    const res = await push(pushBody(message, { messageId: 'm-ok', deliveryAttempt: 3 }));
    expect(res.status).toBe(204);
    const got = received.find((m) => m.messageId === 'm-ok')!;
    expect(got).toBeDefined();
    expect(got.topic).toBe(TOPIC);
    expect(got.payload).toEqual({ candles });
    expect(got.attributes).toEqual({ symbol: 'BTCUSDT', kind: 'live' });
    expect(got.orderingKey).toBe('BTCUSDT');
    expect(got.deliveryAttempt).toBe(3);
    expect(got.publishTime).toBe('2025-05-29T17:08:00.123Z');
  });

  it('a handler failure answers non-2xx (Pub/Sub redelivers, then dead-letters); a permanent one too', async () => {
    failWith.set('m-fail', new Error('Firestore unavailable'));
    const r1 = await push(pushBody(message, { messageId: 'm-fail', deliveryAttempt: 1 }));
    expect(r1.status).toBe(500);
    expect(await r1.text()).not.toContain('Firestore unavailable');
    failWith.set('m-perm', new PermanentError('cannot ever be handled'));
    const r2 = await push(pushBody(message, { messageId: 'm-perm', deliveryAttempt: 5 }));
    expect(r2.status).toBe(400);
    expect(received.filter((m) => m.messageId === 'm-fail' || m.messageId === 'm-perm').map((m) => m.deliveryAttempt)).toEqual([1, 5]);
  });

  it('an invalid payload, a body that is no push, or an endpoint without the topic is refused non-2xx before the handle', async () => {
    const before = received.length;
    const bad = Buffer.from(JSON.stringify({ candles: [{ symbol: 'BTCUSDT' }] })).toString('base64');
    expect((await push(pushBody(message, { messageId: 'm-bad', deliveryAttempt: 1, data: bad }))).status).toBe(400);
    expect((await push({ hello: 'world' })).status).toBe(400);
    expect((await push(pushBody(message, { messageId: 'm-nopath', deliveryAttempt: 1 }), `${base}/`)).status).toBe(400);
    expect(received.length).toBe(before);
    expect(logs.entries.some((e) => String(e.message).includes('rejected'))).toBe(true);
  });

  it('still takes an Eventarc CloudEvent (binary mode), so messages in flight during the switch are handled', async () => {
    const ev = buildPubsubCloudEvent({
      projectId: PROJECT,
      topic: TOPIC,
      subscription: `eventarc-europe-west1-${FN}--${TOPIC}-sub-1`,
      data: message.data.toString('base64'),
      attributes: message.attributes!,
      messageId: 'm-ce',
      publishTime: '2025-05-29T17:08:00.123Z',
      orderingKey: 'BTCUSDT',
      deliveryAttempt: 2,
    });
    const http = toBinaryHttp(ev);
    const res = await fetch(`${base}/`, { method: 'POST', headers: http.headers, body: http.body });
    expect(res.status).toBe(204);
    const got = received.find((m) => m.messageId === 'm-ce')!;
    expect([got.topic, got.deliveryAttempt, got.orderingKey]).toEqual([TOPIC, 2, 'BTCUSDT']);
  });
});

describe('why the Pub/Sub functions are not functions-framework CloudEvent functions', () => {
  it("functions-framework's own marshalling of a push body loses the ordering key, the delivery attempt and the subscription", async () => {
    const message = await realMessage();
    const got: PubsubCloudEvent[] = [];
    ff.cloudEvent('pushMarshallingProbe', asCloudEventFunction((ev) => void got.push(ev)));
    const server = getTestServer('pushMarshallingProbe');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const body = pushBody(message, { messageId: 'm-ff', deliveryAttempt: 4 });
      const res = await fetch(pushEndpoint(base, PROJECT, TOPIC), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(204);
      expect(got).toHaveLength(1);
      // The topic survives (from the path) ...
      expect(got[0]!.source).toBe(`//pubsub.googleapis.com/projects/${PROJECT}/topics/${TOPIC}`);
      // ... but what an ordered, dead-lettering subscription tells the handler does not.
      expect(got[0]!.data.deliveryAttempt).toBeUndefined();
      expect(got[0]!.data.message.orderingKey).toBeUndefined();
      expect(got[0]!.data.subscription).toBeUndefined();
      // Our own reading of the same body keeps all three.
      const ours = pubsubEventFromPush(body, `/projects/${PROJECT}/topics/${TOPIC}`);
      expect([ours.data.deliveryAttempt, ours.data.message.orderingKey, ours.data.subscription]).toEqual([4, 'BTCUSDT', `projects/${PROJECT}/subscriptions/${FN}--${TOPIC}`]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
