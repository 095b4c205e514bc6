/**
 * Backtester throughput on the kit's month of REAL Bybit 1m candles (BTC, ETH, SOL: ~44.6k candles
 * each, ../shared/data/bybit_linear), each figure with a ratio to a bare EMA pass over the same
 * arrays measured in the same run (tulind EMA(20) of every symbol's close; the floor of any
 * indicator-driven loop over these arrays):
 * - backtest_single: one backtest of the live configuration (both scalp strategies as configured:
 *   V5.2 emitting, levels+exhaustion logging), cold (market preparation with the live level
 *   timelines + indicator preparation + the run) and warm (the run alone); candles/s;
 * - backtest_grid: the SPEC's 72-combination grid on the same month, wall time on worker processes
 *   (default one per core), goal <= 60 s on the 2-core machine;
 * - with `--parity` (or `parity: true`): backtest_parity_month, the month replayed through the live
 *   pipeline (scripts/replay-month.ts; several minutes) against the backtest in both indicator modes:
 *   identical trades (ids, prices, P&L)? MACRO ON by default (bias every 5 minutes + swing setups;
 *   the backtest gets the replay's Kraken-venue candles, `krakenCandles`, as `macroSeries`; swing
 *   trades are counted separately); `--parity-no-macro` (`parityMacro: false`) compares with the
 *   MACRO engine off on both sides.
 * Prints one JSON line per figure; `runBacktestBench()` returns them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { DEFAULT_STRATEGY_CONFIGS, SCALP_STRATEGIES, type StrategyConfigs } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { ema } from '../shared/indicators/tulind.js';
import { createMarket } from '../shared/backtest/market.js';
import { runBacktest, type BacktestResult, type IndicatorMode } from '../shared/backtest/run.js';
import { defaultGrid, runGrid } from '../shared/backtest/grid.js';
import { seriesFromCandles, seriesFromCsv, type CandleSeries } from '../shared/strategies/series.js';
import type { MacroSeries } from '../shared/backtest/macro.js';
import type { Interval } from '../shared/market/types.js';
import { selectStrategies, type StrategySelection } from '../shared/backtest/config.js';

export const DATA_DIR = join(import.meta.dirname, '..', '..', 'shared', 'data');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const SCALP_IDS = new Set<string>(SCALP_STRATEGIES);
export const GRID_GOAL_S = 60;
const EMA_PERIOD = 20;
const EMA_REPEATS = 20;

export interface BacktestBenchOptions {
  print?: boolean;
  workers?: number;
  strategy?: StrategySelection;
  parity?: boolean;
  /** MACRO engine on in the parity run (default true). */
  parityMacro?: boolean;
}

function load(): CandleSeries[] {
  return SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
}

/** Seconds per bare EMA pass over every symbol's closes (best of EMA_REPEATS). */
function emaPass(series: readonly CandleSeries[]): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < EMA_REPEATS; r++) {
    const t = performance.now();
    for (const s of series) sink += ema(s.close, EMA_PERIOD)[s.length - 1] as number;
    best = Math.min(best, performance.now() - t);
  }
  if (!Number.isFinite(sink)) throw new Error('ema pass produced no number');
  return best / 1000;
}

function tradeKey(r: Record<string, unknown>): string {
  return JSON.stringify(['trade_id', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'qty', 'fees', 'pnl', 'exit_reason'].map((f) => r[f]));
}

export async function runBacktestBench(opts: BacktestBenchOptions = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const emit = (x: Record<string, unknown>) => {
    out.push(x);
    if (opts.print) process.stdout.write(JSON.stringify(x) + '\n');
  };
  const series = load();
  const candles = series.reduce((a, s) => a + s.length, 0);
  const emaS = emaPass(series);
  const emaRate = candles / emaS;
  const config = { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS };

  // Single run, cold (fresh series objects: no indicator cache) then warm.
  const fresh = load();
  let t = performance.now();
  const market = createMarket({ series: fresh });
  const cold = runBacktest(market, config, { record: { decisions: false } });
  const coldS = (performance.now() - t) / 1000;
  t = performance.now();
  const warm = runBacktest(market, config, { record: { decisions: false } });
  const warmS = (performance.now() - t) / 1000;
  emit({
    bench: 'backtest_single',
    candles: cold.steps,
    trades: cold.metrics.trades,
    cold_s: round(coldS),
    warm_s: round(warmS),
    candles_per_s: Math.round(cold.steps / coldS),
    warm_candles_per_s: Math.round(warm.steps / warmS),
    ema_pass_candles_per_s: Math.round(emaRate),
    ratio_vs_ema: round(cold.steps / coldS / emaRate, 6),
    warm_ratio_vs_ema: round(warm.steps / warmS / emaRate, 6),
  });

  // The SPEC grid.
  const sel = opts.strategy ?? 'all';
  const workers = opts.workers ?? availableParallelism();
  t = performance.now();
  const g = await runGrid({ series, config: { ...config, strategies: selectStrategies(DEFAULT_STRATEGY_CONFIGS, sel) }, dims: defaultGrid(sel), objective: 'totalPnl', workers });
  const wall = (performance.now() - t) / 1000;
  emit({
    bench: 'backtest_grid',
    runs: g.runs,
    strategy: sel,
    workers: g.workers,
    candles_per_run: cold.steps,
    wall_s: round(wall),
    goal_s: GRID_GOAL_S,
    within_goal: wall <= GRID_GOAL_S,
    ema_pass_s: round(emaS, 6),
    ratio_vs_ema: Math.round(wall / emaS),
    best: g.rows[0]?.labels,
    best_total_pnl: round(g.rows[0]?.metrics.totalPnl ?? 0),
    worst_total_pnl: round(g.rows.at(-1)?.metrics.totalPnl ?? 0),
    distinct_results: new Set(g.rows.map((r) => r.metrics.totalPnl.toFixed(6))).size,
  });

  if (opts.parity) emit(await parityMonth(series, opts.parityMacro ?? true));
  return out;
}

