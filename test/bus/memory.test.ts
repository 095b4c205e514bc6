import { describe, expect, it } from 'vitest';
import { InMemoryBus, type InMemoryBusOptions } from '../../infra/bus/memory.js';
import { backoffDelayMs, DEAD_LETTER_ATTRS } from '../../infra/bus/delivery.js';
import { decodeEnvelope, envelopeJson, type PubsubCloudEvent } from '../../infra/bus/envelope.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { PermanentError } from '../../shared/ports/bus.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { candleKey, type Candle } from '../../shared/model/market.js';
import { TOPICS } from '../../shared/topics.js';
import { captureLog, fixtureCandles, flushAsync, runUntilDrained } from './helpers.js';

const T0 = Date.UTC(2025, 4, 29, 17, 13);
const TOPIC = TOPICS.bybitCandles;
const DLQ = `${TOPIC}-dlq`;
const BTC = fixtureCandles('BTCUSDT');
const ETH = fixtureCandles('ETHUSDT');

function setup(opts: Omit<InMemoryBusOptions, 'clock' | 'log'> = {}) {
  const clock = new ManualClock(T0);
  const logs = captureLog();
  const bus = new InMemoryBus({ clock, log: logs.log, projectId: 'cst-test', ...opts });
  return { clock, bus, logs };
}

function candleOf(ev: PubsubCloudEvent): Candle {
  const c = decodeEnvelope(ev, TOPIC).payload.candles[0];
  if (!c) throw new Error('empty batch');
  return c as Candle;
}

