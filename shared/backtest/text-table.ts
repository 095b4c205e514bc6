/** Plain-text tables and number cells of the backtest reports (one implementation for every table). */

/** A number with `digits` decimals; null / undefined / non-finite: `-`. */
export function fmt(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

/** A plain-text table (right-aligned numbers, left-aligned first column). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = headers.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, k) => (k === 0 ? c.padEnd(w[k] as number) : c.padStart(w[k] as number))).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}
