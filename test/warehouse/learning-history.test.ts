/**
 * LearningHistory (shared/ports/learning-history.ts) on both warehouses: the rows of ONE strategy of
 * paper_trades / shadow_trades, key-de-duplicated, in Row form. BigQuery against the local REST fake
 * (test/warehouse/bigquery-server.ts, the official client on the wire): the strategy travels as a
 * query PARAMETER, never inside the SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { BigQueryWarehouse, strategyRowsQuery } from '../../infra/warehouse/bigquery.js';
import type { LearningHistory } from '../../shared/ports/learning-history.js';
import type { Row } from '../../shared/ports/warehouse.js';
import { TABLES } from '../../shared/warehouse-schema.js';
import { FakeBigQueryServer, type QueryRequestBody, type QueryResult } from './bigquery-server.js';

const T = Date.UTC(2025, 5, 12, 10);
function lot(id: string, strategy: string, over: Partial<Row> = {}): Row {
  return {
    trade_id: id,
    trade_group_id: `g-${id}`,
    signal_id: `${strategy}:BTCUSDT:${T}`,
    strategy,
    symbol: 'BTCUSDT',
    direction: 'LONG',
    mode: 'paper',
    entry_time: T,
    exit_time: T + 600_000,
    entry_price: 105_000.5,
    exit_price: 105_400,
    qty: 0.01,
    fees: 0.3,
    pnl: 3.7,
    pnl_pct: 0.35,
    exit_reason: 'take_profit',
    features: JSON.stringify({ rsi: 21.4, engine: 'SCALP', candleTime: T - 60_000 }),
    slippage: 0,
    ...over,
  };
}

async function check(h: LearningHistory & { insert(t: 'paper_trades', r: Row[]): Promise<void> }): Promise<void> {
  await h.insert('paper_trades', [lot('a', 'v52_divergence'), lot('b', 'levels_exhaustion'), lot('c', 'v52_divergence', { pnl: -2, exit_reason: 'stop_loss' })]);
  await h.insert('paper_trades', [lot('a', 'v52_divergence')]); // a redelivery: no second row
  const rows = await h.strategyRows('paper_trades', 'v52_divergence');
  expect(rows.map((r) => r.trade_id)).toEqual(['a', 'c']);
  expect(rows[0]).toMatchObject({ entry_time: T, exit_time: T + 600_000, pnl: 3.7, exit_reason: 'take_profit', signal_id: `v52_divergence:BTCUSDT:${T}` });
  expect(JSON.parse(String(rows[0]?.features))).toEqual({ rsi: 21.4, engine: 'SCALP', candleTime: T - 60_000 });
  expect(await h.strategyRows('paper_trades', "dca' OR '1'='1")).toEqual([]);
  expect(await h.strategyRows('shadow_trades', 'v52_divergence')).toEqual([]);
}

describe('LearningHistory on DuckDB', () => {
  it('one strategy, de-duplicated, TIMESTAMPs as ms and JSON as text; a hostile strategy string matches nothing', async () => {
    const w = new DuckDbWarehouse({ file: ':memory:' });
    try {
      await w.ensureSchema();
      await check(w);
    } finally {
      await w.close();
    }
  });
});

describe('LearningHistory on BigQuery (local REST fake)', () => {
  const PROJECT = 'cst-test-project';
  const wire = (t: string) => (t === 'TIMESTAMP' || t === 'INT64' ? 'INTEGER' : t === 'FLOAT64' ? 'FLOAT' : t === 'JSON' ? 'STRING' : t === 'BOOL' ? 'BOOLEAN' : t);
  /** What BigQuery computes for strategyRowsQuery (the fake does not parse SQL): checked to be that statement, values from parameters only. */
  function evaluate(req: QueryRequestBody, server: FakeBigQueryServer): QueryResult {
    const [, dataset, table] = /FROM `[^`]+\.([^`.]+)\.([^`.]+)`/.exec(req.query) as unknown as [string, string, 'paper_trades' | 'shadow_trades'];
    const strategy = String(req.queryParameters?.find((p) => p.name === 'strategy')?.parameterValue.value);
    expect(req.query).toBe(strategyRowsQuery(PROJECT, dataset, table, strategy).query);
    expect(req.query).not.toContain('v52_divergence');
    const t = TABLES[table];
    const seen = new Set<string>();
    const rows = (server.table(dataset, table)?.rows ?? []).filter((r) => {
      const k = t.key.map((c) => String(r[c])).join('|');
      if (r.strategy !== strategy || seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    return {
      fields: t.columns.map((c) => ({ name: c.name, type: wire(c.type) })),
      rows: rows.map((r) => Object.fromEntries(t.columns.map((c) => [c.name, r[c.name] === undefined || r[c.name] === null ? null : c.type === 'TIMESTAMP' ? Date.parse(String(r[c.name])) : (r[c.name] as string | number | boolean)]))),
    };
  }
  const bq = new FakeBigQueryServer({ onQuery: evaluate });
  let endpoint = '';
  beforeAll(async () => {
    endpoint = await bq.start();
  });
  afterAll(() => bq.stop());

  it('the same answers through the official client, the strategy as a parameter', async () => {
    const w = new BigQueryWarehouse({ projectId: PROJECT, apiEndpoint: endpoint, anonymous: true, clientOptions: { retryOptions: { autoRetry: false } } });
    await w.ensureSchema();
    await check(w);
  });
});
