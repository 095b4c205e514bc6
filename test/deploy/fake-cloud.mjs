#!/usr/bin/env node
/**
 * A fake `gcloud`, `bq` and `firebase` for the deploy's twice-run test (test/deploy/deploy-twice.test.ts):
 * `node fake-cloud.mjs <tool> args...`, state in the JSON file $FAKE_CLOUD_STATE. It answers like the
 * real tools where the deploy depends on it: describe of a missing thing exits non-zero with NOT_FOUND
 * (bq: "Not found", Cloud Run: "Cannot find service"), create of an existing one exits non-zero with
 * ALREADY_EXISTS, describes print JSON of the shape the real APIs return. Every call is recorded
 * (argv, whether it mutates, the sha256 of its stdin).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [tool, ...args] = process.argv.slice(2);
const statePath = process.env.FAKE_CLOUD_STATE;
const st = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
for (const k of ['calls', 'things', 'iam']) st[k] ??= k === 'calls' ? [] : {};

const flags = {};
const pos = [];
for (const a of args) {
  if (a.startsWith('--')) {
    const i = a.indexOf('=');
    if (i > 0) flags[a.slice(2, i)] = a.slice(i + 1);
    else flags[a.slice(2)] = true;
  } else pos.push(a);
}
const READ_VERBS = new Set(['describe', 'list', 'get-iam-policy', 'show', 'access']);
const verb = tool === 'bq' ? pos[0] : tool === 'firebase' ? pos[0] : pos.find((p) => /^[a-z-]+$/.test(p) && ['describe', 'list', 'create', 'update', 'deploy', 'delete', 'enable', 'get-iam-policy', 'add-iam-policy-binding', 'add', 'access', 'submit', 'show', 'mk'].includes(p));
const mutating = !READ_VERBS.has(verb);
let stdinSha;
if (tool === 'gcloud' && args.includes('--data-file=-')) {
  const data = readFileSync(0);
  stdinSha = createHash('sha256').update(data).digest('hex');
}
st.calls.push({ tool, argv: args, mutating, ...(stdinSha ? { stdinSha } : {}) });

function save() {
  writeFileSync(statePath, JSON.stringify(st, null, 2));
}
function done(json) {
  save();
  if (json !== undefined) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  process.exit(0);
}
function failWith(msg, code = 1, stream = 'stderr') {
  save();
  (stream === 'stdout' ? process.stdout : process.stderr).write(msg + '\n');
  process.exit(code);
}
const project = flags.project ?? 'none';
const short = (n) => String(n).split('/').pop();
function get(kind, name) {
  return st.things[`${kind}/${name}`];
}
function put(kind, name, v) {
  st.things[`${kind}/${name}`] = v;
}
function describe(kind, name, cmd) {
  const v = get(kind, name);
  if (!v) {
    if (kind === 'run-service') failWith(`ERROR: (${cmd}) Cannot find service [${name}]`);
    failWith(`ERROR: (${cmd}) NOT_FOUND: Resource '${name}' was not found`);
  }
  done(v);
}
function create(kind, name, v, cmd) {
  if (get(kind, name)) failWith(`ERROR: (${cmd}) ALREADY_EXISTS: Resource '${name}' already exists`);
  put(kind, name, v);
  done();
}
function labels(old) {
  const l = { ...(old ?? {}) };
  if (typeof flags['update-labels'] === 'string') for (const kv of flags['update-labels'].split(',')) l[kv.split('=')[0]] = kv.split('=')[1];
  return l;
}
/** The described form of the push flags (PushConfig, DeadLetterPolicy, RetryPolicy of the Pub/Sub API). */
function pushConfig(old) {
  const c = { ...old, pushEndpoint: flags['push-endpoint'] ?? old.pushEndpoint, attributes: { 'x-goog-version': 'v1' } };
  if (flags['push-auth-service-account']) c.oidcToken = { serviceAccountEmail: flags['push-auth-service-account'], audience: flags['push-auth-token-audience'] ?? c.pushEndpoint };
  return c;
}
function deadLetterPolicy() {
  return { deadLetterTopic: `projects/${project}/topics/${flags['dead-letter-topic']}`, maxDeliveryAttempts: Number(flags['max-delivery-attempts'] ?? 5) };
}
function retryPolicy(old) {
  return { minimumBackoff: flags['min-retry-delay'] ?? old.minimumBackoff ?? '10s', maximumBackoff: flags['max-retry-delay'] ?? old.maximumBackoff ?? '600s' };
}
function iam(key) {
  if (verb === 'get-iam-policy') done({ bindings: (st.iam[key] ?? []).map(([role, m]) => ({ role, members: [m] })), etag: 'BwY=' });
  if (verb === 'add-iam-policy-binding') {
    st.iam[key] ??= [];
    if (!st.iam[key].some(([r, m]) => r === flags.role && m === flags.member)) st.iam[key].push([flags.role, flags.member]);
    done({ bindings: [] });
  }
  failWith(`fake: unknown IAM verb ${verb}`);
}

