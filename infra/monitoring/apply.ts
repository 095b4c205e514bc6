/**
 * Cloud Monitoring as code: the dashboard and the alert policies (infra/monitoring/*), applied by the
 * deploy through @google-cloud/monitoring (alert policies, notification channels) and
 * @google-cloud/monitoring-dashboards (the dashboard). Idempotent: each resource is found by its
 * display name (and a `cst-managed` user label), created when missing, updated when it differs, left
 * alone when equal.
 *
 * CONTRACT (issue 13): the signatures below are what scripts/deploy.ts calls; the bodies are built by
 * the observability work and replace these placeholders.
 */

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
}

export interface MonitoringApplyReport {
  /** One line per resource: `create|update|unchanged kind displayName`. */
  actions: Array<{ action: 'create' | 'update' | 'unchanged'; kind: 'alertPolicy' | 'dashboard' | 'notificationChannel'; name: string }>;
}

/** The real clients (loaded on first use). */
export async function createMonitoringApi(): Promise<MonitoringApi> {
  throw new Error('createMonitoringApi: built by the observability work of issue 13');
}

/** Applies the dashboard and the alert policies (and their notification channel) to the project. */
export async function applyMonitoring(_api: MonitoringApi, _o: MonitoringApplyOptions): Promise<MonitoringApplyReport> {
  throw new Error('applyMonitoring: built by the observability work of issue 13');
}
