/**
 * System alert events published on `system-alerts`. Each state CHANGE raises one event (not one per
 * evaluation): producers keep the current state in the state store and publish only on transitions,
 * with a deterministic `alertId` so a redelivered or retried publish is recognisable downstream.
 */
import { z } from 'zod';

export const ALERT_KINDS = [
  'data_stale',
  'data_fresh',
  'bad_data',
  'config_rejected',
  'config_applied',
  'holder_disconnected',
  'holder_reconnected',
  'protection_changed',
  'trading_mode_changed',
  'live_order_issue',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const alertSchema = z.object({
  alertId: z.string().min(1),
  kind: z.enum(ALERT_KINDS),
  severity: z.enum(['info', 'warning', 'critical']),
  /** Symbol or config name the alert is about, when there is one. */
  subject: z.string().optional(),
  message: z.string().min(1),
  ts: z.number().int(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type Alert = z.infer<typeof alertSchema>;
