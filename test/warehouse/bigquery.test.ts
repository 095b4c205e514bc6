import { afterEach, describe, expect, it } from 'vitest';
import { BigQueryWarehouse, candlesQuery } from '../../infra/warehouse/bigquery.js';
import { TABLES, candleToRow, type TableName } from '../../shared/warehouse-schema.js';
import type { Candle } from '../../shared/model/market.js';
import {
  FakeBigQueryServer,
  type FakeBigQueryOptions,
  type QueryRequestBody,
  type QueryResult,
} from './bigquery-server.js';
import { readKrakenCandles } from './market-csv.js';
import { fixture } from '../kit.js';

const PROJECT = 'cst-test';
const INGESTED_AT = Date.UTC(2023, 3, 1);
const candles = readKrakenCandles(fixture('macro', 'XBTUSD_60.csv'), 'BTCUSDT', '1h') // = the kit's kraken_ohlcvt/XBTUSD_60.csv;

function params(req: QueryRequestBody): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const p of req.queryParameters ?? []) {
    out[p.name] = p.parameterType.type === 'INT64' ? Number(p.parameterValue.value) : p.parameterValue.value;
  }
  return out;
}

function keyOf(table: TableName, row: Record<string, unknown>): string {
  return TABLES[table].key.map((k: string) => String(row[k])).join('|');
}

/**
 * What BigQuery computes for the two statements the adapter sends (the server does not parse SQL):
 * the count of distinct keys, and the ohlcv rows filtered by the parameters, first-ingested per key,
 * ordered by open time, with TIMESTAMPs as UNIX_MILLIS.
 */
