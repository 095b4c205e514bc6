/**
 * Syncs scheduler.yaml to Cloud Scheduler (SPEC 10): the desired jobs are diffed against the jobs
 * that exist in `projects/{project}/locations/{location}`, and only jobs whose id starts with the
 * managed prefix (default `cst-`) are ever touched; anything else in the project is left alone.
 * Each yaml job becomes an HTTP job that POSTs its JSON body to the function URL
 * `https://{region}-{project}.cloudfunctions.net/{function}` (or `{baseUrl}/{function}`), always with
 * an OIDC token of the invoker service account: the functions are private, a job without a token
 * would be refused on every call.
 *
 * The plan (create / update / delete / unchanged, with the fields that differ) is pure and tested
 * with a fake client; `applyPlan` executes it with `@google-cloud/scheduler`'s CloudSchedulerClient
 * (or anything with the same four methods).
 */
import type { protos } from '@google-cloud/scheduler';
import type { ScheduleFile, ScheduleJob } from '../../shared/schedule/schema.js';

type IJob = protos.google.cloud.scheduler.v1.IJob;

export const DEFAULT_JOB_PREFIX = 'cst-';

/** The subset of CloudSchedulerClient used here (so tests pass a fake). */
export interface SchedulerClientLike {
  listJobs(request: { parent: string; pageSize?: number }): Promise<[IJob[], ...unknown[]]>;
  createJob(request: { parent: string; job: IJob }): Promise<unknown>;
  updateJob(request: { job: IJob; updateMask?: { paths: string[] } }): Promise<unknown>;
  deleteJob(request: { name: string }): Promise<unknown>;
}

export interface SyncTarget {
  project: string;
  /** Cloud Scheduler location = the functions' region, e.g. us-central1. */
  location: string;
  /** Functions base URL; default `https://{location}-{project}.cloudfunctions.net`. */
  baseUrl?: string;
  /** Service account whose OIDC token authenticates every call (the functions are private). */
  serviceAccountEmail: string;
  /** OIDC audience; default: the target URL. */
  audience?: string;
  prefix?: string;
}

/** The fields this sync manages, normalised so live jobs and yaml jobs compare equal. */
interface JobSpec {
  /** Full resource name. */
  name: string;
  id: string;
  description: string;
  schedule: string;
  timeZone: string;
  uri: string;
  httpMethod: string;
  body: string;
  contentType: string;
  oidcServiceAccount: string;
  oidcAudience: string;
  attemptDeadlineSeconds: number;
  retryCount: number;
}

type PlanAction = 'create' | 'update' | 'delete' | 'unchanged';

interface PlanEntry {
  action: PlanAction;
  id: string;
  name: string;
  /** Desired spec (create/update/unchanged). */
  desired?: JobSpec;
  /** For updates: `field: live -> desired`. */
  changes: string[];
}

/** Fields sent in an update's field mask (proto names). */
export const UPDATE_MASK_PATHS = ['description', 'schedule', 'time_zone', 'http_target', 'attempt_deadline', 'retry_config'];

const COMPARED: Array<keyof JobSpec> = [
  'description',
  'schedule',
  'timeZone',
  'uri',
  'httpMethod',
  'body',
  'contentType',
  'oidcServiceAccount',
  'oidcAudience',
  'attemptDeadlineSeconds',
  'retryCount',
];

function locationPath(t: Pick<SyncTarget, 'project' | 'location'>): string {
  return `projects/${t.project}/locations/${t.location}`;
}

function functionUrl(t: SyncTarget, fn: string): string {
  const base = (t.baseUrl ?? `https://${t.location}-${t.project}.cloudfunctions.net`).replace(/\/+$/, '');
  return `${base}/${fn}`;
}

export function desiredSpecs(schedule: ScheduleFile, t: SyncTarget): JobSpec[] {
  if (!t.serviceAccountEmail) throw new Error('Cloud Scheduler jobs need the invoker service account (their OIDC token): none given');
  const prefix = t.prefix ?? DEFAULT_JOB_PREFIX;
  return schedule.jobs
    .filter((j) => j.enabled)
    .map((j: ScheduleJob) => {
      const id = `${prefix}${j.name}`;
      const uri = functionUrl(t, j.function);
      return {
        name: `${locationPath(t)}/jobs/${id}`,
        id,
        description: j.description,
        schedule: j.schedule,
        timeZone: j.timeZone,
        uri,
        httpMethod: 'POST',
        body: JSON.stringify(j.body ?? {}),
        contentType: 'application/json',
        oidcServiceAccount: t.serviceAccountEmail,
        oidcAudience: t.audience ?? uri,
        attemptDeadlineSeconds: j.attemptDeadlineSeconds,
        retryCount: j.retryCount,
      };
    });
}

