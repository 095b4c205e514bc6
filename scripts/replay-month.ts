/**
 * The month of REAL data through the REAL pipeline: the CLI of infra/runtime/month-replay.ts
 * (`runReplay`; its header says what runs and in which order) and infra/runtime/month-invariants.ts
 * (`--check`, `--duplicate`, `--stress-protections`). This file parses the options, shows progress and
 * prints the summary. `npx tsx scripts/replay-month.ts --help` for the options.
 */
import { fail, parseTime } from './cli.js';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../shared/config/strategy.js';
import { INTERVAL_MS } from '../shared/model/market.js';
import { kitSeries } from '../infra/replay/kit-data.js';
import { DEFAULT_SYMBOLS, runReplay, type ReplayOptions, type ReplayResult } from '../infra/runtime/month-replay.js';
import { compareRuns, formatInvariants, InvariantMonitor, stressProtections, type InvariantReport } from '../infra/runtime/month-invariants.js';

const MINUTE = INTERVAL_MS['1m'];

const HELP = `Usage: npx tsx scripts/replay-month.ts [options]

Drives the kit's month of REAL Bybit 1m candles (BTC, ETH, SOL) through the real function handlers
(candle-ingest, micro-scalp, execution, macro-analysis every 5 minutes) on the in-process bus with
the embedded SQLite state and DuckDB warehouse, on a manual clock, as fast as possible. Prints the
scan decisions per strategy and symbol and the paper-trading results.

Options:
  --data DIR               the kit's data folder (default ../shared/data)
  --symbols A,B            symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --from ISO --to ISO      publish only 1m candles opening in [from, to] (UTC, e.g. 2025-06-10T00:00Z)
  --days N                 publish N days from --from (or from the start)
  --warmup-hours N         1m hours before --from written to the hot store first (default 0)
  --duplicate-delivery     deliver every bus message twice (idempotency check)
  --check                  assert the invariants over the whole run after every committed account
                           transaction (risk cap, no entry in PANIC or cooldown) and the P&L identity;
                           exit code 1 when one fails
  --duplicate              also replay the range with every message delivered twice and assert
                           identical trades / signals / positions / equity (implies --check)
  --stress-protections     the CI day test's tightened PANIC / CAUTION / cooldown thresholds
  --state FILE             keep the SQLite state in FILE (default in memory)
  --warehouse FILE         keep the DuckDB warehouse in FILE (default in memory)
  --json                   print the summary as JSON instead of tables
  --verbose                print WARNING and ERROR log lines (default: counted only)
  -h, --help               this help
`;

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