/** The month through the live pipeline vs the backtest (both indicator modes). */
async function parityMonth(series: CandleSeries[], macro: boolean): Promise<Record<string, unknown>> {
  const { runReplay, krakenCandles } = await import('../scripts/replay-month.js');
  const strategies: StrategyConfigs = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  strategies.macro.enabled = macro;
  strategies.scalp.levels_exhaustion.emitSignals = true;
  let macroSeries: MacroSeries | undefined;
  if (macro) {
    const ms: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
    for (const s of SYMBOLS) {
      const byIv: Partial<Record<Interval, CandleSeries>> = {};
      for (const [iv, list] of krakenCandles(DATA_DIR, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) if (list.length > 0) byIv[iv] = seriesFromCandles(list);
      ms[s] = byIv;
    }
    macroSeries = ms;
  }
  const first = Math.max(...series.map((s) => s.openTime[0] as number));
  // The replay never publishes a file's last row (it may be an unclosed candle).
  const last = Math.min(...series.map((s) => s.openTime[s.length - 2] as number));
  const t = performance.now();
  const live = await runReplay({ dataDir: DATA_DIR, symbols: SYMBOLS, from: first, to: last, strategies });
  const replayS = (performance.now() - t) / 1000;
  const market = createMarket({ series, from: first, to: last });
  const liveKeys = live.paperTrades.map(tradeKey).sort();
  const swingTrades = live.paperTrades.filter((r) => !SCALP_IDS.has(String(r.strategy))).length;
  const modes: Record<string, unknown> = {};
  for (const mode of ['full', 'live-window'] as IndicatorMode[]) {
    const t0 = performance.now();
    const bt: BacktestResult = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { indicators: mode, ...(macroSeries ? { macroSeries } : {}) });
    const keys = bt.trades.flatMap((x) => x.rows).map((r) => tradeKey(r)).sort();
    const liveDecisions = new Set(live.signalRows.filter((r) => SCALP_IDS.has(String(r.strategy))).map((r) => `${String(r.signal_id)}|${String(r.decision)}|${String(r.direction)}|${String(r.price)}`));
    const btDecisions = bt.decisions.map((d) => `${d.signalId}|${d.decision}|${String(d.direction)}|${d.price}`);
    modes[mode] = {
      wall_s: round((performance.now() - t0) / 1000),
      trades: keys.length,
      identical_trades: JSON.stringify(keys) === JSON.stringify(liveKeys),
      trade_mismatches: keys.filter((k, i) => k !== liveKeys[i]).length,
      decisions: btDecisions.length,
      decisions_not_live: btDecisions.filter((d) => !liveDecisions.has(d)).length,
      pnl: round(bt.metrics.totalPnl, 6),
      swing_trades: bt.trades.flatMap((x) => x.rows).filter((r) => !SCALP_IDS.has(String(r.strategy))).length,
      macro_runs: bt.macro?.runs ?? 0,
      swing_signals: bt.macro?.swingSignals ?? 0,
    };
  }
  return {
    bench: 'backtest_parity_month',
    macro,
    from: new Date(first).toISOString(),
    to: new Date(last).toISOString(),
    replay_s: round(replayS),
    live_trades: liveKeys.length,
    live_swing_trades: swingTrades,
    live_decisions: live.signalRows.length,
    live_pnl: round(live.paperTrades.reduce((a, r) => a + Number(r.pnl), 0), 6),
    dead_letters: live.deadLetters.length,
    backtest: modes,
  };
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const w = args.find((a) => a.startsWith('--workers='));
  const s = args.find((a) => a.startsWith('--strategy='));
  await runBacktestBench({
    print: true,
    parity: args.includes('--parity') || args.includes('--parity-no-macro'),
    parityMacro: !args.includes('--parity-no-macro'),
    ...(w ? { workers: Number(w.split('=')[1]) } : {}),
    ...(s ? { strategy: s.split('=')[1] as StrategySelection } : {}),
  });
}