const evaluate: FakeBigQueryOptions['onQuery'] = (req, server): QueryResult => {
  const from = /FROM `([^`]+)\.([^`.]+)\.([^`.]+)`/.exec(req.query);
  if (!from) throw new Error(`no table in ${req.query}`);
  const [, , dataset, tableName] = from as unknown as [string, string, string, TableName];
  const stored = server.table(dataset, tableName)?.rows ?? [];
  if (req.query.startsWith('SELECT COUNT(*) AS n')) {
    return { fields: [{ name: 'n', type: 'INTEGER' }], rows: [{ n: new Set(stored.map((r) => keyOf(tableName, r))).size }] };
  }
  if (tableName !== 'ohlcv') throw new Error(`unexpected query ${req.query}`);
  const p = params(req);
  const firstPerKey = new Map<string, Record<string, unknown>>();
  for (const r of stored) {
    const k = keyOf('ohlcv', r);
    const prev = firstPerKey.get(k);
    if (!prev || Date.parse(String(r.ingested_at)) < Date.parse(String(prev.ingested_at))) firstPerKey.set(k, r);
  }
  let rows = [...firstPerKey.values()].filter((r) => {
    const t = Date.parse(String(r.open_time));
    return (
      r.symbol === p.symbol &&
      r.interval === p.interval &&
      (p.venue === undefined || r.venue === p.venue) &&
      (p.fromMs === undefined || t >= Number(p.fromMs)) &&
      (p.toMs === undefined || t <= Number(p.toMs))
    );
  });
  rows.sort((a, b) => Date.parse(String(a.open_time)) - Date.parse(String(b.open_time)));
  if (p.limit !== undefined) rows = rows.slice(0, Number(p.limit));
  const fields = TABLES.ohlcv.columns
    .filter((c) => c.name !== 'ingested_at')
    .map((c) => ({ name: c.name, type: c.type === 'TIMESTAMP' ? 'INTEGER' : c.type === 'FLOAT64' ? 'FLOAT' : c.type }));
  return {
    fields,
    rows: rows.map((r) => {
      const out: Record<string, string | number | boolean | null> = {};
      for (const f of fields) {
        const v = r[f.name];
        out[f.name] = f.name === 'open_time' ? Date.parse(String(v)) : ((v ?? null) as string | number | null);
      }
      return out;
    }),
  };
};

const servers: FakeBigQueryServer[] = [];
async function setup(opts: Partial<FakeBigQueryOptions> = {}) {
  const server = new FakeBigQueryServer({ onQuery: evaluate, ...opts });
  servers.push(server);
  const apiEndpoint = await server.start();
  const wh = new BigQueryWarehouse({
    projectId: PROJECT,
    apiEndpoint,
    anonymous: true,
    clientOptions: { retryOptions: { autoRetry: false } },
  });
  return { server, wh };
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    expect(s.unhandled).toEqual([]);
    await s.stop();
  }
});

type TableBody = {
  tableReference: { projectId: string; datasetId: string; tableId: string };
  description: string;
  schema: { fields: Array<{ name: string; type: string; mode: string; description?: string }> };
  timePartitioning?: { type: string; field: string };
  clustering?: { fields: string[] };
};

describe('BigQueryWarehouse against a local BigQuery REST server', () => {
  it('ensureSchema creates the dataset and day-partitioned, clustered tables once', async () => {
    const { server, wh } = await setup();
    await wh.ensureSchema();
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.path)).toEqual([
      `/bigquery/v2/projects/${PROJECT}/datasets`,
      ...Object.keys(TABLES).map(() => `/bigquery/v2/projects/${PROJECT}/datasets/cryptotracker/tables`),
    ]);
    expect(posts[0]?.body).toMatchObject({ datasetReference: { datasetId: 'cryptotracker' }, location: 'US' });
    for (const r of server.requests) expect(r.headers.authorization).toBeUndefined();

    const bodies = posts.slice(1).map((r) => r.body as TableBody);
    const ohlcv = bodies.find((b) => b.tableReference.tableId === 'ohlcv');
    expect(ohlcv).toMatchObject({
      tableReference: { projectId: PROJECT, datasetId: 'cryptotracker', tableId: 'ohlcv' },
      description: 'Closed candles of every venue and interval.',
      timePartitioning: { type: 'DAY', field: 'open_time' },
      clustering: { fields: ['symbol', 'interval'] },
    });
    expect(ohlcv?.schema.fields).toHaveLength(13);
    expect(ohlcv?.schema.fields[0]).toEqual({ name: 'venue', type: 'STRING', mode: 'REQUIRED' });
    expect(ohlcv?.schema.fields.find((f) => f.name === 'open_time')).toEqual({
      name: 'open_time',
      type: 'TIMESTAMP',
      mode: 'REQUIRED',
      description: 'candle open time (UTC)',
    });
    expect(ohlcv?.schema.fields.find((f) => f.name === 'trades')).toEqual({ name: 'trades', type: 'INT64', mode: 'NULLABLE' });
    const trades = bodies.find((b) => b.tableReference.tableId === 'paper_trades');
    expect(trades?.timePartitioning).toEqual({ type: 'DAY', field: 'exit_time' });
    expect(trades?.schema.fields.find((f) => f.name === 'features')).toEqual({ name: 'features', type: 'JSON', mode: 'NULLABLE' });

    // Second run: only existence checks.
    const before = server.requests.length;
    await wh.ensureSchema();
    const again = server.requests.slice(before);
    expect(again.every((r) => r.method === 'GET')).toBe(true);
    expect(again).toHaveLength(1 + Object.keys(TABLES).length);
  });

  it('a table created before a nullable column existed gains it (paper_trades.slippage); its old fields stay', async () => {
    const { server, wh } = await setup();
    await wh.ensureSchema();
    const stored = server.table('cryptotracker', 'paper_trades')!;
    const current = stored.resource.schema.fields;
    stored.resource.schema = { fields: current.filter((f) => f.name !== 'slippage') }; // as the older version created it
    const before = server.requests.length;
    await wh.ensureSchema();
    const patches = server.requests.slice(before).filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([`/bigquery/v2/projects/${PROJECT}/datasets/cryptotracker/tables/paper_trades`]);
    expect(stored.resource.schema.fields).toEqual(current);
    expect(current.find((f) => f.name === 'slippage')).toMatchObject({ type: 'FLOAT64', mode: 'NULLABLE' });
  });

  it('streams the real candles with key insertIds and ISO timestamps; redelivery adds nothing', async () => {
    const { server, wh } = await setup();
    await wh.ensureSchema();
    const start = server.requests.length;
    await wh.insert('ohlcv', candles.map((c) => candleToRow(c, INGESTED_AT)));
    const first = server.requests.slice(start).filter((r) => r.path.endsWith('/insertAll'));
    expect(first.map((r) => r.path)).toEqual(
      Array(5).fill(`/bigquery/v2/projects/${PROJECT}/datasets/cryptotracker/tables/ohlcv/insertAll`),
    );
    const sent = first.flatMap((r) => (r.body as { rows: Array<{ insertId: string; json: Record<string, unknown> }> }).rows);
    expect(sent).toHaveLength(2160);
    expect(sent[0]).toEqual({
      insertId: 'kraken|BTCUSDT|1h|1672531200000',
      json: {
        venue: 'kraken',
        symbol: 'BTCUSDT',
        interval: '1h',
        open_time: '2023-01-01T00:00:00.000Z',
        open: 16528.7,
        high: 16530,
        low: 16505.2,
        close: 16519.3,
        volume: 96.61968029,
        ingested_at: '2023-04-01T00:00:00.000Z',
      },
    });
    expect(sent.at(-1)?.insertId).toBe('kraken|BTCUSDT|1h|1680303600000');
    expect(sent.at(-1)?.json.open_time).toBe('2023-03-31T23:00:00.000Z');

    const mid = server.requests.length;
    await wh.insert('ohlcv', candles.map((c) => candleToRow(c, INGESTED_AT + 60_000)));
    const second = server.requests
      .slice(mid)
      .flatMap((r) => (r.body as { rows: Array<{ insertId: string }> }).rows.map((x) => x.insertId));
    expect(second).toEqual(sent.map((r) => r.insertId));
    expect(server.table('cryptotracker', 'ohlcv')?.rows).toHaveLength(2160);

    expect(await wh.count('ohlcv')).toBe(2160);
    const countReq = server.requests.at(-1);
    expect(countReq?.path).toBe(`/bigquery/v2/projects/${PROJECT}/queries`);
    expect((countReq?.body as QueryRequestBody).query).toBe(
      'SELECT COUNT(*) AS n FROM (SELECT 1 FROM `cst-test.cryptotracker.ohlcv` WHERE TRUE ' +
        'QUALIFY ROW_NUMBER() OVER (PARTITION BY `venue`, `symbol`, `interval`, `open_time` ORDER BY `ingested_at` ASC) = 1)',
    );
  });

  it('maps paged query results back to the exact candles', async () => {
    const { server, wh } = await setup({ pageSize: 1000 });
    await wh.ensureSchema();
    await wh.insert('ohlcv', candles.map((c) => candleToRow(c, INGESTED_AT)));
    const start = server.requests.length;
    const all = await wh.candles({ symbol: 'BTCUSDT', interval: '1h' });
    expect(all).toEqual(candles);
    const reqs = server.requests.slice(start);
    expect(reqs.map((r) => `${r.method} ${r.path.replace(/job_[0-9a-f-]+/, 'JOB')}`)).toEqual([
      `POST /bigquery/v2/projects/${PROJECT}/queries`,
      `GET /bigquery/v2/projects/${PROJECT}/queries/JOB`,
      `GET /bigquery/v2/projects/${PROJECT}/queries/JOB`,
    ]);
    expect(reqs.slice(1).map((r) => r.query.pageToken)).toEqual(['page-1000', 'page-2000']);
    const q = reqs[0]?.body as QueryRequestBody;
    expect(q.useLegacySql).toBe(false);
    expect(q.query).toContain('UNIX_MILLIS(`open_time`) AS `open_time`');
    expect(q.query).toContain(
      'QUALIFY ROW_NUMBER() OVER (PARTITION BY `venue`, `symbol`, `interval`, `open_time` ORDER BY `ingested_at` ASC) = 1',
    );
    expect(q.query).toMatch(/ORDER BY `open_time`, `venue`$/);

    const from = Date.UTC(2023, 1, 1, 0);
    const to = Date.UTC(2023, 1, 1, 23);
    const day = await wh.candles({ symbol: 'BTCUSDT', interval: '1h', venue: 'kraken', fromMs: from, toMs: to, limit: 30 });
    expect(day).toEqual(candles.filter((c) => c.openTime >= from && c.openTime <= to));
    expect(day).toHaveLength(24);
    const rq = server.requests.at(-1)?.body as QueryRequestBody;
    expect(rq.parameterMode?.toUpperCase()).toBe('NAMED');
    expect(rq.queryParameters).toEqual(
      expect.arrayContaining([
        { name: 'symbol', parameterType: { type: 'STRING' }, parameterValue: { value: 'BTCUSDT' } },
        { name: 'venue', parameterType: { type: 'STRING' }, parameterValue: { value: 'kraken' } },
        { name: 'fromMs', parameterType: { type: 'INT64' }, parameterValue: { value: from } },
        { name: 'toMs', parameterType: { type: 'INT64' }, parameterValue: { value: to } },
        { name: 'limit', parameterType: { type: 'INT64' }, parameterValue: { value: 30 } },
      ]),
    );
    expect(rq.query).toContain('`open_time` >= TIMESTAMP_MILLIS(@fromMs) AND `open_time` <= TIMESTAMP_MILLIS(@toMs)');
  });

  it('polls getQueryResults until the job completes and keeps optional fields', async () => {
    const { server, wh } = await setup({ pendingPolls: 2 });
    await wh.ensureSchema();
    const [c0, c1] = candles as [Candle, Candle];
    const rich: Candle = { ...c0, trades: 812, vwap: 16518.4 };
    const flagged: Candle = { ...c1, flags: ['bad_data'] };
    await wh.insert('ohlcv', [candleToRow(rich, INGESTED_AT), candleToRow(flagged, INGESTED_AT)]);
    const start = server.requests.length;
    expect(await wh.candles({ symbol: 'BTCUSDT', interval: '1h' })).toEqual([rich, flagged]);
    expect(server.requests.slice(start).filter((r) => r.method === 'GET')).toHaveLength(3);
  });

  it('sends JSON columns as JSON text and nullable columns as absent', async () => {
    const { server, wh } = await setup();
    await wh.ensureSchema();
    const features = JSON.stringify({ rsi: 41.2, imbalance: -0.18 });
    await wh.insert('signals', [
      {
        signal_id: 'MICRO_SCALP:BTCUSDT:1680303600000',
        ts: 1680303600000,
        strategy: 'MICRO_SCALP',
        symbol: 'BTCUSDT',
        decision: 'SKIP',
        direction: null,
        price: 28466.8,
        reasons: 'volume below average',
        features,
      },
    ]);
    const body = server.requests.at(-1)?.body as { rows: Array<{ insertId: string; json: Record<string, unknown> }> };
    expect(body.rows).toEqual([
      {
        insertId: 'MICRO_SCALP:BTCUSDT:1680303600000',
        json: {
          signal_id: 'MICRO_SCALP:BTCUSDT:1680303600000',
          ts: '2023-03-31T23:00:00.000Z',
          strategy: 'MICRO_SCALP',
          symbol: 'BTCUSDT',
          decision: 'SKIP',
          price: 28466.8,
          reasons: 'volume below average',
          features,
        },
      },
    ]);
    expect(await wh.count('signals')).toBe(1);
  });

  it('reports a missing table clearly, and rejects bad rows before any request', async () => {
    const { server, wh } = await setup();
    const row = candleToRow(candles[0] as Candle, INGESTED_AT);
    await expect(wh.insert('ohlcv', [row])).rejects.toThrow('call ensureSchema() first');
    const n = server.requests.length;
    await expect(wh.insert('ohlcv', [{ ...row, volume: Number.NaN }])).rejects.toThrow(
      'ohlcv row 0 column volume: expected a finite number',
    );
    expect(server.requests).toHaveLength(n);
  });

  it('surfaces rows BigQuery rejects (an existing table with an older schema)', async () => {
    const { server, wh } = await setup();
    await wh.ensureSchema();
    const stored = server.table('cryptotracker', 'ohlcv');
    if (!stored) throw new Error('ohlcv not created');
    stored.resource.schema.fields = stored.resource.schema.fields.filter((f) => f.name !== 'flags');
    const flagged: Candle = { ...(candles[0] as Candle), flags: ['bad_data'] };
    await expect(wh.insert('ohlcv', [candleToRow(flagged, INGESTED_AT)])).rejects.toThrow(
      'BigQuery insert into ohlcv rejected 1 of 1 rows; first: kraken|BTCUSDT|1h|1672531200000: no such field: flags',
    );
    expect(stored.rows).toEqual([]);
  });

  it('builds the candles statement without optional filters', () => {
    const stmt = candlesQuery('p', 'cryptotracker', { symbol: 'ETHUSDT', interval: '5m' });
    expect(stmt.params).toEqual({ symbol: 'ETHUSDT', interval: '5m' });
    expect(stmt.query).toContain('FROM `p.cryptotracker.ohlcv` WHERE `symbol` = @symbol AND `interval` = @interval QUALIFY');
    expect(stmt.query).not.toContain('LIMIT');
  });
});
