/**
 * A minimal stateful MonitoringApi for the deploy's twice-run test, written by the deploy helper of
 * issue 13 because test/monitoring/fake-monitoring-api.ts (owned by the observability work) was not on
 * main yet; once it is, the twice-run test can import that one instead. Names resources like the API.
 */
import type { Json, MonitoringApi } from '../../infra/monitoring/apply.js';

export class InMemoryMonitoringApi implements MonitoringApi {
  readonly policies: Json[] = [];
  readonly dashboards: Json[] = [];
  readonly channels: Json[] = [];
  /** Every create / update call, in order. */
  readonly writes: string[] = [];
  private n = 0;

  private add(list: Json[], kind: string, project: string, x: Json): Json {
    const saved = { ...x, name: `projects/${project}/${kind}/${++this.n}` };
    list.push(saved);
    this.writes.push(`create ${kind}`);
    return saved;
  }

  private replace(list: Json[], kind: string, x: Json): Json {
    const i = list.findIndex((p) => p.name === x.name);
    if (i < 0) throw new Error(`NOT_FOUND: ${String(x.name)}`);
    list[i] = { ...x };
    this.writes.push(`update ${kind}`);
    return list[i]!;
  }

  async listAlertPolicies(): Promise<Json[]> {
    return this.policies.map((p) => ({ ...p }));
  }
  async createAlertPolicy(project: string, policy: Json): Promise<Json> {
    return this.add(this.policies, 'alertPolicies', project, policy);
  }
  async updateAlertPolicy(policy: Json): Promise<Json> {
    return this.replace(this.policies, 'alertPolicies', policy);
  }
  async listDashboards(): Promise<Json[]> {
    return this.dashboards.map((d) => ({ ...d }));
  }
  async createDashboard(project: string, dashboard: Json): Promise<Json> {
    return this.add(this.dashboards, 'dashboards', project, dashboard);
  }
  async updateDashboard(dashboard: Json): Promise<Json> {
    return this.replace(this.dashboards, 'dashboards', dashboard);
  }
  async listNotificationChannels(): Promise<Json[]> {
    return this.channels.map((c) => ({ ...c }));
  }
  async createNotificationChannel(project: string, channel: Json): Promise<Json> {
    return this.add(this.channels, 'notificationChannels', project, channel);
  }
  async updateNotificationChannel(channel: Json): Promise<Json> {
    return this.replace(this.channels, 'notificationChannels', channel);
  }
}
