/**
 * Imports Kraken's downloadable quarterly OHLCVT CSVs (SPEC 2: backfills history) into the
 * warehouse, and optionally the most recent candles into the hot store.
 *
 *   npx tsx scripts/import-ohlcvt.ts <files...> [--symbol BTCUSDT] [--hot] [--duckdb FILE | --bigquery PROJECT]
 *
 * Run with --help for every option.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createLogger, type Logger } from '../shared/log.js';
import { systemClock } from '../shared/ports/clock.js';
import type { StateStore } from '../shared/ports/state.js';
import type { Warehouse } from '../shared/ports/warehouse.js';
import { DEFAULT_IMPORT_BATCH_ROWS, importOhlcvt, type OhlcvtImportDeps, type OhlcvtImportSummary } from '../shared/market/kraken/ohlcvt.js';
import { DuckDbWarehouse } from '../infra/warehouse/duckdb.js';
import { BigQueryWarehouse } from '../infra/warehouse/bigquery.js';
import { SqliteStateStore } from '../infra/state/sqlite.js';

const DEFAULT_DUCKDB = '.data/warehouse.duckdb';
const DEFAULT_STATE = '.data/state.sqlite';
const MAX_GAPS_LISTED = 10;

const HELP = `Import Kraken OHLCVT CSV files into the warehouse.

Usage: npx tsx scripts/import-ohlcvt.ts <files...> [options]

Files are named PAIR_MINUTES.csv (e.g. XBTUSD_5.csv = XBTUSD, 5-minute candles), in Kraken's
headerless format  time_s,open,high,low,close,volume,trades  or the normalised format with header
ts_ms,open,high,low,close,volume. Intervals with no trades are missing in these files: gaps are
reported, never filled. Bad candles are stored flagged bad_data. Re-importing is idempotent.

Options:
  --symbol <SYM>        system symbol for every file (default: from the pair, XBTUSD -> BTCUSDT;
                        required for pairs that are not USD spot, e.g. XBTUSDT)
  --duckdb <file>       embedded warehouse file (default ${DEFAULT_DUCKDB})
  --bigquery <project>  load into BigQuery dataset cryptotracker of this project instead
  --bigquery-endpoint <url>  BigQuery API endpoint (local server; sends no credentials)
  --hot                 also write the most recent candles to the hot store (SQLite state)
  --hot-candles <n>     how many (default ${DEFAULT_SYSTEM_CONFIG.hotWindowCandles}, the config's hot window)
  --state <file>        SQLite state file for --hot (default ${DEFAULT_STATE})
  --batch <n>           rows per warehouse insert (default ${DEFAULT_IMPORT_BATCH_ROWS})
  -h, --help            this help
`;

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

type CliValues = {
  symbol?: string | undefined;
  duckdb?: string | undefined;
  bigquery?: string | undefined;
  'bigquery-endpoint'?: string | undefined;
  hot: boolean;
  'hot-candles'?: string | undefined;
  state?: string | undefined;
  batch?: string | undefined;
};

/** The warehouse to load into (DuckDB file or BigQuery project) and its name for the report. */
function openWarehouse(values: CliValues, log: Logger): { warehouse: Warehouse; target: string } {
  if (values.bigquery) {
    const endpoint = values['bigquery-endpoint'];
    const warehouse = new BigQueryWarehouse({ projectId: values.bigquery, ...(endpoint ? { apiEndpoint: endpoint, anonymous: true } : {}), log });
    return { warehouse, target: `BigQuery ${values.bigquery}` };
  }
  const file = values.duckdb ?? DEFAULT_DUCKDB;
  return { warehouse: new DuckDbWarehouse({ file, log }), target: `DuckDB ${file}` };
}

interface ImportRun {
  summaries: OhlcvtImportSummary[];
  failures: Array<{ file: string; error: string }>;
}

