/**
 * retention-cleanup (Cloud Scheduler, daily): deletes hot-store candles older than
 * SystemConfig.retentionDays per interval; intervals with null retention are kept forever; and
 * idempotency markers older than SystemConfig.markerRetentionDays.
 */
import type { Ports } from '../ports/ports.js';
import { markerCollections, pruneMarkers } from '../health/markers.js';
import { cleanupRetention } from '../health/retention.js';
import { PAPER_ACCOUNT_ID } from '../model/trading.js';

export const FUNCTION_NAME = 'retention-cleanup';

export type Deps = Pick<Ports, 'state' | 'clock' | 'log' | 'config'>;

export async function handle(deps: Deps, _body?: unknown): Promise<Record<string, unknown>> {
  const cfg = await deps.config.system();
  const r = await cleanupRetention(deps.state, cfg, deps.clock.now(), { log: deps.log });
  const markers = await pruneMarkers(deps.state, markerCollections([PAPER_ACCOUNT_ID]), cfg.markerRetentionDays, deps.clock.now());
  return { deleted: r.deleted, totalDeleted: r.totalDeleted, seriesScanned: r.seriesScanned, truncated: r.truncated.length, markers };
}
