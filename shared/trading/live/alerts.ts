/**
 * The live executor's issues as `system-alerts` events (kind `live_order_issue`), one per issue with
 * its deterministic id, so the caller publishes `LiveResult.issues` like any other alert.
 * Severity: a position the exchange holds that nothing manages (orphaned fill) or an exit that could
 * not be completed is critical; a refused / re-sent order is a warning; a group that ended unfilled
 * is info.
 */
import type { Alert } from '../../alerts.js';
import type { LiveEvent } from './ledger.js';

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
