import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../shared/ports/clock.js';
import { loadSchedule, parseSchedule } from '../../shared/schedule/schema.js';
import { handlersFromScheduledJobs, LocalScheduler, type JobRun } from '../../infra/scheduler/local-runner.js';
import { captureLog } from '../config/support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const schedule = loadSchedule(join(ROOT, 'scheduler.yaml'));
const MIN = 60_000;

describe('LocalScheduler', () => {
  it('fires each job at its cron times; a job whose function is not registered is skipped with a warning', async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:30Z'));
    const cap = captureLog();
    const runs: Record<string, number[]> = { health: [], kraken: [] };
    const s = new LocalScheduler({
      schedule,
      clock,
      log: cap.log,
      handlers: {
        healthCheck: async (r: JobRun) => void runs.health!.push(r.scheduledAt),
        'kraken-pull': async (r: JobRun) => void runs.kraken!.push(r.scheduledAt),
      },
    });
    expect(s.jobs().sort()).toEqual(['healthCheck', 'krakenPull']);
    expect(s.skipped.sort()).toEqual(['configCheck', 'macroAnalysis', 'reports', 'retentionCleanup', 'retrain', 'weeklyReport']);
    expect(cap.lines.filter((l) => l.severity === 'WARNING').map((l) => l.entry.message)).toContain(
      'job "macroAnalysis" skipped: function "macro-analysis" is not registered in this runtime',
    );
    s.start();
    await clock.advance(60 * MIN);
    expect(runs.health).toHaveLength(60);
    expect(runs.kraken).toHaveLength(60);
    expect(runs.health![0]).toBe(Date.parse('2025-06-01T00:01:00Z'));
    expect(runs.health![59]).toBe(Date.parse('2025-06-01T01:00:00Z'));
    await s.stop();
    await clock.advance(10 * MIN);
    expect(runs.health).toHaveLength(60);
    expect(s.stats().healthCheck).toMatchObject({ fired: 60, succeeded: 60, failed: 0, skippedOverlap: 0 });
  });

  it('runs the Los Angeles report and retrain jobs at the right instants across the DST change', async () => {
    const clock = new ManualClock(Date.parse('2025-03-07T12:00:00Z'));
    const runs: Array<[string, string, unknown]> = [];
    const s = new LocalScheduler({
      schedule,
      clock,
      log: captureLog().log,
      handlers: {
        reports: async (r) => void runs.push([r.job.name, new Date(r.scheduledAt).toISOString(), r.job.body]),
        retrain: async (r) => void runs.push([r.job.name, new Date(r.scheduledAt).toISOString(), r.job.body]),
      },
    });
    s.start();
    await clock.advance(3 * 24 * 60 * MIN); // to Mon 2025-03-10 12:00Z
    await s.stop();
    runs.sort((a, b) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0]));
    expect(runs).toEqual([
      ['reports', '2025-03-07T15:00:00.000Z', { period: 'daily' }],
      ['reports', '2025-03-08T03:00:00.000Z', { period: 'daily' }],
      ['retrain', '2025-03-08T10:00:00.000Z', undefined],
      ['reports', '2025-03-08T15:00:00.000Z', { period: 'daily' }],
      ['reports', '2025-03-09T03:00:00.000Z', { period: 'daily' }],
      ['retrain', '2025-03-09T10:00:00.000Z', undefined],
      ['reports', '2025-03-09T14:00:00.000Z', { period: 'daily' }],
      ['reports', '2025-03-10T02:00:00.000Z', { period: 'daily' }],
      ['weeklyReport', '2025-03-10T02:00:00.000Z', { period: 'weekly' }],
      ['retrain', '2025-03-10T09:00:00.000Z', undefined],
    ]);
  });

  it('never overlaps runs of one job and keeps going after a failure', async () => {
    const one = parseSchedule(`version: 1
jobs:
  slow:
    description: takes two and a half minutes
    schedule: "* * * * *"
    timeZone: Etc/UTC
    function: slow-job
  flaky:
    description: fails every other run
    schedule: "*/2 * * * *"
    timeZone: Etc/UTC
    function: flaky-job
`);
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:30Z'));
    const cap = captureLog();
    let active = 0;
    let maxActive = 0;
    let flakyCalls = 0;
    const s = new LocalScheduler({
      schedule: one,
      clock,
      log: cap.log,
      handlers: {
        slow: async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await clock.sleep(150_000);
          active--;
        },
        flaky: async () => {
          flakyCalls++;
          if (flakyCalls % 2 === 1) throw new Error('exchange timeout');
          return { ok: true };
        },
      },
    });
    s.start();
    await clock.advance(10 * MIN); // to 00:10:30
    const stopping = s.stop(); // waits for the run in progress...
    await clock.advance(3 * MIN); // ...which finishes at 00:12:30
    await stopping;
    const st = s.stats();
    // Fires 00:01, 00:04, 00:07, 00:10; the minutes in between find the previous run going.
    expect(st.slow).toMatchObject({ fired: 4, succeeded: 4, skippedOverlap: 6 });
    expect(maxActive).toBe(1);
    expect(st.flaky).toMatchObject({ fired: 5, failed: 3, succeeded: 2, lastError: 'exchange timeout' });
    expect(cap.lines.filter((l) => l.severity === 'ERROR' && l.entry.job === 'flaky')).toHaveLength(3);
    expect(cap.lines.filter((l) => l.severity === 'WARNING' && l.entry.job === 'slow')).toHaveLength(6);
  });

  it('with the system clock, stop() ends the wait at once', async () => {
    const s = new LocalScheduler({ schedule, clock: systemClock, log: captureLog().log, handlers: { retrain: async () => 1 } });
    s.start();
    expect(s.stats().retrain!.nextAt).toBeGreaterThan(Date.now());
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(s.stats().retrain!.fired).toBe(0);
  });

  it('runs the scheduled functions\' jobs by function name with the job\'s body', async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:30Z'));
    const seen: number[] = [];
    const handlers = handlersFromScheduledJobs([{ name: 'config-check', run: async () => (seen.push(clock.now()), { ok: true }) }]);
    const s = new LocalScheduler({ schedule, clock, log: captureLog().log, handlers });
    expect(s.jobs()).toEqual(['configCheck']);
    s.start();
    await clock.advance(3 * MIN);
    await s.stop();
    expect(seen).toEqual([1, 2, 3].map((m) => Date.parse('2025-06-01T00:00:00Z') + m * MIN));
  });
});
