import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { duckDbCreateTable } from '../../infra/warehouse/ddl.js';
import { candleToRow, type TableName } from '../../shared/warehouse-schema.js';
import type { Row } from '../../shared/ports/warehouse.js';
import type { Candle } from '../../shared/model/market.js';
import { readKrakenCandles } from './market-csv.js';
import { fixture } from '../kit.js';

const INGESTED_AT = Date.UTC(2023, 3, 1);
const candles = readKrakenCandles(fixture('macro', 'XBTUSD_60.csv'), 'BTCUSDT', '1h') // = the kit's kraken_ohlcvt/XBTUSD_60.csv;

const open: DuckDbWarehouse[] = [];
function warehouse(file = ':memory:'): DuckDbWarehouse {
  const w = new DuckDbWarehouse({ file });
  open.push(w);
  return w;
}

afterEach(async () => {
  for (const w of open.splice(0)) await w.close();
});

describe('DuckDB DDL', () => {
  it('derives the ohlcv table with TIMESTAMP columns and a primary key on the key columns', () => {
    const sql = duckDbCreateTable('ohlcv');
    expect(sql).toContain('"open_time" TIMESTAMP NOT NULL');
    expect(sql).toContain('"trades" BIGINT,');
    expect(sql).toContain('PRIMARY KEY ("venue", "symbol", "interval", "open_time")');
    expect(duckDbCreateTable('signals')).toContain('"features" JSON');
  });
});

