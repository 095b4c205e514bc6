/** Small helpers shared by the CLIs (backtest, replay-month): uniform usage errors and time parsing. */

/** Prints a usage error that points at --help and exits with code 2. */
export function fail(message: string): never {
  process.stderr.write(`error: ${message}\nRun with --help for the options.\n`);
  process.exit(2);
}

/** An ISO date/time option as epoch ms (undefined when absent); a bad value is a usage error. */
export function parseTime(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) fail(`${name} must be an ISO date/time (got '${s}')`);
  return t;
}

/** The warehouse file of download-data, list-data and import:ohlcvt. */
export const DEFAULT_WAREHOUSE = '.data/warehouse.duckdb';

/** A plain text table: the first row is the header, columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
