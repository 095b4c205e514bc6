/**
 * The embedded default with no bot token and no owner configured (what `npm start` runs on a fresh
 * clone): every alert is printed to the console with its chart's PNG path (a local default chat), as
 * the README promises. The Telegram runtime is built exactly as a function's root builds it (from the
 * environment: no token, no owner), the notifier subscribed to the bus as the local runtime does.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOPICS } from '../../shared/topics.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import type { InMemoryBus } from '../../infra/bus/memory.js';
import { pubsubHandlerFor } from '../../infra/runtime/bind.js';
import { PUBSUB_FUNCTIONS } from '../../infra/runtime/registry.js';
import type { Root } from '../../infra/runtime/root.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { OUTPUT_DIR_ENV, type TelegramRuntime } from '../../infra/telegram/runtime.js';
import { CONSOLE_CHAT_ID } from '../../infra/telegram/console.js';
import { testRoot } from '../root.js';
import { AutoClock, loadCandles, MIN, notifierTopics, PNG_SIGNATURE, quietLog, seedCandles, T0 } from './helpers.js';
import { openedOutcome } from './outcomes.js';

let dir: string;
let root: Root;
let state: SqliteStateStore;
let bus: InMemoryBus;
let rt: TelegramRuntime;
let printed: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cst-console-'));
  // As `npm start` on a fresh clone: no CST_TELEGRAM_BOT_TOKEN, no CST_TELEGRAM_OWNER_ID, no config/telegram.
  ({ root, state, bus } = await testRoot({
    clock: new AutoClock(T0 + 2 * 60 * MIN),
    log: quietLog,
    config: () => staticConfig(DEFAULT_SYSTEM_CONFIG),
    bus: { delivery: { maxAttempts: 5, minBackoffMs: 1, maxBackoffMs: 1 } },
    env: { [OUTPUT_DIR_ENV]: dir },
    telegram: { localChat: true },
  }));
  await seedCandles(state);
  rt = await root.telegram();
  const notifier = pubsubHandlerFor(root, PUBSUB_FUNCTIONS.find((f) => f.name === 'notifier')!);
  for (const topic of notifierTopics()) bus.subscribe({ name: `notifier--${topic}`, topic, handler: notifier });
  printed = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await root.close();
  rmSync(dir, { recursive: true, force: true });
});

const sol = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');

describe('no owner, no bot: the console is the default chat', () => {
  it('prints every alert, with its chart PNG path, and the system alerts', async () => {
    expect(rt.offline).toBe(true);
    expect(rt.deps.access.owner).toBeUndefined();
    const price = sol.find((c) => c.openTime === T0)!.close;
    await bus.publish(TOPICS.tradeEvents, openedOutcome({
      signalId: `v52_divergence:SOLUSDT:${T0}`, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'SOLUSDT', ts: T0 + MIN, candleTime: T0,
      decision: 'TAKE', direction: 'SHORT', price, reasons: ['RSI divergence'], features: {}, tier: 'mid_cap', entries: [price],
      stopLoss: price * 1.003, takeProfit: price * 0.995, trailingFraction: null, maxHoldMs: 3_600_000, confidence: 71, emit: true,
    }));
    await bus.publish(TOPICS.alerts, { alertId: 'bad-1', kind: 'bad_data', severity: 'warning', subject: 'ETHUSDT', message: 'candle refused: high < low', ts: T0 });
    await bus.publish(TOPICS.alerts, { alertId: 'cfg-1', kind: 'config_rejected', severity: 'warning', subject: 'system', message: 'unknown key "spikeThresold"', ts: T0 });
    await bus.drain();

    const out = printed.join('');
    // The signal alert: its text and the path of its chart, a real PNG on disk.
    const photo = /\[telegram:sendPhoto\] chat (\d+) msg \d+ png (\S+)\n([^\n]*)/.exec(out);
    expect(photo, out).not.toBeNull();
    expect(Number(photo![1])).toBe(CONSOLE_CHAT_ID);
    expect(photo![3]).toContain('SOLUSDT');
    expect(photo![2]!.startsWith(dir)).toBe(true);
    expect(existsSync(photo![2]!)).toBe(true);
    expect(readFileSync(photo![2]!).subarray(0, 8)).toEqual(PNG_SIGNATURE);
    // The system alerts, the owner-only kind included.
    expect(out).toContain('candle refused: high < low');
    expect(out).toContain('spikeThresold');
  });
});
