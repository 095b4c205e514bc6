/**
 * Price sanity (SPEC 2, issue 2 §8): a candle that moved more than `maxMoveFractionPerMinute` within
 * one minute (against its own open or the previous close) is flagged `bad_data`: stored, never
 * forwarded as tradable. The threshold scales with nothing: it is per candle of any interval whose
 * minute-level move we cannot see, so longer candles are judged on the same fraction.
 */
import type { Candle } from './types.js';

export interface QualityConfig {
  maxMoveFractionPerMinute: number;
}

export function moveFraction(from: number, to: number): number {
  return from > 0 ? Math.abs(to - from) / from : Number.POSITIVE_INFINITY;
}

/** Why a candle is impossible or implausible, or null when it is fine. */
export function badDataReason(c: Candle, prevClose: number | undefined, cfg: QualityConfig): string | null {
  const values = [c.open, c.high, c.low, c.close];
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) return 'non-positive or non-finite price';
  if (!Number.isFinite(c.volume) || c.volume < 0) return 'negative or non-finite volume';
  if (c.low > Math.min(c.open, c.close) || c.high < Math.max(c.open, c.close)) return 'OHLC out of order';
  const range = moveFraction(c.low, c.high);
  if (range > cfg.maxMoveFractionPerMinute) return `range ${(range * 100).toFixed(1)}% within the candle`;
  if (prevClose !== undefined) {
    const gap = moveFraction(prevClose, c.open);
    if (gap > cfg.maxMoveFractionPerMinute) return `open ${(gap * 100).toFixed(1)}% away from the previous close`;
  }
  return null;
}

/**
 * Flags bad candles in an ascending series (the first is judged against `prevClose`). A flagged
 * candle does not become the reference for the next one, so one spike does not flag its recovery.
 */
export function flagBadData(
  candles: Candle[],
  prevClose: number | undefined,
  cfg: QualityConfig,
): { candles: Candle[]; flagged: Array<{ candle: Candle; reason: string }> } {
  let ref = prevClose;
  const flagged: Array<{ candle: Candle; reason: string }> = [];
  const out = candles.map((c) => {
    const reason = badDataReason(c, ref, cfg);
    if (reason) {
      const bad: Candle = { ...c, flags: [...new Set([...(c.flags ?? []), 'bad_data' as const])] };
      flagged.push({ candle: bad, reason });
      return bad;
    }
    ref = c.close;
    return c;
  });
  return { candles: out, flagged };
}