describe('DuckDbWarehouse on the real Kraken XBTUSD 1h candles (2023 Q1)', () => {
  it('inserts every candle once; inserting them all again changes nothing', async () => {
    expect(candles.length).toBe(2160);
    const w = warehouse();
    await w.ensureSchema();
    await w.insert('ohlcv', candles.map((c) => candleToRow(c, INGESTED_AT)));
    expect(await w.count('ohlcv')).toBe(2160);
    // A redelivery (with a later ingestion time) is a no-op: first write wins.
    await w.insert('ohlcv', candles.map((c) => candleToRow(c, INGESTED_AT + 60_000)));
    expect(await w.count('ohlcv')).toBe(2160);
    const stored = await w.rows('ohlcv');
    expect(new Set(stored.map((r) => r.ingested_at))).toEqual(new Set([INGESTED_AT]));
  });

  it('returns candles ordered by open time with the exact CSV values', async () => {
    const w = warehouse();
    // Insert in reverse to prove the ordering comes from the query.
    await w.insert('ohlcv', [...candles].reverse().map((c) => candleToRow(c, INGESTED_AT)));
    const all = await w.candles({ symbol: 'BTCUSDT', interval: '1h' });
    expect(all).toHaveLength(2160);
    expect(all[0]).toEqual({
      venue: 'kraken', symbol: 'BTCUSDT', interval: '1h', openTime: 1672531200000,
      open: 16528.7, high: 16530.0, low: 16505.2, close: 16519.3, volume: 96.61968029,
    } satisfies Candle);
    expect(all.at(-1)).toEqual({
      venue: 'kraken', symbol: 'BTCUSDT', interval: '1h', openTime: 1680303600000,
      open: 28575.9, high: 28603.7, low: 28466.8, close: 28466.8, volume: 89.97281556,
    } satisfies Candle);
    expect(all).toEqual(candles);

    // One UTC day, inclusive bounds.
    const from = Date.UTC(2023, 1, 1, 0);
    const to = Date.UTC(2023, 1, 1, 23);
    const day = await w.candles({ symbol: 'BTCUSDT', interval: '1h', venue: 'kraken', fromMs: from, toMs: to });
    const expected = candles.filter((c) => c.openTime >= from && c.openTime <= to);
    expect(expected).toHaveLength(24);
    expect(day).toEqual(expected);
    expect(day[0]?.openTime).toBe(from);
    expect(day.at(-1)?.openTime).toBe(to);

    const limited = await w.candles({ symbol: 'BTCUSDT', interval: '1h', fromMs: from, limit: 3 });
    expect(limited).toEqual(expected.slice(0, 3));
    expect(await w.candles({ symbol: 'BTCUSDT', interval: '4h' })).toEqual([]);
    expect(await w.candles({ symbol: 'BTCUSDT', interval: '1h', venue: 'bybit' })).toEqual([]);
  });

  it('keeps optional candle fields and flags', async () => {
    const w = warehouse();
    const [first, second] = candles as [Candle, Candle];
    const rich: Candle = { ...first, trades: 1234, vwap: 16517.25 };
    const flagged: Candle = { ...second, flags: ['bad_data'] };
    await w.insert('ohlcv', [candleToRow(rich, INGESTED_AT), candleToRow(flagged, INGESTED_AT)]);
    expect(await w.candles({ symbol: 'BTCUSDT', interval: '1h' })).toEqual([rich, flagged]);
  });

  it('serialises concurrent inserts and reads', async () => {
    const w = warehouse();
    const rows = candles.map((c) => candleToRow(c, INGESTED_AT));
    const parts = [rows.slice(0, 700), rows.slice(500, 1500), rows.slice(1400), rows];
    const results = await Promise.all([...parts.map((p) => w.insert('ohlcv', p)), w.count('ohlcv')]);
    expect(results.at(-1)).toBe(2160);
    expect(await w.count('ohlcv')).toBe(2160);
  });

  it('rejects a bad row with a clear message and writes nothing of its batch', async () => {
    const w = warehouse();
    const rows = candles.slice(0, 10).map((c) => candleToRow(c, INGESTED_AT));
    const bad = { ...rows[5], close: null };
    await expect(w.insert('ohlcv', [...rows.slice(0, 5), bad as Row])).rejects.toThrow(
      'ohlcv row 5 column close: required',
    );
    await expect(w.insert('ohlcv', [{ ...rows[0], open_time: '2023-01-01' } as Row])).rejects.toThrow(
      'expected epoch milliseconds',
    );
    await expect(w.insert('ohlcv', [{ ...rows[0], colour: 'red' } as Row])).rejects.toThrow('unknown column colour');
    expect(await w.count('ohlcv')).toBe(0);
  });

  it('persists to a file across reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cst-duck-'));
    try {
      const file = join(dir, 'nested', 'warehouse.duckdb');
      const a = new DuckDbWarehouse({ file });
      await a.insert('ohlcv', candles.slice(0, 100).map((c) => candleToRow(c, INGESTED_AT)));
      await a.close();
      await expect(a.count('ohlcv')).rejects.toThrow('closed');
      const b = warehouse(file);
      expect(await b.count('ohlcv')).toBe(100);
      expect((await b.candles({ symbol: 'BTCUSDT', interval: '1h', limit: 1 }))[0]).toEqual(candles[0]);
    } finally {
      for (const w of open.splice(0)) await w.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DuckDbWarehouse other tables', () => {
  const ts = Date.UTC(2023, 2, 31, 23);
  const last = candles.at(-1) as Candle;
  const samples: Record<Exclude<TableName, 'ohlcv'>, Row> = {
    ticks: { venue: 'bybit', symbol: 'BTCUSDT', trade_id: 'a1b2c3', ts, price: last.close, size: 0.015, side: 'Sell' },
    signals: {
      signal_id: 'MICRO_SCALP:BTCUSDT:1680303600000',
      ts,
      strategy: 'MICRO_SCALP',
      symbol: 'BTCUSDT',
      decision: 'SKIP',
      direction: null,
      price: last.close,
      reasons: 'volume below average',
      features: JSON.stringify({ rsi: 41.2, imbalance: -0.18, nested: { ok: true } }),
    },
    paper_trades: {
      trade_id: 't-1',
      trade_group_id: 'g-1',
      signal_id: null,
      strategy: 'SWING',
      symbol: 'BTCUSDT',
      direction: 'LONG',
      mode: 'paper',
      entry_time: Date.UTC(2023, 2, 30, 12),
      exit_time: ts,
      entry_price: 28000.5,
      exit_price: last.close,
      qty: 0.01,
      fees: 0.56,
      pnl: 4.1,
      pnl_pct: 1.66,
      exit_reason: 'take_profit',
      features: JSON.stringify({ bias: 'LONG', confidence: 72 }),
    },
    shadow_trades: {
      run_id: 'sh-1',
      variation: 'AGGRESSIVE',
      trade_group_id: 'g-2',
      signal_id: 'v52_divergence:BTCUSDT:1680300000000',
      strategy: 'v52_divergence',
      symbol: 'BTCUSDT',
      direction: 'SHORT',
      entry_time: Date.UTC(2023, 2, 30, 12),
      exit_time: ts,
      avg_entry: 28000.5,
      exit_price: 27900,
      qty: 0.01,
      fees: 0.2,
      slippage: 0.05,
      pnl: 0.75,
      pnl_pct: 0.27,
      exit_reason: 'take_profit',
      outcome: 'WIN',
      ml_probability: 0.64,
      features: JSON.stringify({ rsi: 81.5 }),
    },
    shadow_results: { run_id: 'sh-1', ts, variation: 'AGGRESSIVE', period_hours: 24, trades: 12, win_rate: 0.5, profit_factor: 1.1, pnl: 3.2, mean_pnl_pct: 0.02, p_value: 0.41, overrides: JSON.stringify({ 'risk.scalp.perTradeRiskPct': 0.75 }) },
    model_runs: {
      run_id: 'r-1',
      ts,
      strategy: 'MICRO_SCALP',
      model_version: 'v3',
      score: 0.61,
      accuracy: 0.58,
      precision: 0.6,
      recall: null,
      replaced: true,
      details: JSON.stringify({ folds: [0.5, 0.6], features: ['rsi', 'imbalance'] }),
    },
    backtest_runs: {
      run_id: 'bt_20250629T000000_abc',
      ts,
      symbols: 'BTCUSDT,ETHUSDT',
      from_time: Date.UTC(2023, 2, 1),
      to_time: ts,
      objective: 'sharpe',
      trades: 42,
      total_pnl: -12.5,
      win_rate: 0.45,
      max_drawdown_pct: 3.2,
      profit_factor: null,
      sharpe: 0.8,
      params: JSON.stringify({ symbols: ['BTCUSDT', 'ETHUSDT'], grid: [{ name: 'ema', options: ['10', '20'] }] }),
      result: JSON.stringify({ kind: 'backtest', run: { trades: 42 } }),
    },
    backtest_trials: {
      run_id: 'sh_20250629T000000_abc',
      trial_index: 7,
      labels: JSON.stringify({ ema: '10', exits: 'ATR 1.5/1' }),
      overrides: JSON.stringify({ 'scalp.v52_divergence.volumeSpike.emaPeriod': 10 }),
      metrics: JSON.stringify({ trades: 3, totalPnl: -1.25, profitFactor: null, zero: { $num: '-0' } }),
      trades: 3,
      total_pnl: -1.25,
      profit_factor: null,
      max_drawdown_pct: 0.4,
      sharpe: -1.1,
      score: -1.25,
      objective: 'totalPnl',
      wall_ms: 812.5,
      shard_index: 1,
      attempt: 0,
      created_at: ts,
    },
    backtest_manifests: {
      run_id: 'sh_20250629T000000_abc',
      created_at: ts,
      trial_count: 72,
      trials_hash: 'a'.repeat(64),
      manifest_hash: 'b'.repeat(64),
      manifest: JSON.stringify({ version: 1, runId: 'sh_20250629T000000_abc', trials: { kind: 'grid', dims: [] } }),
    },
  };

  for (const [table, row] of Object.entries(samples) as Array<[TableName, Row]>) {
    it(`round-trips one ${table} row (timestamps, nulls, JSON) idempotently`, async () => {
      const w = warehouse();
      await w.insert(table, [row]);
      await w.insert(table, [row, row]);
      expect(await w.count(table)).toBe(1);
      const [back] = await w.rows(table);
      expect(back).toBeDefined();
      for (const [k, v] of Object.entries(row)) {
        if (typeof v === 'string' && v.startsWith('{')) expect(JSON.parse(String(back?.[k]))).toEqual(JSON.parse(v));
        else expect(back?.[k]).toEqual(v);
      }
    });
  }

  it('rejects a JSON column that is not JSON', async () => {
    const w = warehouse();
    await expect(w.insert('signals', [{ ...samples.signals, features: '{rsi:' }])).rejects.toThrow(
      'signals row 0 column features: not valid JSON',
    );
  });
});

