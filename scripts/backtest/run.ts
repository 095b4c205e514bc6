/**
 * `npm run backtest -- [options]`: one backtest, a grid, a walk-forward and / or a stress report over
 * the production code (shared/backtest), printed as tables, written as JSON + HTML + PNG, optionally
 * stored (`backtests/{id}`) and proposed to the owner (`suggestions/{id}`, never applied).
 */
import { fail } from '../cli.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides, checkConfigKey, type Overrides, type StrategySelection } from '../../shared/backtest/config.js';
import { createMarket, type BacktestMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult, type IndicatorMode } from '../../shared/backtest/run.js';
import { formatLearning, learningJson, ML_MODES, runWithLearning, type BacktestMlMode, type LearningResult } from '../../shared/backtest/learning.js';
import { defaultGrid, expandGrid, runGrid, valueDimension, type GridDimension, type GridResult } from '../../shared/backtest/grid.js';
import { runWalkForward, type WalkForwardResult } from '../../shared/backtest/walk-forward.js';
import { runStress, STRESS_WINDOW_MS, type StressReport } from '../../shared/backtest/stress.js';
import { DEFAULT_MIN_TRADES, OBJECTIVES, summariseTrade, type Objective } from '../../shared/backtest/metrics.js';
import { decimateEquity, formatGrid, formatRun, formatStress, formatWalkForward, htmlReport } from '../../shared/backtest/report.js';
import { analyseRun, formatAnalysis, type RunAnalysis } from '../../shared/backtest/analysis.js';
import { backtestId, backtestRunRow, storeBacktest } from '../../shared/backtest/store.js';
import type { CandleSeries } from '../../shared/strategies/series.js';
import type { StateStore } from '../../shared/ports/state.js';
import { parseAssignment, parseDuration, parseValue, progressBar, RUN_OPTIONS, runSelection, objectiveOf } from './args.js';
import { openStateForWrite, proposeOverrides, stateFileOf } from './stored.js';
import { badRows, DEFAULT_DATA, DEFAULT_SYMBOLS, loadMacroSeries, loadSeries, neededWarmup, warmupOverride, type LoadRange } from './load.js';

const DEFAULT_TOP = 10;

