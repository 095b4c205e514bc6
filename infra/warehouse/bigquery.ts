/**
 * BigQuery warehouse (`@google-cloud/bigquery` v8), dataset `cryptotracker`. Tables are created from
 * `shared/warehouse-schema.ts` (day-partitioned, clustered). Inserts are streaming inserts
 * (`tabledata.insertAll`) whose `insertId` is the row key, so BigQuery's best-effort de-duplication
 * drops redeliveries; readers additionally de-duplicate by key with
 * `QUALIFY ROW_NUMBER() OVER (PARTITION BY key ...) = 1`, which makes history exact even when a
 * redelivery arrives after the de-dup window (first ingested row wins, as in DuckDB).
 */
import { createHash } from 'node:crypto';
import { BigQuery, type BigQueryOptions, type Dataset, type TableMetadata } from '@google-cloud/bigquery';
import type { CandleRange, Row, Warehouse } from '../../shared/ports/warehouse.js';
import type { LearningTable } from '../../shared/ports/learning-history.js';
import type { Candle } from '../../shared/model/market.js';
import { DATASET, TABLES, type Column, type TableName } from '../../shared/warehouse-schema.js';
import type { Logger } from '../../shared/log.js';
import { TABLE_NAMES, bigQueryFieldsWithAdded, bigQueryTableMetadata, bqIdent } from './ddl.js';
import { prepareRows, rowToCandle, type Cell } from './rows.js';

/** Rows per insertAll request (Google recommends about 500; the hard limit is 50,000 / 10 MB). */
const INSERT_CHUNK_ROWS = 500;
/** insertId longer than this is replaced by its SHA-256 (BigQuery limits insertId length). */
const MAX_INSERT_ID_LENGTH = 128;
/** Default dataset location. */
const DEFAULT_LOCATION = 'US';
/** A column that, when present, orders duplicates so that the first ingested row wins. */
const INGESTED_AT = 'ingested_at';

const HTTP_NOT_FOUND = 404;
const HTTP_CONFLICT = 409;

interface BigQueryWarehouseOptions {
  projectId: string;
  /** Defaults to `cryptotracker`. */
  dataset?: string;
  /** Dataset location and query location. Defaults to US. */
  location?: string;
  /** e.g. `http://127.0.0.1:9050` for a local server; the client appends `/bigquery/v2`. */
  apiEndpoint?: string;
  /**
   * Send requests without Google credentials (local servers and emulators only). Without it the
   * client uses Application Default Credentials.
   */
  anonymous?: boolean;
  /** Extra client options (retry options, keyFilename...). */
  clientOptions?: BigQueryOptions;
  insertChunkRows?: number;
  log?: Logger;
}

/**
 * An auth client that adds no credentials (the shape google-auth-library's PassThroughClient has),
 * so requests to a local server never look for Application Default Credentials or the metadata server.
 */
function anonymousAuthClient(projectId: string): NonNullable<BigQueryOptions['authClient']> {
  const client = {
    getRequestHeaders: async () => new Headers(),
    getAccessToken: async () => ({}),
    getProjectId: async () => projectId,
    getCredentials: async () => ({}),
    request: () => Promise.reject(new Error('anonymous auth client does not send requests')),
  };
  return client as unknown as NonNullable<BigQueryOptions['authClient']>;
}

/** insertId of a row: its key (hashed when too long). */
function insertIdFor(key: string): string {
  return key.length <= MAX_INSERT_ID_LENGTH ? key : createHash('sha256').update(key).digest('hex');
}

/** A row in insertAll JSON: TIMESTAMP as ISO-8601 UTC, JSON columns as JSON text, others as is. */
function toInsertJson(table: TableName, cells: Cell[]): Record<string, string | number | boolean | null> {
  const cols: readonly Column[] = TABLES[table].columns;
  const out: Record<string, string | number | boolean | null> = {};
  cols.forEach((c, i) => {
    const v = cells[i] ?? null;
    if (v === null) return; // absent = NULL
    out[c.name] = c.type === 'TIMESTAMP' ? new Date(v as number).toISOString() : v;
  });
  return out;
}

