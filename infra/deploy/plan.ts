/**
 * The deploy plan (issue 13): every Google Cloud resource the system needs, in the order they can be
 * made, each with its describe / create / update (infra/deploy/resources.ts). Pure: the dry run prints
 * it, the executor (infra/deploy/execute.ts) runs it; a second run finds everything as described and
 * changes nothing. Nothing is listed here that has a home elsewhere: the deployables come from
 * infra/runtime/registry.ts, the topics from infra/bus/topology.ts, the tables from
 * infra/warehouse/ddl.ts, the secrets from shared/ports/secrets.ts, who may touch what from
 * infra/deploy/access.ts.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { SECRET_NAMES, type SecretName } from '../../shared/ports/secrets.js';
import { loadSchedule, SCHEDULER_YAML, type ScheduleFile } from '../../shared/schedule/schema.js';
import { deadLetterTopic } from '../../shared/topics.js';
import { DATASET, type TableName } from '../../shared/warehouse-schema.js';
import { deadLetterRetentionSubscription } from '../bus/pubsub.js';
import { pushEndpoint } from '../bus/envelope.js';
import { subscriptionName, topologySpecs, topologyTopics } from '../bus/topology.js';
import type { LogMetricSpec } from '../monitoring/log-metrics.js';
import {
  HOLDER_SERVICE,
  PUBLIC_CLOUD_FUNCTIONS,
  PUBLIC_HTTP_FUNCTIONS,
  SCHEDULED_FUNCTIONS,
  TELEGRAM_WEBHOOK_SERVICE,
  publicServiceEntry,
  pubsubBindings,
} from '../runtime/registry.js';
import { bigQueryFieldsWithAdded, bigQueryTableMetadata, TABLE_NAMES } from '../warehouse/ddl.js';
import {
  BUILD_PROJECT_ROLES,
  BUILD_SA,
  INVOKER_SA,
  UNIT_ACCESS,
  UNIT_PROJECT_ROLES,
  WAREHOUSE_JOB_ROLE,
  serviceAccountEmail,
  unitServiceAccountId,
} from './access.js';
import { at, change, FILE_ARG, missingBindings, obj, str, type Binding, type Command, type CommandResource, type Diff, type Resource } from './resources.js';

export const RUNTIME = 'nodejs22';
export const ARTIFACT_REPO = 'cst';
/**
 * Upper bound of instances of a public HTTP service (the webhook, the dashboard). Telegram opens at
 * most 40 parallel connections per bot and one instance serves 80 requests at once, so one instance
 * carries the bot; the cap leaves room for a rollover and bounds what a flood of (refused) requests can cost.
 */
export const PUBLIC_SERVICE_MAX_INSTANCES = 3;
/**
 * Request timeout of the Pub/Sub functions, and the ack deadline of their push subscriptions: Pub/Sub
 * waits this long for the function's answer before it redelivers, so a message is never redelivered
 * (or the next one of its ordering key pushed) while the function still works on it.
 */
export const PUBSUB_FUNCTION_TIMEOUT_SECONDS = 60;
/** Memory beyond the default (256 MiB) for the functions that need it: retrain simulates the shadow test's month of candles. */
export const FUNCTION_MEMORY: Readonly<Record<string, string>> = { retrain: '2GiB' };
/** BigQuery dataset location (the warehouse adapter's default). */
export const BIGQUERY_LOCATION = 'US';
/** Retention of the dead-letter retention subscriptions (Pub/Sub's maximum). */
export const DEAD_LETTER_RETENTION = '7d';
/** Label values are at most 63 characters: the source hash is cut to this many hex digits. */
const LABEL_HASH_CHARS = 32;

/** The APIs the deployed system and this deploy use. */
export const REQUIRED_APIS = [
  'artifactregistry.googleapis.com',
  'bigquery.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'cloudscheduler.googleapis.com',
  // Only to find and delete the Eventarc triggers of earlier deploys (describing one needs the API on).
  'eventarc.googleapis.com',
  'firebaserules.googleapis.com',
  'firestore.googleapis.com',
  'iam.googleapis.com',
  'logging.googleapis.com',
  'monitoring.googleapis.com',
  'pubsub.googleapis.com',
  'run.googleapis.com',
  'secretmanager.googleapis.com',
] as const;

export interface Tools {
  gcloud: string;
  bq: string;
  firebase: string;
}

export interface DeployInput {
  project: string;
  region: string;
  /** The staged function source (infra/deploy/stage.ts): its directory (as passed to --source) and hash. */
  source: { dir: string; hash: string };
  /** The holder image's tag (skip the build when it exists). */
  holderTag: string;
  /** sha256 of firestore.rules + firestore.indexes.json (deployed when it changes). */
  firestoreHash: string;
  schedule?: ScheduleFile;
  logMetrics: readonly LogMetricSpec[];
  /** Secrets that get a new version from the environment or a prompt. */
  rotate?: readonly SecretName[];
  /** Per-function memory (default FUNCTION_MEMORY). */
  memory?: Readonly<Record<string, string>>;
  tools?: Partial<Tools>;
}