describe('InMemoryBus retries', () => {
  it('redelivers a handler that fails twice; it succeeds on attempt 3 after the back-off', async () => {
    const { clock, bus, logs } = setup({ delivery: { maxAttempts: 5, minBackoffMs: 1_000, maxBackoffMs: 60_000 } });
    const seen: Array<{ attempt: number | undefined; at: number; id: string }> = [];
    bus.subscribe({
      name: 'candle-ingest--candles-bybit-1m',
      topic: TOPIC,
      handler: (ev) => {
        seen.push({ attempt: ev.data.deliveryAttempt, at: clock.now(), id: ev.id });
        if (seen.length < 3) throw new Error(`firestore unavailable (try ${seen.length})`);
      },
    });
    const id = await bus.publish(TOPIC, { candles: [BTC[0]] }, { orderingKey: 'BTCUSDT' });
    await runUntilDrained(bus, clock, 250);

    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(seen.map((s) => s.at - T0)).toEqual([0, 1_000, 3_000]);
    expect(new Set(seen.map((s) => s.id))).toEqual(new Set([id]));
    expect(bus.deadLetters()).toEqual([]);
    expect(bus.stats().subscriptions['candle-ingest--candles-bybit-1m']).toMatchObject({ deliveries: 3, acked: 1, retried: 2, deadLettered: 0 });
    const retries = logs.entries.filter((e) => e.message === 'delivery failed; will redeliver');
    expect(retries.map((e) => [e.deliveryAttempt, e.backoffMs, e.reason])).toEqual([
      [1, 1_000, 'firestore unavailable (try 1)'],
      [2, 2_000, 'firestore unavailable (try 2)'],
    ]);
    expect(retries.every((e) => e.severity === 'WARNING')).toBe(true);
  });

  it('dead-letters a message that always fails after maxDeliveryAttempts, with the reason on the DLQ message', async () => {
    const { clock, bus, logs } = setup({ delivery: { maxAttempts: 4, minBackoffMs: 500, maxBackoffMs: 10_000 } });
    const attempts: number[] = [];
    bus.subscribe({
      name: 'candle-ingest--candles-bybit-1m',
      topic: TOPIC,
      handler: (ev) => {
        attempts.push(ev.data.deliveryAttempt ?? 0);
        throw new Error('BigQuery insert failed: quota exceeded');
      },
    });
    const dlqEvents: PubsubCloudEvent[] = [];
    bus.subscribe({ name: 'dead-letters--candles-bybit-1m-dlq', topic: DLQ, handler: (ev) => void dlqEvents.push(ev) });

    const payload = { candles: [BTC[1]] };
    const id = await bus.publish(TOPIC, payload, { attributes: { symbol: 'BTCUSDT' } });
    await runUntilDrained(bus, clock, 250);

    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(dlqEvents).toHaveLength(1);
    const dl = dlqEvents[0]!;
    expect(envelopeJson(dl)).toEqual(payload);
    expect(dl.source).toBe('//pubsub.googleapis.com/projects/cst-test/topics/candles-bybit-1m-dlq');
    expect(dl.data.message.attributes).toEqual({
      symbol: 'BTCUSDT',
      [DEAD_LETTER_ATTRS.deliveryCount]: '4',
      [DEAD_LETTER_ATTRS.subscription]: 'candle-ingest--candles-bybit-1m',
      [DEAD_LETTER_ATTRS.subscriptionProject]: 'cst-test',
      [DEAD_LETTER_ATTRS.topicPublishTime]: new Date(T0).toISOString(),
      [DEAD_LETTER_ATTRS.reason]: 'BigQuery insert failed: quota exceeded',
      [DEAD_LETTER_ATTRS.permanent]: 'false',
      [DEAD_LETTER_ATTRS.sourceTopic]: TOPIC,
      [DEAD_LETTER_ATTRS.sourceMessageId]: id,
    });

    expect(bus.deadLetters()).toEqual([
      {
        subscription: 'candle-ingest--candles-bybit-1m',
        topic: TOPIC,
        deadLetterTopic: DLQ,
        messageId: id,
        deadLetterMessageId: dl.id,
        attempts: 4,
        reason: 'BigQuery insert failed: quota exceeded',
        permanent: false,
        payload,
        attributes: { symbol: 'BTCUSDT' },
        at: T0 + 500 + 1_000 + 2_000,
      },
    ]);
    expect(bus.published(DLQ)).toBe(1);
    const dead = logs.entries.find((e) => e.message === 'message dead-lettered');
    expect(dead).toMatchObject({ severity: 'ERROR', reason: 'BigQuery insert failed: quota exceeded', deliveryAttempts: 4, messageId: id });
  });

  it('dead-letters a PermanentError (invalid payload) on the first attempt', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 5, minBackoffMs: 1_000, maxBackoffMs: 10_000 } });
    let calls = 0;
    bus.subscribe({
      name: 'candle-ingest--candles-bybit-1m',
      topic: TOPIC,
      handler: (ev) => {
        calls++;
        decodeEnvelope(ev, TOPIC); // throws PermanentError on a bad payload
      },
    });
    const real = BTC[2]!;
    // The real candle with high and low swapped: fails the OHLC sanity rule on every attempt.
    const broken = { ...real, high: real.low, low: real.high };
    await bus.publish(TOPIC, { candles: [broken] });
    await runUntilDrained(bus, clock, 250);

    expect(calls).toBe(1);
    const [dl] = bus.deadLetters();
    expect(dl).toMatchObject({ attempts: 1, permanent: true, at: T0 });
    expect(dl?.reason).toMatch(/^payload failed validation for candles-bybit-1m: .*OHLC out of order/);
    expect(bus.stats().topics[DLQ]).toEqual({ published: 1, dropped: 1 });
  });

  it('treats a thrown PermanentError from domain code the same way', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 5, minBackoffMs: 1_000, maxBackoffMs: 10_000 } });
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: () => {
        throw new PermanentError('unknown symbol FOOUSDT');
      },
    });
    await bus.publish(TOPIC, { candles: [ETH[0]] });
    await runUntilDrained(bus, clock, 250);
    expect(bus.deadLetters().map((d) => [d.attempts, d.reason, d.permanent])).toEqual([[1, 'unknown symbol FOOUSDT', true]]);
  });
});