function tableRef(projectId: string, dataset: string, table: TableName): string {
  return bqIdent(`${projectId}.${dataset}.${TABLES[table].name}`);
}

function dedupClause(table: TableName): string {
  const t = TABLES[table];
  const partition = t.key.map((k: string) => bqIdent(k)).join(', ');
  const hasIngestedAt = t.columns.some((c: Column) => c.name === INGESTED_AT);
  const order = hasIngestedAt ? ` ORDER BY ${bqIdent(INGESTED_AT)} ASC` : '';
  return `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${partition}${order}) = 1`;
}

interface BigQueryStatement {
  query: string;
  params: Record<string, string | number>;
}

/** The candles query: key-de-duplicated, ordered by open time, TIMESTAMPs read as epoch ms. */
export function candlesQuery(projectId: string, dataset: string, range: CandleRange): BigQueryStatement {
  const cols = TABLES.ohlcv.columns.filter((c: Column) => c.name !== INGESTED_AT);
  const select = cols.map((c: Column) =>
    c.type === 'TIMESTAMP' ? `UNIX_MILLIS(${bqIdent(c.name)}) AS ${bqIdent(c.name)}` : bqIdent(c.name),
  );
  const where = [`${bqIdent('symbol')} = @symbol`, `${bqIdent('interval')} = @interval`];
  const params: Record<string, string | number> = { symbol: range.symbol, interval: range.interval };
  if (range.venue !== undefined) {
    where.push(`${bqIdent('venue')} = @venue`);
    params.venue = range.venue;
  }
  if (range.fromMs !== undefined) {
    where.push(`${bqIdent('open_time')} >= TIMESTAMP_MILLIS(@fromMs)`);
    params.fromMs = Math.trunc(range.fromMs);
  }
  if (range.toMs !== undefined) {
    where.push(`${bqIdent('open_time')} <= TIMESTAMP_MILLIS(@toMs)`);
    params.toMs = Math.trunc(range.toMs);
  }
  let query =
    `SELECT ${select.join(', ')} FROM ${tableRef(projectId, dataset, 'ohlcv')} ` +
    `WHERE ${where.join(' AND ')} ${dedupClause('ohlcv')} ` +
    `ORDER BY ${bqIdent('open_time')}, ${bqIdent('venue')}`;
  if (range.limit !== undefined) {
    query += ' LIMIT @limit';
    params.limit = Math.max(0, Math.trunc(range.limit));
  }
  return { query, params };
}

/** Every column of `table` in `Row` form (TIMESTAMPs as epoch ms, JSON as JSON text) and its key, for SELECT / ORDER BY. */
function rowSelect(table: TableName): { select: string[]; key: string } {
  const t = TABLES[table];
  const select = t.columns.map((c: Column) =>
    c.type === 'TIMESTAMP'
      ? `UNIX_MILLIS(${bqIdent(c.name)}) AS ${bqIdent(c.name)}`
      : c.type === 'JSON'
        ? `TO_JSON_STRING(${bqIdent(c.name)}) AS ${bqIdent(c.name)}`
        : bqIdent(c.name),
  );
  return { select, key: t.key.map((k: string) => bqIdent(k)).join(', ') };
}

/** Tables whose rows belong to a run (`run_id`) and carry `created_at`: read back by run id. */
export type RunTable = 'backtest_trials' | 'backtest_manifests';

/**
 * The rows of one run, key-de-duplicated keeping the first created (a retried shard attempt or a
 * redelivery that slipped past insertId de-duplication), ordered by key; TIMESTAMPs as epoch ms,
 * JSON columns as JSON text. Parameterised: the run id is never spliced into the SQL.
 */