export const HELP = `Usage: npm run backtest -- [options]

Runs the PRODUCTION scalp strategies, risk, protections and paper fills (shared/trading) over
historical 1m candles, exactly as the live pipeline would have (decisions on closed candles, fills
from the next candle, maker/taker costs as each order fills), and reports total P&L, win rate, max
drawdown, profit factor, expectancy, Sharpe, Sortino, trades, average duration, market change and
the best / worst trade.

Data (1m candles; several symbols are merged by time):
  --data PATHS          CSV files and/or folders, comma-separated (default ${DEFAULT_DATA}):
                        the kit's SYMBOL_1m.csv (ts_ms,open,high,low,close,volume) or Kraken OHLCVT
                        PAIR_1.csv (time_s,open,high,low,close,volume,trades; XBTUSD -> BTCUSDT);
                        SYMBOL=FILE names the symbol of a file (e.g. BTCUSDT=XBTUSDC_1.csv)
  --warehouse FILE      read the 1m candles from a DuckDB warehouse file instead (table ohlcv, filled
                        by download-data)
  --venue NAME          warehouse venue of the 1m candles: bybit (default) | kraken
  --symbols A,B,...     symbols (default ${DEFAULT_SYMBOLS.join(',')})
  --from ISO --to ISO   traded range, candle open times in UTC (default: all the data); candles
                        before --from are warm-up history (indicators, levels, volatility, regime,
                        MACRO), never traded. Without --from the range starts at the first candle,
                        cold: the report's warm-up lines say what could not compute and how long
  --warmup-hours N      override the 1m history read before --from (CSV and warehouse alike);
                        default: what the config needs (73 h with the defaults: the trend lines'
                        72 closed 1h buckets), see "warm-up" in the JSON
  --htf-data PATHS      run the MACRO engine too (bias every 5 min, swing setups DCA / SWING /
                        CHANNEL, swing fills on the Kraken 5m feed) on Kraken-venue candles:
                        a folder (any name) or files holding SYMBOL_5m.csv and SYMBOL_15m.csv (and
                        optionally SYMBOL_60m / 240m.csv, or Kraken OHLCVT PAIR_5 / 15 / 60 / 240.csv);
                        1h / 4h come from their own files or are resampled from 15m, whichever
                        reaches further back (the kit: as scripts/replay-month.ts does). Or a DuckDB
                        warehouse FILE.duckdb (5m / 15m / 1h / 4h of --htf-venue). The history
                        before --from is loaded as the config needs (the 4h trend: 210 closed 4h
                        candles to compute, live reads 500); less is reported. Single runs only
                        (not with the grid options)
  --htf-venue NAME      venue of the --htf-data warehouse candles: kraken (default) | bybit

Strategies and config (start: the SPEC defaults of shared/config/strategy.ts):
  --strategy ID         levels_exhaustion | v52_divergence: trade only that strategy (made emitting,
                        the other off); all (default): both exactly as configured (live behaviour)
  --set KEY=VALUE       override a config key, repeatable (VALUE is JSON or a string), e.g.
                        --set scalp.v52_divergence.exits.mode=atr --set risk.scalp.perTradeRiskPct=0.25
  --costs PROFILE       maker_taker (default: resting limits maker at their price, stops and
                        crossing fills taker + slippage; Bybit 0.02/0.055 %, Kraken 0.25/0.40 %) or
                        conservative (flat 0.06 % scalps / 0.3 % swings per side + slippage on every
                        fill); the same as --set paper.costs.profile=PROFILE
  --indicators MODE     full (default: indicators prepared once over the whole series) or
                        live-window (each candle re-prepared on live's last-200-candle window: what live
                        computes to the last bit; ~0.35 ms per strategy per candle)

Learning loop (SPEC 8; single runs only):
  --ml MODE             off (default: no model, today's run) | advisory | filter: walk-forward
                        learning on the backtest clock. Pass 1 is the run with ML off (the
                        strategies' unfiltered trades, each labelled with its scan's features); at
                        every 02:00 America/Los_Angeles in the range (the production retrain
                        schedule) each strategy with >= ml.retrain.minNewTrades new trades CLOSED
                        before that instant retrains with the production training and replacement
                        rules; pass 2 gives every TAKE / NEAR_MISS the prediction of the model in
                        force at its time. advisory records the predictions (trades as off); filter
                        lets the trading core refuse signals below ml.minConfidence (ml_filter) as
                        live does in filter mode. Prints per strategy trades, win rate, profit
                        factor and refusals with the filter off and on, and the model timeline
                        (--set ml.minConfidence=0.55 etc. tune it)

Optimisation:
  --grid                the SPEC grid: volume EMA {10,15,20,30} x RSI period {6,10,14} x RSI thresholds
                        {80/20,75/25,70/30} x exits {fixed 0.5/0.3 %, ATR 1.5/1.0} = 72 runs
  --dim KEY=V1,V2,...   a grid dimension on any config key (repeatable; adds to --grid or forms a grid)
  --objective NAME      ranking: ${OBJECTIVES.join(' | ')} (default totalPnl)
  --min-trades N        a run with fewer closed trades is never ranked above one that has them
                        (default ${DEFAULT_MIN_TRADES}: below that one lucky trade decides any objective)
  --workers N           parallel worker processes (default: the number of cores)
  --top N               grid rows shown (default ${DEFAULT_TOP})
  --walk-forward T,S    walk-forward with train window T and test window S (e.g. 7d,2d or 72h,24h);
                        uses the grid (--grid / --dim; the SPEC grid when neither is given); the
                        detailed run shown is the configuration chosen on the LAST train window
                        (for TPE / random search per window: npm run backtest -- hyperopt --help)
  --stress N            also run on the N most volatile windows (--stress-window, default 24h)
  --stress-window D     e.g. 24h, 12h, 2d

Output:
  --out DIR             write result.json, report.html (equity + drawdown + trade markers) and
                        equity.png (equity + drawdown)
  --json                print the JSON result instead of the tables
  --analysis            print every breakdown (hour of day, weekday, daily / weekly / monthly, direction)
                        and the entry-feature buckets (exhaustion checks, level, bias, volume, RSI)
                        against outcome; without it the per-pair, per-strategy and exit-reason tables.
                        The JSON, the stored run and report.html always hold them all
  --store               save the result as state document backtests/{id} and a warehouse backtest_runs row
                        (read back with npm run backtest -- show [id] / compare A B; lookahead check:
                        npm run backtest -- lookahead --help)
  --state FILE          the SQLite state file for --store / --propose (default .data/live/state.sqlite,
                        the embedded runtime's store; CST_DATA_DIR is honoured)
  --propose             with a grid: write the best parameters as a PENDING config change
                        suggestions/{id} (+ numeric items in ml_suggestions for Telegram /suggestions);
                        never applied automatically
  --skip-bad-rows       skip CSV rows the candle gate refuses (non-finite or non-positive price, OHLC
                        out of order, negative volume, time off the interval grid) and print their
                        count; default: stop at the first one, naming its file and line
  --allow-missing-reference
                        trade although the regime reference (BTCUSDT) is missing from the data or
                        has gaps: by default the run is fail-closed like live (no reference candle
                        for 5 min = no new entries; without it the run opens nothing). The report
                        notes say which applied
  -h, --help            this help
`;

