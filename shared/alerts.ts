/**
 * The system alerts' builders: the alerts that come from an event of another module (a protection
 * change, a live executor issue) made into `system-alerts` messages (the schema is the catalog's,
 * shared/messages.ts `alertSchema`), and the attributes an alert is published with. Producers publish
 * with the catalog's typed `publish(bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) })`.
 */
import type { Alert } from './messages.js';
import type { ProtectionEvent } from './protection/model.js';
import type { LiveEvent } from './trading/live/ledger.js';

/** Attributes of an alert message: its kind and severity, and its id for de-duplication downstream. */
export function alertAttributes(a: Alert): Record<string, string> {
  return { kind: a.kind, severity: a.severity, dedupeId: a.alertId };
}

/** A protection / filter change (one alert per change). */
export function protectionAlert(e: ProtectionEvent): Alert {
  return {
    alertId: e.eventId,
    kind: 'protection_changed',
    severity: e.severity,
    subject: e.subject,
    message: e.message,
    ts: e.ts,
    details: { ...e.details, change: e.kind },
  };
}

/**
 * A live executor issue (kind `live_order_issue`), one per issue with its deterministic id, so the
 * caller publishes `LiveResult.issues` like any other alert. Severity: a position the exchange holds
 * that nothing manages (orphaned fill) or an exit that could not be completed is critical; a refused /
 * re-sent order is a warning; a group that ended unfilled is info.
 */
export function liveIssueAlert(e: LiveEvent): Alert {
  if (e.type === 'live_group_cancelled') {
    return {
      alertId: e.eventId,
      kind: 'live_order_issue',
      severity: 'info',
      subject: e.symbol,
      message: `${e.symbol} ${e.strategy} ${e.direction}: live group ended unfilled (${e.reason})`,
      ts: e.ts,
      details: { groupId: e.groupId, signalId: e.signalId, reason: e.reason },
    };
  }
  const critical = e.issue === 'orphaned_fill' || e.action === 'gave_up';
  return {
    alertId: e.eventId,
    kind: 'live_order_issue',
    severity: critical ? 'critical' : 'warning',
    subject: e.symbol,
    message: `${e.symbol} ${e.strategy} ${e.direction}: ${e.issue} (${e.action}): ${e.detail}`,
    ts: e.ts,
    details: { groupId: e.groupId, signalId: e.signalId, leg: e.leg, clientOrderId: e.clientOrderId, issue: e.issue, action: e.action },
  };
}