describe('a warehouse file written before a nullable column existed', () => {
  it('an old paper_trades table (no slippage column) gains it on open: old rows read null, new rows carry it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cst-duck-old-'));
    try {
      const file = join(dir, 'old.duckdb');
      // the table as the version before `slippage` created it, with one stored row
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const inst = await DuckDBInstance.create(file);
      const conn = await inst.connect();
      const oldDdl = duckDbCreateTable('paper_trades').replace(/,\n\s+"slippage" DOUBLE/, '');
      expect(oldDdl).not.toContain('slippage');
      await conn.run(oldDdl);
      await conn.run(
        `INSERT INTO paper_trades VALUES ('t-old', 'g-old', NULL, 'v52_divergence', 'BTCUSDT', 'LONG', 'paper', epoch_ms(1700000000000), epoch_ms(1700000060000), 100, 101, 1, 0.12, 0.88, 0.88, 'take_profit', NULL)`,
      );
      conn.closeSync();
      inst.closeSync();

      const w = warehouse(file);
      const row: Row = {
        trade_id: 't-new', trade_group_id: 'g-new', signal_id: null, strategy: 'v52_divergence', symbol: 'BTCUSDT', direction: 'LONG', mode: 'paper',
        entry_time: 1700000120000, exit_time: 1700000180000, entry_price: 100, exit_price: 99, qty: 1, fees: 0.075, pnl: -1.075, pnl_pct: -1.075,
        exit_reason: 'stop_loss', features: null, slippage: 0.0198,
      };
      await w.insert('paper_trades', [row]);
      const back = (await w.rows('paper_trades')).sort((a, b) => String(a.trade_id).localeCompare(String(b.trade_id)));
      expect(back.map((r) => [r.trade_id, r.slippage])).toEqual([
        ['t-new', 0.0198],
        ['t-old', null],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
