/**
 * One-command deploy (prints the plan; `--execute` runs it). Needs gcloud and firebase-tools logged in
 * on a machine with internet. Every deployable comes from infra/runtime/registry.ts, the schedules from
 * scheduler.yaml, the Pub/Sub topology from infra/bus/topology.ts: nothing is listed twice.
 *
 *   npm run deploy -- --project P --region us-central1 [--service-account SA] [--execute]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { deadLetterTopic } from '../shared/topics.js';
import { loadSchedule, SCHEDULER_YAML } from '../shared/schedule/schema.js';
import { HOLDER_SERVICE, PUBLIC_CLOUD_FUNCTIONS, PUBLIC_HTTP_FUNCTIONS, SCHEDULED_FUNCTIONS, TELEGRAM_WEBHOOK_SERVICE, publicServiceEntry, pubsubBindings } from '../infra/runtime/registry.js';

export const RUNTIME = 'nodejs22';
const ARTIFACT_REPO = 'cst';
/**
 * Upper bound of instances of a public HTTP service (the webhook). Telegram opens at most 40 parallel
 * connections per bot and one instance serves 80 requests at once, so one instance carries the bot; the
 * cap leaves room for a rollover and bounds what a flood of (refused) requests can cost.
 */
export const PUBLIC_SERVICE_MAX_INSTANCES = 3;

interface DeployOptions {
  project: string;
  region: string;
  /** Runtime service account of the functions and the holder. */
  serviceAccount?: string;
}

interface DeployStep {
  what: string;
  command: string[];
}

/** What every step of one plan shares: the runtime env vars, the service-account flag, the functions' flags. */
interface PlanContext {
  o: DeployOptions;
  env: string;
  sa: string[];
  common: string[];
}

/** Firestore rules and indexes, then the Pub/Sub topics (the subscriptions come with the functions). */
function foundationSteps({ o }: PlanContext): DeployStep[] {
  return [
    {
      what: 'Firestore rules (no client access) and composite indexes',
      command: ['npx', 'firebase', 'deploy', '--only', 'firestore:rules,firestore:indexes', '--project', o.project],
    },
    {
      what: 'Pub/Sub topics and dead-letter topics (Eventarc creates the function subscriptions below)',
      command: ['npx', 'tsx', 'scripts/pubsub-provision.ts', '--project', o.project, '--topics-only'],
    },
  ];
}

/** Memory beyond the default (256 MiB) for the functions that need it: retrain simulates the shadow test's month of candles. */
export const SCHEDULED_MEMORY: Readonly<Record<string, string>> = { retrain: '2GiB' };

/**
 * The request timeout of a scheduled function: the longest `attemptDeadlineSeconds` of the
 * scheduler.yaml jobs that call it (Cloud Scheduler waits that long; the function must too; the
 * default 60 s would cut the 30-minute retrain run).
 */
export function scheduledTimeoutSeconds(fn: string, jobs: ReadonlyArray<{ function: string; attemptDeadlineSeconds: number }>): number | undefined {
  const deadlines = jobs.filter((j) => j.function === fn).map((j) => j.attemptDeadlineSeconds);
  return deadlines.length ? Math.max(...deadlines) : undefined;
}

/** The HTTP functions Cloud Scheduler calls. */
function scheduledSteps({ common }: PlanContext): DeployStep[] {
  const jobs = loadSchedule(SCHEDULER_YAML).jobs;
  return SCHEDULED_FUNCTIONS.map((job) => {
    const timeout = scheduledTimeoutSeconds(job.name, jobs);
    const memory = SCHEDULED_MEMORY[job.name];
    return {
      what: `HTTP function ${job.name} (Cloud Scheduler target)`,
      command: [
        'gcloud', 'functions', 'deploy', job.name, ...common, `--entry-point=${job.name}`, '--trigger-http', '--no-allow-unauthenticated',
        ...(timeout !== undefined ? [`--timeout=${timeout}s`] : []),
        ...(memory !== undefined ? [`--memory=${memory}`] : []),
      ],
    };
  });
}

