/**
 * End-to-end through a REAL Pub/Sub emulator: provision, publish with PubSubBus, pull with
 * PubSubPullRunner, retry, dead-letter. The emulator needs a Google download, so it cannot run on
 * the build machine: this suite runs ONLY when PUBSUB_EMULATOR_HOST is set, e.g.
 *   gcloud beta emulators pubsub start --host-port=127.0.0.1:8085 &
 *   PUBSUB_EMULATOR_HOST=127.0.0.1:8085 npx vitest run test/bus/pubsub-emulator.test.ts
 * Everything else about these adapters is covered against fakes in pubsub.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Message } from '@google-cloud/pubsub';
import { PubSubBus, PubSubPullRunner, createPubSubClient, deadLetterRetentionSubscription, provisionTopology } from '../../infra/bus/pubsub.js';
import { DEAD_LETTER_ATTRS } from '../../infra/bus/delivery.js';

import { decodeEnvelope } from '../../infra/bus/envelope.js';
import { TOPICS } from '../../shared/topics.js';
import { captureLog, fixtureCandles } from './helpers.js';

const EMULATOR = process.env.PUBSUB_EMULATOR_HOST;
const PROJECT = 'cst-emulator-test';
const WAIT_MS = 20_000;

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.runIf(Boolean(EMULATOR))('Pub/Sub emulator (PUBSUB_EMULATOR_HOST)', () => {
  it('provisions, publishes, delivers with retries and dead-letters', { timeout: 60_000 }, async () => {
    const client = createPubSubClient(PROJECT);
    const suffix = randomUUID().slice(0, 8);
    const topic = `candles-bybit-1m-${suffix}`;
    const subscription = `candle-ingest--${topic}`;
    const dlq = `${topic}-dlq`;
    const log = captureLog().log;
    const spec = { topic, subscription, maxDeliveryAttempts: 5, minBackoffMs: 10, maxBackoffMs: 50, enableOrdering: true };

    const dry = await provisionTopology(client, [spec], { dryRun: true, log });
    expect(dry.topics.map((t) => t.action)).toEqual(['create', 'create']);
    const plan = await provisionTopology(client, [spec], { dryRun: false, log });
    expect([...plan.topics, ...plan.subscriptions].every((x) => x.action === 'created')).toBe(true);

    const [good, bad] = fixtureCandles('BTCUSDT');
    const seen: Array<{ close: number | undefined; attempt: number | undefined }> = [];
    let failedOnce = false;
    const runner = new PubSubPullRunner(client, { projectId: PROJECT, log }).add({
      subscription,
      topic,
      maxDeliveryAttempts: 5,
      minBackoffMs: 10,
      maxBackoffMs: 50,
      handler: (ev) => {
        const { payload, deliveryAttempt } = decodeEnvelope(ev, TOPICS.bybitCandles);
        seen.push({ close: payload.candles[0]?.close, attempt: deliveryAttempt });
        if (payload.candles[0]?.close === good?.close && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
      },
    });
    const dead: Message[] = [];
    const dlqSub = client.subscription(deadLetterRetentionSubscription(dlq));
    dlqSub.on('message', (m: Message) => {
      dead.push(m);
      m.ack();
    });
    runner.start();

    const bus = new PubSubBus(client, { log });
    await bus.publish(topic, { candles: [good] }, { orderingKey: 'BTCUSDT', attributes: { symbol: 'BTCUSDT' } });
    // Real candle with high/low swapped: a PermanentError at the edge.
    await bus.publish(topic, { candles: [{ ...bad!, high: bad!.low, low: bad!.high }] }, { attributes: { symbol: 'BTCUSDT' } });

    await until(() => runner.stats().acked >= 1 && dead.length >= 1, 'ack and dead letter');
    expect(seen.filter((s) => s.close === good?.close).map((s) => s.attempt)).toEqual([1, 2]);
    const dl = dead[0]!;
    expect(dl.attributes[DEAD_LETTER_ATTRS.permanent]).toBe('true');
    expect(dl.attributes[DEAD_LETTER_ATTRS.deliveryCount]).toBe('1');
    expect(dl.attributes[DEAD_LETTER_ATTRS.reason]).toMatch(/OHLC out of order/);
    expect(JSON.parse(dl.data.toString('utf8')).candles[0].openTime).toBe(bad?.openTime);

    await runner.stop();
    await dlqSub.close();
    await bus.close();
    await client.subscription(subscription).delete();
    await client.subscription(deadLetterRetentionSubscription(dlq)).delete();
    await client.topic(topic).delete();
    await client.topic(dlq).delete();
    await client.close();
  });
});
