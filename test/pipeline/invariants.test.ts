/**
 * The month checker of infra/runtime/month-invariants.ts (scripts/replay-month.ts `--check`, `--duplicate`) catches what it claims to:
 * states built by the real trading core, then broken the way a bug would break them.
 */
import { describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { ManualClock } from '../../shared/ports/clock.js';
import { applySignal, createTradingState, type TradingState } from '../../shared/trading/core.js';
import { tradingConfigFrom } from '../../shared/trading/model.js';
import { TradingStore, type TradingDoc } from '../../shared/trading/store.js';
import { AccountWriteTap, compareRuns, formatInvariants, InvariantMonitor, type AccountWrite } from '../../infra/runtime/month-invariants.js';
import type { ReplayResult } from '../../infra/runtime/month-replay.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import { signal } from '../trading/helpers.js';

const T = Date.UTC(2025, 5, 11, 12, 0);
// states built without BTC candles: the regime-reference gate is opted out (as in test/trading/helpers.ts defaultCfg)
const cfg = { ...tradingConfigFrom(DEFAULT_STRATEGY_CONFIGS), allowMissingReference: true };
const doc = (state: TradingState): TradingDoc => ({ schemaVersion: 1, state, candleWatermarks: {}, lastCandleEvents: {}, updatedAt: T });
const sig = (symbol: string) => signal({ ts: T, symbol, entries: [100], stopLoss: 99, takeProfit: 102 });

function placed(s0: TradingState, symbol: string): AccountWrite {
  const r = applySignal(s0, sig(symbol), null, cfg, T);
  if (!r.decision.accepted) throw new Error(r.decision.reason);
  return { now: T, before: doc(s0), after: doc(r.state), markers: [{ decision: { accepted: true } }] };
}

function result(pnls: number[], realized: number): ReplayResult {
  return {
    paperTrades: pnls.map((pnl, i) => ({ trade_id: `t${i}`, pnl })),
    account: { realizedPnl: realized },
    equity: { change: realized },
    trades: [{ strategy: 'all', trades: pnls.length }],
  } as unknown as ReplayResult;
}

describe('InvariantMonitor', () => {
  it('passes a correct run and reports its figures', () => {
    const m = new InvariantMonitor(DEFAULT_STRATEGY_CONFIGS);
    m.observe(placed(createTradingState(PAPER_ACCOUNT_ID, cfg, T), 'BTCUSDT'));
    const rep = m.report(result([10, -4], 6));
    expect(rep).toMatchObject({ ok: true, transactions: 1, placements: 1, riskCapPct: 2, violationCount: 0, decisions: { accepted: 1 } });
    expect(rep.maxScalpRiskPct).toBeCloseTo(0.5, 9); // one scalp risks perTradeRiskPct 0.5 %
    expect(formatInvariants(rep)).toMatch(/ALL INVARIANTS HOLD/);
  });

  it('flags risk above the cap, an entry during PANIC, an entry in cooldown and a P&L mismatch', () => {
    const m = new InvariantMonitor(DEFAULT_STRATEGY_CONFIGS);
    const s0 = createTradingState(PAPER_ACCOUNT_ID, cfg, T);
    // five scalps of 0.5 % each = 2.5 % > 2 %: built past the core's own check, as a bug would
    let s = s0;
    for (const sym of ['AUSDT', 'BUSDT', 'CUSDT', 'DUSDT']) s = applySignal(s, sig(sym), null, cfg, T).state;
    const fifth = applySignal({ ...s, account: { ...s.account, positions: [] } }, sig('EUSDT'), null, cfg, T).state.account.positions[0]!;
    m.observe({ now: T, before: doc(s), after: doc({ ...s, account: { ...s.account, positions: [...s.account.positions, fifth] } }), markers: [{ decision: { accepted: true } }] });
    const panic = placed(s0, 'BTCUSDT');
    panic.after.state.protections = { ...panic.after.state.protections, regime: { current: 'PANIC', since: T } };
    m.observe(panic);
    const cooling = placed(s0, 'ETHUSDT');
    cooling.after.state.protections = { ...cooling.after.state.protections, limiter: { ETHUSDT: { consecutiveStops: 2, cooldownUntil: T + 60_000 } } };
    m.observe(cooling);
    const rep = m.report(result([10, -4], 5));
    expect(rep.ok).toBe(false);
    expect(rep.violations.join('\n')).toMatch(/open scalp risk .* > 2 % of equity/);
    expect(rep.violations.join('\n')).toMatch(/placed during PANIC/);
    expect(rep.violations.join('\n')).toMatch(/placed while ETHUSDT cools down/);
    expect(rep.violations.join('\n')).toMatch(/P&L: closed trades sum 6 vs realized 5/);
    expect(rep.maxScalpRiskPct).toBeCloseTo(2.5, 9);
    expect(formatInvariants(rep)).toMatch(/INVARIANTS VIOLATED/);
  });

  it('the state tap sees every committed write of the account through the real store', async () => {
    const clock = new ManualClock(T);
    const writes: AccountWrite[] = [];
    const raw = new SqliteStateStore({ file: ':memory:', clock });
    const tapped = new AccountWriteTap(raw, clock, (w) => writes.push(w));
    try {
      const store = new TradingStore(tapped, { accountId: PAPER_ACCOUNT_ID, config: cfg });
      await store.applySignal(sig('BTCUSDT'), null, T);
      await store.applySignal(sig('BTCUSDT'), null, T); // redelivery: no write
      expect(writes).toHaveLength(1);
      expect(writes[0]!.before).toBeUndefined();
      expect(writes[0]!.after.state.account.positions).toHaveLength(1);
      expect(writes[0]!.markers).toEqual([expect.objectContaining({ signalId: sig('BTCUSDT').signalId, decision: expect.objectContaining({ accepted: true }) })]);
      await expect(tapped.set('trading/paper', {})).rejects.toThrow(/outside a transaction/);
    } finally {
      await raw.close();
    }
  });

  it('compareRuns: identical runs have no difference; a changed trade or equity is reported', () => {
    const a = { ...result([1, 2], 3), signalRows: [], rejectedRows: [], trades: [], deadLetters: [] } as unknown as ReplayResult;
    expect(compareRuns(a, structuredClone(a))).toEqual([]);
    const b = structuredClone(a);
    (b.paperTrades[0] as { pnl: number }).pnl = 1.5;
    (b.equity as { change: number }).change = 3.5;
    expect(compareRuns(a, b)).toEqual(['paper_trades rows differ', 'equity differ']);
  });
});
