/**
 * Cloud Monitoring as code: the dashboard (dashboard.ts) and the alert policies (alert-policies.ts),
 * with their notification channel, applied by the deploy through @google-cloud/monitoring (alert
 * policies, notification channels) and @google-cloud/monitoring-dashboards (the dashboard).
 * Idempotent: each resource is found by its display name AND the `cst-managed` label, created when
 * missing, updated only when the desired JSON differs from the stored one (compared on the desired
 * fields: what the server adds, names, etags, mutation records, defaults it fills in, is not a
 * difference), left alone when equal. Every desired resource is validated against the API's schema
 * (proto-json.ts) before anything is changed.
 */
import { buildAlertPolicies } from './alert-policies.js';
import { buildDashboard } from './dashboard.js';
import { jsonToProto, PROTO_TYPES, protoToJson, validateJson, type ProtoTypeName } from './proto-json.js';
import { MANAGED_LABEL_KEY, MANAGED_LABELS } from './targets.js';

/** The REST/proto shapes (camelCase JSON) of what is applied. */
export type Json = Record<string, unknown>;

/** The calls the apply needs, as a port: the real client libraries or an in-memory fake in tests. */
export interface MonitoringApi {
  listAlertPolicies(project: string): Promise<Json[]>;
  createAlertPolicy(project: string, policy: Json): Promise<Json>;
  updateAlertPolicy(policy: Json): Promise<Json>;
  listDashboards(project: string): Promise<Json[]>;
  createDashboard(project: string, dashboard: Json): Promise<Json>;
  updateDashboard(dashboard: Json): Promise<Json>;
  listNotificationChannels(project: string): Promise<Json[]>;
  createNotificationChannel(project: string, channel: Json): Promise<Json>;
  updateNotificationChannel(channel: Json): Promise<Json>;
}

export interface MonitoringApplyOptions {
  project: string;
  /** Print what would change; change nothing. */
  dryRun?: boolean;
  /** Email address the alerts notify (an email notification channel); none: the policies notify nobody (the console shows them). */
  alertEmail?: string;
  /** Daily drawdown alert level, % (default: the config's protections.accountGuards.dailyDrawdownAlertPct). */
  dailyDrawdownAlertPct?: number;
  /** Waits between retries of a policy whose new log-based metric Monitoring does not know yet (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A log-based metric created seconds before is unknown to Monitoring for up to ~10 minutes: creating
 * or updating a policy on it fails with NOT_FOUND "Cannot find metric(s)". Retried this often, this far apart.
 */
export const METRIC_PROPAGATION_RETRIES = 20;
export const METRIC_PROPAGATION_WAIT_MS = 30_000;

function metricNotYetKnown(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /cannot find metric/i.test(m) || ((e as { code?: unknown })?.code === 5 && /logging\.googleapis\.com\/user\//.test(m));
}

/** `fn`, retried while Monitoring does not know a just-created log-based metric yet. */
async function whileMetricPropagates<T>(fn: () => Promise<T>, sleep: (ms: number) => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!metricNotYetKnown(e) || attempt >= METRIC_PROPAGATION_RETRIES) throw e;
      await sleep(METRIC_PROPAGATION_WAIT_MS);
    }
  }
}

type Kind = 'alertPolicy' | 'dashboard' | 'notificationChannel';

export interface MonitoringApplyReport {
  /** One line per resource: `create|update|unchanged kind displayName`. */
  actions: Array<{ action: 'create' | 'update' | 'unchanged'; kind: Kind; name: string }>;
}

/** Display name of the email notification channel the deploy manages. */
export const EMAIL_CHANNEL_NAME = 'cst alerts: email';

/** The notification channels the options ask for. */
export function buildNotificationChannels(o: Pick<MonitoringApplyOptions, 'alertEmail'>): Json[] {
  if (!o.alertEmail) return [];
  return [{ type: 'email', displayName: EMAIL_CHANNEL_NAME, labels: { email_address: o.alertEmail }, userLabels: { ...MANAGED_LABELS }, enabled: true }];
}

/** The real clients (loaded on first use); every answer converted to proto3 JSON. */
export async function createMonitoringApi(): Promise<MonitoringApi> {
  const [monitoring, dashboardsLib] = await Promise.all([import('@google-cloud/monitoring'), import('@google-cloud/monitoring-dashboards')]);
  const alerts = new monitoring.AlertPolicyServiceClient();
  const channels = new monitoring.NotificationChannelServiceClient();
  const dashboards = new dashboardsLib.DashboardsServiceClient();
  const P = PROTO_TYPES;
  const out = (t: ProtoTypeName, x: unknown): Json => protoToJson(t, x as Json);
  const req = (t: ProtoTypeName, x: Json): never => jsonToProto(t, x) as never;
  const parent = (project: string) => `projects/${project}`;
  return {
    async listAlertPolicies(project) {
      const [items] = await alerts.listAlertPolicies({ name: parent(project) });
      return items.map((x) => out(P.alertPolicy, x));
    },
    async createAlertPolicy(project, policy) {
      const [r] = await alerts.createAlertPolicy({ name: parent(project), alertPolicy: req(P.alertPolicy, policy) });
      return out(P.alertPolicy, r);
    },
    async updateAlertPolicy(policy) {
      const [r] = await alerts.updateAlertPolicy({ alertPolicy: req(P.alertPolicy, policy) });
      return out(P.alertPolicy, r);
    },
    async listDashboards(project) {
      const [items] = await dashboards.listDashboards({ parent: parent(project) });
      return items.map((x) => out(P.dashboard, x));
    },
    async createDashboard(project, dashboard) {
      const [r] = await dashboards.createDashboard({ parent: parent(project), dashboard: req(P.dashboard, dashboard) });
      return out(P.dashboard, r);
    },
    async updateDashboard(dashboard) {
      const [r] = await dashboards.updateDashboard({ dashboard: req(P.dashboard, dashboard) });
      return out(P.dashboard, r);
    },
    async listNotificationChannels(project) {
      const [items] = await channels.listNotificationChannels({ name: parent(project) });
      return items.map((x) => out(P.notificationChannel, x));
    },
    async createNotificationChannel(project, channel) {
      const [r] = await channels.createNotificationChannel({ name: parent(project), notificationChannel: req(P.notificationChannel, channel) });
      return out(P.notificationChannel, r);
    },
    async updateNotificationChannel(channel) {
      const [r] = await channels.updateNotificationChannel({ notificationChannel: req(P.notificationChannel, channel) });
      return out(P.notificationChannel, r);
    },
  };
}

