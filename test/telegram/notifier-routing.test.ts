/**
 * The notifier routes by topic (shared/pipeline/notifier.ts through shared/messages.ts routeByTopic):
 * what a message means is decided by the topic it came on, validated against that topic's schema. It no
 * longer guesses from the payload's shape, so a signal-shaped payload on `system-alerts` (a producer
 * bug) is dead-lettered with its topic's reason instead of being sent as a trade alert, and a
 * `telegram-jobs` payload on `trade-events` runs no job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOPICS } from '../../shared/topics.js';
import { loadCandles, makeHarness, MIN, OWNER, T0, textsTo, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const price = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m').find((c) => c.openTime === T0)!.close;
const signal = {
  signalId: `v52_divergence:SOLUSDT:${T0}`, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'SOLUSDT', ts: T0 + MIN, candleTime: T0,
  decision: 'TAKE', direction: 'SHORT', price, reasons: ['RSI divergence'], features: {}, tier: 'mid_cap', entries: [price],
  stopLoss: price * 1.003, takeProfit: price * 0.995, trailingFraction: null, maxHoldMs: 3_600_000, confidence: 71, emit: true,
};

describe('the notifier routes by topic', () => {
  it('a system alert on system-alerts is sent', async () => {
    await h.bus.publish(TOPICS.alerts, { alertId: 'cfg-1', kind: 'config_rejected', severity: 'warning', subject: 'system', message: 'unknown key "spikeThresold"', ts: T0 });
    await h.bus.drain();
    expect(h.bus.deadLetters()).toEqual([]);
    expect(textsTo(h.server, OWNER).join('\n')).toContain('spikeThresold');
  });

  it('a signal-shaped payload on system-alerts is dead-lettered with the topic\'s reason, nothing is sent', async () => {
    await h.bus.publish(TOPICS.alerts, signal);
    await h.bus.drain();
    const dead = h.bus.deadLetters().filter((d) => d.subscription === `notifier--${TOPICS.alerts}`);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(new RegExp(`^payload failed validation for ${TOPICS.alerts}: `));
    expect(dead[0]!.permanent).toBe(true);
    expect(h.server.ok('sendMessage')).toEqual([]);
    expect(h.server.ok('sendPhoto')).toEqual([]);
  });

  it('a telegram job on trade-events is not run as a job (dead-lettered: not a trade event)', async () => {
    await h.bus.publish(TOPICS.tradeEvents, { kind: 'drain' });
    await h.bus.drain();
    const dead = h.bus.deadLetters().filter((d) => d.subscription === `notifier--${TOPICS.tradeEvents}`);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(new RegExp(`^payload failed validation for ${TOPICS.tradeEvents}: `));
  });
});
