/**
 * shared/sorted.ts: the one binary search. Checked against a linear scan on every position of small
 * arrays with duplicates, on ranges, on typed arrays with spare capacity and through a key.
 */
import { describe, expect, it } from 'vitest';
import { lowerBound, lowerBoundBy, upperBound, upperBoundBy } from '../shared/sorted.js';

/** The linear definitions. */
function lowerLinear(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  for (let i = lo; i < hi; i++) if ((a[i] as number) >= x) return i;
  return hi;
}
function upperLinear(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  for (let i = lo; i < hi; i++) if ((a[i] as number) > x) return i;
  return hi;
}

describe('lowerBound / upperBound', () => {
  it('empty array: 0 for any x', () => {
    expect(lowerBound([], 5)).toBe(0);
    expect(upperBound([], 5)).toBe(0);
    expect(lowerBound(new Float64Array(0), Number.NaN)).toBe(0);
  });

  it('one element: before, equal, after', () => {
    expect([lowerBound([10], 9), lowerBound([10], 10), lowerBound([10], 11)]).toEqual([0, 0, 1]);
    expect([upperBound([10], 9), upperBound([10], 10), upperBound([10], 11)]).toEqual([0, 1, 1]);
  });

  it('lower bound is before equal values, upper bound after them', () => {
    const a = [1, 3, 3, 3, 7];
    expect(lowerBound(a, 3)).toBe(1);
    expect(upperBound(a, 3)).toBe(4);
    expect(lowerBound(a, 0)).toBe(0);
    expect(upperBound(a, 7)).toBe(5);
    expect(lowerBound(a, 8)).toBe(5);
  });

  it('equals the linear scan for every x around every value, on every sub-range', () => {
    const a = Float64Array.from([-5, -5, 0, 2, 2, 2, 9, 60_000, 60_000, 120_000]);
    const xs = [...new Set([...a].flatMap((v) => [v - 1, v, v + 0.5]))];
    for (let lo = 0; lo <= a.length; lo++) {
      for (let hi = lo; hi <= a.length; hi++) {
        for (const x of xs) {
          expect(lowerBound(a, x, lo, hi)).toBe(lowerLinear(a, x, lo, hi));
          expect(upperBound(a, x, lo, hi)).toBe(upperLinear(a, x, lo, hi));
        }
      }
    }
  });

  it('a typed array with spare capacity: hi bounds the used part', () => {
    const keys = new Float64Array(8);
    keys.set([1, 2, 4]);
    // the zeros after the used 3 must not be looked at
    expect(lowerBound(keys, 3, 0, 3)).toBe(2);
    expect(lowerBound(keys, 5, 0, 3)).toBe(3);
    expect(upperBound(keys, 4, 0, 3)).toBe(3);
  });

  it('NaN is never below nor at x: lower and upper bound both give lo', () => {
    expect(lowerBound([1, 2, 3], Number.NaN)).toBe(0);
    expect(upperBound([1, 2, 3], Number.NaN)).toBe(0);
  });
});

describe('lowerBoundBy / upperBoundBy', () => {
  const rows = [{ t: 0 }, { t: 60 }, { t: 60 }, { t: 180 }];
  const t = (r: { t: number }) => r.t;

  it('search by a key of each element', () => {
    expect(lowerBoundBy(rows, 60, t)).toBe(1);
    expect(upperBoundBy(rows, 60, t)).toBe(3);
    expect(upperBoundBy(rows, 59, t)).toBe(1);
    expect(lowerBoundBy(rows, 181, t)).toBe(4);
    expect(upperBoundBy([], 1, t)).toBe(0);
  });

  it('equals the numeric search on the extracted keys, on every sub-range', () => {
    const keys = rows.map(t);
    for (let lo = 0; lo <= rows.length; lo++) {
      for (let hi = lo; hi <= rows.length; hi++) {
        for (const x of [-1, 0, 30, 60, 61, 180, 200]) {
          expect(lowerBoundBy(rows, x, t, lo, hi)).toBe(lowerBound(keys, x, lo, hi));
          expect(upperBoundBy(rows, x, t, lo, hi)).toBe(upperBound(keys, x, lo, hi));
        }
      }
    }
  });
});
