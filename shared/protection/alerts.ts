/** Maps protection/filter change events onto the `system-alerts` schema (one alert per change). */
import type { Alert } from '../alerts.js';
import type { ProtectionEvent } from './model.js';

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
