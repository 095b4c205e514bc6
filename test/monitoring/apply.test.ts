/**
 * applyMonitoring (infra/monitoring/apply.ts) against the stateful in-memory Monitoring API: the first
 * run creates everything, a second run changes nothing (zero mutating calls), a drift or a changed
 * threshold updates exactly what changed, a dry run mutates nothing, resources the deploy does not
 * manage are never touched.
 */
import { describe, expect, it } from 'vitest';
import { applyMonitoring, EMAIL_CHANNEL_NAME, METRIC_PROPAGATION_RETRIES, METRIC_PROPAGATION_WAIT_MS } from '../../infra/monitoring/apply.js';
import { ALERT_NAMES } from '../../infra/monitoring/alert-policies.js';
import { DASHBOARD_DISPLAY_NAME } from '../../infra/monitoring/dashboard.js';
import { InMemoryMonitoringApi } from './fake-monitoring-api.js';

const P = 'cst-prod';
const EMAIL = 'owner@example.com';

describe('applyMonitoring', () => {
  it('creates the channel, the policies (notifying it) and the dashboard; a second run is a no-op', async () => {
    const api = new InMemoryMonitoringApi();
    const first = await applyMonitoring(api, { project: P, alertEmail: EMAIL });
    expect(first.actions.filter((a) => a.action === 'create').map((a) => a.kind)).toEqual([
      'notificationChannel',
      ...Object.values(ALERT_NAMES).map(() => 'alertPolicy'),
      'dashboard',
    ]);
    expect(api.calls).toHaveLength(1 + Object.keys(ALERT_NAMES).length + 1);
    const [channel] = await api.listNotificationChannels(P);
    expect(channel).toMatchObject({ type: 'email', displayName: EMAIL_CHANNEL_NAME, labels: { email_address: EMAIL } });
    for (const p of await api.listAlertPolicies(P)) expect(p.notificationChannels).toEqual([channel!.name]);

    const calls = api.calls.length;
    const second = await applyMonitoring(api, { project: P, alertEmail: EMAIL });
    expect(second.actions.every((a) => a.action === 'unchanged')).toBe(true);
    expect(second.actions).toHaveLength(first.actions.length);
    expect(api.calls.length).toBe(calls);
  });

  it('waits while Monitoring does not know the just-created log-based metrics yet, then creates every policy', async () => {
    const api = new InMemoryMonitoringApi();
    api.unknownLogMetricWrites = 4;
    const waits: number[] = [];
    const r = await applyMonitoring(api, { project: P, sleep: async (ms) => void waits.push(ms) });
    expect(waits).toEqual([METRIC_PROPAGATION_WAIT_MS, METRIC_PROPAGATION_WAIT_MS, METRIC_PROPAGATION_WAIT_MS, METRIC_PROPAGATION_WAIT_MS]);
    expect(r.actions.filter((a) => a.kind === 'alertPolicy' && a.action === 'create')).toHaveLength(Object.keys(ALERT_NAMES).length);
    expect(await api.listAlertPolicies(P)).toHaveLength(Object.keys(ALERT_NAMES).length);
    // it gives up, with the API's message, when the metric never shows up
    const stuck = new InMemoryMonitoringApi();
    stuck.unknownLogMetricWrites = METRIC_PROPAGATION_RETRIES + 1;
    await expect(applyMonitoring(stuck, { project: P, sleep: async () => {} })).rejects.toThrow(/Cannot find metric/);
  });

  it('a policy edited in the console (threshold drift) gets exactly one update, back to the desired value', async () => {
    const api = new InMemoryMonitoringApi();
    await applyMonitoring(api, { project: P, alertEmail: EMAIL });
    const [name, stored] = [...api.policies.entries()].find(([, p]) => p.displayName === ALERT_NAMES.reconnectStorm)!;
    const threshold = ((stored.conditions as Array<{ conditionThreshold: { thresholdValue: number } }>)[0]!.conditionThreshold.thresholdValue);
    (stored.conditions as Array<{ conditionThreshold: { thresholdValue: number } }>)[0]!.conditionThreshold.thresholdValue = threshold + 10;
    api.calls.length = 0;
    const r = await applyMonitoring(api, { project: P, alertEmail: EMAIL });
    expect(r.actions.filter((a) => a.action === 'update')).toEqual([{ action: 'update', kind: 'alertPolicy', name: ALERT_NAMES.reconnectStorm }]);
    expect(api.calls).toEqual([{ method: 'updateAlertPolicy', name }]);
    expect((api.policies.get(name)!.conditions as Array<{ conditionThreshold: { thresholdValue: number } }>)[0]!.conditionThreshold.thresholdValue).toBe(threshold);
  });

  it('a changed drawdown level updates the drawdown policy and the dashboard (its threshold line), nothing else', async () => {
    const api = new InMemoryMonitoringApi();
    await applyMonitoring(api, { project: P });
    api.calls.length = 0;
    const r = await applyMonitoring(api, { project: P, dailyDrawdownAlertPct: 4 });
    expect(r.actions.filter((a) => a.action === 'update').map((a) => a.name)).toEqual([ALERT_NAMES.drawdown, DASHBOARD_DISPLAY_NAME]);
    expect(api.calls.map((c) => c.method)).toEqual(['updateAlertPolicy', 'updateDashboard']);
    const dd = (await api.listAlertPolicies(P)).find((p) => p.displayName === ALERT_NAMES.drawdown)!;
    expect((dd.conditions as Array<{ conditionThreshold: { thresholdValue: number } }>)[0]!.conditionThreshold.thresholdValue).toBe(4);
  });

  it('a dry run reports and mutates nothing; without alertEmail no channel is made', async () => {
    const api = new InMemoryMonitoringApi();
    const r = await applyMonitoring(api, { project: P, dryRun: true });
    expect(r.actions.every((a) => a.action === 'create')).toBe(true);
    expect(r.actions.some((a) => a.kind === 'notificationChannel')).toBe(false);
    expect(api.calls).toEqual([]);
  });

  it('a same-named resource without the cst-managed label is left alone', async () => {
    const api = new InMemoryMonitoringApi();
    const foreign = await api.createDashboard(P, { displayName: DASHBOARD_DISPLAY_NAME, gridLayout: { columns: '2' } });
    api.calls.length = 0;
    await applyMonitoring(api, { project: P });
    expect(api.calls.filter((c) => c.method === 'updateDashboard')).toEqual([]);
    expect(api.dashboards.get(String(foreign.name))).toEqual(foreign);
    expect(await api.listDashboards(P)).toHaveLength(2);
  });
});
