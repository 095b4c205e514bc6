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
