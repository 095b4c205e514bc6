/**
 * Cloud Run Admin API v2 `projects.locations.jobs.run` over REST (google-auth-library for the token:
 * already the auth layer of every @google-cloud client here, so no gRPC client and no protos for one
 * call). The request:
 *   POST https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run
 *   { "overrides": { "containerOverrides": [{ "env": [{ "name", "value" }], "args"?: [...] }],
 *                    "taskCount": N, "timeout": "3600s" } }
 * (RunJobRequest: name, validateOnly, etag, overrides; Overrides: containerOverrides, taskCount,
 * timeout as a protobuf Duration in JSON = seconds with an `s`). The answer is a long-running
 * Operation whose metadata is the Execution. Env overrides are MERGED with the job's env; the job
 * itself (image, CPU, memory, maxRetries, parallelism, service account) is deployed beforehand with
 * gcloud (README: Scale-out).
 */
import { GoogleAuth } from 'google-auth-library';
import { MAX_TASKS } from '../../shared/backtest/shards.js';

export const CLOUD_RUN_ENDPOINT = 'https://run.googleapis.com';
/** Cloud Run Jobs task timeout: at most 168 h (7 days). */
export const MAX_TASK_TIMEOUT_S = 168 * 3600;

export interface RunJobOptions {
  project: string;
  region: string;
  job: string;
  taskCount: number;
  /** Per-task timeout, seconds (the job's own when absent). */
  timeoutSeconds?: number;
  env: Record<string, string>;
  /** Replaces the container's args when given. */
  args?: string[];
  /** Ask Cloud Run to validate only (RunJobRequest.validateOnly). */
  validateOnly?: boolean;
  /** Default https://run.googleapis.com (a local fake in tests). */
  endpoint?: string;
}

export interface RunJobRequest {
  method: 'POST';
  url: string;
  body: {
    validateOnly?: boolean;
    overrides: {
      containerOverrides: Array<{ env: Array<{ name: string; value: string }>; args?: string[] }>;
      taskCount: number;
      timeout?: string;
    };
  };
}

const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The exact request (what `--dry-run` prints); validates names, task count and timeout. */
export function runJobRequest(o: RunJobOptions): RunJobRequest {
  if (!/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/.test(o.project)) throw new Error(`--project '${o.project}' is not a Google Cloud project id`);
  if (!/^[a-z]+-[a-z]+\d+$/.test(o.region)) throw new Error(`--region '${o.region}' is not a Cloud Run region (e.g. europe-west1)`);
  if (!NAME.test(o.job)) throw new Error(`--job '${o.job}' is not a Cloud Run job name (lower-case letters, digits, '-', at most 63)`);
  if (!Number.isInteger(o.taskCount) || o.taskCount < 1 || o.taskCount > MAX_TASKS) throw new Error(`task count must be 1..${MAX_TASKS} (Cloud Run Jobs' limit), got ${o.taskCount}`);
  if (o.timeoutSeconds !== undefined && !(Number.isInteger(o.timeoutSeconds) && o.timeoutSeconds >= 1 && o.timeoutSeconds <= MAX_TASK_TIMEOUT_S)) {
    throw new Error(`task timeout must be 1..${MAX_TASK_TIMEOUT_S} s (168 h), got ${o.timeoutSeconds}`);
  }
  const container: { env: Array<{ name: string; value: string }>; args?: string[] } = {
    env: Object.entries(o.env).map(([name, value]) => ({ name, value })),
  };
  if (o.args) container.args = o.args;
  const overrides: RunJobRequest['body']['overrides'] = { containerOverrides: [container], taskCount: o.taskCount };
  if (o.timeoutSeconds !== undefined) overrides.timeout = `${o.timeoutSeconds}s`;
  const name = `projects/${o.project}/locations/${o.region}/jobs/${o.job}`;
  return {
    method: 'POST',
    url: `${(o.endpoint ?? CLOUD_RUN_ENDPOINT).replace(/\/$/, '')}/v2/${name}:run`,
    body: { ...(o.validateOnly ? { validateOnly: true } : {}), overrides },
  };
}

export interface RunJobResult {
  /** The long-running operation's name (projects/.../operations/...). */
  operation: string;
  /** The execution's name when the operation metadata carries it. */
  execution: string | null;
}

/** Headers with a bearer token from Application Default Credentials (cloud-platform scope). */
export async function googleAuthHeaders(): Promise<Headers> {
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return auth.getRequestHeaders();
}

/**
 * Sends the request. `headers` defaults to Application Default Credentials; a fake endpoint in tests
 * passes its own (no credentials are looked up then).
 */
export async function runJob(req: RunJobRequest, opts: { headers?: Headers; fetch?: typeof fetch } = {}): Promise<RunJobResult> {
  const headers = new Headers(opts.headers ?? (await googleAuthHeaders()));
  headers.set('content-type', 'application/json');
  const res = await (opts.fetch ?? fetch)(req.url, { method: req.method, headers, body: JSON.stringify(req.body) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const msg = (body as { error?: { message?: string; status?: string } })?.error;
    throw new Error(`Cloud Run jobs.run failed: HTTP ${res.status}${msg?.status ? ` ${msg.status}` : ''}: ${msg?.message ?? text.slice(0, 300)}`);
  }
  const op = body as { name?: unknown; metadata?: { name?: unknown } };
  if (typeof op.name !== 'string') throw new Error(`Cloud Run jobs.run: the answer is not an Operation (${text.slice(0, 200)})`);
  return { operation: op.name, execution: typeof op.metadata?.name === 'string' ? op.metadata.name : null };
}