const DEFAULT_TOOLS: Tools = { gcloud: 'gcloud', bq: 'bq', firebase: 'firebase' };

export const FACT_PROJECT_NUMBER = '{{projectNumber}}';
export function urlFact(service: string): string {
  return `{{url:${service}}}`;
}

/** Everything a builder needs. */
interface Ctx {
  i: DeployInput;
  t: Tools;
  /** `--project=P` */
  p: string;
  sa(id: string): string;
  member(id: string): string;
  pubsubAgent: string;
}

function shortHash(s: string, n = 16): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

function cmd(argv: string[], extra: Omit<Command, 'argv'> = {}): Command {
  return { argv, ...extra };
}

/** An IAM policy resource: get-iam-policy, then add-iam-policy-binding for each missing binding. */
function iam(o: { kind: string; name: string; what: string; get: string[]; add: (b: Binding) => string[]; bindings: Binding[] }): CommandResource {
  return {
    type: 'command',
    kind: o.kind,
    name: o.name,
    what: o.what,
    describe: cmd([...o.get, '--format=json']),
    desired: o.bindings.map((b) => `${b.role} ${b.member}`),
    update: (current, fact) => {
      const missing = missingBindings(
        current,
        o.bindings.map((b) => ({ ...b, member: fact(b.member) })),
      );
      return { changes: missing.map((b) => `+ ${b.role} ${b.member}`), commands: missing.map((b) => cmd(o.add(b))) };
    },
  };
}

function projectSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  return [
    {
      type: 'command',
      kind: 'project',
      name: i.project,
      what: 'the project (its number names the Pub/Sub service agent)',
      describe: cmd([t.gcloud, 'projects', 'describe', i.project, '--format=json']),
      missing: `project ${i.project} does not exist or this account cannot see it: create it (gcloud projects create ${i.project}), link billing, or run gcloud auth login`,
      facts: (cur) => ({ projectNumber: str(at(cur, 'projectNumber')) }),
    },
    {
      type: 'command',
      kind: 'apis',
      name: 'services',
      what: `enabled APIs (${REQUIRED_APIS.length})`,
      describe: cmd([t.gcloud, 'services', 'list', '--enabled', p, '--format=json']),
      update: (cur) => {
        const have = new Set((Array.isArray(cur) ? cur : []).map((s) => str(at(s, 'config', 'name')) || str(at(s, 'name')).split('/').pop()!));
        const missing = REQUIRED_APIS.filter((a) => !have.has(a));
        return { changes: missing.map((a) => `+ ${a}`), commands: missing.length ? [cmd([t.gcloud, 'services', 'enable', ...missing, p])] : [] };
      },
    },
    {
      type: 'command',
      kind: 'artifact-repo',
      name: ARTIFACT_REPO,
      what: 'Artifact Registry Docker repository of the holder image',
      describe: cmd([t.gcloud, 'artifacts', 'repositories', 'describe', ARTIFACT_REPO, `--location=${i.region}`, p, '--format=json']),
      create: [cmd([t.gcloud, 'artifacts', 'repositories', 'create', ARTIFACT_REPO, '--repository-format=docker', `--location=${i.region}`, p])],
    },
  ];
}

/** Every deployed unit with its own runtime account. */
function units(): string[] {
  return Object.keys(UNIT_ACCESS);
}

function accountSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  const accounts: Array<[string, string]> = [
    ...units().map((u): [string, string] => [unitServiceAccountId(u), `runtime of ${u}`]),
    [INVOKER_SA, 'calls the private functions: Cloud Scheduler OIDC, Pub/Sub push'],
    [BUILD_SA, 'runs the source builds and the holder image build'],
  ];
  const out: Resource[] = accounts.map(([id, what]) => ({
    type: 'command',
    kind: 'service-account',
    name: id,
    what,
    describe: cmd([t.gcloud, 'iam', 'service-accounts', 'describe', c.sa(id), p, '--format=json']),
    create: [cmd([t.gcloud, 'iam', 'service-accounts', 'create', id, `--display-name=cst ${what}`, p])],
  }));
  const bindings: Binding[] = [];
  for (const [u, a] of Object.entries(UNIT_ACCESS)) {
    const m = c.member(unitServiceAccountId(u));
    for (const role of UNIT_PROJECT_ROLES) bindings.push({ member: m, role });
    if (a.warehouse) bindings.push({ member: m, role: WAREHOUSE_JOB_ROLE });
  }
  for (const role of BUILD_PROJECT_ROLES) bindings.push({ member: c.member(BUILD_SA), role });
  bindings.push({ member: c.member(BUILD_SA), role: 'roles/cloudbuild.builds.builder' });
  out.push(
    iam({
      kind: 'project-iam',
      name: i.project,
      what: 'project roles: Firestore, logs and metrics per unit, BigQuery jobs for warehouse units, the build account',
      get: [t.gcloud, 'projects', 'get-iam-policy', i.project],
      add: (b) => [t.gcloud, 'projects', 'add-iam-policy-binding', i.project, `--member=${b.member}`, `--role=${b.role}`, '--condition=None'],
      bindings,
    }),
    iam({
      kind: 'service-account-iam',
      name: INVOKER_SA,
      what: 'the Pub/Sub service agent mints the invoker OIDC tokens of the push subscriptions',
      get: [t.gcloud, 'iam', 'service-accounts', 'get-iam-policy', c.sa(INVOKER_SA), p],
      add: (b) => [t.gcloud, 'iam', 'service-accounts', 'add-iam-policy-binding', c.sa(INVOKER_SA), `--member=${b.member}`, `--role=${b.role}`, p],
      bindings: [{ member: `serviceAccount:${c.pubsubAgent}`, role: 'roles/iam.serviceAccountTokenCreator' }],
    }),
  );
  return out;
}

function firestoreSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  const marker = `cst-firestore=${i.firestoreHash.slice(0, LABEL_HASH_CHARS)}`;
  return [
    {
      type: 'command',
      kind: 'firestore-database',
      name: '(default)',
      what: 'Firestore database (native mode)',
      describe: cmd([t.gcloud, 'firestore', 'databases', 'describe', '--database=(default)', p, '--format=json']),
      create: [cmd([t.gcloud, 'firestore', 'databases', 'create', '--database=(default)', `--location=${i.region}`, '--type=firestore-native', p])],
    },
    {
      type: 'command',
      kind: 'firestore-rules',
      name: 'rules+indexes',
      what: `Firestore rules and indexes (firebase deploy when their hash differs from the label on the ${ARTIFACT_REPO} repository)`,
      describe: cmd([t.gcloud, 'artifacts', 'repositories', 'describe', ARTIFACT_REPO, `--location=${i.region}`, p, '--format=json']),
      update: (cur) => {
        const changes = change('label cst-firestore', at(cur, 'labels', 'cst-firestore'), marker.split('=')[1]);
        return {
          changes,
          commands: changes.length
            ? [
                cmd([t.firebase, 'deploy', '--only', 'firestore:rules,firestore:indexes', '--project', i.project, '--non-interactive']),
                cmd([t.gcloud, 'artifacts', 'repositories', 'update', ARTIFACT_REPO, `--location=${i.region}`, `--update-labels=${marker}`, p]),
              ]
            : [],
        };
      },
    },
  ];
}

function secretSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  const out: Resource[] = [];
  for (const name of SECRET_NAMES) {
    const readers = Object.entries(UNIT_ACCESS)
      .filter(([, a]) => a.secrets.includes(name))
      .map(([u]) => u);
    const optional = OPTIONAL_SECRETS[name];
    const add = cmd([t.gcloud, 'secrets', 'versions', 'add', name, '--data-file=-', p], { stdinSecret: name, ...(optional ? { skipWithoutSecret: optional } : {}) });
    out.push(
      {
        type: 'command',
        kind: 'secret',
        name,
        what: 'Secret Manager secret (automatic replication)',
        describe: cmd([t.gcloud, 'secrets', 'describe', name, p, '--format=json']),
        create: [cmd([t.gcloud, 'secrets', 'create', name, '--replication-policy=automatic', p])],
      },
      {
        type: 'command',
        kind: 'secret-version',
        name,
        what: 'its value (from the environment or a hidden prompt, on stdin; an existing version is kept unless rotated)',
        describe: cmd([t.gcloud, 'secrets', 'versions', 'describe', 'latest', `--secret=${name}`, p, '--format=json']),
        create: [add],
        update: () => (i.rotate?.includes(name) ? { changes: ['rotate: new version'], commands: [add] } : { changes: [], commands: [] }),
      },
    );
    if (readers.length) {
      out.push(
        iam({
          kind: 'secret-iam',
          name,
          what: `read by ${readers.join(', ')}`,
          get: [t.gcloud, 'secrets', 'get-iam-policy', name, p],
          add: (b) => [t.gcloud, 'secrets', 'add-iam-policy-binding', name, `--member=${b.member}`, `--role=${b.role}`, p],
          bindings: readers.map((u) => ({ member: c.member(unitServiceAccountId(u)), role: 'roles/secretmanager.secretAccessor' })),
        }),
      );
    }
  }
  return out;
}

/**
 * Secrets a deployment can run without, and what is missing then: a paper-trading deployment needs no
 * exchange keys (live trading reports itself unavailable until they exist).
 */
export const OPTIONAL_SECRETS: Partial<Record<SecretName, string>> = {
  'bybit-api-key': 'live trading stays unavailable; paper trading runs',
  'bybit-api-secret': 'live trading stays unavailable; paper trading runs',
};

