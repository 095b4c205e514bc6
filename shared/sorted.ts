/**
 * Binary search over ascending data: the one implementation every sorted lookup uses (candle open
 * times, equity samples, order-book price keys, REST rows). All four functions take a half-open index
 * range `[lo, hi)` (default the whole array: a typed array with spare capacity passes its used
 * length as `hi`) and return an index in `[lo, hi]`:
 *
 * - `lowerBound(a, x)`: the first index whose value is >= x (where x would be inserted BEFORE equal
 *   values); `hi` when every value is < x. `lowerBound(a, x) - 1` is the last index with a value < x.
 * - `upperBound(a, x)`: the first index whose value is > x (insertion AFTER equal values); `hi` when
 *   every value is <= x. `upperBound(a, x) - 1` is the last index with a value <= x (-1 when none, with
 *   the default range).
 * - `lowerBoundBy` / `upperBoundBy`: the same over a key of each element (`(c) => c.openTime`).
 *
 * The data must be ascending in the range (equal values allowed); O(log n), no allocation. An exact
 * lookup is `k = lowerBound(a, x)` then `k < hi && a[k] === x`.
 */

/** First index in [lo, hi) with a[i] >= x; hi when none. */
export function lowerBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) with a[i] > x; hi when none. */
export function upperBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) with key(a[i]) >= x; hi when none. */
export function lowerBoundBy<T>(a: ArrayLike<T>, x: number, key: (v: T) => number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(a[mid] as T) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [lo, hi) with key(a[i]) > x; hi when none. */
export function upperBoundBy<T>(a: ArrayLike<T>, x: number, key: (v: T) => number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(a[mid] as T) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
