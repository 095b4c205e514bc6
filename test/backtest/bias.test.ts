/**
 * Macro-bias filter parity, bias given as INPUT: the live pipeline WITH the MACRO engine publishing
 * its bias every 5 minutes (swing setups off), and the backtest fed the bias updates the live run
 * published (`BiasUpdate`: applied after the candles of their minute, and read as `bias/{symbol}` by
 * signals, as the execution does). (The backtest computing the MACRO engine itself, swing setups
 * included: macro-parity.test.ts.) Same decisions, same trades, and
 * the filter really restricted scalps. On this real day the bias never reaches the default 80
 * confidence, so the filter engages at 50 and releases below 40 (a valid owner setting).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest, type BacktestResult, type BiasUpdate } from '../../shared/backtest/run.js';
import { TOPICS } from '../../shared/topics.js';
import { runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { HOUR, KIT_DIR, kitSeries, MACRO_KIT_FILES, MIN, slice, SYMBOLS } from './helpers.js';
import { withKit } from '../kit.js';
import type { MacroBiasMessage } from '../../shared/messages.js';

const FROM = Date.UTC(2025, 5, 12, 0, 0);
const TO = FROM + 12 * HOUR - MIN;
const WARMUP = 74 * HOUR;

function strategies(): StrategyConfigs {
  const s = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  s.scalp.levels_exhaustion.emitSignals = true;
  s.filters.macroBias = { enabled: true, engageConfidence: 50, releaseConfidence: 40 };
  s.macro.setups.DCA.enabled = false;
  s.macro.setups.SWING.enabled = false;
  s.macro.setups.CHANNEL.enabled = false;
  return s;
}

const kit = withKit('macro-bias filter parity (12 h, live MACRO bias fed to the backtest)', ...MACRO_KIT_FILES);
describe.skipIf(kit.skip)(kit.title, () => {
  let live: ReplayResult;
  let bt: BacktestResult;
  const biases: MacroBiasMessage[] = [];

  beforeAll(async () => {
    live = await runReplay({
      dataDir: KIT_DIR, symbols: SYMBOLS, from: FROM, to: TO, warmupMs: WARMUP, strategies: strategies(),
      taps: { [TOPICS.macroBias]: (p) => biases.push(p as MacroBiasMessage) },
    });
    const updates: BiasUpdate[] = biases.map((m) => ({
      now: m.ts,
      bias: { symbol: m.symbol, bias: m.bias, confidence: m.confidence, components: m.components.map((c) => ({ name: c.name, weight: c.weight, score: c.score, detail: c.detail })), ts: m.ts, expiresAt: m.expiresAt },
    }));
    const market = createMarket({ series: SYMBOLS.map((s) => slice(kitSeries(s, KIT_DIR), FROM - WARMUP, TO)), from: FROM, to: TO });
    bt = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies: strategies() }, { biasUpdates: updates });
  }, 120_000);

  it('the bias was published and restricted scalps', () => {
    expect(biases.length).toBe(SYMBOLS.length * 12 * 12);
    expect(biases.some((b) => b.confidence >= 50 && b.bias !== 'NEUTRAL')).toBe(true);
    expect(bt.rejected.macro_bias_filter).toBeGreaterThan(0);
  });

  it('same trades and decisions as live', () => {
    const key = (r: Record<string, unknown>) => JSON.stringify(['trade_id', 'entry_time', 'exit_time', 'entry_price', 'exit_price', 'qty', 'fees', 'pnl', 'exit_reason'].map((f) => r[f]));
    expect(bt.trades.flatMap((t) => t.rows).map(key).sort()).toEqual(live.paperTrades.map(key).sort());
    expect(bt.decisions.map((d) => `${d.signalId}|${d.decision}`).sort()).toEqual(live.signalRows.map((r) => `${String(r.signal_id)}|${String(r.decision)}`).sort());
  });
});
