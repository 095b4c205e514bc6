/**
 * Reports (scheduler.yaml `reports` / `weeklyReport` -> function `reports`): P&L, win rate, per-strategy
 * table, best/worst trades, open positions and the equity PNG, sent once per scheduled slot. Also the
 * no-token mode (console + PNG folder) and the DuckDB trade history over `paper_trades` lots.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { FUNCTION_NAME as REPORTS, handle as reports } from '../../shared/pipeline/reports.js';
import { StateTradeLog } from '../../shared/telegram/trade-log.js';
import type { ClosedTradeRecord } from '../../shared/ports/trade-history.js';
import type { StrategyId } from '../../shared/model/trading.js';
import { enqueue, OutboxSender } from '../../shared/telegram/outbox.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { ConsoleTelegram } from '../../infra/telegram/console.js';
import { sharpChartRenderer } from '../../infra/telegram/charts.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { DuckDbTradeHistory } from '../../infra/warehouse/trade-history-duckdb.js';
import { AutoClock, loadCandles, makeHarness, MIN, OWNER, PNG_SIGNATURE, T0, textsTo, textUpdate, type Harness } from './helpers.js';

const sol = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');
const btc = loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m');

/** Trades entered and exited at real closes of 2025-06-22. */
function trade(id: string, strategy: StrategyId, c: typeof sol, i: number, j: number, direction: 'LONG' | 'SHORT', qty: number): ClosedTradeRecord {
  const entry = c[i]!.close;
  const exit = c[j]!.close;
  const fees = (entry + exit) * qty * 0.0006;
  const pnl = (direction === 'LONG' ? exit - entry : entry - exit) * qty - fees;
  return { groupId: `tg:${id}`, strategy, symbol: c[0]!.symbol, direction, entryTime: c[i]!.openTime, exitTime: c[j]!.openTime + MIN, avgEntry: entry, exitPrice: exit, qty, fees, pnl, pnlPct: (pnl / (entry * qty)) * 100, exitReason: pnl > 0 ? 'take_profit' : 'stop_loss' };
}

describe('reports', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness({ candles: false });
  });
  afterEach(async () => {
    await h.close();
  });

  it('scheduler.yaml drives the reports function at 07:00 / 19:00 and Sunday 19:00 Los Angeles time', () => {
    const y = parseYaml(readFileSync(join(import.meta.dirname, '..', '..', 'scheduler.yaml'), 'utf8')) as { jobs: Record<string, { schedule: string; timeZone: string; function: string; body?: { period: string } }> };
    expect(y.jobs.reports).toMatchObject({ schedule: '0 7,19 * * *', timeZone: 'America/Los_Angeles', function: REPORTS, body: { period: 'daily' } });
    expect(y.jobs.weeklyReport).toMatchObject({ schedule: '0 19 * * 0', timeZone: 'America/Los_Angeles', function: REPORTS, body: { period: 'weekly' } });
  });

  it('sends the daily report with its equity PNG once per slot', async () => {
    const log = new StateTradeLog(h.state);
    const trades = [
      trade('a', 'v52_divergence', sol, 100, 130, 'SHORT', 20),
      trade('b', 'v52_divergence', sol, 140, 150, 'LONG', 20),
      trade('c', 'levels_exhaustion', btc, 60, 200, 'SHORT', 0.05),
    ];
    for (const t of trades) await log.record(t);
    const res = await reports(await h.root.deps(REPORTS), { period: 'daily' });
    expect(res).toMatchObject({ period: 'daily', trades: 3, queued: 2, remaining: 0 });
    const png = h.server.ok('sendPhoto').at(-1)!;
    expect(png.chatId).toBe(OWNER);
    expect(png.fields.caption).toContain('Daily report');
    expect(png.files[0]!.bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const text = textsTo(h.server, OWNER).at(-1)!;
    const wins = trades.filter((t) => t.pnl > 0).length;
    const realized = trades.reduce((s, t) => s + t.pnl, 0);
    expect(text).toContain(`Realized P&amp;L: <b>${realized >= 0 ? '+' : '-'}$${Math.abs(realized).toFixed(2)}</b>`);
    expect(text).toContain('Unrealized P&amp;L: <b>$0.00</b>');
    expect(text).toContain(`win rate ${((wins / 3) * 100).toFixed(1)}%`);
    expect(text).toMatch(/<pre>strategy +n +win% +P&amp;L\n/);
    expect(text).toContain('v52_divergence');
    expect(text).toContain('levels_exhaustion');
    expect(text).toContain('Open positions</b> (0)');
    // A scheduler retry in the same slot sends nothing twice; the weekly report is its own.
    await reports(await h.root.deps(REPORTS), { period: 'daily' });
    expect(h.server.ok('sendPhoto')).toHaveLength(1);
    await reports(await h.root.deps(REPORTS), { period: 'weekly' });
    expect(h.server.ok('sendPhoto').at(-1)!.fields.caption).toContain('Weekly report');
    // /stats uses the same numbers.
    await h.deliver(textUpdate(OWNER, '/stats 24h'));
    expect(textsTo(h.server, OWNER).at(-1)).toContain(`Trades: 3 · ${wins} W / ${3 - wins} L`);
  });
});

