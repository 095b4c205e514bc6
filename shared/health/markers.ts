/**
 * Idempotency markers (processed Telegram updates, applied signals and fills, published swing
 * signals) are needed only while a redelivery can still arrive. Pub/Sub keeps an unacknowledged
 * message for at most 7 days and Telegram retries an update for about a day, so markers older than
 * `SystemConfig.markerRetentionDays` are deleted by the daily retention job, in bounded batches.
 */
import type { StateStore, WriteOp } from '../ports/state.js';
import { MAX_BATCH_WRITES } from '../market/hot-store.js';
import { DAY_MS } from './retention.js';
import { DASHBOARD_ACTIONS_COLLECTION, DASHBOARD_LOGINS_COLLECTION, PROTECTION_ALERTS_COLLECTION, externalMarkersCollection, signalMarkersCollection, SWING_PUBLISHED_COLLECTION, TG_UPDATES_COLLECTION } from '../state-paths.js';

interface MarkerCollection {
  /** Collection path (not a collection group). */
  collection: string;
  /** Epoch-ms field the marker was written at. */
  timeField: string;
}

/** The marker collections of the system. Per-account collections are listed for the given accounts. */
export function markerCollections(accountIds: readonly string[]): MarkerCollection[] {
  return [
    { collection: TG_UPDATES_COLLECTION, timeField: 'receivedAt' },
    { collection: SWING_PUBLISHED_COLLECTION, timeField: 'publishedAt' },
    // spent dashboard login links (each expired within minutes) and the dashboard's action markers
    { collection: DASHBOARD_LOGINS_COLLECTION, timeField: 'usedAt' },
    { collection: DASHBOARD_ACTIONS_COLLECTION, timeField: 'at' },
    // the Market page's recent protection alerts (a week back is plenty for "recent")
    { collection: PROTECTION_ALERTS_COLLECTION, timeField: 'ts' },
    ...accountIds.flatMap((a) => [
      { collection: signalMarkersCollection(a), timeField: 'appliedAt' },
      { collection: externalMarkersCollection(a), timeField: 'appliedAt' },
    ]),
  ];
}

export async function pruneMarkers(
  state: StateStore,
  collections: readonly MarkerCollection[],
  retentionDays: number,
  now: number,
  maxBatches = Number.POSITIVE_INFINITY,
): Promise<Record<string, number>> {
  const cutoff = now - retentionDays * DAY_MS;
  const deleted: Record<string, number> = {};
  for (const c of collections) {
    let n = 0;
    for (let b = 0; b < maxBatches; b++) {
      const old = await state.query(c.collection, {
        where: [{ field: c.timeField, op: '<', value: cutoff }],
        orderBy: { field: c.timeField, direction: 'asc' },
        limit: MAX_BATCH_WRITES,
      });
      if (old.length === 0) break;
      await state.batch(old.map((d): WriteOp => ({ kind: 'delete', path: d.path })));
      n += old.length;
    }
    deleted[c.collection] = n;
  }
  return deleted;
}
