/**
 * The embedded bus's durable journal (infra/bus/store.ts): a bus on a file that goes away with
 * messages unacked (close with a handler still running, as a crash leaves them) hands them to the
 * next bus on the same file; dead letters survive the restart and the dead-letter CLI replays them
 * exactly once, into a running bus or at the next start. (The SIGKILL version of the same promise,
 * through the whole runtime: test/runtime/durability.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryBus, type InMemoryBusOptions } from '../../infra/bus/memory.js';
import { envelopeJson, type PubsubCloudEvent } from '../../infra/bus/envelope.js';
import { runDeadLetters } from '../../scripts/deadletters.js';
import { PermanentError } from '../../shared/ports/bus.js';
import { TOPICS } from '../../shared/topics.js';
import { captureLog, fixtureCandles, flushAsync } from './helpers.js';

const TOPIC = TOPICS.bybitCandles;
const SUB = 'candle-ingest--candles-bybit-1m';
const BTC = fixtureCandles('BTCUSDT');

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cst-bus-'));
  file = join(dir, 'bus.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function openBus(opts: Partial<InMemoryBusOptions> = {}): InMemoryBus {
  return new InMemoryBus({ fast: true, file, log: captureLog().log, projectId: 'cst-test', closeTimeoutMs: 20, injectPollMs: 10, ...opts });
}

const openTime = (ev: PubsubCloudEvent) => (envelopeJson(ev) as { candles: Array<{ openTime: number }> }).candles[0]!.openTime;

async function until(cond: () => boolean, what: string, rounds = 2_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('durable in-process bus', () => {
  it('a restarted bus redelivers, in publish order, every message the subscription had not acked; acked ones never again', async () => {
    const a = openBus();
    const seenA: number[] = [];
    a.subscribe({
      name: SUB,
      topic: TOPIC,
      handler: (ev) => {
        seenA.push(openTime(ev));
        // The second candle's handler never finishes: the process "dies" with it in flight.
        if (seenA.length === 2) return new Promise<void>(() => undefined);
      },
    });
    const ids: string[] = [];
    for (const c of BTC.slice(0, 4)) ids.push(await a.publish(TOPIC, { candles: [c] }, { orderingKey: 'BTCUSDT' }));
    await until(() => seenA.length === 2, 'the second delivery');
    await flushAsync();
    await a.close(); // gives up on the hung handler after closeTimeoutMs, like a crash would
    expect(seenA).toEqual([BTC[0]!.openTime, BTC[1]!.openTime]);

    const b = openBus();
    // Published before the subscriber re-attaches: kept for it (durable subscription).
    ids.push(await b.publish(TOPIC, { candles: [BTC[4]] }, { orderingKey: 'BTCUSDT' }));
    const seenB: Array<{ t: number; id: string }> = [];
    b.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void seenB.push({ t: openTime(ev), id: ev.id }) });
    await b.drain();
    expect(seenB.map((s) => s.t)).toEqual(BTC.slice(1, 5).map((c) => c.openTime));
    expect(seenB.map((s) => s.id)).toEqual(ids.slice(1));
    expect(new Set(ids).size).toBe(ids.length); // ids are never reused
    await b.close();

    const c = openBus();
    const seenC: number[] = [];
    c.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void seenC.push(openTime(ev)) });
    await flushAsync(20);
    await c.drain();
    expect(seenC).toEqual([]);
    await c.close();
  });

  it('keeps the attempt count across a restart', async () => {
    const a = openBus({ delivery: { maxAttempts: 3, minBackoffMs: 1, maxBackoffMs: 1 } });
    let calls = 0;
    a.subscribe({
      name: SUB,
      topic: TOPIC,
      handler: () => {
        calls++;
        if (calls === 1) throw new Error('store unavailable');
        return new Promise<void>(() => undefined); // attempt 2 is in flight when the process goes
      },
    });
    await a.publish(TOPIC, { candles: [BTC[0]] });
    await until(() => calls === 2, 'the second attempt');
    await a.close();

    const b = openBus({ delivery: { maxAttempts: 3, minBackoffMs: 1, maxBackoffMs: 1 } });
    const attempts: Array<number | undefined> = [];
    b.subscribe({
      name: SUB,
      topic: TOPIC,
      handler: (ev) => {
        attempts.push(ev.data.deliveryAttempt);
        throw new Error('still unavailable');
      },
    });
    await b.drain();
    // Attempt 1 failed and was recorded; attempt 2 never finished, so it is made again, then dead-lettered.
    expect(attempts).toEqual([2, 3]);
    expect(b.deadLetters().map((d) => [d.attempts, d.reason])).toEqual([[3, 'still unavailable']]);
    await b.close();
  });

  it('dead letters survive a restart and are replayed once by the CLI, into a running bus or at the next start', async () => {
    const a = openBus();
    a.subscribe({
      name: SUB,
      topic: TOPIC,
      handler: (ev) => {
        if (openTime(ev) !== BTC[2]!.openTime) throw new PermanentError(`candle ${openTime(ev)} refused`);
      },
    });
    await a.publish(TOPIC, { candles: [BTC[0]] }, { orderingKey: 'BTCUSDT', attributes: { candleKey: 'k0' } });
    await a.publish(TOPIC, { candles: [BTC[1]] }, { orderingKey: 'BTCUSDT', attributes: { candleKey: 'k1' } });
    await a.publish(TOPIC, { candles: [BTC[2]] }, { orderingKey: 'BTCUSDT' });
    await a.drain();
    await a.close();

    const b = openBus();
    const got: Array<{ t: number; attempt: number | undefined; key: string | undefined }> = [];
    b.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void got.push({ t: openTime(ev), attempt: ev.data.deliveryAttempt, key: ev.data.message.orderingKey }) });
    await b.drain();
    expect(got).toEqual([]); // nothing pending: both dead letters left the subscription
    expect(b.deadLetterCount()).toBe(2);
    const dead = b.deadLetters();
    expect(dead.map((d) => [d.id, d.subscription, d.reason, d.permanent, d.attributes.candleKey, d.orderingKey])).toEqual([
      [1, SUB, `candle ${BTC[0]!.openTime} refused`, true, 'k0', 'BTCUSDT'],
      [2, SUB, `candle ${BTC[1]!.openTime} refused`, true, 'k1', 'BTCUSDT'],
    ]);
    expect((dead[0]!.payload as { candles: Array<{ close: number }> }).candles[0]!.close).toBe(BTC[0]!.close);

    const listed = runDeadLetters(['list', '--file', file]);
    expect(listed.code).toBe(0);
    expect(listed.lines[0]).toBe(`2 dead letters in ${file}`);
    expect(listed.lines.join('\n')).toContain(`reason: candle ${BTC[0]!.openTime} refused`);

    // Replayed while the bus runs: picked up within its poll; the fixed consumer now takes it.
    const r1 = runDeadLetters(['replay', '--file', file, '--id', '1']);
    expect(r1.code).toBe(0);
    expect(r1.lines[0]).toMatch(/^dead letter 1: queued again for candle-ingest--candles-bybit-1m as message \d+$/);
    await until(() => got.length === 1, 'the replayed delivery');
    // Replaying the same dead letter again does nothing.
    const again = runDeadLetters(['replay', '--file', file, '--id', '1']);
    expect(again.lines[0]).toMatch(/^dead letter 1: already replayed/);
    expect(again.lines.at(-1)).toBe('0 replayed, 1 already replayed before');
    await b.close();
    expect(got).toEqual([{ t: BTC[0]!.openTime, attempt: 1, key: 'BTCUSDT' }]);

    // Replayed while no bus runs: the next start delivers it, once.
    const r2 = runDeadLetters(['replay', '--file', file, '--topic', TOPIC, '--json']);
    expect(r2.lines.map((l) => JSON.parse(l) as { id: number; replayed: boolean })).toMatchObject([
      { id: 1, replayed: false },
      { id: 2, replayed: true },
    ]);
    const c = openBus();
    const gotC: number[] = [];
    c.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void gotC.push(openTime(ev)) });
    await until(() => gotC.length === 1, 'the replay at start');
    await flushAsync(20);
    await c.drain();
    await c.close();
    expect(gotC).toEqual([BTC[1]!.openTime]);
    expect(runDeadLetters(['list', '--file', file, '--pending']).lines[0]).toBe(`0 dead letters in ${file}`);
  });

  it('the CLI explains itself', () => {
    const help = runDeadLetters(['--help']);
    expect(help.code).toBe(0);
    expect(help.lines[0]).toMatch(/^Usage: npm run deadletters -- <list\|replay>/);
  });
  it('a failed journal write (database locked past its timeout) neither ends the process nor loses the message: it is redelivered and acked', async () => {
    const logs = captureLog();
    const bus = openBus({ log: logs.log });
    const journal = (bus as unknown as { journal: { ack: (...a: unknown[]) => unknown } }).journal;
    const realAck = journal.ack.bind(journal);
    let failures = 1;
    journal.ack = (...a: unknown[]) => {
      if (failures-- > 0) throw new Error('SQLITE_BUSY: database is locked');
      return realAck(...a);
    };
    const seen: number[] = [];
    bus.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void seen.push(openTime(ev)) });
    await bus.publish(TOPIC, { candles: [BTC[0]] }, { orderingKey: 'BTCUSDT' });
    await until(() => seen.length === 2, 'the redelivery after the failed ack');
    await bus.drain();
    expect(seen).toEqual([BTC[0]!.openTime, BTC[0]!.openTime]);
    expect(logs.entries.some((e) => e.message === 'bus journal write failed; redelivering shortly')).toBe(true);
    await bus.close();
    // acked in the end: a restart delivers nothing
    const again = openBus();
    const after: number[] = [];
    again.subscribe({ name: SUB, topic: TOPIC, handler: (ev) => void after.push(openTime(ev)) });
    await flushAsync(20);
    await again.drain();
    expect(after).toEqual([]);
    await again.close();
  });
});