/** Each public HTTP entry (the webhook) as a Cloud Run service, replacing an earlier Cloud Function of its name. */
function publicServiceSteps({ o, env, sa }: PlanContext): DeployStep[] {
  const steps: DeployStep[] = [];
  for (const { name } of PUBLIC_HTTP_FUNCTIONS) {
    // A Cloud Function's framework reads and parses every body before our code runs, so the webhook
    // could not check its secret first: it runs as a Cloud Run service whose own Node server serves
    // the front (secret, size cap, parse) around the same handler. Built from source by the Node.js
    // buildpack (npm ci, `gcp-build`, prune), started with GOOGLE_ENTRYPOINT (`npm start` is the
    // local runtime), on the functions' Node major.
    const build = `GOOGLE_ENTRYPOINT=node ${publicServiceEntry(name)},GOOGLE_NODEJS_VERSION=${RUNTIME.replace(/^nodejs/, '')}.x.x`;
    steps.push(
      {
        what: `remove an earlier Cloud Function ${name} (a gen-2 function owns the Cloud Run service of its name); nothing when there is none`,
        command: [
          'sh',
          '-c',
          `if gcloud functions describe ${name} --region=${o.region} --project=${o.project} >/dev/null 2>&1; ` +
            `then gcloud functions delete ${name} --region=${o.region} --project=${o.project} --quiet; fi`,
        ],
      },
      {
        what: `public Cloud Run service ${name} from source (no Google sign-in: Telegram's secret-token header is checked before any body is read)`,
        command: [
          'gcloud', 'run', 'deploy', name, '--source=.', `--region=${o.region}`, `--set-build-env-vars=${build}`, `--set-env-vars=${env}`,
          '--allow-unauthenticated', `--max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`, `--project=${o.project}`, ...sa,
        ],
      },
    );
  }
  return steps;
}

/**
 * Each public Cloud Function (the dashboard: the page and its API) reachable without Google sign-in:
 * its handle authenticates every API request itself (Telegram Mini App initData or a single-use login
 * link, then a bearer session), so the platform's IAM gate would only lock the page out of Telegram.
 * Then its URL, for `config/telegram` dashboard.publicUrl (the buttons and `/dashboard` links).
 */
function publicFunctionSteps({ o, common }: PlanContext): DeployStep[] {
  return PUBLIC_CLOUD_FUNCTIONS.flatMap(({ name }) => [
    {
      what: `public HTTP function ${name} (no Google sign-in: the app authenticates every API request)`,
      command: ['gcloud', 'functions', 'deploy', name, ...common, `--entry-point=${name}`, '--trigger-http', '--allow-unauthenticated', `--max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`],
    },
    {
      what: `the ${name} URL: set config/telegram dashboard.publicUrl to it (or CST_DASHBOARD_URL) for the Dashboard buttons and links`,
      command: ['sh', '-c', `echo "${name}: $(gcloud functions describe ${name} --gen2 --region=${o.region} --project=${o.project} --format="value(serviceConfig.uri)")"`],
    },
  ]);
}

/** Each Pub/Sub function on its first topic, an Eventarc trigger per further topic, a dead-letter policy per subscription. */
function pubsubSteps({ o, sa, common }: PlanContext): DeployStep[] {
  const steps: DeployStep[] = [];
  const { delivery } = DEFAULT_SYSTEM_CONFIG;
  const topicsByFunction = new Map<string, string[]>();
  for (const b of pubsubBindings()) topicsByFunction.set(b.function, [...(topicsByFunction.get(b.function) ?? []), b.topic]);
  for (const [fn, topics] of topicsByFunction) {
    const [first, ...rest] = topics as [string, ...string[]];
    steps.push({
      what: `Pub/Sub function ${fn} on ${topics.join(', ')} (retried; each subscription dead-letters to <topic>-dlq)`,
      command: ['gcloud', 'functions', 'deploy', fn, ...common, `--entry-point=${fn}`, `--trigger-topic=${first}`, '--retry'],
    });
    for (const topic of rest) {
      // A gen-2 function is a Cloud Run service of the same name: more topics are more Eventarc triggers.
      steps.push({
        what: `Eventarc trigger: ${topic} -> ${fn}`,
        command: [
          'gcloud', 'eventarc', 'triggers', 'create', `${fn}--${topic}`, `--location=${o.region}`, `--destination-run-service=${fn}`,
          `--destination-run-region=${o.region}`, '--event-filters=type=google.cloud.pubsub.topic.v1.messagePublished',
          `--transport-topic=projects/${o.project}/topics/${topic}`, `--project=${o.project}`, ...sa,
        ],
      });
    }
    for (const topic of topics) {
      // Eventarc creates the push subscriptions; give each our dead-letter and retry policy.
      steps.push({
        what: `dead-letter policy on the ${topic} subscription of ${fn}`,
        command: [
          'sh',
          '-c',
          `gcloud pubsub subscriptions update "$(gcloud eventarc triggers list --location=${o.region} --project=${o.project} ` +
            `--filter="destination.cloudRun.service=${fn} AND transport.pubsub.topic=projects/${o.project}/topics/${topic}" ` +
            `--format="value(transport.pubsub.subscription)")" ` +
            `--dead-letter-topic=${deadLetterTopic(topic)} --max-delivery-attempts=${delivery.maxAttempts} ` +
            `--min-retry-delay=${delivery.minBackoffMs / 1000}s --max-retry-delay=${delivery.maxBackoffMs / 1000}s --project=${o.project}`,
        ],
      });
    }
  }
  return steps;
}

