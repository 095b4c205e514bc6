/**
 * Structured JSON logs in the shape Cloud Logging parses from stdout: `severity`, `message`,
 * `logging.googleapis.com/trace`, plus structured fields. Secrets never reach a log line: known
 * secret-looking keys are redacted and values registered with `registerSecret` are masked.
 *
 * Error Reporting (https://cloud.google.com/error-reporting/docs/formatting-error-messages): an entry
 * of severity ERROR or above is written so that Error Reporting captures it:
 * - the Error it carries (the value of a field holding an Error; by convention `error`) gives its
 *   V8 stack at the top-level `stack_trace` (Error Reporting evaluates `stack_trace`, then
 *   `exception`, then `message`), masked like every other string; the field keeps `name` and
 *   `message` only. The deploy starts node with --enable-source-maps, so the frames name the .ts
 *   sources;
 * - `@type` = REPORTED_ERROR_EVENT_TYPE: with it Error Reporting evaluates the entry as though every
 *   required ReportedErrorEvent field were present and captures it even when there is no stack (an
 *   ERROR logged without an Error is then grouped by its `message` text);
 * - `serviceContext {service, version}`: the Cloud Run / Cloud Functions service (K_SERVICE, or the
 *   job's CLOUD_RUN_JOB) and its revision (K_REVISION, else CST_BUILD_ID), which Error Reporting
 *   groups and filters by.
 * Entries below ERROR never carry these fields (a WARNING with an Error keeps its stack nested under
 * the field, where Error Reporting does not look).
 */

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'ALERT';

const SEVERITY_RANK: Record<Severity, number> = {
  DEBUG: 100,
  INFO: 200,
  NOTICE: 300,
  WARNING: 400,
  ERROR: 500,
  CRITICAL: 600,
  ALERT: 700,
};

const SECRET_KEY = /(token|secret|password|api[_-]?key|authorization|private[_-]?key)/i;
const REDACTED = '[REDACTED]';
const secretValues = new Set<string>();

/** Masks this exact value wherever it appears in later log lines (bot tokens, API keys). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) secretValues.add(value);
}

type LogFields = Record<string, unknown>;

/** The `@type` that makes Error Reporting capture a structured log entry. */
export const REPORTED_ERROR_EVENT_TYPE = 'type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent';

/** Error Reporting's ServiceContext: which deployable (and which revision of it) logged the error. */
export interface ServiceContext {
  service: string;
  version?: string;
}

/** Service name when the environment names none (a local process, a script). */
export const LOCAL_SERVICE = 'cst-local';

