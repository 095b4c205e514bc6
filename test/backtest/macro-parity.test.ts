/**
 * PARITY WITH THE MACRO ENGINE ON: the live pipeline (infra/runtime/month-replay.ts `runReplay`: the real
 * handlers, macro-analysis every 5 minutes of market time on the Kraken-venue hot store, swing signals
 * through `trade-signals-swing`, Kraken 5m candles through `ohlc-data-kraken`) against the backtest
 * given the SAME Kraken-venue candles (`krakenCandles`: the kit's Bybit 5m / 15m files, 1h / 4h
 * resampled from 15m) as `macroSeries`.
 *
 * Slice: 12 h of 2025-06-22 (REAL BTC/ETH/SOL data), SPEC default configs with levels_exhaustion
 * emitting: the MACRO engine publishes 432 biases and several DCA swing signals that are filled and
 * exit (trailing stop, take profit), next to the scalp trades. Asserted: every published bias equals
 * the backtest's bias of the same (symbol, slot); the same swing signals; the same trades lot by lot
 * to the last bit (ids, times, prices, qty, fees, P&L, features), scalps AND swings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult } from '../../shared/backtest/run.js';
import { macroTimeline, type MacroSeries, type MacroTimeline } from '../../shared/backtest/macro.js';
import type { Signal } from '../../shared/model/trading.js';
import type { Row } from '../../shared/ports/warehouse.js';
import { TOPICS } from '../../shared/topics.js';
import { runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { HOUR, KIT_DIR, kitMacroSeries, kitSeries, MACRO_KIT_FILES, MIN, slice, SYMBOLS } from './helpers.js';
import { withKit } from '../kit.js';
import type { MacroBiasMessage } from '../../shared/messages.js';

const FROM = Date.UTC(2025, 5, 22, 6, 0);
const TO = FROM + 12 * HOUR - MIN;
const WARMUP = 74 * HOUR;
const SCALPS = new Set(['v52_divergence', 'levels_exhaustion']);

function strategies(): StrategyConfigs {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.scalp.levels_exhaustion.emitSignals = true;
  return s;
}

const TRADE_FIELDS = ['trade_id', 'trade_group_id', 'signal_id', 'strategy', 'symbol', 'direction', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'qty', 'fees', 'pnl', 'pnl_pct', 'exit_reason'] as const;

function canonical(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(canonical);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical((x as Record<string, unknown>)[k])]));
  return x;
}

function tradeKey(r: Row): string {
  return JSON.stringify([...TRADE_FIELDS.map((f) => r[f]), canonical(JSON.parse(String(r.features)))]);
}

const kit = withKit('parity with the live pipeline, MACRO engine ON (12 h of real data, swing trades included)', ...MACRO_KIT_FILES);
describe.skipIf(kit.skip)(kit.title, () => {
  let live: ReplayResult;
  let bt: BacktestResult;
  let timeline: MacroTimeline;
  const biases: MacroBiasMessage[] = [];
  const swings: Signal[] = [];

  beforeAll(async () => {
    live = await runReplay({
      dataDir: KIT_DIR,
      symbols: SYMBOLS,
      from: FROM,
      to: TO,
      warmupMs: WARMUP,
      strategies: strategies(),
      taps: {
        [TOPICS.macroBias]: (p) => biases.push(p as MacroBiasMessage),
        [TOPICS.swingSignals]: (p) => swings.push(p as Signal),
      },
    });
    const macroSeries: MacroSeries = kitMacroSeries();
    const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), FROM - WARMUP, TO)), from: FROM, to: TO });
    bt = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() }, { indicators: 'live-window', macroSeries, record: { events: false } });
    timeline = macroTimeline({ symbols: market.symbols, from: market.from, to: market.to, series: macroSeries, strategies: strategies(), system: DEFAULT_SYSTEM_CONFIG });
  }, 180_000);

  it('the live run really ran the MACRO engine and traded swings and scalps', () => {
    expect(live.deadLetters).toEqual([]);
    expect(biases.length).toBe(SYMBOLS.length * 12 * 12);
    expect(swings.length).toBeGreaterThanOrEqual(3);
    const strategiesTraded = new Set(live.paperTrades.map((r) => String(r.strategy)));
    expect(strategiesTraded.has('dca')).toBe(true);
    expect([...strategiesTraded].some((s) => SCALPS.has(s))).toBe(true);
    expect(bt.macro).toEqual({ runs: biases.length, swingSignals: swings.length, feedCandles: SYMBOLS.length * 12 * 12 });
  });

  it('every published bias equals the backtest bias of the same symbol and slot', () => {
    const btBias = new Map(timeline.slots.map((s) => [`${s.symbol}|${s.now}`, { ...s.biasResult, slotStart: s.now, dedupeId: `macro-bias:${s.symbol}:${s.now}` }]));
    expect(btBias.size).toBe(biases.length);
    for (const b of biases) expect(canonical(JSON.parse(JSON.stringify(btBias.get(`${b.symbol}|${b.slotStart}`))))).toEqual(canonical(b));
    expect(new Set(biases.map((b) => b.bias)).size).toBeGreaterThan(1);
  });

  it('the same swing signals (ids, entries, stops, take profits)', () => {
    const key = (s: { signalId: string; ts: number; entries: number[]; stopLoss: number; takeProfit: number; confidence: number }) => JSON.stringify([s.signalId, s.ts, s.entries, s.stopLoss, s.takeProfit, s.confidence]);
    const btSignals = timeline.slots.flatMap((s) => s.signals.map((x) => key(x)));
    expect(btSignals.sort()).toEqual(swings.map(key).sort());
    const liveSwingIds = new Set(live.signalRows.filter((r) => !SCALPS.has(String(r.strategy))).map((r) => String(r.signal_id)));
    expect(new Set(bt.swingDecisions.map((d) => d.signalId))).toEqual(liveSwingIds);
  });

  it('the same trades, lot by lot, to the last bit: scalps and swings (ids, times, prices, qty, fees, P&L, features)', () => {
    const liveTrades = live.paperTrades.map(tradeKey).sort();
    const btTrades = bt.trades.flatMap((t) => t.rows).map(tradeKey).sort();
    expect(btTrades).toEqual(liveTrades);
    expect(bt.trades.some((t) => t.strategy === 'dca')).toBe(true);
    expect(bt.openAtEnd).toBe(live.equity.openPositions);
    expect(bt.finalState?.account.realizedPnl).toBe(live.account?.realizedPnl);
    const liveScalp = live.signalRows.filter((r) => SCALPS.has(String(r.strategy))).map((r) => JSON.stringify([r.signal_id, r.decision, r.direction, r.price, r.reasons])).sort();
    expect(bt.decisions.map((d) => JSON.stringify([d.signalId, d.decision, d.direction, d.price, JSON.stringify(d.reasons)])).sort()).toEqual(liveScalp);
  });
});
