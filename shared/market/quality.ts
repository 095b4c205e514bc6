/**
 * Price sanity (SPEC 2, SPEC 6, issue 2 §8 / issue 8): the pure rules every producer AND every
 * consumer applies to a candle (the consumers' gate is shared/market/candle-gate.ts):
 * - integrity (`priceIntegrityReason`): finite positive prices, ordered OHLC, finite volume >= 0;
 * - the sanity band (`sanityBandReason`): a candle that moved more than `maxMoveFractionPerMinute`
 *   within itself, or opened that far from the reference close, is SUSPECT. The threshold scales with
 *   nothing: it is per candle of any interval whose minute-level move we cannot see, so longer candles
 *   are judged on the same fraction;
 * - re-anchoring (`judgeSanity`): the reference is the last good close, but after
 *   `reanchorAfterCandles` consecutive suspect candles that are consistent with each other (each
 *   inside the band of the one before), the move is real (a crash or a pump) and the last of them
 *   becomes the new reference. Without this a lasting move over the threshold would be suspect
 *   forever, and with it every stop on that coin.
 */
import type { Candle } from '../model/market.js';

export interface QualityConfig {
  maxMoveFractionPerMinute: number;
  /** Consecutive consistent suspect candles after which the reference re-anchors (default 3). */
  reanchorAfterCandles?: number;
}

/** Re-anchor count when a config predates the key. */
const DEFAULT_REANCHOR_AFTER_CANDLES = 3;

function moveFraction(from: number, to: number): number {
  return from > 0 ? Math.abs(to - from) / from : Number.POSITIVE_INFINITY;
}

type Ohlcv = Pick<Candle, 'open' | 'high' | 'low' | 'close' | 'volume'>;

/** Why the candle's numbers are impossible (non-finite, non-positive, out of order), or null. */
export function priceIntegrityReason(c: Ohlcv): string | null {
  const values = [c.open, c.high, c.low, c.close];
  if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) return 'non-positive or non-finite price';
  if (typeof c.volume !== 'number' || !Number.isFinite(c.volume) || c.volume < 0) return 'negative or non-finite volume';
  if (c.low > Math.min(c.open, c.close) || c.high < Math.max(c.open, c.close)) return 'OHLC out of order (need low <= open,close <= high)';
  return null;
}

/** Why a (well-formed) candle is outside the sanity band of `refClose`, or null. */
export function sanityBandReason(c: Ohlcv, refClose: number | undefined, cfg: QualityConfig): string | null {
  const range = moveFraction(c.low, c.high);
  if (range > cfg.maxMoveFractionPerMinute) return `range ${(range * 100).toFixed(1)}% within the candle`;
  if (refClose !== undefined) {
    const gap = moveFraction(refClose, c.open);
    if (gap > cfg.maxMoveFractionPerMinute) return `open ${(gap * 100).toFixed(1)}% away from the reference close ${refClose}`;
  }
  return null;
}

/** The sanity reference of one series: the last good close and the run of consistent suspects after it. */
export interface SanityState {
  ref: { openTime: number; close: number } | null;
  run: Array<{ openTime: number; close: number }>;
}

export const EMPTY_SANITY: SanityState = Object.freeze({ ref: null, run: [] }) as SanityState;

interface SanityJudgement {
  /** good: inside the band; reanchored: good, and the reference moved to it after a consistent run. */
  verdict: 'good' | 'suspect' | 'reanchored';
  reason: string | null;
  state: SanityState;
}

/**
 * Judges one candle against the reference (pure; `state` is not mutated). A candle at or before the
 * reference's open time (late or redelivered) is judged against the reference without moving it. A
 * candle with impossible numbers is suspect and never part of a run.
 */
export function judgeSanity(state: SanityState, c: Candle, cfg: QualityConfig): SanityJudgement {
  const broken = priceIntegrityReason(c);
  if (broken) return { verdict: 'suspect', reason: broken, state };
  const ref = state.ref;
  const reason = sanityBandReason(c, ref?.close, cfg);
  if (ref !== null && c.openTime <= ref.openTime) return { verdict: reason ? 'suspect' : 'good', reason, state };
  if (!reason) return { verdict: 'good', reason: null, state: { ref: { openTime: c.openTime, close: c.close }, run: [] } };
  // Out of band: part of a consistent run (inside the band of the previous suspect, internally sane)?
  const prev = state.run[state.run.length - 1];
  const internal = sanityBandReason(c, undefined, cfg);
  const consistent = internal === null && prev !== undefined && c.openTime > prev.openTime && sanityBandReason(c, prev.close, cfg) === null;
  const run = internal !== null ? [] : consistent ? [...state.run, { openTime: c.openTime, close: c.close }] : [{ openTime: c.openTime, close: c.close }];
  const need = Math.max(1, cfg.reanchorAfterCandles ?? DEFAULT_REANCHOR_AFTER_CANDLES);
  if (run.length >= need) {
    return { verdict: 'reanchored', reason: `${run.length} consecutive consistent candles: the reference re-anchors from ${ref?.close} to ${c.close} (${reason})`, state: { ref: { openTime: c.openTime, close: c.close }, run: [] } };
  }
  return { verdict: 'suspect', reason, state: { ref, run } };
}

/**
 * Flags bad candles in an ascending series (the first is judged against `prevClose`). A flagged
 * candle does not become the reference for the next one, so one spike does not flag its recovery;
 * a lasting move re-anchors the reference after `reanchorAfterCandles` consistent candles.
 */
export function flagBadData(
  candles: Candle[],
  prevClose: number | undefined,
  cfg: QualityConfig,
): { candles: Candle[]; flagged: Array<{ candle: Candle; reason: string }> } {
  let state: SanityState = prevClose === undefined ? EMPTY_SANITY : { ref: { openTime: Number.NEGATIVE_INFINITY, close: prevClose }, run: [] };
  const flagged: Array<{ candle: Candle; reason: string }> = [];
  const out = candles.map((c) => {
    const j = judgeSanity(state, c, cfg);
    state = j.state;
    if (j.verdict === 'suspect') {
      const bad: Candle = { ...c, flags: [...new Set([...(c.flags ?? []), 'bad_data' as const])] };
      flagged.push({ candle: bad, reason: j.reason ?? 'suspect' });
      return bad;
    }
    return c;
  });
  return { candles: out, flagged };
}
