/**
 * Structured JSON logs in the shape Cloud Logging parses from stdout: `severity`, `message`,
 * `logging.googleapis.com/trace`, plus structured fields. Secrets never reach a log line: known
 * secret-looking keys are redacted and values registered with `registerSecret` are masked.
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
}

export function createLogger(base: LogFields = {}, opts: LoggerOptions = {}): Logger {
  const min = SEVERITY_RANK[opts.minSeverity ?? ((process.env.LOG_LEVEL as Severity | undefined) ?? 'INFO')] ?? 200;
  const sink = opts.sink ?? defaultSink;
  const project = opts.project ?? process.env.GOOGLE_CLOUD_PROJECT;
  const emit = (severity: Severity, message: string, fields?: LogFields) => {
    if (SEVERITY_RANK[severity] < min) return;
    const { trace, ...rest } = { ...base, ...fields } as LogFields & { trace?: string };
    const entry: Record<string, unknown> = {
      severity,
      message: scrub(message),
      time: new Date().toISOString(),
      ...(scrub(rest) as Record<string, unknown>),
    };
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
