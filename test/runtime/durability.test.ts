/**
 * Durability of the embedded default (issue 8, build 5): `npm start` replays the bundled REAL day
 * (test/fixtures/replay) in a child process with Telegram configured (the local Bot API server); the
 * child is killed with SIGKILL at a random moment (seeded), then restarted with --keep on the same
 * data dir and runs to the end of the same market window. Afterwards:
 * - every Bybit 1m minute of every symbol is in the warehouse `ohlcv` exactly once, with the real
 *   values, no hole (the holder moves its cursor once the bus accepted a candle: a candle the bus
 *   held only in memory when the process died was lost for good);
 * - the paper account's trades are not duplicated and its equity equals its start plus the sum of
 *   the closed trades' P&L (`paper_trades`);
 * - no Telegram message was sent twice, but for at most the ONE request in flight when the process died:
 *   the Bot API has no idempotency key, so a message Telegram accepted in the instant before the kill,
 *   not yet marked sent by the outbox (shared/telegram/outbox.ts finish), is sent again after the
 *   restart. The outbox has one drainer and marks each send in one transaction, so one kill repeats at
 *   most one request; anything more (a lost outbox record, a re-queued message) fails here.
 * The speed is high on purpose: consumers lag behind the holder, so the bus holds unacked messages
 * when the kill comes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelegramTestServer } from '../../infra/replay/telegram-server.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import { rng } from '../../shared/backtest/hyperopt/sampler.js';
import { FUNCTIONS_URL, REPLAY_DIR, SUMMARY, startChild } from './child.js';

const TOKEN = '123456:durability';
const OWNER = 777;
const MINUTE = 60_000;
/** First open time in the bundled 1m files: 2025-06-28 00:00 UTC. */
const START = Date.UTC(2025, 5, 28, 0, 0);
const MINUTES = 30;
const SPEED = '600';
const SEEDS = [1, 2, 3];
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];


function realCandles(symbol: string): Map<number, number[]> {
  const rows = readFileSync(join(REPLAY_DIR, `${symbol}_1m.csv`), 'utf8').trim().split('\n').slice(1);
  return new Map(rows.map((l) => l.split(',').map(Number)).map((f) => [f[0]!, f.slice(1, 6)]));
}

let dir: string;
let tg: TelegramTestServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cst-durable-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kill -9 during a replay, then restart on the same data dir', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: nothing lost, nothing duplicated`, async () => {
      tg = new TelegramTestServer({ token: TOKEN, limits: null });
      const apiRoot = await tg.start();
      const dataDir = join(dir, `seed-${seed}`);
      const env = {
        CST_TELEGRAM_BOT_TOKEN: TOKEN,
        CST_TELEGRAM_API_ROOT: apiRoot,
        CST_TELEGRAM_OWNER_ID: String(OWNER),
        CST_TELEGRAM_OUTPUT_DIR: join(dataDir, 'tg-files'),
      };
      const args = ['--market', 'replay', '--data', REPLAY_DIR, '--port', '0', '--data-dir', dataDir, '--minutes', String(MINUTES), '--speed', SPEED];
      try {
        // Run 1: killed while the market plays.
        const first = startChild(args, env);
        await first.waitFor(FUNCTIONS_URL, 60_000);
        const killAfterMs = 300 + Math.floor(rng(seed)() * 1_500);
        await new Promise((r) => setTimeout(r, killAfterMs));
        first.proc.kill('SIGKILL');
        expect(await first.exited(30_000)).toEqual({ code: null, signal: 'SIGKILL' });

        // Run 2: the same market window on the same data dir, to its end.
        const second = startChild([...args, '--keep'], env);
        const exit = await second.exited(120_000);
        expect(exit, second.stdout() + second.stderr()).toEqual({ code: 0, signal: null });
        expect(second.stdout()).toMatch(SUMMARY);
        // The resumed replay's clock starts where the holder stopped: nothing redelivered from the bus
        // journal is refused as a candle from the future.
        expect(second.stdout()).toMatch(/dead letters: 0\b/);

        const wh = new DuckDbWarehouse({ file: join(dataDir, 'replay', 'warehouse.duckdb') });
        const state = new SqliteStateStore({ file: join(dataDir, 'replay', 'state.sqlite') });
        try {
          const ohlcv = (await wh.rows('ohlcv')).filter((r) => r.venue === 'bybit' && r.interval === '1m');
          for (const symbol of SYMBOLS) {
            const real = realCandles(symbol);
            const times = ohlcv.filter((r) => r.symbol === symbol).map((r) => Number(new Date(r.open_time as string | number | Date)));
            times.sort((a, b) => a - b);
            // Every closed minute of the window, each once, no hole.
            expect(times.length, `${symbol} minutes`).toBeGreaterThanOrEqual(MINUTES - 1);
            expect(times, `${symbol} minutes`).toEqual(times.map((_, i) => START + i * MINUTE));
            for (const r of ohlcv.filter((x) => x.symbol === symbol)) {
              const want = real.get(Number(new Date(r.open_time as string | number | Date)))!;
              expect([r.open, r.high, r.low, r.close, r.volume].map(Number)).toEqual(want);
            }
          }

          const trades = await wh.rows('paper_trades');
          const ids = trades.map((t) => String(t.trade_id));
          expect(new Set(ids).size).toBe(ids.length);
          const doc = await state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID));
          const account = doc?.state.account;
          const pnlSum = trades.reduce((s, t) => s + Number(t.pnl), 0);
          if (account) {
            expect(account.realizedPnl).toBeCloseTo(pnlSum, 6);
            expect(account.startingEquity + account.realizedPnl).toBeCloseTo(account.startingEquity + pnlSum, 6);
          } else expect(trades).toEqual([]);

          const sends = tg.ok().filter((r) => r.method === 'sendMessage' || r.method === 'sendPhoto' || r.method === 'sendMediaGroup');
          const keys = sends.map((r) => `${r.method}|${r.chatId}|${r.fields.text ?? r.fields.caption ?? r.fields.media ?? ''}`);
          expect(keys.length - new Set(keys).size, 'Telegram messages sent twice (beyond the one request in flight at the kill)').toBeLessThanOrEqual(1);
        } finally {
          await wh.close();
          await state.close();
        }
      } finally {
        await tg.stop();
      }
    }, 240_000);
  }
});
