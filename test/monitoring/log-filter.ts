/**
 * The subset of the Cloud Logging query language the log-based metrics use (infra/monitoring/
 * log-metrics.ts), evaluated on a log line as our logger writes it to stdout: clauses joined by AND;
 * `jsonPayload.<path>=<value>` (a quoted string, or a bare true / false / number), `severity=<LEVEL>`
 * and `severity>=<LEVEL>`. The agent turns the line's JSON into the entry: `severity` (and `time`,
 * `logging.googleapis.com/*`) become LogEntry fields, the rest (message included) the jsonPayload.
 * Anything outside the subset throws, so a metric using more than this evaluator knows fails its test.
 */
const SEVERITY_ORDER = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];

interface Clause {
  path: string[];
  op: '=' | '>=';
  value: string;
}

function parseClause(text: string): Clause {
  const m = /^([A-Za-z_][\w.]*)\s*(>=|=)\s*("(?:[^"\\]|\\.)*"|[\w.-]+)$/.exec(text.trim());
  if (!m) throw new Error(`filter clause outside the evaluated subset: ${text}`);
  const [, field, op, raw] = m as unknown as [string, string, '=' | '>=', string];
  const path = field.split('.');
  if (path[0] === 'severity') {
    if (path.length !== 1 || !SEVERITY_ORDER.includes(raw)) throw new Error(`bad severity clause: ${text}`);
  } else if (path[0] !== 'jsonPayload' || path.length < 2 || op !== '=') throw new Error(`unsupported clause: ${text}`);
  return { path, op, value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw };
}

export function parseFilter(filter: string): Clause[] {
  if (/\b(OR|NOT)\b|[():<]/.test(filter.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) throw new Error(`filter outside the evaluated subset: ${filter}`);
  return filter.split(/\s+AND\s+/).map(parseClause);
}

/** Reads `jsonPayload.a.b` of the stdout line. */
export function payloadField(line: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = line;
  for (const k of path.slice(1)) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

export function matches(filter: string, line: Record<string, unknown>): boolean {
  return parseFilter(filter).every((c) => {
    if (c.path[0] === 'severity') {
      const sev = SEVERITY_ORDER.indexOf(String(line.severity ?? 'DEFAULT'));
      const want = SEVERITY_ORDER.indexOf(c.value);
      return c.op === '=' ? sev === want : sev >= want;
    }
    const v = payloadField(line, c.path);
    if (v === undefined || v === null || typeof v === 'object') return false;
    return String(v) === c.value;
  });
}

/** The field path of `EXTRACT(jsonPayload.x)`. */
export function extractPath(extractor: string): string[] {
  const m = /^EXTRACT\((jsonPayload(?:\.\w+)+)\)$/.exec(extractor);
  if (!m) throw new Error(`extractor outside the evaluated subset: ${extractor}`);
  return m[1]!.split('.');
}
