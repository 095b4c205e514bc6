import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { PermanentError } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import {
  asCloudEventFunction,
  asPubsubCloudEvent,
  buildPubsubCloudEvent,
  decodeEnvelope,
  encodePayload,
  type CloudEventHandler,
  type PubsubCloudEvent,
  envelopeJson,
  pubsubSource,
  subscriptionPath,
  toBinaryHttp,
  topicFromSource,
  topicPath,
} from '../../infra/bus/envelope.js';
import { fixtureCandles } from './helpers.js';

const candles = fixtureCandles('BTCUSDT').slice(0, 3);

function sample(over: Partial<Parameters<typeof buildPubsubCloudEvent>[0]> = {}): PubsubCloudEvent {
  return buildPubsubCloudEvent({
    projectId: 'cst-prod',
    topic: 'candles-bybit-1m',
    subscription: 'candle-ingest--candles-bybit-1m',
    data: encodePayload({ candles }),
    attributes: { symbol: 'BTCUSDT', interval: '1m' },
    messageId: '11837451287561',
    publishTime: '2025-05-29T17:08:00.123Z',
    orderingKey: 'BTCUSDT',
    deliveryAttempt: 2,
    ...over,
  });
}

describe('Pub/Sub CloudEvent envelope', () => {
  it('has the Eventarc messagePublished shape', () => {
    const ev = sample();
    expect(ev).toMatchObject({
      specversion: '1.0',
      id: '11837451287561',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: '//pubsub.googleapis.com/projects/cst-prod/topics/candles-bybit-1m',
      time: '2025-05-29T17:08:00.123Z',
      datacontenttype: 'application/json',
      data: {
        subscription: 'projects/cst-prod/subscriptions/candle-ingest--candles-bybit-1m',
        deliveryAttempt: 2,
        message: {
          messageId: '11837451287561',
          message_id: '11837451287561',
          publishTime: '2025-05-29T17:08:00.123Z',
          publish_time: '2025-05-29T17:08:00.123Z',
          attributes: { symbol: 'BTCUSDT', interval: '1m' },
          orderingKey: 'BTCUSDT',
        },
      },
    });
  });

  it('round-trips the real candle payload through base64 and the edge decoder', () => {
    const ev = sample();
    expect(ev.data.message.data).toBe(Buffer.from(JSON.stringify({ candles }), 'utf8').toString('base64'));
    expect(envelopeJson(ev)).toEqual({ candles });
    const decoded = decodeEnvelope<typeof TOPICS.bybitCandles>(ev);
    expect(decoded.topic).toBe(TOPICS.bybitCandles);
    expect(decoded.payload.candles.map((c) => c.close)).toEqual([106688.4, 106580.4, 106589.2]);
    expect(decoded.messageId).toBe('11837451287561');
    expect(decoded.deliveryAttempt).toBe(2);
    expect(decoded.attributes).toEqual({ symbol: 'BTCUSDT', interval: '1m' });
  });

  it('omits empty attributes, ordering key and deliveryAttempt as Pub/Sub does', () => {
    const ev = sample({ attributes: {}, orderingKey: '', deliveryAttempt: undefined });
    expect(ev.data.message).not.toHaveProperty('attributes');
    expect(ev.data.message).not.toHaveProperty('orderingKey');
    expect(ev.data).not.toHaveProperty('deliveryAttempt');
  });

  it('builds resource paths and parses the topic back from the source', () => {
    expect(topicPath('p', 't')).toBe('projects/p/topics/t');
    expect(topicPath('p', 'projects/q/topics/t')).toBe('projects/q/topics/t');
    expect(subscriptionPath('p', 's')).toBe('projects/p/subscriptions/s');
    expect(pubsubSource('p', 'raw-tick-data-bybit')).toBe('//pubsub.googleapis.com/projects/p/topics/raw-tick-data-bybit');
    expect(topicFromSource(sample().source)).toBe('candles-bybit-1m');
    expect(topicFromSource('//storage.googleapis.com/projects/_/buckets/b')).toBeUndefined();
  });

  it('narrows a functions-framework CloudEvent, rejecting non-Pub/Sub events as permanent', () => {
    const ev = sample();
    expect(asPubsubCloudEvent({ ...ev })).toEqual(ev);
    const storage = { specversion: '1.0', id: '1', source: '//storage.googleapis.com/projects/_/buckets/b', type: 'google.cloud.storage.object.v1.finalized', data: {} };
    expect(() => asPubsubCloudEvent(storage)).toThrow(PermanentError);
    expect(() => asPubsubCloudEvent(storage)).toThrow(/expected a google.cloud.pubsub.topic.v1.messagePublished CloudEvent/);
  });

  it('is received unchanged by a functions-framework cloudEvent function (binary and structured mode)', async () => {
    const received: PubsubCloudEvent[] = [];
    // A CloudEventHandler, registered through the adapter the functions use.
    const handler: CloudEventHandler = (ev) => void received.push(ev);
    ff.cloudEvent('busEnvelopeProbe', asCloudEventFunction(handler));
    const server = getTestServer('busEnvelopeProbe');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const ev = sample();
      const binary = toBinaryHttp(ev);
      const r1 = await fetch(url, { method: 'POST', headers: binary.headers, body: binary.body });
      expect(r1.status).toBe(204);
      const r2 = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify(ev),
      });
      expect(r2.status).toBe(204);
      expect(received).toHaveLength(2);
      for (const got of received) {
        expect(got.id).toBe(ev.id);
        expect(got.source).toBe(ev.source);
        expect(got.type).toBe(ev.type);
        expect(got.specversion).toBe('1.0');
        expect(got.time).toBe(ev.time);
        expect(got.data).toEqual(ev.data);
        expect(decodeEnvelope(got).payload).toEqual({ candles });
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