export function runRowsQuery(projectId: string, dataset: string, table: RunTable, runId: string): BigQueryStatement {
  const { select, key } = rowSelect(table);
  return {
    query:
      `SELECT ${select.join(', ')} FROM ${tableRef(projectId, dataset, table)} WHERE ${bqIdent('run_id')} = @runId ` +
      `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY ${bqIdent('created_at')} ASC) = 1 ORDER BY ${key}`,
    params: { runId },
  };
}

/**
 * The rows of one strategy in a learning table (shared/ports/learning-history.ts), key-de-duplicated
 * (first row per key), ordered by key. Parameterised: the strategy is never spliced into the SQL.
 */
export function strategyRowsQuery(projectId: string, dataset: string, table: LearningTable, strategy: string): BigQueryStatement {
  const { select, key } = rowSelect(table);
  return {
    query:
      `SELECT ${select.join(', ')} FROM ${tableRef(projectId, dataset, table)} WHERE ${bqIdent('strategy')} = @strategy ` +
      `${dedupClause(table)} ORDER BY ${key}`,
    params: { strategy },
  };
}

function countQuery(projectId: string, dataset: string, table: TableName): BigQueryStatement {
  return {
    query:
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${tableRef(projectId, dataset, table)} ` +
      `WHERE TRUE ${dedupClause(table)})`,
    params: {},
  };
}

function errorCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

export class BigQueryWarehouse implements Warehouse {
  readonly projectId: string;
  readonly datasetId: string;
  readonly location: string;
  private readonly bq: BigQuery;
  private readonly chunkRows: number;
  private readonly log: Logger | undefined;

  constructor(opts: BigQueryWarehouseOptions) {
    this.projectId = opts.projectId;
    this.datasetId = opts.dataset ?? DATASET;
    this.location = opts.location ?? DEFAULT_LOCATION;
    this.chunkRows = opts.insertChunkRows ?? INSERT_CHUNK_ROWS;
    this.log = opts.log;
    const clientOpts: BigQueryOptions = { ...opts.clientOptions, projectId: opts.projectId, location: this.location };
    if (opts.apiEndpoint !== undefined) clientOpts.apiEndpoint = opts.apiEndpoint;
    if (opts.anonymous) clientOpts.authClient = anonymousAuthClient(opts.projectId);
    this.bq = new BigQuery(clientOpts);
  }

  private dataset(): Dataset {
    return this.bq.dataset(this.datasetId, { location: this.location });
  }

  async ensureSchema(): Promise<void> {
    const ds = this.dataset();
    const [dsExists] = await ds.exists();
    if (!dsExists) {
      try {
        await this.bq.createDataset(this.datasetId, {
          location: this.location,
          description: 'CryptoSignalTracker history (candles, ticks, scan decisions, trades, model runs).',
        });
        this.log?.info('created BigQuery dataset', { dataset: this.datasetId, location: this.location });
      } catch (e) {
        if (errorCode(e) !== HTTP_CONFLICT) throw e;
      }
    }
    for (const name of TABLE_NAMES) {
      const table = ds.table(TABLES[name].name);
      let meta: TableMetadata | null = null;
      try {
        meta = (await table.getMetadata())[0] as TableMetadata;
      } catch (e) {
        if (errorCode(e) !== HTTP_NOT_FOUND) throw e;
      }
      if (meta) {
        // a table created by an older version gains the nullable columns added since (additive only)
        const existing = meta.schema?.fields ?? [];
        const fields = bigQueryFieldsWithAdded(name, existing);
        if (fields) {
          await table.setMetadata({ schema: { fields } });
          this.log?.info('added BigQuery columns', { dataset: this.datasetId, table: name, columns: fields.slice(existing.length).map((f) => f.name ?? '') });
        }
        continue;
      }
      try {
        await ds.createTable(TABLES[name].name, bigQueryTableMetadata(name));
        this.log?.info('created BigQuery table', { dataset: this.datasetId, table: name });
      } catch (e) {
        if (errorCode(e) !== HTTP_CONFLICT) throw e;
      }
    }
  }

  async insert(table: TableName, rows: Row[]): Promise<void> {
    const { keys, cells } = prepareRows(table, rows);
    if (cells.length === 0) return;
    const target = this.dataset().table(TABLES[table].name);
    const raw = cells.map((c, i) => ({ insertId: insertIdFor(keys[i] as string), json: toInsertJson(table, c) }));
    for (let i = 0; i < raw.length; i += this.chunkRows) {
      const part = raw.slice(i, i + this.chunkRows);
      try {
        await target.insert(part, { raw: true });
      } catch (e) {
        const errors = (e as { errors?: Array<{ errors?: Array<{ message?: string }>; row?: { insertId?: string } }> })
          .errors;
        if (errors && errors.length > 0 && e instanceof Error && e.name === 'PartialFailureError') {
          const first = errors[0];
          throw new Error(
            `BigQuery insert into ${table} rejected ${errors.length} of ${part.length} rows; first: ` +
              `${first?.row?.insertId ?? '?'}: ${first?.errors?.map((x) => x.message).join('; ') ?? 'unknown'}`,
          );
        }
        if (errorCode(e) === HTTP_NOT_FOUND) {
          throw new Error(`BigQuery table ${this.datasetId}.${table} not found: call ensureSchema() first`);
        }
        throw e;
      }
    }
  }

  private async run(stmt: BigQueryStatement): Promise<Array<Record<string, unknown>>> {
    const hasParams = Object.keys(stmt.params).length > 0;
    const [rows] = await this.bq.query({
      query: stmt.query,
      ...(hasParams ? { params: stmt.params } : {}),
      location: this.location,
    });
    return rows as Array<Record<string, unknown>>;
  }

  async candles(range: CandleRange): Promise<Candle[]> {
    const rows = await this.run(candlesQuery(this.projectId, this.datasetId, range));
    return rows.map((r) =>
      rowToCandle({
        venue: String(r.venue),
        symbol: String(r.symbol),
        interval: String(r.interval),
        open_time: num(r.open_time),
        open: num(r.open),
        high: num(r.high),
        low: num(r.low),
        close: num(r.close),
        volume: num(r.volume),
        trades: numOrNull(r.trades),
        vwap: numOrNull(r.vwap),
        flags: r.flags === null || r.flags === undefined ? null : String(r.flags),
      }),
    );
  }

  /** The rows of one run of a run table (see `runRowsQuery`), in `Row` form. */
  async runRows(table: RunTable, runId: string): Promise<Row[]> {
    return this.asRows(table, await this.run(runRowsQuery(this.projectId, this.datasetId, table, runId)));
  }

  /** LearningHistory: the rows of one strategy (see `strategyRowsQuery`), in `Row` form. */
  async strategyRows(table: LearningTable, strategy: string): Promise<Row[]> {
    return this.asRows(table, await this.run(strategyRowsQuery(this.projectId, this.datasetId, table, strategy)));
  }

  private asRows(table: TableName, rows: Array<Record<string, unknown>>): Row[] {
    const cols: readonly Column[] = TABLES[table].columns;
    return rows.map((r) => {
      const out: Row = {};
      for (const c of cols) {
        const v = r[c.name];
        if (v === null || v === undefined) out[c.name] = null;
        else if (c.type === 'INT64' || c.type === 'FLOAT64' || c.type === 'TIMESTAMP') out[c.name] = num(v);
        else if (c.type === 'BOOL') out[c.name] = v === true || v === 'true';
        else out[c.name] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      return out;
    });
  }

  async count(table: TableName): Promise<number> {
    const [row] = await this.run(countQuery(this.projectId, this.datasetId, table));
    return num(row?.n ?? 0);
  }

  async close(): Promise<void> {
    // The client holds no connections that need closing.
  }
}