function runJson(r: BacktestResult) {
  return {
    from: r.from,
    to: r.to,
    symbols: r.symbols,
    indicators: r.indicators,
    strategies: r.strategies,
    candles: r.steps,
    metrics: r.metrics,
    signals: { accepted: r.accepted, rejected: r.rejected },
    macro: r.macro,
    warmup: { neededHours: r.warmup.neededHours, loadedHours: r.warmup.loadedHours, short: r.warmup.short, partial: r.warmup.partial },
    openAtEnd: r.openAtEnd,
    unrealizedAtEnd: r.unrealizedAtEnd,
    notes: r.notes,
    costProfile: r.costProfile,
    fills: r.fills,
    trades: r.trades.map((t) => ({ ...summariseTrade(t), avgEntry: t.avgEntry, exitPrice: t.exitPrice, qty: t.qty, fees: t.fees, slippage: t.slippage ?? 0 })),
    equity: decimateEquity(r.equityTime, r.equity, r.samples),
  };
}

/** The command line as parseArgs reads it (a usage error exits with code 2). */
function readArgs(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...RUN_OPTIONS,
        'htf-data': { type: 'string' },
        'htf-venue': { type: 'string' },
        grid: { type: 'boolean', default: false },
        dim: { type: 'string', multiple: true },
        objective: { type: 'string', default: 'totalPnl' },
        'min-trades': { type: 'string' },
        workers: { type: 'string' },
        top: { type: 'string' },
        'walk-forward': { type: 'string' },
        stress: { type: 'string' },
        'stress-window': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        analysis: { type: 'boolean', default: false },
        store: { type: 'boolean', default: false },
        state: { type: 'string' },
        propose: { type: 'boolean', default: false },
        ml: { type: 'string', default: 'off' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  return parsed.values;
}

type CliValues = ReturnType<typeof readArgs>;

/** The checked settings of one invocation. */
interface Settings {
  symbols: string[];
  from: number | undefined;
  to: number | undefined;
  sel: StrategySelection;
  indicators: IndicatorMode;
  objective: Objective;
  minTrades: number;
  workers: number | undefined;
  top: number;
  sets: Overrides;
  base: StrategyConfigs;
  dims: GridDimension[];
  wf: string | undefined;
  stressCount: number;
  htf: string | undefined;
  ml: BacktestMlMode;
}

/** Checks the values in the order the usage errors are reported. */
function settingsOf(v: CliValues): Settings {
  const { symbols, from, to, sel, sets, base, indicators } = runSelection(v);
  const objective = objectiveOf(v.objective);
  const workers = v.workers === undefined ? undefined : Number(v.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0)) fail('--workers must be an integer >= 0');
  const top = v.top === undefined ? DEFAULT_TOP : Number(v.top);
  const minTrades = v['min-trades'] === undefined ? DEFAULT_MIN_TRADES : Number(v['min-trades']);
  if (!(Number.isInteger(minTrades) && minTrades >= 0)) fail(`--min-trades must be a whole number >= 0 (got '${v['min-trades']}')`);

  const dims: GridDimension[] = [];
  if (v.grid) dims.push(...defaultGrid(sel));
  for (const d of v.dim ?? []) {
    const [k, raw] = parseAssignment(d, '--dim');
    const values = raw.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(parseValue);
    if (values.length === 0) fail(`--dim ${k}: give the values, e.g. --dim ${k}=1,2,3`);
    try {
      checkConfigKey(k, base, '--dim key');
      for (const value of values) applyOverrides(base, { [k]: value });
    } catch (e) {
      fail((e as Error).message);
    }
    dims.push(valueDimension(k, [k], values));
  }
  const wf = v['walk-forward'];
  if (wf !== undefined && dims.length === 0) dims.push(...defaultGrid(sel));
  const stressCount = v.stress === undefined ? 0 : Number(v.stress);
  if (!(Number.isInteger(stressCount) && stressCount >= 0)) fail('--stress must be a whole number');

  const htf = v['htf-data'];
  if (v['htf-venue'] !== undefined && htf === undefined) fail('--htf-venue needs --htf-data FILE.duckdb');
  if (htf !== undefined && (dims.length > 0 || wf !== undefined || stressCount > 0)) fail('--htf-data (the MACRO engine) runs with a single backtest only, not with --grid, --dim, --walk-forward or --stress');
  const ml = v.ml as BacktestMlMode;
  if (!(ML_MODES as readonly string[]).includes(ml)) fail(`--ml must be one of ${ML_MODES.join(' | ')} (got '${v.ml}')`);
  if (ml !== 'off' && (dims.length > 0 || wf !== undefined || stressCount > 0 || v.propose)) fail('--ml advisory|filter (walk-forward learning) runs with a single backtest only, not with --grid, --dim, --walk-forward, --stress or --propose');
  const withMl = ml === 'off' ? base : { ...base, ml: { ...base.ml, mode: ml } };
  return { symbols, from, to, sel, indicators, objective, minTrades, workers, top, sets, base: withMl, dims, wf, stressCount, htf, ml };
}

