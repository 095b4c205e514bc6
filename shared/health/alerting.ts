/**
 * Publishing of system alerts (shared/alerts.ts) on the `system-alerts` topic. Producers publish only
 * on state TRANSITIONS recorded in a transaction, with a deterministic `alertId`, so a repeated check
 * never alerts twice and a retried publish is recognisable downstream.
 */
import { alertSchema, type Alert } from '../alerts.js';
import type { Bus } from '../ports/bus.js';
import { TOPICS } from '../topics.js';

export async function publishAlert(bus: Bus, alert: Alert): Promise<string> {
  const valid = alertSchema.parse(alert);
  return bus.publish(TOPICS.alerts, valid, {
    attributes: { kind: valid.kind, severity: valid.severity, alertId: valid.alertId },
  });
}
