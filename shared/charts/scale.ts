/**
 * Scales and ticks for the charts: value -> pixel maps, "nice" price ticks (1/2/5 x 10^k), UTC time
 * ticks on round boundaries, and locale-free number/time formatting (the same text on every machine).
 */

export interface LinearScale {
  (value: number): number;
  readonly domain: readonly [number, number];
  readonly range: readonly [number, number];
}

/** Maps [d0, d1] linearly onto [r0, r1] (r0 > r1 for a y axis that grows upwards). */
export function linearScale(d0: number, d1: number, r0: number, r1: number): LinearScale {
  const span = d1 - d0;
  const f = ((value: number) => (span === 0 ? (r0 + r1) / 2 : r0 + ((value - d0) / span) * (r1 - r0))) as LinearScale;
  Object.defineProperty(f, 'domain', { value: [d0, d1] as const });
  Object.defineProperty(f, 'range', { value: [r0, r1] as const });
  return f;
}

const NICE_STEPS = [1, 2, 2.5, 5, 10] as const;

/** The "nice" tick step (1, 2, 2.5 or 5 x 10^k) closest (in ratio) to giving `target` ticks over [lo, hi]. */
export function niceStep(lo: number, hi: number, target: number): number {
  const span = Math.abs(hi - lo);
  if (!(span > 0) || !(target > 0)) return 1;
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let best: number = NICE_STEPS[0] * magnitude;
  for (const s of NICE_STEPS) {
    const step = s * magnitude;
    if (Math.abs(Math.log(step / raw)) < Math.abs(Math.log(best / raw))) best = step;
  }
  return best;
}

/** Tick values that are multiples of a nice step inside [lo, hi], ascending. */
export function niceTicks(lo: number, hi: number, target: number): number[] {
  const step = niceStep(lo, hi, target);
  const first = Math.ceil(lo / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first, i = 0; v <= hi + step * 1e-9; i++, v = first + i * step) {
    ticks.push(roundTo(v, decimalsOf(step)));
  }
  return ticks;
}

/** Number of decimals needed to print multiples of `step` exactly (0..10). */
export function decimalsOf(step: number): number {
  for (let d = 0; d <= 10; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 10;
}

function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

/** Price magnitude -> decimals for price labels (BTC 106,688.4; ETH 2,431.25; DOGE 0.16234). */
const PRICE_DECIMALS: readonly (readonly [minPrice: number, decimals: number])[] = [
  [10_000, 1],
  [100, 2],
  [10, 3],
  [1, 4],
  [0.01, 5],
  [0, 7],
];

export function priceDecimals(referencePrice: number): number {
  const p = Math.abs(referencePrice);
  for (const [min, d] of PRICE_DECIMALS) if (p >= min) return d;
  return PRICE_DECIMALS[PRICE_DECIMALS.length - 1]![1];
}

/** Fixed decimals with comma thousands separators, no locale involved: 106688.4 -> "106,688.4". */
export function formatNumber(value: number, decimals: number): string {
  const negative = value < 0;
  const fixed = Math.abs(value).toFixed(decimals);
  const [int = '0', frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const body = frac !== undefined ? `${grouped}.${frac}` : grouped;
  return negative && Number(fixed) !== 0 ? `\u2212${body}` : body;
}

/** Signed percentage, e.g. +0.53% / −1.20%. */
export function formatPct(value: number, decimals = 2): string {
  const s = formatNumber(value, decimals);
  return value > 0 && Number(Math.abs(value).toFixed(decimals)) !== 0 ? `+${s}%` : `${s}%`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Candidate time-tick steps, ascending. */
const TIME_STEPS = [
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY,
] as const;

/** Tick times on UTC-round boundaries (multiples of the step since the epoch) inside [t0, t1]. */
export function timeTicks(t0: number, t1: number, target: number): { step: number; ticks: number[] } {
  const span = Math.max(0, t1 - t0);
  const raw = span / Math.max(1, target);
  const step = TIME_STEPS.find((s) => s >= raw) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  const ticks: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
  return { step, ticks };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** "HH:MM" in UTC. */
function formatUtcTime(t: number): string {
  const d = new Date(t);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

/** "Jun 23" in UTC. */
export function formatUtcDate(t: number): string {
  const d = new Date(t);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

/** "2025-06-23 16:35" in UTC. */
export function formatUtcDateTime(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${formatUtcTime(t)}`;
}

/**
 * Label for a time tick: the date at midnight or when steps are >= 1 day, else HH:MM.
 */
export function formatTimeTick(t: number, step: number): string {
  if (step >= DAY || t % DAY === 0) return formatUtcDate(t);
  return formatUtcTime(t);
}
