/**
 * `npm run list-data [-- --warehouse FILE] [--json]`: what the warehouse's `ohlcv` table holds, per
 * venue/symbol/interval (first and last candle, count, expected count, missing candles, gap ranges),
 * like Freqtrade's `list-data --show-timerange`. Run with --help.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_WAREHOUSE, fail } from './cli.js';
import { table } from '../shared/backtest/text-table.js';
import { INTERVAL_MS, INTERVALS } from '../shared/model/market.js';
import { candlesIn } from '../shared/market/download-plan.js';
import { DuckDbWarehouse } from '../infra/warehouse/duckdb.js';

const HELP = `List the candles held in the warehouse (DuckDB table ohlcv).

Usage: npm run list-data -- [--warehouse FILE] [--venue bybit|kraken] [--symbols LIST] [--json]

One row per venue/symbol/interval: first and last candle open time (UTC), candles held, candles
expected between them on the interval's grid, missing candles and the number of gaps (runs of
missing candles). Kraken series have real gaps (no trades, maintenance); Bybit normally none.
Fill with  npm run download-data  or  npm run import:ohlcvt.

Options:
  --warehouse FILE   DuckDB warehouse file (default ${DEFAULT_WAREHOUSE})
  --venue NAME       only this venue
  --symbols LIST     only these symbols (comma-separated)
  --json             print JSON on stdout
  -h, --help         this help
`;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        warehouse: { type: 'string' },
        venue: { type: 'string' },
        symbols: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  if (v.venue !== undefined && v.venue !== 'bybit' && v.venue !== 'kraken') fail(`--venue must be bybit or kraken (got '${v.venue}')`);
  const file = resolve(v.warehouse ?? DEFAULT_WAREHOUSE);
  if (!existsSync(file)) fail(`no warehouse at ${file} (fill one with npm run download-data or npm run import:ohlcvt, or pass --warehouse FILE)`);
  const symbols = v.symbols ? new Set(v.symbols.split(',').map((s) => s.trim().toUpperCase())) : undefined;
  const wh = new DuckDbWarehouse({ file });
  let rows;
  try {
    rows = (await wh.ohlcvCoverage())
      .filter((r) => (v.venue === undefined || r.venue === v.venue) && (!symbols || symbols.has(r.symbol)))
      .map((r) => ({ ...r, expected: candlesIn({ fromMs: r.firstMs, toMs: r.lastMs }, INTERVAL_MS[r.interval]) }))
      .sort((a, b) => a.venue.localeCompare(b.venue) || a.symbol.localeCompare(b.symbol) || INTERVALS.indexOf(a.interval) - INTERVALS.indexOf(b.interval));
  } finally {
    await wh.close();
  }
  if (v.json) {
    process.stdout.write(JSON.stringify(rows.map((r) => ({ ...r, first: new Date(r.firstMs).toISOString(), last: new Date(r.lastMs).toISOString() })), null, 2) + '\n');
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`${file}: no candles${v.venue || symbols ? ' matching the filter' : ''}\n`);
    return;
  }
  process.stdout.write(`${file}\n`);
  process.stdout.write(
    table(
      ['venue', 'symbol', 'interval', 'first', 'last', 'candles', 'expected', 'missing', 'gaps'],
      rows.map((r) => [r.venue, r.symbol, r.interval, iso(r.firstMs), iso(r.lastMs), String(r.count), String(r.expected), String(r.missing), String(r.gapRanges)]),
    ) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`list-data: ${(e as Error).message}\n`);
  process.exit(1);
});
