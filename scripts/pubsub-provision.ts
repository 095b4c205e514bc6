/**
 * Provisions the Pub/Sub topology (topics, `-dlq` dead-letter topics with retention subscriptions,
 * handler subscriptions with dead-letter and retry policies) from infra/bus/topology.ts.
 *
 *   npx tsx scripts/pubsub-provision.ts --help
 *   PUBSUB_EMULATOR_HOST=127.0.0.1:8085 npx tsx scripts/pubsub-provision.ts
 *   npx tsx scripts/pubsub-provision.ts --project my-proj --dry-run
 *   npx tsx scripts/pubsub-provision.ts --assume-empty --json      # plan only, contacts nothing
 */
import { parseArgs } from 'node:util';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createLogger } from '../shared/log.js';
import { LOCAL_PROJECT_ID } from '../infra/bus/envelope.js';
import { createPubSubClient, provisionTopology, type ProvisionClient, type ProvisionPlan } from '../infra/bus/pubsub.js';
import { topologySpecs, topologyTopics } from '../infra/bus/topology.js';

const EMULATOR_PROBE_TIMEOUT_MS = 2_000;

export const HELP = `Usage: npx tsx scripts/pubsub-provision.ts [options]

Creates the missing Pub/Sub topics, dead-letter topics (<topic>-dlq, each with a
dead-letters--<topic>-dlq retention subscription) and the function subscriptions listed in
infra/bus/topology.ts, with deadLetterPolicy (maxDeliveryAttempts) and retryPolicy (back-off)
from SystemConfig.delivery. Existing resources are left unchanged.

Target: the emulator when PUBSUB_EMULATOR_HOST is set, otherwise Google Cloud (needs
credentials and --project or GOOGLE_CLOUD_PROJECT).

Options:
  --dry-run          show what exists and what would be created; create nothing
  --assume-empty     print the full plan without contacting Pub/Sub (implies --dry-run)
  --project <id>     GCP project (default GOOGLE_CLOUD_PROJECT; '${LOCAL_PROJECT_ID}' on the emulator)
  --push-base-url <url>
                     make push subscriptions to <url>/<function>/projects/<project>/topics/<topic>
                     instead of pull ones (the function reads the topic from that path)
  --topics-only      topics and dead-letter topics (with their retention subscriptions) only:
                     on Google Cloud, npm run deploy makes the function (push) subscriptions
  --json             print the plan as JSON
  -h, --help         this text
`;

interface CliDeps {
  env: NodeJS.ProcessEnv;
  out: (s: string) => void;
  /** Builds the client (tests pass a fake). */
  client?: (projectId: string) => ProvisionClient & { close?(): Promise<void> };
  probe?: (hostPort: string) => Promise<void>;
}

/** Returns the process exit code. */
export async function run(argv: string[], deps: CliDeps): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'dry-run': { type: 'boolean', default: false },
        'assume-empty': { type: 'boolean', default: false },
        project: { type: 'string' },
        'push-base-url': { type: 'string' },
        json: { type: 'boolean', default: false },
        'topics-only': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    deps.out(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    deps.out(HELP);
    return 0;
  }

  const emulator = deps.env.PUBSUB_EMULATOR_HOST;
  const project = values.project ?? deps.env.GOOGLE_CLOUD_PROJECT ?? (emulator || values['assume-empty'] ? LOCAL_PROJECT_ID : undefined);
  if (!project) {
    deps.out('No target: set PUBSUB_EMULATOR_HOST for the emulator, or pass --project (or GOOGLE_CLOUD_PROJECT) for Google Cloud.\n');
    return 2;
  }
  const specs = topologySpecs({
    delivery: DEFAULT_SYSTEM_CONFIG.delivery,
    ...(values['push-base-url'] ? { pushBaseUrl: values['push-base-url'], project } : {}),
  });
  const dryRun = values['dry-run'] || values['assume-empty'];
  const log = createLogger({ component: 'pubsub-provision' }, { minSeverity: 'WARNING' });

  let client: ProvisionClient & { close?(): Promise<void> };
  if (values['assume-empty']) {
    client = emptyClient(project);
  } else {
    if (emulator) {
      try {
        await (deps.probe ?? probeTcp)(emulator);
      } catch (e) {
        deps.out(`Pub/Sub emulator at ${emulator} is not reachable: ${(e as Error).message}\n`);
        return 1;
      }
    }
    client = (deps.client ?? createPubSubClient)(project);
  }

  let plan: ProvisionPlan;
  try {
    plan = await provisionTopology(client, specs, { dryRun, log, topics: topologyTopics(), handlerSubscriptions: !values['topics-only'] });
  } finally {
    await client.close?.();
  }
  const target = values['assume-empty'] ? 'nothing contacted' : emulator ? `emulator ${emulator}` : 'Google Cloud';
  deps.out(values.json ? JSON.stringify({ project, target, ...plan }, null, 2) + '\n' : formatPlan(plan, project, target));
  return 0;
}