function pubsubTopicSteps(c: Ctx): Resource[] {
  const { t, p } = c;
  const out: Resource[] = [];
  const topic = (name: string, what: string): Resource => ({
    type: 'command',
    kind: 'topic',
    name,
    what,
    describe: cmd([t.gcloud, 'pubsub', 'topics', 'describe', name, p, '--format=json']),
    create: [cmd([t.gcloud, 'pubsub', 'topics', 'create', name, p])],
  });
  const topicIam = (name: string, bindings: Binding[], what: string): Resource =>
    iam({
      kind: 'topic-iam',
      name,
      what,
      get: [t.gcloud, 'pubsub', 'topics', 'get-iam-policy', name, p],
      add: (b) => [t.gcloud, 'pubsub', 'topics', 'add-iam-policy-binding', name, `--member=${b.member}`, `--role=${b.role}`, p],
      bindings,
    });
  for (const name of topologyTopics()) {
    const dlq = deadLetterTopic(name);
    const retention = deadLetterRetentionSubscription(dlq);
    const publishers = Object.entries(UNIT_ACCESS)
      .filter(([, a]) => a.publishes.includes(name))
      .map(([u]) => u);
    out.push(topic(name, 'topic'), topic(dlq, `dead-letter topic of ${name}`), {
      type: 'command',
      kind: 'subscription',
      name: retention,
      what: `keeps the dead letters of ${name} readable (${DEAD_LETTER_RETENTION})`,
      describe: cmd([t.gcloud, 'pubsub', 'subscriptions', 'describe', retention, p, '--format=json']),
      create: [cmd([t.gcloud, 'pubsub', 'subscriptions', 'create', retention, `--topic=${dlq}`, `--message-retention-duration=${DEAD_LETTER_RETENTION}`, p])],
    });
    if (publishers.length) {
      out.push(topicIam(name, publishers.map((u) => ({ member: c.member(unitServiceAccountId(u)), role: 'roles/pubsub.publisher' })), `published by ${publishers.join(', ')}`));
    }
    out.push(topicIam(dlq, [{ member: `serviceAccount:${c.pubsubAgent}`, role: 'roles/pubsub.publisher' }], 'the Pub/Sub service agent forwards dead letters'));
  }
  return out;
}

function bigQuerySteps(c: Ctx): Resource[] {
  const { i, t } = c;
  const ds = `${i.project}:${DATASET}`;
  const editors = Object.entries(UNIT_ACCESS)
    .filter(([, a]) => a.warehouse)
    .map(([u]) => c.sa(unitServiceAccountId(u)));
  const out: Resource[] = [
    {
      type: 'command',
      kind: 'bq-dataset',
      name: DATASET,
      what: `BigQuery dataset (${BIGQUERY_LOCATION}); dataEditor for ${editors.length} warehouse units`,
      describe: cmd([t.bq, 'show', '--format=json', ds]),
      create: [cmd([t.bq, `--location=${BIGQUERY_LOCATION}`, 'mk', '--dataset', ds])],
      updateAfterCreate: true,
      update: (cur) => {
        const access = Array.isArray(at(cur, 'access')) ? (at(cur, 'access') as unknown[]) : [];
        const has = (email: string) => access.some((a) => str(obj(a).userByEmail) === email && ['WRITER', 'roles/bigquery.dataEditor'].includes(str(obj(a).role)));
        const missing = editors.filter((e) => !has(e));
        if (!missing.length) return { changes: [], commands: [] };
        const next = { ...obj(cur), access: [...access, ...missing.map((e) => ({ role: 'WRITER', userByEmail: e }))] };
        return { changes: missing.map((e) => `+ dataEditor ${e}`), commands: [cmd([t.bq, 'update', `--source=${FILE_ARG}`, ds], { file: JSON.stringify(next, null, 2) })] };
      },
    },
  ];
  for (const table of TABLE_NAMES as TableName[]) {
    const meta = bigQueryTableMetadata(table);
    const ref = `${ds}.${table}`;
    const fields = (meta.schema?.fields ?? []) as unknown[];
    const part = meta.timePartitioning?.field;
    const cluster = meta.clustering?.fields;
    out.push({
      type: 'command',
      kind: 'bq-table',
      name: table,
      what: `table ${table}${part ? ` (partitioned by ${part})` : ''}`,
      describe: cmd([t.bq, 'show', '--format=json', ref]),
      create: [
        cmd(
          [
            t.bq,
            'mk',
            '--table',
            `--description=${meta.description ?? ''}`,
            ...(part ? [`--time_partitioning_field=${part}`, '--time_partitioning_type=DAY'] : []),
            ...(cluster?.length ? [`--clustering_fields=${cluster.join(',')}`] : []),
            ref,
            FILE_ARG,
          ],
          { file: JSON.stringify(fields, null, 2) },
        ),
      ],
      update: (cur) => {
        const live = at(cur, 'schema', 'fields');
        const next = bigQueryFieldsWithAdded(table, Array.isArray(live) ? live : []);
        if (!next) return { changes: [], commands: [] };
        const added = next.slice(Array.isArray(live) ? live.length : 0).map((f) => f.name ?? '');
        return { changes: added.map((n) => `+ column ${n}`), commands: [cmd([t.bq, 'update', ref, FILE_ARG], { file: JSON.stringify(next, null, 2) })] };
      },
    });
  }
  return out;
}

