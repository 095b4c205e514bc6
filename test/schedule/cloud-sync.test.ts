import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/scheduler';
import { loadSchedule } from '../../shared/schedule/schema.js';
import {
  applyPlan,
  desiredSpecs,
  formatPlan,
  jobFromSpec,
  planSync,
  UPDATE_MASK_PATHS,
  type SchedulerClientLike,
  type SyncTarget,
} from '../../infra/scheduler/cloud-sync.js';
import { HELP, main } from '../../scripts/sync-scheduler.js';

type IJob = protos.google.cloud.scheduler.v1.IJob;
const ROOT = join(import.meta.dirname, '..', '..');
const schedule = loadSchedule(join(ROOT, 'scheduler.yaml'));
const target: SyncTarget = { project: 'cst-prod', location: 'us-central1', serviceAccountEmail: 'sched@cst-prod.iam.gserviceaccount.com' };
const parent = 'projects/cst-prod/locations/us-central1';

/** Stores jobs the way the API returns them: enums as strings, bytes as Buffers, int64 as strings. */
class FakeScheduler implements SchedulerClientLike {
  jobs = new Map<string, IJob>();
  calls: string[] = [];

  private stored(job: IJob): IJob {
    const http = job.httpTarget!;
    return {
      ...job,
      state: 'ENABLED' as never,
      attemptDeadline: { seconds: String(job.attemptDeadline?.seconds ?? 180) as never, nanos: 0 },
      httpTarget: {
        ...http,
        httpMethod: 'POST',
        body: Buffer.from(http.body as Uint8Array),
        headers: { ...(http.headers ?? {}), 'User-Agent': 'Google-Cloud-Scheduler' },
      },
    };
  }

  async listJobs(req: { parent: string }): Promise<[IJob[]]> {
    this.calls.push(`list ${req.parent}`);
    return [[...this.jobs.values()].filter((j) => j.name!.startsWith(`${req.parent}/jobs/`))];
  }
  async createJob(req: { parent: string; job: IJob }) {
    this.calls.push(`create ${req.job.name}`);
    this.jobs.set(req.job.name!, this.stored(req.job));
    return [req.job];
  }
  async updateJob(req: { job: IJob; updateMask?: { paths: string[] } }) {
    this.calls.push(`update ${req.job.name} [${req.updateMask?.paths.join(',')}]`);
    this.jobs.set(req.job.name!, this.stored(req.job));
    return [req.job];
  }
  async deleteJob(req: { name: string }) {
    this.calls.push(`delete ${req.name}`);
    this.jobs.delete(req.name);
    return [{}];
  }
}

function seeded(): FakeScheduler {
  const f = new FakeScheduler();
  const desired = desiredSpecs(schedule, target);
  const get = (id: string) => desired.find((d) => d.id === id)!;
  // In sync already.
  f.jobs.set(get('cst-krakenPull').name, (f as any).stored(jobFromSpec(get('cst-krakenPull'))));
  // Drifted: someone changed the schedule in the console.
  f.jobs.set(get('cst-healthCheck').name, (f as any).stored(jobFromSpec({ ...get('cst-healthCheck'), schedule: '*/2 * * * *' })));
  // Removed from the yaml.
  f.jobs.set(`${parent}/jobs/cst-oldDigest`, (f as any).stored(jobFromSpec({ ...get('cst-reports'), name: `${parent}/jobs/cst-oldDigest`, id: 'cst-oldDigest' })));
  // Not ours: never touched.
  f.jobs.set(`${parent}/jobs/billing-export`, { name: `${parent}/jobs/billing-export`, schedule: '0 0 * * *', timeZone: 'Etc/UTC' });
  return f;
}

