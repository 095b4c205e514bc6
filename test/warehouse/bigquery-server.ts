/**
 * A local HTTP server speaking the subset of the BigQuery REST API v2 that `@google-cloud/bigquery`
 * v8 uses for the warehouse adapter, as observed on the wire:
 *   GET  /bigquery/v2/projects/{p}/datasets/{d}                     datasets.get (exists)
 *   POST /bigquery/v2/projects/{p}/datasets                         datasets.insert
 *   GET  /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}          tables.get (exists)
 *   POST /bigquery/v2/projects/{p}/datasets/{d}/tables              tables.insert
 *   PATCH /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}         tables.patch (schema: additive only, as BigQuery)
 *   POST /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}/insertAll tabledata.insertAll
 *   POST /bigquery/v2/projects/{p}/queries                          jobs.query (fast path)
 *   GET  /bigquery/v2/projects/{p}/queries/{jobId}                  jobs.getQueryResults (polling, pages)
 * Every request is recorded. Errors use Google's JSON error body. The server does not parse SQL: the
 * test supplies `onQuery`, which computes the result rows of the statements it expects. Streaming
 * inserts are de-duplicated by insertId (what BigQuery does within its de-dup window) and checked
 * against the table schema (unknown fields, missing REQUIRED fields -> insertErrors).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface BqField {
  name: string;
  type: string;
  mode?: string;
  description?: string;
}

export interface StoredTable {
  resource: Record<string, unknown> & { schema: { fields: BqField[] } };
  /** Accepted rows in arrival order (one per distinct insertId). */
  rows: Array<Record<string, unknown>>;
  insertIds: Set<string>;
}

export interface QueryParameter {
  name: string;
  parameterType: { type: string };
  parameterValue: { value: string | number };
}

export interface QueryRequestBody {
  query: string;
  useLegacySql?: boolean;
  location?: string;
  parameterMode?: string;
  queryParameters?: QueryParameter[];
  formatOptions?: { useInt64Timestamp?: boolean };
}

export interface QueryResult {
  fields: BqField[];
  rows: Array<Record<string, string | number | boolean | null>>;
}

export type QueryHandler = (req: QueryRequestBody, server: FakeBigQueryServer) => QueryResult;

export interface FakeBigQueryOptions {
  onQuery: QueryHandler;
  /** Rows per result page (jobs.query and getQueryResults). */
  pageSize?: number;
  /** getQueryResults polls answered with jobComplete=false before the job completes. */
  pendingPolls?: number;
}

interface Job {
  projectId: string;
  location: string;
  result: QueryResult;
  pendingPolls: number;
}

const DEFAULT_PAGE_SIZE = 1000;

function apiError(res: ServerResponse, code: number, reason: string, message: string): void {
  const status = code === 404 ? 'NOT_FOUND' : code === 409 ? 'ALREADY_EXISTS' : 'INVALID_ARGUMENT';
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }], status } }));
}

function ok(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.length > 0 ? JSON.parse(text) : undefined;
}

/** The wire form of a result cell: BigQuery sends every scalar as a string. */
function cell(v: string | number | boolean | null): { v: string | null } {
  return { v: v === null ? null : String(v) };
}

export class FakeBigQueryServer {
  readonly requests: RecordedRequest[] = [];
  readonly datasets = new Map<string, Record<string, unknown>>();
  readonly tables = new Map<string, StoredTable>();
  /** Requests no route handled (should stay empty). */
  readonly unhandled: RecordedRequest[] = [];
  private readonly jobs = new Map<string, Job>();
  private server: Server | undefined;
  private readonly opts: FakeBigQueryOptions;