if (tool === 'firebase') {
  if (pos[0] === 'deploy') done();
  failWith(`fake firebase: unsupported ${args.join(' ')}`);
}

if (tool === 'bq') {
  const ref = pos[pos.length - 1];
  if (verb === 'show') {
    const v = get('bq', pos[1]);
    // the real bq prints its errors on STDOUT (stderr stays empty) and exits 2
    if (!v) failWith(`BigQuery error in show operation: Not found: ${pos[1].includes('.') ? 'Table' : 'Dataset'} ${pos[1]}`, 2, 'stdout');
    done(v);
  }
  if (verb === 'mk') {
    if (flags.dataset) {
      if (get('bq', ref)) failWith(`BigQuery error in mk operation: Dataset '${ref}' already exists.`, 2);
      put('bq', ref, { datasetReference: { datasetId: ref.split(':')[1] }, location: flags.location ?? 'US', access: [{ role: 'OWNER', specialGroup: 'projectOwners' }] });
      done();
    }
    const tref = pos[pos.length - 2];
    if (get('bq', tref)) failWith(`BigQuery error in mk operation: Table '${tref}' already exists.`, 2);
    put('bq', tref, { schema: { fields: JSON.parse(readFileSync(ref, 'utf8')) }, description: flags.description, ...(flags.time_partitioning_field ? { timePartitioning: { type: 'DAY', field: flags.time_partitioning_field } } : {}) });
    done();
  }
  if (verb === 'update') {
    if (flags.source) {
      const cur = get('bq', ref);
      put('bq', ref, { ...cur, access: JSON.parse(readFileSync(flags.source, 'utf8')).access });
      done();
    }
    const tref = pos[1];
    const cur = get('bq', tref);
    put('bq', tref, { ...cur, schema: { fields: JSON.parse(readFileSync(pos[2], 'utf8')) } });
    done();
  }
  failWith(`fake bq: unsupported ${args.join(' ')}`);
}

