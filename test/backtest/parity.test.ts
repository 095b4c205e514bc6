/**
 * PARITY: the backtester and the live pipeline produce the same decisions and the same trades.
 *
 * The live side is infra/runtime/month-replay.ts `runReplay`: the real function handlers (candle-ingest,
 * micro-scalp, execution) on the in-process bus with the SQLite state store and the DuckDB warehouse,
 * on a manual clock, fed the kit's REAL Bybit 1m candles of BTC, ETH and SOL. The backtest runs on the
 * same candles (the replay's 74 h hot-store warm-up is the backtest's history before `from`).
 *
 * Config: the SPEC defaults with both scalp strategies emitting (so levels_exhaustion and its live
 * level sets are exercised too) and the MACRO engine off (macro.enabled = false): both sides trade
 * the scalps alone, on 1m data only (no `macroSeries`). The same comparison with the MACRO engine ON
 * (bias, swing setups, swing trades; the backtest given the replay's Kraken-venue candles) is
 * test/backtest/macro-parity.test.ts.
 *
 * In CI: 12 hours of 2025-06-12 (30 trades of both strategies, every exit reason, cooldowns and the
 * risk cap at work; the whole month is compared by `npm run bench --
 * backtest` / the report: the replay of a month takes minutes).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult } from '../../shared/backtest/run.js';
import type { Row } from '../../shared/ports/warehouse.js';
import { runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { HOUR, KIT_SLICE_DIR, kitSeries, MIN, slice, SYMBOLS } from './helpers.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 12 * HOUR - MIN;
const WARMUP = 74 * HOUR;

export function parityStrategies(): StrategyConfigs {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.macro.enabled = false;
  s.scalp.levels_exhaustion.emitSignals = true;
  return s;
}

const TRADE_FIELDS = ['trade_id', 'trade_group_id', 'signal_id', 'strategy', 'symbol', 'direction', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'qty', 'fees', 'pnl', 'pnl_pct', 'exit_reason'] as const;

/** Sorted-key JSON (the state store and the warehouse keep JSON objects with sorted keys). */
function canonical(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonical);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical((x as Record<string, unknown>)[k])]));
  return x;
}

function tradeKey(r: Row, withFeatures: boolean): string {
  return JSON.stringify([...TRADE_FIELDS.map((f) => r[f]), ...(withFeatures ? [canonical(JSON.parse(String(r.features)))] : [])]);
}

describe('parity with the live pipeline (12 h of real BTC/ETH/SOL 1m data)', () => {
  let live: ReplayResult;
  let exact: BacktestResult;
  let fast: BacktestResult;

  beforeAll(async () => {
    const strategies = parityStrategies();
    live = await runReplay({ dataDir: KIT_SLICE_DIR, symbols: SYMBOLS, from: FROM, to: TO, warmupMs: WARMUP, strategies });
    const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s), FROM - WARMUP, TO)), from: FROM, to: TO });
    exact = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { indicators: 'live-window' });
    fast = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { indicators: 'full' });
  }, 120_000);

  it('the live run really traded (both strategies, every exit reason, rejections)', () => {
    expect(live.deadLetters).toEqual([]);
    expect(exact.rejected.position_exists).toBeGreaterThan(0);
    expect(exact.rejected.symbol_cooldown).toBeGreaterThan(0);
    const strategies = new Set(live.paperTrades.map((r) => r.strategy));
    expect(strategies).toEqual(new Set(['levels_exhaustion', 'v52_divergence']));
    const reasons = new Set(live.paperTrades.map((r) => r.exit_reason));
    expect(reasons).toEqual(new Set(['stop_loss', 'take_profit', 'time_exit']));
    expect(live.paperTrades.length).toBeGreaterThanOrEqual(20);
  });

  it('live-window backtest: every scan decision equals the live `signals` row (id, decision, direction, price, reasons)', () => {
    const liveRows = live.signalRows.map((r) => JSON.stringify([r.signal_id, r.decision, r.direction, r.price, r.reasons])).sort();
    const bt = exact.decisions.map((d) => JSON.stringify([d.signalId, d.decision, d.direction, d.price, JSON.stringify(d.reasons)])).sort();
    expect(bt.length).toBe(liveRows.length);
    expect(bt).toEqual(liveRows);
  });

  it('live-window backtest: the same trades, lot by lot, to the last bit (ids, times, prices, qty, fees, P&L, features)', () => {
    const liveTrades = live.paperTrades.map((r) => tradeKey(r, true)).sort();
    const bt = exact.trades.flatMap((t) => t.rows).map((r) => tradeKey(r, true)).sort();
    expect(bt).toEqual(liveTrades);
    const livePnl = live.paperTrades.reduce((a, r) => a + Number(r.pnl), 0);
    expect(exact.metrics.totalPnl).toBeCloseTo(livePnl, 9);
    expect(exact.openAtEnd).toBe(live.equity.openPositions);
    expect(exact.finalState?.account.realizedPnl).toBe(live.account?.realizedPnl);
  });

  it('full-series backtest (the grid mode): the same trades too (fixed exits depend on prices only)', () => {
    const liveTrades = live.paperTrades.map((r) => tradeKey(r, false)).sort();
    expect(fast.trades.flatMap((t) => t.rows).map((r) => tradeKey(r, false)).sort()).toEqual(liveTrades);
    const liveDecisions = live.signalRows.map((r) => `${String(r.signal_id)}|${String(r.decision)}|${String(r.direction)}`).sort();
    expect(fast.decisions.map((d) => `${d.signalId}|${d.decision}|${String(d.direction)}`).sort()).toEqual(liveDecisions);
  });
});
