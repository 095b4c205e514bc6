/**
 * One-command deploy: creates or updates everything the system needs on Google Cloud, and a second
 * run changes nothing. The plan is infra/deploy/plan.ts (each resource: describe, then create or
 * update only what differs), run by infra/deploy/execute.ts; this file only reads the options, stages
 * the function source and wires the clients.
 *
 *   npm run deploy -- --project P [--region R] [--dry-run] [--rotate-secret NAME]
 */
import { createHash } from 'node:crypto';
import { imageTag } from '../infra/deploy/image-tag.js';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SECRET_NAMES, secretEnvVar, type SecretName } from '../shared/ports/secrets.js';
import { loadSchedule, SCHEDULER_YAML, type ScheduleFile } from '../shared/schedule/schema.js';
import { apiHandlers, apiPlanLines, type ApiDeps } from '../infra/deploy/apis.js';
import { DeployError, executePlan, formatPlan, spawnRunner, type CommandRunner } from '../infra/deploy/execute.js';
import { deployPlan, type DeployInput } from '../infra/deploy/plan.js';

/** The functions' runtime (infra/deploy/plan.ts), for whoever pins the same Node major (the Dockerfiles' test). */
export { RUNTIME } from '../infra/deploy/plan.js';
import { FUNCTIONS_STAGE_DIR, stageFunctionsSource } from '../infra/deploy/stage.js';
import { LOG_METRICS, type LogMetricSpec } from '../infra/monitoring/log-metrics.js';
import { DASHBOARD_FUNCTION } from '../infra/runtime/registry.js';
import type { SchedulerClientLike } from '../infra/scheduler/cloud-sync.js';

export const HELP = `Usage: npm run deploy -- --project P [--region R] [--dry-run] [--rotate-secret NAME]...

Creates or updates everything on Google Cloud, in order: APIs, the Artifact Registry repository,
one service account per function with only the roles it needs (plus cst-invoker for Cloud Scheduler
and Pub/Sub push, cst-build for the builds), Firestore (database, rules, indexes), the secrets, the
Pub/Sub topics and dead-letter topics, the BigQuery dataset and tables, the functions (gen 2,
nodejs22, from the staged ${FUNCTIONS_STAGE_DIR}), their Pub/Sub push subscriptions (in order where
infra/bus/topology.ts asks, with dead-letter and retry policies; an Eventarc trigger of an earlier
deploy is deleted), the holder (Cloud Run, one always-on instance), the telegram-webhook service, the
dashboard, the Cloud Scheduler jobs (OIDC token of cst-invoker), the log-based metrics, the
Cloud Monitoring dashboard and alerts, and the bot's webhook.

Each resource is described first and only created or updated when it is missing or differs: a
second run changes nothing. Stops at the first failure and says what to do; run it again after.

Secrets: a secret without a version gets its value from the environment
(${SECRET_NAMES.map((n) => secretEnvVar(n)).join(', ')})
or, on a terminal, from a hidden prompt; it goes to gcloud on stdin, never on a command line or in
the output. An existing version is kept; --rotate-secret NAME adds a new one.

Needs gcloud, bq (Cloud SDK) and firebase-tools (npm devDependency) logged in for the project.

Options:
  --project <id>          GCP project (required)
  --region <region>       region of the functions, services, triggers, jobs (default us-central1)
  --dry-run               print the plan; contact nothing, change nothing
  --rotate-secret <name>  add a new version of this secret (repeatable): ${SECRET_NAMES.join(', ')}
  --alert-email <addr>    where the alert policies notify (an email channel); without it they notify nobody
  -h, --help              this text
`;

export interface DeployCliDeps {
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Repository root (default: the working directory). */
  root?: string;
  runner?: CommandRunner;
  stage?: typeof stageFunctionsSource;
  scheduler?: () => Promise<SchedulerClientLike>;
  monitoring?: ApiDeps['monitoring'];
  applyMonitoring?: ApiDeps['applyMonitoring'];
  telegramApiRoot?: string;
  /** Asks for a secret's value without echo; undefined when there is no terminal. */
  prompt?: (name: SecretName) => Promise<string | undefined>;
  schedule?: ScheduleFile;
  memory?: DeployInput['memory'];
  logMetrics?: readonly LogMetricSpec[];
}

