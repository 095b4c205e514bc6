/**
 * LocalScheduler: runs the jobs of scheduler.yaml in-process (the local runtime's stand-in for Cloud
 * Scheduler). Each enabled job fires at its cron times in its own time zone (shared/schedule/cron.ts,
 * DST-correct), on the injected Clock:
 * - a ManualClock drives it in tests (advance time -> jobs fire the right number of times);
 * - with the system clock it uses its own cancellable timers, so `stop()` ends it at once.
 * Runs of the same job never overlap: a fire time that arrives while the previous run is still
 * going is skipped and logged (Cloud Scheduler would also not queue it). A run that throws is logged
 * and counted; the schedule goes on. A fire time missed because the process was asleep is not
 * caught up (as Cloud Scheduler), the next one is taken from now.
 *
 * Handlers are looked up by job name first, then by target function name; a job with no handler
 * (its function is not built or not registered in this runtime) is skipped with a warning.
 */
import type { Clock } from '../../shared/ports/clock.js';
import { systemClock } from '../../shared/ports/clock.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { CronSchedule } from '../../shared/schedule/cron.js';
import type { ScheduleFile, ScheduleJob } from '../../shared/schedule/schema.js';

export interface JobRun {
  job: ScheduleJob;
  /** The cron time this run is for (epoch ms). */
  scheduledAt: number;
}

type JobHandler = (run: JobRun) => Promise<unknown>;

interface LocalSchedulerOptions {
  schedule: ScheduleFile;
  /** Keyed by job name (`healthCheck`) or target function name (`health-check`). */
  handlers: Record<string, JobHandler>;
  clock?: Clock;
  log?: Logger;
  /** Run only these job names (default: every enabled job that has a handler). */
  only?: string[];
}

interface JobStats {
  fired: number;
  succeeded: number;
  failed: number;
  /** Fire times skipped because the previous run was still going. */
  skippedOverlap: number;
  lastScheduledAt: number | null;
  lastError: string | null;
  nextAt: number | null;
}

interface Entry {
  job: ScheduleJob;
  cron: CronSchedule;
  handler: JobHandler;
  running: Promise<void> | null;
  stats: JobStats;
}

/** Upper bound of one real-timer wait; long waits are chained (setTimeout caps at ~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LocalScheduler {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly entries: Entry[] = [];
  /** Jobs without a handler (skipped with a warning). */
  readonly skipped: string[] = [];
  private started = false;
  private stopped = false;
  private resolveStop!: () => void;
  private readonly stopSignal = new Promise<void>((resolve) => (this.resolveStop = resolve));
  private readonly timers = new Set<NodeJS.Timeout>();
  private loops: Promise<void>[] = [];

  constructor(opts: LocalSchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? createLogger()).child({ component: 'local-scheduler' });
    for (const job of opts.schedule.jobs) {
      if (!job.enabled) continue;
      if (opts.only && !opts.only.includes(job.name)) continue;
      const handler = opts.handlers[job.name] ?? opts.handlers[job.function];
      if (!handler) {
        this.skipped.push(job.name);
        this.log.warn(`job "${job.name}" skipped: function "${job.function}" is not registered in this runtime`, { job: job.name });
        continue;
      }
      this.entries.push({
        job,
        cron: new CronSchedule(job.schedule, job.timeZone),
        handler,
        running: null,
        stats: { fired: 0, succeeded: 0, failed: 0, skippedOverlap: 0, lastScheduledAt: null, lastError: null, nextAt: null },
      });
    }
  }

  /** Job names that will run. */
  jobs(): string[] {
    return this.entries.map((e) => e.job.name);
  }

  stats(): Record<string, JobStats> {
    return Object.fromEntries(this.entries.map((e) => [e.job.name, { ...e.stats }]));
  }

  start(): void {
    if (this.started) throw new Error('LocalScheduler already started');
    this.started = true;
    this.log.info('local scheduler started', { jobs: this.jobs(), skipped: this.skipped });
    this.loops = this.entries.map((e) => this.loop(e));
  }

  /** Stops firing and waits for runs in progress. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.resolveStop();
    await Promise.all(this.loops);
    await Promise.all(this.entries.map((e) => e.running ?? Promise.resolve()));
  }

  private async loop(e: Entry): Promise<void> {
    let from = this.clock.now();
    while (!this.stopped) {
      const at = e.cron.next(from);
      e.stats.nextAt = at;
      if (at === null) return;
      await this.sleepUntil(at);
      if (this.stopped) return;
      this.fire(e, at);
      // Missed fire times (a sleeping laptop) are not caught up.
      from = Math.max(at, this.clock.now());
    }
  }

  private fire(e: Entry, scheduledAt: number): void {
    const log = this.log.child({ job: e.job.name, function: e.job.function, scheduledAt: new Date(scheduledAt).toISOString() });
    if (e.running) {
      e.stats.skippedOverlap++;
      log.warn(`job "${e.job.name}" still running: this fire time is skipped`);
      return;
    }
    e.stats.fired++;
    e.stats.lastScheduledAt = scheduledAt;
    const started = this.clock.now();
    e.running = (async () => {
      try {
        const result = await e.handler({ job: e.job, scheduledAt });
        e.stats.succeeded++;
        log.info(`job "${e.job.name}" done`, { durationMs: this.clock.now() - started, result: result as unknown });
      } catch (err) {
        e.stats.failed++;
        e.stats.lastError = (err as Error)?.message ?? String(err);
        log.error(`job "${e.job.name}" failed`, { error: err as Error, durationMs: this.clock.now() - started });
      } finally {
        e.running = null;
      }
    })();
  }

  private async sleepUntil(at: number): Promise<void> {
    while (!this.stopped) {
      const wait = at - this.clock.now();
      if (wait <= 0) return;
      const sleep = this.clock === systemClock ? this.realSleep(Math.min(wait, MAX_TIMER_MS)) : this.clock.sleep(wait);
      await Promise.race([sleep, this.stopSignal]);
    }
  }

  private realSleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/** A job the local runtime can run: a scheduled function bound to its root (infra/runtime/bind.ts `runScheduled`). */
interface ScheduledJob {
  /** The target function's name (scheduler.yaml `function`). */
  name: string;
  /** `body` is the job's JSON body from scheduler.yaml (Cloud Scheduler POSTs it; the local runner passes it). */
  run(body?: Record<string, unknown>): Promise<unknown>;
}

/** Handlers for the local runtime keyed by function name, each running its job with the job's body. */
export function handlersFromScheduledJobs(jobs: ScheduledJob[]): Record<string, JobHandler> {
  return Object.fromEntries(jobs.map((j) => [j.name, (run: JobRun) => j.run(run.job.body as Record<string, unknown> | undefined)]));
}
