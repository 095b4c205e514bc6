/**
 * Embedded warehouse on DuckDB (`@duckdb/node-api`): the offline stand-in for BigQuery, with the same
 * tables (DDL derived from `shared/warehouse-schema.ts`).
 *
 * Inserts are idempotent by key: rows are appended (DuckDB appender, fast for thousands of rows) into a
 * connection-local TEMP staging table, then merged with one `INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING` (a single atomic statement) against the table's PRIMARY KEY. Every call runs on one
 * connection, serialised through a queue, so concurrent callers never interleave a stage/merge pair.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { CandleRange, Row, Warehouse } from '../../shared/ports/warehouse.js';
import type { LearningTable } from '../../shared/ports/learning-history.js';
import { INTERVAL_MS, INTERVALS, type Candle, type Interval, type Venue } from '../../shared/model/market.js';
import { TABLES, type Column, type TableName } from '../../shared/warehouse-schema.js';
import type { Logger } from '../../shared/log.js';
import {
  TABLE_NAMES,
  duckDbAddColumnsSql,
  duckDbCreateStaging,
  duckDbMergeSql,
  duckDbSchemaSql,
  duckDbSelectExpr,
  duckDbStagingName,
  duckIdent,
} from './ddl.js';
import { prepareRows, rowToCandle, type Cell } from './rows.js';

export const IN_MEMORY = ':memory:';

interface DuckDbWarehouseOptions {
  /** Database file, or ':memory:'. Parent folders of a file are created. */
  file: string;
  log?: Logger;
}

function appendCell(app: DuckDBAppender, col: Column, v: Cell): void {
  if (v === null) {
    app.appendNull();
    return;
  }
  switch (col.type) {
    case 'STRING':
    case 'JSON':
      app.appendVarchar(v as string);
      return;
    case 'INT64':
    case 'TIMESTAMP':
      app.appendBigInt(BigInt(v as number));
      return;
    case 'FLOAT64':
      app.appendDouble(v as number);
      return;
    case 'BOOL':
      app.appendBoolean(v as boolean);
      return;
  }
}

function toNumber(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

function toNullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : toNumber(v);
}

export class DuckDbWarehouse implements Warehouse {
  private readonly file: string;
  private readonly log: Logger | undefined;
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(opts: DuckDbWarehouseOptions) {
    this.file = opts.file;
    this.log = opts.log;
  }