describe('InMemoryBus back-off', () => {
  it('grows exponentially from minBackoffMs and is capped at maxBackoffMs', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 7, minBackoffMs: 1_000, maxBackoffMs: 5_000 } });
    const at: number[] = [];
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: () => {
        at.push(clock.now());
        throw new Error('down');
      },
    });
    await bus.publish(TOPIC, { candles: [BTC[3]] });
    await runUntilDrained(bus, clock, 100);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(bus.deadLetters()[0]?.attempts).toBe(7);
  });

  it('does not redeliver before the back-off has elapsed', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 3, minBackoffMs: 10_000, maxBackoffMs: 10_000 } });
    let calls = 0;
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: () => {
        calls++;
        throw new Error('down');
      },
    });
    await bus.publish(TOPIC, { candles: [BTC[3]] });
    await flushAsync();
    expect(calls).toBe(1);
    await clock.advance(9_999);
    await flushAsync();
    expect(calls).toBe(1);
    await clock.advance(1);
    await flushAsync();
    expect(calls).toBe(2);
  });

  it('backoffDelayMs follows min·2^(n-1) capped at max (SystemConfig defaults)', () => {
    const { minBackoffMs, maxBackoffMs } = DEFAULT_SYSTEM_CONFIG.delivery;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, minBackoffMs, maxBackoffMs))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000,
    ]);
    expect(backoffDelayMs(5_000, 1, 2)).toBe(2);
  });

  it('uses SystemConfig delivery defaults and, in fast mode, retries without waiting', async () => {
    const logs = captureLog();
    const bus = new InMemoryBus({ fast: true, log: logs.log }); // system clock, 10 s..600 s back-off
    let calls = 0;
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: () => {
        calls++;
        throw new Error('down');
      },
    });
    const started = Date.now();
    await bus.publish(TOPIC, { candles: [BTC[4]] });
    await bus.drain();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls).toBe(DEFAULT_SYSTEM_CONFIG.delivery.maxAttempts);
    expect(bus.deadLetters()[0]?.attempts).toBe(DEFAULT_SYSTEM_CONFIG.delivery.maxAttempts);
    // The back-off that would apply is still logged.
    expect(logs.entries.filter((e) => e.backoffMs !== undefined).map((e) => e.backoffMs)).toEqual([10_000, 20_000, 40_000, 80_000]);
  });
});

