import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchedule, parseSchedule } from '../../shared/schedule/schema.js';
import { CronSchedule } from '../../shared/schedule/cron.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LA = 'America/Los_Angeles';
const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString());

describe('scheduler.yaml', () => {
  const schedule = loadSchedule(join(ROOT, 'scheduler.yaml'));
  const byName = Object.fromEntries(schedule.jobs.map((j) => [j.name, j]));

  it('lists every SPEC 1 job with cron, time zone and target function', () => {
    expect(Object.keys(byName).sort()).toEqual(
      ['configCheck', 'healthCheck', 'krakenPull', 'macroAnalysis', 'reports', 'retentionCleanup', 'retrain', 'weeklyReport'].sort(),
    );
    expect(byName.krakenPull).toMatchObject({ schedule: '* * * * *', timeZone: 'Etc/UTC', function: 'kraken-pull', enabled: true });
    expect(byName.macroAnalysis).toMatchObject({ schedule: '*/5 * * * *', function: 'macro-analysis' });
    expect(byName.healthCheck).toMatchObject({ schedule: '* * * * *', function: 'health-check' });
    expect(byName.configCheck).toMatchObject({ schedule: '* * * * *', function: 'config-check' });
    expect(byName.retentionCleanup).toMatchObject({ function: 'retention-cleanup' });
    expect(byName.reports).toMatchObject({ schedule: '0 7,19 * * *', timeZone: LA, function: 'reports', body: { period: 'daily' } });
    expect(byName.weeklyReport).toMatchObject({ schedule: '0 19 * * 0', timeZone: LA, function: 'reports', body: { period: 'weekly' } });
    expect(byName.retrain).toMatchObject({ schedule: '0 2 * * *', timeZone: LA, function: 'retrain' });
    for (const j of schedule.jobs) expect(j.description.length).toBeGreaterThan(10);
  });

  it('rejects a bad file with every problem named', () => {
    const bad = `version: 1
jobs:
  a:
    description: x
    schedule: "0 2 * *"
    timeZone: Mars/Olympus
    function: Bad_Name
    extra: 1
`;
    let msg = '';
    try {
      parseSchedule(bad, 'bad.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('bad.yaml is invalid');
    expect(msg).toContain('jobs.a.schedule: cron "0 2 * *" must have exactly 5 fields');
    expect(msg).toContain('jobs.a.timeZone: unknown time zone "Mars/Olympus"');
    expect(msg).toContain('jobs.a.function: function must be a lower-case deployed function name');
    expect(msg).toContain('Unrecognized key: "extra"');
    expect(() => parseSchedule('jobs: [1, 2', 'x.yaml')).toThrow(/x.yaml: not valid YAML/);
  });
});

describe('cron next-fire times with time zones', () => {
  it('reports at 07:00 and 19:00 Los Angeles move from 15:00Z to 14:00Z across the March DST change', () => {
    const c = new CronSchedule('0 7,19 * * *', LA);
    expect(iso(c.nextN(Date.parse('2025-03-08T12:00:00Z'), 4))).toEqual([
      '2025-03-08T15:00:00.000Z', // 07:00 PST
      '2025-03-09T03:00:00.000Z', // 19:00 PST (Mar 8)
      '2025-03-09T14:00:00.000Z', // 07:00 PDT
      '2025-03-10T02:00:00.000Z', // 19:00 PDT (Mar 9)
    ]);
  });

  it('a 02:00 job runs once on the spring-forward day (at 03:00 PDT) and once on the fall-back day', () => {
    const c = new CronSchedule('0 2 * * *', LA);
    expect(iso(c.nextN(Date.parse('2025-03-08T00:00:00Z'), 3))).toEqual([
      '2025-03-08T10:00:00.000Z',
      '2025-03-09T10:00:00.000Z', // 02:00 does not exist: 03:00 PDT
      '2025-03-10T09:00:00.000Z',
    ]);
    expect(iso(c.nextN(Date.parse('2025-11-01T00:00:00Z'), 3))).toEqual([
      '2025-11-01T09:00:00.000Z',
      '2025-11-02T10:00:00.000Z', // 02:00 PST
      '2025-11-03T10:00:00.000Z',
    ]);
  });

  it('a fixed time inside the repeated hour fires once; wildcard-hour jobs keep their cadence', () => {
    expect(iso(new CronSchedule('30 1 * * *', LA).nextN(Date.parse('2025-11-01T12:00:00Z'), 2))).toEqual([
      '2025-11-02T08:30:00.000Z', // first 01:30 (PDT) only
      '2025-11-03T09:30:00.000Z',
    ]);
    // Every minute from 00:59 PDT through the repeated 01:xx hour: one fire per real minute.
    const minute = new CronSchedule('* * * * *', LA).nextN(Date.parse('2025-11-02T07:59:00Z'), 180);
    for (let i = 1; i < minute.length; i++) expect(minute[i]! - minute[i - 1]!).toBe(60_000);
    const hourly = new CronSchedule('0 * * * *', LA).nextN(Date.parse('2025-11-02T07:30:00Z'), 4);
    expect(iso(hourly)).toEqual(['2025-11-02T08:00:00.000Z', '2025-11-02T09:00:00.000Z', '2025-11-02T10:00:00.000Z', '2025-11-02T11:00:00.000Z']);
    // Through the spring-forward gap, every minute is still every real minute.
    const spring = new CronSchedule('*/5 * * * *', LA).nextN(Date.parse('2025-03-09T09:40:00Z'), 8);
    for (let i = 1; i < spring.length; i++) expect(spring[i]! - spring[i - 1]!).toBe(300_000);
  });

  it('weekly Sunday 19:00 Los Angeles and UTC jobs', () => {
    expect(iso(new CronSchedule('0 19 * * 0', LA).nextN(Date.parse('2025-03-01T00:00:00Z'), 3))).toEqual([
      '2025-03-03T03:00:00.000Z', // Sun Mar 2 19:00 PST
      '2025-03-10T02:00:00.000Z', // Sun Mar 9 19:00 PDT
      '2025-03-17T02:00:00.000Z',
    ]);
    expect(new CronSchedule('30 3 * * *', 'Etc/UTC').next(Date.parse('2025-06-01T03:30:00Z'))).toBe(Date.parse('2025-06-02T03:30:00Z'));
    expect(new CronSchedule('* * * * *', 'Etc/UTC').next(Date.parse('2025-06-01T03:30:59.999Z'))).toBe(Date.parse('2025-06-01T03:31:00Z'));
  });
});
