/**
 * The one reader of candle CSV text. Every loader of candle files goes through it (the backtest and
 * strategy series, the Kraken OHLCVT import, the replay servers' data, the month replay's kit files),
 * so every consumer validates what it reads the same way. Pure: text in, rows out; the callers read
 * the files.
 *
 * Formats:
 * - `normalised`, the project kit's format (`shared/data/bybit_linear/BTCUSDT_1m.csv`): header
 *   `ts_ms,open,high,low,close,volume`, open time in epoch MILLISECONDS;
 * - `kraken`, Kraken's downloadable OHLCVT export: headerless `time_s,open,high,low,close,volume,trades`
 *   (or without trades), open time in epoch SECONDS.
 *
 * Every data row is checked: its column count, every field a number (an empty field is not 0), the
 * open time a non-negative integer on the interval's grid, the prices and volume sound (shared/market/
 * quality.ts priceIntegrityReason: finite positive prices, low <= open,close <= high, volume >= 0), a
 * trade count a non-negative integer. A row that fails goes to the caller's `onBadRow` with its 1-based
 * line, the reason and its text; the caller's policy decides: refuse naming file and line (`badRow`
 * with `BadRowPolicy` 'refuse', the default of the CLIs), skip and count (`--skip-bad-rows`), or keep
 * the count and samples for a report (the OHLCVT import). Order and duplicates are the caller's too.
 */
import { priceIntegrityReason } from './quality.js';
import { INTERVAL_MS, type Candle, type Interval, type Venue } from '../model/market.js';

/** The kit's header line. */
export const CANDLE_CSV_HEADER = 'ts_ms,open,high,low,close,volume';
const NORMALISED_HEADER = CANDLE_CSV_HEADER.split(',');
const KRAKEN_COLUMNS = 7;
const KRAKEN_COLUMNS_WITHOUT_TRADES = 6;
const MS_PER_S = 1000;

export type CandleCsvFormat = 'normalised' | 'kraken';

/** What the rows are: every candle read gets these. */
interface CandleCsvMeta {
  symbol: string;
  interval: Interval;
  venue: Venue;
}

/** One row that passed every check. */
export interface CandleCsvRow {
  /** 1-based line number in the text. */
  line: number;
  candle: Candle;
  /** The row's fields as written (trimmed): the exact decimal strings of the prices and volume. */
  fields: string[];
}

interface CandleCsvReadOptions {
  /** 'normalised' (default) accepts the kit's format only; 'any' also Kraken's headerless rows. */
  formats?: 'normalised' | 'any';
  /** Named in a header error (a file name). */
  source?: string;
  /** A data row that fails a check (1-based line, why, the row's text). */
  onBadRow: (line: number, reason: string, text: string) => void;
}

/** The format of a file from its first non-blank line (throws on a header that is not the kit's). */
function detectFormat(firstLine: string): CandleCsvFormat {
  const cols = firstLine.split(',').map((c) => c.trim().toLowerCase());
  if (/^[a-z_]/.test(cols[0] ?? '')) {
    if (cols.length !== NORMALISED_HEADER.length || NORMALISED_HEADER.some((h, i) => cols[i] !== h)) {
      throw new Error(`unknown CSV header "${firstLine}" (expected ${CANDLE_CSV_HEADER} or Kraken's headerless time_s,open,high,low,close,volume,trades)`);
    }
    return 'normalised';
  }
  return 'kraken';
}

