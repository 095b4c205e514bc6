/**
 * The monthly cost of the default deployment (infra/cost/estimate.ts): invocations from scheduler.yaml,
 * the Pub/Sub topology and the config; prices from the table in estimate.ts.
 *
 *   npm run cost                       # the default config (9 symbols)
 *   npm run cost -- --symbols 3,9,25   # how it grows with the number of symbols
 *   npm run cost -- --json
 *   npm run cost -- --measure          # measure the candle pipeline's Firestore operations on a replayed day
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../shared/config/system.js';
import { loadSchedule, SCHEDULER_YAML } from '../shared/schedule/schema.js';
import { DEFAULT_ASSUMPTIONS, monthlyCost, PRICES, type CostEstimate, type Deployment } from '../infra/cost/estimate.js';
import { CountingState } from '../infra/cost/counting-state.js';
import { FUNCTION_MEMORY } from '../infra/deploy/plan.js';
import { buildAlertPolicies } from '../infra/monitoring/alert-policies.js';

/** The day `--measure` replays (inside test/fixtures/kit, with 74 h of warm-up before it). */
const MEASURE_DAY = '2025-06-11';
const MEASURE_DATA = 'test/fixtures/kit';

export const HELP = `Usage: npm run cost -- [--symbols N[,N...]] [--tick-batch-ms MS] [--json]

Estimates the monthly Google Cloud bill of the default deployment (us-central1 list prices as of
${PRICES.asOf}): function invocations from scheduler.yaml, the Pub/Sub topology and the config, the
always-on holder, Firestore, Pub/Sub, Scheduler, Secret Manager, alerting. Prints the arithmetic.

Options:
  --symbols N[,N...]   estimate with the first N symbols of the default list (up to 25: more are
                       copies of the 9 defaults, for the shape of the growth); several give a table
  --tick-batch-ms MS   the holder's tick batch period (bybit.tickBatchMs, default ${DEFAULT_SYSTEM_CONFIG.bybit.tickBatchMs})
  --json               the estimate as JSON
  --measure            replay one real day (${MEASURE_DAY}, BTC/ETH/SOL, the repository's kit slice)
                       through the whole candle pipeline on the embedded store and print the Firestore
                       reads and writes it made per symbol per day (the figure the estimate uses)
  -h, --help           this text
`;

/** The default config with its first `n` symbols (past the 9 defaults: numbered copies, enabled). */
export function withSymbols(base: SystemConfig, n: number): SystemConfig {
  const symbols = Array.from({ length: n }, (_, i) => {
    const s = base.symbols[i % base.symbols.length]!;
    return i < base.symbols.length ? { ...s, enabled: true } : { ...s, symbol: `${s.symbol.replace(/USDT$/, '')}${i}USDT`, enabled: true };
  });
  return { ...base, symbols };
}

function deployment(system: SystemConfig): Deployment {
  return {
    system,
    schedule: loadSchedule(SCHEDULER_YAML),
    memory: FUNCTION_MEMORY,
    alertConditions: buildAlertPolicies().reduce((s, p) => s + ((p.conditions as unknown[] | undefined)?.length ?? 0), 0),
  };
}

function usd(x: number): string {
  return `$${x.toFixed(2)}`;
}

export function formatEstimate(e: CostEstimate): string {
  const out = [`Monthly estimate, ${e.symbols} symbols: ${usd(e.totalUsd)} (${Math.round(e.invocationsPerDay).toLocaleString('en-US')} function invocations a day)`, ''];
  const w = Math.max(...e.lines.map((l) => l.item.length));
  for (const l of e.lines) out.push(`  ${l.item.padEnd(w)}  ${usd(l.usd).padStart(8)}  ${l.quantity}; ${l.arithmetic}`);
  out.push('', '  invocations a day by function:');
  for (const f of e.byFunction) out.push(`    ${f.function.padEnd(18)} ${Math.round(f.perDay).toLocaleString('en-US').padStart(9)}`);
  return out.join('\n') + '\n';
}

