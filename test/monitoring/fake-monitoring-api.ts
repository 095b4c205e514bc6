/**
 * An in-memory Cloud Monitoring (alert policies, notification channels, dashboards) behind the
 * MonitoringApi port (infra/monitoring/apply.ts), stateful like the API: it validates what it is given
 * against the API schema (unknown fields are refused), assigns resource names (policies, their
 * conditions, channels, dashboards), adds what the server adds (creation / mutation records, etags,
 * a channel's verification status), stores without the proto3 defaults (as the REST answers omit
 * them), checks a dashboard update's etag, and records every mutating call.
 */
import type { Json, MonitoringApi } from '../../infra/monitoring/apply.js';
import { PROTO_TYPES, validateJson, type ProtoTypeName } from '../../infra/monitoring/proto-json.js';

export interface MutatingCall {
  method: 'createAlertPolicy' | 'updateAlertPolicy' | 'createDashboard' | 'updateDashboard' | 'createNotificationChannel' | 'updateNotificationChannel';
  name: string;
}

function withoutDefaults(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(withoutDefaults);
  if (x && typeof x === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(x)) {
      if (v === 0 || v === '' || v === false || (Array.isArray(v) && v.length === 0)) continue;
      out[k] = withoutDefaults(v);
    }
    return out;
  }
  return x;
}

const clone = <T>(x: T): T => structuredClone(x);

export class InMemoryMonitoringApi implements MonitoringApi {
  readonly policies = new Map<string, Json>();
  readonly dashboards = new Map<string, Json>();
  readonly channels = new Map<string, Json>();
  readonly calls: MutatingCall[] = [];
  private seq = 0;
  private readonly time = '2026-01-01T00:00:00Z';

  private check(type: ProtoTypeName, x: Json): void {
    const errors = validateJson(type, x);
    if (errors.length > 0) throw new Error(`INVALID_ARGUMENT: ${errors.join('; ')}`);
  }

  private id(): string {
    return String(++this.seq);
  }

  private inProject(map: Map<string, Json>, project: string): Json[] {
    return [...map.entries()].filter(([name]) => name.startsWith(`projects/${project}/`)).map(([, v]) => clone(v));
  }

  async listAlertPolicies(project: string): Promise<Json[]> {
    return this.inProject(this.policies, project);
  }

  private storePolicy(name: string, policy: Json, created: Json): Json {
    const conditions = ((policy.conditions ?? []) as Json[]).map((c, i) => ({ ...c, name: `${name}/conditions/${i + 1}${this.id()}` }));
    const stored = withoutDefaults({ ...policy, name, conditions, creationRecord: created, mutationRecord: { mutateTime: this.time, mutatedBy: 'deploy@example.iam' } }) as Json;
    this.policies.set(name, stored);
    return clone(stored);
  }

  /**
   * As the API answers (seen in the field): the next this-many policy writes that reference a
   * logging.googleapis.com/user/ metric fail NOT_FOUND, as for a log-based metric created seconds
   * before; and every condition filter must restrict resource.type.
   */
  unknownLogMetricWrites = 0;

  private checkPolicyRules(policy: Json): void {
    for (const c of (policy.conditions ?? []) as Json[]) {
      for (const kind of ['conditionThreshold', 'conditionAbsent'] as const) {
        const cond = c[kind] as Json | undefined;
        for (const f of [cond?.filter, cond?.denominatorFilter]) {
          if (typeof f === 'string' && !/\bresource\.type\s*=/.test(f)) throw new Error(`INVALID_ARGUMENT: Field alert_policy.conditions.filter had an invalid value of "${f}": must specify a restriction on "resource.type" in the filter`);
        }
      }
    }
    const text = JSON.stringify(policy);
    const m = /logging\.googleapis\.com\/user\/[a-z0-9_]+/.exec(text);
    if (m && this.unknownLogMetricWrites > 0) {
      this.unknownLogMetricWrites--;
      throw Object.assign(new Error(`5 NOT_FOUND: Cannot find metric(s) that match type = "${m[0]}". If a metric was created recently, it could take up to 10 minutes to become available.`), { code: 5 });
    }
  }

  async createAlertPolicy(project: string, policy: Json): Promise<Json> {
    this.check(PROTO_TYPES.alertPolicy, policy);
    this.checkPolicyRules(policy);
    if (policy.name) throw new Error('INVALID_ARGUMENT: name is assigned by the server');
    const name = `projects/${project}/alertPolicies/${this.id()}`;
    this.calls.push({ method: 'createAlertPolicy', name });
    return this.storePolicy(name, policy, { mutateTime: this.time, mutatedBy: 'deploy@example.iam' });
  }

  async updateAlertPolicy(policy: Json): Promise<Json> {
    this.check(PROTO_TYPES.alertPolicy, policy);
    this.checkPolicyRules(policy);
    const name = String(policy.name);
    const cur = this.policies.get(name);
    if (!cur) throw new Error(`NOT_FOUND: ${name}`);
    this.calls.push({ method: 'updateAlertPolicy', name });
    return this.storePolicy(name, policy, cur.creationRecord as Json);
  }

  async listDashboards(project: string): Promise<Json[]> {
    return this.inProject(this.dashboards, project);
  }

  async createDashboard(project: string, dashboard: Json): Promise<Json> {
    this.check(PROTO_TYPES.dashboard, dashboard);
    const name = `projects/${project}/dashboards/${this.id()}`;
    this.calls.push({ method: 'createDashboard', name });
    const stored = withoutDefaults({ ...dashboard, name, etag: `etag-${this.id()}` }) as Json;
    this.dashboards.set(name, stored);
    return clone(stored);
  }

  async updateDashboard(dashboard: Json): Promise<Json> {
    this.check(PROTO_TYPES.dashboard, dashboard);
    const name = String(dashboard.name);
    const cur = this.dashboards.get(name);
    if (!cur) throw new Error(`NOT_FOUND: ${name}`);
    if (dashboard.etag !== undefined && dashboard.etag !== cur.etag) throw new Error(`ABORTED: etag ${String(dashboard.etag)} is not the current ${String(cur.etag)}`);
    this.calls.push({ method: 'updateDashboard', name });
    const stored = withoutDefaults({ ...dashboard, name, etag: `etag-${this.id()}` }) as Json;
    this.dashboards.set(name, stored);
    return clone(stored);
  }

  async listNotificationChannels(project: string): Promise<Json[]> {
    return this.inProject(this.channels, project);
  }

  async createNotificationChannel(project: string, channel: Json): Promise<Json> {
    this.check(PROTO_TYPES.notificationChannel, channel);
    const name = `projects/${project}/notificationChannels/${this.id()}`;
    this.calls.push({ method: 'createNotificationChannel', name });
    const stored = withoutDefaults({ ...channel, name, verificationStatus: 'VERIFICATION_STATUS_UNSPECIFIED', creationRecord: { mutateTime: this.time } }) as Json;
    this.channels.set(name, stored);
    return clone(stored);
  }

  async updateNotificationChannel(channel: Json): Promise<Json> {
    this.check(PROTO_TYPES.notificationChannel, channel);
    const name = String(channel.name);
    const cur = this.channels.get(name);
    if (!cur) throw new Error(`NOT_FOUND: ${name}`);
    this.calls.push({ method: 'updateNotificationChannel', name });
    const stored = withoutDefaults({ ...cur, ...channel, name }) as Json;
    this.channels.set(name, stored);
    return clone(stored);
  }
}
