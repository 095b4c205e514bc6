/**
 * Next-fire computation for 5-field unix-cron schedules (Cloud Scheduler's format) in an IANA time
 * zone, correct across daylight-saving changes.
 *
 * croner parses the pattern and enumerates matching WALL-CLOCK times (evaluated in UTC, where wall
 * clock and instants coincide); each wall-clock time is then mapped to real instants in the zone:
 * - normal time: exactly one instant;
 * - spring-forward gap (the wall time does not exist that day): the instant the clock would show if
 *   the shift had not happened, i.e. later by the gap length (02:30 in a 02:00->03:00 gap fires at
 *   03:30), so a daily 02:00 job still runs once that day;
 * - fall-back overlap (the wall time occurs twice): a job with a fixed hour (e.g. `30 1 * * *`) fires
 *   once, at the first occurrence; a job whose hour field is `*` (every minute, every 5 minutes,
 *   hourly) fires at both, so it keeps its real-time cadence through the repeated hour (Vixie cron's
 *   rule for wildcard jobs).
 * (croner's own time-zone arithmetic skips the repeated hour for every-minute patterns and can return
 * a time in the past there; this module does not rely on it.)
 */
import { Cron } from 'croner';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** Wall-clock and real time never differ by more than this around a zone's transition. */
const MAX_SHIFT_MS = 3 * HOUR_MS;
/** Offsets are sampled this far either side of a wall time to find the pre/post-transition offset. */
const OFFSET_PROBE_MS = 36 * HOUR_MS;
/** Guard against patterns that never match (e.g. 30 February). */
const MAX_ITERATIONS = 200_000;
/** Span of the fast single-transition offset model (zones never change offset twice in 2 days). */
const MODEL_SPAN_MS = 48 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a clear error for an unknown IANA time zone. */
export function assertTimeZone(timeZone: string): void {
  try {
    formatter(timeZone);
  } catch {
    throw new Error(`unknown time zone "${timeZone}" (use an IANA name such as America/Los_Angeles or Etc/UTC)`);
  }
}

/** UTC offset of `timeZone` at instant `t`, in ms (local wall clock = t + offset). */
function zoneOffsetMs(timeZone: string, t: number): number {
  const parts = formatter(timeZone).formatToParts(new Date(t));
  const v: Record<string, number> = {};
  for (const p of parts) if (p.type !== 'literal') v[p.type] = Number(p.value);
  const wall = Date.UTC(v.year!, v.month! - 1, v.day!, v.hour === 24 ? 0 : v.hour!, v.minute!, v.second!);
  return wall - Math.floor(t / 1000) * 1000;
}

/** Throws a clear error unless `expr` is a valid 5-field unix-cron expression. */
export function assertCron(expr: string): void {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`cron "${expr}" must have exactly 5 fields (minute hour day-of-month month day-of-week)`);
  }
  try {
    new Cron(fields.join(' '), { paused: true, utcOffset: 0 });
  } catch (e) {
    throw new Error(`cron "${expr}" is invalid: ${(e as Error).message}`);
  }
}

export class CronSchedule {
  readonly expr: string;
  readonly timeZone: string;
  private readonly wall: Cron;
  private readonly hourWildcard: boolean;

  constructor(expr: string, timeZone: string) {
    assertCron(expr);
    assertTimeZone(timeZone);
    this.expr = expr.trim().split(/\s+/).join(' ');
    this.timeZone = timeZone;
    // Enumerates wall-clock matches: in UTC there is no DST, so wall time == the Date's UTC fields.
    this.wall = new Cron(this.expr, { paused: true, utcOffset: 0 });
    const hour = this.expr.split(' ')[1];
    this.hourWildcard = hour === '*' || hour === '*/1';
  }

  /**
   * Real instants at which the wall-clock time `wallMs` (wall fields encoded as UTC) fires, given the
   * offsets in force around it and an exact offset function.
   */
  private instantsOf(wallMs: number, offsets: readonly number[], offsetAt: (t: number) => number): number[] {
    const valid = offsets
      .map((off) => wallMs - off)
      .filter((t) => offsetAt(t) === wallMs - t)
      .sort((a, b) => a - b);
    if (valid.length === 0) return [wallMs - offsets[0]!]; // gap: shifted later by the gap length
    if (valid.length > 1 && !this.hourWildcard) return [valid[0]!]; // overlap: fixed-hour jobs once
    return valid;
  }

  /**
   * The offset function of [a, b] (b - a <= MODEL_SPAN_MS) as at most one transition, found by
   * bisection: a few Intl calls instead of several per candidate minute.
   */
  private model(a: number, b: number): { offsetAt: (t: number) => number; offsets: number[] } {
    const oa = zoneOffsetMs(this.timeZone, a);
    const ob = zoneOffsetMs(this.timeZone, b);
    if (oa === ob) return { offsetAt: () => oa, offsets: [oa] };
    let lo = a;
    let hi = b;
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2000) * 1000;
      if (zoneOffsetMs(this.timeZone, mid) === oa) lo = mid;
      else hi = mid;
    }
    const at = hi;
    return { offsetAt: (t) => (t < at ? oa : ob), offsets: [oa, ob] };
  }

  private search(
    afterMs: number,
    offsetsAround: (wall: number) => readonly number[],
    offsetAt: (t: number) => number,
    wallLimit: number,
  ): number | null {
    const wallAfter = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + offsetAt(afterMs);
    let cursor = new Date(wallAfter - MAX_SHIFT_MS - MINUTE_MS);
    let best: number | null = null;
    let bestWall = 0;
    for (let i = 0; i < MAX_ITERATIONS; i++) {
      const d = this.wall.nextRun(cursor);
      if (!d) break;
      const wall = d.getTime();
      if (best !== null && wall > bestWall + MAX_SHIFT_MS) break;
      if (wall > wallLimit) break;
      for (const t of this.instantsOf(wall, offsetsAround(wall), offsetAt)) {
        if (t > afterMs && (best === null || t < best)) {
          best = t;
          bestWall = wall;
        }
      }
      cursor = d;
    }
    return best;
  }

  /** The first fire time strictly after `afterMs` (epoch ms), or null if the pattern never fires. */
  next(afterMs: number): number | null {
    // Fast path: the next two days as a single-transition model.
    const from = afterMs - 2 * MAX_SHIFT_MS;
    const to = afterMs + MODEL_SPAN_MS;
    const m = this.model(from, to);
    if (m.offsets.length === 1) {
      // No transition near: the first wall-clock match is the answer.
      const off = m.offsets[0]!;
      const d = this.wall.nextRun(new Date(Math.floor(afterMs / 1000) * 1000 + off));
      if (d && d.getTime() - off <= to) return d.getTime() - off;
    }
    const quick = this.search(afterMs, () => m.offsets, m.offsetAt, to);
    if (quick !== null && quick <= to - 2 * MAX_SHIFT_MS) return quick;
    // Far-away or sparse fires: exact offsets from Intl for every candidate (few candidates).
    const exact = (t: number) => zoneOffsetMs(this.timeZone, t);
    const around = (wall: number) => [...new Set([exact(wall - OFFSET_PROBE_MS), exact(wall + OFFSET_PROBE_MS)])];
    return this.search(afterMs, around, exact, Number.POSITIVE_INFINITY);
  }

  /** The next `n` fire times after `afterMs`. */
  nextN(afterMs: number, n: number): number[] {
    const out: number[] = [];
    let t = afterMs;
    for (let i = 0; i < n; i++) {
      const next = this.next(t);
      if (next === null) break;
      out.push(next);
      t = next;
    }
    return out;
  }
}
