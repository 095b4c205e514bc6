/**
 * One-command deploy (prints the plan; `--execute` runs it). Needs gcloud and firebase-tools logged in
 * on a machine with internet. Every deployable comes from functions/registry.ts, the schedules from
 * scheduler.yaml, the Pub/Sub topology from infra/bus/topology.ts: nothing is listed twice.
 *
 *   npm run deploy -- --project P --region us-central1 [--service-account SA] [--execute]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { deadLetterTopic } from '../shared/topics.js';
import { HOLDER_SERVICE, PUBLIC_HTTP_FUNCTIONS, SCHEDULED_FUNCTIONS, pubsubBindings } from '../functions/registry.js';

export const RUNTIME = 'nodejs22';
export const ARTIFACT_REPO = 'cst';

export interface DeployOptions {
  project: string;
  region: string;
  /** Runtime service account of the functions and the holder. */
  serviceAccount?: string;
}

export interface DeployStep {
  what: string;
  command: string[];
}

/** The ordered deploy plan (pure: tested, and printed by the dry run). */
export function deployPlan(o: DeployOptions): DeployStep[] {
  const env = `CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=${o.project}`;
  const sa = o.serviceAccount ? [`--service-account=${o.serviceAccount}`] : [];
  const common = ['--gen2', `--runtime=${RUNTIME}`, `--region=${o.region}`, '--source=.', `--set-env-vars=${env}`, `--project=${o.project}`, ...sa];
  const steps: DeployStep[] = [
    {
      what: 'Firestore rules (no client access) and composite indexes',
      command: ['npx', 'firebase', 'deploy', '--only', 'firestore:rules,firestore:indexes', '--project', o.project],
    },
    {
      what: 'Pub/Sub topics and dead-letter topics (Eventarc creates the function subscriptions below)',
      command: ['npx', 'tsx', 'scripts/pubsub-provision.ts', '--project', o.project, '--topics-only'],
    },
  ];
  for (const job of SCHEDULED_FUNCTIONS) {
    steps.push({
      what: `HTTP function ${job.name} (Cloud Scheduler target)`,
      command: ['gcloud', 'functions', 'deploy', job.name, ...common, `--entry-point=${job.name}`, '--trigger-http', '--no-allow-unauthenticated'],
    });
  }
  for (const name of Object.keys(PUBLIC_HTTP_FUNCTIONS)) {
    steps.push({
      what: `public HTTP function ${name} (protected by Telegram's secret-token header)`,
      command: ['gcloud', 'functions', 'deploy', name, ...common, `--entry-point=${name}`, '--trigger-http', '--allow-unauthenticated'],
    });
  }
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
  const image = `${o.region}-docker.pkg.dev/${o.project}/${ARTIFACT_REPO}/${HOLDER_SERVICE}`;
  steps.push(
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
      what: "Telegram webhook -> the telegram-webhook function, with the secret token (skip until the bot's secrets exist)",
      command: ['npx', 'tsx', 'scripts/telegram-webhook.ts', '--project', o.project, '--url', `https://${o.region}-${o.project}.cloudfunctions.net/telegram-webhook`],
    },
    {
      what: 'Cloud Scheduler jobs from scheduler.yaml (create/update/delete by diff)',
      command: ['npx', 'tsx', 'scripts/sync-scheduler.ts', '--project', o.project, '--region', o.region, ...(o.serviceAccount ? ['--service-account', o.serviceAccount] : [])],
    },
  );
  return steps;
}

const HELP = `Usage: npm run deploy -- --project P --region R [--service-account SA] [--execute]

Prints the deploy plan (Firestore rules + indexes, Pub/Sub topology, every function, the holder on
Cloud Run with min=max=1 instance, Cloud Scheduler sync); --execute runs it step by step and stops at
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