/** The holder's image and its single Cloud Run instance, the Telegram webhook URL, the scheduler jobs. */
function holderAndScheduleSteps({ o, env, sa }: PlanContext): DeployStep[] {
  const image = `${o.region}-docker.pkg.dev/${o.project}/${ARTIFACT_REPO}/${HOLDER_SERVICE}`;
  return [
    {
      what: `build the ${HOLDER_SERVICE} image`,
      command: ['gcloud', 'builds', 'submit', '.', '--config=functions/bybit-holder/cloudbuild.yaml', `--substitutions=_IMAGE=${image}`, `--project=${o.project}`],
    },
    {
      what: `${HOLDER_SERVICE} on Cloud Run: exactly one always-on instance (two would publish every candle twice)`,
      command: [
        'gcloud', 'run', 'deploy', HOLDER_SERVICE, `--image=${image}`, `--region=${o.region}`, '--min-instances=1', '--max-instances=1',
        '--no-cpu-throttling', '--no-allow-unauthenticated', `--set-env-vars=${env}`, `--project=${o.project}`, ...sa,
      ],
    },
    {
      what: `Telegram webhook -> the URL of the ${TELEGRAM_WEBHOOK_SERVICE} Cloud Run service, with the secret token (skip until the bot's secrets exist)`,
      command: [
        'sh',
        '-c',
        `npx tsx scripts/telegram-webhook.ts --project ${o.project} --url ` +
          `"$(gcloud run services describe ${TELEGRAM_WEBHOOK_SERVICE} --region=${o.region} --project=${o.project} --format="value(status.url)")"`,
      ],
    },
    {
      what: 'Cloud Scheduler jobs from scheduler.yaml (create/update/delete by diff)',
      command: ['npx', 'tsx', 'scripts/sync-scheduler.ts', '--project', o.project, '--region', o.region, ...(o.serviceAccount ? ['--service-account', o.serviceAccount] : [])],
    },
  ];
}

/** The ordered deploy plan (pure: tested, and printed by the dry run). */
export function deployPlan(o: DeployOptions): DeployStep[] {
  const env = `CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=${o.project}`;
  const sa = o.serviceAccount ? [`--service-account=${o.serviceAccount}`] : [];
  const common = ['--gen2', `--runtime=${RUNTIME}`, `--region=${o.region}`, '--source=.', `--set-env-vars=${env}`, `--project=${o.project}`, ...sa];
  const ctx: PlanContext = { o, env, sa, common };
  return [...foundationSteps(ctx), ...scheduledSteps(ctx), ...publicServiceSteps(ctx), ...publicFunctionSteps(ctx), ...pubsubSteps(ctx), ...holderAndScheduleSteps(ctx)];
}

const HELP = `Usage: npm run deploy -- --project P --region R [--service-account SA] [--execute]

Prints the deploy plan (Firestore rules + indexes, Pub/Sub topology, every function, the Telegram
webhook as its own Cloud Run service, the dashboard as a public function, the holder on Cloud Run with min=max=1 instance, Cloud Scheduler
sync); --execute runs it step by step and stops at
the first failure. Needs gcloud and firebase-tools authenticated for the project.
`;

function main(): void {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      region: { type: 'string', default: 'us-central1' },
      'service-account': { type: 'string' },
      execute: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.project) {
    process.stderr.write(`error: --project is required\n\n${HELP}`);
    process.exit(2);
  }
  const steps = deployPlan({ project: values.project, region: values.region!, ...(values['service-account'] ? { serviceAccount: values['service-account'] } : {}) });
  steps.forEach((s, i) => {
    process.stdout.write(`# ${i + 1}/${steps.length} ${s.what}\n${s.command.map((c) => (/[\s"$()]/.test(c) ? `'${c}'` : c)).join(' ')}\n\n`);
  });
  if (!values.execute) {
    process.stdout.write('Dry run: nothing was changed. Add --execute to run these steps.\n');
    return;
  }
  for (const [i, s] of steps.entries()) {
    process.stdout.write(`==> ${i + 1}/${steps.length} ${s.what}\n`);
    const r = spawnSync(s.command[0]!, s.command.slice(1), { stdio: 'inherit' });
    if (r.status !== 0) {
      process.stderr.write(`step ${i + 1} failed (${r.error?.message ?? `exit ${r.status}`}); fix it and run again (every step is idempotent).\n`);
      process.exit(1);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
