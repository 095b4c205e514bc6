/**
 * The protection alerts as raised (`protection_changed` on `system-alerts`: regime changes, cooldowns,
 * halts, disabled setups...), kept for the dashboard's Market page: `protection_alerts/{alertId}`.
 * Written by whoever consumes the alerts (the notifier: one call per alert); a redelivered alert
 * writes the same document (idempotent by its deterministic id). Pruned by the daily retention job
 * with the other markers (`ts`).
 */
import type { DocData, StateStore } from '../ports/state.js';
import { z } from 'zod';
import type { Alert } from '../messages.js';
import { PROTECTION_ALERTS_COLLECTION, protectionAlertPath } from '../state-paths.js';

const storedAlertSchema = z.object({
  alertId: z.string().min(1),
  kind: z.string(),
  severity: z.string(),
  subject: z.string().nullable(),
  message: z.string(),
  ts: z.number().finite(),
  /** The protection event's own kind (`regime_changed`, `cooldown_started`...). */
  change: z.string().nullable(),
});
export type StoredProtectionAlert = z.infer<typeof storedAlertSchema>;

/** Keeps `a` when it is a protection alert (anything else: nothing). Returns whether it was kept. */
export async function recordProtectionAlert(state: Pick<StateStore, 'set'>, a: Alert): Promise<boolean> {
  if (a.kind !== 'protection_changed') return false;
  const change = typeof a.details?.change === 'string' ? a.details.change : null;
  const doc: StoredProtectionAlert = { alertId: a.alertId, kind: a.kind, severity: a.severity, subject: a.subject ?? null, message: a.message, ts: a.ts, change };
  await state.set(protectionAlertPath(a.alertId), doc as unknown as DocData);
  return true;
}

/** The newest `n` stored protection alerts, newest first (an unreadable document is left out). */
export async function recentProtectionAlerts(state: Pick<StateStore, 'query'>, n: number): Promise<StoredProtectionAlert[]> {
  const docs = await state.query<unknown>(PROTECTION_ALERTS_COLLECTION, { orderBy: { field: 'ts', direction: 'desc' }, limit: n });
  return docs.flatMap((d) => {
    const v = storedAlertSchema.safeParse(d.data);
    return v.success ? [v.data] : [];
  });
}
