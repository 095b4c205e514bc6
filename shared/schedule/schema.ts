/**
 * `scheduler.yaml` (repo root) is the single source of the schedules (SPEC 10): Cloud Scheduler is
 * synced from it (scripts/sync-scheduler.ts) and the local runtime runs the same jobs itself
 * (infra/scheduler/local-runner.ts). This module validates it with zod and loads it.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { assertCron, assertTimeZone } from './cron.js';

/** Cloud Scheduler's per-attempt deadline for HTTP targets is 15 s to 30 min. */
const MIN_ATTEMPT_DEADLINE_S = 15;
const MAX_ATTEMPT_DEADLINE_S = 1_800;
/** Cloud Scheduler allows 0-5 retries. */
const MAX_RETRY_COUNT = 5;
const DEFAULT_ATTEMPT_DEADLINE_S = 180;

/** Job names become Cloud Scheduler job ids (with a prefix): letters, digits, hyphens, underscores. */
const JOB_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** Deployed Cloud Function names. */
const FUNCTION_NAME = /^[a-z][a-z0-9-]{0,62}$/;

const scheduleJobSchema = z.strictObject({
  description: z.string().min(1).max(500),
  /** 5-field unix-cron, evaluated in `timeZone`. */
  schedule: z.string().superRefine((v, ctx) => {
    try {
      assertCron(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }),
  /** IANA time zone (Etc/UTC for market jobs, America/Los_Angeles for reports). */
  timeZone: z.string().superRefine((v, ctx) => {
    try {
      assertTimeZone(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }),
  /** Target: the deployed function name (its HTTP URL in the cloud; its registered handler locally). */
  function: z.string().regex(FUNCTION_NAME, 'function must be a lower-case deployed function name, e.g. health-check'),
  /** Optional JSON body POSTed to the function (lets one function serve several jobs). */
  body: z.record(z.string(), z.unknown()).optional(),
  /** false: not deployed to Cloud Scheduler (deleted if present) and not run locally. */
  enabled: z.boolean().default(true),
  attemptDeadlineSeconds: z.number().int().min(MIN_ATTEMPT_DEADLINE_S).max(MAX_ATTEMPT_DEADLINE_S).default(DEFAULT_ATTEMPT_DEADLINE_S),
  /** Retries of a failed attempt (0 for every-minute jobs: the next run comes anyway). */
  retryCount: z.number().int().min(0).max(MAX_RETRY_COUNT).default(0),
});

const scheduleFileSchema = z.strictObject({
  version: z.literal(1),
  jobs: z
    .record(z.string(), scheduleJobSchema)
    .superRefine((jobs, ctx) => {
      for (const name of Object.keys(jobs)) {
        if (!JOB_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: `job name "${name}" must match ${JOB_NAME}` });
      }
      if (Object.keys(jobs).length === 0) ctx.addIssue({ code: 'custom', message: 'at least one job is required' });
    }),
});

export interface ScheduleJob extends z.output<typeof scheduleJobSchema> {
  /** The key in `jobs:`. */
  name: string;
}

export interface ScheduleFile {
  version: 1;
  jobs: ScheduleJob[];
}

/** Path of scheduler.yaml relative to the repository root. */
export const SCHEDULER_YAML = 'scheduler.yaml';

/** Parses and validates scheduler.yaml text; throws one error listing every problem. */
export function parseSchedule(text: string, source = SCHEDULER_YAML): ScheduleFile {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const r = scheduleFileSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return {
    version: r.data.version,
    jobs: Object.entries(r.data.jobs).map(([name, job]) => ({ name, ...job })),
  };
}

export function loadSchedule(file: string): ScheduleFile {
  return parseSchedule(readFileSync(file, 'utf8'), file);
}
