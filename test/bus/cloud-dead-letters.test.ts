/**
 * Dead letters on Google Cloud (`npm run deadletters -- list|replay --project P --topic T`), against a
 * stateful fake of the Pub/Sub calls: a replay publishes each selected dead letter again on its topic
 * with its data, its own attributes and its ordering key, acknowledges it only once published, and
 * leaves the rest (other subscriptions, failed publishes) on the dead-letter topic; a list takes nothing.
 */
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_ATTRIBUTES, REPLAYED_FROM_ATTRIBUTE, type CloudDeadLetter, type DeadLetterPort } from '../../infra/bus/cloud-dead-letters.js';
import { runCloudDeadLetters } from '../../scripts/deadletters.js';
import { TOPICS } from '../../shared/topics.js';

class FakePubSub implements DeadLetterPort {
  /** Messages on each subscription, with whether one is leased (pulled, not yet acked or released). */
  readonly subs = new Map<string, Array<CloudDeadLetter & { leased: boolean }>>();
  readonly published: Array<{ topic: string; data: string; attributes: Record<string, string>; orderingKey?: string }> = [];
  failPublish = false;

  async pull(subscription: string, max: number): Promise<CloudDeadLetter[]> {
    const free = (this.subs.get(subscription) ?? []).filter((m) => !m.leased).slice(0, max);
    for (const m of free) m.leased = true;
    return free.map(({ leased: _l, ...m }) => m);
  }
  async acknowledge(subscription: string, ackIds: string[]): Promise<void> {
    this.subs.set(subscription, (this.subs.get(subscription) ?? []).filter((m) => !ackIds.includes(m.ackId)));
  }
  readonly extended: number[] = [];
  async extend(_subscription: string, ackIds: string[], seconds: number): Promise<void> {
    for (const _ of ackIds) this.extended.push(seconds);
  }
  async release(subscription: string, ackIds: string[]): Promise<void> {
    for (const m of this.subs.get(subscription) ?? []) if (ackIds.includes(m.ackId)) m.leased = false;
  }
  async publish(topic: string, m: { data: Buffer; attributes: Record<string, string>; orderingKey?: string }): Promise<string> {
    if (this.failPublish) throw new Error('PERMISSION_DENIED: pubsub.topics.publish');
    this.published.push({ topic, data: m.data.toString(), attributes: m.attributes, ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}) });
    return `new-${this.published.length}`;
  }
}

const topic = TOPICS.bybitCandles;
const retention = `dead-letters--${topic}-dlq`;
function deadLetter(id: string, subscription: string): CloudDeadLetter & { leased: boolean } {
  return {
    ackId: `ack-${id}`,
    messageId: id,
    data: Buffer.from(JSON.stringify({ candles: [{ symbol: 'BTCUSDT', openTime: 1749600000000 }] })),
    attributes: {
      symbol: 'BTCUSDT',
      [DEAD_LETTER_ATTRIBUTES.subscription]: `projects/p1/subscriptions/${subscription}`,
      [DEAD_LETTER_ATTRIBUTES.subscriptionProject]: 'p1',
      [DEAD_LETTER_ATTRIBUTES.deliveryCount]: '5',
      [DEAD_LETTER_ATTRIBUTES.publishTime]: '2025-06-11T00:01:00Z',
    },
    orderingKey: 'BTCUSDT',
    leased: false,
  };
}

describe('dead letters on Google Cloud', () => {
  it('lists without taking anything', async () => {
    const ps = new FakePubSub();
    ps.subs.set(retention, [deadLetter('m1', `execution--${topic}`), deadLetter('m2', `micro-scalp--${topic}`)]);
    const r = await runCloudDeadLetters(['list', '--project', 'p1', '--topic', topic, '--json'], ps);
    expect(r.lines.map((l) => JSON.parse(l).subscription)).toEqual([`execution--${topic}`, `micro-scalp--${topic}`]);
    expect(ps.subs.get(retention)!.every((m) => !m.leased)).toBe(true);
    expect(ps.published).toEqual([]);
  });

  it('replays one subscription\'s dead letters on the source topic, acknowledged only once published', async () => {
    const ps = new FakePubSub();
    ps.subs.set(retention, [deadLetter('m1', `execution--${topic}`), deadLetter('m2', `micro-scalp--${topic}`)]);
    const r = await runCloudDeadLetters(['replay', '--project', 'p1', '--topic', topic, '--subscription', `execution--${topic}`], ps);
    expect(r.code).toBe(0);
    expect(r.lines.at(-1)).toBe('1 replayed, 0 failed');
    expect(ps.extended).toEqual([600, 600]); // leased for the whole replay, not the default 10 s
    expect(ps.published).toEqual([
      { topic, data: ps.published[0]!.data, attributes: { symbol: 'BTCUSDT', [REPLAYED_FROM_ATTRIBUTE]: 'm1' }, orderingKey: 'BTCUSDT' },
    ]);
    expect(JSON.parse(ps.published[0]!.data)).toEqual({ candles: [{ symbol: 'BTCUSDT', openTime: 1749600000000 }] });
    // m1 is gone from the dead-letter topic; m2 (another subscription) is still there and free
    expect(ps.subs.get(retention)!.map((m) => [m.messageId, m.leased])).toEqual([['m2', false]]);
  });

  it('a failed publish leaves the dead letter where it was and fails the run', async () => {
    const ps = new FakePubSub();
    ps.subs.set(retention, [deadLetter('m1', `execution--${topic}`)]);
    ps.failPublish = true;
    const r = await runCloudDeadLetters(['replay', '--project', 'p1', '--topic', topic], ps);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toContain('NOT replayed, left on the dead-letter topic: PERMISSION_DENIED');
    expect(ps.subs.get(retention)!.map((m) => [m.messageId, m.leased])).toEqual([['m1', false]]);
  });
});
