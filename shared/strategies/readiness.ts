/**
 * Readiness: how close a strategy is to triggering, condition by condition (the dashboard's Strategies
 * page, shared/dashboard/api.ts ReadinessCondition / ReadinessSide). Each strategy module builds its
 * conditions in its own `readinessAt`, from the SAME intermediate values its `evaluateAt` decides on,
 * so the two cannot disagree; this module only holds the shapes' arithmetic:
 *
 * - `met` is what the strategy's code decided for that check (never re-derived from the comparator);
 *   null when the value cannot be computed yet (warm-up) or for an `info` row;
 * - `progress` (0..1) = 1 exactly when met; otherwise, when the condition names the value `from` which
 *   it counts (an RSI check against a fixed level: 50, the neutral line; the divergence: the pivot's
 *   own RSI; a price: one ATR short of it) and `from` is on the unmet side of the threshold,
 *   (value - from) / (threshold - from); else the ratio of value to threshold on the side the
 *   comparator wants (`>=` / `>`: value / threshold, so 0 checks of 2 is 0; `<=` / `<`: threshold /
 *   value) for a positive threshold and a non-negative (`<`: positive) value (null otherwise);
 *   clamped to [0, UNMET_PROGRESS_MAX] by `conditionProgress`: an unmet check never shows 1, whatever
 *   its arithmetic says (e.g. a value equal to a strict threshold, or within reach of a level that
 *   another, nearer level overrides); a boolean check is 0 or 1. Every side goes through
 *   `readinessSide`, which applies the same rule to each condition;
 * - a side's `met` / `total` / `closeness` count the REQUIRED conditions only (no `partOf`: a check
 *   that counts toward another condition, e.g. 2 of 4 exhaustion checks, is shown but not required).
 */
import type { ReadinessCondition, ReadinessSide } from '../dashboard/api.js';
import type { Direction } from '../model/trading.js';

type Comparator = ReadinessCondition['comparator'];

/** Finite number or null (JSON has no NaN), rounded to 8 significant digits for display. */
function shown(x: number | null): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  return Number(x.toPrecision(8));
}

/** The most an UNMET condition's progress can show: 1 means met, and only met. */
export const UNMET_PROGRESS_MAX = 0.99;

/**
 * The one rule for a condition's progress: 1 when met, null when not computable (met null), and
 * otherwise the measured distance clamped to [0, UNMET_PROGRESS_MAX] (null / NaN: null).
 */
export function conditionProgress(met: boolean | null, measured: number | null): number | null {
  if (met === null) return null;
  if (met) return 1;
  if (measured === null || Number.isNaN(measured)) return null;
  return Math.min(UNMET_PROGRESS_MAX, Math.max(0, measured));
}

/** `from` lies on the side of the threshold the comparator does not want (so value travels away from it). */
function onUnmetSide(from: number, threshold: number, comparator: Comparator): boolean {
  return comparator === '>=' || comparator === '>' ? from < threshold : from > threshold;
}

function ratioProgress(value: number, threshold: number, comparator: Comparator, from: number | undefined): number | null {
  if (!Number.isFinite(value) || !Number.isFinite(threshold)) return null;
  if (from !== undefined && Number.isFinite(from) && onUnmetSide(from, threshold, comparator)) {
    return (value - from) / (threshold - from);
  }
  if (!(threshold > 0)) return null;
  if (comparator === '>=' || comparator === '>') return value >= 0 ? value / threshold : null;
  return value > 0 ? threshold / value : null;
}

interface NumericSpec {
  id: string;
  label: string;
  value: number | null;
  threshold: number;
  comparator: Exclude<Comparator, 'info' | '=='>;
  /** The strategy's own verdict on this check. */
  met: boolean;
  partOf?: string;
  /** Where progress is 0 (see the module comment); absent, or not on the unmet side: the value / threshold ratio. */
  from?: number;
}

/** A numeric check (value compared with a threshold). An uncomputable value (null / NaN) is never met. */
export function numericCondition(s: NumericSpec): ReadinessCondition {
  const value = shown(s.value);
  const met = value === null ? null : s.met;
  const c: ReadinessCondition = {
    id: s.id,
    label: s.label,
    value,
    threshold: shown(s.threshold),
    comparator: s.comparator,
    met,
    progress: conditionProgress(met, met === false ? ratioProgress(s.value as number, s.threshold, s.comparator, s.from) : null),
  };
  if (s.partOf) c.partOf = s.partOf;
  return c;
}

/** A yes / no check (e.g. "regime allowed", "exits computable"). */
export function flagCondition(id: string, label: string, met: boolean, value: string | boolean = met, partOf?: string): ReadinessCondition {
  const c: ReadinessCondition = { id, label, value, threshold: true, comparator: '==', met, progress: conditionProgress(met, 0) };
  if (partOf) c.partOf = partOf;
  return c;
}

/** A shown value that is not compared (context for the reader). */
export function infoCondition(id: string, label: string, value: number | string | boolean | null): ReadinessCondition {
  return { id, label, value: typeof value === 'number' ? shown(value) : value, threshold: null, comparator: 'info', met: null, progress: null };
}

/**
 * A side from its conditions: met / total / closeness over the required ones. Every condition's
 * progress is settled here by `conditionProgress` (1 exactly when met, an unmet one below 1), for
 * every strategy, whichever way the condition was built.
 */
export function readinessSide(direction: Direction, given: ReadinessCondition[]): ReadinessSide {
  const conditions = given.map((c) => {
    const progress = c.comparator === 'info' ? null : conditionProgress(c.met, c.progress);
    return progress === c.progress ? c : { ...c, progress };
  });
  const required = conditions.filter((c) => c.comparator !== 'info' && c.partOf === undefined);
  const met = required.filter((c) => c.met === true).length;
  const closeness = required.length === 0 ? 0 : required.reduce((s, c) => s + (c.met === true ? 1 : (c.progress ?? 0)), 0) / required.length;
  return { direction, conditions, met, total: required.length, closeness: Math.round(closeness * 1e4) / 1e4 };
}

/** Every required condition of the side is met. */
export function sideReady(side: ReadinessSide): boolean {
  return side.total > 0 && side.met === side.total;
}

/** What a strategy's `readinessAt` returns (the dashboard adds symbol, config and protections). */
export interface StrategyReadinessAt {
  /** The decision the strategy's evaluateAt takes at this point (null: no setup logged, or warm-up). */
  decision: 'TAKE' | 'NEAR_MISS' | 'SKIP' | null;
  /** The decision's direction as evaluateAt reports it (scalps: a TAKE's only; swing scans: LONG). */
  direction: Direction | null;
  /** Close time of the evaluated candle (the snapshot time for a forming candle). */
  asOf: number;
  sides: ReadinessSide[];
  /** Why nothing could be computed (warm-up...). */
  note?: string;
}