const isDefault = (v: unknown): boolean =>
  v === 0 || v === '' || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

/**
 * True when every field of `desired` has the same value in `stored` (recursively; arrays element by
 * element and of the same length). Fields only the stored copy has (name, etag, creation and mutation
 * records, condition names, defaults) are not differences; a field the server omits because it holds
 * its proto3 default equals that default; numbers equal their decimal strings (int64 answers).
 */
export function sameAsStored(desired: unknown, stored: unknown): boolean {
  if (stored === undefined || stored === null) return isDefault(desired);
  if (Array.isArray(desired)) return Array.isArray(stored) && stored.length === desired.length && desired.every((d, i) => sameAsStored(d, stored[i]));
  if (typeof desired === 'object' && desired !== null) {
    if (typeof stored !== 'object' || Array.isArray(stored)) return false;
    return Object.entries(desired as Json).every(([k, v]) => sameAsStored(v, (stored as Json)[k]));
  }
  if (typeof desired === 'number' && typeof stored === 'string') return String(desired) === stored || Number(stored) === desired;
  return desired === stored;
}

function labelsOf(kind: Kind, x: Json): Record<string, string> {
  return ((kind === 'dashboard' ? x.labels : x.userLabels) ?? {}) as Record<string, string>;
}

function findManaged(kind: Kind, existing: readonly Json[], displayName: string): Json | undefined {
  return existing.find((x) => x.displayName === displayName && labelsOf(kind, x)[MANAGED_LABEL_KEY] === MANAGED_LABELS[MANAGED_LABEL_KEY]);
}

const TYPE_OF: Record<Kind, ProtoTypeName> = {
  alertPolicy: PROTO_TYPES.alertPolicy,
  dashboard: PROTO_TYPES.dashboard,
  notificationChannel: PROTO_TYPES.notificationChannel,
};

/** Throws with every schema error of the desired resources (nothing is applied then). */
function assertValid(kind: Kind, items: readonly Json[]): void {
  const errors = items.flatMap((x) => validateJson(TYPE_OF[kind], x).map((e) => `${kind} "${String(x.displayName)}": ${e}`));
  if (errors.length > 0) throw new Error(`monitoring resources do not match the API schema:\n${errors.join('\n')}`);
}

/** Applies the dashboard and the alert policies (and their notification channel) to the project. */
export async function applyMonitoring(api: MonitoringApi, o: MonitoringApplyOptions): Promise<MonitoringApplyReport> {
  const report: MonitoringApplyReport = { actions: [] };
  const desiredChannels = buildNotificationChannels(o);
  assertValid('notificationChannel', desiredChannels);

  async function reconcile(kind: Kind, desired: Json, existing: readonly Json[], create: () => Promise<Json>, update: (stored: Json) => Promise<Json>): Promise<Json> {
    const name = String(desired.displayName);
    const stored = findManaged(kind, existing, name);
    if (!stored) {
      report.actions.push({ action: 'create', kind, name });
      return o.dryRun ? { ...desired, name: `(new ${kind}: ${name})` } : create();
    }
    if (sameAsStored(desired, stored)) {
      report.actions.push({ action: 'unchanged', kind, name });
      return stored;
    }
    report.actions.push({ action: 'update', kind, name });
    return o.dryRun ? stored : update(stored);
  }

  const existingChannels = desiredChannels.length > 0 ? await api.listNotificationChannels(o.project) : [];
  const channelNames: string[] = [];
  for (const c of desiredChannels) {
    const applied = await reconcile(
      'notificationChannel',
      c,
      existingChannels,
      () => api.createNotificationChannel(o.project, c),
      (stored) => api.updateNotificationChannel({ ...c, name: stored.name }),
    );
    channelNames.push(String(applied.name));
  }

  const policies = buildAlertPolicies({ notificationChannels: channelNames, ...(o.dailyDrawdownAlertPct !== undefined ? { dailyDrawdownAlertPct: o.dailyDrawdownAlertPct } : {}) });
  assertValid('alertPolicy', policies);
  const dashboard = buildDashboard(o.dailyDrawdownAlertPct !== undefined ? { dailyDrawdownAlertPct: o.dailyDrawdownAlertPct } : {});
  assertValid('dashboard', [dashboard]);

  const existingPolicies = await api.listAlertPolicies(o.project);
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (const p of policies) {
    await reconcile(
      'alertPolicy',
      p,
      existingPolicies,
      () => whileMetricPropagates(() => api.createAlertPolicy(o.project, p), sleep),
      (stored) => whileMetricPropagates(() => api.updateAlertPolicy({ ...p, name: stored.name }), sleep),
    );
  }
  const existingDashboards = await api.listDashboards(o.project);
  await reconcile(
    'dashboard',
    dashboard,
    existingDashboards,
    () => api.createDashboard(o.project, dashboard),
    (stored) => api.updateDashboard({ ...dashboard, name: stored.name, ...(stored.etag ? { etag: stored.etag } : {}) }),
  );
  return report;
}