  constructor(opts: FakeBigQueryOptions) {
    this.opts = opts;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => apiError(res, 500, 'internalError', e.message));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server?.close((e) => (e ? reject(e) : resolve())) ?? resolve());
  }

  table(dataset: string, table: string): StoredTable | undefined {
    return this.tables.get(`${dataset}.${table}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      headers: req.headers,
      body,
    };
    this.requests.push(rec);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    // ['bigquery','v2','projects',p, ...]
    if (parts[0] !== 'bigquery' || parts[1] !== 'v2' || parts[2] !== 'projects' || !parts[3]) {
      this.unhandled.push(rec);
      return apiError(res, 404, 'notFound', `no route ${url.pathname}`);
    }
    const projectId = parts[3];
    const rest = parts.slice(4);
    const m = rec.method;

    if (m === 'POST' && rest.length === 1 && rest[0] === 'datasets') return this.insertDataset(res, projectId, body);
    if (rest[0] === 'datasets' && rest[1]) {
      const ds = rest[1];
      if (m === 'GET' && rest.length === 2) {
        const found = this.datasets.get(ds);
        return found ? ok(res, found) : apiError(res, 404, 'notFound', `Not found: Dataset ${projectId}:${ds}`);
      }
      if (m === 'POST' && rest.length === 3 && rest[2] === 'tables') return this.insertTable(res, projectId, ds, body);
      if (rest[2] === 'tables' && rest[3]) {
        const t = rest[3];
        if (m === 'GET' && rest.length === 4) {
          const found = this.table(ds, t);
          return found
            ? ok(res, found.resource)
            : apiError(res, 404, 'notFound', `Not found: Table ${projectId}:${ds}.${t}`);
        }
        if (m === 'PATCH' && rest.length === 4) return this.patchTable(res, projectId, ds, t, body);
        if (m === 'POST' && rest.length === 5 && rest[4] === 'insertAll') return this.insertAll(res, projectId, ds, t, body);
      }
    }
    if (m === 'POST' && rest.length === 1 && rest[0] === 'queries') return this.query(res, projectId, body as QueryRequestBody);
    if (m === 'GET' && rest.length === 2 && rest[0] === 'queries' && rest[1]) {
      return this.queryResults(res, rest[1], rec.query);
    }
    this.unhandled.push(rec);
    return apiError(res, 404, 'notFound', `no route ${m} ${url.pathname}`);
  }

  private insertDataset(res: ServerResponse, projectId: string, body: unknown): void {
    const b = body as { datasetReference?: { datasetId?: string }; location?: string };
    const id = b.datasetReference?.datasetId;
    if (!id) return apiError(res, 400, 'invalid', 'datasetReference.datasetId is required');
    if (this.datasets.has(id)) return apiError(res, 409, 'duplicate', `Already Exists: Dataset ${projectId}:${id}`);
    const resource = {
      kind: 'bigquery#dataset',
      id: `${projectId}:${id}`,
      ...(b as object),
      datasetReference: { projectId, datasetId: id },
      location: b.location ?? 'US',
    };
    this.datasets.set(id, resource);
    ok(res, resource);
  }

  private insertTable(res: ServerResponse, projectId: string, ds: string, body: unknown): void {
    if (!this.datasets.has(ds)) return apiError(res, 404, 'notFound', `Not found: Dataset ${projectId}:${ds}`);
    const b = body as { tableReference?: { tableId?: string }; schema?: { fields?: BqField[] } };
    const id = b.tableReference?.tableId;
    if (!id) return apiError(res, 400, 'invalid', 'tableReference.tableId is required');
    if (!b.schema?.fields?.length) return apiError(res, 400, 'invalid', 'schema.fields is required');
    if (this.tables.has(`${ds}.${id}`)) {
      return apiError(res, 409, 'duplicate', `Already Exists: Table ${projectId}:${ds}.${id}`);
    }
    const resource = {
      kind: 'bigquery#table',
      id: `${projectId}:${ds}.${id}`,
      ...(b as object),
      tableReference: { projectId, datasetId: ds, tableId: id },
      schema: { fields: b.schema.fields },
      type: 'TABLE',
      location: (this.datasets.get(ds)?.location as string | undefined) ?? 'US',
    };
    this.tables.set(`${ds}.${id}`, { resource, rows: [], insertIds: new Set() });
    ok(res, resource);
  }

  /** tables.patch: a new schema must keep every existing field as it is and add only NULLABLE ones (BigQuery's rule). */
  private patchTable(res: ServerResponse, projectId: string, ds: string, t: string, body: unknown): void {
    const table = this.table(ds, t);
    if (!table) return apiError(res, 404, 'notFound', `Not found: Table ${projectId}:${ds}.${t}`);
    const fields = (body as { schema?: { fields?: BqField[] } }).schema?.fields;
    if (fields) {
      const old = table.resource.schema.fields;
      const kept = old.every((f, i) => fields[i]?.name === f.name && fields[i]?.type === f.type && (fields[i]?.mode ?? 'NULLABLE') === (f.mode ?? 'NULLABLE'));
      const added = fields.slice(old.length).every((f) => (f.mode ?? 'NULLABLE') === 'NULLABLE');
      if (!kept || !added) return apiError(res, 400, 'invalid', `Provided Schema does not match Table ${projectId}:${ds}.${t}`);
      table.resource.schema = { fields };
    }
    ok(res, table.resource);
  }

  private insertAll(res: ServerResponse, projectId: string, ds: string, t: string, body: unknown): void {
    const table = this.table(ds, t);
    if (!table) return apiError(res, 404, 'notFound', `Not found: Table ${projectId}:${ds}.${t}`);
    const b = body as { rows?: Array<{ insertId?: string; json?: Record<string, unknown> }> };
    const fields = table.resource.schema.fields;
    const names = new Set(fields.map((f) => f.name));
    const insertErrors: Array<{ index: number; errors: Array<{ reason: string; location: string; message: string }> }> = [];
    (b.rows ?? []).forEach((row, index) => {
      const json = row.json ?? {};
      const errors: Array<{ reason: string; location: string; message: string }> = [];
      for (const k of Object.keys(json)) {
        if (!names.has(k)) errors.push({ reason: 'invalid', location: k, message: 'no such field: ' + k });
      }
      for (const f of fields) {
        if (f.mode === 'REQUIRED' && (json[f.name] === undefined || json[f.name] === null)) {
          errors.push({ reason: 'invalid', location: f.name, message: `Missing required field: ${f.name}.` });
        }
      }
      if (errors.length > 0) insertErrors.push({ index, errors });
    });
    // BigQuery rejects the whole request's rows when any row is invalid (unless skipInvalidRows).
    if (insertErrors.length === 0) {
      for (const row of b.rows ?? []) {
        if (row.insertId && table.insertIds.has(row.insertId)) continue;
        if (row.insertId) table.insertIds.add(row.insertId);
        table.rows.push(row.json ?? {});
      }
    }
    ok(res, insertErrors.length > 0 ? { kind: 'bigquery#tableDataInsertAllResponse', insertErrors } : { kind: 'bigquery#tableDataInsertAllResponse' });
  }

  private page(job: Job, jobId: string, startIndex: number): Record<string, unknown> {
    const size = this.opts.pageSize ?? DEFAULT_PAGE_SIZE;
    const slice = job.result.rows.slice(startIndex, startIndex + size);
    const next = startIndex + size;
    const body: Record<string, unknown> = {
      kind: 'bigquery#queryResponse',
      jobReference: { projectId: job.projectId, jobId, location: job.location },
      jobComplete: true,
      schema: { fields: job.result.fields },
      totalRows: String(job.result.rows.length),
      rows: slice.map((r) => ({ f: job.result.fields.map((f) => cell(r[f.name] ?? null)) })),
      cacheHit: false,
    };
    if (next < job.result.rows.length) body.pageToken = `page-${next}`;
    return body;
  }

  private query(res: ServerResponse, projectId: string, body: QueryRequestBody): void {
    if (body.useLegacySql !== false) return apiError(res, 400, 'invalidQuery', 'expected standard SQL');
    let result: QueryResult;
    try {
      result = this.opts.onQuery(body, this);
    } catch (e) {
      return apiError(res, 400, 'invalidQuery', (e as Error).message);
    }
    const jobId = `job_${randomUUID()}`;
    const job: Job = { projectId, location: body.location ?? 'US', result, pendingPolls: this.opts.pendingPolls ?? 0 };
    this.jobs.set(jobId, job);
    if (job.pendingPolls > 0) {
      return ok(res, {
        kind: 'bigquery#queryResponse',
        jobReference: { projectId, jobId, location: job.location },
        jobComplete: false,
      });
    }
    ok(res, this.page(job, jobId, 0));
  }

  private queryResults(res: ServerResponse, jobId: string, qs: Record<string, string>): void {
    const job = this.jobs.get(jobId);
    if (!job) return apiError(res, 404, 'notFound', `Not found: Job ${jobId}`);
    if (job.pendingPolls > 0) {
      job.pendingPolls -= 1;
      return ok(res, { kind: 'bigquery#getQueryResultsResponse', jobReference: { jobId }, jobComplete: false });
    }
    const token = qs.pageToken;
    const start = token ? Number(token.replace('page-', '')) : Number(qs.startIndex ?? 0);
    ok(res, { ...this.page(job, jobId, start), kind: 'bigquery#getQueryResultsResponse' });
  }
}
