/**
 * The deploy run twice against a fake `gcloud` / `bq` / `firebase` (test/deploy/fake-cloud.mjs, first
 * on PATH, state in a JSON file), an in-memory Cloud Scheduler, an in-memory Cloud Monitoring and the
 * local Bot API server: the first run creates everything, the second changes nothing and exits 0, a
 * changed input makes exactly its one update. Secrets reach gcloud on stdin only.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/scheduler';
import { main, type DeployCliDeps } from '../../scripts/deploy.js';
import type { SchedulerClientLike } from '../../infra/scheduler/cloud-sync.js';
import { TelegramTestServer } from '../../infra/replay/telegram-server.js';
import { SECRET_NAMES, secretEnvVar } from '../../shared/ports/secrets.js';
import { loadSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';
import { InMemoryMonitoringApi } from '../monitoring/fake-monitoring-api.js';

type IJob = protos.google.cloud.scheduler.v1.IJob;

const ROOT = join(import.meta.dirname, '..', '..');
const PROJECT = 'twice-proj';
const TOKEN = '123456:twice-bot-token-value';
const SECRET_VALUES: Record<string, string> = {
  [secretEnvVar('telegram-bot-token')]: TOKEN,
  [secretEnvVar('telegram-webhook-secret')]: 'twice-webhook-secret-value',
  [secretEnvVar('bybit-api-key')]: 'twice-bybit-key-value',
  [secretEnvVar('bybit-api-secret')]: 'twice-bybit-secret-value',
};

class MemoryScheduler implements SchedulerClientLike {
  readonly jobs = new Map<string, IJob>();
  writes = 0;
  async listJobs(): Promise<[IJob[]]> {
    return [[...this.jobs.values()].map((j) => structuredClone(j))];
  }
  async createJob(r: { parent: string; job: IJob }) {
    if (this.jobs.has(r.job.name!)) throw new Error('ALREADY_EXISTS');
    this.writes++;
    this.jobs.set(r.job.name!, structuredClone(r.job));
    return [r.job];
  }
  async updateJob(r: { job: IJob }) {
    this.writes++;
    this.jobs.set(r.job.name!, structuredClone(r.job));
    return [r.job];
  }
  async deleteJob(r: { name: string }) {
    this.writes++;
    this.jobs.delete(r.name);
    return [{}];
  }
}

interface Call {
  tool: string;
  argv: string[];
  mutating: boolean;
  stdinSha?: string;
}

describe('npm run deploy, twice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cst-deploy-twice-'));
  const state = join(dir, 'state.json');
  const bin = join(dir, 'bin');
  const scheduler = new MemoryScheduler();
  const monitoring = new InMemoryMonitoringApi();
  const telegram = new TelegramTestServer({ token: TOKEN, limits: null });
  const schedule = loadSchedule(join(ROOT, SCHEDULER_YAML));
  const outputs: string[] = [];

  beforeAll(async () => {
    await telegram.start();
    writeFileSync(join(dir, 'noop'), '');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin);
    for (const tool of ['gcloud', 'bq', 'firebase']) {
      writeFileSync(join(bin, tool), `#!/bin/sh\nexec "${process.execPath}" "${join(import.meta.dirname, 'fake-cloud.mjs')}" ${tool} "$@"\n`);
      chmodSync(join(bin, tool), 0o755);
    }
  });
  afterAll(async () => {
    await telegram.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const calls = (): Call[] => (JSON.parse(readFileSync(state, 'utf8')) as { calls: Call[] }).calls;

  async function deploy(extra: Partial<DeployCliDeps> = {}): Promise<{ code: number; lines: string[]; newCalls: Call[] }> {
    const before = (() => {
      try {
        return calls().length;
      } catch {
        return 0;
      }
    })();
    const lines: string[] = [];
    const code = await main(['--project', PROJECT, '--region', 'europe-west1', '--alert-email', 'owner@example.com'], {
      root: ROOT,
      env: { ...process.env, ...SECRET_VALUES, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, FAKE_CLOUD_STATE: state },
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      stage: async () => ({ dir: join(ROOT, '.deploy', 'functions'), sourceHash: 'ab'.repeat(32) }),
      scheduler: async () => scheduler,
      monitoring: async () => monitoring,
      telegramApiRoot: telegram.apiRoot,
      prompt: async () => undefined,
      schedule,
      ...extra,
    });
    outputs.push(...lines);
    return { code, lines, newCalls: calls().slice(before) };
  }

  const resourceLines = (lines: string[]) => lines.filter((l) => /^(create|update|delete|unchanged) /.test(l));

  it('first run creates everything, second run changes nothing, a changed input makes exactly its update', async () => {
    // 1: everything is created (IAM policies, API list, DLQ policies exist already and get their additions).
    const first = await deploy();
    expect(first.code, first.lines.join('\n')).toBe(0);
    const r1 = resourceLines(first.lines);
    // The project is only read (its number); the old Cloud Function form of the webhook is absent, as wanted.
    expect(r1.filter((l) => l.startsWith('unchanged'))).toEqual([`unchanged project ${PROJECT}`, 'unchanged absent-function telegram-webhook']);
    expect(r1.filter((l) => l.startsWith('create ')).length).toBeGreaterThan(100);
    for (const kind of ['function', 'run-service', 'eventarc-trigger', 'topic', 'secret-version', 'bq-table', 'service-account', 'scheduler-job', 'log-metric', 'dashboard', 'alertPolicy', 'notificationChannel', 'image']) {
      expect(r1.some((l) => l.startsWith(`create    ${kind} `)), kind).toBe(true);
    }
    for (const kind of ['project-iam', 'trigger-subscription', 'subscription-iam', 'run-invoker', 'apis', 'firestore-rules']) {
      expect(r1.some((l) => l.startsWith(`update    ${kind} `)), kind).toBe(true);
    }
    expect(r1.find((l) => l.startsWith('create    bq-dataset '))).toMatch(/\(\+ dataEditor cst-candle-ingest@/);
    expect(first.newCalls.filter((c) => c.mutating).length).toBeGreaterThan(150);
    expect(telegram.ok('setWebhook')).toHaveLength(1);
    expect(telegram.webhookUrl).toBe('https://telegram-webhook-abc123-uc.a.run.app');
    expect(scheduler.jobs.size).toBe(schedule.jobs.filter((j) => j.enabled).length);
    expect(first.lines.at(-2)).toMatch(/^deploy: \d+ created, \d+ updated, 0 deleted, 2 unchanged$/);
    expect(first.lines.at(-1)).toContain('dashboard: https://dashboard-abc123-uc.a.run.app');

    // 2: nothing changes.
    const schedulerWrites = scheduler.writes;
    const monitoringWrites = monitoring.calls.length;
    expect(monitoringWrites).toBeGreaterThan(5);
    const second = await deploy();
    expect(second.code, second.lines.join('\n')).toBe(0);
    expect(second.newCalls.filter((c) => c.mutating)).toEqual([]);
    expect(resourceLines(second.lines).every((l) => l.startsWith('unchanged '))).toBe(true);
    expect(scheduler.writes).toBe(schedulerWrites);
    expect(monitoring.calls).toHaveLength(monitoringWrites);
    expect(telegram.ok('setWebhook')).toHaveLength(1);
    expect(second.lines.at(-2)).toMatch(/^deploy: 0 created, 0 updated, 0 deleted, \d+ unchanged$/);

    // 3: one job's schedule and one function's memory change: exactly those two updates.
    const changed = { ...schedule, jobs: schedule.jobs.map((j) => (j.name === 'macroAnalysis' ? { ...j, schedule: '*/10 * * * *' } : j)) };
    const third = await deploy({ schedule: changed, memory: { retrain: '2GiB', 'kraken-pull': '512MiB' } });
    expect(third.code, third.lines.join('\n')).toBe(0);
    const updates = resourceLines(third.lines).filter((l) => !l.startsWith('unchanged '));
    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatch(/^update {4}function kraken-pull \(label cst-config: /);
    expect(updates[1]).toBe('update    scheduler-job cst-macroAnalysis (schedule: "*/5 * * * *" -> "*/10 * * * *")');
    const mutating = third.newCalls.filter((c) => c.mutating);
    expect(mutating).toHaveLength(1);
    expect(mutating[0]!.argv.slice(0, 3)).toEqual(['functions', 'deploy', 'kraken-pull']);
    expect(mutating[0]!.argv).toContain('--memory=512MiB');
  }, 600_000);

  it('every scheduler job carries the invoker OIDC token for its own function URL', () => {
    expect(scheduler.jobs.size).toBeGreaterThan(0);
    for (const job of scheduler.jobs.values()) {
      expect(job.httpTarget?.oidcToken?.serviceAccountEmail).toBe(`cst-invoker@${PROJECT}.iam.gserviceaccount.com`);
      expect(job.httpTarget?.oidcToken?.audience).toBe(job.httpTarget?.uri);
    }
  });

  it('secrets went to gcloud on stdin only: in no argv, in no output', () => {
    const all = calls();
    const text = JSON.stringify(all.map((c) => c.argv)) + outputs.join('\n');
    for (const v of Object.values(SECRET_VALUES)) expect(text).not.toContain(v);
    const adds = all.filter((c) => c.argv[0] === 'secrets' && c.argv[1] === 'versions' && c.argv[2] === 'add');
    expect(adds.map((c) => c.argv[3]).sort()).toEqual([...SECRET_NAMES].sort());
    for (const c of adds) {
      expect(c.argv).toContain('--data-file=-');
      expect(c.stdinSha).toBe(createHash('sha256').update(SECRET_VALUES[secretEnvVar(c.argv[3] as (typeof SECRET_NAMES)[number])]!).digest('hex'));
    }
  });
});