// gcloud
const path = pos.slice(0, pos.indexOf(verb) + 1).join(' ');
const name = pos[pos.indexOf(verb) + 1];
const cmd = `gcloud.${path.replace(/ /g, '.')}`;
switch (path) {
  case 'projects describe':
    done({ projectId: name, projectNumber: '123456789012', lifecycleState: 'ACTIVE' });
  case 'projects get-iam-policy':
  case 'projects add-iam-policy-binding':
    iam(`project/${name}`);
  case 'services list':
    done((st.apis ?? []).map((a) => ({ config: { name: a }, name: `projects/123456789012/services/${a}`, state: 'ENABLED' })));
  case 'services enable':
    st.apis = [...new Set([...(st.apis ?? []), ...pos.slice(2)])];
    done();
  case 'artifacts repositories describe':
    describe('repo', name, cmd);
  case 'artifacts repositories create':
    create('repo', name, { name: `projects/${project}/locations/${flags.location}/repositories/${name}`, format: 'DOCKER' }, cmd);
  case 'artifacts repositories update':
    put('repo', name, { ...get('repo', name), labels: labels(get('repo', name)?.labels) });
    done();
  case 'artifacts docker images describe':
    describe('image', name, cmd);
  case 'builds submit': {
    const subs = Object.fromEntries(flags.substitutions.split(',').map((kv) => kv.split('=')));
    put('image', `${subs._IMAGE}:${subs._TAG}`, { image_summary: { fully_qualified_digest: `${subs._IMAGE}@sha256:00` } });
    done();
  }
  case 'iam service-accounts describe':
    describe('sa', name, cmd);
  case 'iam service-accounts create':
    create('sa', `${name}@${project}.iam.gserviceaccount.com`, { email: `${name}@${project}.iam.gserviceaccount.com`, displayName: flags['display-name'] }, cmd);
  case 'iam service-accounts get-iam-policy':
  case 'iam service-accounts add-iam-policy-binding':
    iam(`sa/${name}`);
  case 'firestore databases describe':
    describe('firestore', flags.database, cmd);
  case 'firestore databases create':
    create('firestore', flags.database, { name: `projects/${project}/databases/${flags.database}`, type: 'FIRESTORE_NATIVE', locationId: flags.location }, cmd);
  case 'secrets describe':
    describe('secret', name, cmd);
  case 'secrets create':
    create('secret', name, { name: `projects/123456789012/secrets/${name}`, replication: { automatic: {} } }, cmd);
  case 'secrets versions describe': {
    const s = get('secret', flags.secret);
    if (!s || !s.versions) failWith(`ERROR: (${cmd}) NOT_FOUND: Secret [projects/123456789012/secrets/${flags.secret}] not found or has no versions.`);
    done({ name: `projects/123456789012/secrets/${flags.secret}/versions/${s.versions.length}`, state: 'ENABLED' });
  }
  case 'secrets versions add': {
    const s = get('secret', name);
    if (!s) failWith(`ERROR: (${cmd}) NOT_FOUND: Secret [${name}] not found.`);
    put('secret', name, { ...s, versions: [...(s.versions ?? []), stdinSha] });
    done();
  }
  case 'secrets get-iam-policy':
  case 'secrets add-iam-policy-binding':
    iam(`secret/${name}`);
  case 'pubsub topics describe':
    describe('topic', name, cmd);
  case 'pubsub topics create':
    create('topic', name, { name: `projects/${project}/topics/${name}` }, cmd);
  case 'pubsub topics get-iam-policy':
  case 'pubsub topics add-iam-policy-binding':
    iam(`topic/${name}`);
  case 'pubsub subscriptions describe':
    describe('sub', short(name), cmd);
  case 'pubsub subscriptions create': {
    const sub = { name: `projects/${project}/subscriptions/${name}`, topic: `projects/${project}/topics/${flags.topic}`, ackDeadlineSeconds: Number(flags['ack-deadline'] ?? 10) };
    if (flags['message-retention-duration']) sub.messageRetentionDuration = flags['message-retention-duration'];
    if (flags['enable-message-ordering'] === true) sub.enableMessageOrdering = true;
    if (flags['push-endpoint']) sub.pushConfig = pushConfig({});
    if (flags['dead-letter-topic']) sub.deadLetterPolicy = deadLetterPolicy();
    if (flags['min-retry-delay'] || flags['max-retry-delay']) sub.retryPolicy = retryPolicy({});
    create('sub', name, sub, cmd);
  }
  case 'pubsub subscriptions update': {
    // Like gcloud: ordering is fixed at creation, update has no such flag.
    if ('enable-message-ordering' in flags) failWith(`ERROR: (${cmd}) unrecognized arguments: --enable-message-ordering`, 2);
    const s = get('sub', short(name));
    if (!s) failWith(`ERROR: (${cmd}) NOT_FOUND: Resource not found (resource=${short(name)}).`);
    const next = { ...s };
    if (flags['push-endpoint']) next.pushConfig = pushConfig(s.pushConfig ?? {});
    if (flags['ack-deadline']) next.ackDeadlineSeconds = Number(flags['ack-deadline']);
    if (flags['dead-letter-topic']) next.deadLetterPolicy = deadLetterPolicy();
    if (flags['min-retry-delay'] || flags['max-retry-delay']) next.retryPolicy = retryPolicy(s.retryPolicy ?? {});
    put('sub', short(name), next);
    done();
  }
  case 'pubsub subscriptions delete': {
    if (!get('sub', short(name))) failWith(`ERROR: (${cmd}) NOT_FOUND: Resource not found (resource=${short(name)}).`);
    delete st.things[`sub/${short(name)}`];
    delete st.iam[`sub/${short(name)}`];
    done();
  }
  case 'pubsub subscriptions get-iam-policy':
  case 'pubsub subscriptions add-iam-policy-binding':
    iam(`sub/${short(name)}`);
  case 'functions describe':
    describe('function', name, cmd);
  case 'functions deploy': {
    const old = get('function', name);
    put('function', name, {
      name: `projects/${project}/locations/${flags.region}/functions/${name}`,
      environment: 'GEN_2',
      state: 'ACTIVE',
      labels: labels(old?.labels),
      buildConfig: { runtime: flags.runtime, entryPoint: flags['entry-point'] },
      serviceConfig: { serviceAccountEmail: flags['service-account'], availableMemory: flags.memory ?? '256M', uri: `https://${name}-abc123-uc.a.run.app` },
    });
    put('run-service', name, { metadata: { name }, spec: { template: { spec: { serviceAccountName: flags['service-account'] } } }, status: { url: `https://${name}-abc123-uc.a.run.app` } });
    done();
  }
  case 'functions delete':
    delete st.things[`function/${name}`];
    done();
  case 'run services describe':
    describe('run-service', name, cmd);
  case 'run deploy': {
    const old = get('run-service', name);
    put('run-service', name, {
      metadata: { name, labels: labels(old?.metadata?.labels) },
      spec: { template: { spec: { serviceAccountName: flags['service-account'], containers: [{ image: flags.image ?? 'from-source' }] } } },
      status: { url: `https://${name}-abc123-uc.a.run.app` },
    });
    done();
  }
  case 'run services get-iam-policy':
  case 'run services add-iam-policy-binding':
    iam(`run/${name}`);
  case 'eventarc triggers describe':
    describe('trigger', name, cmd);
  case 'eventarc triggers delete': {
    const tr = get('trigger', name);
    if (!tr) failWith(`ERROR: (${cmd}) NOT_FOUND: Resource '${name}' was not found`);
    delete st.things[`trigger/${name}`];
    delete st.things[`sub/${short(tr.transport.pubsub.subscription)}`];
    done();
  }
  case 'logging metrics describe':
    describe('metric', name, cmd);
  case 'logging metrics create':
    create('metric', name, JSON.parse(readFileSync(flags['config-from-file'], 'utf8')), cmd);
  case 'logging metrics update':
    put('metric', name, JSON.parse(readFileSync(flags['config-from-file'], 'utf8')));
    done();
  case 'secrets versions access':
    failWith(`ERROR: (${cmd}) the fake keeps no secret values`);
  default:
    failWith(`fake gcloud: unsupported command: ${args.join(' ')}`);
}