describe('no bot token: console and PNG folder', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cst-tg-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the same messages and writes the PNGs to the folder', async () => {
    const lines: string[] = [];
    const api = new ConsoleTelegram({ dir, print: (l) => lines.push(l) });
    const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
    const state = new SqliteStateStore({ file: ':memory:' });
    const clock = new AutoClock(T0);
    const png = await sharpChartRenderer.renderTradeChart({ candles: sol.slice(0, 60), title: { symbol: 'SOLUSDT', interval: '1m' }, entry: sol[59]!.close });
    await enqueue(state, [
      { key: 'c1', chatId: OWNER, op: { type: 'text', text: '<b>PANIC</b> &amp; halt' } },
      { key: 'c2', chatId: OWNER, op: { type: 'photo', fileId: '', caption: 'SOL alert' }, photo: { source: png.png, filename: 'sol.png' } },
    ], T0);
    const r = await new OutboxSender({ state, api, clock, cfg: DEFAULT_TELEGRAM_CONFIG }).drain();
    expect(r.sent).toBe(2);
    expect(lines[0]).toContain('PANIC & halt');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(readFileSync(join(dir, files[0]!)).equals(png.png)).toBe(true);
    expect(lines[1]).toContain(files[0]);
    await state.close();
  });
});

describe('DuckDB trade history', () => {
  it('merges paper_trades lots per trade group with size-weighted P&L %', async () => {
    const wh = new DuckDbWarehouse({ file: ':memory:' });
    await wh.ensureSchema();
    const lot = (k: number, entry: number, qty: number, pnl: number) => ({
      trade_id: `tg:x:e${k}`, trade_group_id: 'tg:x', signal_id: 'x', strategy: 'dca', symbol: 'SOLUSDT', direction: 'LONG', mode: 'paper',
      entry_time: T0 + k * MIN, exit_time: T0 + 60 * MIN, entry_price: entry, exit_price: 130, qty, fees: 0.5, pnl, pnl_pct: (pnl / (entry * qty)) * 100, exit_reason: 'take_profit', features: null,
    });
    await wh.insert('paper_trades', [lot(0, sol[0]!.close, 10, 12), lot(1, sol[5]!.close, 30, -3)]);
    const hist = new DuckDbTradeHistory(wh);
    const [t] = await hist.latest(5);
    const notional = sol[0]!.close * 10 + sol[5]!.close * 30;
    expect(t).toMatchObject({ groupId: 'tg:x', qty: 40, pnl: 9, fees: 1 });
    expect(t!.avgEntry).toBeCloseTo(notional / 40, 9);
    expect(t!.pnlPct).toBeCloseTo((9 / notional) * 100, 9);
    expect(await hist.closedBetween(T0, T0 + 60 * MIN)).toHaveLength(0);
    expect(await hist.closedBetween(T0, T0 + 61 * MIN)).toHaveLength(1);
    await wh.close();
  });
});