/** What the stages of one invocation share: the settings, the data, the printed blocks and the JSON document. */
interface Job {
  st: Settings;
  series: CandleSeries[];
  market: BacktestMarket;
  config: { system: typeof DEFAULT_SYSTEM_CONFIG; strategies: StrategyConfigs; allowMissingReference?: boolean };
  out: string[];
  doc: Record<string, unknown>;
}

/** The grid (unless walk-forward runs it per window); returns it and the best configuration. */
async function gridStage(job: Job): Promise<{ grid: GridResult | null; chosen: StrategyConfigs }> {
  const { st, series, market, config } = job;
  if (st.dims.length === 0 || st.wf !== undefined) return { grid: null, chosen: st.base };
  const bar = progressBar('grid', 'runs');
  let grid: GridResult;
  try {
    grid = await runGrid({ series, from: market.from, to: market.to, config, dims: st.dims, objective: st.objective, minTrades: st.minTrades, indicators: st.indicators, ...(st.workers !== undefined ? { workers: st.workers } : {}), onProgress: bar.update });
  } catch (e) {
    bar.stop();
    // A combination of dimension values the config refuses (e.g. oversold >= overbought).
    if (/^invalid config|config key/.test((e as Error).message)) fail(`grid: ${(e as Error).message}`);
    throw e;
  }
  bar.stop();
  job.out.push(formatGrid(grid, st.top));
  const best = grid.rows[0];
  job.doc.grid = { runs: grid.runs, workers: grid.workers, wallMs: grid.wallMs, minTrades: grid.minTrades, rows: grid.rows.map((r) => ({ rank: r.rank, labels: r.labels, overrides: r.overrides, eligible: r.eligible, metrics: r.metrics })) };
  return { grid, chosen: best ? applyOverrides(st.base, best.overrides) : st.base };
}

/** Walk-forward (--walk-forward TRAIN,TEST); returns the configuration chosen on the last train window. */
async function walkForwardStage(job: Job, wf: string): Promise<WalkForwardResult> {
  const { st, series, market, config } = job;
  const [a, b] = wf.split(',');
  if (!a || !b) fail('--walk-forward needs TRAIN,TEST (e.g. 7d,2d)');
  const bar = progressBar('walk-forward', 'windows');
  let walk: WalkForwardResult;
  try {
    walk = await runWalkForward({ series, from: market.from, to: market.to, config, dims: st.dims, objective: st.objective, minTrades: st.minTrades, trainMs: parseDuration(a, '--walk-forward'), testMs: parseDuration(b, '--walk-forward'), indicators: st.indicators, ...(st.workers !== undefined ? { workers: st.workers } : {}), onWindow: bar.update });
  } catch (e) {
    bar.stop();
    fail((e as Error).message);
  }
  bar.stop();
  job.out.push(formatWalkForward(walk));
  job.doc.walkForward = { wallMs: walk.wallMs, minTrades: st.minTrades, outOfSample: walk.outOfSample, latest: { labels: walk.latest.labels, overrides: walk.latest.overrides }, windows: walk.windows.map((w) => ({ trainFrom: w.trainFrom, trainTo: w.trainTo, testFrom: w.testFrom, testTo: w.testTo, chosen: w.chosen.labels, overrides: w.chosen.overrides, eligible: w.chosen.eligible, train: w.chosen.metrics, test: w.test })) };
  return walk;
}