const HTTP_METHODS = ['HTTP_METHOD_UNSPECIFIED', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

function durationSeconds(d: IJob['attemptDeadline']): number {
  if (!d) return 0;
  const s = typeof d.seconds === 'object' && d.seconds !== null ? Number(d.seconds.toString()) : Number(d.seconds ?? 0);
  return s + Math.round((d.nanos ?? 0) / 1e9);
}

function bodyText(b: unknown): string {
  if (b === null || b === undefined) return '';
  if (typeof b === 'string') return Buffer.from(b, 'base64').toString('utf8');
  return Buffer.from(b as Uint8Array).toString('utf8');
}

/** A live Cloud Scheduler job as a JobSpec (unmanaged fields dropped). */
function specFromJob(job: IJob): JobSpec {
  const name = job.name ?? '';
  const http = job.httpTarget ?? {};
  const method = typeof http.httpMethod === 'number' ? (HTTP_METHODS[http.httpMethod] ?? String(http.httpMethod)) : (http.httpMethod ?? 'POST');
  const headers = http.headers ?? {};
  const contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  return {
    name,
    id: name.split('/').pop() ?? '',
    description: job.description ?? '',
    schedule: job.schedule ?? '',
    timeZone: job.timeZone ?? '',
    uri: http.uri ?? '',
    httpMethod: method,
    body: bodyText(http.body),
    contentType,
    oidcServiceAccount: http.oidcToken?.serviceAccountEmail ?? '',
    oidcAudience: http.oidcToken?.audience ?? '',
    attemptDeadlineSeconds: durationSeconds(job.attemptDeadline),
    retryCount: job.retryConfig?.retryCount ?? 0,
  };
}

/** The API object for a JobSpec. */
export function jobFromSpec(s: JobSpec): IJob {
  return {
    name: s.name,
    description: s.description,
    schedule: s.schedule,
    timeZone: s.timeZone,
    attemptDeadline: { seconds: s.attemptDeadlineSeconds },
    retryConfig: { retryCount: s.retryCount },
    httpTarget: {
      uri: s.uri,
      httpMethod: 'POST',
      headers: { 'Content-Type': s.contentType },
      body: Buffer.from(s.body, 'utf8'),
      oidcToken: { serviceAccountEmail: s.oidcServiceAccount, audience: s.oidcAudience },
    },
  };
}

/** Diffs desired against live jobs; live jobs without the managed prefix are ignored. */
export function planSync(desired: JobSpec[], live: IJob[], prefix = DEFAULT_JOB_PREFIX): PlanEntry[] {
  const managed = new Map<string, JobSpec>();
  for (const j of live) {
    const spec = specFromJob(j);
    if (spec.id.startsWith(prefix)) managed.set(spec.id, spec);
  }
  const plan: PlanEntry[] = [];
  for (const d of desired) {
    const cur = managed.get(d.id);
    if (!cur) {
      plan.push({ action: 'create', id: d.id, name: d.name, desired: d, changes: [] });
      continue;
    }
    managed.delete(d.id);
    const changes = COMPARED.filter((k) => cur[k] !== d[k]).map((k) => `${k}: ${JSON.stringify(cur[k])} -> ${JSON.stringify(d[k])}`);
    plan.push({ action: changes.length > 0 ? 'update' : 'unchanged', id: d.id, name: d.name, desired: d, changes });
  }
  for (const cur of managed.values()) plan.push({ action: 'delete', id: cur.id, name: cur.name, changes: [] });
  const order: Record<PlanAction, number> = { create: 0, update: 1, delete: 2, unchanged: 3 };
  return plan.sort((a, b) => order[a.action] - order[b.action] || a.id.localeCompare(b.id));
}

export async function listAllJobs(client: SchedulerClientLike, t: SyncTarget): Promise<IJob[]> {
  // The GAPIC client auto-paginates listJobs into one array.
  const [jobs] = await client.listJobs({ parent: locationPath(t) });
  return jobs;
}

interface ApplyResult {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export async function applyPlan(client: SchedulerClientLike, t: SyncTarget, plan: PlanEntry[]): Promise<ApplyResult> {
  const r: ApplyResult = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  for (const p of plan) {
    if (p.action === 'create') {
      await client.createJob({ parent: locationPath(t), job: jobFromSpec(p.desired!) });
      r.created++;
    } else if (p.action === 'update') {
      await client.updateJob({ job: jobFromSpec(p.desired!), updateMask: { paths: UPDATE_MASK_PATHS } });
      r.updated++;
    } else if (p.action === 'delete') {
      await client.deleteJob({ name: p.name });
      r.deleted++;
    } else {
      r.unchanged++;
    }
  }
  return r;
}

/** The plan as a fixed-width table. */
export function formatPlan(plan: PlanEntry[]): string {
  const rows = plan.map((p) => [
    p.action.toUpperCase(),
    p.id,
    p.desired ? `${p.desired.schedule} (${p.desired.timeZone})` : '',
    p.desired?.uri ?? '',
    p.changes.join('; '),
  ]);
  const header = ['ACTION', 'JOB', 'SCHEDULE', 'TARGET', 'CHANGES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const counts = (['create', 'update', 'delete', 'unchanged'] as const).map((a) => `${plan.filter((p) => p.action === a).length} ${a}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `plan: ${counts.join(', ')}`].join('\n');
}