/** Why one data row cannot be a candle, or the candle. */
function parseRow(cols: string[], format: CandleCsvFormat, meta: CandleCsvMeta): string | Candle {
  const expected = format === 'normalised' ? [NORMALISED_HEADER.length] : [KRAKEN_COLUMNS, KRAKEN_COLUMNS_WITHOUT_TRADES];
  if (!expected.includes(cols.length)) return `expected ${expected.join(' or ')} columns, got ${cols.length}`;
  const nums = cols.map((c) => (c === '' ? Number.NaN : Number(c)));
  if (nums.some((n) => !Number.isFinite(n))) return 'non-numeric value';
  const [t, open, high, low, close, volume, trades] = nums as [number, number, number, number, number, number, number | undefined];
  const openTime = format === 'normalised' ? t : t * MS_PER_S;
  if (!Number.isSafeInteger(openTime) || openTime < 0) return 'time is not a non-negative integer';
  if (openTime % INTERVAL_MS[meta.interval] !== 0) return `open time ${new Date(openTime).toISOString()} is not on the ${meta.interval} grid`;
  const broken = priceIntegrityReason({ open, high, low, close, volume });
  if (broken) return broken;
  const candle: Candle = { symbol: meta.symbol, interval: meta.interval, venue: meta.venue, openTime, open, high, low, close, volume };
  if (trades !== undefined) {
    if (!Number.isInteger(trades) || trades < 0) return 'trades is not a non-negative integer';
    candle.trades = trades;
  }
  return candle;
}

/**
 * Reads candle CSV text: every valid data row to `onRow` in file order, every invalid one to
 * `opts.onBadRow`. Throws on an empty text or a header that is not the kit's (with `formats:
 * 'normalised'`, on a file without the kit's header). Returns the format and the data rows read
 * (blank lines and the header not counted).
 */
export function readCandleCsv(text: string, meta: CandleCsvMeta, opts: CandleCsvReadOptions, onRow: (row: CandleCsvRow) => void): { format: CandleCsvFormat; rows: number } {
  const lines = text.split(/\r?\n/);
  const firstIdx = lines.findIndex((l) => l.trim().length > 0);
  const first = firstIdx < 0 ? undefined : (lines[firstIdx] as string).trim();
  if ((opts.formats ?? 'normalised') === 'normalised') {
    if (first !== CANDLE_CSV_HEADER) throw new Error(`${opts.source ?? 'CSV'}: expected header '${CANDLE_CSV_HEADER}', got '${first ?? ''}'`);
  } else if (first === undefined) throw new Error(`${opts.source ? `${opts.source}: ` : ''}empty CSV`);
  const format = detectFormat(first as string);
  let rows = 0;
  for (let i = format === 'normalised' ? firstIdx + 1 : firstIdx; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line.length === 0) continue;
    rows++;
    const fields = line.split(',').map((f) => f.trim());
    const r = parseRow(fields, format, meta);
    if (typeof r === 'string') opts.onBadRow(i + 1, r, line);
    else onRow({ line: i + 1, candle: r, fields });
  }
  return { format, rows };
}

// ---------------------------------------------------------------------------------------------
// The CLIs' policy for bad rows

/** What a CSV loader does with a row that fails a check: stop with file and line (default), or skip and count. */
type BadRowPolicy = 'refuse' | 'skip';

interface BadRowReport {
  /** Rows skipped (policy `skip`). */
  skipped: number;
  /** The first few, with file and line. */
  samples: Array<{ source: string; line: number; reason: string }>;
}

export interface CsvGateOptions {
  /** The file name, named in every error. */
  source?: string;
  badRows?: BadRowPolicy;
  /** Counts skipped rows (policy `skip`); shared across files. */
  report?: BadRowReport;
}

export function newBadRowReport(): BadRowReport {
  return { skipped: 0, samples: [] };
}

const MAX_BAD_ROW_SAMPLES = 5;

/** Refuses (throws, naming file and line) or records a skipped row. */
export function badRow(opts: CsvGateOptions, line: number, reason: string, text: string): void {
  const where = `${opts.source ?? 'CSV'}:${line}`;
  if ((opts.badRows ?? 'refuse') === 'refuse') throw new Error(`${where}: ${reason}: ${text} (refused; --skip-bad-rows skips such rows and counts them)`);
  const r = opts.report;
  if (r) {
    r.skipped++;
    if (r.samples.length < MAX_BAD_ROW_SAMPLES) r.samples.push({ source: opts.source ?? 'CSV', line, reason });
  }
}