describe('Cloud Scheduler sync plan', () => {
  it('maps yaml jobs to HTTP jobs on the function URLs with OIDC', () => {
    const specs = desiredSpecs(schedule, target);
    expect(specs).toHaveLength(8);
    const weekly = specs.find((s) => s.id === 'cst-weeklyReport')!;
    expect(weekly).toMatchObject({
      name: `${parent}/jobs/cst-weeklyReport`,
      uri: 'https://us-central1-cst-prod.cloudfunctions.net/reports',
      schedule: '0 19 * * 0',
      timeZone: 'America/Los_Angeles',
      body: '{"period":"weekly"}',
      oidcServiceAccount: 'sched@cst-prod.iam.gserviceaccount.com',
      oidcAudience: 'https://us-central1-cst-prod.cloudfunctions.net/reports',
    });
    const viaBase = desiredSpecs(schedule, { ...target, baseUrl: 'https://fn.example.test/' });
    expect(viaBase.find((s) => s.id === 'cst-healthCheck')!.uri).toBe('https://fn.example.test/health-check');
  });

  it('plans create / update / delete / unchanged and touches only managed jobs', async () => {
    const f = seeded();
    const [live] = await f.listJobs({ parent });
    const plan = planSync(desiredSpecs(schedule, target), live);
    const by = (a: string) => plan.filter((p) => p.action === a).map((p) => p.id).sort();
    expect(by('unchanged')).toEqual(['cst-krakenPull']);
    expect(by('update')).toEqual(['cst-healthCheck']);
    expect(plan.find((p) => p.id === 'cst-healthCheck')!.changes).toEqual(['schedule: "*/2 * * * *" -> "* * * * *"']);
    expect(by('delete')).toEqual(['cst-oldDigest']);
    expect(by('create')).toEqual(['cst-configCheck', 'cst-macroAnalysis', 'cst-reports', 'cst-retentionCleanup', 'cst-retrain', 'cst-weeklyReport']);
    expect(plan.map((p) => p.id)).not.toContain('billing-export');

    const table = formatPlan(plan);
    expect(table.split('\n')[0]).toMatch(/^ACTION\s+JOB\s+SCHEDULE\s+TARGET\s+CHANGES$/);
    expect(table).toMatch(/UPDATE\s+cst-healthCheck\s+\* \* \* \* \* \(Etc\/UTC\)/);
    expect(table).toContain('plan: 6 create, 1 update, 1 delete, 1 unchanged');

    const r = await applyPlan(f, target, plan);
    expect(r).toEqual({ created: 6, updated: 1, deleted: 1, unchanged: 1 });
    expect(f.calls).toContain(`update ${parent}/jobs/cst-healthCheck [${UPDATE_MASK_PATHS.join(',')}]`);
    expect(f.jobs.has(`${parent}/jobs/billing-export`)).toBe(true);
    expect(f.jobs.has(`${parent}/jobs/cst-oldDigest`)).toBe(false);

    // Idempotent: a second sync finds nothing to do.
    const [after] = await f.listJobs({ parent });
    expect(planSync(desiredSpecs(schedule, target), after).every((p) => p.action === 'unchanged')).toBe(true);
  });

  it('a changed service account or body is an update', async () => {
    const f = seeded();
    await applyPlan(f, target, planSync(desiredSpecs(schedule, target), (await f.listJobs({ parent }))[0]));
    const other = { ...target, serviceAccountEmail: 'other@cst-prod.iam.gserviceaccount.com' };
    const plan = planSync(desiredSpecs(schedule, other), (await f.listJobs({ parent }))[0]);
    expect(plan.filter((p) => p.action === 'update')).toHaveLength(8);
    expect(plan[0]!.changes[0]).toContain('oidcServiceAccount: "sched@cst-prod.iam.gserviceaccount.com" -> "other@cst-prod.iam.gserviceaccount.com"');
  });
});

describe('scripts/sync-scheduler.ts', () => {
  it('--dry-run prints the plan and changes nothing', async () => {
    const f = seeded();
    const out: string[] = [];
    const code = await main(['--project', 'cst-prod', '--region', 'us-central1', '--service-account', target.serviceAccountEmail!, '--dry-run'], {
      client: async () => f,
      out: (l) => out.push(l),
      env: {},
    });
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('Cloud Scheduler cst-prod/us-central1, managed prefix "cst-" (dry run)');
    expect(text).toMatch(/CREATE\s+cst-retrain\s+0 2 \* \* \* \(America\/Los_Angeles\)\s+https:\/\/us-central1-cst-prod\.cloudfunctions\.net\/retrain/);
    expect(text).toMatch(/DELETE\s+cst-oldDigest/);
    expect(f.calls).toEqual([`list ${parent}`]);
  });

  it('applies without --dry-run; --help and a missing project', async () => {
    const f = seeded();
    const out: string[] = [];
    expect(await main(['--project', 'cst-prod', '--service-account', target.serviceAccountEmail!], { client: async () => f, out: (l) => out.push(l), env: {} })).toBe(0);
    expect(out.at(-1)).toBe('applied: 6 created, 1 updated, 1 deleted, 1 unchanged');

    const help: string[] = [];
    expect(await main(['--help'], { out: (l) => help.push(l) })).toBe(0);
    expect(help.join('\n')).toBe(HELP);
    expect(HELP).toContain('--dry-run');
    const err: string[] = [];
    expect(await main([], { out: (l) => err.push(l), env: {} })).toBe(2);
    expect(err[0]).toContain('--project is required');
  });
});