function sha256(...parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

async function defaultScheduler(): Promise<SchedulerClientLike> {
  const { CloudSchedulerClient } = await import('@google-cloud/scheduler');
  return new CloudSchedulerClient() as unknown as SchedulerClientLike;
}

async function defaultMonitoring() {
  const { createMonitoringApi } = await import('../infra/monitoring/apply.js');
  return createMonitoringApi();
}

/** A hidden prompt on a terminal (nothing is echoed), else undefined. */
async function ttyPrompt(name: SecretName): Promise<string | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((res) => {
    rl.question(`value of secret ${name} (${secretEnvVar(name)}; not shown): `, (v) => {
      rl.close();
      process.stderr.write('\n');
      res(v.length > 0 ? v : undefined);
    });
    muted = true;
  });
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], deps: DeployCliDeps = {}): Promise<number> {
  const out = deps.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = deps.err ?? ((l: string) => process.stderr.write(l + '\n'));
  const env = deps.env ?? process.env;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        project: { type: 'string' },
        region: { type: 'string', default: 'us-central1' },
        'dry-run': { type: 'boolean', default: false },
        'rotate-secret': { type: 'string', multiple: true, default: [] },
        'alert-email': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    err(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (!values.project) {
    err(`error: --project is required\n\n${HELP}`);
    return 2;
  }
  const rotate = values['rotate-secret'] as string[];
  const unknown = rotate.filter((n) => !(SECRET_NAMES as readonly string[]).includes(n));
  if (unknown.length) {
    err(`error: --rotate-secret ${unknown.join(', ')}: not a secret of the system (${SECRET_NAMES.join(', ')})`);
    return 2;
  }
  const project = values.project;
  const region = values.region!;
  const root = resolve(deps.root ?? process.cwd());
  const schedule = deps.schedule ?? loadSchedule(resolve(root, SCHEDULER_YAML));
  const firestoreHash = values['dry-run'] ? '<firestore-hash>' : sha256(readFileSync(resolve(root, 'firestore.rules')), readFileSync(resolve(root, 'firestore.indexes.json')));
  let source = { dir: FUNCTIONS_STAGE_DIR, hash: '<source-hash>' };
  let holderTag = '<holder-tag>';
  if (!values['dry-run']) {
    const staged = await (deps.stage ?? stageFunctionsSource)({ root });
    source = { dir: relative(root, staged.dir) || '.', hash: staged.sourceHash };
    // The holder's image: a hash of exactly what its Dockerfile copies from the build context.
    holderTag = imageTag(root, { dockerfile: 'functions/bybit-holder/Dockerfile', cloudbuild: 'functions/bybit-holder/cloudbuild.yaml', prefix: 'h-' });
  }
  const input: DeployInput = {
    project,
    region,
    source,
    holderTag,
    firestoreHash,
    schedule,
    logMetrics: deps.logMetrics ?? LOG_METRICS,
    rotate: rotate as SecretName[],
    ...(deps.memory ? { memory: deps.memory } : {}),
  };
  const plan = deployPlan(input);
  if (values['dry-run']) {
    out(`Deploy plan for project ${project}, region ${region} (dry run: nothing contacted, nothing changed)\n`);
    out(formatPlan(plan, (r) => apiPlanLines(r, { project, region, schedule })));
    out(`${plan.length} resources. Run without --dry-run to create or update them.`);
    return 0;
  }
  const runner = deps.runner ?? spawnRunner(env, root);
  const fromEnv = (name: SecretName): string | undefined => {
    const v = env[secretEnvVar(name)];
    return v && v.length > 0 ? v : undefined;
  };
  const secretValue = async (name: SecretName) => fromEnv(name) ?? (await (deps.prompt ?? ttyPrompt)(name));
  /** The current value: the environment, else Secret Manager (captured, never printed). */
  const currentSecret = async (name: SecretName): Promise<string | undefined> => {
    const v = fromEnv(name);
    if (v) return v;
    const r = await runner.run(['gcloud', 'secrets', 'versions', 'access', 'latest', `--secret=${name}`, `--project=${project}`]);
    return r.code === 0 && r.stdout.length > 0 ? r.stdout : undefined;
  };
  try {
    out(`Deploying to project ${project}, region ${region}: ${plan.length} resources`);
    const report = await executePlan(plan, {
      runner,
      out,
      secretValue,
      rerun: `npm run deploy -- --project ${project} --region ${region}`,
      api: apiHandlers({
        project,
        region,
        schedule,
        scheduler: deps.scheduler ?? defaultScheduler,
        monitoring: deps.monitoring ?? defaultMonitoring,
        ...(deps.applyMonitoring ? { applyMonitoring: deps.applyMonitoring } : {}),
        ...(values['alert-email'] ? { alertEmail: values['alert-email'] } : {}),
        secret: currentSecret,
        ...(deps.telegramApiRoot ? { telegramApiRoot: deps.telegramApiRoot } : {}),
        forceWebhook: rotate.includes('telegram-webhook-secret'),
      }),
    });
    const dashboardUrl = report.facts[`url:${DASHBOARD_FUNCTION}`];
    if (dashboardUrl) out(`dashboard: ${dashboardUrl} (config/telegram dashboard.publicUrl, or CST_DASHBOARD_URL, for the Dashboard buttons and links)`);
    return 0;
  } catch (e) {
    err(e instanceof DeployError ? e.message : `deploy failed: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
