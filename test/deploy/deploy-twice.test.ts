/**
 * The deploy run twice against a fake `gcloud` / `bq` / `firebase` (test/deploy/fake-cloud.mjs, first
 * on PATH, state in a JSON file), an in-memory Cloud Scheduler, an in-memory Cloud Monitoring and the
 * local Bot API server: the first run creates everything, the second changes nothing and exits 0, a
 * changed input makes exactly its one update. Secrets reach gcloud on stdin only.
 */
import { spawnSync } from 'node:child_process';
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
import { PUBSUB_FUNCTION_TIMEOUT_SECONDS } from '../../infra/deploy/plan.js';
import { subscriptionName } from '../../infra/bus/topology.js';
import { pubsubBindings } from '../../infra/runtime/registry.js';
import { deadLetterTopic } from '../../shared/topics.js';

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
  type FakeState = { calls: Call[]; things: Record<string, Record<string, unknown> | undefined>; iam: Record<string, unknown> };
  const thing = (key: string) => (JSON.parse(readFileSync(state, 'utf8')) as FakeState).things[key] as Record<string, unknown> & { enableMessageOrdering?: boolean };
  const editState = (f: (st: FakeState) => void) => {
    const st = JSON.parse(readFileSync(state, 'utf8')) as FakeState;
    f(st);
    writeFileSync(state, JSON.stringify(st, null, 2));
  };
  const bindings = pubsubBindings();

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
    // The project is only read (its number); the old Cloud Function form of the webhook and the Eventarc
    // triggers of earlier deploys are absent, as wanted.
    const absentTriggers = bindings.map((b) => `unchanged absent-eventarc-trigger ${subscriptionName(b.function, b.topic)}`);
    expect(r1.filter((l) => l.startsWith('unchanged'))).toEqual([`unchanged project ${PROJECT}`, ...absentTriggers, 'unchanged absent-function telegram-webhook']);
    expect(r1.filter((l) => l.startsWith('create ')).length).toBeGreaterThan(100);
    for (const kind of ['function', 'run-service', 'push-subscription', 'topic', 'secret-version', 'bq-table', 'service-account', 'scheduler-job', 'log-metric', 'dashboard', 'alertPolicy', 'notificationChannel', 'image']) {
      expect(r1.some((l) => l.startsWith(`create    ${kind} `)), kind).toBe(true);
    }
    for (const kind of ['project-iam', 'subscription-iam', 'run-invoker', 'apis', 'firestore-rules']) {
      expect(r1.some((l) => l.startsWith(`update    ${kind} `)), kind).toBe(true);
    }
    expect(r1.find((l) => l.startsWith('create    bq-dataset '))).toMatch(/\(\+ dataEditor cst-candle-ingest@/);
    expect(first.newCalls.filter((c) => c.mutating).length).toBeGreaterThan(150);
    expect(telegram.ok('setWebhook')).toHaveLength(1);
    expect(telegram.webhookUrl).toBe('https://telegram-webhook-abc123-uc.a.run.app');
    expect(scheduler.jobs.size).toBe(schedule.jobs.filter((j) => j.enabled).length);
    expect(first.lines.at(-2)).toMatch(new RegExp(`^deploy: \\d+ created, \\d+ updated, 0 deleted, ${2 + bindings.length} unchanged$`));
    // Every (function, topic) of the topology is a push subscription to the function's URL + the topic's
    // path, with the invoker's token, ordered exactly where the topology asks, dead-lettering.
    for (const b of bindings) {
      const sub = thing(`sub/${subscriptionName(b.function, b.topic)}`);
      const url = `https://${b.function}-abc123-uc.a.run.app`;
      expect(sub, b.function + b.topic).toMatchObject({
        topic: `projects/${PROJECT}/topics/${b.topic}`,
        ackDeadlineSeconds: PUBSUB_FUNCTION_TIMEOUT_SECONDS,
        pushConfig: { pushEndpoint: `${url}/projects/${PROJECT}/topics/${b.topic}`, oidcToken: { serviceAccountEmail: `cst-invoker@${PROJECT}.iam.gserviceaccount.com`, audience: url } },
        deadLetterPolicy: { deadLetterTopic: `projects/${PROJECT}/topics/${deadLetterTopic(b.topic)}`, maxDeliveryAttempts: 5 },
        retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
      });
      expect(sub.enableMessageOrdering === true, `${b.function} <- ${b.topic} ordered`).toBe(b.enableOrdering);
    }
    expect(bindings.filter((b) => b.enableOrdering).map((b) => subscriptionName(b.function, b.topic))).toEqual(
      expect.arrayContaining(['candle-ingest--candles-bybit-1m', 'micro-scalp--candles-bybit-1m', 'execution--candles-bybit-1m', 'notifier--trade-events']),
    );
    expect(first.newCalls.some((c) => c.argv.includes('eventarc') && c.mutating)).toBe(false);
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
    const thirdInput = { schedule: changed, memory: { retrain: '2GiB', 'kraken-pull': '512MiB' } };
    const third = await deploy(thirdInput);
    expect(third.code, third.lines.join('\n')).toBe(0);
    const updates = resourceLines(third.lines).filter((l) => !l.startsWith('unchanged '));
    expect(updates).toHaveLength(2);
    expect(updates[0]).toMatch(/^update {4}function kraken-pull \(label cst-config: /);
    expect(updates[1]).toBe('update    scheduler-job cst-macroAnalysis (schedule: "*/5 * * * *" -> "*/10 * * * *")');
    const mutating = third.newCalls.filter((c) => c.mutating);
    expect(mutating).toHaveLength(1);
    expect(mutating[0]!.argv.slice(0, 3)).toEqual(['functions', 'deploy', 'kraken-pull']);
    expect(mutating[0]!.argv).toContain('--memory=512MiB');

    // 4: the state an Eventarc-era deploy leaves: a subscription the topology orders exists unordered,
    // and a trigger <fn>--<topic> is still there. The unordered one is deleted and re-created ordered
    // (ordering cannot be updated), its dead-letter permission given again; the trigger is deleted.
    const ordered = 'execution--candles-bybit-1m';
    const leftover = 'candle-ingest--candles-bybit-1m';
    editState((st) => {
      delete st.things[`sub/${ordered}`]!.enableMessageOrdering;
      st.things['sub/eventarc-europe-west1-old-sub-1'] = { name: `projects/${PROJECT}/subscriptions/eventarc-europe-west1-old-sub-1`, topic: `projects/${PROJECT}/topics/candles-bybit-1m` };
      st.things[`trigger/${leftover}`] = {
        name: `projects/${PROJECT}/locations/europe-west1/triggers/${leftover}`,
        transport: { pubsub: { topic: `projects/${PROJECT}/topics/candles-bybit-1m`, subscription: `projects/${PROJECT}/subscriptions/eventarc-europe-west1-old-sub-1` } },
      };
    });
    const fourth = await deploy(thirdInput);
    expect(fourth.code, fourth.lines.join('\n')).toBe(0);
    const changed4 = resourceLines(fourth.lines).filter((l) => !l.startsWith('unchanged '));
    expect(changed4).toEqual([
      `delete    absent-eventarc-trigger ${leftover}`,
      `update    push-subscription ${ordered} (enableMessageOrdering: "false" -> "true"; ordering and topic cannot change on a subscription: deleted and re-created (its unacked messages are dropped))`,
      `update    subscription-iam ${ordered} (+ roles/pubsub.subscriber serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com)`,
    ]);
    expect(fourth.newCalls.filter((c) => c.mutating).map((c) => c.argv.slice(0, 4).join(' '))).toEqual([
      `eventarc triggers delete ${leftover}`,
      `pubsub subscriptions delete ${ordered}`,
      `pubsub subscriptions create ${ordered}`,
      `pubsub subscriptions add-iam-policy-binding ${ordered}`,
    ]);
    expect(fourth.newCalls.find((c) => c.argv[2] === 'create')!.argv).toContain('--enable-message-ordering');
    expect(thing(`sub/${ordered}`).enableMessageOrdering).toBe(true);
    expect(thing('sub/eventarc-europe-west1-old-sub-1')).toBeUndefined();
    // Nothing ever asked gcloud to update a subscription's ordering (gcloud refuses it; so does the fake).
    expect(calls().some((c) => c.argv[2] === 'update' && c.argv.includes('--enable-message-ordering'))).toBe(false);

    // 5: and then nothing again.
    const fifth = await deploy(thirdInput);
    expect(fifth.code, fifth.lines.join('\n')).toBe(0);
    expect(fifth.newCalls.filter((c) => c.mutating)).toEqual([]);
  }, 900_000);

  it('the fake refuses to update the ordering of a subscription, like gcloud', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, 'fake-cloud.mjs'), 'gcloud', 'pubsub', 'subscriptions', 'update', 'execution--candles-bybit-1m', '--enable-message-ordering', `--project=${PROJECT}`], {
      env: { ...process.env, FAKE_CLOUD_STATE: state },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unrecognized arguments: --enable-message-ordering');
  });

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