/** The request timeout of a scheduled function: the longest attemptDeadlineSeconds of the jobs that call it. */
export function scheduledTimeoutSeconds(fn: string, jobs: ReadonlyArray<{ function: string; attemptDeadlineSeconds: number }>): number | undefined {
  const deadlines = jobs.filter((j) => j.function === fn).map((j) => j.attemptDeadlineSeconds);
  return deadlines.length ? Math.max(...deadlines) : undefined;
}

function runtimeEnv(i: DeployInput): string {
  return `CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=${i.project},NODE_OPTIONS=--enable-source-maps`;
}

/** `--update-labels=cst-source=…,cst-config=…`: the config hash covers every other flag. */
function labels(argv: readonly string[], sourceHash?: string): string {
  const parts = [...(sourceHash ? [`cst-source=${sourceHash.slice(0, LABEL_HASH_CHARS)}`] : []), `cst-config=${shortHash(argv.join('\0'))}`];
  return `--update-labels=${parts.join(',')}`;
}

function labelChanges(cur: unknown, path: string[], deployArgv: readonly string[]): string[] {
  const want = Object.fromEntries(
    deployArgv
      .find((a) => a.startsWith('--update-labels='))!
      .slice('--update-labels='.length)
      .split(',')
      .map((kv) => kv.split('=') as [string, string]),
  );
  return Object.entries(want).flatMap(([k, v]) => change(`label ${k}`, at(cur, ...path, k), v));
}

/** A gen-2 Cloud Function: deployed when missing or when its source, flags or account differ. */
function functionResource(c: Ctx, o: { name: string; what: string; flags: string[]; facts?: boolean }): CommandResource {
  const { i, t, p } = c;
  const sa = c.sa(unitServiceAccountId(o.name));
  const base = [
    t.gcloud, 'functions', 'deploy', o.name, '--gen2', `--runtime=${RUNTIME}`, `--region=${i.region}`, `--source=${i.source.dir}`, `--entry-point=${o.name}`,
    ...o.flags, `--service-account=${sa}`, `--build-service-account=projects/${i.project}/serviceAccounts/${c.sa(BUILD_SA)}`, `--set-env-vars=${runtimeEnv(i)}`, p,
  ];
  const deploy = cmd([...base, labels(base, i.source.hash)]);
  return {
    type: 'command',
    kind: 'function',
    name: o.name,
    what: o.what,
    describe: cmd([t.gcloud, 'functions', 'describe', o.name, '--gen2', `--region=${i.region}`, p, '--format=json']),
    create: [deploy],
    update: (cur) => {
      // An earlier deploy with --trigger-topic left an event trigger: a function cannot change its
      // trigger type, so it is deleted (with its Eventarc trigger) and deployed again as HTTP; the push
      // subscription below then delivers to it.
      if (at(cur, 'eventTrigger') !== undefined) {
        const del = cmd([t.gcloud, 'functions', 'delete', o.name, '--gen2', `--region=${i.region}`, p, '--quiet']);
        return { changes: ['event trigger -> HTTP (deleted and deployed again; its old trigger subscription goes with it)'], commands: [del, deploy] };
      }
      const changes = [
        ...labelChanges(cur, ['labels'], deploy.argv),
        ...change('state', at(cur, 'state'), 'ACTIVE'),
        ...change('serviceAccountEmail', at(cur, 'serviceConfig', 'serviceAccountEmail'), sa),
      ];
      return { changes, commands: changes.length ? [deploy] : [] };
    },
    ...(o.facts ? { facts: (cur: unknown) => ({ [`url:${o.name}`]: str(at(cur, 'serviceConfig', 'uri')) }) } : {}),
  };
}

/** run.invoker for the invoker account on exactly one private function's Cloud Run service. */
function invokerBinding(c: Ctx, service: string, why: string): Resource {
  const { i, t, p } = c;
  return iam({
    kind: 'run-invoker',
    name: service,
    what: `${INVOKER_SA} may call it (${why})`,
    get: [t.gcloud, 'run', 'services', 'get-iam-policy', service, `--region=${i.region}`, p],
    add: (b) => [t.gcloud, 'run', 'services', 'add-iam-policy-binding', service, `--region=${i.region}`, `--member=${b.member}`, `--role=${b.role}`, p],
    bindings: [{ member: c.member(INVOKER_SA), role: 'roles/run.invoker' }],
  });
}

/**
 * Scheduled functions that must never run twice at once: kraken-pull's rate limit (one request a
 * second to Kraken) is held per process, so an overlapping run in a second instance would double it.
 */
export const SINGLE_INSTANCE_FUNCTIONS: ReadonlySet<string> = new Set(['kraken-pull']);