  /** Runs `fn` after every earlier call has finished (one connection, no interleaving). */
  private exclusive<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.closed) throw new Error('DuckDbWarehouse is closed');
      return fn(await this.open());
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Opens the database and creates tables and staging tables (idempotent). Called inside the queue. */
  private async open(): Promise<DuckDBConnection> {
    if (this.conn) return this.conn;
    if (this.file !== IN_MEMORY) mkdirSync(dirname(this.file), { recursive: true });
    const instance = await DuckDBInstance.create(this.file);
    const conn = await instance.connect();
    try {
      for (const sql of duckDbSchemaSql()) await conn.run(sql);
      // tables stored by an older version gain the nullable columns added since (e.g. paper_trades.slippage)
      const cols = (await conn.runAndReadAll(`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'`)).getRowObjectsJS();
      for (const t of TABLE_NAMES) {
        const existing = new Set(cols.filter((r) => r.table_name === TABLES[t].name).map((r) => String(r.column_name)));
        for (const sql of duckDbAddColumnsSql(t, existing)) await conn.run(sql);
      }
      for (const t of TABLE_NAMES) await conn.run(duckDbCreateStaging(t));
    } catch (e) {
      conn.closeSync();
      instance.closeSync();
      throw e;
    }
    this.instance = instance;
    this.conn = conn;
    this.log?.debug('duckdb warehouse open', { file: this.file });
    return conn;
  }

  ensureSchema(): Promise<void> {
    return this.exclusive(async () => undefined);
  }

  async insert(table: TableName, rows: Row[]): Promise<void> {
    // Validate before queueing (synchronously, so call order is queue order): a bad row fails the
    // call without touching storage.
    const { cells } = prepareRows(table, rows);
    if (cells.length === 0) return;
    const cols: readonly Column[] = TABLES[table].columns;
    const stage = duckIdent(duckDbStagingName(table));
    await this.exclusive(async (conn) => {
      await conn.run(`DELETE FROM ${stage}`);
      try {
        const app = await conn.createAppender(duckDbStagingName(table));
        try {
          for (const row of cells) {
            cols.forEach((c, i) => appendCell(app, c, row[i] ?? null));
            app.endRow();
          }
          app.flushSync();
        } finally {
          app.closeSync();
        }
        await conn.run(duckDbMergeSql(table));
      } finally {
        await conn.run(`DELETE FROM ${stage}`);
      }
    });
  }

  candles(range: CandleRange): Promise<Candle[]> {
    const cols: readonly Column[] = TABLES.ohlcv.columns;
    const select = cols.filter((c) => c.name !== 'ingested_at').map((c) => duckDbSelectExpr(c));
    const where = [`${duckIdent('symbol')} = $symbol`, `${duckIdent('interval')} = $interval`];
    const params: Record<string, DuckDBValue> = { symbol: range.symbol, interval: range.interval };
    if (range.venue !== undefined) {
      where.push(`${duckIdent('venue')} = $venue`);
      params.venue = range.venue;
    }
    if (range.fromMs !== undefined) {
      where.push(`${duckIdent('open_time')} >= epoch_ms(CAST($fromMs AS BIGINT))`);
      params.fromMs = BigInt(Math.trunc(range.fromMs));
    }
    if (range.toMs !== undefined) {
      where.push(`${duckIdent('open_time')} <= epoch_ms(CAST($toMs AS BIGINT))`);
      params.toMs = BigInt(Math.trunc(range.toMs));
    }
    let sql =
      `SELECT ${select.join(', ')} FROM ${duckIdent(TABLES.ohlcv.name)} WHERE ${where.join(' AND ')} ` +
      `ORDER BY ${duckIdent('open_time')}, ${duckIdent('venue')}`;
    if (range.limit !== undefined) {
      sql += ' LIMIT CAST($limit AS BIGINT)';
      params.limit = BigInt(Math.max(0, Math.trunc(range.limit)));
    }
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS().map((r) =>
        rowToCandle({
          venue: String(r.venue),
          symbol: String(r.symbol),
          interval: String(r.interval),
          open_time: toNumber(r.open_time),
          open: toNumber(r.open),
          high: toNumber(r.high),
          low: toNumber(r.low),
          close: toNumber(r.close),
          volume: toNumber(r.volume),
          trades: toNullableNumber(r.trades),
          vwap: toNullableNumber(r.vwap),
          flags: r.flags === null || r.flags === undefined ? null : String(r.flags),
        }),
      );
    });
  }

  /**
   * Open times (epoch ms, ascending) of one series' stored candles, optionally within inclusive
   * bounds: what `download-data` already holds (resume = requested range minus these).
   */
  openTimes(series: { venue: Venue; symbol: string; interval: Interval; fromMs?: number; toMs?: number }): Promise<number[]> {
    const where = [`${duckIdent('venue')} = $venue`, `${duckIdent('symbol')} = $symbol`, `${duckIdent('interval')} = $interval`];
    const params: Record<string, DuckDBValue> = { venue: series.venue, symbol: series.symbol, interval: series.interval };
    if (series.fromMs !== undefined) {
      where.push(`${duckIdent('open_time')} >= epoch_ms(CAST($fromMs AS BIGINT))`);
      params.fromMs = BigInt(Math.trunc(series.fromMs));
    }
    if (series.toMs !== undefined) {
      where.push(`${duckIdent('open_time')} <= epoch_ms(CAST($toMs AS BIGINT))`);
      params.toMs = BigInt(Math.trunc(series.toMs));
    }
    const sql = `SELECT epoch_ms(${duckIdent('open_time')}) AS t FROM ${duckIdent(TABLES.ohlcv.name)} WHERE ${where.join(' AND ')} ORDER BY t`;
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(sql, params);
      return reader.getRowsJS().map((r) => toNumber(r[0]));
    });
  }

  /**
   * Per venue/symbol/interval of `ohlcv`: count, first and last open time, and the runs of missing
   * candles between them (one SQL pass with a window function; `list-data`).
   */
  ohlcvCoverage(): Promise<Array<{ venue: Venue; symbol: string; interval: Interval; count: number; firstMs: number; lastMs: number; missing: number; gapRanges: number }>> {
    const ivCase = `CASE ${duckIdent('interval')} ${INTERVALS.map((i) => `WHEN '${i}' THEN ${INTERVAL_MS[i]}`).join(' ')} END`;
    const key = [duckIdent('venue'), duckIdent('symbol'), duckIdent('interval')].join(', ');
    const sql =
      `WITH t AS (SELECT ${key}, epoch_ms(${duckIdent('open_time')}) AS t, ${ivCase} AS iv FROM ${duckIdent(TABLES.ohlcv.name)}), ` +
      `d AS (SELECT *, t - lag(t) OVER (PARTITION BY ${key} ORDER BY t) AS dt FROM t) ` +
      `SELECT ${key}, count(*) AS n, min(t) AS first_ms, max(t) AS last_ms, ` +
      `coalesce(sum(CASE WHEN dt > iv THEN dt // iv - 1 ELSE 0 END), 0) AS missing, count(*) FILTER (WHERE dt > iv) AS gap_ranges ` +
      `FROM d GROUP BY ${key} ORDER BY ${key}`;
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((r) => ({
        venue: String(r.venue) as Venue,
        symbol: String(r.symbol),
        interval: String(r.interval) as Interval,
        count: toNumber(r.n),
        firstMs: toNumber(r.first_ms),
        lastMs: toNumber(r.last_ms),
        missing: toNumber(r.missing),
        gapRanges: toNumber(r.gap_ranges),
      }));
    });
  }

  count(table: TableName): Promise<number> {
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${duckIdent(TABLES[table].name)}`);
      const [row] = reader.getRowObjectsJS();
      return toNumber(row?.n ?? 0);
    });
  }

  /**
   * Rows of a table in `Row` form (TIMESTAMPs as epoch ms, JSON as text), ordered by key. For
   * tests, exports and the local tools; not part of the port.
   */
  rows(table: TableName): Promise<Row[]> {
    const t = TABLES[table];
    const cols: readonly Column[] = t.columns;
    const sql =
      `SELECT ${cols.map((c) => duckDbSelectExpr(c)).join(', ')} FROM ${duckIdent(t.name)} ` +
      `ORDER BY ${t.key.map((k: string) => duckIdent(k)).join(', ')}`;
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((r) => {
        const out: Row = {};
        for (const c of cols) {
          const v = r[c.name];
          if (v === null || v === undefined) out[c.name] = null;
          else if (typeof v === 'bigint') out[c.name] = Number(v);
          else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[c.name] = v;
          else out[c.name] = String(v);
        }
        return out;
      });
    });
  }

  /** The rows of one run of a run table (`backtest_trials`, `backtest_manifests`), ordered by key. */
  async runRows(table: 'backtest_trials' | 'backtest_manifests', runId: string): Promise<Row[]> {
    return (await this.rowsWhere(table, `${duckIdent('run_id')} = $runId`, { runId }));
  }

  /** LearningHistory (shared/ports/learning-history.ts): the rows of one strategy, ordered by key. */
  strategyRows(table: LearningTable, strategy: string): Promise<Row[]> {
    return this.rowsWhere(table, `${duckIdent('strategy')} = $strategy`, { strategy });
  }

  private rowsWhere(table: TableName, where: string, params: Record<string, DuckDBValue>): Promise<Row[]> {
    const t = TABLES[table];
    const cols: readonly Column[] = t.columns;
    const sql =
      `SELECT ${cols.map((c) => duckDbSelectExpr(c)).join(', ')} FROM ${duckIdent(t.name)} WHERE ${where} ` +
      `ORDER BY ${t.key.map((k: string) => duckIdent(k)).join(', ')}`;
    return this.exclusive(async (conn) => {
      const reader = await conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS().map((r) => {
        const out: Row = {};
        for (const c of cols) {
          const v = r[c.name];
          if (v === null || v === undefined) out[c.name] = null;
          else if (typeof v === 'bigint') out[c.name] = Number(v);
          else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[c.name] = v;
          else out[c.name] = String(v);
        }
        return out;
      });
    });
  }

  close(): Promise<void> {
    const run = this.tail.then(() => {
      if (this.closed) return;
      this.closed = true;
      this.conn?.closeSync();
      this.instance?.closeSync();
      this.conn = undefined;
      this.instance = undefined;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
