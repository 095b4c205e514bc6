/**
 * `npm run backtest -- shadow [options]`: the shadow test (SPEC 8) over historical candles: the
 * champion and every enabled challenger of config/ml `shadow.variations`, each through THE backtest
 * runner on the same candles (shared/shadow/runner.ts), compared per period with a significance test;
 * optionally stored (`shadow/latest`, `shadow_runs/{runId}`, warehouse `shadow_trades` / `shadow_results`).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail } from '../cli.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { summariseTrade } from '../../shared/backtest/metrics.js';
import { jsonSafe } from '../../shared/backtest/store.js';
import { runShadow } from '../../shared/shadow/runner.js';
import { formatShadow } from '../../shared/shadow/report.js';
import { storeShadow } from '../../shared/shadow/store.js';
import { suggestFromShadow } from '../../shared/learning/suggestions.js';
import { runWithLearning } from '../../shared/backtest/learning.js';
import { shadowVariants } from '../../shared/shadow/variations.js';
import { progressBar, RUN_OPTIONS, runSelection } from './args.js';
import { openStateForWrite, stateFileOf } from './stored.js';
import { badRows, DEFAULT_DATA, DEFAULT_SYMBOLS, loadMacroSeries, loadSeries, neededWarmup, warmupOverride, type LoadRange } from './load.js';

export const HELP = `Usage: npm run backtest -- shadow [options]

The shadow test (SPEC 8): the CHAMPION (the config in force: the defaults plus --set) and every
enabled challenger of config/ml shadow.variations (config overrides; a bad one is reported and the
others run), each simulated over the same candles by the production backtest (same scans, same
strategy / risk / cost / paper-fill code, exits on the 1m candles as the paper engine fills them,
DCA grids included), compared per period: trades (by exit time in the last N hours of the window),
win rate, profit factor, P&L after costs, mean P&L % per trade and a two-sided Welch t-test of the
per-trade P&L % against the champion's (+* / -*: better / worse at p < shadow.significanceP).
Challengers with ml.mode=filter (ML_TRUST, CONFIDENCE_55, CONSERVATIVE) run with walk-forward
models (shared/backtest/learning.ts: retrained at 02:00 America/Los_Angeles on the backtest clock from
the variation's own unfiltered trades; each decision sees only earlier trades); the others run plain
(in advisory mode a prediction changes no trade). --ml off runs them without models ("no model":
nothing is filtered).

Data (as the backtest itself: npm run backtest -- --help):
  --data PATHS          1m CSV files / folders (default ${DEFAULT_DATA})
  --warehouse FILE      read the 1m candles from a DuckDB warehouse instead (--venue bybit | kraken)
  --symbols A,B,...     symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --from ISO --to ISO   the window (candle open times, UTC; default all the data); history before
                        --from is warm-up, never traded
  --warmup-hours N      override the 1m history read before --from
  --htf-data PATHS      run the MACRO engine too (bias, swing setups DCA / SWING / CHANNEL) on
                        Kraken-venue 5m / 15m (/ 1h / 4h) candles: a folder, files or FILE.duckdb
                        (--htf-venue kraken | bybit); without it the swing challengers trade as the
                        champion (no swing trades at all)
  --set KEY=VALUE       override the champion's config (repeatable); the challengers apply on top
  --costs PROFILE       maker_taker (default) | conservative
  --strategy ID         levels_exhaustion | v52_divergence | all (default: as configured)
  --skip-bad-rows, --allow-missing-reference, --indicators MODE: as the backtest

Shadow:
  --ml MODE             on (default): walk-forward models for the ML-filter challengers; off: none
  --periods H,H,...     comparison periods in hours (default config/ml shadow.periodsHours: 24,72,168,720)
  --store               write shadow/latest + shadow_runs/{runId} to the state file and the rows of
                        shadow_trades / shadow_results to the warehouse beside it (idempotent: the same
                        window and configs give the same run id)
  --state FILE          the SQLite state file (default .data/live/state.sqlite; CST_DATA_DIR honoured)
  --json FILE           write the results and every variation's trades as JSON

The output ends with the threshold suggestions these results support (shared/learning/suggestions.ts:
30 % steps toward the best challenger's value within the SPEC bounds, graduated by confidence);
printed only: the daily job stores them for the owner's approval from shadow/latest.
  -h, --help            this help
`;

function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        'htf-data': { type: 'string' },
        'htf-venue': { type: 'string' },
        periods: { type: 'string' },
        ml: { type: 'string', default: 'on' },
        store: { type: 'boolean', default: false },
        state: { type: 'string' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}

function periodsOf(raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  const hours = raw.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (hours.length === 0 || hours.some((h) => !(Number.isInteger(h) && h > 0))) fail(`--periods must be whole hours > 0, comma-separated (got '${raw}')`);
  return hours;
}

export async function main(args: string[]): Promise<void> {
  const v = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const { symbols, from, to, base, indicators } = runSelection(v);
  const periodsHours = periodsOf(v.periods);
  if (v.ml !== 'on' && v.ml !== 'off') fail(`--ml must be on or off (got '${v.ml}')`);
  const htf = v['htf-data'];
  if (v['htf-venue'] !== undefined && htf === undefined) fail('--htf-venue needs --htf-data FILE.duckdb');
  const variants = shadowVariants(base);
  const needed = neededWarmup(base, variants.map((x) => x.overrides), htf !== undefined);
  const range: LoadRange = { from, to, warmup: warmupOverride(v, needed) };
  const series = await loadSeries(v as Record<string, string | boolean | string[] | undefined>, symbols, range);
  if (badRows.skipped > 0) process.stderr.write(`--skip-bad-rows: skipped ${badRows.skipped} CSV row(s) the candle gate refused\n`);
  const macroSeries = htf === undefined ? undefined : await loadMacroSeries(htf, symbols, range, v);
  let market;
  try {
    market = createMarket({ series, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  } catch (e) {
    fail((e as Error).message);
  }
  const bar = progressBar('shadow', 'candles');
  const shadow = runShadow(
    { market, system: DEFAULT_SYSTEM_CONFIG, base, ...(macroSeries ? { macroSeries } : {}), ...(v['allow-missing-reference'] ? { allowMissingReference: true } : {}) },
    { indicators, ...(periodsHours ? { periodsHours } : {}), ...(v.ml === 'on' ? { learning: (m, c, o) => runWithLearning(m, c, o).run } : {}), onProgress: (d, t) => bar.update(d, t) },
  );
  bar.stop();
  const out = [formatShadow(shadow.results)];
  // What the daily suggestion step (shared/learning/suggestions.ts) would propose from these results; printed only, never stored or applied here.
  const suggestions = suggestFromShadow(shadow.results, base, base.ml, shadow.results.ts);
  out.push(
    suggestions.length === 0
      ? 'suggestions this run supports: none'
      : `suggestions this run supports (the owner approves each in Telegram; not stored by this command):\n${suggestions.map((x) => `  ${x.key}: ${x.before} -> ${x.after} (${x.summary})`).join('\n')}`,
  );
  if (shadow.notes.length > 0) out.push(shadow.notes.map((n) => `note: ${n}`).join('\n'));
  if (v.json !== undefined) {
    const file = resolve(v.json);
    const trades = Object.fromEntries(Object.entries(shadow.trades).map(([name, list]) => [name, list.map(({ trade: t }) => ({ ...summariseTrade(t), signalId: t.signalId, avgEntry: t.avgEntry, exitPrice: t.exitPrice, qty: t.qty, fees: t.fees, slippage: t.slippage ?? 0 }))]));
    writeFileSync(file, JSON.stringify(jsonSafe({ results: shadow.results, notes: shadow.notes, trades }), null, 2) + '\n');
    out.push(`wrote ${file}`);
  }
  if (v.store) {
    const file = stateFileOf(v.state);
    const state = await openStateForWrite(file);
    const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
    const whFile = join(resolve(file, '..'), 'warehouse.duckdb');
    const wh = new DuckDbWarehouse({ file: whFile });
    try {
      await wh.ensureSchema();
      const s = await storeShadow(state, wh, shadow);
      out.push(`${s.created ? 'stored' : 'already stored'}: ${s.runPath}${s.latest ? ' (shadow/latest)' : ' (shadow/latest holds a newer window)'} in ${file}; ${s.tradeRows} shadow_trades + ${s.resultRows} shadow_results rows in ${whFile}`);
    } finally {
      await wh.close();
      await state.close();
    }
  }
  process.stdout.write(out.join('\n\n') + '\n');
}