function functionSteps(c: Ctx): Resource[] {
  const { i } = c;
  const jobs = (i.schedule ?? loadSchedule(SCHEDULER_YAML)).jobs;
  const memory = i.memory ?? FUNCTION_MEMORY;
  const mem = (fn: string) => (memory[fn] ? [`--memory=${memory[fn]}`] : []);
  const out: Resource[] = [];
  for (const f of SCHEDULED_FUNCTIONS) {
    const timeout = scheduledTimeoutSeconds(f.name, jobs);
    out.push(
      functionResource(c, {
        name: f.name,
        what: 'HTTP function, private (Cloud Scheduler calls it with the invoker OIDC token)',
        flags: [
          '--trigger-http',
          '--no-allow-unauthenticated',
          ...(timeout !== undefined ? [`--timeout=${timeout}s`] : []),
          ...mem(f.name),
          ...(SINGLE_INSTANCE_FUNCTIONS.has(f.name) ? ['--max-instances=1'] : []),
        ],
      }),
      invokerBinding(c, f.name, 'Cloud Scheduler'),
    );
  }
  const pubsubFns = [...new Set(pubsubBindings().map((b) => b.function))];
  for (const fn of pubsubFns) {
    out.push(
      functionResource(c, {
        name: fn,
        what: 'Pub/Sub function, private HTTP; one push subscription per topic below delivers to it',
        flags: ['--trigger-http', '--no-allow-unauthenticated', `--timeout=${PUBSUB_FUNCTION_TIMEOUT_SECONDS}s`, ...mem(fn)],
        facts: true,
      }),
      invokerBinding(c, fn, 'Pub/Sub push'),
    );
  }
  for (const { name } of PUBLIC_CLOUD_FUNCTIONS) {
    out.push(
      functionResource(c, {
        name,
        what: 'public HTTP function (the app authenticates every API request); its URL is config/telegram dashboard.publicUrl',
        flags: ['--trigger-http', '--allow-unauthenticated', `--max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`, ...mem(name)],
        facts: true,
      }),
    );
  }
  return out;
}