/** Firestore operations per symbol per day of the candle pipeline (ingest, scalp, execution, notifier, macro), measured on a replayed day. */
export async function measureCandlePipeline(hours = 24, dataDir = MEASURE_DATA): Promise<{ reads: number; writes: number; symbols: number; day: string }> {
  const { runReplay, DEFAULT_SYMBOLS } = await import('../infra/runtime/month-replay.js');
  const from = Date.parse(`${MEASURE_DAY}T00:00:00Z`);
  let counter: CountingState | undefined;
  let minutes = 0;
  await runReplay({
    dataDir,
    symbols: DEFAULT_SYMBOLS,
    from,
    to: from + hours * 3_600_000 - 60_000,
    warmupMs: 74 * 3_600_000,
    wrapState: (state) => {
      counter = new CountingState(state);
      return counter;
    },
    // the warm-up is written before the first minute: count from the end of the first minute on and
    // scale the minutes counted to a day
    onProgress: (done, total) => {
      if (done === 1 && counter) counter.counts.reads = counter.counts.writes = 0;
      minutes = total;
    },
  });
  if (!counter || minutes < 2) throw new Error('the replay never built its state store or ran no minute');
  const scale = (1440 / (minutes - 1)) / DEFAULT_SYMBOLS.length;
  return { reads: Math.round(counter.counts.reads * scale), writes: Math.round(counter.counts.writes * scale), symbols: DEFAULT_SYMBOLS.length, day: MEASURE_DAY };
}

export async function run(argv: string[], out: (s: string) => void): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        symbols: { type: 'string' },
        'tick-batch-ms': { type: 'string' },
        json: { type: 'boolean', default: false },
        measure: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    out(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  if (values.measure) {
    const m = await measureCandlePipeline();
    out(
      values.json
        ? JSON.stringify(m) + '\n'
        : `Candle pipeline on ${m.day} (${m.symbols} symbols, replayed on the embedded store): ${m.reads.toLocaleString('en-US')} Firestore reads and ` +
            `${m.writes.toLocaleString('en-US')} writes per symbol per day (the estimate uses ${DEFAULT_ASSUMPTIONS.candlePipelinePerSymbolDay.reads.toLocaleString('en-US')} / ` +
            `${DEFAULT_ASSUMPTIONS.candlePipelinePerSymbolDay.writes.toLocaleString('en-US')}).\n`,
    );
    return 0;
  }
  const counts = (values.symbols ?? String(DEFAULT_SYSTEM_CONFIG.symbols.length)).split(',').map((x) => Number(x.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 25)) {
    out(`error: --symbols takes whole numbers from 1 to 25 (the config's limit), got "${values.symbols}"\n`);
    return 2;
  }
  const tick = values['tick-batch-ms'] === undefined ? DEFAULT_SYSTEM_CONFIG.bybit.tickBatchMs : Number(values['tick-batch-ms']);
  if (!Number.isInteger(tick) || tick < 100) {
    out(`error: --tick-batch-ms takes a whole number of milliseconds >= 100, got "${values['tick-batch-ms']}"\n`);
    return 2;
  }
  const estimates = counts.map((n) => {
    const base = withSymbols(DEFAULT_SYSTEM_CONFIG, n);
    return monthlyCost(deployment({ ...base, bybit: { ...base.bybit, tickBatchMs: tick } }), DEFAULT_ASSUMPTIONS, PRICES);
  });
  if (values.json) out(JSON.stringify(estimates.length === 1 ? estimates[0] : estimates, null, 2) + '\n');
  else if (estimates.length === 1) out(formatEstimate(estimates[0]!));
  else {
    out('symbols  invocations/day  total/month\n');
    for (const e of estimates) out(`${String(e.symbols).padStart(7)}  ${Math.round(e.invocationsPerDay).toLocaleString('en-US').padStart(15)}  ${usd(e.totalUsd).padStart(11)}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2), (s) => process.stdout.write(s)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`cost estimate failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
