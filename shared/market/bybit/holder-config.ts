/**
 * Settings of the Bybit holder that SystemConfig.bybit does not carry (SystemConfig is a shared
 * contract; these are holder-internal timings with conservative defaults). Validated with zod so an
 * override from the environment or a test fails loudly.
 */
import { z } from 'zod';

const ms = z.number().int().positive();

const holderSettingsSchema = z.object({
  /** A forming minute is closed by the clock this long after its end when no later trade arrived. */
  closeGraceMs: ms,
  /**
   * After a (re)connect, a minute counts as fully observed only if it began at least this long after
   * the connection was (re)established (absorbs clock skew and subscription latency). Earlier minutes
   * are taken from REST.
   */
  completeMarginMs: z.number().int().nonnegative(),
  /** Longest gap that is backfilled from REST; older missed minutes are skipped with an error log. */
  maxBackfillMinutes: z.number().int().positive(),
  /** Bybit REST kline page size (the API allows at most 1000). */
  restPageLimit: z.number().int().min(1).max(1000),
  /** Wait before asking REST again for minutes it did not have yet. */
  backfillRetryMs: ms,
  /** A minute is asked from REST only this long after its end (lets the exchange finalise it). */
  restSettleMs: z.number().int().nonnegative(),
  /** How often the holder's timer runs (candle close by clock, tick batches, snapshots, retries). */
  timerStepMs: ms,
  /** /healthz reports unhealthy when a symbol had no message for this long. */
  staleAfterMs: ms,
  /** How long to wait for a pong before the connection is considered dead. */
  pongTimeoutMs: ms,
  /** Longest run of backfilled candles in one bus message. */
  maxCandlesPerMessage: z.number().int().positive(),
  /** Recently closed candles kept for the kline.1 cross-check. */
  crossCheckWindow: z.number().int().positive(),
  /** At most this many rejected-item log lines per minute (the counters keep counting). */
  maxRejectLogsPerMinute: z.number().int().nonnegative(),
});
export type HolderSettings = z.infer<typeof holderSettingsSchema>;

const DEFAULT_HOLDER_SETTINGS: HolderSettings = {
  closeGraceMs: 2_000,
  completeMarginMs: 1_000,
  maxBackfillMinutes: 24 * 60,
  restPageLimit: 1000,
  backfillRetryMs: 5_000,
  restSettleMs: 2_000,
  timerStepMs: 250,
  staleAfterMs: 60_000,
  pongTimeoutMs: 5_000,
  maxCandlesPerMessage: 500,
  crossCheckWindow: 10,
  maxRejectLogsPerMinute: 20,
};

export function holderSettings(overrides: Partial<HolderSettings> = {}): HolderSettings {
  return holderSettingsSchema.parse({ ...DEFAULT_HOLDER_SETTINGS, ...overrides });
}