/** Pub/Sub's duration form of milliseconds (`10s`), as gcloud takes it and describe prints it for whole seconds. */
function pubsubDuration(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * Per (function, topic) of the topology, the push subscription that delivers the topic to the
 * function, named `subscriptionName(fn, topic)`: pushed to the function's URL + the topic's path
 * (`pushEndpoint`; the function reads the topic from it), with the invoker's OIDC token, in order when
 * the topology says so, dead-lettering to `<topic>-dlq` after the attempts and back-off of the
 * topology (SystemConfig delivery unless overridden), acked within the function's timeout.
 * Ordering and topic cannot change on a subscription: one that differs is deleted and re-created
 * (its unacked messages are dropped; the line says so). The Eventarc trigger of earlier deploys,
 * `<fn>--<topic>`, is deleted when found, after its push subscription exists.
 */
function pushSubscriptionSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  const specs = new Map(topologySpecs({ delivery: DEFAULT_SYSTEM_CONFIG.delivery }).map((s) => [s.subscription, s]));
  const invoker = c.sa(INVOKER_SA);
  const out: Resource[] = [];
  for (const b of pubsubBindings()) {
    const name = subscriptionName(b.function, b.topic);
    const spec = specs.get(name)!;
    const dlq = spec.deadLetterTopic ?? deadLetterTopic(b.topic);
    const url = urlFact(b.function);
    const endpoint = pushEndpoint(url, i.project, b.topic);
    const minDelay = pubsubDuration(spec.minBackoffMs);
    const maxDelay = pubsubDuration(spec.maxBackoffMs);
    const ordered = spec.enableOrdering === true;
    const settable = [
      `--push-endpoint=${endpoint}`, `--push-auth-service-account=${invoker}`, `--push-auth-token-audience=${url}`, `--ack-deadline=${PUBSUB_FUNCTION_TIMEOUT_SECONDS}`,
      `--dead-letter-topic=${dlq}`, `--max-delivery-attempts=${spec.maxDeliveryAttempts}`, `--min-retry-delay=${minDelay}`, `--max-retry-delay=${maxDelay}`,
    ];
    const create = cmd([t.gcloud, 'pubsub', 'subscriptions', 'create', name, `--topic=${b.topic}`, ...settable, ...(ordered ? ['--enable-message-ordering'] : []), p]);
    out.push(
      {
        type: 'command',
        kind: 'push-subscription',
        name,
        what: `${b.topic} -> ${b.function}${ordered ? ' in order (per ordering key)' : ''}, pushed as ${INVOKER_SA}; dead-letter to ${dlq} after ${spec.maxDeliveryAttempts} attempts, retry ${minDelay}..${maxDelay}`,
        describe: cmd([t.gcloud, 'pubsub', 'subscriptions', 'describe', name, p, '--format=json']),
        create: [create],
        update: (cur, fact) => {
          const immutable = [
            ...change('enableMessageOrdering', at(cur, 'enableMessageOrdering') === true, ordered),
            ...change('topic', at(cur, 'topic'), `projects/${i.project}/topics/${b.topic}`),
          ];
          if (immutable.length) {
            return {
              changes: [...immutable, 'ordering and topic cannot change on a subscription: deleted and re-created (its unacked messages are dropped)'],
              commands: [cmd([t.gcloud, 'pubsub', 'subscriptions', 'delete', name, p, '--quiet']), create],
            };
          }
          const changes = [
            ...change('pushEndpoint', at(cur, 'pushConfig', 'pushEndpoint'), fact(endpoint)),
            ...change('oidcToken.serviceAccountEmail', at(cur, 'pushConfig', 'oidcToken', 'serviceAccountEmail'), invoker),
            ...change('oidcToken.audience', at(cur, 'pushConfig', 'oidcToken', 'audience'), fact(url)),
            ...change('ackDeadlineSeconds', at(cur, 'ackDeadlineSeconds'), PUBSUB_FUNCTION_TIMEOUT_SECONDS),
            ...change('deadLetterTopic', at(cur, 'deadLetterPolicy', 'deadLetterTopic'), `projects/${i.project}/topics/${dlq}`),
            ...change('maxDeliveryAttempts', at(cur, 'deadLetterPolicy', 'maxDeliveryAttempts'), spec.maxDeliveryAttempts),
            ...change('minimumBackoff', at(cur, 'retryPolicy', 'minimumBackoff'), minDelay),
            ...change('maximumBackoff', at(cur, 'retryPolicy', 'maximumBackoff'), maxDelay),
          ];
          return { changes, commands: changes.length ? [cmd([t.gcloud, 'pubsub', 'subscriptions', 'update', name, ...settable, p])] : [] };
        },
      },
      iam({
        kind: 'subscription-iam',
        name,
        what: 'the Pub/Sub service agent may pull from it to dead-letter',
        get: [t.gcloud, 'pubsub', 'subscriptions', 'get-iam-policy', name, p],
        add: (bd) => [t.gcloud, 'pubsub', 'subscriptions', 'add-iam-policy-binding', name, `--member=${bd.member}`, `--role=${bd.role}`, p],
        bindings: [{ member: `serviceAccount:${c.pubsubAgent}`, role: 'roles/pubsub.subscriber' }],
      }),
      {
        type: 'command',
        kind: 'absent-eventarc-trigger',
        name,
        what: `no Eventarc trigger ${name} (earlier deploys delivered ${b.topic} through one, without ordering)`,
        describe: cmd([t.gcloud, 'eventarc', 'triggers', 'describe', name, `--location=${i.region}`, p, '--format=json']),
        removeWhenFound: [cmd([t.gcloud, 'eventarc', 'triggers', 'delete', name, `--location=${i.region}`, p, '--quiet'])],
      },
    );
  }
  return out;
}

/** A Cloud Run service: deployed when missing or when its labels (source, flags) or account differ. */
function runService(c: Ctx, o: { name: string; what: string; flags: string[]; sourceHash?: string; image?: string; facts?: boolean }): CommandResource {
  const { i, t, p } = c;
  const sa = c.sa(unitServiceAccountId(o.name));
  const base = [t.gcloud, 'run', 'deploy', o.name, ...o.flags, `--region=${i.region}`, `--service-account=${sa}`, `--set-env-vars=${runtimeEnv(i)}`, p];
  const deploy = cmd([...base, labels(base, o.sourceHash)]);
  return {
    type: 'command',
    kind: 'run-service',
    name: o.name,
    what: o.what,
    describe: cmd([t.gcloud, 'run', 'services', 'describe', o.name, `--region=${i.region}`, p, '--format=json']),
    create: [deploy],
    update: (cur) => {
      const changes = [
        ...labelChanges(cur, ['metadata', 'labels'], deploy.argv),
        ...change('serviceAccountName', at(cur, 'spec', 'template', 'spec', 'serviceAccountName'), sa),
      ];
      return { changes, commands: changes.length ? [deploy] : [] };
    },
    ...(o.facts ? { facts: (cur: unknown) => ({ [`url:${o.name}`]: str(at(cur, 'status', 'url')) }) } : {}),
  };
}

function holderImage(i: DeployInput): string {
  return `${i.region}-docker.pkg.dev/${i.project}/${ARTIFACT_REPO}/${HOLDER_SERVICE}`;
}