describe('InMemoryBus ordering keys', () => {
  it('delivers per key in publish order; a failing message blocks only the later ones of its key', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 5, minBackoffMs: 1_000, maxBackoffMs: 10_000 } });
    const log: string[] = [];
    const processed: Record<string, number[]> = { BTCUSDT: [], ETHUSDT: [] };
    const failuresLeft = new Map<number, number>([[BTC[1]!.openTime, 2]]);
    bus.subscribe({
      name: 'candle-ingest--candles-bybit-1m',
      topic: TOPIC,
      handler: (ev) => {
        const c = candleOf(ev);
        log.push(`${c.symbol}:${c.openTime}#${ev.data.deliveryAttempt}@${clock.now() - T0}`);
        const left = failuresLeft.get(c.openTime) ?? 0;
        if (c.symbol === 'BTCUSDT' && left > 0) {
          failuresLeft.set(c.openTime, left - 1);
          throw new Error('transient');
        }
        processed[c.symbol]!.push(c.openTime);
      },
    });
    for (let i = 0; i < 4; i++) {
      await bus.publish(TOPIC, { candles: [BTC[i]] }, { orderingKey: 'BTCUSDT' });
      await bus.publish(TOPIC, { candles: [ETH[i]] }, { orderingKey: 'ETHUSDT' });
    }
    await runUntilDrained(bus, clock, 250);

    expect(processed.BTCUSDT).toEqual(BTC.slice(0, 4).map((c) => c.openTime));
    expect(processed.ETHUSDT).toEqual(ETH.slice(0, 4).map((c) => c.openTime));
    const btc = log.filter((l) => l.startsWith('BTCUSDT'));
    const b = BTC.map((c) => c.openTime);
    expect(btc).toEqual([`BTCUSDT:${b[0]}#1@0`, `BTCUSDT:${b[1]}#1@0`, `BTCUSDT:${b[1]}#2@1000`, `BTCUSDT:${b[1]}#3@3000`, `BTCUSDT:${b[2]}#1@3000`, `BTCUSDT:${b[3]}#1@3000`]);
    // ETH was not held up by BTC's failures: all four done at t0.
    expect(log.filter((l) => l.startsWith('ETHUSDT')).every((l) => l.endsWith('#1@0'))).toBe(true);
  });

  it('releases the later messages of a key once the blocking one is dead-lettered', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 3, minBackoffMs: 1_000, maxBackoffMs: 10_000 } });
    const processed: number[] = [];
    const poison = BTC[1]!.openTime;
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: (ev) => {
        const c = candleOf(ev);
        if (c.openTime === poison) throw new Error('cannot write candle');
        processed.push(c.openTime);
      },
    });
    for (const c of BTC.slice(0, 4)) await bus.publish(TOPIC, { candles: [c] }, { orderingKey: 'BTCUSDT' });
    await flushAsync(20);
    expect(processed).toEqual([BTC[0]!.openTime]); // 2..4 wait behind the failing one
    await runUntilDrained(bus, clock, 250);
    expect(processed).toEqual([BTC[0]!.openTime, BTC[2]!.openTime, BTC[3]!.openTime]);
    expect(bus.deadLetters().map((d) => [d.orderingKey, (d.payload as { candles: Candle[] }).candles[0]?.openTime, d.attempts])).toEqual([
      ['BTCUSDT', poison, 3],
    ]);
  });
});