/** Imports every file in turn with a progress bar; a failing file is reported, the others go on. */
async function importFiles(files: string[], deps: OhlcvtImportDeps, values: CliValues, sizes: { batchRows: number; hotCandles: number }): Promise<ImportRun> {
  const run: ImportRun = { summaries: [], failures: [] };
  const bar = new cliProgress.SingleBar(
    { format: '{file} [{bar}] {percentage}% | {value}/{total} candles | ETA {eta_formatted}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  for (const file of files) {
    try {
      const text = await readFile(file, 'utf8');
      let started = false;
      const summary = await importOhlcvt(deps, {
        fileName: file,
        text,
        ...(values.symbol ? { symbol: values.symbol } : {}),
        config: DEFAULT_SYSTEM_CONFIG,
        batchRows: sizes.batchRows,
        hotCandles: sizes.hotCandles,
        onProgress: (done, total) => {
          if (!started) {
            bar.start(total, 0, { file: basename(file) });
            started = true;
          }
          bar.update(done, { file: basename(file) });
        },
      });
      if (started) bar.stop();
      run.summaries.push(summary);
    } catch (e) {
      bar.stop();
      run.failures.push({ file, error: (e as Error).message });
    }
  }
  return run;
}

/** The report: a table of the imported files, their gaps and rejected lines, the failures. */
function formatReport(run: ImportRun, target: string, hotStore: string | undefined): string {
  const out: string[] = [];
  out.push(`Imported into ${target}${hotStore ? ` (+ hot store ${hotStore})` : ''}`);
  if (run.summaries.length > 0) {
    out.push(
      table([
        ['file', 'symbol', 'interval', 'format', 'candles', 'first', 'last', 'missing', 'gaps', 'flagged', 'rejected', 'dupes', 'hot'],
        ...run.summaries.map((s) => [
          basename(s.file),
          s.symbol,
          s.interval,
          s.format,
          String(s.candles),
          iso(s.firstOpenTime),
          iso(s.lastOpenTime),
          String(s.missing),
          String(s.gaps.length),
          String(s.flagged),
          String(s.rejected),
          String(s.duplicates),
          String(s.hotWritten),
        ]),
      ]),
    );
    for (const s of run.summaries) {
      if (s.gaps.length > 0) {
        out.push(`\n${basename(s.file)}: ${s.missing} missing candle(s) in ${s.gaps.length} gap(s) (Kraken omits intervals with no trades; none invented):`);
        for (const g of s.gaps.slice(0, MAX_GAPS_LISTED)) out.push(`  ${iso(g.fromMs)} .. ${iso(g.toMs)}  (${g.missing})`);
        if (s.gaps.length > MAX_GAPS_LISTED) out.push(`  ... ${s.gaps.length - MAX_GAPS_LISTED} more`);
      }
      for (const r of s.rejectedSamples) out.push(`${basename(s.file)}:${r.line}: rejected (${r.reason}): ${r.text}`);
    }
  }
  for (const f of run.failures) out.push(`FAILED ${f.file}: ${f.error}`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      symbol: { type: 'string' },
      duckdb: { type: 'string' },
      bigquery: { type: 'string' },
      'bigquery-endpoint': { type: 'string' },
      hot: { type: 'boolean', default: false },
      'hot-candles': { type: 'string' },
      state: { type: 'string' },
      batch: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`no files given\n\n${HELP}`);
    return 2;
  }
  if (values.duckdb && values.bigquery) throw new Error('use either --duckdb or --bigquery, not both');
  const batchRows = positiveInt('batch', values.batch, DEFAULT_IMPORT_BATCH_ROWS);
  const hotCandles = values.hot ? positiveInt('hot-candles', values['hot-candles'], DEFAULT_SYSTEM_CONFIG.hotWindowCandles) : 0;
  const log = createLogger({ component: 'import-ohlcvt' }, { minSeverity: 'WARNING' });
  const { warehouse, target } = openWarehouse(values, log);
  const state: StateStore | undefined = values.hot ? new SqliteStateStore({ file: values.state ?? DEFAULT_STATE }) : undefined;
  let run: ImportRun;
  try {
    await warehouse.ensureSchema();
    const deps: OhlcvtImportDeps = { warehouse, ...(state ? { state } : {}), clock: systemClock, log, quality: DEFAULT_SYSTEM_CONFIG.dataQuality };
    run = await importFiles(positionals, deps, values, { batchRows, hotCandles });
  } finally {
    await warehouse.close();
    await state?.close();
  }
  process.stdout.write(formatReport(run, target, state ? (values.state ?? DEFAULT_STATE) : undefined) + '\n');
  return run.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`import-ohlcvt: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