function serviceSteps(c: Ctx): Resource[] {
  const { i, t, p } = c;
  const image = holderImage(i);
  const out: Resource[] = [
    {
      type: 'command',
      kind: 'image',
      name: `${HOLDER_SERVICE}:${i.holderTag}`,
      what: 'the holder image (built only when this tag is missing)',
      describe: cmd([t.gcloud, 'artifacts', 'docker', 'images', 'describe', `${image}:${i.holderTag}`, p, '--format=json']),
      create: [
        cmd([
          t.gcloud, 'builds', 'submit', '.', '--config=functions/bybit-holder/cloudbuild.yaml', `--substitutions=_IMAGE=${image},_TAG=${i.holderTag}`,
          `--service-account=projects/${i.project}/serviceAccounts/${c.sa(BUILD_SA)}`, p,
        ]),
      ],
    },
    runService(c, {
      name: HOLDER_SERVICE,
      what: 'exactly one always-on instance, CPU always allocated (two would publish every candle twice)',
      flags: [`--image=${image}:${i.holderTag}`, '--min-instances=1', '--max-instances=1', '--no-cpu-throttling', '--no-allow-unauthenticated'],
    }),
  ];
  for (const { name } of PUBLIC_HTTP_FUNCTIONS) {
    // A gen-2 function owns the Cloud Run service of its name: an earlier Cloud Function of this name goes first.
    out.push({
      type: 'command',
      kind: 'absent-function',
      name,
      what: `no Cloud Function ${name} (it is a Cloud Run service whose own server checks the secret before reading a body)`,
      describe: cmd([t.gcloud, 'functions', 'describe', name, '--gen2', `--region=${i.region}`, p, '--format=json']),
      removeWhenFound: [cmd([t.gcloud, 'functions', 'delete', name, '--gen2', `--region=${i.region}`, p, '--quiet'])],
    });
    const build = `GOOGLE_ENTRYPOINT=node ${publicServiceEntry(name)},GOOGLE_NODEJS_VERSION=${RUNTIME.replace(/^nodejs/, '')}.x.x`;
    out.push(
      runService(c, {
        name,
        what: 'public Cloud Run service from the staged source (Telegram calls it with its secret-token header)',
        flags: [
          `--source=${i.source.dir}`, `--set-build-env-vars=${build}`, `--build-service-account=projects/${i.project}/serviceAccounts/${c.sa(BUILD_SA)}`,
          '--allow-unauthenticated', `--max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`,
        ],
        sourceHash: i.source.hash,
        facts: true,
      }),
    );
  }
  return out;
}

function monitoringSteps(c: Ctx): Resource[] {
  const { t, p } = c;
  const out: Resource[] = [];
  for (const m of c.i.logMetrics) {
    const file = JSON.stringify(m, null, 2);
    out.push({
      type: 'command',
      kind: 'log-metric',
      name: m.name,
      what: m.description,
      describe: cmd([t.gcloud, 'logging', 'metrics', 'describe', m.name, p, '--format=json']),
      create: [cmd([t.gcloud, 'logging', 'metrics', 'create', m.name, `--config-from-file=${FILE_ARG}`, p], { file })],
      update: (cur): Diff => {
        const fields = ['description', 'filter', 'valueExtractor', 'labelExtractors', 'bucketOptions'] as const;
        const changes = fields.flatMap((k) => change(k, obj(cur)[k], m[k]));
        const d = m.metricDescriptor ?? {};
        for (const k of ['metricKind', 'valueType', 'unit'] as const) if (d[k] !== undefined) changes.push(...change(`metricDescriptor.${k}`, at(cur, 'metricDescriptor', k), d[k]));
        return { changes, commands: changes.length ? [cmd([t.gcloud, 'logging', 'metrics', 'update', m.name, `--config-from-file=${FILE_ARG}`, p], { file })] : [] };
      },
    });
  }
  out.push({ type: 'api', kind: 'monitoring', name: 'dashboard+alerts', what: 'Cloud Monitoring dashboard, alert policies and their channel (infra/monitoring/apply.ts)' });
  return out;
}

/** The whole plan, in order. */
export function deployPlan(i: DeployInput): Resource[] {
  const t = { ...DEFAULT_TOOLS, ...i.tools };
  const sa = (id: string) => serviceAccountEmail(id, i.project);
  const c: Ctx = {
    i,
    t,
    p: `--project=${i.project}`,
    sa,
    member: (id) => `serviceAccount:${sa(id)}`,
    pubsubAgent: `service-${FACT_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`,
  };
  return [
    ...projectSteps(c),
    ...accountSteps(c),
    ...firestoreSteps(c),
    ...secretSteps(c),
    ...pubsubTopicSteps(c),
    ...bigQuerySteps(c),
    ...functionSteps(c),
    ...pushSubscriptionSteps(c),
    ...serviceSteps(c),
    { type: 'api', kind: 'scheduler-jobs', name: 'scheduler.yaml', what: `Cloud Scheduler jobs, each with the ${INVOKER_SA} OIDC token (infra/scheduler/cloud-sync.ts)` },
    ...monitoringSteps(c),
    { type: 'api', kind: 'telegram-webhook', name: TELEGRAM_WEBHOOK_SERVICE, what: `the bot's webhook -> ${urlFact(TELEGRAM_WEBHOOK_SERVICE)} with the secret token (set only when the URL differs)` },
  ];
}
