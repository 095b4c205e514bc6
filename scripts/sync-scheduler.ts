/**
 * Syncs scheduler.yaml to Cloud Scheduler: creates, updates and deletes the managed jobs (id prefix
 * `cst-` by default) so the project matches the file. `--dry-run` prints the plan and changes nothing.
 *
 *   npx tsx scripts/sync-scheduler.ts --project my-proj --region us-central1 --dry-run
 *
 * Every job carries an OIDC token of the invoker account (default cst-invoker@<project>, made by
 * `npm run deploy`): the functions are private, a job without a token would be refused.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadSchedule, SCHEDULER_YAML } from '../shared/schedule/schema.js';
import {
  applyPlan,
  DEFAULT_JOB_PREFIX,
  desiredSpecs,
  formatPlan,
  listAllJobs,
  planSync,
  type SchedulerClientLike,
  type SyncTarget,
} from '../infra/scheduler/cloud-sync.js';
import { INVOKER_SA, serviceAccountEmail } from '../infra/deploy/access.js';

export const HELP = `Sync ${SCHEDULER_YAML} to Cloud Scheduler (create / update / delete by diff).

Usage: npx tsx scripts/sync-scheduler.ts --project <id> [options]

Options:
  --project <id>            GCP project (default: $GOOGLE_CLOUD_PROJECT)
  --region <region>         Cloud Scheduler location = functions region (default: $FUNCTION_REGION or us-central1)
  --file <path>             schedule file (default: ${SCHEDULER_YAML})
  --base-url <url>          functions base URL (default: https://<region>-<project>.cloudfunctions.net)
  --service-account <email> the invoker account whose OIDC token every job carries
                            (default: ${INVOKER_SA}@<project>.iam.gserviceaccount.com, made by npm run deploy)
  --audience <aud>          OIDC audience (default: the function URL)
  --prefix <prefix>         id prefix of the jobs this tool manages (default: ${DEFAULT_JOB_PREFIX}); others are never touched
  --dry-run                 print the plan (create / update / delete / unchanged) and change nothing
  -h, --help                this help
`;

interface SyncDeps {
  /** Builds the Cloud Scheduler client (tests pass a fake). */
  client?: () => Promise<SchedulerClientLike>;
  out?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

async function defaultClient(): Promise<SchedulerClientLike> {
  const { CloudSchedulerClient } = await import('@google-cloud/scheduler');
  return new CloudSchedulerClient() as unknown as SchedulerClientLike;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], deps: SyncDeps = {}): Promise<number> {
  const out = deps.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const env = deps.env ?? process.env;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        project: { type: 'string' },
        region: { type: 'string' },
        file: { type: 'string' },
        'base-url': { type: 'string' },
        'service-account': { type: 'string' },
        audience: { type: 'string' },
        prefix: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    out(`error: ${(e as Error).message}\n`);
    out(HELP);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  const project = values.project ?? env.GOOGLE_CLOUD_PROJECT;
  if (!project) {
    out('error: --project is required (or set GOOGLE_CLOUD_PROJECT)\n');
    out(HELP);
    return 2;
  }
  const target: SyncTarget = {
    project,
    location: values.region ?? env.FUNCTION_REGION ?? 'us-central1',
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
    serviceAccountEmail: values['service-account'] ?? serviceAccountEmail(INVOKER_SA, project),
    ...(values.audience ? { audience: values.audience } : {}),
    prefix: values.prefix ?? DEFAULT_JOB_PREFIX,
  };
  const schedule = loadSchedule(values.file ?? SCHEDULER_YAML);
  const client = await (deps.client ?? defaultClient)();
  const live = await listAllJobs(client, target);
  const plan = planSync(desiredSpecs(schedule, target), live, target.prefix);
  out(`Cloud Scheduler ${target.project}/${target.location}, managed prefix "${target.prefix}"${values['dry-run'] ? ' (dry run)' : ''}`);
  out(formatPlan(plan));
  if (values['dry-run']) return 0;
  const r = await applyPlan(client, target, plan);
  out(`applied: ${r.created} created, ${r.updated} updated, ${r.deleted} deleted, ${r.unchanged} unchanged`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`sync-scheduler failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