function formatSummary(r: ReplayResult): string {
  const out: string[] = [];
  const iso = (t: number) => new Date(t).toISOString().slice(0, 16) + 'Z';
  out.push(`Replay ${iso(r.from)} -> ${iso(r.to)}: ${r.minutes} minutes, ${r.candlesPublished} 1m candles, ${r.macroRuns} macro runs, wall ${(r.wallMs / 1000).toFixed(1)} s${r.duplicateDelivery ? ' (every message delivered twice)' : ''}`);
  out.push('');
  out.push('Scan decisions (warehouse signals):');
  out.push(`${'strategy'.padEnd(18)} ${'symbol'.padEnd(8)} ${pad('TAKE', 7)} ${pad('NEAR_MISS', 10)} ${pad('SKIP', 7)}`);
  for (const c of r.signals) out.push(`${c.strategy.padEnd(18)} ${c.symbol.padEnd(8)} ${pad(c.TAKE, 7)} ${pad(c.NEAR_MISS, 10)} ${pad(c.SKIP, 7)}`);
  out.push('');
  out.push('Paper trades (closed trade groups):');
  out.push(`${'strategy'.padEnd(18)} ${pad('trades', 7)} ${pad('wins', 6)} ${pad('win %', 7)} ${pad('P&L USD', 11)} ${pad('fees USD', 10)}`);
  for (const t of r.trades) {
    out.push(`${t.strategy.padEnd(18)} ${pad(t.trades, 7)} ${pad(t.wins, 6)} ${pad((t.winRate * 100).toFixed(1), 7)} ${pad(t.pnl.toFixed(2), 11)} ${pad(t.fees.toFixed(2), 10)}`);
  }
  const e = r.equity;
  out.push('');
  out.push(`equity: start ${e.start.toFixed(2)}, realized ${e.realized.toFixed(2)} (change ${e.change >= 0 ? '+' : ''}${e.change.toFixed(2)}, ${((e.change / e.start) * 100).toFixed(2)} %), marked ${e.marked.toFixed(2)} with ${e.openPositions} open`);
  out.push(`published: ${Object.entries(r.published).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ')}`);
  out.push(`dead letters: ${r.deadLetters.length}; log lines: ${Object.entries(r.logCounts).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out.join('\n');
}

/** The command line as replay settings. */
interface CliOptions {
  dataDir: string;
  symbols: string[];
  from: number | undefined;
  to: number | undefined;
  warmupHours: number;
  duplicateDelivery: boolean;
  check: boolean;
  duplicate: boolean;
  strategies: StrategyConfigs;
  state: string | undefined;
  warehouse: string | undefined;
  json: boolean;
  verbose: boolean;
}

function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        data: { type: 'string', default: '../shared/data' },
        symbols: { type: 'string', default: DEFAULT_SYMBOLS.join(',') },
        from: { type: 'string' },
        to: { type: 'string' },
        days: { type: 'string' },
        'warmup-hours': { type: 'string', default: '0' },
        'duplicate-delivery': { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        duplicate: { type: 'boolean', default: false },
        'stress-protections': { type: 'boolean', default: false },
        state: { type: 'string' },
        warehouse: { type: 'string' },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const symbols = v.symbols.split(',').map((s) => s.trim()).filter(Boolean);
  let from = parseTime(v.from, '--from');
  let to = parseTime(v.to, '--to');
  const days = v.days === undefined ? undefined : Number(v.days);
  if (days !== undefined && !(days > 0)) fail(`--days must be a positive number (got '${v.days}')`);
  const warmupHours = Number(v['warmup-hours']);
  if (!(warmupHours >= 0)) fail(`--warmup-hours must be >= 0 (got '${v['warmup-hours']}')`);
  if (days !== undefined) {
    from ??= kitSeries(resolve(v.data), symbols[0] as string, '1m', '1m').openTime[0] as number;
    to = from + days * 24 * 60 * MINUTE - MINUTE;
  }
  return {
    dataDir: resolve(v.data),
    symbols,
    from,
    to,
    warmupHours,
    duplicateDelivery: v['duplicate-delivery'],
    check: v.check || v.duplicate,
    duplicate: v.duplicate,
    strategies: v['stress-protections'] ? stressProtections(DEFAULT_STRATEGY_CONFIGS) : DEFAULT_STRATEGY_CONFIGS,
    state: v.state,
    warehouse: v.warehouse,
    json: v.json,
    verbose: v.verbose,
  };
}

/** One run with a progress bar on stderr. */
async function replayWithProgress(o: CliOptions, label: string, duplicateDelivery: boolean, wrapState?: ReplayOptions['wrapState']): Promise<ReplayResult> {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} min | {market} | eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      // Also when stderr is not a terminal (CI logs): a line every 15 s.
      noTTYOutput: true,
      notTTYSchedule: 15_000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const r = await runReplay({
    dataDir: o.dataDir,
    symbols: o.symbols,
    ...(o.from !== undefined ? { from: o.from } : {}),
    ...(o.to !== undefined ? { to: o.to } : {}),
    warmupMs: o.warmupHours * 60 * MINUTE,
    duplicateDelivery,
    strategies: o.strategies,
    ...(wrapState ? { wrapState } : {}),
    ...(o.state && !duplicateDelivery ? { stateFile: resolve(o.state) } : {}),
    ...(o.warehouse && !duplicateDelivery ? { warehouseFile: resolve(o.warehouse) } : {}),
    ...(o.verbose ? { logSink: (line: string) => process.stderr.write(line + '\n') } : {}),
    onProgress: (done, total, t) => {
      const market = new Date(t).toISOString().slice(0, 16) + 'Z';
      if (!started) {
        bar.start(total, 0, { market });
        started = true;
      }
      if (done % 30 === 0 || done === total) bar.update(done, { market });
    },
  });
  if (started) bar.stop();
  return r;
}

function printResult(o: CliOptions, result: ReplayResult, invariants: InvariantReport | undefined): void {
  if (o.json) {
    const { paperTrades: _p, signalRows: _s, rejectedRows: _r, account: _a, ...summary } = result;
    process.stdout.write(JSON.stringify({ ...summary, deadLetters: result.deadLetters.map((d) => ({ subscription: d.subscription, reason: d.reason })), ...(invariants ? { invariants } : {}) }, null, 2) + '\n');
  } else {
    process.stdout.write(formatSummary(result) + '\n');
    if (invariants) process.stdout.write('\n' + formatInvariants(invariants) + '\n');
  }
}

async function main(): Promise<void> {
  const o = parseCli(process.argv.slice(2));
  if (o === 'help') {
    process.stdout.write(HELP);
    return;
  }
  const monitor = o.check ? new InvariantMonitor(o.strategies) : undefined;
  const result = await replayWithProgress(o, 'replay', o.duplicateDelivery && !o.duplicate, monitor?.wrap);
  const invariants = monitor?.report(result);
  if (invariants && o.duplicate) {
    const dup = await replayWithProgress(o, 'replay x2', true);
    const differences = compareRuns(result, dup);
    invariants.duplicate = { identical: differences.length === 0, differences };
    if (dup.deadLetters.length > 0 || (dup.logCounts.ERROR ?? 0) > 0) process.exitCode = 1;
  }
  printResult(o, result, invariants);
  if (result.deadLetters.length > 0 || (result.logCounts.ERROR ?? 0) > 0) process.exitCode = 1;
  if (invariants && (!invariants.ok || invariants.duplicate?.identical === false)) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`replay failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