/** --out: result.json, report.html and (with two samples or more) equity.png. */
async function writeOutputs(job: Job, dirArg: string, run: BacktestResult, grid: GridResult | null, chosen: StrategyConfigs, analysis: RunAnalysis): Promise<void> {
  const { st } = job;
  const dir = resolve(dirArg);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'result.json'), JSON.stringify(job.doc, null, 2) + '\n');
  const title = `Backtest ${st.symbols.join(', ')} (${st.sel})`;
  const subtitle = `${new Date(run.from).toISOString().slice(0, 16)}Z -> ${new Date(run.to).toISOString().slice(0, 16)}Z, ${grid ? `best of ${grid.runs} by ${st.objective}: ${Object.values(grid.rows[0]?.labels ?? {}).join(' | ')}` : 'configured parameters'}`;
  writeFileSync(join(dir, 'report.html'), htmlReport({ title, subtitle, startingEquity: chosen.risk.startingEquityUsd, start: run.from, time: run.equityTime, equity: run.equity, samples: run.samples, trades: run.trades, metrics: run.metrics, notes: run.notes, analysis, tradeCharts: { series: job.series, decisions: run.decisions } }));
  if (run.samples >= 2) {
    const { renderEquityChart } = await import('../../infra/charts/render.js');
    const png = await renderEquityChart({ points: decimateEquity(run.equityTime, run.equity, run.samples), title, subtitle, size: 'large' });
    writeFileSync(join(dir, 'equity.png'), png.png);
  }
  job.out.push(`wrote ${join(dir, 'result.json')}, ${join(dir, 'report.html')}${run.samples >= 2 ? `, ${join(dir, 'equity.png')}` : ''}`);
}

/** --store: the result document in the state store and a `backtest_runs` row in the warehouse beside it. */
async function storeRun(job: Job, state: StateStore, file: string, id: string, createdAt: number, run: BacktestResult): Promise<void> {
  const r = await storeBacktest(state, id, job.doc);
  const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
  const whFile = join(resolve(file, '..'), 'warehouse.duckdb');
  const wh = new DuckDbWarehouse({ file: whFile });
  try {
    await wh.ensureSchema();
    await wh.insert('backtest_runs', [backtestRunRow(id, createdAt, { symbols: job.st.symbols, from: job.market.from, to: job.market.to, objective: job.st.objective }, run.metrics, job.doc)]);
  } finally {
    await wh.close();
  }
  job.out.push(`${r.created ? 'stored' : 'already stored'}: ${r.path} in ${file}; warehouse backtest_runs row ${id} in ${whFile}`);
}

/** --propose: the grid's best parameters as a pending suggestion to the owner (never applied). */
async function proposeBest(job: Job, state: StateStore, id: string, createdAt: number, grid: GridResult | null): Promise<void> {
  const { st, market, config } = job;
  const best = grid?.rows[0] ?? null;
  if (!best) {
    job.out.push('--propose: no grid ran, nothing to propose');
    return;
  }
  job.out.push(
    await proposeOverrides(state, {
      id, createdAt, objective: st.objective, base: st.base, overrides: best.overrides, proposed: best.metrics,
      baseline: () => runBacktest(market, config, { indicators: st.indicators, record: { decisions: false, signals: false } }).metrics,
      summary: (list, baseline) =>
        `${st.objective}: ${list}; P&L ${baseline.totalPnl.toFixed(2)} -> ${best.metrics.totalPnl.toFixed(2)} USD${st.sel !== 'all' && !DEFAULT_STRATEGY_CONFIGS.scalp[st.sel].emitSignals ? ` (backtested with ${st.sel} emitting; its live config is log-only)` : ''}`,
    }),
  );
}

