import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deployPlan, PUBLIC_SERVICE_MAX_INSTANCES, PUBSUB_FUNCTION_TIMEOUT_SECONDS, RUNTIME, type DeployInput } from '../../infra/deploy/plan.js';
import type { CommandResource, Resource } from '../../infra/deploy/resources.js';
import { INVOKER_SA, UNIT_ACCESS } from '../../infra/deploy/access.js';
import { run as provisionCli } from '../../scripts/pubsub-provision.js';
import { CLOUD_FUNCTIONS, HOLDER_SERVICE, PUBLIC_CLOUD_FUNCTIONS, PUBLIC_HTTP_FUNCTIONS, SCHEDULED_FUNCTIONS, TELEGRAM_WEBHOOK_SERVICE, pubsubBindings } from '../../infra/runtime/registry.js';
import { subscriptionName, topologyTopics } from '../../infra/bus/topology.js';
import { SECRET_NAMES } from '../../shared/ports/secrets.js';
import { deadLetterTopic } from '../../shared/topics.js';
import { loadSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';

const input: DeployInput = {
  project: 'p1',
  region: 'europe-west1',
  source: { dir: '.deploy/functions', hash: 'f'.repeat(64) },
  holderTag: 'h-1',
  firestoreHash: 'e'.repeat(64),
  logMetrics: [],
};
const plan = deployPlan(input);
const cmdRes = plan.filter((r): r is CommandResource => r.type === 'command');
const find = (kind: string, name: string): CommandResource => {
  const r = cmdRes.find((x) => x.kind === kind && x.name === name);
  if (!r) throw new Error(`no ${kind} ${name} in the plan`);
  return r;
};
const createLine = (kind: string, name: string) => find(kind, name).create![0]!.argv.join(' ');
const id = (s: string): string => s;
const index = (pred: (r: Resource) => boolean) => plan.findIndex(pred);

describe('deploy plan', () => {
  it('deploys every registered Cloud Function once, gen 2 on nodejs22, from the staged source, under its own account', () => {
    for (const name of CLOUD_FUNCTIONS) {
      const line = createLine('function', name);
      expect(line).toContain(`functions deploy ${name} --gen2 --runtime=${RUNTIME} --region=europe-west1 --source=.deploy/functions --entry-point=${name} --trigger-http`);
      expect(line).toContain(`--service-account=cst-${name}@p1.iam.gserviceaccount.com`);
      expect(line).toContain('--set-env-vars=CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=p1,NODE_OPTIONS=--enable-source-maps');
      expect(line).toMatch(/--update-labels=cst-source=f{32},cst-config=[0-9a-f]{16}$/);
      expect(cmdRes.filter((r) => r.kind === 'function' && r.name === name)).toHaveLength(1);
    }
    expect(RUNTIME).toBe('nodejs22');
  });

  it('private functions: only the invoker may call them; each Pub/Sub binding is a push subscription of the topology, no Eventarc trigger', () => {
    for (const f of SCHEDULED_FUNCTIONS) {
      expect(createLine('function', f.name)).toContain('--no-allow-unauthenticated');
      expect(find('run-invoker', f.name).desired).toEqual([`roles/run.invoker serviceAccount:${INVOKER_SA}@p1.iam.gserviceaccount.com`]);
    }
    const invoker = `${INVOKER_SA}@p1.iam.gserviceaccount.com`;
    for (const b of pubsubBindings()) {
      const fn = createLine('function', b.function);
      expect(fn).toContain(`--trigger-http --no-allow-unauthenticated --timeout=${PUBSUB_FUNCTION_TIMEOUT_SECONDS}s`);
      expect(fn).not.toContain('--trigger-topic');
      expect(find('run-invoker', b.function).desired).toEqual([`roles/run.invoker serviceAccount:${invoker}`]);
      // Its URL is learned from the describe, for the push endpoint.
      expect(find('function', b.function).facts!({ serviceConfig: { uri: 'https://f.run.app' } })).toEqual({ [`url:${b.function}`]: 'https://f.run.app' });
      const name = subscriptionName(b.function, b.topic);
      const sub = find('push-subscription', name);
      const url = `{{url:${b.function}}}`;
      const create = sub.create![0]!.argv.join(' ');
      expect(create).toBe(
        `gcloud pubsub subscriptions create ${name} --topic=${b.topic} --push-endpoint=${url}/projects/p1/topics/${b.topic} --push-auth-service-account=${invoker} ` +
          `--push-auth-token-audience=${url} --ack-deadline=${PUBSUB_FUNCTION_TIMEOUT_SECONDS} --dead-letter-topic=${deadLetterTopic(b.topic)} --max-delivery-attempts=5 ` +
          `--min-retry-delay=10s --max-retry-delay=600s${b.enableOrdering ? ' --enable-message-ordering' : ''} --project=p1`,
      );
      // Already as wanted: nothing to run.
      const realUrl = `https://${b.function}-x.a.run.app`;
      const fact = (s: string) => s.replaceAll(url, realUrl);
      const same = {
        topic: `projects/p1/topics/${b.topic}`,
        ackDeadlineSeconds: PUBSUB_FUNCTION_TIMEOUT_SECONDS,
        pushConfig: { pushEndpoint: `${realUrl}/projects/p1/topics/${b.topic}`, oidcToken: { serviceAccountEmail: invoker, audience: realUrl }, attributes: { 'x-goog-version': 'v1' } },
        deadLetterPolicy: { deadLetterTopic: `projects/p1/topics/${deadLetterTopic(b.topic)}`, maxDeliveryAttempts: 5 },
        retryPolicy: { minimumBackoff: '10s', maximumBackoff: '600s' },
        ...(b.enableOrdering ? { enableMessageOrdering: true } : {}),
      };
      expect(sub.update!(same, fact)).toEqual({ changes: [], commands: [] });
      // A moved function URL or retry policy: updated in place, ordering not touched.
      const moved = sub.update!({ ...same, pushConfig: { ...same.pushConfig, pushEndpoint: 'https://old/' }, retryPolicy: { minimumBackoff: '1s', maximumBackoff: '600s' } }, fact);
      expect(moved.changes).toEqual([`pushEndpoint: "https://old/" -> "${realUrl}/projects/p1/topics/${b.topic}"`, 'minimumBackoff: "1s" -> "10s"']);
      expect(moved.commands.map((c) => c.argv.slice(0, 5).join(' '))).toEqual([`gcloud pubsub subscriptions update ${name}`]);
      expect(moved.commands[0]!.argv).not.toContain('--enable-message-ordering');
      // Ordering differs: deleted and re-created, and the line says why.
      const { enableMessageOrdering: _drop, ...unordered } = same as typeof same & { enableMessageOrdering?: boolean };
      const flipped = sub.update!(b.enableOrdering ? unordered : { ...same, enableMessageOrdering: true }, fact);
      expect(flipped.changes[0]).toBe(`enableMessageOrdering: "${!b.enableOrdering}" -> "${b.enableOrdering}"`);
      expect(flipped.changes.at(-1)).toContain('deleted and re-created');
      expect(flipped.commands.map((c) => c.argv.join(' '))).toEqual([`gcloud pubsub subscriptions delete ${name} --project=p1 --quiet`, create]);
      // The service agent may dead-letter from it; the Eventarc trigger of earlier deploys goes, after the subscription exists.
      expect(find('subscription-iam', name).desired).toEqual(['roles/pubsub.subscriber serviceAccount:service-{{projectNumber}}@gcp-sa-pubsub.iam.gserviceaccount.com']);
      const trigger = find('absent-eventarc-trigger', name);
      expect(trigger.removeWhenFound!.map((c) => c.argv.join(' '))).toEqual([`gcloud eventarc triggers delete ${name} --location=europe-west1 --project=p1 --quiet`]);
      expect(index((r) => r.kind === 'push-subscription' && r.name === name)).toBeGreaterThan(index((r) => r.kind === 'function' && r.name === b.function));
      expect(index((r) => r.kind === 'absent-eventarc-trigger' && r.name === name)).toBeGreaterThan(index((r) => r.kind === 'push-subscription' && r.name === name));
    }
    expect(cmdRes.filter((r) => r.create?.some((c) => c.argv.includes('eventarc')))).toEqual([]);
    // The topology's ordered subscriptions are the ordered push subscriptions.
    const orderedInPlan = cmdRes.filter((r) => r.kind === 'push-subscription' && r.create![0]!.argv.includes('--enable-message-ordering')).map((r) => r.name);
    expect(orderedInPlan.sort()).toEqual(pubsubBindings().filter((b) => b.enableOrdering).map((b) => subscriptionName(b.function, b.topic)).sort());
    expect(orderedInPlan).toContain('execution--candles-bybit-1m');
    // Public ones get no invoker binding.
    for (const f of [...PUBLIC_CLOUD_FUNCTIONS, ...PUBLIC_HTTP_FUNCTIONS]) expect(cmdRes.some((r) => r.kind === 'run-invoker' && r.name === f.name)).toBe(false);
  });

  it('deploys the Telegram webhook as its own public Cloud Run service whose process serves the front, not as a Cloud Function', () => {
    expect(PUBLIC_HTTP_FUNCTIONS.map((f) => f.name)).toContain(TELEGRAM_WEBHOOK_SERVICE);
    for (const { name } of PUBLIC_HTTP_FUNCTIONS) {
      expect(cmdRes.some((r) => r.kind === 'function' && r.name === name)).toBe(false);
      const run = createLine('run-service', name);
      expect(run).toContain(`run deploy ${name} --source=.deploy/functions `);
      expect(run).toContain(`--set-build-env-vars=GOOGLE_ENTRYPOINT=node dist/functions/${name}/server.js,GOOGLE_NODEJS_VERSION=22.x.x `);
      expect(run).toContain(`--allow-unauthenticated --max-instances=${PUBLIC_SERVICE_MAX_INSTANCES} `);
      expect(existsSync(join(import.meta.dirname, '..', '..', 'functions', name, 'server.ts'))).toBe(true);
      // An earlier gen-2 function of that name owns the Cloud Run service: removed first, when there is one.
      const absent = index((r) => r.kind === 'absent-function' && r.name === name);
      expect(absent).toBeGreaterThan(-1);
      expect(absent).toBeLessThan(index((r) => r.kind === 'run-service' && r.name === name));
    }
  });

  it('registers the webhook at the Cloud Run service URL, after the service is deployed, last', () => {
    const hook = index((r) => r.kind === 'telegram-webhook');
    expect(hook).toBe(plan.length - 1);
    expect(hook).toBeGreaterThan(index((r) => r.kind === 'run-service' && r.name === TELEGRAM_WEBHOOK_SERVICE));
    expect(find('run-service', TELEGRAM_WEBHOOK_SERVICE).facts!({ status: { url: 'https://x.run.app' } })).toEqual({ [`url:${TELEGRAM_WEBHOOK_SERVICE}`]: 'https://x.run.app' });
  });

  it('every scheduler.yaml target that is registered is deployed as an HTTP function', () => {
    const registered = new Set<string>(SCHEDULED_FUNCTIONS.map((j) => j.name));
    for (const t of loadSchedule(SCHEDULER_YAML).jobs.map((j) => j.function).filter((t) => registered.has(t))) expect(createLine('function', t)).toContain('--trigger-http');
  });

  it('runs the holder as exactly one always-on Cloud Run instance of the tagged image, built only when the tag is missing', () => {
    expect(createLine('run-service', HOLDER_SERVICE)).toContain('--image=europe-west1-docker.pkg.dev/p1/cst/bybit-holder:h-1 --min-instances=1 --max-instances=1 --no-cpu-throttling');
    const image = find('image', `${HOLDER_SERVICE}:h-1`);
    expect(image.describe.argv.join(' ')).toContain('artifacts docker images describe europe-west1-docker.pkg.dev/p1/cst/bybit-holder:h-1');
    expect(image.create![0]!.argv.join(' ')).toContain('--substitutions=_IMAGE=europe-west1-docker.pkg.dev/p1/cst/bybit-holder,_TAG=h-1');
  });

  it('orders the foundations first and the scheduler, monitoring and webhook after every function', () => {
    expect(plan.slice(0, 3).map((r) => r.kind)).toEqual(['project', 'apis', 'artifact-repo']);
    const lastFunction = Math.max(...plan.map((r, i) => (r.kind === 'function' || r.kind === 'run-service' ? i : -1)));
    for (const kind of ['scheduler-jobs', 'monitoring', 'telegram-webhook']) expect(index((r) => r.kind === kind)).toBeGreaterThan(lastFunction);
    expect(Math.max(...plan.map((r, i) => (r.kind === 'topic' ? i : -1)))).toBeLessThan(index((r) => r.kind === 'push-subscription'));
  });

  it('grants each secret to exactly the units that read it, and each topic to exactly its publishers', () => {
    for (const name of SECRET_NAMES) {
      const readers = Object.entries(UNIT_ACCESS).filter(([, a]) => a.secrets.includes(name)).map(([u]) => `roles/secretmanager.secretAccessor serviceAccount:cst-${u}@p1.iam.gserviceaccount.com`);
      expect(find('secret-iam', name).desired).toEqual(readers);
      // The value goes on stdin, never in argv.
      const add = find('secret-version', name).create![0]!;
      expect(add.stdinSecret).toBe(name);
      expect(add.argv).toContain('--data-file=-');
    }
    for (const topic of topologyTopics()) {
      const publishers = Object.entries(UNIT_ACCESS).filter(([, a]) => a.publishes.includes(topic));
      if (publishers.length) expect(find('topic-iam', topic).desired).toHaveLength(publishers.length);
      expect(find('topic-iam', deadLetterTopic(topic)).desired).toEqual(['roles/pubsub.publisher serviceAccount:service-{{projectNumber}}@gcp-sa-pubsub.iam.gserviceaccount.com']);
      expect(createLine('subscription', `dead-letters--${deadLetterTopic(topic)}`)).toContain(`--topic=${deadLetterTopic(topic)} --message-retention-duration=7d`);
    }
    // An existing secret version is kept unless rotated.
    expect(find('secret-version', 'bybit-api-key').update!({}, id).commands).toEqual([]);
    expect(deployPlan({ ...input, rotate: ['bybit-api-key'] }).find((r): r is CommandResource => r.kind === 'secret-version' && r.name === 'bybit-api-key')!.update!({}, id).commands).toHaveLength(1);
  });

  it('provisions topics and dead-letter topics but no handler subscription with --topics-only', async () => {
    let out = '';
    const code = await provisionCli(['--assume-empty', '--topics-only', '--json'], { env: {}, out: (s) => (out += s) });
    expect(code).toBe(0);
    const p = JSON.parse(out) as { topics: Array<{ name: string }>; subscriptions: Array<{ role: string }> };
    expect(p.topics.map((t) => t.name)).toEqual(expect.arrayContaining(['candles-bybit-1m', 'candles-bybit-1m-dlq', 'system-alerts']));
    expect(p.subscriptions.every((s) => s.role === 'dead-letter-retention')).toBe(true);
  });
});

describe('scheduled functions live as long as their scheduler job waits', () => {
  it('--timeout from scheduler.yaml attemptDeadlineSeconds (retrain 1800 s, not the 60 s default), retrain with 2 GiB', () => {
    const jobs = loadSchedule(SCHEDULER_YAML).jobs;
    expect(createLine('function', 'retrain')).toContain('--timeout=1800s --memory=2GiB');
    expect(createLine('function', 'kraken-pull')).toContain('--timeout=55s');
    expect(createLine('function', 'reports')).toContain('--timeout=300s');
    for (const f of SCHEDULED_FUNCTIONS) {
      const mine = jobs.filter((j) => j.function === f.name);
      expect(mine.length, f.name).toBeGreaterThan(0);
      expect(createLine('function', f.name)).toContain(`--timeout=${Math.max(...mine.map((j) => j.attemptDeadlineSeconds))}s`);
    }
  });

  it('redeploys a function only when its source, flags or account differ', () => {
    const fn = find('function', 'kraken-pull');
    const argv = fn.create![0]!.argv;
    const labels = Object.fromEntries(argv.at(-1)!.slice('--update-labels='.length).split(',').map((kv) => kv.split('=')));
    const live = { state: 'ACTIVE', labels, serviceConfig: { serviceAccountEmail: 'cst-kraken-pull@p1.iam.gserviceaccount.com' } };
    expect(fn.update!(live, id)).toEqual({ changes: [], commands: [] });
    const newSource = deployPlan({ ...input, source: { dir: '.deploy/functions', hash: '0'.repeat(64) } }).find((r): r is CommandResource => r.kind === 'function' && r.name === 'kraken-pull')!;
    expect(newSource.update!(live, id).changes).toEqual([`label cst-source: "${'f'.repeat(32)}" -> "${'0'.repeat(32)}"`]);
  });
});

describe('least-privilege table', () => {
  it('every topic the code publishes to is granted to at least one unit', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { TOPICS } = await import('../../shared/topics.js');
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
      });
    const root = join(import.meta.dirname, '..', '..', 'shared');
    const published = new Set<string>();
    for (const f of files(root)) {
      for (const m of readFileSync(f, 'utf8').matchAll(/publish\([^,()]+,\s*TOPICS\.(\w+)/g)) published.add(TOPICS[m[1] as keyof typeof TOPICS]);
    }
    expect(published.size).toBeGreaterThan(5);
    const granted = new Set(Object.values(UNIT_ACCESS).flatMap((a) => a.publishes));
    expect([...published].filter((t) => !granted.has(t))).toEqual([]);
  });
});

describe('review fixes of the plan', () => {
  it('a function an earlier deploy gave a topic trigger is deleted and deployed again as HTTP (a trigger type cannot change)', () => {
    const r = find('function', 'execution');
    const deployed = { state: 'ACTIVE', eventTrigger: { eventType: 'google.cloud.pubsub.topic.v1.messagePublished', pubsubTopic: 'projects/p1/topics/trade-commands' }, labels: {}, serviceConfig: {} };
    const u = r.update!(deployed, () => '');
    expect(u.changes[0]).toContain('event trigger -> HTTP');
    expect(u.commands.map((c) => c.argv.slice(0, 4).join(' '))).toEqual(['gcloud functions delete execution', 'gcloud functions deploy execution']);
  });

  it('kraken-pull runs in one instance at most (its Kraken rate limit is held per process)', () => {
    expect(createLine('function', 'kraken-pull')).toContain('--max-instances=1');
    expect(createLine('function', 'macro-analysis')).not.toContain('--max-instances=1');
  });
});