/** The service context of this process from the environment Cloud Run / Cloud Functions (gen 2) set. */
export function serviceContextFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceContext {
  const service = env.K_SERVICE || env.CLOUD_RUN_JOB || LOCAL_SERVICE;
  const version = env.K_REVISION || env.CST_BUILD_ID;
  return version ? { service, version } : { service };
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  notice(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

type LogSink = (line: string, severity: Severity) => void;

const defaultSink: LogSink = (line, severity) => {
  if (SEVERITY_RANK[severity] >= SEVERITY_RANK.WARNING) process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
};

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[depth]';
  if (typeof value === 'string') {
    let s = value;
    for (const secret of secretValues) if (s.includes(secret)) s = s.split(secret).join(REDACTED);
    return s;
  }
  if (value instanceof Error) {
    return { name: value.name, message: scrub(value.message), stack: scrub(value.stack ?? '') };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : scrub(v, depth + 1);
    return out;
  }
  return value;
}

interface LoggerOptions {
  minSeverity?: Severity;
  sink?: LogSink;
  /** GCP project, to expand a trace id into `projects/P/traces/T`. */
  project?: string;
  /** Error Reporting's service context on ERROR entries (default: serviceContextFromEnv()). */
  serviceContext?: ServiceContext;
}

const ERROR_RANK = SEVERITY_RANK.ERROR;
/** Fields looked at first for the entry's Error (then any field holding one). */
const ERROR_FIELDS = ['error', 'err'];

function errorField(fields: LogFields): string | undefined {
  for (const k of ERROR_FIELDS) if (fields[k] instanceof Error) return k;
  return Object.keys(fields).find((k) => fields[k] instanceof Error);
}

export function createLogger(base: LogFields = {}, opts: LoggerOptions = {}): Logger {
  const min = SEVERITY_RANK[opts.minSeverity ?? ((process.env.LOG_LEVEL as Severity | undefined) ?? 'INFO')] ?? 200;
  const sink = opts.sink ?? defaultSink;
  const project = opts.project ?? process.env.GOOGLE_CLOUD_PROJECT;
  const serviceContext = opts.serviceContext ?? serviceContextFromEnv();
  const emit = (severity: Severity, message: string, fields?: LogFields) => {
    if (SEVERITY_RANK[severity] < min) return;
    const { trace, ...rest } = { ...base, ...fields } as LogFields & { trace?: string };
    const reported = SEVERITY_RANK[severity] >= ERROR_RANK;
    const errKey = reported ? errorField(rest) : undefined;
    const err = errKey === undefined ? undefined : (rest[errKey] as Error);
    if (errKey !== undefined && err) rest[errKey] = { name: err.name, message: err.message };
    const entry: Record<string, unknown> = {
      severity,
      message: scrub(message),
      time: new Date().toISOString(),
      ...(scrub(rest) as Record<string, unknown>),
    };
    if (reported) {
      if (err) entry.stack_trace = scrub(err.stack || `${err.name}: ${err.message}`);
      entry['@type'] = REPORTED_ERROR_EVENT_TYPE;
      entry.serviceContext = serviceContext;
    }
    if (trace) entry['logging.googleapis.com/trace'] = project ? `projects/${project}/traces/${trace}` : trace;
    sink(JSON.stringify(entry), severity);
  };
  return {
    debug: (m, f) => emit('DEBUG', m, f),
    info: (m, f) => emit('INFO', m, f),
    notice: (m, f) => emit('NOTICE', m, f),
    warn: (m, f) => emit('WARNING', m, f),
    error: (m, f) => emit('ERROR', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, opts),
  };
}

/** Extracts the trace id from an `X-Cloud-Trace-Context: TRACE/SPAN;o=1` header or a `traceparent`. */
export function traceFromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
  const ctx = headers['x-cloud-trace-context'];
  const v = Array.isArray(ctx) ? ctx[0] : ctx;
  if (v) return v.split('/')[0];
  const tp = headers['traceparent'];
  const t = Array.isArray(tp) ? tp[0] : tp;
  if (t) return t.split('-')[1];
  return undefined;
}

/**
 * The `event` field of the log lines the log-based metrics count or measure
 * (infra/monitoring/log-metrics.ts filters on `jsonPayload.event="<value>"`): one name per fact,
 * stable across message rewording.
 */
export const LOG_EVENTS = {
  /** execution decided a signal (accepted or rejected; `outcome`, `redelivery`). */
  signalDecided: 'signal_decided',
  /** execution published a signal's order_placed (a trade group opened). */
  tradeOpened: 'trade_opened',
  /** execution published a position_closed (`outcome` win|loss|breakeven, `pnl`). */
  tradeClosed: 'trade_closed',
  /** a bus adapter dead-lettered a message. */
  deadLettered: 'dead_lettered',
  /** the Bybit holder's stream reconnected / disconnected. */
  holderReconnected: 'holder_reconnected',
  holderDisconnected: 'holder_disconnected',
  /** health-check: a symbol's data went stale / fresh again. */
  dataStale: 'data_stale',
  dataFresh: 'data_fresh',
  /** the Telegram outbox got a 429 (retry_after). */
  telegram429: 'telegram_429',
  /** health-check: the trading account's equity, open positions, daily drawdown (once a minute). */
  accountSnapshot: 'account_snapshot',
  /** health-check: how many symbols are stale right now (once a minute, 0 included). */
  freshnessSnapshot: 'freshness_snapshot',
} as const;
export type LogEvent = (typeof LOG_EVENTS)[keyof typeof LOG_EVENTS];