/** The `backtest` command itself (no subcommand). */
export async function main(args: string[]): Promise<void> {
  const v = readArgs(args);
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const st = settingsOf(v);
  const needed = neededWarmup(st.base, expandGrid(st.dims).map((c) => c.overrides), st.htf !== undefined); // every combination: keys combine (interval x look-back)
  const range: LoadRange = { from: st.from, to: st.to, warmup: warmupOverride(v, needed) };
  const series = await loadSeries(v as Record<string, string | boolean | string[] | undefined>, st.symbols, range);
  if (badRows.skipped > 0) {
    const first = badRows.samples.map((r) => `${r.source}:${r.line}: ${r.reason}`).join('; ');
    process.stderr.write(`--skip-bad-rows: skipped ${badRows.skipped} CSV row(s) the candle gate refused (first: ${first})\n`);
  }
  const macroSeries = st.htf === undefined ? undefined : await loadMacroSeries(st.htf, st.symbols, range, v);
  const allowMissingReference = v['allow-missing-reference'] === true;
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: st.base, ...(allowMissingReference ? { allowMissingReference } : {}) };
  const market = createMarket({ series, ...(st.from !== undefined ? { from: st.from } : {}), ...(st.to !== undefined ? { to: st.to } : {}) });
  const { sel, sets, indicators, objective, dims, wf, stressCount } = st;
  const doc: Record<string, unknown> = {
    kind: 'backtest',
    params: { symbols: st.symbols, from: market.from, to: market.to, strategy: sel, set: sets, indicators, objective, macro: macroSeries !== undefined, grid: dims.map((d) => ({ name: d.name, options: d.options.map((o) => o.label) })), ...(st.ml !== 'off' ? { ml: st.ml } : {}), walkForward: wf ?? null, stress: stressCount, ...(allowMissingReference ? { allowMissingReference } : {}) },
  };
  const job: Job = { st, series, market, config, out: [], doc };

  const g = await gridStage(job);
  const { grid } = g;
  let chosen = g.chosen;
  let chosenBy = grid ? `the grid's best by ${objective}` : 'the configured parameters';
  let chosenOverrides: Overrides = grid?.rows[0]?.overrides ?? {};
  if (wf !== undefined) {
    const walk = await walkForwardStage(job, wf);
    // The run shown in detail: the configuration the walk-forward chose last (not the defaults).
    chosen = walk.latest.strategies;
    chosenOverrides = walk.latest.overrides;
    chosenBy = `the walk-forward's choice on its last train window (${Object.values(walk.latest.labels).join(' | ')}); in-sample on that window, out-of-sample figures are in the walk-forward table`;
  }

  // The run shown in detail: the grid's best, the walk-forward's latest choice, or the configured one.
  let learning: LearningResult | null = null;
  let run: BacktestResult;
  if (st.ml === 'off') {
    const bar = progressBar(grid || wf !== undefined ? 'chosen run' : 'backtest', 'candles');
    run = runBacktest(market, { ...config, strategies: chosen }, { indicators, record: { decisions: v.analysis }, onProgress: bar.update, progressEvery: 5_000, ...(macroSeries ? { macroSeries } : {}) });
    bar.stop();
  } else {
    const bars = { 1: progressBar('pass 1 (ML off)', 'candles'), 2: progressBar(`pass 2 (ML ${st.ml})`, 'candles') };
    learning = runWithLearning(market, { ...config, strategies: chosen }, {
      indicators,
      progressEvery: 5_000,
      onPassProgress: (pass, done, total) => {
        bars[pass].update(done, total);
        if (done === total) bars[pass].stop();
      },
      ...(macroSeries ? { macroSeries } : {}),
    });
    run = learning.run;
  }
  job.out.push(`Detailed run: ${chosenBy}${learning ? `, ML ${st.ml} (walk-forward)` : ''}\n${formatRun(run)}`);
  if (learning) {
    job.out.push(formatLearning(learning));
    doc.ml = learningJson(learning);
  }
  const analysis = analyseRun(run.trades, run);
  job.out.push(formatAnalysis(analysis, v.analysis ? 'full' : 'compact'));
  doc.run = { chosenBy, overrides: chosenOverrides, ...runJson(run) };
  doc.analysis = analysis;
  if (stressCount > 0) {
    const stress: StressReport = runStress({ series, from: market.from, to: market.to, config: { ...config, strategies: chosen }, count: stressCount, windowMs: v['stress-window'] ? parseDuration(v['stress-window'], '--stress-window') : STRESS_WINDOW_MS, indicators });
    job.out.push(formatStress(stress));
    doc.stress = stress;
  }

  const createdAt = Date.now();
  const id = backtestId(createdAt, doc.params);
  doc.createdAt = createdAt;
  doc.id = id;
  if (v.out !== undefined) await writeOutputs(job, v.out, run, grid, chosen, analysis);
  if (v.store || v.propose) {
    const file = stateFileOf(v.state);
    const state = await openStateForWrite(file);
    try {
      if (v.store) await storeRun(job, state, file, id, createdAt, run);
      if (v.propose) await proposeBest(job, state, id, createdAt, grid);
    } finally {
      await state.close();
    }
  }
  if (v.json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  else process.stdout.write(job.out.join('\n\n') + '\n');
}
