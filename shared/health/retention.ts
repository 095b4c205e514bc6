/**
 * Hot-store retention (SPEC 2): candles older than `SystemConfig.retentionDays[interval]` are deleted
 * from `candles/{venue}:{symbol}:{interval}/bars` (full history stays in the warehouse). Intervals
 * with null retention (1d, 12h) are never touched. Deletes run in batches found by a query on
 * `openTime`, so a run is bounded in memory and idempotent (a re-run deletes nothing more).
 */
import type { StateStore, WriteOp } from '../ports/state.js';
import type { SystemConfig } from '../config/system.js';
import { INTERVALS, type Interval, type Venue } from '../model/market.js';
import { MAX_BATCH_WRITES } from '../market/hot-store.js';
import { barsCollection } from '../state-paths.js';
import { createLogger, type Logger } from '../log.js';

export const DAY_MS = 24 * 60 * 60_000;
const RETENTION_VENUES: readonly Venue[] = ['bybit', 'kraken'];

interface RetentionOptions {
  venues?: readonly Venue[];
  /** Documents deleted per batch (<= Firestore's 500 writes). */
  batchSize?: number;
  /** Stop a series after this many batches (bounds one run; the next run continues). */
  maxBatchesPerSeries?: number;
  log?: Logger;
}

interface RetentionResult {
  /** Cutoff open time per interval (null: kept forever). */
  cutoffs: Partial<Record<Interval, number | null>>;
  deleted: Partial<Record<Interval, number>>;
  totalDeleted: number;
  seriesScanned: number;
  /** Series that hit `maxBatchesPerSeries` (more to delete next run). */
  truncated: string[];
}

/** Open-time cutoff per interval: candles that opened before it are deleted. */
export function retentionCutoffs(cfg: SystemConfig, now: number): Partial<Record<Interval, number | null>> {
  const out: Partial<Record<Interval, number | null>> = {};
  for (const iv of INTERVALS) {
    const days = cfg.retentionDays[iv];
    if (days === undefined) continue;
    out[iv] = days === null ? null : now - days * DAY_MS;
  }
  return out;
}

export async function cleanupRetention(
  state: StateStore,
  cfg: SystemConfig,
  now: number,
  opts: RetentionOptions = {},
): Promise<RetentionResult> {
  const log = (opts.log ?? createLogger()).child({ component: 'retention' });
  const batchSize = Math.min(opts.batchSize ?? MAX_BATCH_WRITES, MAX_BATCH_WRITES);
  const maxBatches = opts.maxBatchesPerSeries ?? Number.POSITIVE_INFINITY;
  const cutoffs = retentionCutoffs(cfg, now);
  const result: RetentionResult = { cutoffs, deleted: {}, totalDeleted: 0, seriesScanned: 0, truncated: [] };

  for (const venue of opts.venues ?? RETENTION_VENUES) {
    for (const s of cfg.symbols) {
      for (const iv of INTERVALS) {
        const cutoff = cutoffs[iv];
        if (cutoff === null || cutoff === undefined) continue;
        const coll = barsCollection(venue, s.symbol, iv);
        result.seriesScanned++;
        let batches = 0;
        for (;;) {
          if (batches >= maxBatches) {
            result.truncated.push(coll);
            break;
          }
          const old = await state.query(coll, {
            where: [{ field: 'openTime', op: '<', value: cutoff }],
            orderBy: { field: 'openTime', direction: 'asc' },
            limit: batchSize,
          });
          if (old.length === 0) break;
          const ops: WriteOp[] = old.map((d) => ({ kind: 'delete', path: d.path }));
          await state.batch(ops);
          batches++;
          result.deleted[iv] = (result.deleted[iv] ?? 0) + old.length;
          result.totalDeleted += old.length;
          if (old.length < batchSize) break;
        }
      }
    }
  }
  log.info('retention cleanup done', { deleted: result.deleted, totalDeleted: result.totalDeleted, truncated: result.truncated.length });
  return result;
}
