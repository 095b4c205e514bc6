import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deployPlan, PUBLIC_SERVICE_MAX_INSTANCES, RUNTIME } from '../../scripts/deploy.js';
import { run as provisionCli } from '../../scripts/pubsub-provision.js';
import { HOLDER_SERVICE, PUBLIC_HTTP_FUNCTIONS, SCHEDULED_FUNCTIONS, TELEGRAM_WEBHOOK_SERVICE, pubsubBindings } from '../../infra/runtime/registry.js';
import { loadSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';

describe('deploy plan', () => {
  const plan = deployPlan({ project: 'p1', region: 'europe-west1', serviceAccount: 'cst@p1.iam.gserviceaccount.com' });
  const lines = plan.map((s) => s.command.join(' '));

  it('deploys every registered function on nodejs22 with the right trigger and entry point', () => {
    for (const job of SCHEDULED_FUNCTIONS) {
      const line = lines.find((l) => l.startsWith(`gcloud functions deploy ${job.name} `));
      expect(line).toContain(`--runtime=${RUNTIME}`);
      expect(line).toContain(`--entry-point=${job.name} --trigger-http --no-allow-unauthenticated`);
      expect(line).toContain('--service-account=cst@p1.iam.gserviceaccount.com');
    }
    for (const b of pubsubBindings()) {
      // Deployed once; its first topic is the function's own trigger, every other topic an Eventarc trigger.
      const deploys = lines.filter((l) => l.startsWith(`gcloud functions deploy ${b.function} `));
      expect(deploys).toHaveLength(1);
      const viaDeploy = deploys[0]!.includes(`--trigger-topic=${b.topic} --retry`);
      const viaTrigger = lines.some((l) => l.includes(`eventarc triggers create ${b.function}--${b.topic} `) && l.includes(`--transport-topic=projects/p1/topics/${b.topic}`));
      expect(viaDeploy !== viaTrigger).toBe(true);
      expect(lines).toContainEqual(
        expect.stringContaining(`destination.cloudRun.service=${b.function} AND transport.pubsub.topic=projects/p1/topics/${b.topic}`),
      );
    }
    expect(RUNTIME).toBe('nodejs22');
  });

  it('deploys the Telegram webhook as its own public Cloud Run service whose process serves the front, not as a Cloud Function', () => {
    // A Cloud Function's framework parses every body before our code runs: the secret would come too late.
    expect(PUBLIC_HTTP_FUNCTIONS.map((f) => f.name)).toContain(TELEGRAM_WEBHOOK_SERVICE);
    for (const { name } of PUBLIC_HTTP_FUNCTIONS) {
      expect(lines.filter((l) => l.startsWith(`gcloud functions deploy ${name} `))).toEqual([]);
      const run = lines.filter((l) => l.startsWith(`gcloud run deploy ${name} `));
      expect(run).toHaveLength(1);
      expect(run[0]).toContain(' --source=. --region=europe-west1 ');
      // The buildpack's default process is `npm start` (the local runtime): the entry point is set.
      expect(run[0]).toContain(`--set-build-env-vars=GOOGLE_ENTRYPOINT=node dist/functions/${name}/server.js,GOOGLE_NODEJS_VERSION=22.x.x `);
      expect(run[0]).toContain('--set-env-vars=CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=p1 --allow-unauthenticated');
      expect(run[0]).toContain(`--max-instances=${PUBLIC_SERVICE_MAX_INSTANCES} --project=p1 --service-account=cst@p1.iam.gserviceaccount.com`);
      // The entry it names is compiled from a source file that exists (gcp-build compiles functions/ into dist/).
      expect(existsSync(join(import.meta.dirname, '..', '..', 'functions', name, 'server.ts'))).toBe(true);
      // An earlier gen-2 function of that name owns the Cloud Run service: removed first, when there is one.
      const removal = lines.findIndex((l) => l.includes(`then gcloud functions delete ${name} --region=europe-west1 --project=p1 --quiet; fi`));
      expect(removal).toBeGreaterThan(-1);
      expect(removal).toBeLessThan(lines.indexOf(run[0]!));
    }
  });

  it('registers the webhook at the Cloud Run service URL, after the service is deployed', () => {
    const register = lines.findIndex((l) => l.includes('scripts/telegram-webhook.ts'));
    expect(lines[register]).toBe(
      `sh -c npx tsx scripts/telegram-webhook.ts --project p1 --url "$(gcloud run services describe ${TELEGRAM_WEBHOOK_SERVICE} --region=europe-west1 --project=p1 --format="value(status.url)")"`,
    );
    expect(lines.join('\n')).not.toContain('cloudfunctions.net/telegram-webhook');
    expect(register).toBeGreaterThan(lines.findIndex((l) => l.startsWith(`gcloud run deploy ${TELEGRAM_WEBHOOK_SERVICE} `)));
  });

  it('every scheduler.yaml target that is registered is deployed as an HTTP function', () => {
    const registered = new Set<string>(SCHEDULED_FUNCTIONS.map((j) => j.name));
    const targets = Object.values(loadSchedule(SCHEDULER_YAML).jobs).map((j) => j.function);
    for (const t of targets.filter((t) => registered.has(t))) expect(lines.some((l) => l.includes(`functions deploy ${t} `))).toBe(true);
  });

  it('runs the holder as exactly one always-on Cloud Run instance', () => {
    const run = lines.find((l) => l.startsWith(`gcloud run deploy ${HOLDER_SERVICE} `));
    expect(run).toContain('--min-instances=1 --max-instances=1 --no-cpu-throttling');
  });

  it('orders rules and topics first and the scheduler sync last', () => {
    expect(lines[0]).toContain('firestore:rules,firestore:indexes');
    expect(lines[1]).toContain('scripts/pubsub-provision.ts --project p1 --topics-only');
    expect(lines.at(-1)).toBe('npx tsx scripts/sync-scheduler.ts --project p1 --region europe-west1 --service-account cst@p1.iam.gserviceaccount.com');
  });

  it('provisions topics and dead-letter topics but no handler subscription with --topics-only', async () => {
    let out = '';
    const code = await provisionCli(['--assume-empty', '--topics-only', '--json'], { env: {}, out: (s) => (out += s) });
    expect(code).toBe(0);
    const plan = JSON.parse(out) as { topics: Array<{ name: string }>; subscriptions: Array<{ role: string }> };
    expect(plan.topics.map((t) => t.name)).toEqual(expect.arrayContaining(['candles-bybit-1m', 'candles-bybit-1m-dlq', 'system-alerts']));
    expect(plan.subscriptions.every((s) => s.role === 'dead-letter-retention')).toBe(true);
  });
});

describe('scheduled functions live as long as their scheduler job waits', () => {
  it('--timeout from scheduler.yaml attemptDeadlineSeconds (retrain 1800 s, not the 60 s default), retrain with 2 GiB', () => {
    const lines = deployPlan({ project: 'p1', region: 'europe-west1' }).map((s) => s.command.join(' '));
    const jobs = loadSchedule(SCHEDULER_YAML).jobs;
    const line = (fn: string) => lines.find((l) => l.startsWith(`gcloud functions deploy ${fn} `)) ?? '';
    expect(line('retrain')).toContain('--timeout=1800s --memory=2GiB');
    expect(line('kraken-pull')).toContain('--timeout=55s');
    expect(line('reports')).toContain('--timeout=300s');
    for (const f of SCHEDULED_FUNCTIONS) {
      const mine = jobs.filter((j) => j.function === f.name);
      expect(mine.length, f.name).toBeGreaterThan(0);
      expect(line(f.name)).toContain(`--timeout=${Math.max(...mine.map((j) => j.attemptDeadlineSeconds))}s`);
    }
  });
});
