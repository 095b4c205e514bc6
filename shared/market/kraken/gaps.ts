/**
 * Gap detection on candle series. Kraken omits intervals with no trades (and had a maintenance
 * window on 2023-02-22 00:10-01:30 UTC): a missing interval is NOT an error and no candle is ever
 * invented for it. Gaps are reported (counts and positions) so operators can see them.
 */

export interface GapRange {
  /** Open time (ms) of the first missing candle. */
  fromMs: number;
  /** Open time (ms) of the last missing candle. */
  toMs: number;
  /** Number of missing candles in the range. */
  missing: number;
}

/**
 * Missing open times between consecutive entries of an ascending series of open times (ms).
 * `afterMs` (e.g. the previous cursor) counts as a present candle just before the series, so a gap
 * between it and the first candle is reported; missing times at or before `afterMs` are ignored
 * (they were reported when they were new). Times that do not sit on the interval grid are ignored.
 */
export function detectGaps(openTimesMs: readonly number[], intervalMs: number, afterMs?: number): GapRange[] {
  const gaps: GapRange[] = [];
  let prev = afterMs;
  for (const t of openTimesMs) {
    if (prev !== undefined && t > prev) {
      const missing = Math.floor((t - prev) / intervalMs) - 1;
      if (missing > 0) {
        const fromMs = prev + intervalMs;
        const toMs = prev + missing * intervalMs;
        const keepFrom = afterMs !== undefined ? Math.max(fromMs, afterMs + intervalMs) : fromMs;
        if (keepFrom <= toMs) gaps.push({ fromMs: keepFrom, toMs, missing: Math.round((toMs - keepFrom) / intervalMs) + 1 });
      }
    }
    if (prev === undefined || t > prev) prev = t;
  }
  return gaps;
}

export function totalMissing(gaps: readonly GapRange[]): number {
  return gaps.reduce((n, g) => n + g.missing, 0);
}