describe('InMemoryBus fan-out, duplicates, limits', () => {
  it('gives every subscription its own copy; retries on one do not affect the other', async () => {
    const { clock, bus } = setup({ delivery: { maxAttempts: 5, minBackoffMs: 1_000, maxBackoffMs: 10_000 } });
    const a: string[] = [];
    const b: Array<[string, number | undefined]> = [];
    let bFailed = false;
    bus.subscribe({ name: 'candle-ingest--candles-bybit-1m', topic: TOPIC, handler: (ev) => void a.push(ev.data.subscription) });
    bus.subscribe({
      name: 'micro-scalp--candles-bybit-1m',
      topic: TOPIC,
      handler: (ev) => {
        if (!bFailed) {
          bFailed = true;
          throw new Error('once');
        }
        b.push([ev.data.subscription, ev.data.deliveryAttempt]);
      },
    });
    const id = await bus.publish(TOPIC, { candles: [ETH[5]] });
    await runUntilDrained(bus, clock, 250);
    expect(a).toEqual(['projects/cst-test/subscriptions/candle-ingest--candles-bybit-1m']);
    expect(b).toEqual([['projects/cst-test/subscriptions/micro-scalp--candles-bybit-1m', 2]]);
    expect(bus.stats().subscriptions['candle-ingest--candles-bybit-1m']?.deliveries).toBe(1);
    expect(id).toMatch(/^\d+$/);
  });

  it('drops (but counts) messages on a topic without subscriptions, and does not deliver messages published before subscribing', async () => {
    const { clock, bus } = setup();
    await bus.publish(TOPICS.tradeEvents, { kind: 'opened' });
    await bus.publish(TOPICS.tradeEvents, { kind: 'closed' });
    const got: unknown[] = [];
    bus.subscribe({ name: 'notifier--trade-events', topic: TOPICS.tradeEvents, handler: (ev) => void got.push(envelopeJson(ev)) });
    await bus.publish(TOPICS.tradeEvents, { kind: 'filled' });
    await runUntilDrained(bus, clock, 250);
    expect(bus.published(TOPICS.tradeEvents)).toBe(3);
    expect(bus.stats().topics[TOPICS.tradeEvents]).toEqual({ published: 3, dropped: 2 });
    expect(got).toEqual([{ kind: 'filled' }]);
    expect(bus.published(TOPICS.alerts)).toBe(0);
  });

  it('duplicateDelivery delivers every message twice with the same id; an idempotent handler applies it once', async () => {
    const { clock, bus } = setup({ duplicateDelivery: true });
    const deliveries: string[] = [];
    const applied = new Map<string, number>();
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: (ev) => {
        deliveries.push(ev.id);
        const c = candleOf(ev);
        const key = candleKey(c);
        if (!applied.has(key)) applied.set(key, c.close);
      },
    });
    const ids: string[] = [];
    for (const c of BTC.slice(0, 3)) ids.push(await bus.publish(TOPIC, { candles: [c] }, { orderingKey: 'BTCUSDT' }));
    await runUntilDrained(bus, clock, 250);
    expect(deliveries).toEqual(ids.flatMap((id) => [id, id]));
    expect([...applied.values()]).toEqual(BTC.slice(0, 3).map((c) => c.close));
    expect(bus.stats().subscriptions.s).toMatchObject({ deliveries: 6, acked: 6, duplicates: 3 });
  });

  it('never runs more handlers at once than the concurrency limit', async () => {
    const bus = new InMemoryBus({ concurrency: 2, log: captureLog().log });
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    bus.subscribe({
      name: 's',
      topic: TOPIC,
      handler: async (ev) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        done.push(candleOf(ev).openTime);
        inFlight--;
      },
    });
    for (const c of [...BTC, ...ETH]) await bus.publish(TOPIC, { candles: [c] });
    await bus.drain();
    expect(peak).toBe(2);
    expect(done.sort()).toEqual([...BTC, ...ETH].map((c) => c.openTime).sort());
  });

  it('rejects what Pub/Sub would reject, and publishing after close', async () => {
    const { bus } = setup();
    await expect(bus.publish(TOPIC, undefined)).rejects.toThrow(/not JSON-serialisable/);
    await expect(bus.publish(TOPIC, { candles: [BTC[0]] }, { attributes: { note: 'x'.repeat(1025) } })).rejects.toThrow(/exceeds 1024 bytes/);
    expect(() => bus.subscribe({ name: 'loop', topic: DLQ, deadLetterTopic: DLQ, handler: () => {} })).toThrow(/must differ/);
    bus.subscribe({ name: 'dup', topic: TOPIC, handler: () => {} });
    expect(() => bus.subscribe({ name: 'dup', topic: TOPIC, handler: () => {} })).toThrow(/already exists/);
    await bus.close();
    await expect(bus.publish(TOPIC, { candles: [BTC[0]] })).rejects.toThrow(/closed/);
  });

  it('drain() waits for messages that handlers publish downstream', async () => {
    const bus = new InMemoryBus({ fast: true, log: captureLog().log });
    const alerts: unknown[] = [];
    bus.subscribe({
      name: 'candle-ingest--candles-bybit-1m',
      topic: TOPIC,
      handler: async (ev) => {
        const c = candleOf(ev);
        await new Promise((r) => setTimeout(r, 2));
        await bus.publish(TOPICS.alerts, { kind: 'ingested', key: candleKey(c) });
      },
    });
    bus.subscribe({
      name: 'notifier--system-alerts',
      topic: TOPICS.alerts,
      handler: async (ev) => {
        await new Promise((r) => setTimeout(r, 2));
        alerts.push(envelopeJson(ev));
      },
    });
    await bus.publish(TOPIC, { candles: [ETH[7]] });
    await bus.drain();
    expect(alerts).toEqual([{ kind: 'ingested', key: candleKey(ETH[7]!) }]);
    expect(bus.stats().pending).toBe(0);
  });
});
