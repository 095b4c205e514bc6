/**
 * `npm run backtest -- lookahead [options]`: the lookahead check (shared/backtest/lookahead.ts) on a
 * config and data: runs the backtest, then for several cut times alters the candles AFTER the cut
 * (dropped, or replaced by another real segment) and checks that every decision, signal and trade
 * up to the cut is identical. Exit code 1 when a strategy's past depends on the future.
 */
import { parseArgs } from 'node:util';
import { fail, parseTime } from '../cli.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { closeEvaluators, runBacktest } from '../../shared/backtest/run.js';
import { ALTERATIONS, checkLookahead, defaultCuts, formatLookahead, type Alteration } from '../../shared/backtest/lookahead.js';
import { progressBar, RUN_OPTIONS, runSelection } from './args.js';
import { badRows, DEFAULT_DATA, DEFAULT_SYMBOLS, loadSeries, neededWarmup, warmupOverride } from './load.js';

export const HELP = `Usage: npm run backtest -- lookahead [options]

Checks that the backtest never looks into the future, on YOUR config and data: runs it once, then for
several cut times t changes the candles after t (dropped, or replaced by another real segment of the
same symbol) and verifies that every scan decision, every signal and every trade closed up to t is
identical. Prints a verdict per strategy and the first differing decision if any; exits with code 1
on lookahead. (The MACRO engine is not part of this check: 1m data only.)

Options:
  --data PATHS          1m CSV files / folders as for the backtest (default ${DEFAULT_DATA})
  --warehouse FILE      read the 1m candles from a DuckDB warehouse file instead
  --symbols A,B,...     symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --from ISO --to ISO   traded range (default: all the data)
  --strategy ID         levels_exhaustion | v52_divergence | all (default all: both, as configured;
                        log-only strategies are checked on their decisions)
  --set KEY=VALUE       override a config key, repeatable (as for the backtest)
  --costs PROFILE       maker_taker | conservative (as for the backtest)
  --indicators MODE     full (default; indicators over the whole series, the mode that could leak)
                        or live-window
  --cuts N              cut times spread evenly over the range (default 3)
  --cut ISO             a cut time (repeatable; instead of --cuts)
  --alter LIST          how the future is changed: ${ALTERATIONS.join(', ')} (default replace,drop)
  --skip-bad-rows       skip CSV rows the candle gate refuses
  --allow-missing-reference
                        trade without the regime reference symbol (as for the backtest)
  --json                print the report as JSON
  -h, --help            this help
`;

function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        cuts: { type: 'string' },
        cut: { type: 'string', multiple: true },
        alter: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}

export async function main(args: string[]): Promise<void> {
  const v = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const { symbols, from, to, base: strategies, indicators } = runSelection(v);
  const alterations = (v.alter ?? 'replace,drop').split(',').map((s) => s.trim()) as Alteration[];
  for (const a of alterations) if (!ALTERATIONS.includes(a)) fail(`--alter: '${a}' is not one of ${ALTERATIONS.join(', ')}`);
  const count = v.cuts === undefined ? 3 : Number(v.cuts);
  if (!(Number.isInteger(count) && count > 0)) fail('--cuts must be a whole number > 0');
  if (v.cuts !== undefined && v.cut !== undefined) fail('give --cuts N or --cut ISO, not both');
  const warmup = warmupOverride(v, neededWarmup(strategies, [], false));
  const series = await loadSeries(v as Record<string, string | boolean | string[] | undefined>, symbols, { from, to, warmup });
  if (badRows.skipped > 0) process.stderr.write(`--skip-bad-rows: skipped ${badRows.skipped} CSV row(s) the candle gate refused\n`);
  const allowMissingReference = v['allow-missing-reference'] === true;
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies, ...(allowMissingReference ? { allowMissingReference } : {}) };
  const range = createMarket({ series, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
  const cuts = v.cut ? v.cut.map((c) => parseTime(c, '--cut') as number) : defaultCuts(range.from, range.to, count);
  for (const c of cuts) if (!(c > range.from && c < range.to)) fail(`--cut ${new Date(c).toISOString()} is outside the range ${new Date(range.from).toISOString()} .. ${new Date(range.to).toISOString()}`);
  if (cuts.length === 0) fail('the range is too short for a cut');
  const bar = progressBar('lookahead', 'runs');
  const report = checkLookahead({
    series,
    cuts,
    alterations,
    strategies: closeEvaluators(strategies).map((c) => c.strategy),
    run: (s) => runBacktest(createMarket({ series: s, from: range.from, to: range.to }), config, { indicators, record: { decisions: true, signals: true } }),
    onProgress: bar.update,
  });
  bar.stop();
  process.stdout.write((v.json ? JSON.stringify(report, null, 2) : formatLookahead(report)) + '\n');
  if (report.lookahead) process.exitCode = 1;
}
