/**
 * `npm run backtest -- hyperopt [options]`: random or TPE search over ranges of any config keys,
 * optionally walk-forward (search per train window, test on the next) and a Monte Carlo of the
 * resulting trades; every trial printed / written / stored; the best proposed (never applied).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { parse as parseYaml } from 'yaml';
import { fail } from '../cli.js';
import { COST_PROFILES, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, type Overrides, type StrategySelection } from '../../shared/backtest/config.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type IndicatorMode } from '../../shared/backtest/run.js';
import { DEFAULT_MIN_TRADES, OBJECTIVES, summariseTrade, type BacktestMetrics, type Objective } from '../../shared/backtest/metrics.js';
import { runWalkForward, type WalkForwardResult } from '../../shared/backtest/walk-forward.js';
import { decimateEquity, formatRun, htmlReport } from '../../shared/backtest/report.js';
import { trialRow } from '../../shared/backtest/shards.js';
import { backtestId, backtestRunRow, storeBacktest, storeTrials, type StoredTrialDoc } from '../../shared/backtest/store.js';
import { parseParam, spaceCorners, spaceFromDocument, validateSpace, type SearchSpace } from '../../shared/backtest/hyperopt/space.js';
import { SAMPLERS, type SamplerName } from '../../shared/backtest/hyperopt/sampler.js';
import { DEFAULT_TPE_BATCH, runHyperopt, type HyperoptResult, type Trial } from '../../shared/backtest/hyperopt/search.js';
import { monteCarlo, type MonteCarloResult } from '../../shared/backtest/hyperopt/monte-carlo.js';
import { bestSoFar, formatHyperopt, formatMonteCarlo, formatWalkForwardHyperopt } from '../../shared/backtest/hyperopt/report.js';
import type { ClosedTrade } from '../../shared/model/trading.js';
import { parseAssignment, parseDuration, RUN_OPTIONS, runSelection, objectiveOf } from './args.js';
import { openStateForWrite, proposeOverrides, stateFileOf } from './stored.js';
import { badRows, DEFAULT_DATA, DEFAULT_SYMBOLS, loadSeries, neededWarmup, warmupOverride, type LoadRange } from './load.js';

const DEFAULT_TRIALS = 100;
const DEFAULT_SEED = 1;
const DEFAULT_SKIP_P = 0.1;

export const HELP = `Usage: npm run backtest -- hyperopt --space KEY=SPEC [--space ...] [options]

Searches ranges of ANY config keys with a budget of trials (each one backtest of the production
code, as \`npm run backtest\` runs it) and ranks them; random search or TPE (Tree-structured Parzen
Estimator: a model of good vs bad trials proposes the next ones). Runs on worker processes (one per
core); TPE proposes one trial per worker per round. Deterministic for a seed and worker count.

Search space:
  --space KEY=SPEC      repeatable; KEY is a config key path (K1,K2 = linked keys, same value); SPEC:
                          int:LOW:HIGH[:STEP][:log]     e.g. scalp.v52_divergence.divergence.rsiPeriod=int:6:20
                          float:LOW:HIGH[:STEP][:log]   e.g. risk.scalp.perTradeRiskPct=float:0.1:0.5
                          choice:A,B,...                e.g. scalp.v52_divergence.exits.mode=choice:fixed,atr
                        log = sample in log space (LOW > 0). Keys are checked against the config first.
  --space-file FILE     the same as a JSON or YAML object { KEY: SPEC } (SPEC a string as above, or
                        { type: int|float|choice, low, high, step, log, values, keys })

Search:
  --trials N            trials (default ${DEFAULT_TRIALS})
  --sampler NAME        ${SAMPLERS.join(' | ')} (default tpe; the first 10 trials are random)
  --seed N              seed of the sampler and the Monte Carlo (default ${DEFAULT_SEED})
  --objective NAME      ${OBJECTIVES.join(' | ')} (default totalPnl; see README)
  --min-trades N        a trial with fewer closed trades never ranks above one that has them
                        (default ${DEFAULT_MIN_TRADES}: below that one lucky trade decides any objective)
  --workers N           worker processes (default: the number of cores; 0 = this process)
  --top N               trials shown (default 10)
  --walk-forward T,S    search on each train window T (e.g. 7d), test the best on the next S (e.g.
                        3d); the out-of-sample result is the honest figure
  --monte-carlo N       N simulations over the closed trades (the out-of-sample ones with
                        --walk-forward, else the best trial's): shuffled order and skipped trades
  --mc-skip P           drop probability per trade in the skip simulation (default ${DEFAULT_SKIP_P})

Data and config (as \`npm run backtest -- --help\`):
  --data PATHS, --warehouse FILE, --venue NAME, --symbols A,B (default ${DEFAULT_SYMBOLS.join(',')}),
  --from ISO, --to ISO, --warmup-hours N (default: what the widest point of the space needs), --skip-bad-rows,
  --strategy ID|all (default all), --set KEY=VALUE, --costs ${COST_PROFILES.join('|')} (default: config),
  --indicators full|live-window,
  --allow-missing-reference. Default data: ${DEFAULT_DATA}

Output:
  --out DIR             result.json (every trial, the chosen run, walk-forward, Monte Carlo) and
                        report.html of the chosen run
  --json                print the JSON instead of the tables
  --store               state document backtests/{id}, every trial as backtests/{id}/trials/{n},
                        warehouse rows backtest_runs + backtest_trials (beside --state)
  --state FILE          SQLite state file (default .data/live/state.sqlite; CST_DATA_DIR honoured)
  --propose             the chosen parameters as a PENDING suggestion (suggestions/{id}, Telegram
                        /suggestions items); never applied automatically
  -h, --help            this help

Example (the bundled month, 200 TPE trials, walk-forward, Monte Carlo):
  npm run backtest -- hyperopt --strategy v52_divergence --trials 200 \\
    --space scalp.v52_divergence.divergence.rsiPeriod=int:6:20 \\
    --space scalp.v52_divergence.volumeSpike.minRatio=float:1.2:4 \\
    --space scalp.v52_divergence.exits.mode=choice:fixed,atr \\
    --walk-forward 10d,5d --monte-carlo 1000
`;

function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        space: { type: 'string', multiple: true },
        'space-file': { type: 'string' },
        trials: { type: 'string' },
        sampler: { type: 'string', default: 'tpe' },
        seed: { type: 'string' },
        objective: { type: 'string', default: 'totalPnl' },
        'min-trades': { type: 'string' },
        workers: { type: 'string' },
        top: { type: 'string' },
        'walk-forward': { type: 'string' },
        'monte-carlo': { type: 'string' },
        'mc-skip': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        store: { type: 'boolean', default: false },
        state: { type: 'string' },
        propose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}

type CliValues = ReturnType<typeof readArgs>;

function wholeNumber(raw: string | undefined, def: number, flag: string, min = 0): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= min)) fail(`${flag} must be a whole number >= ${min} (got '${raw}')`);
  return n;
}

interface Settings {
  symbols: string[];
  from: number | undefined;
  to: number | undefined;
  sel: StrategySelection;
  indicators: IndicatorMode;
  sets: Overrides;
  base: StrategyConfigs;
  space: SearchSpace;
  trials: number;
  sampler: SamplerName;
  seed: number;
  objective: Objective;
  minTrades: number;
  workers: number | undefined;
  top: number;
  wf: { trainMs: number; testMs: number; spec: string } | null;
  mc: number;
  mcSkip: number;
}

function readSpaceFile(file: string): SearchSpace {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    fail(`--space-file: cannot read ${file}`);
  }
  let doc: unknown;
  try {
    doc = ['.yaml', '.yml'].includes(extname(file).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    fail(`--space-file ${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'JSON / YAML'}: ${(e as Error).message}`);
  }
  try {
    return spaceFromDocument(doc);
  } catch (e) {
    fail(`--space-file ${file}: ${(e as Error).message}`);
  }
}

function settingsOf(v: CliValues): Settings {
  const { symbols, from, to, sel, sets, base, indicators } = runSelection(v);
  const objective = objectiveOf(v.objective);
  if (!SAMPLERS.includes(v.sampler as SamplerName)) fail(`--sampler must be ${SAMPLERS.join(' or ')} (got '${v.sampler}')`);
  const space: SearchSpace = [];
  try {
    for (const s of v.space ?? []) {
      const [k, raw] = parseAssignment(s, '--space');
      space.push(parseParam(k, raw));
    }
  } catch (e) {
    fail(`--space: ${(e as Error).message}`);
  }
  if (v['space-file'] !== undefined) space.push(...readSpaceFile(v['space-file']));
  try {
    validateSpace(space, base);
  } catch (e) {
    fail((e as Error).message);
  }
  let wf: Settings['wf'] = null;
  if (v['walk-forward'] !== undefined) {
    const [a, b] = v['walk-forward'].split(',');
    if (!a || !b) fail('--walk-forward needs TRAIN,TEST (e.g. 10d,5d)');
    wf = { trainMs: parseDuration(a, '--walk-forward'), testMs: parseDuration(b, '--walk-forward'), spec: v['walk-forward'] };
  }
  const mcSkip = v['mc-skip'] === undefined ? DEFAULT_SKIP_P : Number(v['mc-skip']);
  if (!(mcSkip >= 0 && mcSkip < 1)) fail(`--mc-skip must be a probability in [0, 1) (got '${v['mc-skip']}')`);
  return {
    symbols,
    from,
    to,
    sel,
    indicators,
    sets,
    base,
    space,
    trials: wholeNumber(v.trials, DEFAULT_TRIALS, '--trials', 1),
    sampler: v.sampler as SamplerName,
    seed: wholeNumber(v.seed, DEFAULT_SEED, '--seed'),
    objective,
    minTrades: wholeNumber(v['min-trades'], DEFAULT_MIN_TRADES, '--min-trades'),
    workers: v.workers === undefined ? undefined : wholeNumber(v.workers, 0, '--workers'),
    top: wholeNumber(v.top, 10, '--top', 1),
    wf,
    mc: wholeNumber(v['monte-carlo'], 0, '--monte-carlo'),
    mcSkip,
  };
}

/** A progress bar with the best trial so far. */
function trialBar(label: string) {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} trials | {best} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number, best: string) {
      if (!started) {
        bar.start(total, 0, { best: '' });
        started = true;
      }
      bar.update(done, { best });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function trialDoc(t: Trial, extra: Record<string, unknown> = {}): StoredTrialDoc {
  return {
    index: t.index,
    rank: t.rank,
    labels: t.labels,
    overrides: t.overrides,
    metrics: t.metrics,
    score: t.score,
    eligible: t.eligible,
    wallMs: t.wallMs,
    round: t.round,
    ...(t.invalid !== undefined ? { invalid: t.invalid } : {}),
    ...(t.duplicateOf !== undefined ? { duplicateOf: t.duplicateOf } : {}),
    ...extra,
  };
}

export async function main(args: string[]): Promise<void> {
  const v = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const st = settingsOf(v);
  // Warm-up history before --from: what the most demanding point of the space needs (its corners: keys combine).
  const probes = spaceCorners(st.space);
  const range: LoadRange = { from: st.from, to: st.to, warmup: warmupOverride(v, neededWarmup(st.base, probes, false)) };
  const series = await loadSeries(v as Record<string, string | boolean | string[] | undefined>, st.symbols, range);
  if (badRows.skipped > 0) process.stderr.write(`--skip-bad-rows: skipped ${badRows.skipped} CSV row(s) the candle gate refused\n`);
  const allowMissingReference = v['allow-missing-reference'] === true;
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: st.base, ...(allowMissingReference ? { allowMissingReference } : {}) };
  const market = createMarket({ series, ...(st.from !== undefined ? { from: st.from } : {}), ...(st.to !== undefined ? { to: st.to } : {}) });
  const out: string[] = [];
  const doc: Record<string, unknown> = {
    kind: 'hyperopt',
    params: {
      symbols: st.symbols, from: market.from, to: market.to, strategy: st.sel, set: st.sets, indicators: st.indicators, objective: st.objective, minTrades: st.minTrades,
      sampler: st.sampler, seed: st.seed, batch: st.sampler === 'tpe' ? DEFAULT_TPE_BATCH : st.trials, trials: st.trials, workers: st.workers ?? null, space: st.space, walkForward: st.wf?.spec ?? null, monteCarlo: st.mc, mcSkip: st.mcSkip,
      ...(allowMissingReference ? { allowMissingReference } : {}),
    },
  };
  const search = (from: number, to: number, seed: number, label: string): Promise<HyperoptResult> => {
    const bar = trialBar(label);
    return runHyperopt({
      series, from, to, config, space: st.space, trials: st.trials, sampler: st.sampler, seed, objective: st.objective, minTrades: st.minTrades, indicators: st.indicators,
      ...(st.workers !== undefined ? { workers: st.workers } : {}),
      onTrial: (d, n, best) => bar.update(d, n, bestSoFar(best, st.objective)),
    })
      .finally(() => bar.stop())
      .then((h) => {
        // refused trials rank last: a refused best means the config refused every trial
        const best = h.trials[0];
        if (best === undefined || best.invalid !== undefined) fail(`${label}: the config refused every trial of the space (e.g. ${best?.invalid ?? 'no trial ran'}); narrow or move the ranges so that a valid combination exists`);
        return h;
      });
  };

  let chosen: { overrides: Overrides; labels: Record<string, string>; metrics: BacktestMetrics; by: string };
  let mcTrades: ClosedTrade[];
  let mcOf: string;
  const storedTrials: StoredTrialDoc[] = [];
  if (st.wf) {
    const perWindow: HyperoptResult[] = [];
    let walk: WalkForwardResult;
    try {
      walk = await runWalkForward({
        series, from: market.from, to: market.to, config, objective: st.objective, minTrades: st.minTrades, trainMs: st.wf.trainMs, testMs: st.wf.testMs, indicators: st.indicators,
        search: async (r) => {
          // One seed per window (seed + window), so windows do not replay the same random trials.
          const h = await search(r.from, r.to, st.seed + r.window, `window ${r.window + 1} train`);
          perWindow.push(h);
          return { rows: h.trials, from: h.from, to: h.to };
        },
      });
    } catch (e) {
      if (/walk-forward:/.test((e as Error).message)) fail((e as Error).message);
      throw e;
    }
    const rows = walk.windows.map((w) => ({ trainFrom: w.trainFrom, trainTo: w.trainTo, testFrom: w.testFrom, testTo: w.testTo, labels: w.chosen.labels, overrides: w.chosen.overrides, eligible: w.chosen.eligible, train: w.chosen.metrics, test: w.test }));
    out.push(...perWindow.map((h, k) => `Window ${k + 1} train search:\n${formatHyperopt(h, st.space, Math.min(st.top, 5))}`));
    out.push(formatWalkForwardHyperopt(rows, walk.outOfSample, st.trials, st.sampler));
    doc.walkForward = { train: st.wf.spec, outOfSample: walk.outOfSample, latest: { labels: walk.latest.labels, overrides: walk.latest.overrides }, windows: rows.map((r, k) => ({ ...r, trials: perWindow[k]?.trials.length ?? 0, runs: perWindow[k]?.runs ?? 0, wallMs: perWindow[k]?.wallMs ?? 0 })) };
    perWindow.forEach((h, k) => {
      for (const t of h.trials) storedTrials.push(trialDoc(t, { window: k, index: k * st.trials + t.index, trialInWindow: t.index }));
    });
    const last = walk.windows[walk.windows.length - 1];
    chosen = { overrides: walk.latest.overrides, labels: walk.latest.labels, metrics: last?.chosen.metrics as BacktestMetrics, by: "the walk-forward's choice on its last train window (in-sample there; the out-of-sample figures are the walk-forward's)" };
    mcTrades = walk.windows.flatMap((w) => w.testTrades);
    mcOf = 'the out-of-sample trades of every test window';
  } else {
    const h = await search(market.from, market.to, st.seed, 'hyperopt');
    out.push(formatHyperopt(h, st.space, st.top));
    for (const t of h.trials) storedTrials.push(trialDoc(t));
    const best = h.trials[0] as Trial;
    if (!best.eligible) out.push(`note: no trial reached --min-trades ${st.minTrades}; the best shown has ${best.metrics.trades} trades (lower --min-trades or widen the range / data)`);
    chosen = { overrides: best.overrides, labels: best.labels, metrics: best.metrics, by: `the best trial (#${best.index}) by ${st.objective}, IN-SAMPLE: it was chosen on this data (use --walk-forward for an out-of-sample figure)` };
    mcTrades = [];
    mcOf = "the best trial's trades (in-sample)";
  }
  doc.hyperopt = { sampler: st.sampler, seed: st.seed, trials: storedTrials.sort((a, b) => a.index - b.index) };

  // The detailed run: the chosen configuration, never the defaults.
  const strategies = applyOverrides(st.base, chosen.overrides);
  const run = runBacktest(market, { ...config, strategies }, { indicators: st.indicators, record: { decisions: false } });
  if (!st.wf) mcTrades = run.trades;
  out.push(`Detailed run: ${chosen.by}\n${formatRun(run)}`);
  doc.run = {
    chosenBy: chosen.by,
    labels: chosen.labels,
    overrides: chosen.overrides,
    from: run.from,
    to: run.to,
    metrics: run.metrics,
    notes: run.notes,
    trades: run.trades.map((t) => ({ ...summariseTrade(t), avgEntry: t.avgEntry, exitPrice: t.exitPrice, qty: t.qty, fees: t.fees })),
    equity: decimateEquity(run.equityTime, run.equity, run.samples),
  };
  let mc: MonteCarloResult | null = null;
  if (st.mc > 0) {
    const ordered = [...mcTrades].sort((a, b) => a.exitTime - b.exitTime);
    mc = monteCarlo({ pnl: ordered.map((t) => t.pnl), startingEquity: st.base.risk.startingEquityUsd, simulations: st.mc, seed: st.seed, skipP: st.mcSkip });
    out.push(`Monte Carlo of ${mcOf}:\n${formatMonteCarlo(mc)}`);
    doc.monteCarlo = { of: mcOf, ...mc };
  }

  const createdAt = Date.now();
  const id = backtestId(createdAt, doc.params);
  doc.createdAt = createdAt;
  doc.id = id;
  if (v.out !== undefined) {
    const dir = resolve(v.out);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'result.json'), JSON.stringify(doc, null, 2) + '\n');
    const title = `Hyperopt ${st.symbols.join(', ')} (${st.sel}): chosen configuration`;
    writeFileSync(join(dir, 'report.html'), htmlReport({ title, subtitle: `${Object.entries(chosen.labels).map(([k, x]) => `${k}=${x}`).join(', ')}; ${chosen.by}`, startingEquity: strategies.risk.startingEquityUsd, start: run.from, time: run.equityTime, equity: run.equity, samples: run.samples, trades: run.trades, metrics: run.metrics, notes: run.notes }));
    out.push(`wrote ${join(dir, 'result.json')}, ${join(dir, 'report.html')}`);
  }
  if (v.store || v.propose) {
    const file = stateFileOf(v.state);
    const state = await openStateForWrite(file);
    try {
      if (v.store) {
        // The run document keeps the ten best trials; every trial is its own document.
        const summary = { ...doc, hyperopt: { sampler: st.sampler, seed: st.seed, trialCount: storedTrials.length, top: [...storedTrials].sort((a, b) => a.rank - b.rank || a.index - b.index).slice(0, 10) } };
        const r = await storeBacktest(state, id, summary);
        const t = await storeTrials(state, id, storedTrials);
        const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
        const whFile = join(resolve(file, '..'), 'warehouse.duckdb');
        const wh = new DuckDbWarehouse({ file: whFile });
        try {
          await wh.ensureSchema();
          await wh.insert('backtest_runs', [backtestRunRow(id, createdAt, { symbols: st.symbols, from: market.from, to: market.to, objective: st.objective }, run.metrics, summary)]);
          await wh.insert('backtest_trials', storedTrials.map((x) => trialRow({ runId: id, index: x.index, labels: x.labels, overrides: x.overrides, metrics: x.metrics, wallMs: x.wallMs, shardIndex: null, attempt: null, createdAt }, st.objective)));
        } finally {
          await wh.close();
        }
        out.push(`${r.created ? 'stored' : 'already stored'}: ${r.path} and ${t.written} trial(s) under ${t.path} in ${file}; warehouse backtest_runs + ${storedTrials.length} backtest_trials rows in ${whFile}`);
      }
      if (v.propose) {
        out.push(
          await proposeOverrides(state, {
            id, createdAt, objective: st.objective, base: st.base, overrides: chosen.overrides, proposed: run.metrics,
            baseline: () => runBacktest(market, config, { indicators: st.indicators, record: { decisions: false, signals: false } }).metrics,
            summary: (list, baseline) => `hyperopt ${st.sampler} ${st.trials} trials${st.wf ? ` walk-forward ${st.wf.spec}` : ''} (${st.objective}, min ${st.minTrades} trades): ${list}; P&L over the range ${baseline.totalPnl.toFixed(2)} -> ${run.metrics.totalPnl.toFixed(2)} USD${st.wf ? ' (in-sample for the last train window; see the out-of-sample result)' : ' (in-sample)'}`,
          }),
        );
      }
    } finally {
      await state.close();
    }
  }
  if (v.json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  else process.stdout.write(out.join('\n\n') + '\n');
}