function formatPlan(plan: ProvisionPlan, project: string, target: string): string {
  const lines = [`Project ${project} (${target})${plan.dryRun ? ' — dry run, nothing created' : ''}`, '', 'Topics:'];
  for (const t of plan.topics) lines.push(`  ${t.action.padEnd(8)} ${t.name}${t.role === 'dead-letter' ? '  (dead-letter)' : ''}`);
  lines.push('', 'Subscriptions:');
  for (const s of plan.subscriptions) {
    const o = s.options;
    const detail =
      s.role === 'handler'
        ? `maxDeliveryAttempts=${o.deadLetterPolicy?.maxDeliveryAttempts} backoff=${durS(o.retryPolicy?.minimumBackoff)}..${durS(o.retryPolicy?.maximumBackoff)}` +
          `${o.enableMessageOrdering ? ' ordered' : ''}${o.pushEndpoint ? ` push=${o.pushEndpoint}` : ' pull'}`
        : 'retains dead letters';
    lines.push(`  ${s.action.padEnd(8)} ${s.name} <- ${s.topic}  [${detail}]`);
  }
  const toCreate = [...plan.topics, ...plan.subscriptions].filter((x) => x.action === 'create').length;
  const created = [...plan.topics, ...plan.subscriptions].filter((x) => x.action === 'created').length;
  lines.push('', plan.dryRun ? `${toCreate} resource(s) would be created.` : `${created} resource(s) created.`, '');
  return lines.join('\n');
}

function durS(d: { seconds?: unknown; nanos?: number | null } | null | undefined): string {
  if (!d) return '?';
  return `${Number(d.seconds ?? 0) + (d.nanos ?? 0) / 1e9}s`;
}

/** A client on which nothing exists, for --assume-empty (never called to create: dry run). */
function emptyClient(project: string): ProvisionClient {
  const no = async (): Promise<[boolean]> => [false];
  const refuse = async (): Promise<never> => {
    throw new Error('--assume-empty never creates');
  };
  return {
    topic: (name) => ({ name: `projects/${project}/topics/${name}`, exists: no }),
    subscription: () => ({ exists: no }),
    createTopic: refuse,
    createSubscription: refuse,
  };
}

function probeTcp(hostPort: string): Promise<void> {
  const i = hostPort.lastIndexOf(':');
  const host = (i > 0 ? hostPort.slice(0, i) : hostPort).replace(/^\[|\]$/g, '');
  const port = Number(i > 0 ? hostPort.slice(i + 1) : NaN);
  if (!Number.isInteger(port)) return Promise.reject(new Error(`PUBSUB_EMULATOR_HOST must be host:port, got ${hostPort}`));
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${EMULATOR_PROBE_TIMEOUT_MS} ms`));
    }, EMULATOR_PROBE_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      resolve();
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2), { env: process.env, out: (s) => process.stdout.write(s) }).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`pubsub-provision failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
